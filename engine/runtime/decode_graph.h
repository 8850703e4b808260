#pragma once
// A decode step as a CUDA graph: model::language_decode_step_fused (or, for a model its kernels do not take,
// model::language_decode_step) captured once per conversation, then replayed for every token. Eagerly a token costs about a thousand small kernel launches, whose CPU time, not the GPU's, set
// the decode rate on a fast card (docs/performance.md); a replay is one launch. Exists in CUDA builds only.

#include <ATen/cuda/CUDAGraph.h>
#include <torch/types.h>

namespace glm4v::engine::model {
class Glm4v;
}

namespace glm4v::engine::runtime {

class KvCache;

class DecodeGraph {
public:
    // Captures against `cache`'s storage, which must outlive this object and never be reallocated (a KvCache moved
    // to another object keeps its storage).
    DecodeGraph(const model::Glm4v& model, KvCache& cache);

    // The logits [vocab] (fp32) after feeding x [1, hidden] at rope position `position` into row cache.length() of
    // the cache it was captured against; the row is committed. The result is overwritten by the next step.
    torch::Tensor step(const torch::Tensor& x, std::int64_t position, KvCache& cache);

private:
    torch::Tensor x_, position_, row_, logits_; // the graph's fixed inputs and output
    at::cuda::CUDAGraph graph_;
};

// Whether conversations on a CUDA device decode through DecodeGraph: yes unless GLM4V_CUDA_GRAPHS=0, which the
// benchmark uses to measure both ways in one run.
bool decode_graphs_enabled();

} // namespace glm4v::engine::runtime
