#pragma once
// Markdown replies: md4c parses (GitHub dialect: tables, strikethrough, autolinks), this file turns its
// events into a flat list of blocks and draws them with ImGui (headings, lists, emphasis, inline and
// block code, quotes, rules, tables). Parsing is separate from drawing so a streaming reply is parsed
// once per change, not once per frame.

#include <optional>
#include <string>
#include <vector>

#include "ui/text_flow.h"

namespace glm4v::ui {

enum class BlockKind { Paragraph, Heading, ListItem, Code, Rule, Table };

struct MarkdownBlock {
    BlockKind kind = BlockKind::Paragraph;
    int level = 0;        // heading level 1-6
    int indent = 0;       // nesting depth of lists and quotes
    bool quoted = false;  // inside a block quote
    std::string marker;   // list item: "•" or "3."
    std::vector<StyledSpan> spans;
    std::string code;     // code block text
    std::string language; // code block info string
    std::vector<std::vector<std::vector<StyledSpan>>> rows; // table: rows of cells
    int header_rows = 0;
};

struct MarkdownDocument {
    std::vector<MarkdownBlock> blocks;
};

MarkdownDocument parse_markdown(const std::string& text);

// Draws at the cursor within wrap_width. A code block's Copy button puts its text in *copy.
void draw_markdown(const MarkdownDocument& doc, float wrap_width, std::optional<std::string>* copy);

} // namespace glm4v::ui
