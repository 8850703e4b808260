#pragma once
// What an image file says about itself before anything decodes it: its format (by content, never by
// file name), its dimensions, its EXIF orientation, and whether its structure is whole. Reading this
// first lets image_intake refuse a 30000x20000 image before allocating for it, and give truncated and
// corrupt files their own messages instead of OpenCV's silent empty result (libjpeg even "succeeds" on
// a truncated JPEG, padding it with grey).

#include <cstddef>
#include <cstdint>
#include <string>

namespace glm4v::app {

enum class ImageFormat { Jpeg, Png, Webp, Bmp, Tiff };
const char* image_format_name(ImageFormat format); // "jpeg", "png", "webp", "bmp", "tiff"

struct ImageHeader {
    ImageFormat format = ImageFormat::Png;
    std::int64_t width = 0; // as stored, before orientation
    std::int64_t height = 0;
    int orientation = 1; // EXIF 1..8; 1 (upright) when absent or invalid
};

// Throws engine::Error (ErrorKind::InvalidInput) whose message starts with `name`: empty, not an image,
// truncated, corrupt (a PNG checksum), or a header with impossible values. Trailing bytes after a
// complete image are allowed. Checks: PNG every chunk's CRC and the IEND chunk; JPEG the segment chain
// up to the first scan and an end-of-image marker after it; WebP the RIFF chunk chain; BMP and TIFF that
// the pixel data lies inside the file (uncompressed BMP; TIFF strips and tiles).
ImageHeader read_image_header(const std::uint8_t* data, std::size_t size, const std::string& name);

// The orientation tag (0x0112) of IFD0 in a TIFF-structured block (EXIF's payload, or a TIFF file);
// 1 when missing or unreadable. A leading "Exif\0\0" is skipped.
int exif_orientation(const std::uint8_t* data, std::size_t size);

} // namespace glm4v::app
