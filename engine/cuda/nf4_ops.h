#pragma once
// libtorch entry points of the NF4 CUDA kernels. No CUDA types here, so any .cpp can include it; it exists only in
// builds with GLM4V_HAS_CUDA defined (engine/cuda/CMakeLists.txt).

#include "engine/quant/nf4.h"

#include <torch/types.h>

namespace glm4v::engine::cuda {

// What the GEMV does around the product (see nf4_kernels.h): x is used as is, or RMS-normalized with norm_weight
// (GLM's RMSNorm, model::rms_norm); bias [out] and residual [rows, out] in x's dtype are added to the result; with
// swiglu_output the result is model::swiglu of it, [rows, out / 2] (out % 16 == 0, no residual). `out`, if given
// (the result's shape, contiguous, x's dtype), receives the result and is returned; it may be the residual itself.
struct Nf4GemvOptions {
    enum class Input { Plain, RmsNorm } input = Input::Plain;
    bool swiglu_output = false;
    torch::Tensor norm_weight;
    double eps = 0.0;
    torch::Tensor bias, residual, out;
};

// Whether nf4_gemv takes this weight's geometry (in % 64 == 0, blocksize a power of two >= 64); other weights
// dequantize and take a matmul (quant::Linear).
bool nf4_gemv_supports(const quant::Nf4Weight& w);

// y [rows, out] = x' [rows, in] * W^T (+ bias) (+ residual), rows 1..8, x bf16 or fp16 contiguous on the weight's
// CUDA device, W with fp32 absmax (quant::nf4_with_f32_absmax). On the current stream.
torch::Tensor nf4_gemv(const torch::Tensor& x, const quant::Nf4Weight& w, const Nf4GemvOptions& options = {});

// W as a [out, in] tensor of dtype (bf16 or fp16) on the weight's device; bit-identical to quant::nf4_dequantize.
torch::Tensor nf4_dequantize(const quant::Nf4Weight& w, torch::ScalarType dtype);

// weight [out, in] (fp32, bf16 or fp16, on a CUDA device) quantized there, with fp32 absmax: bit-identical to
// quant::nf4_quantize without double quantization. On the current stream.
quant::Nf4Weight nf4_quantize(const torch::Tensor& weight, std::int64_t blocksize = quant::kNf4DefaultBlocksize);

} // namespace glm4v::engine::cuda
