// The per-token attention of a decode step (DESIGN.md section 3): rotary embedding fused with the KV-cache append
// (for a prefill's rows too), and split-K ("flash-decoding") attention of one query row over the used rows of the cache.
//
// Attention: a block takes one key/value group and one slice of 64 cache rows, and serves all 16 query heads of the
// group from each key and value it loads (GQA without copies). The grid covers the cache's whole capacity, so one CUDA
// graph serves every length (read from the device: row + 1); slices past the end return at once. A block copies its
// slice into shared memory with every copy in flight at once (one latency per row made an early version 30 us), then
// computes the 16 heads' scores and the probabilities' product with the values as two matrix products on the tensor
// cores (mma.m16n8k16: 16 heads are exactly one tile's rows). In the decode step this costs 7.6 us a layer at 1628
// rows, where the CUDA-core version with slices sized for the whole capacity (74 KB of shared memory a block) cost
// 12.7 (docs/performance.md).
// The slice's unnormalized output, maximum and sum go to a workspace that a second kernel combines. Probabilities
// enter the second product rounded to the activation type, as in FlashAttention; their sum stays fp32.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/decode_kernels.h"
#include "engine/cuda/nf4_common.cuh"

#include <cmath>

namespace glm4v::engine::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxSplits = 512;

// One thread per (token, head or group, dim pair). The reference rounds each product and each sum to the activation
// type.
template <typename T>
__global__ void rope_append_kernel(const T* __restrict__ qkv, int tokens, int heads, int groups, int head_dim,
                                   int rotary_pairs, const T* __restrict__ table, const std::int64_t* __restrict__ row,
                                   T* __restrict__ keys, T* __restrict__ values, std::int64_t capacity,
                                   T* __restrict__ q_out) {
    GLM4V_KERNEL_SPAN(SpanKind::RopeAppend, 0, 0);
    allow_next_kernel();
    grid_dependency_wait();
    const int pairs = head_dim / 2, token_pairs = (heads + 2 * groups) * pairs;
    const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= static_cast<std::int64_t>(tokens) * token_pairs) return;
    const int token = static_cast<int>(i / token_pairs), at = static_cast<int>(i % token_pairs);
    const int vec = at / pairs, p = at % pairs; // vec: q heads, then k groups, then v groups
    const std::uint32_t in = reinterpret_cast<const std::uint32_t*>(qkv)[i];
    std::uint32_t out = in;
    if (vec < heads + groups && p < rotary_pairs) {
        const float2 x = Act<T>::pair(in);
        const float2 cs = Act<T>::pair(reinterpret_cast<const std::uint32_t*>(table)[token * rotary_pairs + p]);
        const auto r = [](float v) { return Act<T>::to_float(Act<T>::from_float(v)); };
        out = Act<T>::pack(r(x.x * cs.x) - r(x.y * cs.y), r(x.y * cs.x) + r(x.x * cs.y));
    }
    if (vec < heads) {
        reinterpret_cast<std::uint32_t*>(q_out)[(static_cast<std::int64_t>(token) * heads + vec) * pairs + p] = out;
        return;
    }
    const bool is_key = vec < heads + groups;
    const int g = is_key ? vec - heads : vec - heads - groups;
    T* cache = is_key ? keys : values;
    reinterpret_cast<std::uint32_t*>(cache + (g * capacity + *row + token) * head_dim)[p] = out;
}

// A slice of kChunk cache rows per block: its keys and values fit shared memory at any context (42 KB with the
// scores and probabilities), and a block's work is two small matrix products on the tensor cores.
constexpr int kChunk = 64;
constexpr int kPitch = kDecodeHeadDim + 8;  // elements of a staged key or value row: 272 bytes, so the 8 rows one
                                            // fragment load touches fall in different banks
constexpr int kScorePitch = kChunk + 4;     // floats of a head's scores
constexpr int kProbPitch = kChunk + 8;      // elements of a head's probabilities

__device__ __forceinline__ std::uint32_t word_at(const void* p) { return *reinterpret_cast<const std::uint32_t*>(p); }

// Block (group, slice): S = Q K^T for the group's 16 heads (the mma's 16 rows) over the slice's rows, its softmax
// statistics, and O = P V unnormalized, into the workspace for the combine. Warp w scores rows 8w..8w+7 of the slice
// and accumulates dims 16w..16w+15 of O. The slice's rows are copied into shared memory before the wait on the
// previous kernel, except the newest row, which that kernel (rope_append) writes; rows past the end are zeros.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    attention_split_kernel(const T* __restrict__ q, const T* __restrict__ keys, const T* __restrict__ values,
                           const std::int64_t* __restrict__ row, std::int64_t capacity, int max_splits, float scale,
                           float* __restrict__ part_out, float* __restrict__ part_max, float* __restrict__ part_sum) {
    GLM4V_KERNEL_SPAN(SpanKind::AttentionSplit, 0, 0);
    allow_next_kernel();
    constexpr int kHeads = kDecodeHeadsPerGroup, kDim = kDecodeHeadDim;
    static_assert(kHeads == 16 && kChunk == 8 * kWarps && kDim == 16 * kWarps, "one mma tile of heads, rows, dims a warp");
    __shared__ __align__(16) T k_rows[kChunk * kPitch];
    __shared__ __align__(16) T v_rows[kChunk * kPitch];
    __shared__ float scores[kHeads * kScorePitch];
    __shared__ __align__(16) T probs[kHeads * kProbPitch];
    const int group = blockIdx.x, split = blockIdx.y;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const std::int64_t length = *row + 1; // written before the step began, not by the previous kernel
    const std::int64_t begin = static_cast<std::int64_t>(split) * kChunk;
    if (begin >= length) return;
    const int n = length - begin < kChunk ? static_cast<int>(length - begin) : kChunk;

    // 16-byte pieces: kChunk rows x 16 of keys, then of values.
    constexpr int kPieces = 2 * kChunk * (kDim / 8);
    const auto copy_piece = [&](int i, bool newest) {
        const int is_value = i / (kPieces / 2), r = (i % (kPieces / 2)) / (kDim / 8), c = i % (kDim / 8);
        const std::int64_t at = begin + r;
        if ((at == length - 1) != newest) return;
        const T* src = (is_value ? values : keys) + (group * capacity + (at < length ? at : length - 1)) * kDim + c * 8;
        cp_async16_zfill((is_value ? v_rows : k_rows) + r * kPitch + c * 8, src, at < length ? 16 : 0);
    };
    for (int i = threadIdx.x; i < kPieces; i += kThreads) copy_piece(i, false);
    grid_dependency_wait(); // q and the newest row come from rope_append
    for (int i = threadIdx.x; i < kPieces; i += kThreads) copy_piece(i, true);
    cp_async_commit();

    // Q's A fragments for the 8 k steps of 16 dims: heads g and g + 8, dims 2t, 2t + 1 and 2t + 8, 2t + 9.
    std::uint32_t qa[kDim / 16][4];
    const T* qg = q + group * kHeads * kDim;
#pragma unroll
    for (int kk = 0; kk < kDim / 16; ++kk) {
        qa[kk][0] = word_at(qg + g * kDim + kk * 16 + 2 * t);
        qa[kk][1] = word_at(qg + (g + 8) * kDim + kk * 16 + 2 * t);
        qa[kk][2] = word_at(qg + g * kDim + kk * 16 + 2 * t + 8);
        qa[kk][3] = word_at(qg + (g + 8) * kDim + kk * 16 + 2 * t + 8);
    }
    cp_async_wait<0>();
    __syncthreads();

    {   // S for rows 8w..8w+7: B is K^T, whose column g is key row 8w + g.
        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const T* krow = k_rows + (warp * 8 + g) * kPitch + 2 * t;
#pragma unroll
        for (int kk = 0; kk < kDim / 16; ++kk) Mma<T>::run(d, qa[kk], word_at(krow + kk * 16), word_at(krow + kk * 16 + 8));
        const int r = warp * 8 + 2 * t;
        scores[g * kScorePitch + r] = r < n ? d[0] * scale : -INFINITY;
        scores[g * kScorePitch + r + 1] = r + 1 < n ? d[1] * scale : -INFINITY;
        scores[(g + 8) * kScorePitch + r] = r < n ? d[2] * scale : -INFINITY;
        scores[(g + 8) * kScorePitch + r + 1] = r + 1 < n ? d[3] * scale : -INFINITY;
    }
    __syncthreads();

    // Softmax statistics of the slice: warp w takes heads 2w and 2w + 1, a lane rows lane and lane + 32.
    static_assert(kChunk == 64, "two rows a lane");
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        const int h = warp * 2 + hh;
        const float s0 = scores[h * kScorePitch + lane], s1 = scores[h * kScorePitch + lane + 32];
        float m = fmaxf(s0, s1);
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) m = fmaxf(m, __shfl_xor_sync(0xFFFFFFFFu, m, offset));
        const float p0 = expf(s0 - m), p1 = expf(s1 - m); // row 0 is always in the slice, so m is finite
        probs[h * kProbPitch + lane] = Act<T>::from_float(p0);
        probs[h * kProbPitch + lane + 32] = Act<T>::from_float(p1);
        float sum = p0 + p1;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
        if (lane == 0) {
            const int at = (group * kHeads + h) * max_splits + split;
            part_max[at] = m;
            part_sum[at] = sum;
        }
    }
    __syncthreads();

    // O for dims 16w..16w+15 (two n tiles of 8): A is P (heads x rows), B is V, read transposed by ldmatrix.
    float o[2][4] = {};
#pragma unroll
    for (int kk = 0; kk < kChunk / 16; ++kk) {
        const std::uint32_t pa[4] = {word_at(probs + g * kProbPitch + kk * 16 + 2 * t),
                                     word_at(probs + (g + 8) * kProbPitch + kk * 16 + 2 * t),
                                     word_at(probs + g * kProbPitch + kk * 16 + 2 * t + 8),
                                     word_at(probs + (g + 8) * kProbPitch + kk * 16 + 2 * t + 8)};
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            // Lanes 0-15 name rows kk*16 + 0..15 at dim 16w + 8j: the two 8 x 8 matrices of the B fragment.
            const T* src = v_rows + (kk * 16 + (lane & 15)) * kPitch + warp * 16 + j * 8;
            const auto addr = static_cast<std::uint32_t>(__cvta_generic_to_shared(src));
            std::uint32_t b0, b1;
            asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];"
                         : "=r"(b0), "=r"(b1)
                         : "r"(addr));
            Mma<T>::run(o[j], pa, b0, b1);
        }
    }
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        const int dim = warp * 16 + j * 8 + 2 * t;
        float* top = part_out + (static_cast<std::int64_t>(group * kHeads + g) * max_splits + split) * kDim + dim;
        float* bottom = part_out + (static_cast<std::int64_t>(group * kHeads + g + 8) * max_splits + split) * kDim + dim;
        *reinterpret_cast<float2*>(top) = make_float2(o[j][0], o[j][1]);
        *reinterpret_cast<float2*>(bottom) = make_float2(o[j][2], o[j][3]);
    }
}

// out[h, d] = sum over slices of out_s * exp(max_s - M) / sum over slices of sum_s * exp(max_s - M). Everything the
// first 32 slices need comes in one round trip to L2: each thread loads its slices' max and sum, and each warp the
// outputs of its first kAhead slices, before any of them is used. Three round trips in a row (maxima, sums, outputs)
// had the combine 2.8 us past its wait in the token's timeline; this way attention takes 6.1 us a layer, not 7.8
// (docs/performance.md). The slice weights go to shared memory once per head; the sums run in a fixed order.
template <typename T>
__global__ void attention_combine_kernel(const float* __restrict__ part_out, const float* __restrict__ part_max,
                                         const float* __restrict__ part_sum, const std::int64_t* __restrict__ row,
                                         int max_splits, int head_dim, T* __restrict__ out) {
    GLM4V_KERNEL_SPAN(SpanKind::AttentionCombine, 0, 0);
    allow_next_kernel();
    constexpr int kAhead = 4;         // slices a warp loads before the weights are known
    constexpr int kSlicesAThread = 2; // max and sum of slices t and t + kThreads
    static_assert(kMaxSplits <= kSlicesAThread * kThreads, "a thread holds the statistics of its slices");
    static_assert(kDecodeHeadDim == 4 * 32, "a lane takes 4 dims of the head");
    __shared__ float weight[kMaxSplits];
    __shared__ float warp_top[kWarps], warp_total[kWarps];
    __shared__ float4 warp_out[kWarps][32];
    // The slices that held rows; row was written before the step began, not by the previous kernel.
    const int splits = static_cast<int>((*row + kChunk) / kChunk);
    const int h = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float* m = part_max + h * max_splits;
    const float* l = part_sum + h * max_splits;
    const float4* o = reinterpret_cast<const float4*>(part_out + static_cast<std::int64_t>(h) * max_splits * head_dim);
    const auto slice_out = [&](int s) { return __ldcg(o + static_cast<std::int64_t>(s) * (head_dim / 4) + lane); };
    grid_dependency_wait();

    float4 ahead[kAhead];
#pragma unroll
    for (int i = 0; i < kAhead; ++i)
        ahead[i] = warp + i * kWarps < splits ? slice_out(warp + i * kWarps) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float slice_max[kSlicesAThread], slice_sum[kSlicesAThread];
    float top = -INFINITY;
#pragma unroll
    for (int i = 0; i < kSlicesAThread; ++i) {
        const int s = threadIdx.x + i * kThreads;
        slice_max[i] = s < splits ? __ldcg(m + s) : -INFINITY;
        slice_sum[i] = s < splits ? __ldcg(l + s) : 0.0f;
        top = fmaxf(top, slice_max[i]);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) top = fmaxf(top, __shfl_xor_sync(0xFFFFFFFFu, top, offset));
    if (lane == 0) warp_top[warp] = top;
    __syncthreads();
    for (int w = 0; w < kWarps; ++w) top = fmaxf(top, warp_top[w]);
    float total = 0.0f;
#pragma unroll
    for (int i = 0; i < kSlicesAThread; ++i) {
        const int s = threadIdx.x + i * kThreads;
        if (s >= splits) break;
        // An empty slice has max -inf and no output.
        const float w = slice_sum[i] == 0.0f ? 0.0f : expf(slice_max[i] - top);
        weight[s] = w;
        total = fmaf(slice_sum[i], w, total);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_xor_sync(0xFFFFFFFFu, total, offset);
    if (lane == 0) warp_total[warp] = total;
    __syncthreads();
    total = 0.0f;
    for (int w = 0; w < kWarps; ++w) total += warp_total[w];
    // Warp w sums slices w, w + 8, ... over 4 dims a lane, then the 8 warp sums are added in order.
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const auto add = [&](const float4& v, int s) {
        acc.x = fmaf(v.x, weight[s], acc.x);
        acc.y = fmaf(v.y, weight[s], acc.y);
        acc.z = fmaf(v.z, weight[s], acc.z);
        acc.w = fmaf(v.w, weight[s], acc.w);
    };
#pragma unroll
    for (int i = 0; i < kAhead; ++i)
        if (warp + i * kWarps < splits) add(ahead[i], warp + i * kWarps);
    for (int s = warp + kAhead * kWarps; s < splits; s += kWarps) add(slice_out(s), s);
    warp_out[warp][lane] = acc;
    __syncthreads();
    if (threadIdx.x < head_dim) {
        const float* sums = reinterpret_cast<const float*>(warp_out);
        float v = 0.0f;
        for (int w = 0; w < kWarps; ++w) v += sums[w * head_dim + threadIdx.x];
        out[h * head_dim + threadIdx.x] = Act<T>::from_float(v / total);
    }
}

template <typename T> void rope_append(const DecodeAttentionArgs& a, cudaStream_t stream) {
    const std::int64_t threads = static_cast<std::int64_t>(a.tokens) * (a.heads + 2 * a.groups) * a.head_dim / 2;
    launch_after_previous(rope_append_kernel<T>, dim3(static_cast<unsigned>((threads + 255) / 256)), dim3(256), 0,
                          stream, static_cast<const T*>(a.qkv), a.tokens, a.heads, a.groups, a.head_dim,
                          a.rotary_dims / 2,
                          static_cast<const T*>(a.rope_table), a.row, static_cast<T*>(a.keys),
                          static_cast<T*>(a.values), a.capacity, static_cast<T*>(a.q));
}

template <typename T> void attend(const DecodeAttentionArgs& a, const DecodeAttentionWorkspace& ws, cudaStream_t stream) {
    launch_after_previous(attention_split_kernel<T>, dim3(a.groups, ws.splits), dim3(kThreads), 0, stream,
                          static_cast<const T*>(a.q), static_cast<const T*>(a.keys), static_cast<const T*>(a.values),
                          a.row, a.capacity, ws.splits, 1.0f / std::sqrt(static_cast<float>(a.head_dim)), ws.out,
                          ws.max, ws.sum);
    launch_after_previous(attention_combine_kernel<T>, dim3(a.heads), dim3(kThreads), 0, stream,
                          static_cast<const float*>(ws.out), static_cast<const float*>(ws.max),
                          static_cast<const float*>(ws.sum), a.row, ws.splits, a.head_dim,
                          static_cast<T*>(a.attention_out));
}

} // namespace

int decode_attention_splits(std::int64_t capacity) {
    const std::int64_t splits = (capacity + kChunk - 1) / kChunk;
    GLM4V_CHECK(splits <= kMaxSplits, ErrorKind::Unsupported)
        << "decode attention: a cache of " << capacity << " rows is more than " << kMaxSplits * kChunk;
    return static_cast<int>(splits);
}

void launch_rope_append_bf16(const DecodeAttentionArgs& a, cudaStream_t stream) { rope_append<__nv_bfloat16>(a, stream); }
void launch_rope_append_fp16(const DecodeAttentionArgs& a, cudaStream_t stream) { rope_append<__half>(a, stream); }

void launch_decode_attention_bf16(const DecodeAttentionArgs& a, const DecodeAttentionWorkspace& ws, cudaStream_t stream) {
    attend<__nv_bfloat16>(a, ws, stream);
}
void launch_decode_attention_fp16(const DecodeAttentionArgs& a, const DecodeAttentionWorkspace& ws, cudaStream_t stream) {
    attend<__half>(a, ws, stream);
}

GLM4V_KERNEL_TIMELINE_ATTACH(attach_decode_attention_timeline)

} // namespace glm4v::engine::cuda
