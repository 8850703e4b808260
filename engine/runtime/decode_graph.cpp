#include "engine/runtime/decode_graph.h"

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"
#include "engine/model/fused_decode.h"
#include "engine/model/glm4v.h"
#include "engine/runtime/chat.h"
#include "engine/runtime/kv_cache.h"
#include "engine/runtime/sampler.h"

namespace glm4v::engine::runtime {
namespace {

torch::Tensor pinned(torch::IntArrayRef sizes, torch::ScalarType dtype) {
    return torch::zeros(sizes, torch::TensorOptions().dtype(dtype).pinned_memory(true));
}

// A copy of from's bytes between pinned host memory and the device, on the current stream. Not Tensor::copy_, which
// also records an event for the pinned block in the caching host allocator, a call that does not belong in a graph.
// Failures throw c10::Error, as ATen's do, so that Chat falls back to decoding without the graph for them too.
void copy_async(const torch::Tensor& to, const torch::Tensor& from, cudaMemcpyKind kind) {
    C10_CUDA_CHECK(cudaMemcpyAsync(to.data_ptr(), from.data_ptr(), from.nbytes(), kind,
                                   c10::cuda::getCurrentCUDAStream().stream()));
}

// Runs `work` once on a side stream (cuBLAS handles, workspaces, lazy kernel loading), as CUDA graphs require, then
// captures it into `graph`. Thread-local capture: the UI thread or another conversation may use CUDA meanwhile.
template <typename Work> void capture(at::cuda::CUDAGraph& graph, c10::DeviceIndex device, const Work& work) {
    torch::cuda::synchronize();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device);
    {
        const c10::cuda::CUDAStreamGuard stream_guard(side);
        work();
        graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
        try {
            work();
        } catch (...) { // the side stream must not stay in capture, nor the allocator routed to the graph's pool
            try {
                graph.capture_end();
            } catch (...) {
            }
            throw;
        }
        graph.capture_end();
    }
    torch::cuda::synchronize();
}

} // namespace

// pick() on the decode graph's logits for one set of options, with the draw's uniform number going in and the id
// coming out through pinned host memory.
class PickGraph {
public:
    PickGraph(const torch::Tensor& logits, const GenerationOptions& options) : options_(options) {
        const auto on_device = torch::TensorOptions().device(logits.device());
        staged_u_ = pinned({1}, torch::kFloat64);
        u_ = torch::zeros({1}, on_device.dtype(torch::kFloat64));
        staged_id_ = pinned({1}, torch::kInt64);
        capture(graph_, logits.device().index(), [&] {
            if (options_.temperature > 0) copy_async(u_, staged_u_, cudaMemcpyHostToDevice);
            id_ = runtime::pick(logits, options_, u_);
            copy_async(staged_id_, id_, cudaMemcpyDeviceToHost);
        });
    }

    bool serves(const GenerationOptions& o) const {
        return o.temperature == options_.temperature && o.top_p == options_.top_p && o.top_k == options_.top_k;
    }

    std::int64_t draw(Sampler& sampler) {
        if (options_.temperature > 0) *staged_u_.data_ptr<double>() = sampler.next_uniform();
        graph_.replay();
        C10_CUDA_CHECK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream().stream()));
        return *staged_id_.data_ptr<std::int64_t>();
    }

private:
    GenerationOptions options_;
    torch::Tensor staged_u_, u_, staged_id_, id_;
    at::cuda::CUDAGraph graph_;
};

DecodeGraph::DecodeGraph(const model::Glm4v& model, KvCache& cache) : table_(model.language().word_embeddings) {
    const c10::cuda::CUDAGuard device_guard(model.device());
    const auto on_device = torch::TensorOptions().device(model.device());
    GLM4V_CHECK(table_.dim() == 2 && table_.is_contiguous(), ErrorKind::InvalidInput)
        << "DecodeGraph: the token embedding table must be one contiguous [vocab, hidden] tensor";
    // The warm-up and the capture feed token 0 into the row the next token goes to, which the real step overwrites.
    staged_ids_ = pinned({3}, torch::kInt64);
    staged_ids_.data_ptr<std::int64_t>()[2] = cache.length();
    ids_ = torch::zeros({3}, on_device.dtype(torch::kInt64));
    const torch::Tensor token = ids_.narrow(0, 0, 1), position = ids_.narrow(0, 1, 1), row = ids_.narrow(0, 2, 1);
    torch::Tensor x_on_device;
    if (table_.is_cpu()) {
        staged_x_ = pinned({1, table_.size(1)}, table_.scalar_type());
        x_on_device = torch::zeros({1, table_.size(1)}, on_device.dtype(table_.scalar_type()));
    }
    const auto& lm = model.config().language;
    const bool fused = model::fused_decode_supported(model.language(), lm, model.dtype());
    capture(graph_, model.device().index(), [&] {
        copy_async(ids_, staged_ids_, cudaMemcpyHostToDevice);
        torch::Tensor x;
        if (staged_x_.defined()) {
            copy_async(x_on_device, staged_x_, cudaMemcpyHostToDevice);
            x = x_on_device.to(model.dtype());
        } else {
            x = torch::embedding(table_, token).to(model.dtype());
        }
        logits_ = fused ? model::language_decode_step_fused(model.language(), lm, x, position, row, cache)
                        : model::language_decode_step(model.language(), lm, x, position, row, cache);
    });
}

DecodeGraph::~DecodeGraph() = default;

torch::Tensor DecodeGraph::step(std::int64_t id, std::int64_t position, KvCache& cache) {
    GLM4V_CHECK(id >= 0 && id < table_.size(0), ErrorKind::InvalidInput)
        << "token id " << id << " is outside the vocabulary of " << table_.size(0);
    replayed_.synchronize(); // at once after a pick, which waited for more
    std::int64_t* ids = staged_ids_.data_ptr<std::int64_t>();
    ids[0] = id;
    ids[1] = position;
    ids[2] = cache.length();
    if (staged_x_.defined()) {
        const std::size_t row_bytes = staged_x_.nbytes();
        std::memcpy(staged_x_.data_ptr(), static_cast<const char*>(table_.data_ptr()) + id * row_bytes, row_bytes);
    }
    graph_.replay();
    replayed_.record();
    cache.commit(1);
    return logits_[0];
}

std::int64_t DecodeGraph::pick(Sampler& sampler) {
    GLM4V_CHECK(sampler.picks_without_host(), ErrorKind::InvalidInput)
        << "DecodeGraph::pick: a repetition penalty needs the reply's ids; use Sampler::sample";
    const auto serving =
        std::find_if(picks_.begin(), picks_.end(), [&](const auto& p) { return p->serves(sampler.options()); });
    if (serving != picks_.end()) return (*serving)->draw(sampler);
    // A few sets of options, so that a benchmark's or a user's switching between greedy and sampled replies does
    // not capture again at each reply.
    constexpr std::size_t kKept = 4;
    if (picks_.size() == kKept) picks_.erase(picks_.begin());
    picks_.push_back(std::make_unique<PickGraph>(logits_[0], sampler.options()));
    return picks_.back()->draw(sampler);
}

bool decode_graphs_enabled() {
    const char* v = std::getenv("GLM4V_CUDA_GRAPHS");
    return !(v && std::strcmp(v, "0") == 0);
}

} // namespace glm4v::engine::runtime
