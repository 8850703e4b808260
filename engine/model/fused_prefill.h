#pragma once
// language_forward through the fused CUDA kernels (engine/cuda), for any number of new rows: about 20 libtorch
// dispatches a layer where the op-by-op forward pass makes about 90. RMSNorm and SwiGLU are one kernel each, rotary
// embedding and the KV-cache append one kernel for q, k and v, the residual adds in place. A follow-up question's
// prefill is a few dozen rows, so its time was the CPU's dispatching: this is what makes its first token fast. Same
// inputs, outputs and rounding points as language_forward. CUDA builds only; the model must pass
// fused_decode_supported.

#include <torch/types.h>

#include "engine/io/config.h"
#include "engine/model/language_model.h"

namespace glm4v::engine::runtime {
class KvCache;
}

namespace glm4v::engine::model {

torch::Tensor language_forward_fused(const LanguageWeights& w, const io::LanguageConfig& config, const torch::Tensor& x,
                                     const torch::Tensor& positions, runtime::KvCache& cache);

} // namespace glm4v::engine::model
