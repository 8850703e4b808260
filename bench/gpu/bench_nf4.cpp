// Microbenchmarks of the NF4 and decode kernels on the real GLM-4V-9B shapes with random weights (DESIGN.md section
// 8). Prints one JSON object: the card's device-to-device copy bandwidth, then each kernel's median time and the
// bandwidth it achieved, beside the floor (bytes it must move / copy bandwidth), a copy of as many bytes and a kernel
// that only reads them; then one decoded token's time by layer kind, each op of the fused decode step
// (model/fused_decode.h) timed alone at its real shape. GEMVs and decode ops are timed inside a CUDA graph
// (gpu_timing.h graph_ms), as the decode step runs them; dequantize, eagerly.
//
//   bench_nf4 [--reps N] [--shape NAME] [--splits N] [--timeline PATH] [--qkv-gemv-out N]
//
// --shape times that shape's kernels alone and nothing else: what `gpu_check.sh ncu` profiles. --splits makes every
// GEMV split its k in N parts, not as many as the launch plan picks (`gpu_check.sh bench-splits`). --timeline writes
// when each block of a token's kernels ran, in a build with GLM4V_KERNEL_TIMELINE (`gpu_check.sh bench-timeline`).
// --qkv-gemv-out gives the decode kinds' QKV GEMV N output rows instead of 4608 (its input and the rotary kernel's are
// unchanged): 4224 is one stripe for each block of an H100's grid, which times what qkv's 24 stripes past that cost
// in the token's sequence.
#include "bench/gpu/gpu_timing.h"
#include "engine/cuda/decode_ops.h"
#include "engine/cuda/nf4_kernels.h"
#include "engine/cuda/nf4_ops.h"
#include "engine/model/layers.h"
#include "engine/quant/nf4.h"

#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace quant = glm4v::engine::quant;
namespace kernels = glm4v::engine::cuda;
using glm4v::bench::median_ms;

namespace {

quant::Nf4Weight random_weight(std::int64_t out, std::int64_t in, const torch::Device& device) {
    quant::Nf4Weight w;
    w.out_features = out;
    w.in_features = in;
    w.blocksize = 64;
    const auto u8 = torch::TensorOptions().dtype(torch::kUInt8).device(device);
    w.packed = torch::randint(0, 256, {out * in / 2}, u8);
    w.absmax = torch::rand({w.blocks()}, torch::TensorOptions().device(device)) * 0.05 + 0.005;
    return w;
}

struct Shape {
    const char* name;
    std::int64_t out, in;
    int per_token; // how many times one decoded token runs it (language layers x 40); 0 for vision/projector
};

// The blocks of three tokens' sequences replayed as one graph, as CSV (tools/kernel_timeline.py reads it): the kernel
// timeline of a build with GLM4V_KERNEL_TIMELINE; in another build, an error.
void write_timeline(const std::function<void(int)>& token, const char* path) {
#ifdef GLM4V_KERNEL_TIMELINE
    const auto spans = glm4v::bench::graph_timeline(token, 3);
    std::FILE* f = std::fopen(path, "w");
    if (!f) {
        std::fprintf(stderr, "bench_nf4: cannot write %s\n", path);
        std::exit(1);
    }
    std::fprintf(f, "kind,a,b,block,blocks,sm,start,waited,staged,summed,end\n");
    using ull = unsigned long long;
    for (const kernels::KernelSpan& s : spans)
        std::fprintf(f, "%u,%u,%u,%u,%u,%u,%llu,%llu,%llu,%llu,%llu\n", s.kind, s.a, s.b, s.block, s.blocks, s.sm,
                     static_cast<ull>(s.start), static_cast<ull>(s.waited), static_cast<ull>(s.staged),
                     static_cast<ull>(s.summed), static_cast<ull>(s.end));
    std::fclose(f);
#else
    (void)token;
    std::fprintf(stderr, "bench_nf4: --timeline %s needs a build with -DGLM4V_KERNEL_TIMELINE=ON\n", path);
    std::exit(1);
#endif
}

// One decoded token by layer kind: each op of the fused decode step alone, at GLM-4V-9B's shapes with a 1628-row
// context (an image and a question), rotating among copies so nothing is found in L2, times its runs per token.
void print_layer_kinds(int reps, std::int64_t l2, std::int64_t qkv_gemv_out, const char* timeline_path) {
    const torch::Device cuda(torch::kCUDA);
    const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(cuda);
    const std::int64_t hidden = 4096, ffn = 13696, qkv_out = 4608, heads = 32, groups = 2, head_dim = 128;
    const std::int64_t capacity = 8192, context = 1628;
    const auto copies_of = [&](std::int64_t bytes) {
        return static_cast<int>(std::max<std::int64_t>(2, (4 * l2 + bytes - 1) / bytes));
    };
    const auto weights = [&](std::int64_t out, std::int64_t in) {
        std::vector<quant::Nf4Weight> ws;
        const int n = copies_of(out * in * 9 / 16);
        for (int i = 0; i < n; ++i) ws.push_back(random_weight(out, in, cuda));
        return ws;
    };
    const auto qkv_w = weights(qkv_gemv_out, hidden), dense_w = weights(hidden, hidden),
               up_w = weights(2 * ffn, hidden), down_w = weights(hidden, ffn), head_w = weights(151552, hidden);
    const torch::Tensor h = torch::randn({1, hidden}, bf16), norm = torch::rand({hidden}, bf16) + 0.5;
    const torch::Tensor qkv_bias = torch::randn({qkv_gemv_out}, bf16) * 0.1;
    const torch::Tensor activated = torch::randn({1, ffn}, bf16);
    const torch::Tensor qkv = torch::randn({1, qkv_out}, bf16), attended = torch::randn({1, hidden}, bf16);
    const torch::Tensor residual = torch::randn({1, hidden}, bf16);
    const torch::Tensor table =
        glm4v::engine::model::rope_table(torch::tensor({context}, bf16.dtype(torch::kInt64)), 64, 500, torch::kBFloat16);
    const torch::Tensor row = torch::tensor({context - 1}, bf16.dtype(torch::kInt64));
    std::vector<torch::Tensor> keys, values;
    for (int i = 0; i < copies_of(2 * groups * capacity * head_dim * 2); ++i) {
        keys.push_back(torch::randn({groups, capacity, head_dim}, bf16));
        values.push_back(torch::randn({groups, capacity, head_dim}, bf16));
    }
    const torch::Tensor q = torch::randn({heads, head_dim}, bf16);

    using Input = kernels::Nf4GemvOptions::Input;
    const auto normed = [&](const torch::Tensor& bias) {
        kernels::Nf4GemvOptions o;
        o.input = Input::RmsNorm;
        o.norm_weight = norm;
        o.eps = 1.5625e-07;
        o.bias = bias;
        return o;
    };
    const auto added = [&] {
        kernels::Nf4GemvOptions o;
        o.residual = residual;
        o.out = residual;
        return o;
    };
    kernels::Nf4GemvOptions swiglu_out = normed({});
    swiglu_out.swiglu_output = true;
    struct Kind {
        const char* name;
        int per_token;
        std::function<void(int)> run;
    };
    const Kind kinds[] = {
        {"qkv: RMSNorm + GEMV + bias", 40, [&](int i) { kernels::nf4_gemv(h, qkv_w[i % qkv_w.size()], normed(qkv_bias)); }},
        {"rotary + KV append", 40, [&](int i) { kernels::rope_append(qkv, table, row, keys[i % keys.size()], values[i % keys.size()], heads); }},
        {"attention, 1628 rows", 40, [&](int i) { kernels::decode_attention(q, keys[i % keys.size()], values[i % keys.size()], row); }},
        {"dense: GEMV + residual", 40, [&](int i) { kernels::nf4_gemv(attended, dense_w[i % dense_w.size()], added()); }},
        {"h_to_4h: RMSNorm + GEMV + SwiGLU", 40, [&](int i) { kernels::nf4_gemv(h, up_w[i % up_w.size()], swiglu_out); }},
        {"4h_to_h: GEMV + residual", 40, [&](int i) { kernels::nf4_gemv(activated, down_w[i % down_w.size()], added()); }},
        {"output layer: RMSNorm + GEMV", 1, [&](int i) { kernels::nf4_gemv(h, head_w[i % head_w.size()], normed({})); }},
    };
    std::printf("  \"decode_layer_kinds\": [\n");
    double total = 0;
    for (std::size_t k = 0; k < std::size(kinds); ++k) {
        const double us = glm4v::bench::graph_ms(kinds[k].run, reps) * 1e3 * kinds[k].per_token;
        total += us;
        std::printf("    {\"kind\": \"%s\", \"runs_per_token\": %d, \"us_per_token\": %.1f}%s\n", kinds[k].name,
                    kinds[k].per_token, us, k + 1 < std::size(kinds) ? "," : "");
    }
    std::printf("  ],\n  \"decode_layer_kinds_total_ms\": %.3f,\n", total / 1e3);

    // The same ops in decode's order, a whole token at a time (40 layers, then the output layer), and again without
    // each kind: what a kind costs inside the sequence, where each kernel's start overlaps the previous one's end,
    // which timing it alone cannot show.
    const std::size_t layer_kinds = std::size(kinds) - 1;
    const auto token = [&](int t, std::size_t skip) {
        for (int layer = 0; layer < 40; ++layer)
            for (std::size_t k = 0; k < layer_kinds; ++k)
                if (k != skip) kinds[k].run(t * 40 + layer);
        if (skip != layer_kinds) kinds[layer_kinds].run(t);
    };
    const auto token_ms = [&](std::size_t skip) {
        return glm4v::bench::graph_ms([&](int t) { token(t, skip); }, std::max(2, reps / 10));
    };
    const double whole = token_ms(std::size(kinds));
    std::printf("  \"decode_token_sequence_ms\": %.3f,\n  \"decode_layer_kinds_in_sequence\": [\n", whole);
    for (std::size_t k = 0; k < std::size(kinds); ++k)
        std::printf("    {\"kind\": \"%s\", \"us_per_token\": %.1f}%s\n", kinds[k].name,
                    (whole - token_ms(k)) * 1e3, k + 1 < std::size(kinds) ? "," : "");
    std::printf("  ]\n");
    if (timeline_path) write_timeline([&](int t) { token(t, std::size(kinds)); }, timeline_path);
}

} // namespace

int main(int argc, char** argv) {
    int reps = 50;
    const char* only_shape = nullptr;
    const char* timeline_path = nullptr;
    std::int64_t qkv_gemv_out = 4608;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--shape") == 0) only_shape = argv[i + 1];
        if (std::strcmp(argv[i], "--splits") == 0) kernels::nf4_gemv_force_splits(std::atoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--timeline") == 0) timeline_path = argv[i + 1];
        if (std::strcmp(argv[i], "--qkv-gemv-out") == 0) qkv_gemv_out = std::atoll(argv[i + 1]);
    }
    if (!torch::cuda::is_available()) {
        std::puts("{\"error\": \"no CUDA device\"}");
        return 77;
    }
    const torch::Device cuda(torch::kCUDA);
    cudaDeviceProp prop{};
    glm4v::bench::cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    torch::manual_seed(0);

    // The ceilings, measured in this run.
    const double copy_gbs = glm4v::bench::copy_gb_per_s();
    const double matmul_tflops = glm4v::bench::bf16_matmul_tflop_per_s();

    const Shape shapes[] = {
        {"language qkv", 4608, 4096, 40},      {"language dense", 4096, 4096, 40},
        {"language h_to_4h", 27392, 4096, 40}, {"language 4h_to_h", 4096, 13696, 40},
        {"output layer", 151552, 4096, 1},     {"vision qkv", 5376, 1792, 0},
        {"vision dense", 1792, 1792, 0},       {"vision fc1", 15360, 1792, 0},
        {"vision fc2", 1792, 15360, 0},        {"projector h_to_4h", 13696, 4096, 0},
        {"projector 4h_to_h", 4096, 13696, 0},
        // A GEMV of one 64-wide step a stripe, a stripe for every block of an H200's grid: almost only what any GEMV
        // pays beside its bytes (its start behind the previous kernel, table, x', one step, the sums' reduction).
        {"fixed cost, k 64", 264 * 16, 64, 0},
        // qkv's k with one stripe a block of that grid, so every SM holds dense's share where qkv's 288 stripes leave
        // 24 SMs three: the direct test of tools/gemv_model.py's busiest-SM term.
        {"qkv k, a stripe a block", 264 * 16, 4096, 0},
    };
    const std::int64_t l2 = prop.l2CacheSize;

    std::printf("{\n  \"device\": \"%s\", \"sms\": %d, \"l2_bytes\": %lld, \"reps\": %d,\n", prop.name,
                prop.multiProcessorCount, static_cast<long long>(l2), reps);
    std::printf("  \"copy_d2d\": {\"gb_per_s\": %.1f}, \"bf16_matmul\": {\"tflop_per_s\": %.1f},\n", copy_gbs,
                matmul_tflops);
    std::printf("  \"kernels\": [\n");
    double decode_ms = 0, decode_floor_ms = 0;
    bool first = true;
    for (const Shape& s : shapes) {
        if (only_shape && std::strcmp(only_shape, s.name) != 0) continue;
        const std::int64_t weight_bytes = s.out * s.in / 2 + s.out * s.in / 64 * 4;
        // Rotate among enough copies that the working set is at least 4x L2: no run finds its weight cached.
        const int copies = static_cast<int>(std::max<std::int64_t>(1, (4 * l2 + weight_bytes - 1) / weight_bytes));
        std::vector<quant::Nf4Weight> ws;
        for (int i = 0; i < copies; ++i) ws.push_back(random_weight(s.out, s.in, cuda));
        const auto emit = [&](const std::string& kernel, int rows, double ms, std::int64_t bytes) {
            const double floor_ms = bytes / (copy_gbs * 1e9) * 1e3;
            std::printf("%s    {\"shape\": \"%s\", \"out\": %lld, \"in\": %lld, \"kernel\": \"%s\", \"rows\": %d, "
                        "\"ms\": %.5f, \"bytes\": %lld, \"gb_per_s\": %.1f, \"floor_ms\": %.5f, \"of_copy\": %.3f}",
                        first ? "" : ",\n", s.name, static_cast<long long>(s.out), static_cast<long long>(s.in),
                        kernel.c_str(), rows, ms, static_cast<long long>(bytes), bytes / (ms * 1e-3) / 1e9, floor_ms,
                        floor_ms / ms);
            first = false;
        };
        for (const int rows : {1, 4, 8}) {
            if (rows != 1 && s.per_token == 0 && s.out != 4608) continue; // batch rows: a few shapes suffice
            const torch::Tensor x =
                torch::randn({rows, s.in}, torch::TensorOptions().dtype(torch::kBFloat16).device(cuda));
            const std::int64_t bytes = weight_bytes + rows * s.in * 2 + rows * s.out * 2;
            const double ms = glm4v::bench::graph_ms([&](int i) { kernels::nf4_gemv(x, ws[i % copies]); }, reps);
            emit("nf4_gemv_bf16", rows, ms, bytes);
            if (rows == 1) decode_ms += ms * s.per_token;
            if (rows == 1) decode_floor_ms += s.per_token * bytes / (copy_gbs * 1e9) * 1e3;
        }
        // A device-to-device copy that reads and writes as many bytes as the rows-1 GEMV moves, timed the same way:
        // what a kernel of this size reaches at all, its launch and latency included, against the 2 GiB copy's ceiling.
        {
            const std::int64_t half = (weight_bytes + s.in * 2 + s.out * 2) / 2;
            const torch::Tensor dst = torch::empty({half}, torch::TensorOptions().dtype(torch::kUInt8).device(cuda));
            const double ms = glm4v::bench::graph_ms( // the stream is the capture's, inside graph_ms
                [&](int i) {
                    glm4v::bench::cuda_check(cudaMemcpyAsync(dst.data_ptr(), ws[i % copies].packed.data_ptr(), half,
                                                             cudaMemcpyDeviceToDevice,
                                                             c10::cuda::getCurrentCUDAStream().stream()),
                                             "cudaMemcpyAsync");
                },
                reps);
            emit("copy_same_bytes", 0, ms, 2 * half);
        }
        // A kernel that only reads the rows-1 GEMV's bytes: the most a GEMV of this shape can reach, whatever its
        // arithmetic. Launched one after another, and overlapped as the GEMV is; each the best of a few grids and
        // loads in flight, each run from its own copy's bytes, so not from L2.
        {
            const std::int64_t bytes = (weight_bytes + s.in * 2 + s.out * 2 + 15) / 16 * 16;
            const torch::Tensor src =
                torch::empty({copies * bytes}, torch::TensorOptions().dtype(torch::kUInt8).device(cuda));
            const torch::Tensor sink = torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt32).device(cuda));
            for (const bool overlapped : {false, true}) {
                double best = 1e30;
                for (const int blocks_per_sm : {2, 4, 8})
                    for (const int loads : {4, 8}) {
                        const glm4v::bench::ReadPlan plan{blocks_per_sm, loads, overlapped};
                        best = std::min(best, glm4v::bench::graph_ms(
                                                  [&](int i) {
                                                      glm4v::bench::read_bytes(
                                                          static_cast<const std::uint8_t*>(src.data_ptr()) +
                                                              (i % copies) * bytes,
                                                          bytes, static_cast<unsigned*>(sink.data_ptr()), plan,
                                                          c10::cuda::getCurrentCUDAStream().stream());
                                                  },
                                                  reps));
                    }
                emit(overlapped ? "read_same_bytes_overlapped" : "read_same_bytes", 0, best, bytes);
            }
        }
        // Dequantize to bf16 (prefill): reads the weight, writes 2 bytes per element.
        const std::int64_t dq_bytes = weight_bytes + s.out * s.in * 2;
        const double dq_ms = median_ms([&](int i) { kernels::nf4_dequantize(ws[i % copies], torch::kBFloat16); }, reps);
        emit("nf4_dequant_bf16", 0, dq_ms, dq_bytes);
    }
    std::printf("\n  ],\n");
    std::printf("  \"decode_token_weights\": {\"gemv_ms\": %.3f, \"floor_ms\": %.3f, \"tokens_per_s_bound\": %.1f}%s\n",
                decode_ms, decode_floor_ms, 1e3 / decode_ms, only_shape ? "" : ",");
    if (!only_shape) print_layer_kinds(reps, l2, qkv_gemv_out, timeline_path);
    std::printf("}\n");
    return 0;
}
