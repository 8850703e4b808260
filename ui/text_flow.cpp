#include "ui/text_flow.h"

#include <algorithm>
#include <cfloat>

#include "ui/fonts.h"
#include "ui/theme.h"

namespace glm4v::ui {
namespace {

// CJK ideographs, kana, hangul, full-width forms and CJK punctuation break anywhere.
bool breaks_anywhere(unsigned c) { return c >= 0x2E80; }

ImFont* font_for(unsigned style, ImFont* base) {
    const FontSet& f = fonts();
    if (style & kStyleCode) return f.mono;
    if (base == f.heading) return base;
    if (style & kStyleBold) return f.bold;
    if (style & kStyleItalic) return f.italic;
    return base;
}

class Layout {
public:
    Layout(float wrap_width, float line_height)
        : origin_(ImGui::GetCursorScreenPos()), wrap_(std::max(wrap_width, 40.0f)), line_height_(line_height),
          draw_list_(ImGui::GetWindowDrawList()) {}

    void span(const StyledSpan& s, ImFont* font, ImU32 color) {
        fonts_note_text(s.text);
        const float size = font->FontSize;
        const char* p = s.text.data();
        const char* end = p + s.text.size();
        while (p < end) {
            if (*p == '\n') {
                newline();
                ++p;
                continue;
            }
            if (*p == ' ' || *p == '\t') {
                const char* b = p++;
                float w = font->CalcTextSizeA(size, FLT_MAX, 0, b, p).x * (*b == '\t' ? 4 : 1);
                if (x_ > 0 || (s.style & kStyleCode)) {
                    if (s.style & kStyleCode) decorate(s.style, font, x_, w);
                    x_ += w;
                }
                continue;
            }
            const char* b = p;
            unsigned c = decode_utf8(p, end);
            if (!breaks_anywhere(c)) {
                while (p < end && *p != ' ' && *p != '\t' && *p != '\n') {
                    const char* q = p;
                    if (breaks_anywhere(decode_utf8(q, end))) break;
                    p = q;
                }
            }
            word(b, p, font, color, s.style);
        }
    }

    void finish() {
        const float height = y_ + (x_ > 0 || y_ == 0 ? line_height_ : 0);
        ImGui::Dummy(ImVec2(std::min(max_x_, wrap_), height));
    }

private:
    void word(const char* b, const char* e, ImFont* font, ImU32 color, unsigned style) {
        const float size = font->FontSize;
        float w = font->CalcTextSizeA(size, FLT_MAX, 0, b, e).x;
        if (x_ > 0 && x_ + w > wrap_) newline();
        if (w > wrap_) { // longer than a line: split between characters
            const char* p = b;
            while (p < e) {
                const char* q = p;
                decode_utf8(q, e);
                float cw = font->CalcTextSizeA(size, FLT_MAX, 0, p, q).x;
                if (x_ > 0 && x_ + cw > wrap_) newline();
                emit(p, q, font, color, style, cw);
                p = q;
            }
            return;
        }
        emit(b, e, font, color, style, w);
    }

    void emit(const char* b, const char* e, ImFont* font, ImU32 color, unsigned style, float w) {
        decorate(style, font, x_, w);
        ImVec2 pos(origin_.x + x_, origin_.y + y_ + (line_height_ - font->FontSize) * 0.5f);
        draw_list_->AddText(font, font->FontSize, pos, (style & kStyleLink) ? theme_color(ThemeColor::Link) : color, b, e);
        if (style & (kStyleLink | kStyleStrike)) {
            float ly = (style & kStyleStrike) ? pos.y + font->FontSize * 0.55f : pos.y + font->FontSize;
            draw_list_->AddLine(ImVec2(pos.x, ly), ImVec2(pos.x + w, ly),
                                (style & kStyleLink) ? theme_color(ThemeColor::Link) : color);
        }
        x_ += w;
        max_x_ = std::max(max_x_, x_);
    }

    void decorate(unsigned style, ImFont* font, float x, float w) {
        if (!(style & kStyleCode)) return;
        ImVec2 a(origin_.x + x - 1, origin_.y + y_ + (line_height_ - font->FontSize) * 0.5f - 1);
        draw_list_->AddRectFilled(a, ImVec2(a.x + w + 2, a.y + font->FontSize + 2), theme_color(ThemeColor::CodeBackground));
    }

    void newline() {
        x_ = 0;
        y_ += line_height_;
    }

    ImVec2 origin_;
    float wrap_;
    float line_height_;
    ImDrawList* draw_list_;
    float x_ = 0;
    float y_ = 0;
    float max_x_ = 0;
};

} // namespace

void draw_text_flow(const std::vector<StyledSpan>& spans, ImFont* base, ImU32 color, float wrap_width) {
    Layout layout(wrap_width, base->FontSize * 1.3f);
    for (const StyledSpan& s : spans) layout.span(s, font_for(s.style, base), color);
    layout.finish();
}

void draw_wrapped_text(const std::string& text, ImFont* font, ImU32 color, float wrap_width) {
    Layout layout(wrap_width, font->FontSize * 1.3f);
    layout.span(StyledSpan{text, 0}, font, color);
    layout.finish();
}

} // namespace glm4v::ui
