#include "tests/app/image_fixtures.h"

#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <zlib.h>

namespace glm4v::test::images {

namespace {
std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string le32(std::uint32_t v) {
    return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
}
std::string le16(std::uint32_t v) { return {static_cast<char>(v), static_cast<char>(v >> 8)}; }
std::string be16(std::uint32_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
} // namespace

cv::Mat quadrants(int width, int height) {
    cv::Mat image(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            const cv::Vec3b rgb = quadrant_rgb(width, height, x, y);
            image.at<cv::Vec3b>(y, x) = cv::Vec3b(rgb[2], rgb[1], rgb[0]);
        }
    return image;
}

cv::Vec3b quadrant_rgb(int width, int height, int x, int y) {
    const bool right = x >= width / 2, bottom = y >= height / 2;
    if (!right && !bottom) return {255, 0, 0};
    if (right && !bottom) return {0, 255, 0};
    if (!right && bottom) return {0, 0, 255};
    return {255, 255, 255};
}

std::string encode(const cv::Mat& image, const std::string& extension, const std::vector<int>& params) {
    std::vector<std::uint8_t> bytes;
    if (!cv::imencode(extension, image, bytes, params)) throw std::runtime_error("cannot encode " + extension);
    return std::string(bytes.begin(), bytes.end());
}

std::string exif_block(int orientation, bool big_endian) {
    auto u16 = [&](std::uint32_t v) { return big_endian ? be16(v) : le16(v); };
    auto u32 = [&](std::uint32_t v) { return big_endian ? be32(v) : le32(v); };
    std::string tiff = big_endian ? std::string("MM\0*", 4) : std::string("II*\0", 4);
    tiff += u32(8);                                 // IFD0 right after the header
    tiff += u16(1);                                 // one entry
    tiff += u16(0x0112) + u16(3) + u32(1);          // Orientation, SHORT, count 1
    tiff += u16(static_cast<std::uint32_t>(orientation)) + u16(0); // value, left-justified in 4 bytes
    tiff += u32(0);                                 // no next IFD
    return tiff;
}

std::string jpeg_with_orientation(const std::string& jpeg, int orientation) {
    const std::string payload = std::string("Exif\0\0", 6) + exif_block(orientation, true);
    const std::string app1 = "\xff\xe1" + be16(static_cast<std::uint32_t>(payload.size() + 2)) + payload;
    return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

std::string png_chunk(const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    return be32(static_cast<std::uint32_t>(data.size())) + body + be32(crc);
}

std::string png_with_orientation(const std::string& png, int orientation) {
    constexpr std::size_t kAfterIhdr = 8 + 12 + 13;
    return png.substr(0, kAfterIhdr) + png_chunk("eXIf", exif_block(orientation, false)) + png.substr(kAfterIhdr);
}

std::string webp_with_orientation(const std::string& webp, int width, int height, int orientation) {
    const std::string image_chunk = webp.substr(12); // the VP8 / VP8L chunk of a simple file
    std::string vp8x(10, '\0');
    vp8x[0] = 0x08; // EXIF present
    const std::string w = le32(static_cast<std::uint32_t>(width - 1)), h = le32(static_cast<std::uint32_t>(height - 1));
    vp8x.replace(4, 3, w.substr(0, 3));
    vp8x.replace(7, 3, h.substr(0, 3));
    std::string exif = exif_block(orientation, false);
    std::string body = "WEBP" + std::string("VP8X") + le32(10) + vp8x + image_chunk + "EXIF" +
                       le32(static_cast<std::uint32_t>(exif.size())) + exif;
    if (exif.size() % 2) body.push_back('\0');
    return "RIFF" + le32(static_cast<std::uint32_t>(body.size())) + body;
}

std::string tiff_rgb(const cv::Mat& bgr, int orientation) {
    const auto width = static_cast<std::uint32_t>(bgr.cols), height = static_cast<std::uint32_t>(bgr.rows);
    std::string pixels;
    for (int y = 0; y < bgr.rows; ++y)
        for (int x = 0; x < bgr.cols; ++x) {
            const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
            pixels += {static_cast<char>(p[2]), static_cast<char>(p[1]), static_cast<char>(p[0])};
        }
    struct Entry {
        std::uint32_t tag, type, count, value;
    };
    std::vector<Entry> entries = {{256, 4, 1, width},  {257, 4, 1, height}, {258, 3, 3, 0 /* offset below */},
                                  {259, 3, 1, 1},      {262, 3, 1, 2},      {273, 4, 1, 0 /* offset below */},
                                  {277, 3, 1, 3},      {278, 4, 1, height}, {279, 4, 1, static_cast<std::uint32_t>(pixels.size())},
                                  {284, 3, 1, 1}};
    if (orientation) entries.insert(entries.begin() + 6, {274, 3, 1, static_cast<std::uint32_t>(orientation)});
    const std::uint32_t ifd_size = 2 + 12 * static_cast<std::uint32_t>(entries.size()) + 4;
    const std::uint32_t bits_offset = 8 + ifd_size, pixels_offset = bits_offset + 6;
    std::string out = std::string("II*\0", 4) + le32(8) + le16(static_cast<std::uint32_t>(entries.size()));
    for (Entry e : entries) {
        if (e.tag == 258) e.value = bits_offset;
        if (e.tag == 273) e.value = pixels_offset;
        out += le16(e.tag) + le16(e.type) + le32(e.count);
        out += e.type == 3 && e.count == 1 ? le16(e.value) + le16(0) : le32(e.value);
    }
    out += le32(0) + le16(8) + le16(8) + le16(8) + pixels;
    return out;
}

std::string palette_png(int width, int height, const std::vector<cv::Vec3b>& palette_rgb) {
    std::string ihdr = be32(static_cast<std::uint32_t>(width)) + be32(static_cast<std::uint32_t>(height));
    ihdr += std::string{8, 3, 0, 0, 0}; // 8-bit indices, colour type 3
    std::string plte;
    for (const auto& c : palette_rgb) plte += {static_cast<char>(c[0]), static_cast<char>(c[1]), static_cast<char>(c[2])};
    std::string raw;
    for (int y = 0; y < height; ++y) {
        raw.push_back('\0'); // filter: none
        for (int x = 0; x < width; ++x)
            raw.push_back(static_cast<char>(((x / 8) + (y / 8)) % static_cast<int>(palette_rgb.size())));
    }
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::string idat(size, '\0');
    compress(reinterpret_cast<Bytef*>(&idat[0]), &size, reinterpret_cast<const Bytef*>(raw.data()),
             static_cast<uLong>(raw.size()));
    idat.resize(size);
    return "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", ihdr) + png_chunk("PLTE", plte) + png_chunk("IDAT", idat) +
           png_chunk("IEND", "");
}

std::string png_with_declared_size(const std::string& png, std::uint32_t width, std::uint32_t height) {
    const std::string ihdr = be32(width) + be32(height) + png.substr(8 + 8 + 8, 5);
    return png.substr(0, 8) + png_chunk("IHDR", ihdr) + png.substr(8 + 12 + 13);
}

} // namespace glm4v::test::images
