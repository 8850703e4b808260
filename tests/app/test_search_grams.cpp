#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "app/search_grams.h"

namespace app = glm4v::app;

namespace {
std::set<std::string> tokens_of(const std::string& text) {
    std::istringstream in(app::search_gram_tokens(text));
    std::set<std::string> tokens;
    std::string token;
    while (in >> token) tokens.insert(token);
    return tokens;
}
} // namespace

TEST_CASE("every character and adjacent pair of a Chinese text is a gram", "[app][search]") {
    const auto tokens = tokens_of("我的发票");
    CHECK(tokens.size() == 7);
    for (const char* gram : {"我", "的", "发", "票", "我的", "的发", "发票"})
        CHECK(tokens.count(app::search_gram_token(app::search_fold(gram))) == 1);
    CHECK(app::search_gram_token(app::search_fold("发票")) == "53d1x7968");
}

TEST_CASE("grams never span whitespace and ASCII letters are folded", "[app][search]") {
    const auto tokens = tokens_of("Ab c");
    CHECK(tokens == std::set<std::string>{"61", "62", "61x62", "63"});
    CHECK(app::search_gram_tokens("abab") == "61 61x62 62 62x61");
}

TEST_CASE("invalid UTF-8 becomes replacement characters, one per bad byte", "[app][search]") {
    const std::u32string points = app::utf8_decode(std::string("a\xff\xe4\xb8", 4) + "b");
    CHECK(points == std::u32string{U'a', 0xfffd, 0xfffd, 0xfffd, U'b'});
    CHECK(app::utf8_encode(app::utf8_decode("发票 ok 🙂")) == "发票 ok 🙂");
}
