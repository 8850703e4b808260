#include "ui/markdown.h"

#include <md4c.h>

#include <imgui.h>

#include <cstdlib>

#include "ui/fonts.h"
#include "ui/theme.h"

namespace glm4v::ui {
namespace {

struct ListLevel {
    bool ordered = false;
    unsigned next = 1;
};

class Builder {
public:
    MarkdownDocument doc;

    int enter_block(MD_BLOCKTYPE type, void* detail) {
        switch (type) {
        case MD_BLOCK_QUOTE: ++quote_depth_; break;
        case MD_BLOCK_UL: lists_.push_back({false, 1}); break;
        case MD_BLOCK_OL: lists_.push_back({true, static_cast<MD_BLOCK_OL_DETAIL*>(detail)->start}); break;
        case MD_BLOCK_LI: {
            MarkdownBlock& b = open(BlockKind::ListItem);
            if (!lists_.empty() && lists_.back().ordered) {
                b.marker = std::to_string(lists_.back().next++) + ".";
            } else {
                b.marker = "\xE2\x80\xA2"; // U+2022 bullet
            }
            auto* li = static_cast<MD_BLOCK_LI_DETAIL*>(detail);
            if (li && li->is_task) b.marker += (li->task_mark == ' ') ? " [ ]" : " [x]";
            break;
        }
        case MD_BLOCK_HR: open(BlockKind::Rule); inline_ = -1; break;
        case MD_BLOCK_H: open(BlockKind::Heading).level = static_cast<int>(static_cast<MD_BLOCK_H_DETAIL*>(detail)->level); break;
        case MD_BLOCK_CODE: {
            MarkdownBlock& b = open(BlockKind::Code);
            auto* code = static_cast<MD_BLOCK_CODE_DETAIL*>(detail);
            if (code && code->lang.text) b.language.assign(code->lang.text, code->lang.size);
            in_code_ = true;
            break;
        }
        case MD_BLOCK_HTML: open(BlockKind::Code); in_code_ = true; break;
        case MD_BLOCK_P:
            // A tight list item's text arrives without a paragraph; a loose one's first paragraph
            // belongs to the item block already open.
            if (inline_ >= 0 && doc.blocks[inline_].kind == BlockKind::ListItem && doc.blocks[inline_].spans.empty()) break;
            open(BlockKind::Paragraph);
            break;
        case MD_BLOCK_TABLE: table_ = static_cast<int>(open(BlockKind::Table).header_rows = 0, doc.blocks.size() - 1); break;
        case MD_BLOCK_THEAD: in_head_ = true; break;
        case MD_BLOCK_TBODY: in_head_ = false; break;
        case MD_BLOCK_TR:
            if (table_ >= 0) {
                doc.blocks[table_].rows.emplace_back();
                if (in_head_) ++doc.blocks[table_].header_rows;
            }
            break;
        case MD_BLOCK_TH:
        case MD_BLOCK_TD:
            if (table_ >= 0 && !doc.blocks[table_].rows.empty()) doc.blocks[table_].rows.back().emplace_back();
            break;
        case MD_BLOCK_DOC: break;
        }
        return 0;
    }

    int leave_block(MD_BLOCKTYPE type) {
        switch (type) {
        case MD_BLOCK_QUOTE: --quote_depth_; break;
        case MD_BLOCK_UL:
        case MD_BLOCK_OL:
            if (!lists_.empty()) lists_.pop_back();
            break;
        case MD_BLOCK_CODE:
        case MD_BLOCK_HTML:
            if (inline_ >= 0) {
                std::string& code = doc.blocks[inline_].code;
                while (!code.empty() && code.back() == '\n') code.pop_back();
            }
            in_code_ = false;
            inline_ = -1;
            break;
        case MD_BLOCK_TABLE: table_ = -1; break;
        case MD_BLOCK_P:
        case MD_BLOCK_H:
        case MD_BLOCK_LI: inline_ = -1; break;
        default: break;
        }
        return 0;
    }

    void enter_span(MD_SPANTYPE type) { style_ |= style_of(type); }
    void leave_span(MD_SPANTYPE type) { style_ &= ~style_of(type); }

    int text(MD_TEXTTYPE type, const char* text, unsigned size) {
        std::string piece;
        switch (type) {
        case MD_TEXT_NULLCHAR: piece = "\xEF\xBF\xBD"; break;
        case MD_TEXT_BR: piece = "\n"; break;
        case MD_TEXT_SOFTBR: piece = " "; break;
        case MD_TEXT_ENTITY: piece = decode_entity(std::string(text, size)); break;
        default: piece.assign(text, size); break;
        }
        if (in_code_ && inline_ >= 0) {
            doc.blocks[inline_].code += piece;
            return 0;
        }
        std::vector<StyledSpan>* spans = target();
        unsigned style = style_ | (type == MD_TEXT_CODE ? kStyleCode : 0u);
        if (!spans->empty() && spans->back().style == style) {
            spans->back().text += piece;
        } else {
            spans->push_back({piece, style});
        }
        return 0;
    }

private:
    static unsigned style_of(MD_SPANTYPE type) {
        switch (type) {
        case MD_SPAN_EM: return kStyleItalic;
        case MD_SPAN_STRONG: return kStyleBold;
        case MD_SPAN_A: return kStyleLink;
        case MD_SPAN_CODE: return kStyleCode;
        case MD_SPAN_DEL: return kStyleStrike;
        default: return 0;
        }
    }

    static std::string decode_entity(const std::string& e) {
        if (e == "&amp;") return "&";
        if (e == "&lt;") return "<";
        if (e == "&gt;") return ">";
        if (e == "&quot;") return "\"";
        if (e == "&apos;") return "'";
        if (e == "&nbsp;") return " ";
        if (e.size() > 3 && e[1] == '#') {
            unsigned long c = (e[2] == 'x' || e[2] == 'X') ? std::strtoul(e.c_str() + 3, nullptr, 16)
                                                           : std::strtoul(e.c_str() + 2, nullptr, 10);
            if (c > 0 && c < 0x110000) return encode_utf8(static_cast<unsigned>(c));
        }
        return e;
    }

    static std::string encode_utf8(unsigned c) {
        std::string out;
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
        return out;
    }

    MarkdownBlock& open(BlockKind kind) {
        MarkdownBlock b;
        b.kind = kind;
        b.indent = static_cast<int>(lists_.size()) + quote_depth_;
        b.quoted = quote_depth_ > 0;
        doc.blocks.push_back(std::move(b));
        inline_ = static_cast<int>(doc.blocks.size()) - 1;
        return doc.blocks.back();
    }

    // Where inline text goes: the open table cell, the open block, or a new paragraph (text after a
    // nested list inside the same item).
    std::vector<StyledSpan>* target() {
        if (table_ >= 0) {
            auto& rows = doc.blocks[table_].rows;
            if (!rows.empty() && !rows.back().empty()) return &rows.back().back();
        }
        if (inline_ < 0) open(BlockKind::Paragraph);
        return &doc.blocks[inline_].spans;
    }

    std::vector<ListLevel> lists_;
    int quote_depth_ = 0;
    int inline_ = -1; // index of the block receiving text
    int table_ = -1;
    bool in_head_ = false;
    bool in_code_ = false;
    unsigned style_ = 0;
};

void draw_code_block(const MarkdownBlock& b, float width, std::optional<std::string>* copy) {
    const FontSet& f = fonts();
    fonts_note_text(b.code);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float pad = f.size * 0.5f;
    ImVec2 top = ImGui::GetCursorScreenPos();
    dl->ChannelsSplit(2);
    dl->ChannelsSetCurrent(1);
    ImGui::SetCursorScreenPos(ImVec2(top.x + pad, top.y + pad));
    if (!b.language.empty()) {
        draw_wrapped_text(b.language, f.regular, theme_color(ThemeColor::TextDim), width - 2 * pad);
        ImGui::SetCursorScreenPos(ImVec2(top.x + pad, ImGui::GetCursorScreenPos().y));
    }
    draw_text_flow({StyledSpan{b.code, 0}}, f.mono, ImGui::GetColorU32(ImGuiCol_Text), width - 2 * pad);
    ImVec2 bottom(top.x + width, ImGui::GetCursorScreenPos().y + pad * 0.5f);
    ImGui::SetCursorScreenPos(ImVec2(bottom.x - ImGui::CalcTextSize("Copy").x - 2 * ImGui::GetStyle().FramePadding.x - pad * 0.5f,
                                     top.y + pad * 0.3f));
    if (ImGui::SmallButton("Copy") && copy) *copy = b.code;
    dl->ChannelsSetCurrent(0);
    dl->AddRectFilled(top, bottom, theme_color(ThemeColor::CodeBackground), f.size * 0.3f);
    dl->ChannelsMerge();
    ImGui::SetCursorScreenPos(ImVec2(top.x, bottom.y));
    ImGui::Dummy(ImVec2(width, pad * 0.5f));
}

void draw_table(const MarkdownBlock& b, float width) {
    size_t columns = 0;
    for (const auto& row : b.rows) columns = std::max(columns, row.size());
    if (columns == 0) return;
    const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp;
    if (!ImGui::BeginTable("table", static_cast<int>(std::min<size_t>(columns, 64)), flags, ImVec2(width, 0))) return;
    const FontSet& f = fonts();
    for (size_t r = 0; r < b.rows.size(); ++r) {
        ImGui::TableNextRow(r < static_cast<size_t>(b.header_rows) ? ImGuiTableRowFlags_Headers : 0);
        for (size_t c = 0; c < b.rows[r].size() && c < 64; ++c) {
            ImGui::TableSetColumnIndex(static_cast<int>(c));
            float w = ImGui::GetContentRegionAvail().x;
            draw_text_flow(b.rows[r][c], r < static_cast<size_t>(b.header_rows) ? f.bold : f.regular,
                           ImGui::GetColorU32(ImGuiCol_Text), w);
        }
    }
    ImGui::EndTable();
}

} // namespace

MarkdownDocument parse_markdown(const std::string& text) {
    Builder builder;
    MD_PARSER parser{};
    parser.flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML;
    parser.enter_block = [](MD_BLOCKTYPE t, void* d, void* u) { return static_cast<Builder*>(u)->enter_block(t, d); };
    parser.leave_block = [](MD_BLOCKTYPE t, void*, void* u) { return static_cast<Builder*>(u)->leave_block(t); };
    parser.enter_span = [](MD_SPANTYPE t, void*, void* u) {
        static_cast<Builder*>(u)->enter_span(t);
        return 0;
    };
    parser.leave_span = [](MD_SPANTYPE t, void*, void* u) {
        static_cast<Builder*>(u)->leave_span(t);
        return 0;
    };
    parser.text = [](MD_TEXTTYPE t, const MD_CHAR* s, MD_SIZE n, void* u) { return static_cast<Builder*>(u)->text(t, s, n); };
    md_parse(text.data(), static_cast<MD_SIZE>(text.size()), &parser, &builder);
    return std::move(builder.doc);
}

void draw_markdown(const MarkdownDocument& doc, float wrap_width, std::optional<std::string>* copy) {
    const FontSet& f = fonts();
    const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
    const float indent_step = f.size * 1.4f;
    const ImVec2 start = ImGui::GetCursorScreenPos();
    for (size_t i = 0; i < doc.blocks.size(); ++i) {
        const MarkdownBlock& b = doc.blocks[i];
        ImGui::PushID(static_cast<int>(i));
        if (i > 0) ImGui::Dummy(ImVec2(0, f.size * 0.25f));
        const float indent = b.indent * indent_step;
        const ImVec2 block_top(start.x, ImGui::GetCursorScreenPos().y);
        ImGui::SetCursorScreenPos(ImVec2(start.x + indent, block_top.y));
        const float width = wrap_width - indent;
        switch (b.kind) {
        case BlockKind::Paragraph:
            draw_text_flow(b.spans, f.regular, b.quoted ? theme_color(ThemeColor::TextDim) : text_color, width);
            break;
        case BlockKind::Heading: {
            ImFont* font = b.level <= 2 ? f.heading : f.bold;
            draw_text_flow(b.spans, font, text_color, width);
            if (b.level <= 2) {
                float y = ImGui::GetCursorScreenPos().y;
                ImGui::GetWindowDrawList()->AddLine(ImVec2(start.x, y), ImVec2(start.x + wrap_width, y), theme_color(ThemeColor::Rule));
                ImGui::Dummy(ImVec2(0, 2));
            }
            break;
        }
        case BlockKind::ListItem: {
            // Marker in the gutter left of the item's text.
            const float marker_w = f.regular->CalcTextSizeA(f.size, 1e9f, 0, b.marker.c_str()).x + f.size * 0.4f;
            ImVec2 pos = ImGui::GetCursorScreenPos();
            ImGui::GetWindowDrawList()->AddText(f.regular, f.size, ImVec2(pos.x - marker_w + indent_step * 0.6f, pos.y + f.size * 0.15f),
                                                theme_color(ThemeColor::TextDim), b.marker.c_str());
            ImGui::SetCursorScreenPos(ImVec2(pos.x + indent_step * 0.6f, pos.y));
            draw_text_flow(b.spans, f.regular, text_color, width - indent_step * 0.6f);
            break;
        }
        case BlockKind::Code: draw_code_block(b, width, copy); break;
        case BlockKind::Rule: {
            ImVec2 pos = ImGui::GetCursorScreenPos();
            float y = pos.y + f.size * 0.5f;
            ImGui::GetWindowDrawList()->AddLine(ImVec2(pos.x, y), ImVec2(pos.x + width, y), theme_color(ThemeColor::Rule), 1.5f);
            ImGui::Dummy(ImVec2(width, f.size));
            break;
        }
        case BlockKind::Table: draw_table(b, width); break;
        }
        if (b.quoted) {
            float x = start.x + (b.indent - 1) * indent_step + indent_step * 0.3f;
            ImGui::GetWindowDrawList()->AddLine(ImVec2(x, block_top.y), ImVec2(x, ImGui::GetCursorScreenPos().y),
                                                theme_color(ThemeColor::Rule), 3.0f);
        }
        ImGui::PopID();
    }
}

} // namespace glm4v::ui
