// Deliberately broken safetensors files and shard indexes, one per way a file can be wrong: each must fail
// with its own ErrorKind and a message naming the file and, where there is one, the tensor. Run under
// ASan and UBSan too (test_io_asan), so "fails cleanly" also means "reads nothing out of bounds".

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::ErrorKind;
using glm4v::engine::io::Checkpoint;
using glm4v::engine::io::SafetensorsFile;
using glm4v::test::safetensors_bytes;
using glm4v::test::tensor_entry;
using nlohmann::json;

namespace {
constexpr const char* kFile = "weights-under-test.safetensors";

struct BrokenFile {
    std::string name;
    std::string bytes;
    ErrorKind kind;
    std::vector<std::string> says; // besides the file's name
};

std::string zeros(std::size_t n) {
    return std::string(n, '\0');
}

// One F32 tensor 'w' with the given shape and offsets over `data_bytes` bytes of data.
std::string one_tensor(const json& shape, const json& offsets, std::size_t data_bytes, const char* dtype = "F32") {
    const json header = {{"w", {{"dtype", dtype}, {"shape", shape}, {"data_offsets", offsets}}}};
    return safetensors_bytes(header, zeros(data_bytes));
}

std::string length_prefix(std::uint64_t n) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i, n >>= 8)
        out[static_cast<std::size_t>(i)] = static_cast<char>(n & 0xff);
    return out;
}

// A well-formed file of three tensors, the base for truncation.
std::string valid_file() {
    const json header = {
        {"__metadata__", {{"format", "pt"}}},
        {"a", tensor_entry("BF16", {2, 3}, 0, 12)},
        {"b", tensor_entry("I64", {2}, 12, 28)},
        {"c", tensor_entry("F32", {5}, 28, 48)},
    };
    return safetensors_bytes(header, std::string(48, '\x11'));
}

std::vector<BrokenFile> broken_files() {
    const auto M = ErrorKind::ModelCorrupt;
    std::string deep = "{\"w\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    return {
        {"an empty file", "", M, {"0 bytes", "too short"}},
        {"a file shorter than its length prefix", std::string("\x05\x00\x00", 3), M, {"3 bytes", "too short"}},
        {"a header length past the end of the file",
         length_prefix(1000) + "{}",
         M,
         {"header length 1000", "past the end of the file"}},
        {"a header length near 2^64",
         length_prefix(~0ull) + "{}",
         M,
         {"header length 18446744073709551615", "past the end of the file"}},
        {"a header that is not JSON", safetensors_bytes(std::string("{\"w\": nope}"), ""), M, {"not valid JSON"}},
        {"a header with bytes after the object", safetensors_bytes(std::string("{} x"), ""), M, {"not valid JSON"}},
        {"a header with invalid UTF-8", safetensors_bytes(std::string("{\"w\xff\": 1}"), ""), M, {"not valid JSON"}},
        {"a header that is a JSON array", safetensors_bytes(std::string("[1, 2]"), ""), M, {"not a JSON object"}},
        {"a header of one byte", safetensors_bytes(std::string("{"), ""), M, {"not a JSON object"}},
        {"a tensor described by a number",
         safetensors_bytes(std::string("{\"w\": 5}"), ""),
         M,
         {"'w'", "not described by an object"}},
        {"a header nested 100000 deep", safetensors_bytes(deep, ""), M, {"'w'", "not described by an object"}},
        {"a tensor without dtype",
         safetensors_bytes(json{{"w", {{"shape", {1}}, {"data_offsets", {0, 4}}}}}, zeros(4)),
         M,
         {"'w'", "has no dtype"}},
        {"a tensor without shape",
         safetensors_bytes(json{{"w", {{"dtype", "F32"}, {"data_offsets", {0, 4}}}}}, zeros(4)),
         M,
         {"'w'", "has no shape"}},
        {"a tensor without data_offsets",
         safetensors_bytes(json{{"w", {{"dtype", "F32"}, {"shape", {1}}}}}, zeros(4)),
         M,
         {"'w'", "has no data_offsets"}},
        {"data_offsets of three numbers", one_tensor({1}, {0, 4, 8}, 8), M, {"'w'", "has no data_offsets"}},
        {"an unknown dtype",
         one_tensor({1}, {0, 4}, 4, "F7"),
         ErrorKind::Unsupported,
         {"'w'", "unsupported dtype 'F7'"}},
        {"a negative shape entry", one_tensor({-2, 2}, {0, 16}, 16), M, {"'w'", "shape entry -2"}},
        {"a fractional shape entry", one_tensor({2.5}, {0, 10}, 10), M, {"'w'", "shape entry 2.5"}},
        {"a string shape entry", one_tensor({"4"}, {0, 16}, 16), M, {"'w'", "shape entry \"4\""}},
        {"dimensions whose product overflows",
         one_tensor({4294967296ull, 4294967296ull}, {0, 16}, 16),
         M,
         {"'w'", "[4294967296,4294967296]", "overflows"}},
        {"huge dimensions beside a zero",
         one_tensor({0, 4611686018427387904ull, 4}, {0, 0}, 0),
         M,
         {"'w'", "overflows"}},
        {"a dimension past INT64_MAX", one_tensor({9223372036854775808ull}, {0, 16}, 16), M, {"'w'", "overflows"}},
        {"a byte count past 2^64",
         one_tensor({2305843009213693952ull}, {0, 16}, 16, "F64"),
         M,
         {"'w'", "overflows a 64-bit byte count"}},
        {"a shape that disagrees with the data size",
         one_tensor({2, 2}, {0, 12}, 12),
         M,
         {"'w'", "F32 [2, 2] needs 16 bytes but data_offsets span 12"}},
        {"data_offsets that end before they begin", one_tensor({0}, {8, 4}, 8), M, {"'w'", "[8, 4] end before"}},
        {"data_offsets past the end of the data",
         one_tensor({4}, {0, 16}, 12),
         M,
         {"'w'", "run past the end of the data (12 bytes"}},
        {"negative data_offsets", one_tensor({4}, {-4, 12}, 16), M, {"'w'", "data_offsets [-4,12] are not"}},
        {"fractional data_offsets", one_tensor({4}, {0.0, 16.0}, 16), M, {"'w'", "not non-negative integers"}},
        {"data_offsets past 2^64", one_tensor({4}, {0, 1e30}, 16), M, {"'w'", "not non-negative integers"}},
        {"overlapping tensors",
         safetensors_bytes(json{{"a", tensor_entry("F32", {4}, 0, 16)}, {"b", tensor_entry("F32", {4}, 8, 24)}},
                           zeros(24)),
         M,
         {"'a' and 'b' overlap"}},
        {"two tensors on the same bytes",
         safetensors_bytes(json{{"a", tensor_entry("F32", {2}, 0, 8)}, {"b", tensor_entry("I32", {2}, 0, 8)}},
                           zeros(8)),
         M,
         {"'a' and 'b' overlap"}},
        // An empty tensor between two overlapping ones once hid the overlap from a neighbours-only check.
        {"tensors overlapping around an empty one",
         safetensors_bytes(json{{"a", tensor_entry("F32", {4}, 0, 16)},
                                {"m", tensor_entry("F32", {0}, 8, 8)},
                                {"z", tensor_entry("F32", {2}, 12, 20)}},
                           zeros(20)),
         M,
         {"'a' and 'z' overlap"}},
        {"__metadata__ that is not an object",
         safetensors_bytes(json{{"__metadata__", {1, 2}}}, ""),
         M,
         {"__metadata__ is not an object"}},
        {"a __metadata__ value that is not a string",
         safetensors_bytes(json{{"__metadata__", {{"k", 1}}}}, ""),
         M,
         {"__metadata__ value 'k'"}},
        {"a file cut short inside the data",
         valid_file().substr(0, valid_file().size() - 5),
         M,
         {"'c'", "run past the end of the data (43 bytes"}},
    };
}
} // namespace

TEST_CASE("the test's own file builder makes files the reader accepts", "[io][safetensors]") {
    const glm4v::test::ScratchDir dir;
    glm4v::test::write_file(dir / kFile, valid_file());
    const SafetensorsFile st = SafetensorsFile::open((dir / kFile).string());
    REQUIRE(st.tensors().size() == 3);
    CHECK(st.find("c")->nbytes == 20);
    CHECK(st.find("c")->data[19] == 0x11);
    CHECK(st.metadata().at("format") == "pt");
}

TEST_CASE("each broken safetensors file fails with its own message naming the file and the tensor",
          "[io][safetensors]") {
    for (const BrokenFile& broken : broken_files()) {
        SECTION(broken.name) {
            const glm4v::test::ScratchDir dir;
            glm4v::test::write_file(dir / kFile, broken.bytes);
            const auto e = glm4v::test::error_from([&] { SafetensorsFile::open((dir / kFile).string()); });
            INFO(e.what());
            CHECK(e.kind() == broken.kind);
            CHECK_THAT(e.what(), Catch::Contains(kFile));
            for (const std::string& phrase : broken.says)
                CHECK_THAT(e.what(), Catch::Contains(phrase));
        }
    }
}

TEST_CASE("a header length past the sanity limit is refused before the header is parsed", "[io][safetensors]") {
    const glm4v::test::ScratchDir dir;
    const std::uint64_t header_len = (100u << 20) + 1;
    glm4v::test::write_file(dir / kFile, length_prefix(header_len) + "{");
    fs::resize_file(dir / kFile, 8 + header_len); // sparse: costs no disk
    const auto e = glm4v::test::error_from([&] { SafetensorsFile::open((dir / kFile).string()); });
    CHECK(e.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(e.what(), Catch::Contains(kFile) && Catch::Contains("implausibly large"));
}

TEST_CASE("a missing file and a folder in place of a file are told apart", "[io][safetensors]") {
    const glm4v::test::ScratchDir dir;
    const auto missing = glm4v::test::error_from([&] { SafetensorsFile::open((dir / kFile).string()); });
    CHECK(missing.kind() == ErrorKind::ModelMissing);
    CHECK_THAT(missing.what(), Catch::Contains("file not found") && Catch::Contains((dir / kFile).string()));

    fs::create_directory(dir / kFile);
    const auto folder = glm4v::test::error_from([&] { SafetensorsFile::open((dir / kFile).string()); });
    CHECK(folder.kind() == ErrorKind::Io);
    CHECK_THAT(folder.what(), Catch::Contains("not a regular file") && Catch::Contains(kFile));
}

TEST_CASE("a FIFO in place of a file fails at once instead of waiting for a writer", "[io][safetensors]") {
    const glm4v::test::ScratchDir dir;
    REQUIRE(mkfifo((dir / kFile).c_str(), 0600) == 0);
    const auto e = glm4v::test::error_from([&] { SafetensorsFile::open((dir / kFile).string()); });
    CHECK(e.kind() == ErrorKind::Io);
    CHECK_THAT(e.what(), Catch::Contains("not a regular file") && Catch::Contains(kFile));
}

// ---------------------------------------------------------------------------------------------- shard indexes

namespace {
constexpr const char* kIndex = "model.safetensors.index.json";
constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
constexpr const char* kShard2 = "model-00002-of-00002.safetensors";

// A two-shard checkpoint: a, b in shard 1, c in shard 2; the index is the caller's.
void write_shards(const glm4v::test::ScratchDir& dir) {
    glm4v::test::write_file(dir / kShard1, safetensors_bytes(json{{"a", tensor_entry("F32", {2}, 0, 8)},
                                                                  {"b", tensor_entry("BF16", {3}, 8, 14)}},
                                                             zeros(14)));
    glm4v::test::write_file(dir / kShard2, safetensors_bytes(json{{"c", tensor_entry("U8", {5}, 0, 5)}}, zeros(5)));
}

json weight_map_of_shards() {
    return json{{"a", kShard1}, {"b", kShard1}, {"c", kShard2}};
}

struct BrokenIndex {
    std::string name;
    std::string index;
    ErrorKind kind;
    std::vector<std::string> says;
};

std::vector<BrokenIndex> broken_indexes() {
    const auto M = ErrorKind::ModelCorrupt;
    json ghost = weight_map_of_shards();
    ghost["ghost.weight"] = kShard2;
    json missing_shard = weight_map_of_shards();
    missing_shard["d"] = "model-00003-of-00003.safetensors";
    const auto with_map = [](const json& map) {
        return json{{"metadata", {{"total_size", 19}}}, {"weight_map", map}}.dump();
    };
    return {
        {"a tensor the index names but no shard holds",
         with_map(ghost),
         M,
         {kIndex, "'ghost.weight'", kShard2, "does not hold it"}},
        {"a shard file that is missing",
         with_map(missing_shard),
         ErrorKind::ModelMissing,
         {kIndex, "model-00003-of-00003.safetensors", "missing from"}},
        {"an index that is not JSON", "{\"weight_map\": {", M, {kIndex, "not valid JSON"}},
        {"an empty index file", "", M, {kIndex, "not valid JSON"}},
        {"an index without weight_map", "{\"metadata\": {}}", M, {kIndex, "no weight_map object"}},
        {"an index whose weight_map is a list", "{\"weight_map\": []}", M, {kIndex, "no weight_map object"}},
        {"an empty weight_map", with_map(json::object()), M, {kIndex, "lists no tensors"}},
        {"a weight_map entry that is not a file name", with_map(json{{"a", 1}}), M, {kIndex, "'a' is not a file name"}},
        {"a shard in the parent folder",
         with_map(json{{"a", "../x.safetensors"}}),
         M,
         {kIndex, "'../x.safetensors'", "not a file in the model folder"}},
        {"a shard by absolute path",
         with_map(json{{"a", "/etc/passwd"}}),
         M,
         {kIndex, "not a file in the model folder"}},
        {"the parent folder as a shard", with_map(json{{"a", ".."}}), M, {kIndex, "not a file in the model folder"}},
    };
}
} // namespace

TEST_CASE("each broken shard index fails with its own message naming the index, tensor and shard",
          "[io][safetensors][checkpoint]") {
    for (const BrokenIndex& broken : broken_indexes()) {
        SECTION(broken.name) {
            const glm4v::test::ScratchDir dir;
            write_shards(dir);
            glm4v::test::write_file(dir / kIndex, broken.index);
            const auto e = glm4v::test::error_from([&] { Checkpoint::open(dir.path().string()); });
            INFO(e.what());
            CHECK(e.kind() == broken.kind);
            for (const std::string& phrase : broken.says)
                CHECK_THAT(e.what(), Catch::Contains(phrase));
        }
    }
}

TEST_CASE("a well-formed two-shard checkpoint opens and finds every tensor in its shard",
          "[io][safetensors][checkpoint]") {
    const glm4v::test::ScratchDir dir;
    write_shards(dir);
    glm4v::test::write_file(dir / kIndex, json{{"weight_map", weight_map_of_shards()}}.dump());
    const Checkpoint ck = Checkpoint::open(dir.path().string());
    CHECK(ck.names() == std::vector<std::string>{"a", "b", "c"});
    CHECK(ck.files() == std::vector<std::string>{(dir / kShard1).string(), (dir / kShard2).string()});
    CHECK(fs::path(ck.get("c").file->path()).filename() == kShard2);
    CHECK(ck.get("b").shape_string() == "[3]");
    CHECK_FALSE(ck.contains("d"));
}

TEST_CASE("a broken shard names the shard and the tensor in the checkpoint's error", "[io][safetensors][checkpoint]") {
    const glm4v::test::ScratchDir dir;
    write_shards(dir);
    glm4v::test::write_file(dir / kIndex, json{{"weight_map", weight_map_of_shards()}}.dump());
    const std::string shard2 = glm4v::test::read_file(dir / kShard2);
    glm4v::test::write_file(dir / kShard2, shard2.substr(0, shard2.size() - 1)); // as an interrupted download
    const auto e = glm4v::test::error_from([&] { Checkpoint::open(dir.path().string()); });
    CHECK(e.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(e.what(), Catch::Contains(kShard2) && Catch::Contains("'c'") && Catch::Contains("past the end"));
}

TEST_CASE("a folder without weights is a missing model, not a corrupt one", "[io][safetensors][checkpoint]") {
    const glm4v::test::ScratchDir dir;
    const auto e = glm4v::test::error_from([&] { Checkpoint::open(dir.path().string()); });
    CHECK(e.kind() == ErrorKind::ModelMissing);
    CHECK_THAT(e.what(), Catch::Contains("model.safetensors") && Catch::Contains(dir.path().string()));
}
