// The golden checkpoints, sharded as Hugging Face saves them, read by our reader and by the safetensors
// package: every tensor must agree in dtype, shape, bytes and values.

#include <catch2/catch.hpp>

#include <set>

#include "engine/io/safetensors.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::io::Checkpoint;
using glm4v::engine::io::TensorInfo;
using nlohmann::json;

namespace {
bool inside_mapping(const TensorInfo& t) {
    const std::uint8_t* begin = t.file->data();
    return t.data >= begin + 8 && t.data + t.nbytes <= begin + t.file->size();
}

double oracle_number(const json& v) {
    if (v.is_string()) return std::stod(v.get<std::string>()); // "nan", "inf", "-inf"
    return v.get<double>();
}
} // namespace

TEST_CASE("every tensor of every golden checkpoint matches what the safetensors package reads",
          "[io][safetensors][golden]") {
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    const json& golden = glm4v::test::safetensors_oracle().result.at("golden");

    for (const fs::path& case_dir : cases) {
        const fs::path model = case_dir / "model";
        INFO("model folder " << model.string());
        const json& expected = golden.at(model.string());
        const Checkpoint ck = Checkpoint::open(model.string());
        CHECK(ck.files().size() == std::set<std::string>(ck.files().begin(), ck.files().end()).size());

        std::set<std::string> expected_names;
        for (auto it = expected.begin(); it != expected.end(); ++it)
            expected_names.insert(it.key());
        const std::vector<std::string> names = ck.names();
        CHECK(std::set<std::string>(names.begin(), names.end()) == expected_names);

        for (auto it = expected.begin(); it != expected.end(); ++it) {
            INFO("tensor " << it.key());
            const json& want = it.value();
            const TensorInfo* t = ck.find(it.key());
            REQUIRE(t != nullptr);
            CHECK(t->name == it.key());
            CHECK(std::string(glm4v::engine::io::dtype_name(t->dtype)) == want.at("dtype").get<std::string>());
            CHECK(t->shape == want.at("shape").get<std::vector<std::int64_t>>());
            REQUIRE(t->nbytes == want.at("nbytes").get<std::size_t>());
            CHECK(static_cast<std::size_t>(t->numel()) * glm4v::engine::io::dtype_size(t->dtype) == t->nbytes);
            // Zero-copy: the view points into the mapping of the very shard the index names.
            CHECK(fs::path(t->file->path()).filename().string() == want.at("shard").get<std::string>());
            CHECK(inside_mapping(*t));
            CHECK(glm4v::test::crc32(t->data, t->nbytes) == want.at("crc32").get<std::uint32_t>());
            if (t->nbytes > 0) {
                const auto last = static_cast<std::size_t>(t->numel()) - 1;
                CHECK(glm4v::test::element_value(*t, 0) == oracle_number(want.at("first")));
                CHECK(glm4v::test::element_value(*t, last) == oracle_number(want.at("last")));
            }
        }
    }
}

TEST_CASE("a golden checkpoint opens the same from its folder, its index and as separate shards",
          "[io][safetensors][golden]") {
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    for (const fs::path& case_dir : cases) {
        const fs::path model = case_dir / "model";
        INFO("model folder " << model.string());
        const Checkpoint from_folder = Checkpoint::open(model.string());
        const Checkpoint from_index = Checkpoint::open((model / "model.safetensors.index.json").string());
        CHECK(from_folder.names() == from_index.names());

        // Each shard on its own holds exactly the tensors the index assigns to it.
        std::size_t total = 0;
        for (const std::string& shard_path : from_folder.files()) {
            const Checkpoint shard = Checkpoint::open(shard_path);
            total += shard.names().size();
            for (const std::string& name : shard.names()) {
                INFO("tensor " << name << " in " << shard_path);
                REQUIRE(from_folder.contains(name));
                const TensorInfo& via_index = from_folder.get(name);
                const TensorInfo& direct = shard.get(name);
                CHECK(via_index.file->path() == shard_path);
                CHECK(via_index.nbytes == direct.nbytes);
                CHECK(std::equal(direct.data, direct.data + direct.nbytes, via_index.data));
            }
        }
        CHECK(total == from_folder.names().size());
    }
}
