// The whole GLM-4V-9B on the GPU with random weights in NF4 (DESIGN.md section 8, issue #6): the real config
// (bench/gpu/glm4v-9b-config.json), weights drawn on the device and quantized by our kernel as they load, then the
// user's path through runtime::Chat. Prints one JSON object (bench_report.h): the card's copy bandwidth and bf16
// matmul rate measured in the same run ("copy_gb_per_s", "bf16_matmul_tflop_per_s"), the load ("load_s",
// "weights_gib"), and the parts asked for with --only (default: all three), medians of --reps runs (the chat part's
// conversations: max(2, reps / 2) after a warm-up, once eager and once through the graph):
//   chat      "vision_ms"; "ttft_ms", the first token for a new 1120x1120 image and a 20-token question;
//             "decode_tokens_per_s" with that image in context, through the decode step's CUDA graph (and
//             "..._without_graphs"); "follow_up_ttft_ms" in the open conversation and "reopen_ttft_ms" after
//             reopening it from its cached image embeddings; "decode_tokens_per_s_steady" once the conversation's
//             graph exists, "..._sampled" with the app's default sampling; "peak_allocated_gib" of it all
//   peak4096  "peak_4096": {"rows", "decoded", "allocated_gib", "reserved_gib", "device_used_gib"}, the peak GPU
//             memory of a conversation with its image whose KV cache reaches 4,096 rows (issue #6: <= 8.0 GiB,
//             <= 6.0 GiB with --low-vram)
//   context   "decode_vs_context": [{"context", "tokens_per_s", "tokens_per_s_min", "tokens_per_s_max",
//             "prefill_ms"}], decode (greedy, graph on, as in the app) once text-only prompts have brought the KV
//             cache to about 1k, 2k, 4k, 6k rows and to seq_length less the decoded tokens; "context" is the rows
//             when decoding starts, "prefill_ms" the first token of the long prompt
// "part_s" gives each part's seconds, "errors" the parts that failed (the others still run), "engine_warnings" what
// the engine warned of. Before peak4096 and context existed, the chat part with --reps 5 --decode-tokens 64 and the
// load took about 100 s on the H100; context adds --reps prefills (of up to 8k rows) and replies per point.
//
//   bench_model --tokenizer-dir DIR [--config FILE] [--reps N] [--decode-tokens N] [--low-vram]
//               [--only chat,peak4096,context] [--time-limit SECONDS]
// The tokenizer only turns the question into ids (the golden tiny model's will do): its ids fall inside the real
// vocabulary, and the weights are random anyway.
#include "bench/gpu/bench_report.h"
#include "bench/gpu/gpu_timing.h"
#include "engine/io/config.h"
#include "engine/model/glm4v.h"
#include "engine/model/weights.h"
#include "engine/runtime/chat.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace engine = glm4v::engine;
using nlohmann::ordered_json;

namespace {

// Weights of plausible scale: norms at one, everything else N(0, 0.02), drawn on the device in bf16 as a
// checkpoint's tensors would arrive there.
class RandomWeights : public engine::model::WeightSource {
public:
    torch::Tensor get(const std::string& name, torch::IntArrayRef shape) const override {
        const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
        const bool norm = name.find("norm") != std::string::npos && name.size() > 7 &&
                          name.compare(name.size() - 7, 7, ".weight") == 0;
        return norm ? torch::ones(shape, bf16) : torch::randn(shape, bf16) * 0.02;
    }
    torch::Tensor find(const std::string&) const override { return {}; }
};

const std::set<std::string> kParts = {"chat", "peak4096", "context"};

struct Options {
    std::string tokenizer_dir, config_path = "bench/gpu/glm4v-9b-config.json";
    int reps = 5, decode_tokens = 64;
    bool low_vram = false;
    std::set<std::string> parts = kParts;
    // Under the 300 s `timeout` of tools/gpu_check.sh, so the figures measured so far still come out.
    double time_limit_s = 280;
};

std::optional<Options> parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--low-vram") {
            o.low_vram = true;
            continue;
        }
        if (i + 1 >= argc) return std::nullopt;
        const std::string value = argv[++i];
        if (flag == "--tokenizer-dir")
            o.tokenizer_dir = value;
        else if (flag == "--config")
            o.config_path = value;
        else if (flag == "--reps")
            o.reps = std::atoi(value.c_str());
        else if (flag == "--decode-tokens")
            o.decode_tokens = std::atoi(value.c_str());
        else if (flag == "--time-limit")
            o.time_limit_s = std::atof(value.c_str());
        else if (flag == "--only") {
            o.parts.clear();
            std::istringstream list(value);
            for (std::string part; std::getline(list, part, ',');) {
                if (!kParts.count(part)) return std::nullopt;
                o.parts.insert(part);
            }
        } else
            return std::nullopt;
    }
    // A rate needs two tokens: the first one comes from the prefill, the rate counts the ones after it.
    const bool valid = !o.tokenizer_dir.empty() && o.reps >= 1 && o.decode_tokens >= 2 && o.time_limit_s > 0;
    return valid ? std::optional<Options>(o) : std::nullopt;
}

double gib(std::int64_t bytes) {
    return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
}

struct Memory {
    std::int64_t peak_allocated = 0, peak_reserved = 0, allocated = 0;
};
Memory memory_stats() {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    const auto all = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    return {stats.allocated_bytes[all].peak, stats.reserved_bytes[all].peak, stats.allocated_bytes[all].current};
}
// A peak measured from here on counts what the model holds and what the next step adds, not blocks cached earlier.
void reset_peak_memory() {
    torch::cuda::synchronize();
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
}
// What the card has in use, the CUDA context, cuBLAS and graph memory included: what a user's GPU must hold.
double device_used_gib() {
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) throw std::runtime_error("cudaMemGetInfo failed");
    return gib(static_cast<std::int64_t>(total_bytes - free_bytes));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
    if (v.empty()) throw std::runtime_error("no runs to take a median of");
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Figures to the precision they are read at: ms and tokens/s to 2 decimals, GiB to 3.
double round2(double x) {
    return std::round(x * 100) / 100;
}
double round3(double x) {
    return std::round(x * 1000) / 1000;
}

// Graphs on is the app's default; off (GLM4V_CUDA_GRAPHS=0) decodes op by op.
void use_decode_graphs(bool on) {
    if (on)
        unsetenv("GLM4V_CUDA_GRAPHS");
    else
        setenv("GLM4V_CUDA_GRAPHS", "0", 1);
}

// Prompts of chosen lengths, counted with the model's own chat template, so that a conversation reaches the number
// of rows a figure is about.
class Prompts {
public:
    explicit Prompts(const engine::model::Glm4v& model) : model_(model), template_(model.tokenizer()) {
        // A piece that is one token makes text of any length: the golden tiny tokenizer encodes " the" as one token
        // but " what" as three. Pieces separated by spaces are encoded apart (the pre-tokenizer's split), so n of them
        // are n times as many tokens.
        for (const char* piece : {" what", " the", " a"}) {
            const auto n = static_cast<std::int64_t>(model.tokenizer().encode(piece).size());
            if (piece_.empty() || n < piece_tokens_) {
                piece_ = piece;
                piece_tokens_ = n;
            }
            if (n == 1) break;
        }
    }
    // n tokens of text when the piece is one token, else the nearest multiple below.
    std::string text(std::int64_t n) const {
        std::string t;
        for (std::int64_t i = 0; i < std::max<std::int64_t>(1, n / piece_tokens_); ++i)
            t += piece_;
        return t;
    }
    // Rows a first turn feeds besides its question's tokens: the template, and the image's embeddings in place of its
    // three placeholder tokens.
    std::int64_t first_turn_overhead(bool with_image) const {
        const auto prompt = template_.first_turn(piece_, with_image);
        const std::int64_t image = with_image ? model_.config().vision->num_image_embeddings() - 3 : 0;
        return static_cast<std::int64_t>(prompt.ids.size()) - piece_tokens_ + image;
    }
    // Rows a follow-up feeds: the last reply's token that was sampled but not fed, then the template and question.
    std::int64_t follow_up_rows(const std::string& question) const {
        return 1 + static_cast<std::int64_t>(template_.next_turn(question).size());
    }

private:
    const engine::model::Glm4v& model_;
    engine::tokenizer::ChatTemplate template_;
    std::string piece_;
    std::int64_t piece_tokens_ = 1;
};

struct Bench {
    Options options;
    std::shared_ptr<const engine::model::Glm4v> model;
    engine::RgbImage image;
    std::string question;
    engine::runtime::GenerationOptions greedy;
};

// The user's path: a new image and a question, a follow-up, later replies, and the conversation reopened.
void run_chat(Bench& b, glm4v::bench::Report& report) {
    reset_peak_memory();
    const auto& vc = *b.model->config().vision;
    const torch::Tensor pixels = torch::randn({3, vc.image_size, vc.image_size});
    report.set("vision_ms", round2(glm4v::bench::median_ms([&](int) { b.model->encode_image(pixels.to(torch::kCUDA)); },
                                                           b.options.reps)));
    auto greedy = b.greedy;
    std::vector<double> ttft_ms, decode_tps, eager_tps, follow_up_ms, reopen_ms, eager_follow_up_ms, eager_reopen_ms;
    std::vector<double> steady_tps, sampled_tps;
    std::int64_t prompt_tokens = 0;
    // Decode twice: eagerly, then through the decode step's CUDA graph, the default.
    for (const bool graphs : {false, true}) {
        use_decode_graphs(graphs);
        for (int r = 0; r < std::max(2, b.options.reps / 2) + 1; ++r) {
            const bool record = r > 0; // the first round warms up: cuBLAS heuristics, allocator growth
            std::vector<float> embeddings;
            std::string reply_text;
            {
                engine::runtime::Chat chat(b.model);
                torch::cuda::synchronize();
                const auto start = std::chrono::steady_clock::now();
                chat.set_image(b.image);
                const double vision_part_ms = seconds_since(start) * 1e3;
                greedy.max_new_tokens = b.options.decode_tokens;
                const auto reply = chat.ask(b.question, greedy, {});
                // A follow-up in the open conversation: only its own tokens are prefilled.
                greedy.max_new_tokens = 1;
                const double follow_up = chat.ask(b.question, greedy, {}).stats.time_to_first_token_ms;
                // Decode once the conversation's graph exists: what every reply after the first one gets.
                greedy.max_new_tokens = b.options.decode_tokens;
                const double steady = chat.ask(b.question, greedy, {}).stats.tokens_per_second;
                // The app's default sampling (temperature 0.8, top-p 0.8) in place of greedy.
                engine::runtime::GenerationOptions sampled = greedy;
                sampled.temperature = 0.8;
                sampled.top_p = 0.8;
                const double with_sampling = chat.ask(b.question, sampled, {}).stats.tokens_per_second;
                greedy.max_new_tokens = 1;
                embeddings = chat.image_embeddings();
                reply_text = reply.text;
                prompt_tokens = reply.stats.prompt_tokens;
                if (record) {
                    (graphs ? decode_tps : eager_tps).push_back(reply.stats.tokens_per_second);
                    (graphs ? follow_up_ms : eager_follow_up_ms).push_back(follow_up);
                    if (graphs) {
                        ttft_ms.push_back(vision_part_ms + reply.stats.time_to_first_token_ms);
                        steady_tps.push_back(steady);
                        sampled_tps.push_back(with_sampling);
                    }
                }
            }
            // Reopening it later, as the app does with one conversation open: the image from its cached embeddings
            // (no vision tower), the past turn re-entered with the question.
            engine::runtime::Chat reopened(b.model);
            torch::cuda::synchronize();
            const auto reopen_start = std::chrono::steady_clock::now();
            reopened.set_image_embeddings(embeddings);
            reopened.add_past_turn(b.question, reply_text);
            const double reopen =
                seconds_since(reopen_start) * 1e3 + reopened.ask(b.question, greedy, {}).stats.time_to_first_token_ms;
            if (record) (graphs ? reopen_ms : eager_reopen_ms).push_back(reopen);
        }
    }
    use_decode_graphs(true);
    torch::cuda::synchronize();
    const Memory peak = memory_stats();
    report.set("prompt_tokens", prompt_tokens);
    report.set("ttft_ms", round2(median(ttft_ms)));
    report.set("decode_tokens_per_s", round2(median(decode_tps)));
    report.set("decode_tokens_per_s_without_graphs", round2(median(eager_tps)));
    report.set("follow_up_ttft_ms", round2(median(follow_up_ms)));
    report.set("reopen_ttft_ms", round2(median(reopen_ms)));
    report.set("follow_up_ttft_ms_without_graphs", round2(median(eager_follow_up_ms)));
    report.set("reopen_ttft_ms_without_graphs", round2(median(eager_reopen_ms)));
    report.set("decode_tokens_per_s_steady", round2(median(steady_tps)));
    report.set("decode_tokens_per_s_sampled", round2(median(sampled_tps)));
    report.set("peak_allocated_gib", round3(gib(peak.peak_allocated)));
    report.set("peak_reserved_gib", round3(gib(peak.peak_reserved)));
    report.set("device_used_gib", round3(device_used_gib()));
}

// Issue #6's memory target: a conversation with its image, a long question and a reply, 4,096 rows in its KV cache
// when the reply ends (its last token sampled, not yet fed).
void run_peak_4096(Bench& b, const Prompts& prompts, glm4v::bench::Report& report) {
    constexpr std::int64_t kRows = 4096;
    use_decode_graphs(true);
    const std::int64_t decoded = b.options.decode_tokens;
    const std::int64_t text_tokens = kRows - (decoded - 1) - prompts.first_turn_overhead(true);
    if (text_tokens < 1) throw std::runtime_error("--decode-tokens leaves no room for a question in 4,096 rows");
    reset_peak_memory();
    std::int64_t rows = 0;
    double used = 0;
    {
        engine::runtime::Chat chat(b.model);
        chat.set_image(b.image);
        auto greedy = b.greedy;
        greedy.max_new_tokens = static_cast<int>(decoded);
        chat.ask(prompts.text(text_tokens), greedy, {});
        torch::cuda::synchronize();
        rows = chat.context_used();
        used = device_used_gib();
    }
    const Memory peak = memory_stats();
    report.set("peak_4096", ordered_json{{"rows", rows},
                                         {"decoded", decoded},
                                         {"allocated_gib", round3(gib(peak.peak_allocated))},
                                         {"reserved_gib", round3(gib(peak.peak_reserved))},
                                         {"device_used_gib", round3(used)}});
}

// Decode speed against context length. A long context is prefilled (2048 rows at a time, runtime/chat.cpp), not
// decoded: a text-only prompt and a 2-token reply, whose second token captures the conversation's decode graph; then
// a follow-up question whose reply is timed, as a user's next reply in a long conversation.
void run_context_sweep(Bench& b, const Prompts& prompts, glm4v::bench::Report& report) {
    use_decode_graphs(true);
    const std::int64_t decoded = b.options.decode_tokens;
    // The last point leaves room for the decoded tokens (and a little slack) under seq_length.
    const std::int64_t longest = b.model->config().language.seq_length - decoded - 8;
    const std::int64_t fixed_rows = prompts.first_turn_overhead(false) + 1 + prompts.follow_up_rows(b.question);
    ordered_json points = ordered_json::array();
    std::int64_t last = 0;
    for (const std::int64_t target :
         {std::int64_t{1024}, std::int64_t{2048}, std::int64_t{4096}, std::int64_t{6144}, longest}) {
        if (target > longest || target <= last || target - fixed_rows < 1) continue;
        last = target;
        std::vector<double> tps, prefill_ms;
        std::int64_t context = 0;
        for (int r = 0; r < b.options.reps; ++r) {
            engine::runtime::Chat chat(b.model);
            auto greedy = b.greedy;
            greedy.max_new_tokens = 2;
            prefill_ms.push_back(chat.ask(prompts.text(target - fixed_rows), greedy, {}).stats.time_to_first_token_ms);
            const std::int64_t before = chat.context_used();
            greedy.max_new_tokens = static_cast<int>(decoded);
            const auto reply = chat.ask(b.question, greedy, {});
            context = before + reply.stats.prompt_tokens;
            tps.push_back(reply.stats.tokens_per_second);
        }
        points.push_back(ordered_json{{"context", context},
                                      {"tokens_per_s", round2(median(tps))},
                                      {"tokens_per_s_min", round2(*std::min_element(tps.begin(), tps.end()))},
                                      {"tokens_per_s_max", round2(*std::max_element(tps.begin(), tps.end()))},
                                      {"prefill_ms", round2(median(prefill_ms))}});
        report.set("decode_vs_context", points); // each point as it comes, so a time limit keeps the ones measured
    }
}

} // namespace

int main(int argc, char** argv) {
    const auto options = parse_options(argc, argv);
    if (!options) {
        std::fprintf(stderr,
                     "usage: bench_model --tokenizer-dir DIR [--config FILE] [--reps N>=1] [--decode-tokens N>=2] "
                     "[--low-vram] [--only chat,peak4096,context] [--time-limit SECONDS]\n");
        return 2;
    }
    if (!torch::cuda::is_available()) {
        std::puts("{\"error\": \"no CUDA device\"}");
        return 77;
    }
    glm4v::bench::Report report(options->time_limit_s);
    report.capture_engine_log();
    c10::InferenceMode inference;
    torch::manual_seed(0);
    cudaDeviceProp prop{};
    glm4v::bench::cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    report.set("device", prop.name);
    report.set("low_vram", options->low_vram);
    report.set("reps", options->reps);
    report.set("decode_tokens", options->decode_tokens);
    report.set("parts", ordered_json(options->parts));
    report.run_part("ceilings", [&] {
        report.set("copy_gb_per_s", round2(glm4v::bench::copy_gb_per_s()));
        report.set("bf16_matmul_tflop_per_s", round2(glm4v::bench::bf16_matmul_tflop_per_s()));
    });

    Bench b;
    b.options = *options;
    report.run_part("load", [&] {
        reset_peak_memory();
        const auto start = std::chrono::steady_clock::now();
        engine::model::LoadOptions load;
        load.device = "cuda";
        load.weights = engine::model::WeightFormat::Nf4;
        load.low_vram = options->low_vram;
        b.model = engine::model::Glm4v::from_source(engine::io::read_model_config(options->config_path),
                                                    engine::tokenizer::load_tokenizer(options->tokenizer_dir),
                                                    RandomWeights(), load);
        torch::cuda::synchronize();
        const Memory memory = memory_stats();
        report.set("weights", "nf4 (random, quantized on load)");
        report.set("load_s", round2(seconds_since(start)));
        report.set("weights_gib", round3(gib(memory.allocated)));
        report.set("load_peak_allocated_gib", round3(gib(memory.peak_allocated)));
    });
    if (!b.model) return report.finish();

    // A question of 20 tokens or a few more, as the first-token target has it.
    while (static_cast<int>(b.model->tokenizer().encode(b.question).size()) < 20)
        b.question += " what";
    report.set("question_tokens", b.model->tokenizer().encode(b.question).size());
    const auto side = static_cast<int>(b.model->config().vision->image_size);
    b.image = engine::RgbImage{side, side, {}};
    b.image.pixels.resize(static_cast<std::size_t>(side) * side * 3);
    for (std::size_t i = 0; i < b.image.pixels.size(); ++i)
        b.image.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
    b.greedy.temperature = 0;
    b.greedy.ignore_eos = true;
    const Prompts prompts(*b.model);

    if (options->parts.count("chat")) report.run_part("chat", [&] { run_chat(b, report); });
    if (options->parts.count("peak4096")) report.run_part("peak4096", [&] { run_peak_4096(b, prompts, report); });
    if (options->parts.count("context")) report.run_part("context", [&] { run_context_sweep(b, prompts, report); });
    return report.finish();
}
