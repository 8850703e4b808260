// Model folder discovery: what is there, and for the "no model" screen, exactly what is not.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>

#include "engine/io/model_dir.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::ErrorKind;
using glm4v::engine::io::missing_model_files;
using glm4v::engine::io::ModelDir;
using glm4v::engine::io::open_model_dir;
using glm4v::test::ScratchDir;
using glm4v::test::write_file;
using nlohmann::json;

namespace {
constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
constexpr const char* kShard2 = "model-00002-of-00002.safetensors";

// Everything but the weights; discovery looks at names only, never at what the files hold.
void write_small_files(const ScratchDir& dir) {
    for (const char* name : {"config.json", "tokenizer.model", "tokenizer_config.json"})
        write_file(dir / name, "x");
}

void write_index(const ScratchDir& dir) {
    write_file(dir / "model.safetensors.index.json",
               json{{"weight_map", {{"a", kShard1}, {"b", kShard2}, {"c", kShard2}}}}.dump());
}
} // namespace

TEST_CASE("every golden model folder is complete and found as it is laid out", "[io][model_dir][golden]") {
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    for (const fs::path& case_dir : cases) {
        const fs::path model = case_dir / "model";
        INFO(model.string());
        CHECK(missing_model_files(model).empty());
        const ModelDir m = open_model_dir(model);
        CHECK(m.dir == model);
        CHECK(m.config == model / "config.json");
        CHECK(m.tokenizer_model == model / "tokenizer.model");
        CHECK(m.tokenizer_config == model / "tokenizer_config.json");
        CHECK(m.weights == model / "model.safetensors.index.json");
        const json index = json::parse(glm4v::test::read_file(m.weights));
        std::set<fs::path> shards;
        for (const auto& [tensor, shard] : index.at("weight_map").items())
            shards.insert(model / shard.get<std::string>());
        CHECK(m.weight_files == std::vector<fs::path>(shards.begin(), shards.end()));
        CHECK(m.generation_config == std::optional<fs::path>(model / "generation_config.json"));
    }
}

TEST_CASE("an empty folder lists every file the user must add, and where", "[io][model_dir]") {
    const ScratchDir dir;
    CHECK(missing_model_files(dir.path()) ==
          std::vector<std::string>{"config.json", "tokenizer.model", "tokenizer_config.json",
                                   "model.safetensors.index.json (or model.safetensors)"});
    const auto e = glm4v::test::error_from([&] { open_model_dir(dir.path()); });
    CHECK(e.kind() == ErrorKind::ModelMissing);
    CHECK(std::string(e.what()) == "The model folder " + dir.path().string() +
                                       " is missing config.json, tokenizer.model, tokenizer_config.json and "
                                       "model.safetensors.index.json (or model.safetensors).");
}

TEST_CASE("a folder missing one shard names only that shard", "[io][model_dir]") {
    const ScratchDir dir;
    write_small_files(dir);
    write_index(dir);
    write_file(dir / kShard1, "x");
    CHECK(missing_model_files(dir.path()) == std::vector<std::string>{kShard2});
    const auto e = glm4v::test::error_from([&] { open_model_dir(dir.path()); });
    CHECK(e.kind() == ErrorKind::ModelMissing);
    CHECK(std::string(e.what()) == "The model folder " + dir.path().string() + " is missing " + kShard2 + ".");
}

TEST_CASE("a folder missing the tokenizer and a shard names both", "[io][model_dir]") {
    const ScratchDir dir;
    write_small_files(dir);
    fs::remove(dir / "tokenizer.model");
    write_index(dir);
    write_file(dir / kShard2, "x");
    const auto e = glm4v::test::error_from([&] { open_model_dir(dir.path()); });
    CHECK(e.kind() == ErrorKind::ModelMissing);
    CHECK_THAT(e.what(), Catch::EndsWith("is missing tokenizer.model and " + std::string(kShard1) + "."));
}

TEST_CASE("a single model.safetensors is enough and generation_config.json is optional", "[io][model_dir]") {
    const ScratchDir dir;
    write_small_files(dir);
    write_file(dir / "model.safetensors", "x");
    const ModelDir m = open_model_dir(dir.path());
    CHECK(m.weights == dir / "model.safetensors");
    CHECK(m.weight_files == std::vector<fs::path>{dir / "model.safetensors"});
    CHECK_FALSE(m.generation_config.has_value());
}

TEST_CASE("a dangling symlink counts as missing, a symlink to a file as present", "[io][model_dir]") {
    // The Hugging Face cache's snapshot folders are links into blobs/; an unfinished download dangles.
    const ScratchDir dir;
    write_small_files(dir);
    write_file(dir / "blob", "x");
    fs::remove(dir / "config.json");
    fs::create_symlink(dir / "blob", dir / "config.json");
    fs::create_symlink(dir / "no-such-blob", dir / "model.safetensors");
    CHECK(missing_model_files(dir.path()) ==
          std::vector<std::string>{"model.safetensors.index.json (or model.safetensors)"});
}

TEST_CASE("a folder that does not exist, or is a file, says what it must hold", "[io][model_dir]") {
    const ScratchDir dir;
    const auto absent = glm4v::test::error_from([&] { open_model_dir(dir / "glm-4v-9b"); });
    CHECK(absent.kind() == ErrorKind::ModelMissing);
    CHECK_THAT(absent.what(), Catch::Contains((dir / "glm-4v-9b").string() + " does not exist") &&
                                  Catch::Contains("config.json, tokenizer.model, tokenizer_config.json"));
    write_file(dir / "a-file", "x");
    const auto file = glm4v::test::error_from([&] { open_model_dir(dir / "a-file"); });
    CHECK(file.kind() == ErrorKind::ModelMissing);
    CHECK_THAT(file.what(), Catch::Contains("a-file is not a folder"));
}

TEST_CASE("an unreadable shard index is a corrupt model, named", "[io][model_dir]") {
    const ScratchDir dir;
    write_small_files(dir);
    write_file(dir / "model.safetensors.index.json", "{\"weight_map\": ");
    const auto e = glm4v::test::error_from([&] { open_model_dir(dir.path()); });
    CHECK(e.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(e.what(), Catch::Contains("model.safetensors.index.json is not valid JSON"));
}
