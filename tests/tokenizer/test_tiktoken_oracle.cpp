// Our tokenizer against tiktoken itself (tiktoken_oracle.py): the same rank files and pattern, thousands of
// seeded random and adversarial strings, every code point of planes 0-3 and 14 in letter, digit and
// symbol context, and Python's UTF-8 repair on random bytes. Zero mismatches allowed.

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/tokenizer/byte_pair_merge.h"
#include "engine/tokenizer/piece_splitter.h"
#include "engine/tokenizer/stream_decoder.h"
#include "engine/tokenizer/utf8.h"
#include "tests/support/test_support.h"
#include "tests/tokenizer/tokenizer_test_support.h"

namespace fs = std::filesystem;
using namespace glm4v::engine::tokenizer;
using glm4v::test::ids_string;
using glm4v::test::printable;
using nlohmann::json;

namespace {

struct Oracle {
    glm4v::test::ScratchDir dir;
    json result;
};

const Oracle& tiktoken_oracle() {
    static std::unique_ptr<Oracle> oracle;
    if (oracle) return *oracle;
    const std::string python = glm4v::test::oracle_python();
    if (python.empty()) {
        std::fprintf(stderr, "SKIPPED: GLM4V_PYTHON is not set, so tiktoken cannot be run "
                             "(configure with -DGLM4V_PYTHON=.venv/bin/python)\n");
        std::exit(77);
    }
    const char* source_dir = std::getenv("GLM4V_SOURCE_DIR");
    if (!source_dir) throw std::runtime_error("GLM4V_SOURCE_DIR is not set (run the tests through ctest)");
    auto o = std::make_unique<Oracle>();
    const fs::path script = fs::path(source_dir) / "tests/tokenizer/tiktoken_oracle.py";
    std::string command = "'" + python + "' '" + script.string() + "' '" + o->dir.path().string() + "' 20261123";
    for (const fs::path& case_dir : glm4v::test::golden_case_dirs())
        command += " '" + (case_dir / "model" / "tokenizer.model").string() + "'";
    std::string log;
    if (glm4v::test::run_command(command + " 2>&1", &log) != 0)
        throw std::runtime_error("the tiktoken oracle failed (" + command + "):\n" + log);
    o->result = json::parse(glm4v::test::read_file(o->dir / "oracle.json"));
    oracle = std::move(o);
    return *oracle;
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

} // namespace

TEST_CASE("encoding equals tiktoken's on every oracle string of every rank file", "[tokenizer][oracle]") {
    const json& sets = tiktoken_oracle().result.at("rank_files");
    REQUIRE(sets.size() >= 3); // the golden files, the trained one, the Unicode probe
    std::size_t total = 0;
    for (const json& set : sets) {
        const std::string name = set.at("name");
        TiktokenTokenizer tokenizer(BpeRanks::read(set.at("path").get<std::string>()), {});
        std::size_t cases = 0;
        std::size_t mismatches = 0;
        std::size_t round_trip_failures = 0;
        for (const json& c : set.at("cases")) {
            const std::string text = c.at("text");
            const std::vector<TokenId> expected = c.at("ids").get<std::vector<TokenId>>();
            const std::vector<TokenId> ids = tokenizer.encode(text);
            ++cases;
            if (ids != expected && ++mismatches <= 5)
                UNSCOPED_INFO(name << ": '" << printable(text).substr(0, 300) << "'\n  ours     " << ids_string(ids)
                                   << "\n  tiktoken " << ids_string(expected));
            if (tokenizer.decode(ids) != text) ++round_trip_failures;
        }
        INFO(name << ": " << cases << " strings");
        CHECK(cases >= 100);
        CHECK(mismatches == 0);
        CHECK(round_trip_failures == 0);
        total += cases;
    }
    std::printf("tiktoken oracle: %zu strings over %zu rank files compared\n", total, sets.size());
}

TEST_CASE("the heap merge gives the same tokens as tiktoken's scan on every piece", "[tokenizer][oracle]") {
    // Every piece of every trained-file string, through both merge variants.
    const json& sets = tiktoken_oracle().result.at("rank_files");
    const json* trained = nullptr;
    for (const json& set : sets)
        if (set.at("name").get<std::string>().rfind("trained", 0) == 0) trained = &set;
    REQUIRE(trained != nullptr);
    const BpeRanks ranks = BpeRanks::read(trained->at("path").get<std::string>());
    PieceSplitter splitter;
    std::size_t pieces = 0;
    std::size_t mismatches = 0;
    for (const json& c : trained->at("cases")) {
        const std::string text = c.at("text");
        PieceSplitter::Cursor cursor(splitter, text);
        std::size_t begin = 0, end = 0;
        while (cursor.next(begin, end)) {
            const auto* p = reinterpret_cast<const std::uint8_t*>(text.data()) + begin;
            std::vector<TokenId> scan, heap;
            byte_pair_encode_scan(ranks, p, end - begin, scan);
            byte_pair_encode_heap(ranks, p, end - begin, heap);
            ++pieces;
            if (scan != heap && ++mismatches <= 5)
                UNSCOPED_INFO("piece '" << printable(text.substr(begin, end - begin)) << "': scan " << ids_string(scan)
                                        << ", heap " << ids_string(heap));
        }
    }
    CHECK(pieces > 10000);
    CHECK(mismatches == 0);
}

TEST_CASE("invalid UTF-8 is repaired exactly as Python's errors='replace', whole or streamed",
          "[tokenizer][oracle][utf8]") {
    const json& cases = tiktoken_oracle().result.at("utf8_repair");
    REQUIRE(cases.size() >= 1000);
    // Single-byte tokens only, so every byte arrives on its own: the hardest split for the stream decoder.
    const TiktokenTokenizer bytes_only = glm4v::test::make_tiktoken({});
    std::mt19937 rng(7);
    std::size_t whole_mismatches = 0;
    std::size_t stream_mismatches = 0;
    for (const json& c : cases) {
        const std::string raw = from_hex(c.at("hex"));
        const std::string expected = c.at("text");
        std::string whole;
        utf8_append_repaired(whole, raw, true);
        if (whole != expected && ++whole_mismatches <= 5)
            UNSCOPED_INFO("bytes " << printable(raw) << ": ours " << printable(whole) << ", Python "
                                   << printable(expected));

        StreamDecoder stream(bytes_only);
        std::string streamed;
        std::vector<TokenId> ids;
        for (const char b : raw)
            ids.push_back(static_cast<TokenId>(static_cast<std::uint8_t>(b)));
        for (const TokenId id : ids)
            streamed += stream.push(id);
        streamed += stream.finish();
        if (streamed != expected || bytes_only.decode(ids) != expected) ++stream_mismatches;
    }
    CHECK(whole_mismatches == 0);
    CHECK(stream_mismatches == 0);
}
