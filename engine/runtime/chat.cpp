#include "engine/runtime/chat.h"

#include <torch/types.h>

#include <chrono>

#include "engine/error.h"
#include "engine/log.h"
#include "engine/model/glm4v.h"
#include "engine/runtime/kv_cache.h"
#include "engine/runtime/preprocess.h"
#include "engine/runtime/sampler.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/stream_decoder.h"
#include "engine/tokenizer/tokenizer.h"

#ifdef GLM4V_HAS_CUDA
#include "engine/model/fused_decode.h"
#include "engine/model/fused_prefill.h"
#include "engine/runtime/decode_graph.h"
#endif

namespace glm4v::engine::runtime {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

#ifdef GLM4V_HAS_CUDA
bool decodes_fused(const model::Glm4v& m) {
    return m.device().is_cuda() && model::fused_decode_supported(m.language(), m.config().language, m.dtype());
}

// What a finished conversation leaves its model for the next one (Glm4v::keep_spare_decoder): its KV cache and decode
// graph, which would cost the next conversation 0.6 GiB of zeroing and a graph capture at its first token. Only for the fused step, which never reads a cache row that its own conversation did not write.
struct SpareDecoder {
    KvCache cache;
    std::unique_ptr<DecodeGraph> graph;
};
#endif
} // namespace

struct Chat::State {
    KvCache cache;
    torch::Tensor image;               // [num_image_embeddings, hidden] in the model's dtype, or undefined
    bool started = false;              // the conversation's prefix has been fed
    std::int64_t next_position = 0;    // rope position of the next token: not the KV length (DESIGN.md section 2)
    std::vector<std::int64_t> pending; // tokens of the last reply sampled but not yet fed
    std::vector<std::pair<std::string, std::string>> past_turns; // to feed with the next question
    std::function<void(const at::Tensor&)> observer;
    std::function<void(const PrefillView&)> prefill_observer;
#ifdef GLM4V_HAS_CUDA
    std::unique_ptr<DecodeGraph> graph; // captured at the first decoded token on a GPU
    bool graph_failed = false;          // then this conversation decodes eagerly
#endif
};

Chat::Chat(std::shared_ptr<const model::Glm4v> model) : model_(std::move(model)), state_(std::make_unique<State>()) {
    GLM4V_CHECK(model_ != nullptr, ErrorKind::InvalidInput) << "a Chat needs a loaded model";
}

Chat::~Chat() {
#ifdef GLM4V_HAS_CUDA
    State& s = *state_;
    if (!s.graph || !decodes_fused(*model_)) return;
    try {
        auto spare = std::make_shared<SpareDecoder>();
        spare->cache = std::move(s.cache);
        spare->graph = std::move(s.graph);
        model_->keep_spare_decoder(std::move(spare));
    } catch (...) { // only an optimization: the next conversation allocates its own
    }
#endif
}

void Chat::set_image(const RgbImage& image) {
    GLM4V_CHECK(model_->has_vision(), ErrorKind::Unsupported) << "this model has no vision tower";
    GLM4V_CHECK(!state_->started, ErrorKind::InvalidInput)
        << "a conversation has one image; start a new conversation for another";
    c10::InferenceMode inference;
    state_->image = model_->encode_image(preprocess_image(image, static_cast<int>(model_->config().vision->image_size)));
}

void Chat::set_image_embeddings(const std::vector<float>& embeddings) {
    GLM4V_CHECK(model_->has_vision(), ErrorKind::Unsupported) << "this model has no vision tower";
    GLM4V_CHECK(!state_->started, ErrorKind::InvalidInput)
        << "a conversation has one image; start a new conversation for another";
    const auto rows = model_->config().vision->num_image_embeddings();
    const auto hidden = model_->config().language.hidden_size;
    GLM4V_CHECK(static_cast<std::int64_t>(embeddings.size()) == rows * hidden, ErrorKind::InvalidInput)
        << "image embeddings hold " << embeddings.size() << " values; this model needs " << rows << " x " << hidden;
    c10::InferenceMode inference;
    // copy=true: on a CPU fp32 model to() would otherwise hand back a view of the caller's vector.
    state_->image = torch::from_blob(const_cast<float*>(embeddings.data()), {rows, hidden}, torch::kFloat32)
                        .to(model_->device(), model_->dtype(), /*non_blocking=*/false, /*copy=*/true);
}

std::vector<float> Chat::image_embeddings() const {
    if (!state_->image.defined()) return {};
    c10::InferenceMode inference;
    const auto cpu = state_->image.to(torch::kCPU, torch::kFloat32).contiguous();
    return std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
}

void Chat::add_past_turn(const std::string& question, const std::string& reply) {
    state_->past_turns.emplace_back(question, reply);
}

std::int64_t Chat::context_used() const { return state_->cache.length(); }
std::int64_t Chat::context_limit() const { return model_->config().language.seq_length; }

void Chat::set_logits_observer(std::function<void(const at::Tensor&)> observer) {
    state_->observer = std::move(observer);
}

void Chat::set_prefill_observer(std::function<void(const PrefillView&)> observer) {
    state_->prefill_observer = std::move(observer);
}

Reply Chat::ask(const std::string& question, const GenerationOptions& options, const TokenCallback& on_piece) {
    const auto start = Clock::now();
    GLM4V_CHECK(!is_blank(question), ErrorKind::InvalidInput) << "the question is empty";
    validate(options);
    // A cancel() that arrives before or during this call stops this reply, and only this one.
    struct ClearCancel {
        std::atomic<bool>& flag;
        ~ClearCancel() { flag = false; }
    } clear_cancel{cancel_requested_};
    c10::InferenceMode inference;
    State& s = *state_;
    const model::Glm4v& m = *model_;
    const io::LanguageConfig& lm = m.config().language;
    const tokenizer::Tokenizer& tok = m.tokenizer();

    // This turn's tokens: what the last reply left unfed, past turns being restored, then the question.
    tokenizer::ChatTemplate tmpl(tok);
    std::vector<std::int64_t> ids = s.pending;
    std::int64_t boi_index = -1;
    auto add_turn = [&](const std::string& q) {
        if (s.started) {
            const auto turn = tmpl.next_turn(q);
            ids.insert(ids.end(), turn.begin(), turn.end());
            return;
        }
        const auto turn = tmpl.first_turn(q, s.image.defined());
        if (turn.image_index) boi_index = static_cast<std::int64_t>(ids.size() + *turn.image_index);
        ids.insert(ids.end(), turn.ids.begin(), turn.ids.end());
        s.started = true;
    };
    const std::int64_t fed_before = s.cache.length();
    const std::int64_t position_before = s.next_position;
    const bool started_before = s.started;
    for (const auto& [past_q, past_reply] : s.past_turns) {
        add_turn(past_q);
        const auto reply_ids = tok.encode(past_reply);
        ids.insert(ids.end(), reply_ids.begin(), reply_ids.end());
    }
    add_turn(question);

    // Embeddings and rope positions. The image's three placeholder tokens become its embeddings: boi
    // keeps its index, every patch shares index boi + 1, eoi and what follows keep theirs.
    const auto id_tensor = torch::tensor(ids, torch::kInt64);
    auto x = model::embed_tokens(m.language(), id_tensor, m.device());
    auto positions = torch::arange(s.next_position, s.next_position + static_cast<std::int64_t>(ids.size()), torch::kInt64);
    if (boi_index >= 0) {
        const auto n = s.image.size(0);
        const auto tail = static_cast<std::int64_t>(ids.size()) - boi_index - 3;
        x = torch::cat({x.narrow(0, 0, boi_index), s.image, x.narrow(0, boi_index + 3, tail)});
        const auto p0 = s.next_position + boi_index;
        positions = torch::cat({positions.narrow(0, 0, boi_index + 1), torch::full({n - 2}, p0 + 1, torch::kInt64),
                                positions.narrow(0, boi_index + 2, tail + 1)});
    }
    const std::int64_t rows = x.size(0);

    if (!s.cache.capacity()) {
#ifdef GLM4V_HAS_CUDA
        if (const auto spare = std::static_pointer_cast<SpareDecoder>(m.take_spare_decoder())) {
            s.cache = std::move(spare->cache);
            s.cache.truncate(0);
            s.graph = std::move(spare->graph);
        }
#endif
        if (!s.cache.capacity())
            s.cache = KvCache(lm.num_layers, lm.seq_length, lm.num_kv_groups, lm.kv_channels,
                              torch::TensorOptions().dtype(m.dtype()).device(m.device()));
    }
    if (s.cache.length() + rows + 1 > s.cache.capacity()) {
        s.started = started_before;
        GLM4V_FAIL(ErrorKind::ContextFull)
            << "this conversation is full: " << s.cache.length() << " of " << s.cache.capacity()
            << " tokens are used and the question needs " << rows + 1 << " more; start a new conversation";
    }

    // A long prompt goes through the model kPrefillChunk rows at a time: that bounds its activations (a 4,096-row
    // conversation stays under 8 GiB on the GPU), at the price of dequantizing the weights once more per chunk.
    constexpr std::int64_t kPrefillChunk = 2048;
    auto forward = model::language_forward;
#ifdef GLM4V_HAS_CUDA
    if (decodes_fused(m)) forward = model::language_forward_fused;
#endif
    auto feed = [&](const torch::Tensor& rows_x, const torch::Tensor& rows_pos, bool all_logits) {
        const std::int64_t n = rows_x.size(0);
        std::vector<torch::Tensor> observed;
        torch::Tensor last;
        for (std::int64_t start = 0; start < n; start += kPrefillChunk) {
            const std::int64_t len = std::min(kPrefillChunk, n - start);
            const auto hidden =
                forward(m.language(), lm, rows_x.narrow(0, start, len), rows_pos.narrow(0, start, len), s.cache);
            if (all_logits && s.observer) observed.push_back(model::language_logits(m.language(), hidden));
            last = hidden[-1].unsqueeze(0);
        }
        if (all_logits && s.observer) {
            auto logits = observed.size() == 1 ? observed.front() : torch::cat(observed);
            s.observer(logits);
            return logits[-1];
        }
        auto logits = model::language_logits(m.language(), last)[0];
        if (s.observer) s.observer(logits.unsqueeze(0));
        return logits;
    };
    // One generated token fed back: through the decode step's CUDA graph on a GPU, else eagerly.
    auto decode_step = [&](const torch::Tensor& x_next) {
#ifdef GLM4V_HAS_CUDA
        if (m.device().is_cuda() && !s.graph_failed && decode_graphs_enabled()) {
            try {
                if (!s.graph) s.graph = std::make_unique<DecodeGraph>(m, s.cache);
                auto logits = s.graph->step(x_next, s.next_position, s.cache);
                if (s.observer) s.observer(logits.unsqueeze(0));
                return logits;
            } catch (const c10::Error& e) {
                log_warn("Chat: decoding without a CUDA graph (", e.what_without_backtrace(), ")");
                s.graph.reset();
                s.graph_failed = true;
            }
        }
#endif
        return feed(x_next, torch::tensor({s.next_position}, torch::kInt64), false);
    };
    Reply reply;
    reply.stats.prompt_tokens = rows;
    if (cancel_requested_) {
        s.started = started_before;
        reply.finish = FinishReason::Cancelled;
        return reply;
    }
    if (s.prefill_observer) s.prefill_observer(PrefillView{ids, boi_index, x, positions, fed_before});
    torch::Tensor logits;
    try {
        logits = feed(x, positions, true);
    } catch (...) {
        s.cache.truncate(fed_before);
        s.next_position = position_before;
        s.started = started_before;
        throw;
    }
    s.next_position += static_cast<std::int64_t>(ids.size());
    s.pending.clear();
    s.past_turns.clear();

    const auto& eos = m.config().eos_token_ids;
    Sampler sampler(options);
    tokenizer::StreamDecoder decoder(tok);
    // Ids a padded vocabulary has but the tokenizer lacks decode as U+FFFD (StreamDecoder), never fail.
    Clock::time_point first_token_at{};
    auto emit = [&](const std::string& piece) {
        if (piece.empty()) return;
        reply.text += piece;
        if (on_piece) on_piece(piece);
    };
    while (true) {
        const std::size_t step = reply.token_ids.size();
        const std::int64_t next =
            step < options.forced_tokens.size() ? options.forced_tokens[step] : sampler.sample(logits, reply.token_ids);
        if (reply.token_ids.empty()) {
            first_token_at = Clock::now();
            reply.stats.time_to_first_token_ms = ms_since(start);
        }
        if (!options.ignore_eos && std::find(eos.begin(), eos.end(), next) != eos.end()) {
            reply.finish = FinishReason::Eos;
            break;
        }
        reply.token_ids.push_back(next);
        emit(decoder.push(static_cast<tokenizer::TokenId>(next)));
        if (static_cast<int>(reply.token_ids.size()) >= options.max_new_tokens ||
            s.cache.length() + 1 >= s.cache.capacity()) {
            reply.finish = FinishReason::Length;
            s.pending = {next};
            break;
        }
        if (cancel_requested_) {
            reply.finish = FinishReason::Cancelled;
            s.pending = {next};
            break;
        }
        const auto x_next = model::embed_tokens(m.language(), torch::tensor({next}, torch::kInt64), m.device());
        logits = decode_step(x_next);
        ++s.next_position;
    }
    emit(decoder.finish());
    reply.stats.generated_tokens = static_cast<std::int64_t>(reply.token_ids.size());
    if (reply.token_ids.size() > 1) {
        const double seconds = std::chrono::duration<double>(Clock::now() - first_token_at).count();
        reply.stats.tokens_per_second = seconds > 0 ? (reply.token_ids.size() - 1) / seconds : 0;
    }
    return reply;
}

} // namespace glm4v::engine::runtime
