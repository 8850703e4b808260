#pragma once
// Image to pixel_values exactly as the reference does it (DESIGN.md section 2): resize to
// size x size ignoring aspect with Pillow's antialiased bicubic, scale to [0, 1], normalize with the
// CLIP mean and std.

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "engine/image.h"

namespace glm4v::engine::runtime {

// Pillow's Image.resize(..., BICUBIC) on an RGB image, bit for bit (libImaging/Resample.c semantics:
// a = -0.5, support scaled by the downscale factor, 22-bit fixed-point coefficients, horizontal pass
// first, the intermediate rounded and clipped to 8 bits).
RgbImage resize_bicubic(const RgbImage& image, int width, int height);

// -> float32 [3, size, size], normalized.
torch::Tensor preprocess_image(const RgbImage& image, int size);

} // namespace glm4v::engine::runtime
