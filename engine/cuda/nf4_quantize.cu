// fp32 -> NF4 on the GPU, for quantizing a checkpoint as it loads (DESIGN.md section 3). Bit-identical to
// quant::nf4_quantize, which follows bitsandbytes' CPU rounding: one warp per quantization block, each lane
// owning whole bytes (element pairs), so no two lanes write the same byte.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/nf4_common.cuh"
#include "engine/cuda/nf4_kernels.h"

#include <algorithm>

namespace glm4v::engine::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;

struct Nf4Midpoints {
    float v[15];
};

__device__ __forceinline__ unsigned code_of(float scaled, const float* mid) {
    // The number of midpoints strictly below the value, as torch.bucketize(right=False) counts.
    unsigned q = 0;
#pragma unroll
    for (int i = 0; i < 15; ++i) q += mid[i] < scaled ? 1u : 0u;
    return q;
}

__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    nf4_quantize_kernel(const float* __restrict__ x, std::int64_t n, int blocksize, std::uint8_t* __restrict__ packed,
                        float* __restrict__ absmax, std::int64_t quant_blocks, Nf4Midpoints mids) {
    __shared__ float mid[15];
    if (threadIdx.x < 15) mid[threadIdx.x] = mids.v[threadIdx.x];
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
    for (std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32; b < quant_blocks;
         b += warps) {
        const std::int64_t start = b * blocksize;
        const int len = static_cast<int>(n - start < blocksize ? n - start : std::int64_t{blocksize});
        float amax = 0.0f;
        for (int i = lane; i < len; i += 32) amax = fmaxf(amax, fabsf(x[start + i]));
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, off));
        const bool whole = len == blocksize;
        const float safe = fmaxf(amax, 1e-38f);
        const float inv = __fdiv_rn(1.0f, safe); // IEEE-rounded, as the CPU computes it, whatever the flags
        if (lane == 0) absmax[b] = whole ? amax : safe;
        for (int i = 2 * lane; i < len; i += 64) {
            const float v0 = x[start + i];
            const float s0 = whole ? __fmul_rn(v0, inv) : __fdiv_rn(v0, safe);
            unsigned byte = code_of(fminf(1.0f, fmaxf(-1.0f, s0)), mid) << 4;
            if (i + 1 < len) {
                const float v1 = x[start + i + 1];
                const float s1 = whole ? __fmul_rn(v1, inv) : __fdiv_rn(v1, safe);
                byte |= code_of(fminf(1.0f, fmaxf(-1.0f, s1)), mid);
            } else {
                byte |= 7u; // an odd element count pads with code 7 (0.0)
            }
            packed[(start + i) >> 1] = static_cast<std::uint8_t>(byte);
        }
    }
}

} // namespace

void launch_nf4_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* packed, float* absmax,
                         cudaStream_t stream) {
    GLM4V_CHECK(n > 0 && blocksize >= 2 && blocksize % 2 == 0 && (blocksize & (blocksize - 1)) == 0,
                ErrorKind::InvalidInput)
        << "nf4_quantize needs elements and a power-of-two blocksize, got n = " << n << ", blocksize " << blocksize;
    Nf4Midpoints mids{};
    for (int i = 0; i < 15; ++i) mids.v[i] = (quant::kNf4Code[i] + quant::kNf4Code[i + 1]) / 2.0f;
    const std::int64_t quant_blocks = (n + blocksize - 1) / blocksize;
    const int sms = current_device_attribute(cudaDevAttrMultiProcessorCount);
    const std::int64_t wanted = (quant_blocks + kWarpsPerBlock - 1) / kWarpsPerBlock;
    const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(wanted, std::int64_t{sms} * 16));
    nf4_quantize_kernel<<<blocks, kWarpsPerBlock * 32, 0, stream>>>(x, n, static_cast<int>(blocksize), packed, absmax,
                                                                    quant_blocks, mids);
    GLM4V_CUDA_CHECK_LAUNCH();
}

} // namespace glm4v::engine::cuda
