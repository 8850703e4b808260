// NF4 -> bf16/fp16 dequantization for prefill and vision matmuls (DESIGN.md section 3): each thread turns 4
// packed bytes into 8 outputs, so a warp reads 128 contiguous bytes and writes 512. Products are the exact fp32
// code * absmax rounded to nearest even, bit-identical to quant::nf4_dequantize.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/nf4_common.cuh"
#include "engine/cuda/nf4_kernels.h"

#include <algorithm>

namespace glm4v::engine::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    nf4_dequant_kernel(const std::uint32_t* __restrict__ packed, const float* __restrict__ absmax,
                       uint4* __restrict__ out, std::int64_t groups, int blocksize_shift, Nf4CodeArg code) {
    __shared__ float lut[16];
    if (threadIdx.x < 16) lut[threadIdx.x] = code.v[threadIdx.x];
    __syncthreads();
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
        const std::uint32_t q = __ldcs(packed + g);
        const float scale = __ldg(absmax + ((g * 8) >> blocksize_shift));
        std::uint32_t o[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const unsigned byte = (q >> (8 * j)) & 0xFFu;
            o[j] = Act<T>::pack(lut[byte >> 4] * scale, lut[byte & 15] * scale);
        }
        __stcs(out + g, make_uint4(o[0], o[1], o[2], o[3]));
    }
}

void check_geometry(const Nf4DeviceWeight& w) {
    const std::int64_t n = w.out_features * w.in_features;
    GLM4V_CHECK(n > 0 && n % 8 == 0 && w.blocksize >= 8 && (w.blocksize & (w.blocksize - 1)) == 0,
                ErrorKind::Unsupported)
        << "nf4_dequantize needs out * in % 8 == 0 and a power-of-two blocksize >= 8, got [" << w.out_features << ", "
        << w.in_features << "], blocksize " << w.blocksize;
}

template <typename T> void launch(const Nf4DeviceWeight& w, void* out, cudaStream_t stream) {
    check_geometry(w);
    const std::int64_t groups = w.out_features * w.in_features / 8;
    const int sms = current_device_attribute(cudaDevAttrMultiProcessorCount);
    // Enough blocks to fill the chip several times over; the grid-stride loop covers the rest.
    const std::int64_t wanted = (groups + kThreads - 1) / kThreads;
    const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(wanted, std::int64_t{sms} * 32));
    nf4_dequant_kernel<T><<<blocks, kThreads, 0, stream>>>(reinterpret_cast<const std::uint32_t*>(w.packed), w.absmax,
                                                           static_cast<uint4*>(out), groups, log2_exact(w.blocksize),
                                                           nf4_code_arg());
    GLM4V_CUDA_CHECK_LAUNCH();
}

} // namespace

void launch_nf4_dequant_bf16(const Nf4DeviceWeight& w, void* out, cudaStream_t stream) {
    launch<__nv_bfloat16>(w, out, stream);
}

void launch_nf4_dequant_fp16(const Nf4DeviceWeight& w, void* out, cudaStream_t stream) {
    launch<__half>(w, out, stream);
}

} // namespace glm4v::engine::cuda
