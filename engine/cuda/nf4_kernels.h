#pragma once
// Launchers of the NF4 kernels (nf4_gemv.cu, nf4_dequant.cu): raw device pointers and a stream, no torch, so
// nvcc never parses libtorch. Callers outside engine/cuda use nf4_ops.h instead.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace glm4v::engine::cuda {

// An NF4 weight on the device with fp32 absmax (see engine/quant/nf4.h for the layout).
struct Nf4DeviceWeight {
    const std::uint8_t* packed = nullptr; // [out * in / 2]
    const float* absmax = nullptr;        // [out * in / blocksize]
    std::int64_t out_features = 0;
    std::int64_t in_features = 0;
    std::int64_t blocksize = 64;
};

// The fused decode GEMV: y[rows, out] = x[rows, in] * W^T (+ bias[out]), rows 1..kNf4GemvMaxRows, each weight byte
// read once, fp32 accumulation. Needs in % 32 == 0, blocksize a power of two >= 32, 16-byte aligned x and packed.
// Fp32 keeps the code values exact in the shared lookup table; Bf16 (the default) rounds them to bf16, half the
// shared-memory traffic; bench/gpu measures both.
constexpr int kNf4GemvMaxRows = 8;
enum class Nf4GemvCodes { Fp32, Bf16 };
void launch_nf4_gemv_bf16(const void* x, int rows, const Nf4DeviceWeight& w, const void* bias, void* y,
                          cudaStream_t stream, Nf4GemvCodes codes = Nf4GemvCodes::Bf16);
void launch_nf4_gemv_fp16(const void* x, int rows, const Nf4DeviceWeight& w, const void* bias, void* y,
                          cudaStream_t stream, Nf4GemvCodes codes = Nf4GemvCodes::Bf16);

// out[out, in] = the dequantized weight, rounded to nearest even: bit-identical to quant::nf4_dequantize.
// Needs out * in % 8 == 0, blocksize a power of two >= 8, 16-byte aligned out.
void launch_nf4_dequant_bf16(const Nf4DeviceWeight& w, void* out, cudaStream_t stream);
void launch_nf4_dequant_fp16(const Nf4DeviceWeight& w, void* out, cudaStream_t stream);

// packed[(n + 1) / 2] and absmax[ceil(n / blocksize)] of x[0, n) in fp32: bit-identical to quant::nf4_quantize.
void launch_nf4_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* packed, float* absmax,
                         cudaStream_t stream);

} // namespace glm4v::engine::cuda
