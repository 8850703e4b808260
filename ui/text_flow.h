#pragma once
// Word-wrapped text of mixed styles (ImGui 1.86 has no rich text): the layout under the Markdown
// renderer. Latin words wrap at spaces, CJK wraps between any two characters.

#include <imgui.h>

#include <string>
#include <vector>

namespace glm4v::ui {

enum SpanStyle : unsigned {
    kStyleBold = 1u << 0,
    kStyleItalic = 1u << 1,
    kStyleCode = 1u << 2,
    kStyleLink = 1u << 3,
    kStyleStrike = 1u << 4,
};

struct StyledSpan {
    std::string text;
    unsigned style = 0;
};

// Lays the spans out at the cursor, wrapping at wrap_width, draws them and moves the cursor below.
// base is the font of unstyled text (regular, or the heading face).
void draw_text_flow(const std::vector<StyledSpan>& spans, ImFont* base, ImU32 color, float wrap_width);

// The same for one unstyled string.
void draw_wrapped_text(const std::string& text, ImFont* font, ImU32 color, float wrap_width);

} // namespace glm4v::ui
