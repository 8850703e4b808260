// The fused NF4 GEMV for decode (DESIGN.md section 3): y[m, o] = sum_k x[m, k] * code[q(o, k)] * absmax(o, k).
//
// One warp per output row at a time, a grid of about one wave of resident blocks whose warps loop over rows.
// Each lane streams 16-byte vectors of the row (32 weights, which never straddle an absmax block since
// blocksize >= 32; ld.global.nc.L1::no_allocate, 4 in flight), decodes a byte into its two code values with one
// shared-memory lookup, and accumulates sum(code * x) in fp32 per vector, scaled once by that block's absmax.
// The weight is read exactly once.
//
// x: lane L needs the 64 contiguous bytes of x under its vector, so a warp's x reads stride 64 bytes. From global
// memory (through L1) that costs 4x the wavefronts of a coalesced read; so when the rows of x fit (kSmemX), each
// block first copies x into shared memory with every 64-byte chunk padded to 80 bytes, which makes the warp's
// 16-byte reads conflict-free.
//
// kExactCodes picks the lookup table: fp32 code pairs (8 bytes a lookup, exact code values) or bf16 code pairs
// (4 bytes, code values rounded to bf16, which halves shared-memory traffic). bench/gpu times both.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/nf4_common.cuh"
#include "engine/cuda/nf4_kernels.h"

#include <algorithm>

namespace glm4v::engine::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = kWarpsPerBlock * 32;
constexpr int kUnroll = 4;                      // 16-byte weight loads in flight per lane
constexpr std::int64_t kSmemXLimit = 96 * 1024; // largest x staged in shared memory
constexpr int kChunkStride = 5;                 // uint4 per 64-byte chunk of x in shared memory (4 + 1 pad)

template <bool kExactCodes> struct CodePairs;

template <> struct CodePairs<true> {
    float2 pair[256];
    __device__ void fill(const Nf4CodeArg& code, int i) { pair[i] = make_float2(code.v[i >> 4], code.v[i & 15]); }
    __device__ float2 get(unsigned byte) const { return pair[byte]; }
};

template <> struct CodePairs<false> {
    std::uint32_t pair[256];
    __device__ void fill(const Nf4CodeArg& code, int i) {
        pair[i] = Act<__nv_bfloat16>::pack(code.v[i >> 4], code.v[i & 15]);
    }
    __device__ float2 get(unsigned byte) const { return Act<__nv_bfloat16>::pair(pair[byte]); }
};

// kRows is the capacity (1, 2, 4 or 8) and `rows` <= kRows the rows of x actually there: four instantiations
// instead of eight keep nvcc's time down, and the skipped rows cost one uniform branch.
template <typename T, int kRows, bool kExactCodes, bool kSmemX>
__global__ void __launch_bounds__(kThreads)
    nf4_gemv_kernel(const T* __restrict__ x, int rows, const uint4* __restrict__ packed,
                    const float* __restrict__ absmax, const T* __restrict__ bias, T* __restrict__ y,
                    std::int64_t out_features, std::int64_t in_features, int blocksize_shift, Nf4CodeArg code) {
    extern __shared__ uint4 x_shared[]; // kSmemX: [rows * vecs] chunks of kChunkStride uint4
    __shared__ CodePairs<kExactCodes> lut;
    for (int i = threadIdx.x; i < 256; i += blockDim.x) lut.fill(code, i);
    const std::int64_t vecs = in_features / 32; // 16-byte weight vectors (and 64-byte x chunks) in a row
    if constexpr (kSmemX) {
        const uint4* xg = reinterpret_cast<const uint4*>(x);
        for (std::int64_t i = threadIdx.x; i < rows * vecs * 4; i += blockDim.x)
            x_shared[(i >> 2) * kChunkStride + (i & 3)] = __ldg(xg + i);
    }
    __syncthreads();

    const int lane = threadIdx.x & 31;
    const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
    for (std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
         row < out_features; row += warps) {
        const uint4* wrow = packed + row * vecs;
        const std::int64_t row_start = row * in_features; // flat index of the row's first weight

        float acc[kRows];
#pragma unroll
        for (int m = 0; m < kRows; ++m) acc[m] = 0.0f;

        for (std::int64_t base = lane; base < vecs; base += 32 * kUnroll) {
            uint4 q[kUnroll];
            float scale[kUnroll];
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
                const std::int64_t v = base + u * 32;
                if (v < vecs) {
                    q[u] = load_stream(wrow + v);
                    scale[u] = __ldg(absmax + ((row_start + v * 32) >> blocksize_shift));
                } else {
                    q[u] = make_uint4(0, 0, 0, 0);
                    scale[u] = 0.0f;
                }
            }
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
                const std::int64_t v = base + u * 32;
                if (v >= vecs) break;
                float w[32];
                const std::uint32_t words[4] = {q[u].x, q[u].y, q[u].z, q[u].w};
#pragma unroll
                for (int j = 0; j < 16; ++j) {
                    const float2 p = lut.get((words[j >> 2] >> (8 * (j & 3))) & 0xFFu); // high nibble first
                    w[2 * j] = p.x;
                    w[2 * j + 1] = p.y;
                }
#pragma unroll
                for (int m = 0; m < kRows; ++m) {
                    if (m >= rows) break;
                    float s = 0.0f;
#pragma unroll
                    for (int t = 0; t < 4; ++t) {
                        uint4 xx;
                        if constexpr (kSmemX)
                            xx = x_shared[(m * vecs + v) * kChunkStride + t];
                        else
                            xx = __ldg(reinterpret_cast<const uint4*>(x + m * in_features + v * 32) + t);
                        const std::uint32_t xw[4] = {xx.x, xx.y, xx.z, xx.w};
#pragma unroll
                        for (int k = 0; k < 4; ++k) {
                            const float2 xf = Act<T>::pair(xw[k]);
                            s = fmaf(w[8 * t + 2 * k], xf.x, s);
                            s = fmaf(w[8 * t + 2 * k + 1], xf.y, s);
                        }
                    }
                    acc[m] = fmaf(scale[u], s, acc[m]);
                }
            }
        }

#pragma unroll
        for (int m = 0; m < kRows; ++m) {
#pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) acc[m] += __shfl_xor_sync(0xFFFFFFFFu, acc[m], offset);
        }
        if (lane < rows) {
            float r = 0.0f;
#pragma unroll
            for (int m = 0; m < kRows; ++m)
                if (m == lane) r = acc[m];
            if (bias) r += Act<T>::to_float(bias[row]);
            y[lane * out_features + row] = Act<T>::from_float(r);
        }
    }
}

template <typename T, int kRows, bool kExactCodes, bool kSmemX>
void launch_kernel(const T* x, int rows, const Nf4DeviceWeight& w, const T* bias, T* y, cudaStream_t stream) {
    const auto kernel = nf4_gemv_kernel<T, kRows, kExactCodes, kSmemX>;
    const std::size_t smem = kSmemX ? static_cast<std::size_t>(rows * (w.in_features / 32) * kChunkStride * 16) : 0;
    if (smem > 48 * 1024)
        GLM4V_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              static_cast<int>(smem)));
    int device = 0, sms = 0, per_sm = 0;
    GLM4V_CUDA_CHECK(cudaGetDevice(&device));
    GLM4V_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    GLM4V_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem));
    // One wave of resident blocks; their warps loop over the rows.
    const std::int64_t wanted = (w.out_features + kWarpsPerBlock - 1) / kWarpsPerBlock;
    const auto blocks =
        static_cast<unsigned>(std::min<std::int64_t>(wanted, std::int64_t{sms} * std::max(per_sm, 1)));
    kernel<<<blocks, kThreads, smem, stream>>>(x, rows, reinterpret_cast<const uint4*>(w.packed), w.absmax, bias, y,
                                               w.out_features, w.in_features, log2_exact(w.blocksize), nf4_code_arg());
    GLM4V_CUDA_CHECK_LAUNCH();
}

template <typename T, int kRows, bool kExactCodes>
void launch_staged(const T* x, int rows, const Nf4DeviceWeight& w, const T* bias, T* y, cudaStream_t stream) {
    if (rows * (w.in_features / 32) * kChunkStride * 16 <= kSmemXLimit)
        launch_kernel<T, kRows, kExactCodes, true>(x, rows, w, bias, y, stream);
    else
        launch_kernel<T, kRows, kExactCodes, false>(x, rows, w, bias, y, stream);
}

template <typename T, bool kExactCodes>
void launch_rows(const void* x, int rows, const Nf4DeviceWeight& w, const void* bias, void* y, cudaStream_t stream) {
    const auto* xt = static_cast<const T*>(x);
    const auto* bt = static_cast<const T*>(bias);
    auto* yt = static_cast<T*>(y);
    GLM4V_CHECK(rows >= 1 && rows <= kNf4GemvMaxRows, ErrorKind::InvalidInput)
        << "nf4_gemv takes 1.." << kNf4GemvMaxRows << " rows, got " << rows;
    if (rows == 1)
        launch_staged<T, 1, kExactCodes>(xt, rows, w, bt, yt, stream);
    else if (rows == 2)
        launch_staged<T, 2, kExactCodes>(xt, rows, w, bt, yt, stream);
    else if (rows <= 4)
        launch_staged<T, 4, kExactCodes>(xt, rows, w, bt, yt, stream);
    else
        launch_staged<T, 8, kExactCodes>(xt, rows, w, bt, yt, stream);
}

void check_geometry(int rows, const Nf4DeviceWeight& w) {
    GLM4V_CHECK(rows >= 1 && rows <= kNf4GemvMaxRows, ErrorKind::InvalidInput)
        << "nf4_gemv takes 1.." << kNf4GemvMaxRows << " rows, got " << rows;
    GLM4V_CHECK(w.in_features % 32 == 0 && w.blocksize >= 32 && (w.blocksize & (w.blocksize - 1)) == 0,
                ErrorKind::Unsupported)
        << "nf4_gemv needs in_features % 32 == 0 and a power-of-two blocksize >= 32, got in_features "
        << w.in_features << ", blocksize " << w.blocksize;
    GLM4V_CHECK(w.out_features > 0 && w.out_features / kWarpsPerBlock < 0x7FFFFFFF, ErrorKind::Unsupported)
        << "nf4_gemv: out_features " << w.out_features << " out of range";
}

} // namespace

void launch_nf4_gemv_bf16(const void* x, int rows, const Nf4DeviceWeight& w, const void* bias, void* y,
                          cudaStream_t stream, Nf4GemvCodes codes) {
    check_geometry(rows, w);
    if (codes == Nf4GemvCodes::Fp32)
        launch_rows<__nv_bfloat16, true>(x, rows, w, bias, y, stream);
    else
        launch_rows<__nv_bfloat16, false>(x, rows, w, bias, y, stream);
}

void launch_nf4_gemv_fp16(const void* x, int rows, const Nf4DeviceWeight& w, const void* bias, void* y,
                          cudaStream_t stream, Nf4GemvCodes codes) {
    check_geometry(rows, w);
    if (codes == Nf4GemvCodes::Fp32)
        launch_rows<__half, true>(x, rows, w, bias, y, stream);
    else
        launch_rows<__half, false>(x, rows, w, bias, y, stream);
}

} // namespace glm4v::engine::cuda
