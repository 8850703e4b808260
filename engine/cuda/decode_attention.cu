// The per-token attention of a decode step (DESIGN.md section 3): rotary embedding fused with the KV-cache append,
// and split-K ("flash-decoding") attention of one query row over the used rows of the cache.
//
// Attention: a block takes one key/value group and one slice of the used rows, and serves all 16 query heads of the
// group from each key and value it loads (GQA without copies). It first copies the slice's keys and values into shared
// memory with all loads in flight at once, since one latency per row made this kernel 30 us. A warp scores one key row against the 16 heads with
// 4 dims a lane, then sums the 16 partial dots across the warp in 16 shuffles by halving (each exchange hands half
// of the heads to the partner lane), so lane 2h ends with head h's score. Scores and the slice's softmax stay in
// shared memory; the slice's unnormalized output, maximum and sum go to a workspace that a second kernel combines.
// The number of rows comes from the device (row + 1), so one CUDA graph serves every length.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/decode_kernels.h"
#include "engine/cuda/nf4_common.cuh"

#include <cmath>

namespace glm4v::engine::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxSplits = 256;

// One thread per (head or group, dim pair). The reference rounds each product and each sum to the activation type.
template <typename T>
__global__ void rope_append_kernel(const T* __restrict__ qkv, int heads, int groups, int head_dim, int rotary_pairs,
                                   const T* __restrict__ table, const std::int64_t* __restrict__ row,
                                   T* __restrict__ keys, T* __restrict__ values, std::int64_t capacity,
                                   T* __restrict__ q_out) {
    allow_next_kernel();
    grid_dependency_wait();
    const int pairs = head_dim / 2;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (heads + 2 * groups) * pairs) return;
    const int vec = i / pairs, p = i % pairs; // vec: q heads, then k groups, then v groups
    const std::uint32_t in = reinterpret_cast<const std::uint32_t*>(qkv)[i];
    std::uint32_t out = in;
    if (vec < heads + groups && p < rotary_pairs) {
        const float2 x = Act<T>::pair(in);
        const float2 cs = Act<T>::pair(reinterpret_cast<const std::uint32_t*>(table)[p]);
        const auto r = [](float v) { return Act<T>::to_float(Act<T>::from_float(v)); };
        out = Act<T>::pack(r(x.x * cs.x) - r(x.y * cs.y), r(x.y * cs.x) + r(x.x * cs.y));
    }
    if (vec < heads) {
        reinterpret_cast<std::uint32_t*>(q_out)[i] = out;
        return;
    }
    const bool is_key = vec < heads + groups;
    const int g = is_key ? vec - heads : vec - heads - groups;
    T* cache = is_key ? keys : values;
    reinterpret_cast<std::uint32_t*>(cache + (g * capacity + *row) * head_dim)[p] = out;
}

// One halving step: lanes with `kBit` set keep the upper kWidth of their values and take their partner's.
template <int kWidth, int kBit> __device__ __forceinline__ void halve(float (&v)[16], int lane) {
    const bool upper = lane & kBit;
#pragma unroll
    for (int i = 0; i < kWidth; ++i) {
        const float send = upper ? v[i] : v[i + kWidth];
        const float keep = upper ? v[i + kWidth] : v[i];
        v[i] = keep + __shfl_xor_sync(0xFFFFFFFFu, send, kBit);
    }
}

// Sums v[0..15] of every lane across the warp; lanes 2h and 2h + 1 return head h's total.
__device__ __forceinline__ float sum_16_heads(float (&v)[16], int lane) {
    halve<8, 16>(v, lane);
    halve<4, 8>(v, lane);
    halve<2, 4>(v, lane);
    halve<1, 2>(v, lane);
    return v[0] + __shfl_xor_sync(0xFFFFFFFFu, v[0], 1);
}

template <typename T, int kDim>
__global__ void __launch_bounds__(kThreads)
    attention_split_kernel(const T* __restrict__ q, const T* __restrict__ keys, const T* __restrict__ values,
                           const std::int64_t* __restrict__ row, std::int64_t capacity, int splits, int max_chunk,
                           float scale, float* __restrict__ part_out, float* __restrict__ part_max,
                           float* __restrict__ part_sum) {
    allow_next_kernel();
    grid_dependency_wait();
    constexpr int kHeads = kDecodeHeadsPerGroup;
    constexpr int kPerLane = kDim / 32;
    constexpr int kVecsPerRow = kDim * static_cast<int>(sizeof(T)) / 16;
    // [kHeads][max_chunk] scores, then the slice's keys and values [max_chunk][kDim] each.
    extern __shared__ __align__(16) float scores[];
    T* k_rows = reinterpret_cast<T*>(scores + kHeads * max_chunk);
    T* v_rows = k_rows + max_chunk * kDim;
    const int group = blockIdx.x, split = blockIdx.y;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const std::int64_t length = *row + 1;
    const std::int64_t chunk = (length + splits - 1) / splits;
    const std::int64_t begin = split * chunk;
    const std::int64_t left = length - begin;
    const int n = static_cast<int>(left <= 0 ? 0 : left < chunk ? left : chunk);

    // Every load of the block at once: the slice's keys and values into shared memory, the query into registers.
    // The block then waits on memory once, not once per row.
    const uint4* k_src = reinterpret_cast<const uint4*>(keys + (group * capacity + begin) * kDim);
    const uint4* v_src = reinterpret_cast<const uint4*>(values + (group * capacity + begin) * kDim);
    for (int i = threadIdx.x; i < n * kVecsPerRow; i += kThreads) {
        reinterpret_cast<uint4*>(k_rows)[i] = __ldg(k_src + i);
        reinterpret_cast<uint4*>(v_rows)[i] = __ldg(v_src + i);
    }
    float qr[kHeads][kPerLane];
#pragma unroll
    for (int h = 0; h < kHeads; ++h)
#pragma unroll
        for (int j = 0; j < kPerLane; ++j)
            qr[h][j] = Act<T>::to_float(q[(group * kHeads + h) * kDim + lane * kPerLane + j]) * scale;
    __syncthreads();

    for (int t = warp; t < n; t += kWarps) {
        float dot[kHeads];
        float kf[kPerLane];
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) kf[j] = Act<T>::to_float(k_rows[t * kDim + lane * kPerLane + j]);
#pragma unroll
        for (int h = 0; h < kHeads; ++h) {
            dot[h] = 0.0f;
#pragma unroll
            for (int j = 0; j < kPerLane; ++j) dot[h] = fmaf(qr[h][j], kf[j], dot[h]);
        }
        const float s = sum_16_heads(dot, lane);
        if ((lane & 1) == 0) scores[(lane >> 1) * max_chunk + t] = s;
    }
    __syncthreads();

    // Softmax statistics of the slice: warp w takes heads 2w and 2w + 1.
    for (int h = warp * 2; h < warp * 2 + 2; ++h) {
        float* s = scores + h * max_chunk;
        float m = -INFINITY;
        for (int t = lane; t < n; t += 32) m = fmaxf(m, s[t]);
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) m = fmaxf(m, __shfl_xor_sync(0xFFFFFFFFu, m, offset));
        float sum = 0.0f;
        for (int t = lane; t < n; t += 32) {
            const float p = expf(s[t] - m);
            s[t] = p;
            sum += p;
        }
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
        if (lane == 0) {
            const int at = (group * kHeads + h) * splits + split;
            part_max[at] = m;
            part_sum[at] = sum;
        }
    }
    __syncthreads();

    // Unnormalized output: warp w accumulates heads 2w and 2w + 1, kPerLane dims a lane.
    float o[2][kPerLane] = {};
    for (int t = 0; t < n; ++t) {
        const float p0 = scores[(warp * 2) * max_chunk + t], p1 = scores[(warp * 2 + 1) * max_chunk + t];
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) {
            const float vf = Act<T>::to_float(v_rows[t * kDim + lane * kPerLane + j]);
            o[0][j] = fmaf(p0, vf, o[0][j]);
            o[1][j] = fmaf(p1, vf, o[1][j]);
        }
    }
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        float* dst = part_out + (static_cast<std::int64_t>((group * kHeads + warp * 2 + hh) * splits + split)) * kDim;
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) dst[lane * kPerLane + j] = o[hh][j];
    }
}

// out[h, d] = sum over slices of out_s * exp(max_s - M) / sum over slices of sum_s * exp(max_s - M). The slice
// weights are computed once per head into shared memory, so the sum over slices is independent loads, not a chain.
template <typename T>
__global__ void attention_combine_kernel(const float* __restrict__ part_out, const float* __restrict__ part_max,
                                         const float* __restrict__ part_sum, int splits, int head_dim,
                                         T* __restrict__ out) {
    allow_next_kernel();
    grid_dependency_wait();
    __shared__ float weight[kMaxSplits];
    __shared__ float warp_top[kThreads / 32], warp_total[kThreads / 32];
    const int h = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const float* m = part_max + h * splits;
    const float* l = part_sum + h * splits;
    float top = -INFINITY;
    for (int s = threadIdx.x; s < splits; s += blockDim.x) top = fmaxf(top, m[s]);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) top = fmaxf(top, __shfl_xor_sync(0xFFFFFFFFu, top, offset));
    if (lane == 0) warp_top[warp] = top;
    __syncthreads();
    for (int w = 0; w < warps; ++w) top = fmaxf(top, warp_top[w]);
    float total = 0.0f;
    for (int s = threadIdx.x; s < splits; s += blockDim.x) {
        const float w = l[s] == 0.0f ? 0.0f : expf(m[s] - top); // an empty slice has max -inf and no output
        weight[s] = w;
        total = fmaf(l[s], w, total);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_xor_sync(0xFFFFFFFFu, total, offset);
    if (lane == 0) warp_total[warp] = total;
    __syncthreads();
    total = 0.0f;
    for (int w = 0; w < warps; ++w) total += warp_total[w];
    // Warp w sums slices w, w + 8, ... over 4 dims a lane (one 512-byte row per load, all of a warp's loads
    // independent), then the 8 warp sums are added in order: one round trip to L2 instead of one per 8 slices.
    static_assert(kDecodeHeadDim == 4 * 32, "a lane takes 4 dims of the head");
    __shared__ float4 warp_out[kThreads / 32][32];
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4* o = reinterpret_cast<const float4*>(part_out + static_cast<std::int64_t>(h) * splits * head_dim);
    for (int s = warp; s < splits; s += warps) {
        const float4 v = __ldg(o + static_cast<std::int64_t>(s) * (head_dim / 4) + lane);
        acc.x = fmaf(v.x, weight[s], acc.x);
        acc.y = fmaf(v.y, weight[s], acc.y);
        acc.z = fmaf(v.z, weight[s], acc.z);
        acc.w = fmaf(v.w, weight[s], acc.w);
    }
    warp_out[warp][lane] = acc;
    __syncthreads();
    if (threadIdx.x < head_dim) {
        const float* sums = reinterpret_cast<const float*>(warp_out);
        float v = 0.0f;
        for (int w = 0; w < warps; ++w) v += sums[w * head_dim + threadIdx.x];
        out[h * head_dim + threadIdx.x] = Act<T>::from_float(v / total);
    }
}

template <typename T> void rope_append(const DecodeAttentionArgs& a, cudaStream_t stream) {
    const int threads = (a.heads + 2 * a.groups) * a.head_dim / 2;
    launch_after_previous(rope_append_kernel<T>, dim3((threads + 255) / 256), dim3(256), 0, stream,
                          static_cast<const T*>(a.qkv), a.heads, a.groups, a.head_dim, a.rotary_dims / 2,
                          static_cast<const T*>(a.rope_table), a.row, static_cast<T*>(a.keys),
                          static_cast<T*>(a.values), a.capacity, static_cast<T*>(a.q));
}

template <typename T> void attend(const DecodeAttentionArgs& a, const DecodeAttentionWorkspace& ws, cudaStream_t stream) {
    const int max_chunk = static_cast<int>((a.capacity + ws.splits - 1) / ws.splits);
    const std::size_t smem = static_cast<std::size_t>(max_chunk) *
                             (kDecodeHeadsPerGroup * sizeof(float) + 2 * kDecodeHeadDim * sizeof(T));
    const auto kernel = attention_split_kernel<T, kDecodeHeadDim>;
    if (smem > 48 * 1024)
        GLM4V_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    launch_after_previous(kernel, dim3(a.groups, ws.splits), dim3(kThreads), smem, stream, static_cast<const T*>(a.q),
                          static_cast<const T*>(a.keys), static_cast<const T*>(a.values), a.row, a.capacity, ws.splits,
                          max_chunk, 1.0f / std::sqrt(static_cast<float>(a.head_dim)), ws.out, ws.max, ws.sum);
    launch_after_previous(attention_combine_kernel<T>, dim3(a.heads), dim3(kThreads), 0, stream,
                          static_cast<const float*>(ws.out), static_cast<const float*>(ws.max),
                          static_cast<const float*>(ws.sum), ws.splits, a.head_dim, static_cast<T*>(a.attention_out));
}

} // namespace

int decode_attention_splits(std::int64_t capacity) {
    // Enough slices to fill the card at a thousand rows (2 groups x 64 blocks), and at most kMaxChunk rows a slice
    // (its keys and values fit shared memory: 128 KB).
    constexpr std::int64_t kMaxChunk = 256;
    const std::int64_t splits = std::max<std::int64_t>(64, (capacity + kMaxChunk - 1) / kMaxChunk);
    GLM4V_CHECK(splits <= kMaxSplits, ErrorKind::Unsupported)
        << "decode attention: a cache of " << capacity << " rows is more than " << kMaxSplits * kMaxChunk;
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

} // namespace glm4v::engine::cuda
