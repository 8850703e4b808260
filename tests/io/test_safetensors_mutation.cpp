// Randomized mutation of valid files, seeded and libFuzzer-free: thousands of bit flips, digit swaps,
// truncations and header edits. Every open() must either succeed with every tensor inside the file, or
// throw engine::Error naming the file; anything else (a crash, another exception type, a read past the
// mapping) fails. Built into test_io_asan, where ASan and UBSan watch every one of them.

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "engine/io/safetensors.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::io::Checkpoint;
using glm4v::engine::io::SafetensorsFile;
using glm4v::engine::io::TensorInfo;
using glm4v::test::safetensors_bytes;
using glm4v::test::tensor_entry;
using nlohmann::json;

namespace {
// Tensors of several dtypes with a gap, an empty tensor and a 0-d one: room for mutations to reach every
// check in the parser.
std::string base_file() {
    const json header = {
        {"__metadata__", {{"format", "pt"}}},     {"a", tensor_entry("BF16", {2, 3}, 0, 12)},
        {"b", tensor_entry("I64", {2}, 16, 32)},  {"e", tensor_entry("F32", {0, 4}, 32, 32)},
        {"s", tensor_entry("F64", {}, 32, 40)},   {"u", tensor_entry("U8", {5}, 40, 45)},
        {"z", tensor_entry("BOOL", {3}, 45, 48)},
    };
    std::string data(48, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>(i * 37 + 11);
    return safetensors_bytes(header, data);
}

std::uint64_t header_length(const std::string& bytes) {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0 && bytes.size() >= 8; --i)
        n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    return n;
}

void set_header_length(std::string& bytes, std::uint64_t n) {
    for (int i = 0; i < 8; ++i, n >>= 8)
        bytes[static_cast<std::size_t>(i)] = static_cast<char>(n & 0xff);
}

class Mutator {
public:
    explicit Mutator(std::uint64_t seed) : rng_(seed) {}

    std::string mutate(std::string bytes) {
        const int edits = 1 + static_cast<int>(below(3));
        for (int i = 0; i < edits && bytes.size() > 8; ++i)
            edit(bytes);
        return bytes;
    }

private:
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

    // A position in the header most of the time: that is where the parser's decisions are.
    std::size_t position(const std::string& bytes) {
        const std::size_t header_end = std::min<std::uint64_t>(bytes.size(), 8 + header_length(bytes));
        return (below(4) != 0 && header_end > 8) ? 8 + below(header_end - 8) : below(bytes.size());
    }

    void edit(std::string& bytes) {
        static const std::string kJsonChars = "{}[]\",:-.e0123456789 ";
        switch (below(6)) {
        case 0:
            bytes[position(bytes)] ^= static_cast<char>(1u << below(8));
            break;
        case 1: { // another digit: offsets and dimensions that still parse
            std::vector<std::size_t> digits;
            for (std::size_t i = 8; i < bytes.size() && i < 8 + header_length(bytes); ++i)
                if (bytes[i] >= '0' && bytes[i] <= '9') digits.push_back(i);
            if (!digits.empty()) bytes[digits[below(digits.size())]] = static_cast<char>('0' + below(10));
            break;
        }
        case 2:
            bytes.resize(below(bytes.size()));
            break;
        case 3:
            bytes[position(bytes)] = kJsonChars[below(kJsonChars.size())];
            break;
        case 4: { // a length prefix a little off, or anything at all
            const std::uint64_t n = header_length(bytes);
            set_header_length(bytes, below(2) ? n + below(33) - 16 : static_cast<std::uint64_t>(rng_()));
            break;
        }
        case 5: { // insert or delete a header byte and keep the length prefix consistent
            const std::uint64_t n = header_length(bytes);
            if (n == 0 || n > bytes.size() - 8) break;
            const std::size_t at = 8 + below(static_cast<std::size_t>(n));
            if (below(2)) {
                bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), kJsonChars[below(kJsonChars.size())]);
                set_header_length(bytes, n + 1);
            } else {
                bytes.erase(at, 1);
                set_header_length(bytes, n - 1);
            }
            break;
        }
        }
    }

    std::mt19937_64 rng_;
};

// What a successful open promises: every view inside the data section, sized by its shape, readable, and
// no two non-empty views sharing a byte.
void check_tensors_inside(const SafetensorsFile& st, std::uint64_t header_len) {
    std::vector<const TensorInfo*> nonempty;
    for (const TensorInfo& t : st.tensors()) {
        INFO("tensor " << t.name);
        const std::uint8_t* begin = t.file->data();
        REQUIRE(t.data >= begin + 8 + header_len);
        REQUIRE(t.data + t.nbytes <= begin + t.file->size());
        REQUIRE(static_cast<std::uint64_t>(t.numel()) * glm4v::engine::io::dtype_size(t.dtype) == t.nbytes);
        unsigned sum = 0;
        for (std::size_t i = 0; i < t.nbytes; ++i)
            sum += t.data[i];
        (void)sum;
        if (t.nbytes) nonempty.push_back(&t);
    }
    std::sort(nonempty.begin(), nonempty.end(), [](auto* x, auto* y) { return x->data < y->data; });
    for (std::size_t i = 1; i < nonempty.size(); ++i)
        REQUIRE(nonempty[i - 1]->data + nonempty[i - 1]->nbytes <= nonempty[i]->data);
}
} // namespace

TEST_CASE("thousands of mutated safetensors files open cleanly or fail with an engine error",
          "[io][safetensors][mutation]") {
    const glm4v::test::ScratchDir dir;
    const std::string base = base_file();
    glm4v::test::write_file(dir / "base.safetensors", base);
    REQUIRE(SafetensorsFile::open((dir / "base.safetensors").string()).tensors().size() == 6);

    Mutator mutator(0x5afe7e25);
    int opened = 0, refused = 0;
    for (int iteration = 0; iteration < 4000; ++iteration) {
        const std::string bytes = mutator.mutate(base);
        // A new file each time: rewriting one in place makes ext4 flush it to disk on every close.
        const std::string name = "mutant-" + std::to_string(iteration) + ".safetensors";
        glm4v::test::write_file(dir / name, bytes);
        INFO("iteration " << iteration << ", " << bytes.size() << " bytes");
        try {
            const SafetensorsFile st = SafetensorsFile::open((dir / name).string());
            check_tensors_inside(st, header_length(bytes));
            ++opened;
        } catch (const glm4v::engine::Error& e) {
            REQUIRE_THAT(e.what(), Catch::Contains(name));
            ++refused;
        }
        fs::remove(dir / name);
    }
    // Both outcomes must be common, or the mutations test only one side of the parser.
    CHECK(opened > 40);
    CHECK(refused > 400);
}

TEST_CASE("mutated shard indexes open cleanly or fail with an engine error", "[io][safetensors][mutation]") {
    const glm4v::test::ScratchDir dir;
    glm4v::test::write_file(dir / "model-00001-of-00002.safetensors",
                            safetensors_bytes(json{{"a", tensor_entry("F32", {2}, 0, 8)}}, std::string(8, '\1')));
    glm4v::test::write_file(dir / "model-00002-of-00002.safetensors",
                            safetensors_bytes(json{{"b", tensor_entry("U8", {3}, 0, 3)}}, std::string(3, '\2')));
    const std::string base =
        json{{"metadata", {{"total_size", 11}}},
             {"weight_map", {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}}}}
            .dump();
    std::mt19937_64 rng(0x1d3e);
    const std::string kChars = "{}[]\",:./0123456789ab ";
    int opened = 0, refused = 0;
    for (int iteration = 0; iteration < 1500; ++iteration) {
        std::string text = base;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int i = 0; i < edits && !text.empty(); ++i) {
            const std::size_t at = rng() % text.size();
            switch (rng() % 3) {
            case 0:
                text[at] = kChars[rng() % kChars.size()];
                break;
            case 1:
                text.erase(at, 1);
                break;
            case 2:
                text.resize(at);
                break;
            }
        }
        const fs::path index = dir / ("index-" + std::to_string(iteration) + ".json");
        glm4v::test::write_file(index, text);
        INFO("iteration " << iteration << ": " << text);
        try {
            const Checkpoint ck = Checkpoint::open(index.string());
            for (const std::string& name : ck.names()) {
                const TensorInfo& t = ck.get(name);
                REQUIRE(t.data + t.nbytes <= t.file->data() + t.file->size());
            }
            ++opened;
        } catch (const glm4v::engine::Error&) {
            ++refused;
        }
        fs::remove(index);
    }
    CHECK(opened > 20);
    CHECK(refused > 200);
}
