#include "engine/runtime/decode_graph.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <cstring>

#include "engine/model/fused_decode.h"
#include "engine/model/glm4v.h"
#include "engine/runtime/kv_cache.h"

namespace glm4v::engine::runtime {

DecodeGraph::DecodeGraph(const model::Glm4v& model, KvCache& cache) {
    const c10::cuda::CUDAGuard device_guard(model.device());
    const auto on_device = torch::TensorOptions().device(model.device());
    x_ = torch::zeros({1, model.config().language.hidden_size}, on_device.dtype(model.dtype()));
    position_ = torch::full({1}, 0, on_device.dtype(torch::kInt64));
    // The row the next token goes to: the warm-up and the capture write only there, and the real step overwrites it.
    row_ = torch::full({1}, cache.length(), on_device.dtype(torch::kInt64));
    const auto& lm = model.config().language;
    const bool fused = model::fused_decode_supported(model.language(), lm, model.dtype());
    const auto run = [&] {
        return fused ? model::language_decode_step_fused(model.language(), lm, x_, position_, row_, cache)
                     : model::language_decode_step(model.language(), lm, x_, position_, row_, cache);
    };
    // Warm up on a side stream first (cuBLAS handles, workspaces, lazy kernel loading), as CUDA graphs require.
    torch::cuda::synchronize();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, model.device().index());
    {
        const c10::cuda::CUDAStreamGuard stream_guard(side);
        run();
        // Thread-local capture: the UI thread or another conversation may use CUDA meanwhile.
        graph_.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
        logits_ = run();
        graph_.capture_end();
    }
    torch::cuda::synchronize();
}

torch::Tensor DecodeGraph::step(const torch::Tensor& x, std::int64_t position, KvCache& cache) {
    x_.copy_(x);
    position_.fill_(position);
    row_.fill_(cache.length());
    graph_.replay();
    cache.commit(1);
    return logits_[0];
}

bool decode_graphs_enabled() {
    const char* v = std::getenv("GLM4V_CUDA_GRAPHS");
    return !(v && std::strcmp(v, "0") == 0);
}

} // namespace glm4v::engine::runtime
