#pragma once
// Quantizing a checkpoint's weight where it will live: on a CUDA device by our kernel, fed in row chunks so a
// first load never needs much more GPU memory than the quantized model; on the CPU by the reference.

#include "engine/quant/nf4.h"

#include <torch/types.h>

namespace glm4v::engine::quant {

// weight [out, in] in fp32, bf16 or fp16, any device; the result (fp32 absmax) is on `device` and bit-identical
// to nf4_quantize(weight).
Nf4Weight nf4_quantize_on(const torch::Tensor& weight, const torch::Device& device);

} // namespace glm4v::engine::quant
