// NF4 weights on the CPU, end to end on the golden tiny model: quantized as it loads, written to the quantized
// cache file and read back from it, the cache rebuilt when the source changes or the file is damaged, and a
// checkpoint saved by bitsandbytes in 4-bit loaded directly (bitsandbytes, through GLM4V_PYTHON, is the oracle).
#include <catch2/catch.hpp>

#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model/glm4v.h"
#include "engine/runtime/chat.h"
#include "engine/io/safetensors.h"
#include "engine/io/tensor.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using namespace glm4v::engine;
using model::WeightFormat;

namespace {
fs::path golden_case() {
    const auto dirs = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(dirs.empty());
    return dirs.front();
}

std::shared_ptr<const model::Glm4v> load(const fs::path& dir, WeightFormat format, const fs::path& cache = {}) {
    model::LoadOptions options;
    options.device = "cpu";
    options.dtype = torch::kFloat32;
    options.weights = format;
    options.cache_dir = cache.string();
    return model::Glm4v::load(dir.string(), options);
}

struct Outputs {
    torch::Tensor vision;
    torch::Tensor logits;
    std::vector<std::int64_t> tokens;
};

// The vision features of the golden pixels, then every logit row of a short greedy conversation about them.
Outputs outputs_of(const std::shared_ptr<const model::Glm4v>& m) {
    const io::SafetensorsFile golden = io::SafetensorsFile::open((golden_case() / "golden.safetensors").string());
    Outputs o;
    o.vision = m->encode_image(io::to_tensor(*golden.find("pixel_values")));
    runtime::Chat chat(m);
    const torch::Tensor f = o.vision.to(torch::kFloat32).contiguous();
    chat.set_image_embeddings(std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel()));
    std::vector<torch::Tensor> rows;
    chat.set_logits_observer([&](const at::Tensor& l) { rows.push_back(l.clone()); });
    runtime::GenerationOptions greedy;
    greedy.temperature = 0;
    greedy.ignore_eos = true;
    greedy.max_new_tokens = 6;
    const auto reply = chat.ask("Describe this image.", greedy, {});
    o.logits = torch::cat(rows);
    o.tokens.assign(reply.token_ids.begin(), reply.token_ids.end());
    return o;
}

double relative(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).norm().item<double>() / b.to(torch::kFloat64).norm().item<double>();
}

std::vector<fs::path> cache_files(const fs::path& dir) {
    std::vector<fs::path> files;
    if (fs::exists(dir))
        for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

// `python bnb_checkpoint.py ARGS...`, its JSON output.
nlohmann::json bnb_oracle(const std::string& python, const std::vector<std::string>& args) {
    std::string command = python + " '" + std::getenv("GLM4V_SOURCE_DIR") + "/tests/engine/bnb_checkpoint.py'";
    for (const auto& a : args) command += " '" + a + "'";
    std::string out;
    REQUIRE(glm4v::test::run_command(command, &out) == 0);
    return nlohmann::json::parse(out);
}

fs::path copy_model(const fs::path& to) {
    fs::copy(golden_case() / "model", to);
    for (const auto& e : fs::directory_iterator(to)) fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    return to;
}
} // namespace

TEST_CASE("an NF4 load quantizes every linear layer, writes the cache, and the next load reads it identically",
          "[nf4][model][cache]") {
    glm4v::test::ScratchDir scratch;
    const fs::path model_dir = golden_case() / "model";
    const fs::path cache = scratch / "cache";

    const auto first = load(model_dir, WeightFormat::Nf4, cache);
    CHECK(first->weight_format() == WeightFormat::Nf4);
    CHECK(first->weights_source() == model_dir.string());
    for (const auto& layer : first->language().layers) {
        CHECK(layer.query_key_value.is_nf4());
        CHECK(layer.dense_4h_to_h.is_nf4());
    }
    CHECK(first->language().output_layer.is_nf4());
    CHECK(first->vision().layers.front().fc1.is_nf4());
    const auto files = cache_files(cache);
    REQUIRE(files.size() == 1); // the cache file, and no temporary left behind
    CHECK(files[0].filename().string().rfind("model-", 0) == 0);
    CHECK(files[0].extension() == ".safetensors");

    const auto second = load(model_dir, WeightFormat::Nf4, cache);
    CHECK(second->weights_source() == files[0].string());
    CHECK(second->fingerprint() == first->fingerprint()); // cached image embeddings stay valid
    const Outputs a = outputs_of(first), b = outputs_of(second);
    CHECK(torch::equal(a.vision, b.vision));
    CHECK(torch::equal(a.logits, b.logits));
    CHECK(a.tokens == b.tokens);

    // The quantization is real: close to the dense model, not equal to it.
    const auto dense = load(model_dir, WeightFormat::Dense);
    CHECK(dense->fingerprint() != first->fingerprint());
    const Outputs d = outputs_of(dense);
    const double vision_err = relative(a.vision, d.vision), logits_err = relative(a.logits, d.logits);
    std::printf("NF4 against dense on the tiny model: vision rel err %.3g, logits rel err %.3g\n", vision_err, logits_err);
    CHECK(vision_err > 1e-3);
    CHECK(vision_err < 0.5);
    CHECK(logits_err > 1e-3);
    CHECK(logits_err < 0.6); // random tiny weights quantize worse than trained ones

    // bitsandbytes reads our cache file as a 4-bit checkpoint, and finds its own quantization of each weight.
    const std::string python = glm4v::test::oracle_python();
    if (python.empty()) {
        WARN("GLM4V_PYTHON is not set: bitsandbytes did not read the cache file");
        return;
    }
    const auto read = bnb_oracle(python, {"read", files[0].string(), model_dir.string()});
    CHECK(read.at("weights").get<int>() == 21); // every linear layer of the tiny model
    CHECK(read.at("identical") == read.at("weights"));
}

TEST_CASE("the quantized cache is rebuilt when the source changes or the file is damaged", "[nf4][model][cache]") {
    glm4v::test::ScratchDir scratch;
    const fs::path model_dir = copy_model(scratch / "model");
    const fs::path cache = scratch / "cache";
    const Outputs reference = outputs_of(load(model_dir, WeightFormat::Nf4, cache));
    const auto old_files = cache_files(cache);
    REQUIRE(old_files.size() == 1);

    // A changed shard (here only its time stamp) is another source: a new cache, the old one gone.
    const fs::path shard = model_dir / "model-00001-of-00002.safetensors";
    fs::last_write_time(shard, fs::last_write_time(shard) + std::chrono::seconds(5));
    const auto changed = load(model_dir, WeightFormat::Nf4, cache);
    CHECK(changed->weights_source() == model_dir.string());
    const auto new_files = cache_files(cache);
    REQUIRE(new_files.size() == 1);
    CHECK(new_files[0] != old_files[0]);

    // A damaged cache file (cut short, as a failing disk might leave it) is removed and rebuilt, never used.
    const std::string bytes = glm4v::test::read_file(new_files[0]);
    glm4v::test::write_file(new_files[0], bytes.substr(0, bytes.size() / 2));
    // A temporary of a writer that died mid-write is cleaned up too.
    glm4v::test::write_file(new_files[0].string() + ".tmp-999999999", "partial");
    const auto rebuilt = load(model_dir, WeightFormat::Nf4, cache);
    CHECK(rebuilt->weights_source() == model_dir.string());
    REQUIRE(cache_files(cache) == new_files);
    CHECK(glm4v::test::read_file(new_files[0]).size() == bytes.size());
    const Outputs again = outputs_of(load(model_dir, WeightFormat::Nf4, cache));
    CHECK(torch::equal(again.logits, reference.logits));
}

TEST_CASE("a checkpoint saved by bitsandbytes in 4-bit loads directly", "[nf4][model][bnb]") {
    const std::string python = glm4v::test::oracle_python();
    if (python.empty()) {
        WARN("GLM4V_PYTHON is not set: no bitsandbytes checkpoint to load");
        return;
    }
    glm4v::test::ScratchDir scratch;
    const fs::path bnb_dir = scratch / "bnb-4bit";
    REQUIRE(bnb_oracle(python, {"save", (golden_case() / "model").string(), bnb_dir.string()}).at("linear_weights") == 21);

    // Asked for dense weights, it is still NF4: that is what the file holds. No cache file is written for it.
    const fs::path cache = scratch / "cache";
    const auto bnb = load(bnb_dir, WeightFormat::Dense, cache);
    CHECK(bnb->weight_format() == WeightFormat::Nf4);
    CHECK(bnb->language().layers.front().dense_h_to_4h.is_nf4());
    CHECK(bnb->language().layers.front().dense_h_to_4h.nf4_weight().double_quant()); // every other layer
    CHECK_FALSE(bnb->language().layers.front().dense_4h_to_h.nf4_weight().double_quant());
    CHECK(cache_files(cache).empty());

    // Against our own quantization of the original: the same codes, and absmax the same or (double-quantized)
    // within the 8-bit error of its second quantization.
    const Outputs ours = outputs_of(load(golden_case() / "model", WeightFormat::Nf4));
    const Outputs theirs = outputs_of(bnb);
    const double vision_err = relative(theirs.vision, ours.vision), logits_err = relative(theirs.logits, ours.logits);
    std::printf("bitsandbytes 4-bit checkpoint against our NF4: vision rel err %.3g, logits rel err %.3g\n", vision_err,
                logits_err);
    CHECK(vision_err < 2e-2);
    CHECK(logits_err < 2e-2);
}

TEST_CASE("a 4-bit checkpoint with a foreign code book is refused with a message", "[nf4][model][bnb]") {
    const std::string python = glm4v::test::oracle_python();
    if (python.empty()) return;
    glm4v::test::ScratchDir scratch;
    const fs::path bnb_dir = scratch / "bnb-4bit";
    bnb_oracle(python, {"save", (golden_case() / "model").string(), bnb_dir.string()});
    // Rewrite one layer's code book in place: same file layout, different meaning.
    const fs::path file = bnb_dir / "model.safetensors";
    const io::SafetensorsFile st = io::SafetensorsFile::open(file.string());
    const auto* map = st.find("transformer.encoder.layers.0.mlp.dense_4h_to_h.weight.quant_map");
    REQUIRE(map != nullptr);
    std::string bytes = glm4v::test::read_file(file);
    const std::size_t at = static_cast<std::size_t>(map->data - map->file->data());
    const float changed = 0.25f;
    std::memcpy(&bytes[at + 4 * 3], &changed, 4);
    glm4v::test::write_file(file, bytes);
    try {
        load(bnb_dir, WeightFormat::Nf4);
        FAIL("a foreign code book was accepted");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Unsupported);
        CHECK_THAT(e.what(), Catch::Contains("dense_4h_to_h.weight' quant_map differs from the NF4 tables at entry 3"));
    }
}
