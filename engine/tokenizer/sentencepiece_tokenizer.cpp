#include "engine/tokenizer/sentencepiece_tokenizer.h"

#include <algorithm>
#include <sentencepiece_processor.h>

#include "engine/error.h"
#include "engine/tokenizer/utf8.h"

namespace glm4v::engine::tokenizer {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81"; // U+2581, SentencePiece's stand-in for ' '

std::vector<SpecialToken> with_control_pieces(const sentencepiece::SentencePieceProcessor& sp,
                                              std::vector<SpecialToken> tokens) {
    for (int id = 0; id < sp.GetPieceSize(); ++id) {
        if (!sp.IsControl(id)) continue;
        const std::string& piece = sp.IdToPiece(id);
        const bool listed = std::any_of(tokens.begin(), tokens.end(),
                                        [&](const SpecialToken& t) { return t.id == id || t.content == piece; });
        if (!listed) tokens.push_back({piece, id});
    }
    std::sort(tokens.begin(), tokens.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return tokens;
}

std::unique_ptr<sentencepiece::SentencePieceProcessor> load_processor(const std::string& serialized,
                                                                      const std::string& source_name) {
    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = sp->LoadFromSerializedProto(serialized);
    GLM4V_CHECK(status.ok(), ErrorKind::ModelCorrupt)
        << source_name << ": neither a tiktoken rank file nor a SentencePiece model (" << status.ToString() << ")";
    return sp;
}

} // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& serialized, const std::string& source_name,
                                               std::vector<SpecialToken> config_special_tokens)
    : SentencePieceTokenizer(load_processor(serialized, source_name), std::move(config_special_tokens)) {}

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp,
                                               std::vector<SpecialToken> config_special_tokens)
    : Tokenizer(with_control_pieces(*sp, std::move(config_special_tokens))), processor_(std::move(sp)) {
    if (processor_->unk_id() >= 0) unknown_surface_ = processor_->DecodeIds({processor_->unk_id()});
    // The model's normalizer spec is not public API; whether it adds a dummy prefix shows in what it does.
    std::vector<std::string> pieces;
    if (processor_->Encode("a", &pieces).ok() && !pieces.empty())
        strips_leading_space_ = pieces.front().compare(0, kSpaceSymbol.size(), kSpaceSymbol) == 0;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text) const {
    const std::size_t valid = utf8_valid_prefix(text);
    GLM4V_CHECK(valid == text.size(), ErrorKind::InvalidInput)
        << "text to tokenize is not valid UTF-8 (byte " << valid << " of " << text.size() << ")";
    std::vector<int> ids;
    const auto status = processor_->Encode(text, &ids);
    GLM4V_CHECK(status.ok(), ErrorKind::InvalidInput) << "SentencePiece cannot encode the text: " << status.ToString();
    return std::vector<TokenId>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<TokenId>& ids) const {
    std::string text;
    std::vector<int> run;
    const auto flush = [&] {
        if (run.empty()) return;
        std::string piece;
        const auto status = processor_->Decode(run, &piece);
        GLM4V_CHECK(status.ok(), ErrorKind::InvalidInput) << "SentencePiece cannot decode: " << status.ToString();
        text += piece;
        run.clear();
    };
    const int model_size = processor_->GetPieceSize();
    for (const TokenId id : ids) {
        if (id >= 0 && id < model_size) {
            run.push_back(id);
            continue;
        }
        flush();
        const SpecialToken* special = find_special_token(id);
        GLM4V_CHECK(special != nullptr, ErrorKind::InvalidInput)
            << "token id " << id << " is outside the vocabulary (size " << vocab_size() << ")";
        text += special->content;
    }
    flush();
    return text;
}

bool SentencePieceTokenizer::append_token_bytes(TokenId id, std::string& out) const {
    if (id < 0) return false;
    if (id >= processor_->GetPieceSize()) {
        const SpecialToken* special = find_special_token(id);
        if (special) out += special->content;
        return special != nullptr;
    }
    if (processor_->IsControl(id) || processor_->IsUnused(id)) return true; // the decoder writes nothing
    if (processor_->IsUnknown(id)) {
        out += unknown_surface_;
        return true;
    }
    const std::string& piece = processor_->IdToPiece(id);
    if (processor_->IsByte(id)) { // "<0xAB>"
        out.push_back(static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
        return true;
    }
    for (std::size_t i = 0; i < piece.size();) {
        if (piece.compare(i, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
            out.push_back(' ');
            i += kSpaceSymbol.size();
        } else {
            out.push_back(piece[i++]);
        }
    }
    return true;
}

std::int64_t SentencePieceTokenizer::vocab_size() const {
    std::int64_t size = processor_->GetPieceSize();
    for (const SpecialToken& s : special_tokens())
        size = std::max<std::int64_t>(size, s.id + 1);
    return size;
}

} // namespace glm4v::engine::tokenizer
