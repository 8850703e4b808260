#pragma once
// Turns whatever the user drops or pastes into the engine's image type (DESIGN.md section 1: the engine
// takes decoded RGB8 pixels, never file names). JPEG, PNG, WebP, BMP and TIFF, decoded by OpenCV:
//   - EXIF orientation applied for JPEG (APP1), PNG (eXIf) and WebP (EXIF chunk), read by image_header.cpp
//     (OpenCV's own EXIF rotation is switched off); TIFF's orientation tag is applied by OpenCV's TIFF decoder;
//   - alpha composited on white; grayscale, palette, 16-bit and float samples made RGB8;
//   - dimensions checked from the header before decoding: a JPEG too large is decoded at 1/2, 1/4 or 1/8
//     scale by libjpeg (the model sees 1120x1120 anyway), any other format too large is refused;
//   - empty, non-image, truncated and corrupt files refused with engine::Error (ErrorKind::InvalidInput)
//     whose message names the file and says which of those it is.
// Nothing here touches the UI or the engine's tensors; it runs on the worker thread.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/image_header.h"
#include "engine/image.h"

namespace glm4v::app {

struct IntakeLimits {
    // Decoded pixels allowed after any JPEG reduction: 64 MP is about 200 MB as RGB8, 512 MB at worst
    // (16-bit RGBA) while converting.
    std::int64_t max_pixels = 64'000'000;
    std::size_t max_file_bytes = std::size_t{512} << 20;
};

struct IntakeImage {
    engine::RgbImage image; // upright RGB8; width / reduction when a large JPEG was decoded reduced
    ImageFormat format = ImageFormat::Png;
    int width = 0;  // upright, full resolution (orientation applied, before any reduction)
    int height = 0;
    int reduction = 1;       // 1, 2, 4 or 8
    int exif_orientation = 1;
    std::string sha256;                   // of the file bytes
    std::vector<std::uint8_t> file_bytes; // exactly as read, for the content-addressed history copy
};

// `name` is what error messages call the image ("clipboard image"); for files it is the path.
IntakeImage decode_image_file(const std::filesystem::path& path, const IntakeLimits& limits = {});
IntakeImage decode_image_bytes(std::vector<std::uint8_t> bytes, const std::string& name,
                               const IntakeLimits& limits = {});

// A PNG no larger than max_side x max_side, aspect kept, never enlarged (the history list's thumbnails).
std::vector<std::uint8_t> make_thumbnail_png(const engine::RgbImage& image, int max_side = 128);

} // namespace glm4v::app
