#include <catch2/catch.hpp>

#include "ui/markdown.h"

using glm4v::ui::BlockKind;
using glm4v::ui::MarkdownDocument;
using glm4v::ui::parse_markdown;

namespace {
std::string plain(const std::vector<glm4v::ui::StyledSpan>& spans) {
    std::string out;
    for (const auto& s : spans) out += s.text;
    return out;
}
} // namespace

TEST_CASE("headings, paragraphs and emphasis become styled blocks", "[ui][markdown]") {
    MarkdownDocument doc = parse_markdown("# Title\n\nSome **bold** and *italic* and `code` text.\n");
    REQUIRE(doc.blocks.size() == 2);
    CHECK(doc.blocks[0].kind == BlockKind::Heading);
    CHECK(doc.blocks[0].level == 1);
    CHECK(plain(doc.blocks[0].spans) == "Title");
    const auto& p = doc.blocks[1];
    CHECK(p.kind == BlockKind::Paragraph);
    CHECK(plain(p.spans) == "Some bold and italic and code text.");
    bool bold = false, italic = false, code = false;
    for (const auto& s : p.spans) {
        if (s.text == "bold") bold = s.style == glm4v::ui::kStyleBold;
        if (s.text == "italic") italic = s.style == glm4v::ui::kStyleItalic;
        if (s.text == "code") code = s.style == glm4v::ui::kStyleCode;
    }
    CHECK(bold);
    CHECK(italic);
    CHECK(code);
}

TEST_CASE("nested and ordered lists keep their depth and numbers", "[ui][markdown]") {
    MarkdownDocument doc = parse_markdown("3. three\n4. four\n   - inner\n\n- a\n- b\n");
    REQUIRE(doc.blocks.size() == 5);
    CHECK(doc.blocks[0].marker == "3.");
    CHECK(doc.blocks[1].marker == "4.");
    CHECK(doc.blocks[2].indent == 2);
    CHECK(plain(doc.blocks[2].spans) == "inner");
    CHECK(doc.blocks[3].indent == 1);
    CHECK(doc.blocks[3].marker == "\xE2\x80\xA2");
    CHECK(plain(doc.blocks[4].spans) == "b");
}

TEST_CASE("a fenced code block keeps its text verbatim and its language", "[ui][markdown]") {
    MarkdownDocument doc = parse_markdown("```cpp\nint main() {\n    return 0;\n}\n```\n");
    REQUIRE(doc.blocks.size() == 1);
    CHECK(doc.blocks[0].kind == BlockKind::Code);
    CHECK(doc.blocks[0].language == "cpp");
    CHECK(doc.blocks[0].code == "int main() {\n    return 0;\n}");
}

TEST_CASE("a table gives rows of cells with one header row", "[ui][markdown]") {
    MarkdownDocument doc = parse_markdown("| a | b |\n|---|---|\n| 1 | **2** |\n| 3 | 4 |\n");
    REQUIRE(doc.blocks.size() == 1);
    const auto& t = doc.blocks[0];
    CHECK(t.kind == BlockKind::Table);
    CHECK(t.header_rows == 1);
    REQUIRE(t.rows.size() == 3);
    REQUIRE(t.rows[1].size() == 2);
    CHECK(plain(t.rows[1][1]) == "2");
    CHECK(t.rows[1][1][0].style == glm4v::ui::kStyleBold);
    CHECK(plain(t.rows[2][0]) == "3");
}

TEST_CASE("Chinese text, entities and a half-streamed reply parse without loss", "[ui][markdown]") {
    MarkdownDocument doc = parse_markdown("图片里有一只**猫** &amp; 一条狗。\n\n```py\nprint(1");
    REQUIRE(doc.blocks.size() == 2);
    CHECK(plain(doc.blocks[0].spans) == "图片里有一只猫 & 一条狗。");
    CHECK(doc.blocks[1].kind == BlockKind::Code);
    CHECK(doc.blocks[1].code == "print(1");
}

TEST_CASE("quotes and rules are marked", "[ui][markdown]") {
    MarkdownDocument doc = parse_markdown("> quoted\n\n---\n\nafter\n");
    REQUIRE(doc.blocks.size() == 3);
    CHECK(doc.blocks[0].quoted);
    CHECK(doc.blocks[1].kind == BlockKind::Rule);
    CHECK(!doc.blocks[2].quoted);
}
