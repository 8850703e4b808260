// Files the safetensors package writes from seeded random tensors (tests/io/safetensors_oracle.py) read
// back byte for byte: every dtype we support, 0-d scalars, zero-size tensors, odd shapes and offsets.

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <set>

#include "engine/io/safetensors.h"
#include "tests/io/io_test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::ErrorKind;
using glm4v::engine::io::Checkpoint;
using glm4v::engine::io::SafetensorsFile;
using glm4v::engine::io::TensorInfo;
using nlohmann::json;

TEST_CASE("files written by the safetensors package read back byte for byte", "[io][safetensors][oracle]") {
    const auto& oracle = glm4v::test::safetensors_oracle();
    const json& files = oracle.result.at("random").at("files");
    REQUIRE(files.size() >= 5);

    std::set<std::string> dtypes_seen;
    for (auto f = files.begin(); f != files.end(); ++f) {
        INFO("file " << f.key());
        const SafetensorsFile st = SafetensorsFile::open((oracle.dir / f.key()).string());
        const json& expected = f.value().at("tensors");
        CHECK(st.tensors().size() == expected.size());
        CHECK(st.metadata() == f.value().at("metadata").get<std::map<std::string, std::string>>());

        for (auto it = expected.begin(); it != expected.end(); ++it) {
            INFO("tensor " << it.key());
            const TensorInfo* t = st.find(it.key());
            REQUIRE(t != nullptr);
            const std::string dtype = it.value().at("dtype").get<std::string>();
            CHECK(std::string(glm4v::engine::io::dtype_name(t->dtype)) == dtype);
            CHECK(t->shape == it.value().at("shape").get<std::vector<std::int64_t>>());
            const std::string bytes = glm4v::test::from_hex(it.value().at("hex").get<std::string>());
            REQUIRE(t->nbytes == bytes.size());
            CHECK(std::memcmp(t->data, bytes.data(), bytes.size()) == 0);
            CHECK(static_cast<std::size_t>(t->numel()) * glm4v::engine::io::dtype_size(t->dtype) == t->nbytes);
            CHECK(t->data >= t->file->data() + 8);
            CHECK(t->data + t->nbytes <= t->file->data() + t->file->size());
            dtypes_seen.insert(dtype);
        }
    }
    // The oracle must have covered every dtype the reader knows, or this test proves less than it says.
    CHECK(dtypes_seen == std::set<std::string>{"BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64"});
}

TEST_CASE("0-d and zero-size tensors keep their shapes", "[io][safetensors][oracle]") {
    const auto& oracle = glm4v::test::safetensors_oracle();
    const SafetensorsFile scalar = SafetensorsFile::open((oracle.dir / "scalar.safetensors").string());
    REQUIRE(scalar.tensors().size() == 1);
    CHECK(scalar.tensors()[0].shape.empty());
    CHECK(scalar.tensors()[0].numel() == 1);
    CHECK(scalar.tensors()[0].nbytes == 4);
    CHECK(scalar.tensors()[0].shape_string() == "[]");

    const SafetensorsFile empty = SafetensorsFile::open((oracle.dir / "zero_size.safetensors").string());
    REQUIRE(empty.find("b") != nullptr);
    CHECK(empty.find("b")->shape == std::vector<std::int64_t>{4, 0});
    CHECK(empty.find("b")->numel() == 0);
    CHECK(empty.find("b")->nbytes == 0);

    const SafetensorsFile none = SafetensorsFile::open((oracle.dir / "no_tensors.safetensors").string());
    CHECK(none.tensors().empty());
}

TEST_CASE("a single safetensors file opens as a checkpoint of one shard", "[io][safetensors][oracle]") {
    const auto& oracle = glm4v::test::safetensors_oracle();
    const fs::path path = oracle.dir / "every_dtype.safetensors";
    const SafetensorsFile st = SafetensorsFile::open(path.string());
    const Checkpoint ck = Checkpoint::open(path.string());
    REQUIRE(ck.files() == std::vector<std::string>{path.string()});
    CHECK(ck.names().size() == st.tensors().size());
    for (const TensorInfo& t : st.tensors()) {
        INFO("tensor " << t.name);
        const TensorInfo& c = ck.get(t.name);
        CHECK(c.nbytes == t.nbytes);
        CHECK(std::memcmp(c.data, t.data, t.nbytes) == 0);
    }
    const auto e = glm4v::test::error_from([&] { ck.get("not.in.this.file"); });
    CHECK(e.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(e.what(), Catch::Contains("'not.in.this.file'") && Catch::Contains("every_dtype.safetensors"));
}

TEST_CASE("a dtype the reader does not support is refused naming the tensor and the dtype",
          "[io][safetensors][oracle]") {
    const auto& oracle = glm4v::test::safetensors_oracle();
    const json& unsupported = oracle.result.at("random").at("unsupported");
    REQUIRE(unsupported.size() >= 4);
    for (auto it = unsupported.begin(); it != unsupported.end(); ++it) {
        INFO("file " << it.key());
        const auto e = glm4v::test::error_from([&] { SafetensorsFile::open((oracle.dir / it.key()).string()); });
        CHECK(e.kind() == ErrorKind::Unsupported);
        CHECK_THAT(e.what(), Catch::Contains(it.key()) &&
                                 Catch::Contains("'" + it.value().at("tensor").get<std::string>() + "'") &&
                                 Catch::Contains("'" + it.value().at("dtype").get<std::string>() + "'"));
    }
}
