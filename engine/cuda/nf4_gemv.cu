// The fused NF4 GEMV for decode (DESIGN.md section 3) on the tensor cores: y[m, o] = sum_k x'[m, k] * W[o, k],
// W[o, k] = code[q(o, k)] * absmax(o, k), where x' is x after an optional RMSNorm, and y gets an optional bias and
// residual, or is SwiGLU of the product's two halves (y[m, i] = silu(y'[m, i]) * y'[m, half + i]).
//
// Why tensor cores for a GEMV: on CUDA cores each weight costs a table lookup, an unpack of x and an FMA per row of x,
// about 4.7 instructions a weight, which is the whole issue rate of an H100 at copy bandwidth (docs/performance.md).
// A byte of NF4 holds two k-adjacent weights of one row, which is exactly one 32-bit register of an mma.m16n8k16 A
// fragment; one shared-memory lookup turns it into that register. x is the B operand (8 columns: up to 8 rows of x
// cost the same), so the FMAs and x unpacks are gone and the lookup dominates: about 2 instructions a weight.
//
// Why a cp.async ring: a decode GEMV is a stream of weights, and the card reaches its copy bandwidth only with tens
// of KB in flight per SM. Loads into registers kept at most 2 KB a warp in flight (the registers the weights occupy
// until used), and the kernel ran at 37-67% of copy. Here the whole block copies the next stage's weights straight
// into shared memory while it computes the current one.
//
// Work split: the output is cut into stripes of 16 rows (one mma tile), each stripe's k into `splits` parts; a unit is
// one part of one stripe, and a persistent grid (the blocks the SMs hold at once) takes units b, b + grid, ... in turn.
// Splits even out the blocks' shares where few stripes meet a long k (gemv_plan.h weighs that against the join's cost;
// no decode shape splits on an H200); a unit's weights are one or more stages of kStageSteps k steps of 64 (one absmax
// block each) for the 16 rows. In a stage, warp w takes steps w, w + kWarps, ...; in a step, lane (g, t) = (lane / 4,
// lane % 4) reads 8 bytes (16 weights, k = 16 t .. 16 t + 15) of rows g and g + 8 of the stripe, and byte j of them
// feeds k slot pair (j % 2 ? 2 t + 8 : 2 t) of mma j / 2: k is permuted inside the step, which a dot product allows, as
// long as the B fragment reads x in the same order (x[16 t + 4 s .. 16 t + 4 s + 3] for mma s). All 64 k of a step
// share one absmax, so each step's four mma results are scaled once. At a unit's end the warps' sums are added in a
// fixed order through shared memory; a split stripe's parts meet in a global workspace, and after its last stage each
// block counts its parts' arrivals (a counter per stripe): the part that arrives last adds them in part order and
// writes y. So results are deterministic, whoever finishes first.
//
// Why SwiGLU at the end of the up projection and not at the start of the down projection, which reads its output:
// there every block computed all 13696 SiLUs of the layer (an exp and a division each) before its first step, after
// the wait on the previous kernel: 27% of that GEMV's time (docs/performance.md). Here each is computed once: a
// stripe's 16 rows are 8 gate rows and the 8 up rows that pair with them, so one thread holds both sums of an output.
//
// Shared memory: the code-pair table replicated once per lane (256 x 32 x 4 bytes), so a warp's 32 lookups hit 32
// different banks whatever the bytes, interleaved line by line with the ring of stages (kLine); the absmax of the
// ring's stages; x' for all rows, each row padded by 16 bytes so the B reads of 8 rows do not collide; and the
// per-warp partial sums. The hot loop addresses shared memory with 32-bit shared-window addresses, so a block-wide
// base stays in a uniform register and each load's address is one instruction.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv_plan.h"
#include "engine/cuda/nf4_common.cuh"
#include "engine/cuda/nf4_kernels.h"

#include <algorithm>
#include <vector>

namespace glm4v::engine::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kStripe = 16;     // output rows of one mma tile
constexpr int kStep = 64;       // k of one warp step: four k16 mmas under one absmax
// Stages of 32 steps (16 rows x 2048 k, 16 KB of NF4), two to a ring, so two blocks fit an SM with one stage each
// in flight: measured on the H100 against 16-step stages in rings of 2 to 6 and 32-step ones in rings of 3 and 4
// (docs/performance.md), this was fastest, since a stage's fixed costs (the barrier, the copies' issue) are paid
// once per 4 steps of each warp and the SM still holds 16 warps.
constexpr int kStageSteps = 32;
constexpr int kStages = 2;
// The table and the ring share one region of 256 lines of 256 bytes. Line b holds the code pair of byte b, once per
// lane (bytes 0..127: lane l's copy at 4 l, so a warp's 32 lookups hit 32 banks whatever the bytes), then 128 bytes
// of the ring. A lookup's address is then byte b in bits 8..15 and the lane in bits 2..6, which one byte permute
// builds from the weight word (lookup_address); with a table of 128-byte lines it took a shift, a mask and an add.
constexpr int kLine = 256;
constexpr int kLines = 256;
constexpr int kRegionBytes = kLine * kLines;
constexpr int kPiece = kLine / 2;                            // ring bytes of a line
constexpr int kRowPieces = kStageSteps * kStep / 2 / kPiece; // lines of one weight row of a stage (4 steps a line)
constexpr int kRingRow = kRowPieces * kLine;                 // region bytes one weight row of a stage spans
constexpr int kRingSlot = kStripe * kRingRow;                // region bytes of one stage's slot
static_assert(kStages * kStripe * kRowPieces == kLines, "the ring fills the table's lines exactly");
constexpr int kScalePitch = kStageSteps + 1;             // absmax of one row in a stage; odd, so rows differ in bank
constexpr int kScaleStageBytes = kStripe * kScalePitch * 4;
constexpr int kReduceBytes = kWarps * kStripe * 8 * 4;
constexpr int kSmemXLimit = 96 * 1024; // x' bytes per launch at most; more rows than fit take several launches
constexpr int kStaticSmem = 1024;       // the kernel's static shared memory (RMSNorm's sums, the join's flags), at most
constexpr int kXPad = 8;               // elements (16 bytes) after each row of x'
constexpr int kMaxSplits = 8;
constexpr int kMaxSplitStripes = 4096; // stripes of a GEMV whose k is split (the counters below)
constexpr int kFixedSmem = kRegionBytes + kStages * kScaleStageBytes + kReduceBytes; // all but x'

// Arrivals of a split stripe's parts (join_split_parts). Zero when the module loads; the last part to arrive sets its
// stripe's back to zero, so a CUDA graph replays with no reset. Two split GEMVs must therefore not run at the same
// time on one device, which a single decode stream never does.
__device__ unsigned int g_stripe_arrivals[kMaxSplitStripes];

// Where in the region (shared address, relative to it) 16-byte chunk c (0..63) of weight row r of stage `stage`
// lies: row r's 1 KB is 8 lines' ring halves, 4 steps of 32 bytes in each, and the steps of a line are permuted by
// r % 4 so that the four rows a half-warp reads (compute_stage) fall in different banks.
__host__ __device__ constexpr int ring_offset(int stage, int r, int c) {
    const int step = c / 2;
    return ((stage * kStripe + r) * kRowPieces + step / 4) * kLine + kPiece + (((step % 4) ^ (r % 4)) * 32) +
           (c % 2) * 16;
}

// The region offset of byte j (0..7) of q's entry for this lane: a byte permute puts the byte in bits 8..15 and takes
// bits 0..7 from lane4 (the lane's offset, 4 lane; its higher bytes are zero).
template <int J> __device__ __forceinline__ std::uint32_t lookup_address(uint2 q, std::uint32_t lane4) {
    return __byte_perm(J < 4 ? q.x : q.y, lane4, 0x5504u | ((J % 4) << 4));
}

__device__ __forceinline__ std::uint32_t lds32(std::uint32_t address) {
    std::uint32_t v;
    asm volatile("ld.shared.b32 %0, [%1];" : "=r"(v) : "r"(address));
    return v;
}
__device__ __forceinline__ uint2 lds64(std::uint32_t address) {
    uint2 v;
    asm volatile("ld.shared.v2.b32 {%0, %1}, [%2];" : "=r"(v.x), "=r"(v.y) : "r"(address));
    return v;
}
__device__ __forceinline__ uint4 lds128(std::uint32_t address) {
    uint4 v;
    asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(address));
    return v;
}
__device__ __forceinline__ float lds_f32(std::uint32_t address) { return __uint_as_float(lds32(address)); }

struct KernelArgs {
    const void* x;
    int rows;
    const std::uint8_t* packed;
    const float* absmax;
    std::int64_t out_features, in_features;
    int blocksize_shift;
    const void* norm_weight;
    float eps;
    const void* bias;
    const void* residual;
    void* y;
    Nf4CodeArg code;
    int splits;        // parts of each stripe's k
    float* workspace;  // [stripes * splits][kStripe * 8] when splits > 1
    std::int64_t swiglu_half; // a SwiGLU output's y is [rows, swiglu_half] (the kernel's kSwiGlu)
};

// The weight row behind row r of stripe s of a SwiGLU output: gate row 8 s + r for r < 8, then the up rows
// half + 8 s + r - 8 that pair with them.
__device__ __forceinline__ std::int64_t swiglu_weight_row(const KernelArgs& a, int s, int r) {
    return 8 * static_cast<std::int64_t>(s) + r + (r < 8 ? 0 : a.swiglu_half - 8);
}

// x' into shared memory, rounded where the reference rounds: RMSNorm as model::rms_norm (statistics and products in
// fp32, one rounding). For RMSNorm every thread adds the squares of the vectors it copies, and the norm weight is
// already on its way to shared memory (norm_ws, copied before the wait on the previous kernel), so the prologue costs
// one load of x and a block reduction, not a warp's walk over the row and a second load.
// Without a prologue, only the vectors the block's first stage reads ([first_vec, first_vec + span_vecs) of each row)
// are in place when this returns: the rest is one more group of copies, which the main loop's first wait leaves in
// flight while that stage is computed. All 256 threads waiting for all of x' had cost 4h_to_h 2.1 us after its wait,
// dense 1.1, where the first stage reads 4 KB of 27 and of 8; now 0.6 and 0.5 (docs/performance.md).
template <typename T, GemvPrologue kPrologue>
__device__ void stage_x(const KernelArgs& a, T* xs, int xstride, const T* norm_ws, int first_vec, int span_vecs) {
    const int in = static_cast<int>(a.in_features);
    const int vecs = in / 8; // 16-byte vectors of 8 elements per row
    const T* x = static_cast<const T*>(a.x);
    if constexpr (kPrologue == GemvPrologue::RmsNorm) {
        __shared__ float warp_sums[kNf4GemvMaxRows][kWarps];
        __shared__ float inv_rms[kNf4GemvMaxRows];
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        for (int m = 0; m < a.rows; ++m) {
            float sum = 0.0f;
#pragma unroll 4
            for (int c = threadIdx.x; c < vecs; c += kThreads) {
                const uint4 v = __ldg(reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(m) * in) + c);
                reinterpret_cast<uint4*>(xs + m * xstride)[c] = v;
                sum = add_squares8<T>(v, sum);
            }
#pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
            if (lane == 0) warp_sums[m][warp] = sum;
        }
        cp_async_wait<kStages>(); // this thread's copies of the norm weight (the oldest group)
        __syncthreads();
        if (threadIdx.x < a.rows) {
            float sum = 0.0f;
#pragma unroll
            for (int w = 0; w < kWarps; ++w) sum += warp_sums[threadIdx.x][w];
            inv_rms[threadIdx.x] = rsqrtf(sum / static_cast<float>(in) + a.eps);
        }
        __syncthreads();
        for (int i = threadIdx.x; i < a.rows * vecs; i += kThreads) {
            const int m = i / vecs, c = i % vecs;
            uint4* p = reinterpret_cast<uint4*>(xs + m * xstride) + c;
            *p = rms_scale8<T>(*p, reinterpret_cast<const uint4*>(norm_ws)[c], inv_rms[m]);
        }
    } else {
        // The first stage's vectors are requested before the rest, so they are not queued behind them.
        static_assert(kStageSteps * kStep / 8 <= kThreads, "a thread loads at most one vector of a stage's x' a row");
        const int c0 = first_vec + static_cast<int>(threadIdx.x);
        const bool first_part = static_cast<int>(threadIdx.x) < span_vecs;
        const uint4* x_vecs = reinterpret_cast<const uint4*>(x);
        const uint4 v0 = first_part ? __ldg(x_vecs + c0) : make_uint4(0, 0, 0, 0);
        for (int m = 0; m < a.rows; ++m)
#pragma unroll 1
            for (int c = threadIdx.x; c < vecs; c += kThreads)
                if (static_cast<unsigned>(c - first_vec) >= static_cast<unsigned>(span_vecs))
                    cp_async16(xs + m * xstride + c * 8, x_vecs + static_cast<std::int64_t>(m) * vecs + c);
        cp_async_commit();
        if (first_part) {
            reinterpret_cast<uint4*>(xs)[c0] = v0;
#pragma unroll 1 // rows past the first are a follow-up's prefill; unrolled, their loads took 30 registers more
            for (int m = 1; m < a.rows; ++m)
                reinterpret_cast<uint4*>(xs + m * xstride)[c0] =
                    __ldg(x_vecs + static_cast<std::int64_t>(m) * vecs + c0);
        }
    }
}

// Which units, stages and steps a block works through; the same on the host (launch) and in every block.
struct Plan {
    int steps;       // k steps of 64 in a row
    int part_steps;  // steps of one part of a split stripe (the last part may have fewer)
    int unit_stages; // stages of one unit, the last possibly partial
    int units;       // stripes * splits
    __host__ __device__ Plan(std::int64_t in, std::int64_t out, int splits) {
        steps = static_cast<int>(in / kStep);
        part_steps = (steps + splits - 1) / splits;
        unit_stages = (part_steps + kStageSteps - 1) / kStageSteps;
        units = static_cast<int>((out + kStripe - 1) / kStripe * splits);
    }
};

// A block's position in its sequence of stages: unit blockIdx.x + n gridDim.x, stage `stage` of it. Advanced by
// counting, not dividing: a 64-bit division per stage was once most of the kernel's time.
struct StageAt {
    int unit, stage, stripe, part;
    int first, count; // the stage's first k step and its steps (0 past the block's last unit)
};

struct Walk {
    int grid_stripes, grid_parts; // gridDim.x = grid_stripes * splits + grid_parts
    __device__ explicit Walk(int splits) : grid_stripes(gridDim.x / splits), grid_parts(gridDim.x % splits) {}
};

__device__ __forceinline__ void locate(StageAt& s, const Plan& p) {
    const int begin = s.part * p.part_steps;
    const int end = min(p.steps, begin + p.part_steps);
    s.first = begin + s.stage * kStageSteps;
    // A short last part may have an empty last stage.
    s.count = s.unit < p.units ? max(0, min(kStageSteps, end - s.first)) : 0;
}

__device__ __forceinline__ StageAt first_stage(const KernelArgs& a, const Plan& p) {
    StageAt s;
    s.unit = blockIdx.x;
    s.stage = 0;
    s.stripe = s.unit / a.splits;
    s.part = s.unit - s.stripe * a.splits;
    locate(s, p);
    return s;
}

__device__ __forceinline__ void advance(StageAt& s, const KernelArgs& a, const Plan& p, const Walk& w) {
    if (++s.stage == p.unit_stages) {
        s.stage = 0;
        s.unit += gridDim.x;
        s.stripe += w.grid_stripes;
        s.part += w.grid_parts;
        if (s.part >= a.splits) {
            s.part -= a.splits;
            ++s.stripe;
        }
    }
    locate(s, p);
}

// What one thread copies of every stage: 16-byte chunk c of rows r, r + kRowStride, ... of the weights, and the
// absmax of step j of rows r2, r2 + kScaleRowStride, .... Its sources move only when the stripe changes.
// Rows past the end (out_features % 16) re-read the last row; their sums are never written.
struct Issuer {
    static constexpr int kChunks = kStageSteps * 2; // 16-byte chunks of a row in a stage
    static constexpr int kRowStride = kThreads / kChunks, kRowCopies = kStripe / kRowStride;
    static constexpr int kScaleRowStride = kThreads / kStageSteps, kScaleCopies = kStripe / kScaleRowStride;
    static_assert(kThreads % kChunks == 0 && kStripe % kRowStride == 0 && kThreads % kStageSteps == 0 &&
                  kStripe % kScaleRowStride == 0, "a stage's copies split evenly over the threads");
    static_assert(kRowStride % 4 == 0, "a thread's rows share their permutation (ring_offset)");
    static_assert((kStripe / 2) % kRowStride == 0 && (kStripe / 2) % kScaleRowStride == 0,
                  "a thread's rows pass a SwiGLU stripe's row 8 between two of its copies");
    int stripe = -1;
    const unsigned char* w[kRowCopies]; // rows r + i kRowStride of the stripe, at chunk c of step 0
    std::int64_t scale_k[kScaleCopies]; // (r2 + i kScaleRowStride) * in + j kStep: step j's first weight in a row
    int c, r, j, r2;
    std::uint32_t dst, scale_dst; // shared addresses of this thread's first copies in stage slot 0

    __device__ Issuer(std::uint32_t region, std::uint32_t scales)
        : c(threadIdx.x % kChunks), r(threadIdx.x / kChunks), j(threadIdx.x % kStageSteps),
          r2(threadIdx.x / kStageSteps) {
        dst = region + ring_offset(0, r, c);
        scale_dst = scales + (r2 * kScalePitch + j) * 4;
    }

    template <bool kSwiGlu> __device__ __forceinline__ void issue(const KernelArgs& a, const StageAt& s, int slot) {
        if (s.count <= 0) return;
        if (s.stripe != stripe) {
            // A SwiGLU output's stripe is 8 gate rows, then the up rows that pair with them (swiglu_weight_row): the
            // same strides, with a jump over up_jump rows where a thread's rows pass row 8 of the stripe.
            const std::int64_t last = a.out_features - 1, row_bytes = a.in_features / 2;
            constexpr int kStripeRows = kSwiGlu ? kStripe / 2 : kStripe; // weight rows a stripe moves its first row
            const std::int64_t base = static_cast<std::int64_t>(s.stripe) * kStripeRows;
            const std::int64_t up_jump = kSwiGlu ? a.swiglu_half - kStripe / 2 : 0;
            if (base + kStripe - 1 > last) { // a partial last stripe (never a SwiGLU output's): rows past the end clamp
#pragma unroll
                for (int i = 0; i < kRowCopies; ++i)
                    w[i] = a.packed + min(base + r + i * kRowStride, last) * row_bytes + c * 16;
#pragma unroll
                for (int i = 0; i < kScaleCopies; ++i)
                    scale_k[i] = min(base + r2 + i * kScaleRowStride, last) * a.in_features + j * kStep;
            } else if (stripe >= 0) {
                // Every source moves by the same rows: a block's stripes only grow, and a partial one is the last,
                // so the sources being moved were never clamped. Cheaper than setting them anew, which the output
                // layer does at each of its units.
                const std::int64_t rows = static_cast<std::int64_t>(s.stripe - stripe) * kStripeRows;
                const std::int64_t bytes = rows * row_bytes, k = rows * a.in_features;
#pragma unroll
                for (int i = 0; i < kRowCopies; ++i) w[i] += bytes;
#pragma unroll
                for (int i = 0; i < kScaleCopies; ++i) scale_k[i] += k;
            } else {
                w[0] = a.packed + (base + r) * row_bytes + c * 16;
#pragma unroll
                for (int i = 1; i < kRowCopies; ++i)
                    w[i] = w[i - 1] + (kRowStride + (i * kRowStride == kStripe / 2 ? up_jump : 0)) * row_bytes;
                scale_k[0] = (base + r2) * a.in_features + j * kStep;
#pragma unroll
                for (int i = 1; i < kScaleCopies; ++i)
                    scale_k[i] = scale_k[i - 1] +
                                 (kScaleRowStride + (i * kScaleRowStride == kStripe / 2 ? up_jump : 0)) * a.in_features;
            }
            stripe = s.stripe;
        }
        const int offset = s.first * (kStep / 2);
        if (c < s.count * 2)
#pragma unroll
            for (int i = 0; i < kRowCopies; ++i)
                cp_async16(dst + slot * kRingSlot + i * kRowStride * kRingRow, w[i] + offset);
        if (j < s.count)
#pragma unroll
            for (int i = 0; i < kScaleCopies; ++i)
                cp_async4(scale_dst + slot * kScaleStageBytes + i * (kScaleRowStride * kScalePitch * 4),
                          a.absmax + ((scale_k[i] + static_cast<std::int64_t>(s.first) * kStep) >> a.blocksize_shift));
    }
};

// A lane's shared addresses for its warp's first step of stage slot 0; step u of the warp's steps in a stage and
// the slot add constants.
struct Reader {
    std::uint32_t q;     // weight row g (row g + 8 is 8 kRingRow further)
    std::uint32_t scale; // absmax of row g (row g + 8: kScaleOf8 further)
    std::uint32_t x;     // x' row g, k = 16 t of step 0 of the GEMV (x' has all of k)
    bool reads_x;        // g < rows: only those lanes load their B fragments (compute_stage)
    std::uint32_t lane4; // the lane's copy in a table line
    static constexpr int kScaleOf8 = 8 * kScalePitch * 4;
};

template <typename T>
__device__ __forceinline__ void compute_stage(const StageAt& s, int slot, float (&acc)[4], std::uint32_t region,
                                              const Reader& rd, int warp) {
    const std::uint32_t q = rd.q + slot * kRingSlot, scale = rd.scale + slot * kScaleStageBytes;
    const std::uint32_t x = rd.x + s.first * (kStep * static_cast<int>(sizeof(T)));
    // B column g is x row g. A lane past the rows keeps whatever its registers hold: its column's products land in
    // columns of y that are never written. A 128-bit load is served a quarter-warp at a time, so with one row of x
    // the first quarter's lanes cost 1 wavefront where all 32 cost 4: 15% of the kernel's shared-memory traffic
    // (Nsight Compute), though no time, since that traffic is not what bounds it (docs/performance.md).
    uint4 xa = make_uint4(0, 0, 0, 0), xb = make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < kStageSteps / kWarps; ++u) {
        const int j = warp + u * kWarps;
        if (j >= s.count) break;
        // Step j is in line j / 4 = warp / 4 + 2 u of the row, at (j % 4) = (warp % 4), which rd.q includes.
        const std::uint32_t qu = q + u * (kWarps / 4) * kLine;
        const uint2 q0 = lds64(qu), q1 = lds64(qu + 8 * kRingRow);
        const float s0 = lds_f32(scale + u * kWarps * 4), s1 = lds_f32(scale + u * kWarps * 4 + Reader::kScaleOf8);
        if (rd.reads_x) {
            xa = lds128(x + u * kWarps * kStep * static_cast<int>(sizeof(T)));
            xb = lds128(x + u * kWarps * kStep * static_cast<int>(sizeof(T)) + 16);
        }
        const std::uint32_t xw[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#define GLM4V_NF4_MMA(S)                                                                                               \
    {                                                                                                                  \
        const std::uint32_t frag[4] = {lds32(region + lookup_address<2 * (S)>(q0, rd.lane4)),                          \
                                       lds32(region + lookup_address<2 * (S)>(q1, rd.lane4)),                          \
                                       lds32(region + lookup_address<2 * (S) + 1>(q0, rd.lane4)),                      \
                                       lds32(region + lookup_address<2 * (S) + 1>(q1, rd.lane4))};                     \
        Mma<T>::run(d, frag, xw[2 * (S)], xw[2 * (S) + 1]);                                                            \
    }
        GLM4V_NF4_MMA(0)
        GLM4V_NF4_MMA(1)
        GLM4V_NF4_MMA(2)
        GLM4V_NF4_MMA(3)
#undef GLM4V_NF4_MMA
        acc[0] = fmaf(d[0], s0, acc[0]);
        acc[1] = fmaf(d[1], s0, acc[1]);
        acc[2] = fmaf(d[2], s1, acc[2]);
        acc[3] = fmaf(d[3], s1, acc[3]);
    }
}

// Weight row `row`'s sum v (+ bias), rounded as the reference rounds the layer's output.
template <typename T> __device__ __forceinline__ float product(const KernelArgs& a, float v, std::int64_t row) {
    if (a.bias) v += Act<T>::to_float(static_cast<const T*>(a.bias)[row]);
    return Act<T>::to_float(Act<T>::from_float(v));
}

// The result of stripe row r for x row m, whose sum over k sum_of(row) gives for any row of the stripe: y = the
// product (+ residual, rounded again); or with a SwiGLU output, for r < 8, SwiGLU of gate row r and up row r + 8.
template <typename T, bool kSwiGlu, typename SumOf>
__device__ __forceinline__ void store_result(const KernelArgs& a, int m, int r, int stripe, const SumOf& sum_of) {
    if constexpr (kSwiGlu) {
        if (r < 8)
            static_cast<T*>(a.y)[m * a.swiglu_half + 8 * static_cast<std::int64_t>(stripe) + r] =
                Act<T>::from_float(swiglu1<T>(product<T>(a, sum_of(r), swiglu_weight_row(a, stripe, r)),
                                              product<T>(a, sum_of(r + 8), swiglu_weight_row(a, stripe, r + 8))));
        return;
    }
    const std::int64_t row = static_cast<std::int64_t>(stripe) * kStripe + r;
    if (row >= a.out_features) return;
    const std::int64_t at = m * a.out_features + row;
    float out = product<T>(a, sum_of(r), row);
    if (a.residual) out += Act<T>::to_float(static_cast<const T*>(a.residual)[at]);
    static_cast<T*>(a.y)[at] = Act<T>::from_float(out);
}

// The end of a unit, in two halves around the barrier that ends its last stage. store_partials: each warp's sums into
// shared memory. reduce_unit, after that barrier and the next stage's copies: the warps' partials summed in a fixed
// order; an unsplit stripe writes y, a split one leaves its part in the workspace for join_split_parts. No barrier
// follows the sums: a unit's partials are written again only after the next stage's opening barrier, which the
// summing threads reach once done, so only they lag (once a second barrier waited for them and held back every warp's
// copies of the next stage).
__device__ __forceinline__ void store_partials(float* partial, const float (&acc)[4], int warp, int g, int t) {
    // Accumulator (g, 2t + c) is stripe row g, x row 2t + c; (g + 8, ...) likewise.
    float* mine = partial + warp * (kStripe * 8);
    mine[g * 8 + 2 * t] = acc[0];
    mine[g * 8 + 2 * t + 1] = acc[1];
    mine[(g + 8) * 8 + 2 * t] = acc[2];
    mine[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

template <typename T, bool kSwiGlu>
__device__ __forceinline__ void reduce_unit(const KernelArgs& a, const float* partial, const StageAt& s) {
    const int m = threadIdx.x / kStripe, r = threadIdx.x % kStripe; // consecutive threads write consecutive y
    if (threadIdx.x >= kStripe * 8 || m >= a.rows) return;
    const auto sum_of = [&](int row) {
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) v += partial[w * (kStripe * 8) + row * 8 + m];
        return v;
    };
    if (a.splits != 1)
        a.workspace[static_cast<std::int64_t>(s.unit) * (kStripe * 8) + threadIdx.x] = sum_of(r);
    else
        store_result<T, kSwiGlu>(a, m, r, s.stripe, sum_of);
}

// After a block's last stage, for a split GEMV: each of its parts counts its arrival at its stripe, and the part
// that arrives last adds all parts of the stripe in part order and writes y. Here and not at each unit's end,
// because a memory fence waits for the copies in flight, and one per unit stalled the ring; and a thread per part,
// because one atomic after another cost a round trip to L2 each.
template <typename T, bool kSwiGlu> __device__ void join_split_parts(const KernelArgs& a, const Plan& plan) {
    __shared__ bool last_part[kThreads];
    __threadfence(); // this block's parts, before their arrivals count
    const int parts = (plan.units - blockIdx.x + gridDim.x - 1) / gridDim.x;
    const int m = threadIdx.x / kStripe, r = threadIdx.x % kStripe;
    for (int base = 0; base < parts; base += kThreads) {
        __syncthreads();
        const int mine = base + threadIdx.x;
        last_part[threadIdx.x] =
            mine < parts && atomicAdd(&g_stripe_arrivals[(blockIdx.x + mine * gridDim.x) / a.splits], 1u) ==
                                static_cast<unsigned>(a.splits - 1);
        __syncthreads();
        __threadfence(); // the other parts', after their arrivals
        for (int i = 0; i < min(kThreads, parts - base); ++i) {
            if (!last_part[i]) continue;
            const int stripe = (blockIdx.x + (base + i) * gridDim.x) / a.splits;
            if (threadIdx.x < kStripe * 8 && m < a.rows)
                store_result<T, kSwiGlu>(a, m, r, stripe, [&](int row) {
                    float sum = 0.0f;
                    for (int part = 0; part < a.splits; ++part)
                        sum += __ldcg(a.workspace +
                                      (static_cast<std::int64_t>(stripe) * a.splits + part) * (kStripe * 8) +
                                      m * kStripe + row);
                    return sum;
                });
            if (threadIdx.x == 0) g_stripe_arrivals[stripe] = 0;
        }
    }
}

// The ring: stage i of this block goes to slot i % kStages. Once every warp is past stage i (the barrier after it),
// stage i + kStages is issued into its slot, before the wait for stage i + 1: a block that waits has kStages stages in
// flight, not the one it had when the slot was refilled only after that wait. This costs a second barrier a stage and
// gained little (h_to_4h 25.9 -> 25.2 us, docs/performance.md): more bytes in flight is not what the kernel lacks. The
// first stages go out before the table fill and the prologue, which do not need them, and before waiting for the
// previous kernel to finish (programmatic dependent launch), so the start overlaps the previous kernel's end. Two
// blocks an SM is what shared memory allows; bounds of 3 had squeezed the registers so that the compiler recomputed the
// shared base each stage in a vector register, and each lookup paid an add again.
template <typename T, GemvPrologue kPrologue, bool kSwiGlu>
__global__ void __launch_bounds__(kThreads, 2) nf4_gemv_kernel(const KernelArgs a) {
    GLM4V_KERNEL_SPAN(SpanKind::Gemv, static_cast<std::uint32_t>(a.out_features),
                      static_cast<std::uint32_t>(a.in_features));
    extern __shared__ __align__(16) unsigned char smem[];
    const int in = static_cast<int>(a.in_features);
    const int xstride = in + kXPad;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const Plan plan(a.in_features, a.out_features, a.splits);

    unsigned char* region = smem; // the table and the ring
    unsigned char* scales = smem + kRegionBytes;
    T* xs = reinterpret_cast<T*>(scales + kStages * kScaleStageBytes);
    T* norm_ws = xs + a.rows * xstride; // RMSNorm's weight [in]
    float* partial = reinterpret_cast<float*>(norm_ws + (kPrologue == GemvPrologue::RmsNorm ? in : 0));
    const std::uint32_t region_at = shared_address(region);

    allow_next_kernel();
    if constexpr (kPrologue == GemvPrologue::RmsNorm) { // the oldest group of copies: stage_x waits for it alone
        for (int c = threadIdx.x; c < in / 8; c += kThreads)
            cp_async16(norm_ws + c * 8, static_cast<const T*>(a.norm_weight) + c * 8);
        cp_async_commit();
    }
    const Walk walk(a.splits);
    StageAt flight[kStages]; // the stages in the ring, by slot
    Issuer issuer(region_at, shared_address(scales));
#pragma unroll
    for (int i = 0; i < kStages; ++i) {
        if (i == 0) {
            flight[0] = first_stage(a, plan);
        } else {
            flight[i] = flight[i - 1];
            advance(flight[i], a, plan, walk);
        }
        issuer.issue<kSwiGlu>(a, flight[i], i);
        cp_async_commit();
    }
    for (int i = threadIdx.x; i < kLines * 8; i += kThreads) { // four lanes' copies of one byte per store
        const int byte = i >> 3;
        const std::uint32_t v = Act<T>::pack(a.code.v[byte >> 4], a.code.v[byte & 15]); // high nibble first
        *reinterpret_cast<uint4*>(region + byte * kLine + (i & 7) * 16) = make_uint4(v, v, v, v);
    }
    grid_dependency_wait(); // x, the residual and y belong to the kernels before
    stage_x<T, kPrologue>(a, xs, xstride, norm_ws, flight[0].first * (kStep / 8), flight[0].count * (kStep / 8));
    GLM4V_KERNEL_STAMP(staged);

    Reader rd;
    rd.q = region_at + ring_offset(0, g, 2 * (warp % 4)) + (warp / 4) * kLine + t * 8;
    rd.scale = shared_address(scales) + (g * kScalePitch + warp) * 4;
    rd.x = shared_address(xs + g * xstride + warp * kStep + t * 16);
    rd.reads_x = g < a.rows;
    rd.lane4 = static_cast<std::uint32_t>(lane) * 4;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    bool x_in_flight = kPrologue == GemvPrologue::None; // stage_x's last group, behind the ring's first stages
    // Unrolled over the slots, so each stage in flight is registers, and the stage a slot takes next is walked on
    // from the newest one in place of the stage just computed.
    for (bool more = true; more;) {
#pragma unroll
        for (int slot = 0; slot < kStages; ++slot) {
            const StageAt cur = flight[slot];
            if (cur.unit >= plan.units) {
                more = false;
                break;
            }
            if (x_in_flight) { // the first stage's copies are done; the second stage's and the rest of x' may fly
                cp_async_wait<kStages>();
                x_in_flight = false;
            } else {
                cp_async_wait<kStages - 1>(); // this thread's copies of the current stage are done; the next may fly
            }
            __syncthreads(); // everyone's are (and the prologue's x')
            compute_stage<T>(cur, slot, acc, region_at, rd, warp);
            const bool unit_ends = cur.stage == plan.unit_stages - 1;
            if (unit_ends) {
                store_partials(partial, acc, warp, g, t);
                acc[0] = acc[1] = acc[2] = acc[3] = 0.0f;
            }
            __syncthreads(); // every warp is past the slot, and a finished unit's partials are in
            flight[slot] = flight[(slot + kStages - 1) % kStages];
            advance(flight[slot], a, plan, walk);
            issuer.issue<kSwiGlu>(a, flight[slot], slot);
            cp_async_commit();
            if (unit_ends) {
                GLM4V_KERNEL_STAMP(summed); // the last unit's stamp stays
                reduce_unit<T, kSwiGlu>(a, partial, cur);
            }
        }
    }
    cp_async_wait<0>();
    if (a.splits > 1) join_split_parts<T, kSwiGlu>(a, plan);
}

// x' of `rows` rows, and RMSNorm's weight.
int x_bytes(int rows, std::int64_t in, std::size_t elem, GemvPrologue prologue) {
    return static_cast<int>((rows * (in + kXPad) + (prologue == GemvPrologue::RmsNorm ? in : 0)) *
                            static_cast<std::int64_t>(elem));
}

int smem_bytes(int rows, std::int64_t in, std::size_t elem, GemvPrologue prologue) {
    return kFixedSmem + x_bytes(rows, in, elem, prologue);
}

int g_smem_cap = 0;     // nf4_gemv_limit_shared_memory
int g_forced_splits = 0; // nf4_gemv_force_splits

// x' bytes that fit the current device beside the ring, the table and the sums: 96 KB on an H100 (227 KB of shared
// memory a block), 26 KB on a GeForce RTX 30 or 40 (99 KB).
int x_room() {
    int optin = current_device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin);
    if (g_smem_cap > 0) optin = std::min(optin, g_smem_cap);
    return std::min(kSmemXLimit, optin - kStaticSmem - kFixedSmem);
}

// Rows of x that one launch takes (x' must fit the room).
int rows_per_launch(std::int64_t in, std::size_t elem, GemvPrologue prologue, int room) {
    int rows = 1;
    while (rows < kNf4GemvMaxRows && x_bytes(rows + 1, in, elem, prologue) <= room) ++rows;
    return rows;
}

struct Launch {
    int grid, splits;
};

// How many blocks of a kernel with this much shared memory the SMs hold at once, asked of the driver once per
// (device, kernel, shared memory): a follow-up's prefill launches GEMVs eagerly, and two driver queries per launch
// were CPU time on its critical path.
int resident_blocks(const void* kernel, int smem) {
    struct Entry {
        int device;
        const void* kernel;
        int smem, blocks;
    };
    static thread_local std::vector<Entry> known;
    int device = 0;
    GLM4V_CUDA_CHECK(cudaGetDevice(&device));
    for (const Entry& e : known)
        if (e.device == device && e.kernel == kernel && e.smem == smem) return e.blocks;
    const int sms = current_device_attribute(cudaDevAttrMultiProcessorCount);
    int per_sm = 0;
    GLM4V_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem));
    known.push_back({device, kernel, smem, sms * std::max(per_sm, 1)});
    return known.back().blocks;
}

// The persistent grid (all blocks the SMs hold at once), and the splits of k that finish soonest on it (gemv_plan.h).
template <typename T, GemvPrologue kPrologue, bool kSwiGlu>
Launch plan_launch(const Nf4DeviceWeight& w, int rows, int room) {
    const auto kernel = nf4_gemv_kernel<T, kPrologue, kSwiGlu>;
    // The most a launch of this kernel may take on this device, not on the largest card: a GeForce refuses more.
    static thread_local int allowed[64] = {};
    int device = 0;
    GLM4V_CUDA_CHECK(cudaGetDevice(&device));
    const int most = kFixedSmem + room;
    if (device >= 64 || allowed[device] != most) {
        GLM4V_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, most));
        if (device < 64) allowed[device] = most;
    }
    Launch l{resident_blocks(reinterpret_cast<const void*>(kernel), smem_bytes(rows, w.in_features, sizeof(T), kPrologue)),
             1};
    const std::int64_t stripes = (w.out_features + kStripe - 1) / kStripe;
    const int steps = static_cast<int>(w.in_features / kStep);
    const GemvSplitLimits limits{kMaxSplits, kMaxSplitStripes, kStageSteps};
    l.splits = gemv_splits(stripes, steps, l.grid, limits);
    if (g_forced_splits > 0) {
        GLM4V_CHECK(gemv_splits_fit(stripes, steps, g_forced_splits, limits), ErrorKind::InvalidInput)
            << "nf4_gemv: " << g_forced_splits << " splits do not fit a GEMV of " << stripes << " stripes of " << steps
            << " steps";
        l.splits = g_forced_splits;
    }
    l.grid = static_cast<int>(std::min<std::int64_t>(l.grid, stripes * l.splits));
    return l;
}

template <typename T, GemvPrologue kPrologue, bool kSwiGlu>
void launch(KernelArgs a, cudaStream_t stream, const Nf4DeviceWeight& w) {
    const int room = x_room();
    const int per_launch = rows_per_launch(a.in_features, sizeof(T), kPrologue, room);
    const int total_rows = a.rows;
    for (int first = 0; first < total_rows; first += per_launch) {
        KernelArgs part = a;
        part.rows = std::min(per_launch, total_rows - first);
        part.x = static_cast<const T*>(a.x) + first * a.in_features;
        part.y = static_cast<T*>(a.y) + first * (kSwiGlu ? a.swiglu_half : a.out_features);
        if (a.residual) part.residual = static_cast<const T*>(a.residual) + first * a.out_features;
        const Launch l = plan_launch<T, kPrologue, kSwiGlu>(w, part.rows, room);
        part.splits = l.splits;
        GLM4V_CHECK(l.splits == 1 || a.workspace, ErrorKind::InvalidInput)
            << "nf4_gemv: this shape splits k and needs the workspace of nf4_gemv_workspace_floats";
        launch_after_previous(nf4_gemv_kernel<T, kPrologue, kSwiGlu>, dim3(l.grid), dim3(kThreads),
                              smem_bytes(part.rows, a.in_features, sizeof(T), kPrologue), stream, part);
    }
}

template <typename T> void launch_typed(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream) {
    GLM4V_CHECK(nf4_gemv_supports(w), ErrorKind::Unsupported)
        << "nf4_gemv needs in_features % 64 == 0, one row of x in this GPU's shared memory and a power-of-two "
           "blocksize >= 64, got in_features "
        << w.in_features << ", blocksize " << w.blocksize;
    GLM4V_CHECK(p.rows >= 1 && p.rows <= kNf4GemvMaxRows, ErrorKind::InvalidInput)
        << "nf4_gemv takes 1.." << kNf4GemvMaxRows << " rows, got " << p.rows;
    GLM4V_CHECK(p.prologue != GemvPrologue::RmsNorm || p.norm_weight, ErrorKind::InvalidInput)
        << "nf4_gemv: an RMSNorm prologue needs its weight";
    GLM4V_CHECK(!p.swiglu_output || (w.out_features % 16 == 0 && !p.residual), ErrorKind::InvalidInput)
        << "nf4_gemv: a SwiGLU output needs out_features % 16 == 0 and no residual, got out_features "
        << w.out_features;
    GLM4V_CHECK(p.prologue != GemvPrologue::RmsNorm || x_bytes(1, w.in_features, sizeof(T), p.prologue) <= x_room(),
                ErrorKind::Unsupported)
        << "nf4_gemv: an RMSNorm prologue over " << w.in_features << " inputs does not fit this GPU's shared memory";
    KernelArgs a{};
    a.x = p.x;
    a.rows = p.rows;
    a.packed = w.packed;
    a.absmax = w.absmax;
    a.out_features = w.out_features;
    a.in_features = w.in_features;
    a.blocksize_shift = log2_exact(w.blocksize);
    a.norm_weight = p.norm_weight;
    a.eps = p.eps;
    a.bias = p.bias;
    a.residual = p.residual;
    a.y = p.y;
    a.code = nf4_code_arg();
    a.workspace = p.workspace;
    a.swiglu_half = p.swiglu_output ? w.out_features / 2 : 0;
    // A kernel of its own for the SwiGLU output, so the others carry none of its code (an exp and a division).
    if (p.prologue == GemvPrologue::RmsNorm)
        p.swiglu_output ? launch<T, GemvPrologue::RmsNorm, true>(a, stream, w)
                        : launch<T, GemvPrologue::RmsNorm, false>(a, stream, w);
    else
        p.swiglu_output ? launch<T, GemvPrologue::None, true>(a, stream, w)
                        : launch<T, GemvPrologue::None, false>(a, stream, w);
}

} // namespace

bool nf4_gemv_supports(const Nf4DeviceWeight& w) {
    return w.in_features > 0 && w.in_features % kStep == 0 && x_bytes(1, w.in_features, 2, GemvPrologue::None) <= x_room() &&
           w.out_features > 0 &&
           w.blocksize >= kStep && (w.blocksize & (w.blocksize - 1)) == 0;
}

void nf4_gemv_limit_shared_memory(int bytes) { g_smem_cap = bytes; }

void nf4_gemv_force_splits(int splits) { g_forced_splits = splits; }

std::int64_t nf4_gemv_workspace_floats(const Nf4DeviceWeight& w) {
    const std::int64_t stripes = (w.out_features + kStripe - 1) / kStripe;
    return stripes <= kMaxSplitStripes ? stripes * kMaxSplits * kStripe * 8 : 0;
}

void launch_nf4_gemv_bf16(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream) {
    launch_typed<__nv_bfloat16>(w, p, stream);
}

void launch_nf4_gemv_fp16(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream) {
    launch_typed<__half>(w, p, stream);
}

#ifdef GLM4V_KERNEL_TIMELINE
GLM4V_KERNEL_TIMELINE_ATTACH(attach_nf4_gemv_timeline)

void attach_kernel_timeline(const KernelTimeline& timeline) {
    attach_nf4_gemv_timeline(timeline);
    attach_decode_attention_timeline(timeline);
}
#endif

} // namespace glm4v::engine::cuda
