#pragma once
// A decode step as a CUDA graph: model::language_decode_step_fused (or, for a model its kernels do not take,
// model::language_decode_step) captured once per conversation, then replayed for every token. Eagerly a token costs
// about a thousand small kernel launches, whose CPU time, not the GPU's, set the decode rate on a fast card
// (docs/performance.md); a replay is one launch. The host's turn between two tokens is kept short too: the token goes
// in and the next one comes out through pinned host memory that the graphs copy from and to, and the sampler's choice
// is a second graph behind the step (pick), so the host waits for the device once a token and launches two graphs.
// Exists in CUDA builds only.

#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <torch/types.h>

#include <memory>
#include <vector>

namespace glm4v::engine::model {
class Glm4v;
}

namespace glm4v::engine::runtime {

class KvCache;
class Sampler;
class PickGraph;

class DecodeGraph {
public:
    // Captures against `cache`'s storage, which must outlive this object and never be reallocated (a KvCache moved
    // to another object keeps its storage).
    DecodeGraph(const model::Glm4v& model, KvCache& cache);
    ~DecodeGraph();

    // The logits [vocab] (fp32) after feeding token `id` at rope position `position` into row cache.length() of the
    // cache it was captured against; the row is committed. The result is overwritten by the next step.
    torch::Tensor step(std::int64_t id, std::int64_t position, KvCache& cache);

    // The next token from the last step's logits, chosen as sampler.sample(logits, {}) would choose it (the same
    // draw from its generator), on the device; the wait for its id is the token's one wait for the device. Only where
    // sampler.picks_without_host(). The choice's graph is captured at the first pick with the sampler's options
    // (temperature, top-p, top-k), and kept for the next picks with them.
    std::int64_t pick(Sampler& sampler);

private:
    torch::Tensor table_;            // the token embeddings [vocab, hidden], on the host or on the device
    torch::Tensor staged_ids_, ids_; // (token, position, row): pinned host memory, and its copy on the device
    torch::Tensor staged_x_;         // the token's embedding, pinned, where the table is on the host
    torch::Tensor logits_;           // the graph's output
    at::cuda::CUDAEvent replayed_;   // after the last replay: its copies out of the staging memory are done
    at::cuda::CUDAGraph graph_;
    std::vector<std::unique_ptr<PickGraph>> picks_; // one per set of options, the oldest first
};

// Whether conversations on a CUDA device decode through DecodeGraph: yes unless GLM4V_CUDA_GRAPHS=0, which the
// benchmark uses to measure both ways in one run.
bool decode_graphs_enabled();

} // namespace glm4v::engine::runtime
