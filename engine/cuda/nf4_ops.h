#pragma once
// libtorch entry points of the NF4 CUDA kernels. No CUDA types here, so any .cpp can include it; it exists only in
// builds with GLM4V_HAS_CUDA defined (engine/cuda/CMakeLists.txt).

#include "engine/quant/nf4.h"

#include <torch/types.h>

namespace glm4v::engine::cuda {

// Which lookup table the GEMV decodes with (see nf4_kernels.h): exact fp32 code values, or code values rounded to
// bf16. Bf16Codes is the default: 1.3-1.5x faster on the H100 (docs/performance.md), and its rounding (at most 2^-9
// of a weight) is the one the prefill path applies anyway when it dequantizes to bf16.
enum class Nf4GemvVariant { ExactCodes, Bf16Codes };

// y [rows, out] = x [rows, in] * W^T (+ bias), rows 1..8, x bf16 or fp16 contiguous on the weight's CUDA device,
// W with fp32 absmax (quant::nf4_with_f32_absmax), bias [out] in x's dtype or undefined. On the current stream.
torch::Tensor nf4_gemv(const torch::Tensor& x, const quant::Nf4Weight& w, const torch::Tensor& bias = {},
                       Nf4GemvVariant variant = Nf4GemvVariant::Bf16Codes);

// W as a [out, in] tensor of dtype (bf16 or fp16) on the weight's device; bit-identical to quant::nf4_dequantize.
torch::Tensor nf4_dequantize(const quant::Nf4Weight& w, torch::ScalarType dtype);

// weight [out, in] (fp32, bf16 or fp16, on a CUDA device) quantized there, with fp32 absmax: bit-identical to
// quant::nf4_quantize without double quantization. On the current stream.
quant::Nf4Weight nf4_quantize(const torch::Tensor& weight, std::int64_t blocksize = quant::kNf4DefaultBlocksize);

} // namespace glm4v::engine::cuda
