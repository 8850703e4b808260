#pragma once
// language_decode_step through the fused CUDA kernels (engine/cuda): seven kernels a layer where the op-by-op step
// runs about forty. RMSNorm runs inside the GEMV that reads its output, SwiGLU in the up projection's epilogue, the
// residual adds in the epilogues of the GEMVs that produce them; rotary embedding and the KV-cache append are one
// kernel; attention is a split kernel over the used rows only and a combine. Same inputs, outputs and rounding points
// as language_decode_step. CUDA builds only.

#include <torch/types.h>

#include "engine/io/config.h"
#include "engine/model/language_model.h"

namespace glm4v::engine::runtime {
class KvCache;
}

namespace glm4v::engine::model {

// Whether the kernels take this model: NF4 linears on a CUDA device in shapes the GEMV takes, bf16 or fp16, GLM's
// RMSNorm pre-norm blocks, and an attention geometry of 16 heads per group of 128 dims (GLM-4V-9B's).
bool fused_decode_supported(const LanguageWeights& w, const io::LanguageConfig& config, torch::ScalarType dtype);

torch::Tensor language_decode_step_fused(const LanguageWeights& w, const io::LanguageConfig& config,
                                         const torch::Tensor& x, const torch::Tensor& position,
                                         const torch::Tensor& row, runtime::KvCache& cache);

} // namespace glm4v::engine::model
