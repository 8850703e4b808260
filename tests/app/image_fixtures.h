#pragma once
// Images made by the tests themselves, good and bad: OpenCV encodes the plain ones; the rest (EXIF
// blocks, palette PNGs, TIFFs with an orientation tag, damaged files) are assembled byte by byte here,
// so each fixture is exactly what its test says it is.

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

namespace glm4v::test::images {

// Quadrants, as BGR for OpenCV: top-left red, top-right green, bottom-left blue, bottom-right white.
cv::Mat quadrants(int width, int height);
// The RGB colour a quadrants() image has at stored pixel (x, y).
cv::Vec3b quadrant_rgb(int width, int height, int x, int y);

std::string encode(const cv::Mat& image, const std::string& extension, const std::vector<int>& params = {});

// A TIFF block holding only IFD0's orientation tag (EXIF's payload), big- or little-endian.
std::string exif_block(int orientation, bool big_endian);
// JPEG with an APP1 "Exif" segment right after SOI.
std::string jpeg_with_orientation(const std::string& jpeg, int orientation);
// PNG with an eXIf chunk right after IHDR.
std::string png_with_orientation(const std::string& png, int orientation);
// A simple (VP8 or VP8L) WebP rewrapped in a VP8X container with an EXIF chunk.
std::string webp_with_orientation(const std::string& webp, int width, int height, int orientation);
// An uncompressed RGB8 TIFF written by hand, with an orientation tag unless orientation is 0.
std::string tiff_rgb(const cv::Mat& bgr, int orientation);

std::string png_chunk(const std::string& type, const std::string& data);
// A palette (colour type 3) PNG: each pixel's index is ((x / 8) + (y / 8)) % palette size.
std::string palette_png(int width, int height, const std::vector<cv::Vec3b>& palette_rgb);
// Rewrites IHDR's width and height (with a valid CRC), the data left as it was.
std::string png_with_declared_size(const std::string& png, std::uint32_t width, std::uint32_t height);

} // namespace glm4v::test::images
