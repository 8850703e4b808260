#pragma once
// One conversation about (at most) one image: its image embeddings, its KV cache, its next position
// (DESIGN.md section 4). Not thread-safe, except cancel(), which any thread may call.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/image.h"

namespace at {
class Tensor;
}
namespace glm4v::engine::model {
class Glm4v;
}

namespace glm4v::engine::runtime {

struct GenerationOptions {
    int max_new_tokens = 1024;
    double temperature = 0.8; // 0: greedy
    double top_p = 0.8;
    int top_k = 0; // 0: off
    double repetition_penalty = 1.0;
    std::uint64_t seed = 0;
    bool ignore_eos = false; // for tests that compare fixed-length greedy runs
    // For checks against a reference in reduced precision: these tokens are fed in place of the sampled
    // ones (teacher forcing), so one near-tie cannot send the rest of the run elsewhere. The model's own
    // choices remain visible to a logits observer.
    std::vector<std::int64_t> forced_tokens;
};

enum class FinishReason { Eos, Length, Cancelled };

struct ReplyStats {
    std::int64_t prompt_tokens = 0;    // tokens prefilled for this turn (image embeddings included)
    std::int64_t generated_tokens = 0;
    double time_to_first_token_ms = 0; // from ask() to the first piece
    double tokens_per_second = 0;      // decode rate after the first token
};

struct Reply {
    std::string text;
    std::vector<std::int64_t> token_ids; // as generated, the eos token excluded
    FinishReason finish = FinishReason::Eos;
    ReplyStats stats;
};

// Receives whole UTF-8 characters only.
using TokenCallback = std::function<void(const std::string& piece)>;

// One ask()'s prompt as it goes into the language model (see Chat::set_prefill_observer).
struct PrefillView {
    const std::vector<std::int64_t>& token_ids; // the template's ids, the image's three placeholders among them
    std::int64_t image_index;                   // of <|begin_of_image|> in token_ids; -1: no image in this prefill
    const at::Tensor& rows;                     // [rows, hidden] embeddings, the image's in place of its placeholders
    const at::Tensor& positions;                // [rows] rope positions
    std::int64_t cache_rows;                    // rows the KV cache held before these
};

class Chat {
public:
    explicit Chat(std::shared_ptr<const model::Glm4v> model);
    ~Chat();

    // Starts the conversation about this image (runs the vision tower). Only before the first ask().
    void set_image(const RgbImage& image);
    // The same from embeddings computed earlier (the app's on-disk cache), skipping the vision tower.
    void set_image_embeddings(const std::vector<float>& embeddings);
    std::vector<float> image_embeddings() const; // [num_image_embeddings * hidden], float32

    // Re-enters a past turn without generating (reopening a stored conversation): the prompt and the
    // reply are prefilled on the next ask(), together with the new question.
    void add_past_turn(const std::string& question, const std::string& reply);

    Reply ask(const std::string& question, const GenerationOptions& options, const TokenCallback& on_piece);
    void cancel() { cancel_requested_ = true; }

    std::int64_t context_used() const;
    std::int64_t context_limit() const;

    // For checks against a reference: sees the fp32 logits [rows, vocab] of every row the model computes
    // (every prompt row, then one per decoded token). Costs a vocab-wide matmul per prompt row.
    void set_logits_observer(std::function<void(const at::Tensor& logits)> observer);
    // For tests that a conversation keeps its image (a follow-up, a reopened conversation): sees each
    // prompt just before it is prefilled.
    void set_prefill_observer(std::function<void(const PrefillView& prefill)> observer);

private:
    struct State;
    std::shared_ptr<const model::Glm4v> model_;
    std::unique_ptr<State> state_;
    std::atomic<bool> cancel_requested_{false};
};

} // namespace glm4v::engine::runtime
