#pragma once
// The engine's only image type: decoded, orientation-corrected RGB8 pixels. Decoding files is the
// app's job (app/image_intake); the engine never opens an image file.

#include <cstdint>
#include <vector>

namespace glm4v::engine {

struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels; // row-major, 3 bytes per pixel, no padding: size == width * height * 3
};

} // namespace glm4v::engine
