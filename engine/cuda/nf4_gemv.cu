// The fused NF4 GEMV for decode (DESIGN.md section 3) on the tensor cores: y[m, o] = sum_k x'[m, k] * W[o, k],
// W[o, k] = code[q(o, k)] * absmax(o, k), where x' is x after an optional prologue (RMSNorm, or SwiGLU of a [rows, 2
// in] input), and y gets an optional bias and residual.
//
// Why tensor cores for a GEMV: on CUDA cores each weight costs a table lookup, an unpack of x and an FMA per row of x,
// about 4.7 instructions a weight, which is the whole issue rate of an H100 at copy bandwidth (docs/performance.md).
// A byte of NF4 holds two k-adjacent weights of one row, which is exactly one 32-bit register of an mma.m16n8k16 A
// fragment; one shared-memory lookup turns it into that register. x is the B operand (8 columns: up to 8 rows of x
// cost the same), so the FMAs and x unpacks are gone and the lookup dominates: about 2 instructions a weight.
//
// Work split: a block owns a stripe of 16 output rows at a time (a persistent grid loops over stripes); its 8 warps
// split k into 64-wide steps (one absmax block each), accumulate in fp32 fragments, and are summed in a fixed order
// through shared memory, so results are deterministic. In a 64-wide step, lane (g, t) = (lane / 4, lane % 4) loads
// 8 bytes (16 weights, k = 16 t .. 16 t + 15) of rows g and g + 8 of the stripe, and byte j of them feeds k slot
// pair (j % 2 ? 2 t + 8 : 2 t) of mma j / 2: k is permuted inside the step, which a dot product allows, as long as
// the B fragment reads x in the same order (x[16 t + 4 s .. 16 t + 4 s + 3] for mma s). All 64 k of a step share one
// absmax, so each step's four mma results are scaled once.
//
// Shared memory: the code-pair table replicated once per lane (256 x 32 x 4 bytes), so a warp's 32 lookups hit 32
// different banks whatever the bytes; x' for all rows, each row padded by 16 bytes so the B reads of 8 rows do not
// collide; and the per-warp partial sums.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/nf4_common.cuh"
#include "engine/cuda/nf4_kernels.h"

#include <algorithm>

namespace glm4v::engine::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kStripe = 16;  // output rows of one mma tile
constexpr int kStep = 64;    // k of one warp step: four k16 mmas under one absmax
constexpr int kUnroll = 4;   // warp steps whose weight loads are in flight together
constexpr int kLutBytes = 256 * 32 * 4;
constexpr int kReduceBytes = kWarps * kStripe * 8 * 4;
constexpr int kSmemXLimit = 96 * 1024; // x' bytes per launch; more rows than fit are done in several launches
constexpr int kXPad = 8;               // elements (16 bytes) after each row of x'

template <typename T> struct Mma;

template <> struct Mma<__nv_bfloat16> {
    __device__ __forceinline__ static void run(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                               std::uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <> struct Mma<__half> {
    __device__ __forceinline__ static void run(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                               std::uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

// Read-once 8-byte weight load, like load_stream.
__device__ __forceinline__ uint2 load_stream8(const uint2* p) {
    uint2 r;
    asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0, %1}, [%2];" : "=r"(r.x), "=r"(r.y) : "l"(p));
    return r;
}

// Byte offset in the lane-replicated table of byte j (0..7) of q, for the lane whose offset bits are lane4.
template <int J> __device__ __forceinline__ std::uint32_t lut_offset(uint2 q, std::uint32_t lane4) {
    const std::uint32_t word = J < 4 ? q.x : q.y;
    constexpr int kShift = 8 * (J % 4) - 7; // the byte lands at bits 7..14: entry (byte, lane) is at byte * 128
    std::uint32_t moved;
    if constexpr (kShift >= 0)
        moved = word >> kShift;
    else
        moved = word << -kShift;
    return (moved & 0x7F80u) | lane4;
}

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
};

__device__ __forceinline__ float silu(float a) { return a / (1.0f + expf(-a)); }

// x' into shared memory, rounded where the reference rounds: RMSNorm as model::rms_norm (statistics and products in
// fp32, one rounding), SwiGLU as silu(a) rounded, then times b rounded.
template <typename T, GemvPrologue kPrologue>
__device__ void stage_x(const KernelArgs& a, T* xs, int xstride) {
    __shared__ float inv_rms[kNf4GemvMaxRows];
    const int in = static_cast<int>(a.in_features);
    const int vecs = in / 8; // 16-byte vectors of 8 elements per row
    const T* x = static_cast<const T*>(a.x);
    for (int i = threadIdx.x; i < a.rows * vecs; i += kThreads) {
        const int m = i / vecs, c = i % vecs;
        uint4 v;
        if constexpr (kPrologue == GemvPrologue::SwiGlu) {
            const uint4 ga = __ldg(reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(m) * 2 * in) + c);
            const uint4 up = __ldg(reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(m) * 2 * in + in) + c);
            const std::uint32_t gw[4] = {ga.x, ga.y, ga.z, ga.w}, uw[4] = {up.x, up.y, up.z, up.w};
            std::uint32_t o[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const float2 g = Act<T>::pair(gw[k]), u = Act<T>::pair(uw[k]);
                const float2 s = Act<T>::pair(Act<T>::pack(silu(g.x), silu(g.y)));
                o[k] = Act<T>::pack(s.x * u.x, s.y * u.y);
            }
            v = make_uint4(o[0], o[1], o[2], o[3]);
        } else {
            v = __ldg(reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(m) * in) + c);
        }
        reinterpret_cast<uint4*>(xs + m * xstride)[c] = v;
    }
    if constexpr (kPrologue == GemvPrologue::RmsNorm) {
        __syncthreads();
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        if (warp < a.rows) {
            float sum = 0.0f;
            for (int k = lane * 2; k < in; k += 64) {
                const float2 p = Act<T>::pair(*reinterpret_cast<const std::uint32_t*>(xs + warp * xstride + k));
                sum = fmaf(p.x, p.x, fmaf(p.y, p.y, sum));
            }
#pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
            if (lane == 0) inv_rms[warp] = rsqrtf(sum / static_cast<float>(in) + a.eps);
        }
        __syncthreads();
        const T* w = static_cast<const T*>(a.norm_weight);
        for (int i = threadIdx.x; i < a.rows * vecs; i += kThreads) {
            const int m = i / vecs, c = i % vecs;
            uint4* p = reinterpret_cast<uint4*>(xs + m * xstride) + c;
            const uint4 v = *p, wv = __ldg(reinterpret_cast<const uint4*>(w) + c);
            const std::uint32_t xw[4] = {v.x, v.y, v.z, v.w}, ww[4] = {wv.x, wv.y, wv.z, wv.w};
            std::uint32_t o[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const float2 xf = Act<T>::pair(xw[k]), wf = Act<T>::pair(ww[k]);
                o[k] = Act<T>::pack(wf.x * (xf.x * inv_rms[m]), wf.y * (xf.y * inv_rms[m]));
            }
            *p = make_uint4(o[0], o[1], o[2], o[3]);
        }
    }
}

// The weights and scales of kUnroll warp steps of one stripe: what a warp has in flight.
struct Batch {
    uint2 q0[kUnroll], q1[kUnroll]; // 8 bytes of stripe rows g and g + 8 per step
    float s0[kUnroll], s1[kUnroll]; // their absmax
};

// Rows past the end (out_features % 16) re-read the last row; their sums are never written.
__device__ __forceinline__ void load_batch(Batch& b, const KernelArgs& a, std::int64_t stripe, int first, int steps,
                                           int g, int t) {
    const int in = static_cast<int>(a.in_features);
    const std::int64_t last = a.out_features - 1;
    const std::int64_t r0 = stripe * kStripe + g < last ? stripe * kStripe + g : last;
    const std::int64_t r1 = stripe * kStripe + g + 8 < last ? stripe * kStripe + g + 8 : last;
    const uint2* w0 = reinterpret_cast<const uint2*>(a.packed + r0 * (in / 2)) + t;
    const uint2* w1 = reinterpret_cast<const uint2*>(a.packed + r1 * (in / 2)) + t;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
        const int step = first + u * kWarps;
        if (step < steps) {
            b.q0[u] = load_stream8(w0 + step * (kStep / 16));
            b.q1[u] = load_stream8(w1 + step * (kStep / 16));
            b.s0[u] = __ldg(a.absmax + ((r0 * in + step * kStep) >> a.blocksize_shift));
            b.s1[u] = __ldg(a.absmax + ((r1 * in + step * kStep) >> a.blocksize_shift));
        }
    }
}

template <typename T>
__device__ __forceinline__ void compute_batch(const Batch& b, float (&acc)[4], const unsigned char* lut_bytes,
                                              std::uint32_t lane4, const uint4* xrow, bool has_x, int first,
                                              int steps) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
        const int step = first + u * kWarps;
        if (step >= steps) break;
        uint4 xa = make_uint4(0, 0, 0, 0), xb = xa;
        if (has_x) {
            xa = xrow[step * (kStep / 8)];
            xb = xrow[step * (kStep / 8) + 1];
        }
        const std::uint32_t xw[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#define GLM4V_NF4_MMA(S)                                                                                               \
    {                                                                                                                  \
        const std::uint32_t frag[4] = {                                                                                \
            *reinterpret_cast<const std::uint32_t*>(lut_bytes + lut_offset<2 * (S)>(b.q0[u], lane4)),                  \
            *reinterpret_cast<const std::uint32_t*>(lut_bytes + lut_offset<2 * (S)>(b.q1[u], lane4)),                  \
            *reinterpret_cast<const std::uint32_t*>(lut_bytes + lut_offset<2 * (S) + 1>(b.q0[u], lane4)),              \
            *reinterpret_cast<const std::uint32_t*>(lut_bytes + lut_offset<2 * (S) + 1>(b.q1[u], lane4))};             \
        Mma<T>::run(d, frag, xw[2 * (S)], xw[2 * (S) + 1]);                                                            \
    }
        GLM4V_NF4_MMA(0)
        GLM4V_NF4_MMA(1)
        GLM4V_NF4_MMA(2)
        GLM4V_NF4_MMA(3)
#undef GLM4V_NF4_MMA
        acc[0] = fmaf(d[0], b.s0[u], acc[0]);
        acc[1] = fmaf(d[1], b.s0[u], acc[1]);
        acc[2] = fmaf(d[2], b.s1[u], acc[2]);
        acc[3] = fmaf(d[3], b.s1[u], acc[3]);
    }
}

// Sums the warps' partials of one stripe in a fixed order and writes y with bias and residual.
template <typename T>
__device__ void finish_stripe(const KernelArgs& a, float* partial, const float (&acc)[4], std::int64_t stripe, int warp,
                              int g, int t) {
    // Accumulator (g, 2t + c) is stripe row g, x row 2t + c; (g + 8, ...) likewise.
    float* mine = partial + warp * (kStripe * 8);
    mine[g * 8 + 2 * t] = acc[0];
    mine[g * 8 + 2 * t + 1] = acc[1];
    mine[(g + 8) * 8 + 2 * t] = acc[2];
    mine[(g + 8) * 8 + 2 * t + 1] = acc[3];
    __syncthreads();
    if (threadIdx.x < kStripe * 8) {
        const int m = threadIdx.x / kStripe, r = threadIdx.x % kStripe; // consecutive threads write consecutive y
        const std::int64_t row = stripe * kStripe + r;
        if (m < a.rows && row < a.out_features) {
            float v = 0.0f;
#pragma unroll
            for (int w = 0; w < kWarps; ++w) v += partial[w * (kStripe * 8) + r * 8 + m];
            if (a.bias) v += Act<T>::to_float(static_cast<const T*>(a.bias)[row]);
            const std::int64_t at = m * a.out_features + row;
            T out = Act<T>::from_float(v);
            // The reference rounds the layer's output, then the sum with the residual.
            if (a.residual)
                out = Act<T>::from_float(Act<T>::to_float(static_cast<const T*>(a.residual)[at]) + Act<T>::to_float(out));
            static_cast<T*>(a.y)[at] = out;
        }
    }
    __syncthreads();
}

// A software pipeline over (stripe, batch) items: each warp issues the loads of its next item before computing the
// current one, across stripe boundaries too, and the first loads go out before the table fill and the prologue, which
// do not need them, and before waiting for the previous kernel to finish (programmatic dependent launch). So a warp
// waits on memory once, at the start, instead of once per batch, and the start overlaps the previous kernel's end.
template <typename T, GemvPrologue kPrologue>
__global__ void __launch_bounds__(kThreads, 3) nf4_gemv_kernel(const KernelArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int in = static_cast<int>(a.in_features);
    const int xstride = in + kXPad;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int steps = in / kStep;
    const std::int64_t stripes = (a.out_features + kStripe - 1) / kStripe;

    allow_next_kernel();
    std::int64_t stripe = blockIdx.x;
    int first = warp;
    Batch cur;
    if (stripe < stripes) load_batch(cur, a, stripe, first, steps, g, t);

    std::uint32_t* lut = reinterpret_cast<std::uint32_t*>(smem);
    T* xs = reinterpret_cast<T*>(smem + kLutBytes);
    float* partial = reinterpret_cast<float*>(smem + kLutBytes + a.rows * xstride * static_cast<int>(sizeof(T)));
    for (int i = threadIdx.x; i < kLutBytes / 16; i += kThreads) { // four lanes' copies of one byte per store
        const int byte = i >> 3;
        const std::uint32_t v = Act<T>::pack(a.code.v[byte >> 4], a.code.v[byte & 15]); // high nibble first
        reinterpret_cast<uint4*>(lut)[i] = make_uint4(v, v, v, v);
    }
    grid_dependency_wait(); // x, the residual and y belong to the kernels before
    stage_x<T, kPrologue>(a, xs, xstride);
    __syncthreads();

    const std::uint32_t lane4 = static_cast<std::uint32_t>(lane) * 4;
    const uint4* xrow = reinterpret_cast<const uint4*>(xs + g * xstride) + t * 2; // this lane's 16 x values of step 0
    const bool has_x = g < a.rows;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    while (stripe < stripes) {
        std::int64_t next_stripe = stripe;
        int next_first = first + kWarps * kUnroll;
        if (next_first >= steps) {
            next_stripe += gridDim.x;
            next_first = warp;
        }
        Batch next;
        if (next_stripe < stripes && next_first < steps) load_batch(next, a, next_stripe, next_first, steps, g, t);
        if (first < steps) compute_batch<T>(cur, acc, smem, lane4, xrow, has_x, first, steps);
        if (next_stripe != stripe) {
            finish_stripe<T>(a, partial, acc, stripe, warp, g, t);
            acc[0] = acc[1] = acc[2] = acc[3] = 0.0f;
        }
        cur = next;
        stripe = next_stripe;
        first = next_first;
    }
}

int smem_bytes(int rows, std::int64_t in, std::size_t elem) {
    return kLutBytes + static_cast<int>(rows * (in + kXPad) * static_cast<std::int64_t>(elem)) + kReduceBytes;
}

template <typename T, GemvPrologue kPrologue> void launch(KernelArgs a, cudaStream_t stream) {
    const auto kernel = nf4_gemv_kernel<T, kPrologue>;
    static const int configured = [&] {
        GLM4V_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              kLutBytes + kSmemXLimit + kReduceBytes));
        return 0;
    }();
    (void)configured;
    int device = 0, sms = 0;
    GLM4V_CUDA_CHECK(cudaGetDevice(&device));
    GLM4V_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));

    const int row_bytes = static_cast<int>((a.in_features + kXPad) * static_cast<std::int64_t>(sizeof(T)));
    const int rows_per_launch = std::max(1, std::min(kNf4GemvMaxRows, kSmemXLimit / row_bytes));
    const std::int64_t x_row = a.in_features * (kPrologue == GemvPrologue::SwiGlu ? 2 : 1);
    const int total_rows = a.rows;
    for (int first = 0; first < total_rows; first += rows_per_launch) {
        KernelArgs part = a;
        part.rows = std::min(rows_per_launch, total_rows - first);
        part.x = static_cast<const T*>(a.x) + first * x_row;
        part.y = static_cast<T*>(a.y) + first * a.out_features;
        if (a.residual) part.residual = static_cast<const T*>(a.residual) + first * a.out_features;
        const int smem = smem_bytes(part.rows, a.in_features, sizeof(T));
        int per_sm = 0;
        GLM4V_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem));
        const std::int64_t stripes = (a.out_features + kStripe - 1) / kStripe;
        const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(stripes, std::int64_t{sms} * std::max(per_sm, 1)));
        launch_after_previous(kernel, dim3(blocks), dim3(kThreads), smem, stream, part);
    }
}

template <typename T> void launch_typed(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream) {
    GLM4V_CHECK(nf4_gemv_supports(w), ErrorKind::Unsupported)
        << "nf4_gemv needs in_features % 64 == 0 (at most 49088) and a power-of-two blocksize >= 64, got in_features "
        << w.in_features << ", blocksize " << w.blocksize;
    GLM4V_CHECK(p.rows >= 1 && p.rows <= kNf4GemvMaxRows, ErrorKind::InvalidInput)
        << "nf4_gemv takes 1.." << kNf4GemvMaxRows << " rows, got " << p.rows;
    GLM4V_CHECK(p.prologue != GemvPrologue::RmsNorm || p.norm_weight, ErrorKind::InvalidInput)
        << "nf4_gemv: an RMSNorm prologue needs its weight";
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
    switch (p.prologue) {
    case GemvPrologue::None: launch<T, GemvPrologue::None>(a, stream); break;
    case GemvPrologue::RmsNorm: launch<T, GemvPrologue::RmsNorm>(a, stream); break;
    case GemvPrologue::SwiGlu: launch<T, GemvPrologue::SwiGlu>(a, stream); break;
    }
}

} // namespace

bool nf4_gemv_supports(const Nf4DeviceWeight& w) {
    return w.in_features > 0 && w.in_features % kStep == 0 && (w.in_features + kXPad) * 2 <= kSmemXLimit &&
           w.out_features > 0 &&
           w.blocksize >= kStep && (w.blocksize & (w.blocksize - 1)) == 0;
}

void launch_nf4_gemv_bf16(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream) {
    launch_typed<__nv_bfloat16>(w, p, stream);
}

void launch_nf4_gemv_fp16(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream) {
    launch_typed<__half>(w, p, stream);
}

} // namespace glm4v::engine::cuda
