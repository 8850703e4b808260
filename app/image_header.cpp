#include "app/image_header.h"

#include <array>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace glm4v::app {
using engine::ErrorKind;

namespace {

std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t{p[0]} << 8 | p[1]; }
std::uint32_t be32(const std::uint8_t* p) { return be16(p) << 16 | be16(p + 2); }
std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t{p[1]} << 8 | p[0]; }
std::uint32_t le32(const std::uint8_t* p) { return le16(p + 2) << 16 | le16(p); }

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xffffffffu;
    for (std::size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

// Bounds-checked reads of a TIFF structure in either byte order.
class TiffReader {
public:
    TiffReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {
        if (size < 8) return;
        if (std::memcmp(data, "II*\0", 4) == 0)
            little_ = true;
        else if (std::memcmp(data, "MM\0*", 4) == 0)
            little_ = false;
        else
            return;
        valid_ = true;
    }
    bool valid() const { return valid_; }
    bool has(std::size_t offset, std::size_t bytes) const { return offset <= size_ && bytes <= size_ - offset; }
    std::uint32_t u16(std::size_t offset) const { return little_ ? le16(data_ + offset) : be16(data_ + offset); }
    std::uint32_t u32(std::size_t offset) const { return little_ ? le32(data_ + offset) : be32(data_ + offset); }
    std::uint32_t first_ifd() const { return u32(4); }

    struct Entry {
        std::uint32_t tag, type, count;
        std::size_t value_offset; // where the values are (inline or not)
    };
    // Entries of the IFD at `offset`; false when it does not fit in the data.
    bool entries(std::size_t offset, std::vector<Entry>& out) const {
        if (!has(offset, 2)) return false;
        const std::uint32_t count = u16(offset);
        if (!has(offset + 2, std::size_t{count} * 12)) return false;
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::size_t at = offset + 2 + std::size_t{i} * 12;
            Entry entry{u16(at), u16(at + 2), u32(at + 4), at + 8};
            const std::size_t unit = entry.type == 3 ? 2 : entry.type == 4 ? 4 : entry.type == 16 ? 8 : 1;
            if (std::uint64_t{unit} * entry.count > 4) entry.value_offset = u32(at + 8);
            out.push_back(entry);
        }
        return true;
    }
    // Value `index` of a SHORT or LONG entry; false when it lies outside the data.
    bool value(const Entry& entry, std::uint32_t index, std::uint64_t& out) const {
        if (index >= entry.count) return false;
        if (entry.type == 3) {
            const std::size_t at = entry.value_offset + std::size_t{index} * 2;
            if (!has(at, 2)) return false;
            out = u16(at);
            return true;
        }
        if (entry.type == 4) {
            const std::size_t at = entry.value_offset + std::size_t{index} * 4;
            if (!has(at, 4)) return false;
            out = u32(at);
            return true;
        }
        return false;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    bool little_ = true;
    bool valid_ = false;
};

int orientation_in_tiff(const TiffReader& tiff) {
    std::vector<TiffReader::Entry> entries;
    if (!tiff.valid() || !tiff.entries(tiff.first_ifd(), entries)) return 1;
    for (const auto& entry : entries) {
        std::uint64_t value = 1;
        if (entry.tag == 0x0112 && tiff.value(entry, 0, value) && value >= 1 && value <= 8)
            return static_cast<int>(value);
    }
    return 1;
}

// Builds the InvalidInput error; every message names the file first.
#define GLM4V_BAD_IMAGE(cond) GLM4V_CHECK(cond, ErrorKind::InvalidInput) << name << ": "

ImageHeader read_png(const std::uint8_t* data, std::size_t size, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Png;
    std::size_t at = 8;
    bool seen_ihdr = false, seen_idat = false;
    for (;;) {
        GLM4V_BAD_IMAGE(size - at >= 12) << "truncated PNG: the file ends "
                                         << (seen_idat ? "inside the image data" : "before the image data")
                                         << " (no IEND chunk)";
        const std::uint32_t length = be32(data + at);
        const std::string type(reinterpret_cast<const char*>(data + at + 4), 4);
        GLM4V_BAD_IMAGE(length <= 0x7fffffffu) << "corrupt PNG: chunk '" << type << "' claims " << length << " bytes";
        GLM4V_BAD_IMAGE(size - at - 12 >= length) << "truncated PNG: the file ends inside chunk '" << type << "'";
        const std::uint8_t* body = data + at + 8;
        GLM4V_BAD_IMAGE(crc32(data + at + 4, length + 4) == be32(body + length))
            << "corrupt PNG: chunk '" << type << "' fails its CRC checksum";
        if (!seen_ihdr) {
            GLM4V_BAD_IMAGE(type == "IHDR" && length == 13) << "corrupt PNG: it does not start with an IHDR chunk";
            header.width = be32(body);
            header.height = be32(body + 4);
            GLM4V_BAD_IMAGE(header.width > 0 && header.height > 0 && header.width <= 0x7fffffff &&
                            header.height <= 0x7fffffff)
                << "corrupt PNG: impossible size " << header.width << "x" << header.height;
            seen_ihdr = true;
        } else if (type == "IDAT") {
            seen_idat = true;
        } else if (type == "eXIf") {
            header.orientation = exif_orientation(body, length);
        } else if (type == "IEND") {
            GLM4V_BAD_IMAGE(seen_idat) << "corrupt PNG: it has no image data (IDAT chunk)";
            return header;
        }
        at += 12 + std::size_t{length};
    }
}

bool is_sof(std::uint8_t marker) {
    return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

ImageHeader read_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Jpeg;
    bool seen_sof = false, seen_exif = false;
    std::size_t at = 2;
    for (;;) {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while (at < size && data[at] == 0xff && at + 1 < size && data[at + 1] == 0xff) ++at;
        GLM4V_BAD_IMAGE(size - at >= 2) << "truncated JPEG: the file ends before the image data";
        GLM4V_BAD_IMAGE(data[at] == 0xff) << "corrupt JPEG: expected a marker at byte " << at;
        const std::uint8_t marker = data[at + 1];
        at += 2;
        if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
        GLM4V_BAD_IMAGE(marker != 0xd9) << "corrupt JPEG: it ends before any image data";
        GLM4V_BAD_IMAGE(size - at >= 2) << "truncated JPEG: the file ends inside a header";
        const std::size_t length = be16(data + at);
        GLM4V_BAD_IMAGE(length >= 2) << "corrupt JPEG: a segment of impossible length at byte " << at;
        GLM4V_BAD_IMAGE(size - at >= length) << "truncated JPEG: the file ends inside a header";
        const std::uint8_t* body = data + at + 2;
        if (is_sof(marker) && !seen_sof) {
            GLM4V_BAD_IMAGE(length >= 8) << "corrupt JPEG: short frame header";
            header.height = be16(body + 1);
            header.width = be16(body + 3);
            GLM4V_BAD_IMAGE(header.width > 0 && header.height > 0)
                << "unsupported JPEG: size " << header.width << "x" << header.height
                << " (a height given after the image data is not supported)";
            seen_sof = true;
        } else if (marker == 0xe1 && !seen_exif && length >= 8 && std::memcmp(body, "Exif\0\0", 6) == 0) {
            header.orientation = exif_orientation(body, length - 2);
            seen_exif = true;
        } else if (marker == 0xda) {
            GLM4V_BAD_IMAGE(seen_sof) << "corrupt JPEG: image data before the frame header";
            // Scan data escapes every 0xFF, so the first FF D9 after it is the end-of-image marker.
            for (std::size_t i = at + length; i + 1 < size; ++i)
                if (data[i] == 0xff && data[i + 1] == 0xd9) return header;
            GLM4V_FAIL(ErrorKind::InvalidInput) << name << ": truncated JPEG: the image data has no end marker";
        }
        at += length;
    }
}

ImageHeader read_webp(const std::uint8_t* data, std::size_t size, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Webp;
    const std::uint64_t riff_end = std::uint64_t{le32(data + 4)} + 8;
    GLM4V_BAD_IMAGE(riff_end <= size) << "truncated WebP: the file is " << size << " bytes, its header says "
                                      << riff_end;
    GLM4V_BAD_IMAGE(riff_end >= 12) << "corrupt WebP: its RIFF header claims " << riff_end << " bytes";
    bool seen_image = false, has_canvas = false;
    std::uint64_t at = 12;
    // `at` may pass riff_end by the pad byte of an odd-sized last chunk, so compare, never subtract.
    while (at + 8 <= riff_end) {
        const std::string fourcc(reinterpret_cast<const char*>(data + at), 4);
        const std::uint32_t length = le32(data + at + 4);
        const std::uint8_t* body = data + at + 8;
        GLM4V_BAD_IMAGE(at + 8 + length <= riff_end) << "truncated WebP: the file ends inside chunk '" << fourcc << "'";
        if (fourcc == "VP8X" && length >= 10) {
            // 24-bit fields; reading 32 bits at body + 7 would pass the chunk's last byte.
            header.width = 1 + (le16(body + 4) | std::uint32_t{body[6]} << 16);
            header.height = 1 + (le16(body + 7) | std::uint32_t{body[9]} << 16);
            has_canvas = true;
        } else if (fourcc == "VP8 " && !seen_image) {
            GLM4V_BAD_IMAGE(length >= 10 && body[3] == 0x9d && body[4] == 0x01 && body[5] == 0x2a)
                << "corrupt WebP: bad VP8 frame header";
            if (!has_canvas) {
                header.width = le16(body + 6) & 0x3fff;
                header.height = le16(body + 8) & 0x3fff;
            }
            seen_image = true;
        } else if (fourcc == "VP8L" && !seen_image) {
            GLM4V_BAD_IMAGE(length >= 5 && body[0] == 0x2f) << "corrupt WebP: bad lossless header";
            if (!has_canvas) {
                const std::uint32_t bits = le32(body + 1);
                header.width = 1 + (bits & 0x3fff);
                header.height = 1 + ((bits >> 14) & 0x3fff);
            }
            seen_image = true;
        } else if (fourcc == "ANIM") {
            seen_image = true;
        } else if (fourcc == "EXIF") {
            header.orientation = exif_orientation(body, length);
        }
        at += 8 + std::uint64_t{length} + (length & 1);
    }
    GLM4V_BAD_IMAGE(seen_image) << "truncated WebP: no image data";
    GLM4V_BAD_IMAGE(header.width > 0 && header.height > 0)
        << "corrupt WebP: impossible size " << header.width << "x" << header.height;
    return header;
}

ImageHeader read_bmp(const std::uint8_t* data, std::size_t size, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Bmp;
    GLM4V_BAD_IMAGE(size >= 26) << "truncated BMP: the file ends inside its header";
    const std::uint32_t pixel_offset = le32(data + 10);
    const std::uint32_t info_size = le32(data + 14);
    std::uint32_t bits = 0, compression = 0;
    if (info_size == 12) {
        header.width = le16(data + 18);
        header.height = le16(data + 20);
        bits = le16(data + 24);
    } else {
        GLM4V_BAD_IMAGE(info_size >= 40 && size >= 34) << "corrupt BMP: unknown header of " << info_size << " bytes";
        header.width = static_cast<std::int32_t>(le32(data + 18));
        header.height = static_cast<std::int32_t>(le32(data + 22));
        if (header.height < 0) header.height = -header.height; // top-down rows
        bits = le16(data + 28);
        compression = le32(data + 30);
    }
    GLM4V_BAD_IMAGE(header.width > 0 && header.height > 0)
        << "corrupt BMP: impossible size " << header.width << "x" << header.height;
    GLM4V_BAD_IMAGE(pixel_offset < size) << "truncated BMP: the file ends before its pixels";
    if (compression == 0 && bits > 0 && bits <= 32) {
        const std::uint64_t row = (std::uint64_t{bits} * static_cast<std::uint64_t>(header.width) + 31) / 32 * 4;
        GLM4V_BAD_IMAGE(row * static_cast<std::uint64_t>(header.height) <= size - pixel_offset)
            << "truncated BMP: the file holds " << size - pixel_offset << " bytes of pixels, its header needs "
            << row * static_cast<std::uint64_t>(header.height);
    }
    return header;
}

ImageHeader read_tiff(const std::uint8_t* data, std::size_t size, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Tiff;
    const TiffReader tiff(data, size);
    GLM4V_BAD_IMAGE(tiff.valid()) << "unsupported TIFF: BigTIFF and other variants are not supported";
    std::vector<TiffReader::Entry> entries;
    GLM4V_BAD_IMAGE(tiff.entries(tiff.first_ifd(), entries)) << "truncated TIFF: the file ends inside its directory";
    const TiffReader::Entry* offsets = nullptr;
    const TiffReader::Entry* counts = nullptr;
    bool has_size[2] = {false, false}; // width, height
    for (const auto& entry : entries) {
        std::uint64_t value = 0;
        // One width and one height, each a single value: given twice, the size libtiff decodes need not be the one
        // checked here, and a 1 KB file made it allocate gigabytes (found by fuzz_image_intake).
        if (entry.tag == 256 || entry.tag == 257) {
            bool& seen = has_size[entry.tag - 256];
            GLM4V_BAD_IMAGE(!seen) << "corrupt TIFF: its " << (entry.tag == 256 ? "width" : "height") << " is given twice";
            GLM4V_BAD_IMAGE(entry.count == 1)
                << "corrupt TIFF: its " << (entry.tag == 256 ? "width" : "height") << " holds " << entry.count << " values";
            seen = true;
        }
        if (entry.tag == 256 && tiff.value(entry, 0, value)) header.width = static_cast<std::int64_t>(value);
        if (entry.tag == 257 && tiff.value(entry, 0, value)) header.height = static_cast<std::int64_t>(value);
        if (entry.tag == 0x0112 && tiff.value(entry, 0, value) && value >= 1 && value <= 8)
            header.orientation = static_cast<int>(value);
        if (entry.tag == 273 || entry.tag == 324) offsets = &entry;
        if (entry.tag == 279 || entry.tag == 325) counts = &entry;
    }
    GLM4V_BAD_IMAGE(header.width > 0 && header.height > 0)
        << "corrupt TIFF: impossible size " << header.width << "x" << header.height;
    GLM4V_BAD_IMAGE(offsets && counts && offsets->count == counts->count) << "corrupt TIFF: no strip or tile table";
    for (std::uint32_t i = 0; i < offsets->count; ++i) {
        std::uint64_t offset = 0, count = 0;
        GLM4V_BAD_IMAGE(tiff.value(*offsets, i, offset) && tiff.value(*counts, i, count))
            << "truncated TIFF: the file ends inside its strip table";
        GLM4V_BAD_IMAGE(offset <= size && count <= size - offset)
            << "truncated TIFF: strip " << i << " lies past the end of the file";
    }
    return header;
}

#undef GLM4V_BAD_IMAGE

} // namespace

const char* image_format_name(ImageFormat format) {
    switch (format) {
    case ImageFormat::Jpeg: return "jpeg";
    case ImageFormat::Png: return "png";
    case ImageFormat::Webp: return "webp";
    case ImageFormat::Bmp: return "bmp";
    case ImageFormat::Tiff: return "tiff";
    }
    return "unknown";
}

int exif_orientation(const std::uint8_t* data, std::size_t size) {
    if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) {
        data += 6;
        size -= 6;
    }
    return orientation_in_tiff(TiffReader(data, size));
}

ImageHeader read_image_header(const std::uint8_t* data, std::size_t size, const std::string& name) {
    GLM4V_CHECK(size > 0, ErrorKind::InvalidInput) << name << ": the file is empty (0 bytes)";
    auto starts_with = [&](const char* magic, std::size_t n) { return size >= n && std::memcmp(data, magic, n) == 0; };
    if (starts_with("\x89PNG\r\n\x1a\n", 8)) return read_png(data, size, name);
    if (starts_with("\xff\xd8\xff", 3)) return read_jpeg(data, size, name);
    if (starts_with("RIFF", 4) && size >= 12 && std::memcmp(data + 8, "WEBP", 4) == 0) return read_webp(data, size, name);
    if (starts_with("BM", 2)) return read_bmp(data, size, name);
    if (starts_with("II*\0", 4) || starts_with("MM\0*", 4) || starts_with("II+\0", 4) || starts_with("MM\0+", 4))
        return read_tiff(data, size, name);
    // Say what it looks like when we can: text is the common accident (a saved web page named .jpg).
    std::size_t printable = 0;
    const std::size_t probe = std::min<std::size_t>(size, 64);
    for (std::size_t i = 0; i < probe; ++i)
        if (data[i] >= 0x20 || data[i] == '\n' || data[i] == '\r' || data[i] == '\t') ++printable;
    GLM4V_FAIL(ErrorKind::InvalidInput) << name << ": not an image"
                                        << (printable == probe ? " (it looks like text)" : "")
                                        << "; glm4v-desktop reads JPEG, PNG, WebP, BMP and TIFF";
}

} // namespace glm4v::app
