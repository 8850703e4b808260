// The whole GLM-4V-9B on the GPU with random weights in NF4 (DESIGN.md section 8): the real config
// (bench/gpu/glm4v-9b-config.json), weights drawn on the device and quantized by our kernel as they load, then
// the user's path through runtime::Chat. Prints one JSON object: vision tower ms, time to first token for a new
// 1120x1120 image with a 20-token question, decode tokens/s with that image in context, peak GPU memory, and the
// card's copy bandwidth and bf16 matmul rate measured in the same run; also the first token of a follow-up, and of a
// follow-up after reopening the conversation from its cached image embeddings; decode in a conversation whose decode
// graph is already captured (steady); peak memory of a 4,096-row conversation with its image; with --context-sweep,
// decode tokens/s after text-only contexts of 1k to 8k rows.
//
//   bench_model --tokenizer-dir DIR [--config FILE] [--reps N] [--decode-tokens N] [--low-vram] [--context-sweep]
// The tokenizer only turns the question into ids (the golden tiny model's will do): its ids fall inside the real
// vocabulary, and the weights are random anyway.
#include "bench/gpu/gpu_timing.h"
#include "engine/io/config.h"
#include "engine/model/glm4v.h"
#include "engine/model/weights.h"
#include "engine/runtime/chat.h"
#include "engine/tokenizer/tokenizer.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace engine = glm4v::engine;
using glm4v::bench::median_ms;

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

double gib(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

struct Memory {
    std::int64_t peak_allocated = 0, peak_reserved = 0;
};
Memory peak_memory() {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    const auto all = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    return {stats.allocated_bytes[all].peak, stats.reserved_bytes[all].peak};
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
    std::string tokenizer_dir, config_path = "bench/gpu/glm4v-9b-config.json";
    int reps = 5, decode_tokens = 64;
    bool low_vram = false, context_sweep = false;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--low-vram" || flag == "--context-sweep") {
            (flag == "--low-vram" ? low_vram : context_sweep) = true;
            continue;
        }
        if (i + 1 >= argc) break;
        if (flag == "--tokenizer-dir") tokenizer_dir = argv[i + 1];
        else if (flag == "--config") config_path = argv[i + 1];
        else if (flag == "--reps") reps = std::atoi(argv[i + 1]);
        else if (flag == "--decode-tokens") decode_tokens = std::atoi(argv[i + 1]);
        ++i;
    }
    if (tokenizer_dir.empty()) {
        std::fprintf(stderr, "usage: bench_model --tokenizer-dir DIR [--config FILE] [--reps N] [--decode-tokens N] [--low-vram]\n");
        return 2;
    }
    if (!torch::cuda::is_available()) {
        std::puts("{\"error\": \"no CUDA device\"}");
        return 77;
    }
    c10::InferenceMode inference;
    torch::manual_seed(0);
    cudaDeviceProp prop{};
    glm4v::bench::cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    const double copy_gbs = glm4v::bench::copy_gb_per_s();
    const double matmul_tflops = glm4v::bench::bf16_matmul_tflop_per_s();
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);

    const auto load_start = std::chrono::steady_clock::now();
    engine::model::LoadOptions options;
    options.device = "cuda";
    options.weights = engine::model::WeightFormat::Nf4;
    options.low_vram = low_vram;
    const auto model = engine::model::Glm4v::from_source(engine::io::read_model_config(config_path),
                                                         engine::tokenizer::load_tokenizer(tokenizer_dir), RandomWeights(),
                                                         options);
    torch::cuda::synchronize();
    const double load_s = seconds_since(load_start);
    const Memory load_peak = peak_memory();
    const std::int64_t weights_bytes = c10::cuda::CUDACachingAllocator::getDeviceStats(0)
                                           .allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
                                           .current;
    // What a user's later starts hold: the weights, not the quantization's staging buffers.
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);

    const auto& vc = *model->config().vision;
    const torch::Tensor pixels = torch::randn({3, vc.image_size, vc.image_size});
    const double vision_ms = median_ms([&](int) { model->encode_image(pixels.to(torch::kCUDA)); }, reps);

    // A new image and a 20-token question, as a user asks: the vision tower, prefill, the first token.
    std::string question;
    while (static_cast<int>(model->tokenizer().encode(question).size()) < 20) question += " what";
    const int question_tokens = static_cast<int>(model->tokenizer().encode(question).size());
    const int side = static_cast<int>(vc.image_size);
    engine::RgbImage image{side, side, {}};
    image.pixels.resize(static_cast<std::size_t>(vc.image_size) * vc.image_size * 3);
    for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
    engine::runtime::GenerationOptions greedy;
    greedy.temperature = 0;
    greedy.ignore_eos = true;
    // Decode twice: eagerly (GLM4V_CUDA_GRAPHS=0), then through the decode step's CUDA graph, the default.
    std::vector<double> ttft_ms, decode_tps, eager_tps, follow_up_ms, reopen_ms, eager_follow_up_ms, eager_reopen_ms;
    std::vector<double> steady_tps, sampled_tps;
    std::int64_t prompt_tokens = 0;
    for (const bool graphs : {false, true}) {
        setenv("GLM4V_CUDA_GRAPHS", graphs ? "1" : "0", 1);
        for (int r = 0; r < std::max(2, reps / 2) + 1; ++r) {
            const bool record = r > 0; // the first round warms up: cuBLAS heuristics, allocator growth
            std::vector<float> embeddings;
            std::string reply_text;
            {
                engine::runtime::Chat chat(model);
                torch::cuda::synchronize();
                const auto start = std::chrono::steady_clock::now();
                chat.set_image(image);
                const double vision_part_ms = seconds_since(start) * 1e3;
                greedy.max_new_tokens = decode_tokens;
                const auto reply = chat.ask(question, greedy, {});
                // A follow-up in the open conversation: only its own tokens are prefilled.
                greedy.max_new_tokens = 1;
                const double follow_up = chat.ask(question, greedy, {}).stats.time_to_first_token_ms;
                // Decode once the conversation's graph exists: what every reply after the first one gets.
                greedy.max_new_tokens = decode_tokens;
                const double steady = chat.ask(question, greedy, {}).stats.tokens_per_second;
                // The app's default sampling (temperature 0.8, top-p 0.8) in place of greedy.
                engine::runtime::GenerationOptions sampled = greedy;
                sampled.temperature = 0.8;
                sampled.top_p = 0.8;
                const double with_sampling = chat.ask(question, sampled, {}).stats.tokens_per_second;
                greedy.max_new_tokens = 1;
                if (record && graphs) {
                    steady_tps.push_back(steady);
                    sampled_tps.push_back(with_sampling);
                }
                embeddings = chat.image_embeddings();
                reply_text = reply.text;
                prompt_tokens = reply.stats.prompt_tokens;
                if (record) {
                    (graphs ? decode_tps : eager_tps).push_back(reply.stats.tokens_per_second);
                    (graphs ? follow_up_ms : eager_follow_up_ms).push_back(follow_up);
                    if (graphs) ttft_ms.push_back(vision_part_ms + reply.stats.time_to_first_token_ms);
                }
            }
            // Reopening it later, as the app does with one conversation open: the image from its cached embeddings
            // (no vision tower), the past turn re-entered with the question.
            engine::runtime::Chat reopened(model);
            torch::cuda::synchronize();
            const auto reopen_start = std::chrono::steady_clock::now();
            reopened.set_image_embeddings(embeddings);
            reopened.add_past_turn(question, reply_text);
            const double reopen = seconds_since(reopen_start) * 1e3 + reopened.ask(question, greedy, {}).stats.time_to_first_token_ms;
            if (record) (graphs ? reopen_ms : eager_reopen_ms).push_back(reopen);
        }
    }
    std::sort(follow_up_ms.begin(), follow_up_ms.end());
    std::sort(reopen_ms.begin(), reopen_ms.end());
    std::sort(eager_follow_up_ms.begin(), eager_follow_up_ms.end());
    std::sort(eager_reopen_ms.begin(), eager_reopen_ms.end());
    std::sort(eager_tps.begin(), eager_tps.end());
    torch::cuda::synchronize();
    const Memory run_peak = peak_memory();
    std::sort(ttft_ms.begin(), ttft_ms.end());
    std::sort(decode_tps.begin(), decode_tps.end());
    std::sort(steady_tps.begin(), steady_tps.end());
    std::sort(sampled_tps.begin(), sampled_tps.end());
    std::size_t free_bytes = 0, total_bytes = 0;
    glm4v::bench::cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");

    // Text of about n tokens: " what" is one piece for the pre-tokenizer, so its count scales.
    std::string hundred;
    for (int i = 0; i < 100; ++i) hundred += " what";
    const double what_tokens = static_cast<double>(model->tokenizer().encode(hundred).size()) / 100.0;
    const auto text_of = [&](std::int64_t n) {
        std::string t;
        for (std::int64_t i = 0; i < static_cast<std::int64_t>(n / what_tokens); ++i) t += " what";
        return t;
    };
    // A 4,096-row conversation with its image: the image, a long question, and a reply up to the 4,096th row.
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
    std::int64_t rows_4096 = 0;
    {
        engine::runtime::Chat chat(model);
        chat.set_image(image);
        greedy.max_new_tokens = 64;
        chat.ask(text_of(4096 - 64 - (prompt_tokens - question_tokens)), greedy, {});
        rows_4096 = chat.context_used();
    }
    torch::cuda::synchronize();
    const Memory peak_4096 = peak_memory();

    // Decode speed against context length: a text-only prompt of n rows (the first reply captures the graph), then
    // a follow-up whose decode is timed.
    std::string sweep;
    if (context_sweep) {
        for (const std::int64_t n : {1024, 2048, 4096, 6144, 8000}) {
            engine::runtime::Chat chat(model);
            greedy.max_new_tokens = 2;
            chat.ask(text_of(n), greedy, {});
            greedy.max_new_tokens = decode_tokens;
            const auto reply = chat.ask(question, greedy, {});
            char entry[128];
            std::snprintf(entry, sizeof entry, "%s{\"context\": %lld, \"tokens_per_s\": %.2f}", sweep.empty() ? "" : ", ",
                          static_cast<long long>(chat.context_used()), reply.stats.tokens_per_second);
            sweep += entry;
        }
    }

    std::printf("{\n  \"device\": \"%s\", \"copy_gb_per_s\": %.1f, \"bf16_matmul_tflop_per_s\": %.1f,\n", prop.name,
                copy_gbs, matmul_tflops);
    std::printf("  \"low_vram\": %s, \"weights\": \"nf4 (random, quantized on load)\", \"load_s\": %.2f, \"weights_gib\": %.3f, "
                "\"load_peak_allocated_gib\": %.3f,\n",
                low_vram ? "true" : "false", load_s, gib(weights_bytes), gib(load_peak.peak_allocated));
    std::printf("  \"vision_ms\": %.2f, \"question_tokens\": %d, \"prompt_tokens\": %lld, \"ttft_ms\": %.2f, "
                "\"decode_tokens\": %d, \"decode_tokens_per_s\": %.2f, \"decode_tokens_per_s_without_graphs\": %.2f,\n",
                vision_ms, question_tokens, static_cast<long long>(prompt_tokens), ttft_ms[ttft_ms.size() / 2],
                decode_tokens, decode_tps[decode_tps.size() / 2], eager_tps[eager_tps.size() / 2]);
    std::printf("  \"follow_up_ttft_ms\": %.2f, \"reopen_ttft_ms\": %.2f, \"follow_up_ttft_ms_without_graphs\": %.2f, "
                "\"reopen_ttft_ms_without_graphs\": %.2f,\n",
                follow_up_ms[follow_up_ms.size() / 2], reopen_ms[reopen_ms.size() / 2],
                eager_follow_up_ms[eager_follow_up_ms.size() / 2], eager_reopen_ms[eager_reopen_ms.size() / 2]);
    std::printf("  \"decode_tokens_per_s_steady\": %.2f, \"decode_tokens_per_s_sampled\": %.2f,\n",
                steady_tps[steady_tps.size() / 2], sampled_tps[sampled_tps.size() / 2]);
    std::printf("  \"peak_4096\": {\"rows\": %lld, \"allocated_gib\": %.3f, \"reserved_gib\": %.3f},\n",
                static_cast<long long>(rows_4096), gib(peak_4096.peak_allocated), gib(peak_4096.peak_reserved));
    if (context_sweep) std::printf("  \"decode_vs_context\": [%s],\n", sweep.c_str());
    std::printf("  \"peak_allocated_gib\": %.3f, \"peak_reserved_gib\": %.3f, \"device_used_gib\": %.3f\n}\n",
                gib(run_peak.peak_allocated), gib(run_peak.peak_reserved), gib(static_cast<std::int64_t>(total_bytes - free_bytes)));
    return 0;
}
