#include "engine/tokenizer/bpe_ranks.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "engine/error.h"

namespace glm4v::engine::tokenizer {
namespace {

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Standard alphabet with '=' padding, as Python's base64.b64encode writes it. False on anything else.
bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    if (in.empty() || in.size() % 4 != 0) return false;
    for (std::size_t i = 0; i < in.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = in[i + k];
            if (c == '=' && i + 4 == in.size() && k >= 2) {
                v[k] = 0;
                ++pad;
            } else {
                if (pad > 0) return false; // data after padding
                v[k] = base64_value(c);
                if (v[k] < 0) return false;
            }
        }
        const std::uint32_t word = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        out.push_back(static_cast<char>(word >> 16));
        if (pad < 2) out.push_back(static_cast<char>((word >> 8) & 0xFF));
        if (pad < 1) out.push_back(static_cast<char>(word & 0xFF));
    }
    return true;
}

} // namespace

BpeRanks BpeRanks::parse(std::string_view text, const std::string& source_name) {
    std::vector<std::pair<Rank, std::string>> entries;
    std::string bytes;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        const std::size_t space = line.find(' ');
        const std::string_view b64 = line.substr(0, space);
        const std::string_view digits = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        const bool digits_ok = !digits.empty() && digits.size() <= 9 &&
                               std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
        GLM4V_CHECK(digits_ok && base64_decode(b64, bytes), ErrorKind::ModelCorrupt)
            << source_name << ":" << line_no << ": expected 'base64-token rank', got '"
            << std::string(line.substr(0, 80)) << "'";
        entries.emplace_back(static_cast<Rank>(std::stoul(std::string(digits))), bytes);
    }
    GLM4V_CHECK(!entries.empty(), ErrorKind::ModelCorrupt) << source_name << ": no tokens";

    BpeRanks r;
    Rank max_rank = 0;
    std::size_t total = 0;
    for (const auto& e : entries) {
        max_rank = std::max(max_rank, e.first);
        total += e.second.size();
    }
    // Ranks are token ids; a sparse file with a huge rank would make the id tables absurd.
    GLM4V_CHECK(max_rank < 16 * entries.size() + 1024 && total < 0xFFFFFFFFu, ErrorKind::ModelCorrupt)
        << source_name << ": rank " << max_rank << " is implausible for " << entries.size() << " tokens";
    std::sort(entries.begin(), entries.end());
    r.arena_.reserve(total);
    r.begin_.assign(static_cast<std::size_t>(max_rank) + 2, 0);
    std::size_t capacity = 16;
    while (capacity < 2 * entries.size())
        capacity *= 2;
    r.slots_.assign(capacity, Slot{});
    r.mask_ = capacity - 1;
    std::fill(std::begin(r.byte_ranks_), std::end(r.byte_ranks_), kNoRank);
    r.two_byte_ranks_.assign(65536, kNoRank);

    std::size_t next = 0;
    for (Rank rank = 0; rank <= max_rank; ++rank) {
        r.begin_[rank] = static_cast<std::uint32_t>(r.arena_.size());
        if (next < entries.size() && entries[next].first == rank) {
            const std::string& token = entries[next].second;
            ++next;
            GLM4V_CHECK(next == entries.size() || entries[next].first != rank, ErrorKind::ModelCorrupt)
                << source_name << ": rank " << rank << " appears twice";
            const auto* p = reinterpret_cast<const std::uint8_t*>(token.data());
            GLM4V_CHECK(r.find(p, token.size()) == kNoRank, ErrorKind::ModelCorrupt)
                << source_name << ": a token appears twice (ranks " << r.find(p, token.size()) << " and " << rank
                << ")";
            r.arena_ += token;
            r.max_token_size_ = std::max(r.max_token_size_, token.size());
            r.begin_[rank + 1] = static_cast<std::uint32_t>(r.arena_.size());
            const std::uint64_t h = hash_bytes(p, token.size());
            std::size_t slot = h & r.mask_;
            while (r.slots_[slot].rank != kNoRank)
                slot = (slot + 1) & r.mask_;
            r.slots_[slot] = Slot{static_cast<std::uint32_t>(h >> 32), rank};
            if (token.size() == 1) r.byte_ranks_[p[0]] = rank;
            if (token.size() == 2) r.two_byte_ranks_[(static_cast<std::size_t>(p[0]) << 8) | p[1]] = rank;
            ++r.count_;
        }
    }
    r.begin_[static_cast<std::size_t>(max_rank) + 1] = static_cast<std::uint32_t>(r.arena_.size());
    for (int b = 0; b < 256; ++b)
        GLM4V_CHECK(r.byte_ranks_[b] != kNoRank, ErrorKind::ModelCorrupt)
            << source_name << ": the single byte 0x" << std::hex << b << " is not a token";
    return r;
}

BpeRanks BpeRanks::read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    GLM4V_CHECK(in.good(), ErrorKind::ModelMissing) << "cannot read " << path.string();
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), path.string());
}

} // namespace glm4v::engine::tokenizer
