// The fused kernels of decode and prefill on the GPU against the model's op-by-op code on the same device: rotary
// embedding with the KV-cache append (bit-identical), split attention against scaled_dot_product_attention, the
// prefill's RMSNorm and SwiGLU, and a whole fused decode step and fused prefill of a random NF4 model with GLM-4V's
// attention geometry against the general forward pass.
// libtorch first: its glog-style CHECK(cond) would otherwise replace Catch's and abort on failure.
#include <torch/types.h>
#undef CHECK
#include <catch2/catch.hpp>

#include "engine/cuda/decode_ops.h"
#include "engine/cuda/prefill_ops.h"
#include "engine/model/fused_decode.h"
#include "engine/model/fused_prefill.h"
#include "engine/model/language_model.h"
#include "engine/model/layers.h"
#include "engine/cuda/nf4_ops.h"
#include "engine/runtime/kv_cache.h"

#include <torch/torch.h>

#include <cstdio>

namespace kernels = glm4v::engine::cuda;
namespace model = glm4v::engine::model;
namespace quant = glm4v::engine::quant;
namespace io = glm4v::engine::io;
using glm4v::engine::runtime::KvCache;

namespace {

double relative_error(const torch::Tensor& out, const torch::Tensor& ref) {
    const torch::Tensor o = out.to(torch::kCPU, torch::kFloat64), r = ref.to(torch::kCPU, torch::kFloat64);
    REQUIRE(o.sizes() == r.sizes());
    REQUIRE(torch::isfinite(o).all().item<bool>());
    return (o - r).norm().item<double>() / r.norm().item<double>();
}

// GLM-4V-9B's attention geometry (32 heads in 2 groups of 128 dims, rotary on half of each head) in a small model.
io::LanguageConfig small_config() {
    io::LanguageConfig c;
    c.num_layers = 2;
    c.hidden_size = 512;
    c.ffn_hidden_size = 1024;
    c.kv_channels = 128;
    c.num_attention_heads = 32;
    c.num_kv_groups = 2;
    c.padded_vocab_size = 1024;
    c.seq_length = 640;
    c.layernorm_epsilon = 1.5625e-07;
    c.rope_ratio = 500;
    c.add_qkv_bias = true;
    return c;
}

model::LanguageWeights random_nf4_model(const io::LanguageConfig& c, torch::ScalarType dtype) {
    const auto on = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
    const auto linear = [&](std::int64_t out, std::int64_t in, bool bias) {
        const torch::Tensor w = torch::randn({out, in}, on) * (1.0 / std::sqrt(static_cast<double>(in)));
        return quant::Linear::nf4(kernels::nf4_quantize(w), bias ? torch::randn({out}, on) * 0.1 : torch::Tensor());
    };
    const auto norm = [&](std::int64_t n) { return torch::rand({n}, on) + 0.5; };
    model::LanguageWeights w;
    w.word_embeddings = torch::randn({c.padded_vocab_size, c.hidden_size}, on);
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
        model::GlmLayerWeights l;
        l.input_layernorm_weight = norm(c.hidden_size);
        l.query_key_value = linear(c.q_size() + 2 * c.kv_size(), c.hidden_size, true);
        l.dense = linear(c.hidden_size, c.q_size(), false);
        l.post_attention_layernorm_weight = norm(c.hidden_size);
        l.dense_h_to_4h = linear(2 * c.ffn_hidden_size, c.hidden_size, false);
        l.dense_4h_to_h = linear(c.hidden_size, c.ffn_hidden_size, false);
        w.layers.push_back(std::move(l));
    }
    w.final_layernorm_weight = norm(c.hidden_size);
    w.output_layer = linear(c.padded_vocab_size, c.hidden_size, false);
    return w;
}

} // namespace

TEST_CASE("rotary embedding with the cache append is bit-identical to the model's ops", "[cuda][decode][rope]") {
    torch::manual_seed(21);
    const io::LanguageConfig c = small_config();
    const auto D = c.kv_channels;
    for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
        for (const std::int64_t tokens : {1, 5}) { // a decode step, a prefill's rows
            INFO((dtype == torch::kBFloat16 ? "bf16" : "fp16") << ", " << tokens << " tokens");
            const auto on = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
            const torch::Tensor qkv = torch::randn({tokens, c.q_size() + 2 * c.kv_size()}, on) * 3;
            const std::int64_t row = 77;
            const torch::Tensor positions = torch::arange(1234, 1234 + tokens, on.dtype(torch::kInt64)) * 3;
            const torch::Tensor table = model::rope_table(positions, c.rotary_dims(), c.rope_ratio, dtype);
            const torch::Tensor keys = torch::randn({c.num_kv_groups, 100, D}, on);
            const torch::Tensor values = torch::randn({c.num_kv_groups, 100, D}, on);
            const torch::Tensor keys_before = keys.clone(), values_before = values.clone();
            const torch::Tensor q = kernels::rope_append(qkv, table, torch::tensor({row}, on.dtype(torch::kInt64)), keys,
                                                         values, c.num_attention_heads);

            const torch::Tensor want_q =
                model::apply_rope(qkv.narrow(1, 0, c.q_size()).view({tokens, c.num_attention_heads, D}), table);
            const torch::Tensor want_k =
                model::apply_rope(qkv.narrow(1, c.q_size(), c.kv_size()).view({tokens, c.num_kv_groups, D}), table);
            const torch::Tensor want_v = qkv.narrow(1, c.q_size() + c.kv_size(), c.kv_size()).view({tokens, c.num_kv_groups, D});
            CHECK(torch::equal(q, want_q.view({tokens * c.num_attention_heads, D})));
            CHECK(torch::equal(keys.narrow(1, row, tokens), want_k.transpose(0, 1)));
            CHECK(torch::equal(values.narrow(1, row, tokens), want_v.transpose(0, 1)));
            // Nothing else in the cache moved.
            keys_before.narrow(1, row, tokens).copy_(want_k.transpose(0, 1));
            values_before.narrow(1, row, tokens).copy_(want_v.transpose(0, 1));
            CHECK(torch::equal(keys, keys_before));
            CHECK(torch::equal(values, values_before));
        }
    }
}

TEST_CASE("the prefill's RMSNorm and SwiGLU kernels match the model's ops", "[cuda][prefill][rows]") {
    torch::manual_seed(24);
    for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
        INFO((dtype == torch::kBFloat16 ? "bf16" : "fp16"));
        const auto on = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
        const torch::Tensor x = torch::randn({37, 4096}, on) * 2, weight = torch::rand({4096}, on) + 0.5;
        const double norm_err = relative_error(kernels::rms_norm_rows(x, weight, 1.5625e-07),
                                               model::rms_norm(x, weight, 1.5625e-07));
        const torch::Tensor up = torch::randn({37, 2 * 1712}, on) * 3;
        const double swiglu_err = relative_error(kernels::swiglu_rows(up), model::swiglu(up));
        std::printf("  prefill rows %s: rms_norm rel err %.3e, swiglu rel err %.3e\n",
                    dtype == torch::kBFloat16 ? "bf16" : "fp16", norm_err, swiglu_err);
        // Only the order of the fp32 sum of squares, and expf's last bit, may differ from libtorch's.
        CHECK(norm_err < 1e-3);
        CHECK(swiglu_err < 1e-3);
    }
}

TEST_CASE("split decode attention matches scaled_dot_product_attention over the used rows", "[cuda][decode][attention]") {
    torch::manual_seed(22);
    const std::int64_t heads = 32, groups = 2, D = 128;
    // 8192 rows, GLM-4V's context; 16448 rows are 257 slices, more than the combine's threads.
    for (const auto& [dtype, capacity] : {std::pair{torch::kBFloat16, 8192}, std::pair{torch::kFloat16, 8192},
                                          std::pair{torch::kBFloat16, 16448}}) {
        const auto on = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
        const torch::Tensor keys = torch::randn({groups, capacity, D}, on);
        const torch::Tensor values = torch::randn({groups, capacity, D}, on);
        for (const std::int64_t length : {1, 2, 31, 33, 1628, 2049, 4096, 8192, 16448}) {
            if (length > capacity) continue;
            INFO((dtype == torch::kBFloat16 ? "bf16" : "fp16") << ", " << length << " rows");
            const torch::Tensor q = torch::randn({heads, D}, on) * 2;
            const torch::Tensor got =
                kernels::decode_attention(q, keys, values, torch::tensor({length - 1}, on.dtype(torch::kInt64)));
            const auto k = keys.narrow(1, 0, length).repeat_interleave(heads / groups, 0);
            const auto v = values.narrow(1, 0, length).repeat_interleave(heads / groups, 0);
            const auto want = torch::scaled_dot_product_attention(q.to(torch::kFloat32).unsqueeze(1).unsqueeze(0),
                                                                  k.to(torch::kFloat32).unsqueeze(0),
                                                                  v.to(torch::kFloat32).unsqueeze(0))
                                  .reshape({1, heads * D});
            const double err = relative_error(got, want);
            std::printf("  decode attention %s %5lld rows: rel err %.3e\n", dtype == torch::kBFloat16 ? "bf16" : "fp16",
                        static_cast<long long>(length), err);
            CHECK(err < (dtype == torch::kBFloat16 ? 8e-3 : 1e-3));
        }
    }
}

TEST_CASE("the fused decode step matches the general forward pass", "[cuda][decode][fused]") {
    c10::InferenceMode inference;
    torch::manual_seed(23);
    const io::LanguageConfig c = small_config();
    for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
        INFO((dtype == torch::kBFloat16 ? "bf16" : "fp16"));
        const auto on = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
        const model::LanguageWeights w = random_nf4_model(c, dtype);
        REQUIRE(model::fused_decode_supported(w, c, dtype));
        KvCache general(c.num_layers, c.seq_length, c.num_kv_groups, c.kv_channels, on);
        KvCache fused(c.num_layers, c.seq_length, c.num_kv_groups, c.kv_channels, on);
        const torch::Tensor prompt = torch::randn({300, c.hidden_size}, on);
        const torch::Tensor positions = torch::arange(300, on.dtype(torch::kInt64));
        model::language_forward(w, c, prompt, positions, general);
        model::language_forward(w, c, prompt, positions, fused);
        for (int step = 0; step < 4; ++step) {
            INFO("step " << step);
            const torch::Tensor x = torch::randn({1, c.hidden_size}, on);
            const auto position = torch::tensor({400 + step}, on.dtype(torch::kInt64)); // positions ahead of rows
            const auto want = model::language_logits(w, model::language_forward(w, c, x, position, general));
            const auto got = model::language_decode_step_fused(w, c, x, position,
                                                               torch::tensor({fused.length()}, on.dtype(torch::kInt64)), fused);
            fused.commit(1);
            const double err = relative_error(got, want);
            std::printf("  fused decode step %s, step %d: logits rel err %.3e\n",
                        dtype == torch::kBFloat16 ? "bf16" : "fp16", step, err);
            CHECK(err < (dtype == torch::kBFloat16 ? 3e-2 : 5e-3));
            for (std::int64_t layer = 0; layer < c.num_layers; ++layer) {
                const auto rows = general.length();
                CHECK(relative_error(fused.keys(layer).narrow(1, 0, rows), general.keys(layer).narrow(1, 0, rows)) < 1e-2);
                CHECK(relative_error(fused.values(layer).narrow(1, 0, rows), general.values(layer).narrow(1, 0, rows)) < 1e-2);
            }
        }
    }
}

TEST_CASE("the fused prefill matches the general forward pass", "[cuda][prefill][fused]") {
    c10::InferenceMode inference;
    torch::manual_seed(25);
    const io::LanguageConfig c = small_config();
    for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
        const auto on = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
        const model::LanguageWeights w = random_nf4_model(c, dtype);
        REQUIRE(model::fused_decode_supported(w, c, dtype));
        KvCache general(c.num_layers, c.seq_length, c.num_kv_groups, c.kv_channels, on);
        KvCache fused(c.num_layers, c.seq_length, c.num_kv_groups, c.kv_channels, on);
        std::int64_t position = 0;
        // An image-sized prompt, a follow-up question, a row the GEMV takes, one row.
        for (const std::int64_t rows : {300, 25, 6, 1}) {
            INFO((dtype == torch::kBFloat16 ? "bf16" : "fp16") << ", " << rows << " rows");
            const torch::Tensor x = torch::randn({rows, c.hidden_size}, on);
            const torch::Tensor positions = torch::arange(position, position + rows, on.dtype(torch::kInt64));
            position += rows + 3; // positions need not be rows
            const auto want = model::language_forward(w, c, x, positions, general);
            const auto got = model::language_forward_fused(w, c, x, positions, fused);
            REQUIRE(fused.length() == general.length());
            const double err = relative_error(got, want);
            std::printf("  fused prefill %s, %3lld rows: hidden rel err %.3e\n",
                        dtype == torch::kBFloat16 ? "bf16" : "fp16", static_cast<long long>(rows), err);
            CHECK(err < (dtype == torch::kBFloat16 ? 2e-2 : 3e-3));
            for (std::int64_t layer = 0; layer < c.num_layers; ++layer) {
                const auto n = general.length();
                CHECK(relative_error(fused.keys(layer).narrow(1, 0, n), general.keys(layer).narrow(1, 0, n)) < 1e-2);
                CHECK(relative_error(fused.values(layer).narrow(1, 0, n), general.values(layer).narrow(1, 0, n)) < 1e-2);
            }
        }
    }
}
