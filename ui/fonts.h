#pragma once
// Fonts: Noto Sans CJK (fonts-noto-cjk) in five faces, built off the UI thread. ImGui 1.86's atlas
// cannot hold all of CJK (DESIGN.md section 6), so it starts with Latin and punctuation, the views
// report the characters they are about to draw (fonts_note_text), and a new atlas holding them is
// built on a helper thread and swapped in between frames. Until it arrives a character shows as '?'.

#include <string>
#include <string_view>

struct ImFont;
struct ImFontAtlas;

namespace glm4v::ui {

struct FontSet {
    ImFont* regular = nullptr;
    ImFont* bold = nullptr;
    ImFont* italic = nullptr;
    ImFont* mono = nullptr;
    ImFont* heading = nullptr; // bold, 1.3 times the size
    float size = 13.0f;        // pixels
};

const FontSet& fonts();

// The atlas the ImGui context starts with (ImGui's own font: the first frame reads no file). Owned
// here; pass it to ImGui::CreateContext.
ImFontAtlas* fonts_initial_atlas();
// (Re)builds every face at this pixel size (font size times the window's content scale).
void fonts_request_size(float pixel_size);
// Call between frames, with the GL context current: adopts a finished atlas (uploads its texture) and
// starts building one for newly noted characters. True when the fonts changed.
bool fonts_update_between_frames();
// Notes characters that the current atlas lacks; cheap enough to call on every string drawn.
void fonts_note_text(std::string_view utf8);
// True while characters noted so far are not yet in the current atlas (scripted screenshots wait).
bool fonts_pending();
// True once an atlas built from the font files is in use (until then: ImGui's built-in font).
bool fonts_built();
// Which files render text, or why the fallback is in use.
std::string fonts_status();
// Stops the builder thread and frees every atlas; call before the GL context goes.
void fonts_shutdown();

// Decodes one UTF-8 character at *p (advancing it); invalid bytes give U+FFFD.
unsigned decode_utf8(const char*& p, const char* end);

} // namespace glm4v::ui
