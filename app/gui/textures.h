#pragma once
// RGB8 pixels to OpenGL textures, on the UI thread (the GL context's thread).

#include <cstdint>

#include "engine/image.h"

namespace glm4v::app::gui {

// 0 when the image is empty.
std::uint64_t texture_from_rgb(const engine::RgbImage& image);
void texture_delete(std::uint64_t texture);

} // namespace glm4v::app::gui
