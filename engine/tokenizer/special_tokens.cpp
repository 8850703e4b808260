#include "engine/tokenizer/special_tokens.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/error.h"

namespace glm4v::engine::tokenizer {

std::vector<SpecialToken> parse_special_tokens(const std::string& json_text, const std::string& source_name) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
        GLM4V_FAIL(ErrorKind::ModelCorrupt) << source_name << ": not valid JSON: " << e.what();
    }
    GLM4V_CHECK(doc.is_object(), ErrorKind::ModelCorrupt) << source_name << ": expected a JSON object";
    std::vector<SpecialToken> tokens;
    const auto it = doc.find("added_tokens_decoder");
    if (it == doc.end()) return tokens;
    GLM4V_CHECK(it->is_object(), ErrorKind::ModelCorrupt) << source_name << ": added_tokens_decoder is not an object";
    std::set<std::string> seen;
    for (const auto& [key, entry] : it->items()) {
        errno = 0;
        char* end = nullptr;
        const long long id = std::strtoll(key.c_str(), &end, 10);
        GLM4V_CHECK(!key.empty() && *end == '\0' && errno == 0 && id >= 0 && id <= std::numeric_limits<TokenId>::max(),
                    ErrorKind::ModelCorrupt)
            << source_name << ": added_tokens_decoder key '" << key << "' is not a token id";
        GLM4V_CHECK(entry.is_object() && entry.contains("content") && entry["content"].is_string(),
                    ErrorKind::ModelCorrupt)
            << source_name << ": added token " << key << " has no string 'content'";
        const std::string content = entry["content"].get<std::string>();
        GLM4V_CHECK(!content.empty(), ErrorKind::ModelCorrupt) << source_name << ": added token " << key << " is empty";
        GLM4V_CHECK(seen.insert(content).second, ErrorKind::ModelCorrupt)
            << source_name << ": added token '" << content << "' appears twice";
        tokens.push_back({content, static_cast<TokenId>(id)});
    }
    // JSON object keys are unique, so ids are too; the order is the file's, which we do not rely on.
    std::sort(tokens.begin(), tokens.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return tokens;
}

std::vector<SpecialToken> read_special_tokens(const std::filesystem::path& tokenizer_config) {
    std::ifstream in(tokenizer_config, std::ios::binary);
    GLM4V_CHECK(in.good(), ErrorKind::ModelMissing) << "cannot read " << tokenizer_config.string();
    std::ostringstream text;
    text << in.rdbuf();
    return parse_special_tokens(text.str(), tokenizer_config.string());
}

} // namespace glm4v::engine::tokenizer
