// bench_tokenizer RANKS TEXT [RUNS]: our encode speed on one thread, as JSON (MB/s, median of runs).
// bench/tokenizer/run_bench.sh runs it beside tiktoken on the same text and core.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/tokenizer/tiktoken_tokenizer.h"

using namespace glm4v::engine::tokenizer;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_tokenizer RANKS TEXT [RUNS]\n");
        return 2;
    }
    try {
        const int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 7;
        const TiktokenTokenizer tokenizer(BpeRanks::read(argv[1]), {});
        std::ifstream in(argv[2], std::ios::binary);
        std::ostringstream buf;
        buf << in.rdbuf();
        const std::string text = buf.str();
        const std::size_t tokens = tokenizer.encode(text).size(); // warm-up
        std::vector<double> seconds;
        for (int i = 0; i < runs; ++i) {
            const auto start = std::chrono::steady_clock::now();
            const auto ids = tokenizer.encode(text);
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            if (ids.size() != tokens) throw std::runtime_error("encode is not deterministic");
        }
        std::sort(seconds.begin(), seconds.end());
        const double median = seconds[seconds.size() / 2];
        std::printf("{\"name\": \"glm4v\", \"bytes\": %zu, \"tokens\": %zu, \"runs\": %d, \"median_s\": %.6f, "
                    "\"mb_per_s\": %.3f}\n",
                    text.size(), tokens, runs, median, text.size() / median / 1e6);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 1;
    }
    return 0;
}
