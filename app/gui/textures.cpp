#include "app/gui/textures.h"

#include <GL/gl.h>

#include <algorithm>
#include <vector>

namespace glm4v::app::gui {

std::uint64_t texture_from_rgb(const engine::RgbImage& image) {
    if (image.width <= 0 || image.height <= 0 || image.pixels.size() < static_cast<std::size_t>(image.width) * image.height * 3)
        return 0;
    GLint max_side = 0;
    glGetIntegerv(GL_MAX_TEXTURE_SIZE, &max_side);
    if (max_side > 0 && std::max(image.width, image.height) > max_side) {
        // Larger than the GPU takes: show every n-th pixel (the model still gets the full image).
        const int step = (std::max(image.width, image.height) + max_side - 1) / max_side;
        engine::RgbImage small;
        small.width = image.width / step;
        small.height = image.height / step;
        small.pixels.resize(static_cast<std::size_t>(small.width) * small.height * 3);
        for (int y = 0; y < small.height; ++y)
            for (int x = 0; x < small.width; ++x)
                std::copy_n(&image.pixels[(static_cast<std::size_t>(y) * step * image.width + static_cast<std::size_t>(x) * step) * 3], 3,
                            &small.pixels[(static_cast<std::size_t>(y) * small.width + x) * 3]);
        return texture_from_rgb(small);
    }
    // RGBA, the font atlas's format: software GL compiles a shader variant per texture format on first
    // use, and one format means one variant, compiled at start-up.
    std::vector<std::uint8_t> rgba(static_cast<std::size_t>(image.width) * image.height * 4);
    for (std::size_t i = 0, n = static_cast<std::size_t>(image.width) * image.height; i < n; ++i) {
        rgba[i * 4 + 0] = image.pixels[i * 3 + 0];
        rgba[i * 4 + 1] = image.pixels[i * 3 + 1];
        rgba[i * 4 + 2] = image.pixels[i * 3 + 2];
        rgba[i * 4 + 3] = 255;
    }
    GLuint texture = 0;
    glGenTextures(1, &texture);
    glBindTexture(GL_TEXTURE_2D, texture);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, image.width, image.height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
    return texture;
}

void texture_delete(std::uint64_t texture) {
    if (!texture) return;
    GLuint name = static_cast<GLuint>(texture);
    glDeleteTextures(1, &name);
}

} // namespace glm4v::app::gui
