#include "app/image_intake.h"

#include <climits>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "app/atomic_file.h"
#include "app/sha256.h"
#include "engine/error.h"
#include "engine/log.h"

namespace glm4v::app {
namespace fs = std::filesystem;
using engine::ErrorKind;

namespace {

// JPEG marker lengths limit it to 65535 a side; other formats could claim more, which no photo needs.
constexpr std::int64_t kMaxSide = 65535;

std::string megapixels(std::int64_t pixels) {
    std::ostringstream out;
    out.precision(3);
    out << static_cast<double>(pixels) / 1e6;
    return out.str();
}

// Any depth OpenCV hands back, as 8 bits per sample.
cv::Mat to_8bit(const cv::Mat& in, const std::string& name) {
    cv::Mat out;
    switch (in.depth()) {
    case CV_8U: return in;
    case CV_16U: in.convertTo(out, CV_8U, 1.0 / 257.0); return out;
    case CV_32F:
    case CV_64F: in.convertTo(out, CV_8U, 255.0); return out; // float images are 0..1
    default:
        GLM4V_FAIL(ErrorKind::InvalidInput) << name << ": unsupported sample type (OpenCV depth " << in.depth() << ")";
    }
}

cv::Mat composite_on_white(const cv::Mat& bgra) {
    cv::Mat rgb(bgra.rows, bgra.cols, CV_8UC3);
    for (int y = 0; y < bgra.rows; ++y) {
        const auto* in = bgra.ptr<cv::Vec4b>(y);
        auto* out = rgb.ptr<cv::Vec3b>(y);
        for (int x = 0; x < bgra.cols; ++x) {
            const int alpha = in[x][3];
            for (int c = 0; c < 3; ++c) {
                // BGR in, RGB out; rounded: (v*a + 255*(255-a)) / 255.
                out[x][2 - c] = static_cast<std::uint8_t>((in[x][c] * alpha + 255 * (255 - alpha) + 127) / 255);
            }
        }
    }
    return rgb;
}

cv::Mat to_rgb8(const cv::Mat& decoded, const std::string& name) {
    const cv::Mat eight = to_8bit(decoded, name);
    cv::Mat rgb;
    switch (eight.channels()) {
    case 1: cv::cvtColor(eight, rgb, cv::COLOR_GRAY2RGB); return rgb;
    case 2: { // grey + alpha, should a decoder hand it over unexpanded
        std::vector<cv::Mat> planes;
        cv::split(eight, planes);
        cv::Mat bgra;
        cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0], planes[1]}, bgra);
        return composite_on_white(bgra);
    }
    case 3: cv::cvtColor(eight, rgb, cv::COLOR_BGR2RGB); return rgb;
    case 4: return composite_on_white(eight);
    default:
        GLM4V_FAIL(ErrorKind::InvalidInput) << name << ": unsupported image with " << eight.channels() << " channels";
    }
}

// EXIF orientation 1..8 (the tag's meaning: how the stored rows map onto the upright picture).
cv::Mat apply_orientation(const cv::Mat& in, int orientation) {
    cv::Mat out;
    switch (orientation) {
    case 2: cv::flip(in, out, 1); return out;
    case 3: cv::rotate(in, out, cv::ROTATE_180); return out;
    case 4: cv::flip(in, out, 0); return out;
    case 5: cv::transpose(in, out); return out;
    case 6: cv::rotate(in, out, cv::ROTATE_90_CLOCKWISE); return out;
    case 7: cv::transpose(in, out); cv::rotate(out, out, cv::ROTATE_180); return out;
    case 8: cv::rotate(in, out, cv::ROTATE_90_COUNTERCLOCKWISE); return out;
    default: return in;
    }
}

int reduced_flag(int reduction) {
    switch (reduction) {
    case 2: return cv::IMREAD_REDUCED_COLOR_2;
    case 4: return cv::IMREAD_REDUCED_COLOR_4;
    case 8: return cv::IMREAD_REDUCED_COLOR_8;
    default: return cv::IMREAD_COLOR;
    }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

} // namespace

IntakeImage decode_image_bytes(std::vector<std::uint8_t> bytes, const std::string& name, const IntakeLimits& limits) {
    GLM4V_CHECK(bytes.size() <= limits.max_file_bytes, ErrorKind::InvalidInput)
        << name << ": the file is " << bytes.size() << " bytes; the largest accepted is " << limits.max_file_bytes;
    GLM4V_CHECK(bytes.size() < static_cast<std::size_t>(INT_MAX), ErrorKind::InvalidInput)
        << name << ": the file is over 2 GB";
    const ImageHeader header = read_image_header(bytes.data(), bytes.size(), name);
    const char* format = image_format_name(header.format);
    const std::int64_t pixels = header.width * header.height;
    auto too_large = [&]() -> std::string {
        return name + ": the image is " + std::to_string(header.width) + "x" + std::to_string(header.height) +
               " pixels (" + megapixels(pixels) + " megapixels), more than the " + megapixels(limits.max_pixels) +
               " megapixels glm4v-desktop decodes; scale it down first";
    };
    GLM4V_CHECK(header.width <= kMaxSide && header.height <= kMaxSide, ErrorKind::InvalidInput) << too_large();

    int reduction = 1;
    if (header.format == ImageFormat::Jpeg) {
        // libjpeg scales while decoding (DCT scaling), so memory follows the reduced size.
        while (reduction <= 8 && ceil_div(header.width, reduction) * ceil_div(header.height, reduction) > limits.max_pixels)
            reduction *= 2;
        GLM4V_CHECK(reduction <= 8, ErrorKind::InvalidInput) << too_large();
    } else {
        GLM4V_CHECK(pixels <= limits.max_pixels, ErrorKind::InvalidInput) << too_large();
    }

    // Orientation comes from image_header: OpenCV's generic EXIF rotation is switched off (it would apply to
    // JPEG only, and never with IMREAD_UNCHANGED, which the alpha channel needs).
    const int flags = header.format == ImageFormat::Jpeg ? reduced_flag(reduction) | cv::IMREAD_IGNORE_ORIENTATION
                                                         : cv::IMREAD_UNCHANGED;
    cv::Mat decoded;
    try {
        const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data());
        decoded = cv::imdecode(buffer, flags);
    } catch (const cv::Exception& e) {
        GLM4V_FAIL(ErrorKind::InvalidInput) << name << ": corrupt " << format << " data (" << e.err << ")";
    }
    GLM4V_CHECK(!decoded.empty(), ErrorKind::InvalidInput)
        << name << ": corrupt " << format << " data: the decoder could not read the image";
    // OpenCV's TIFF decoder honours the orientation tag itself (all eight values; the tests check it),
    // so for TIFF it must not be applied twice.
    const bool opencv_oriented = header.format == ImageFormat::Tiff;
    const cv::Mat upright = apply_orientation(to_rgb8(decoded, name), opencv_oriented ? 1 : header.orientation);
    const cv::Mat pixels_rgb = upright.isContinuous() ? upright : upright.clone();

    IntakeImage result;
    result.format = header.format;
    const bool swaps = header.orientation >= 5;
    result.width = static_cast<int>(swaps ? header.height : header.width);
    result.height = static_cast<int>(swaps ? header.width : header.height);
    result.reduction = reduction;
    result.exif_orientation = header.orientation;
    result.image.width = pixels_rgb.cols;
    result.image.height = pixels_rgb.rows;
    result.image.pixels.assign(pixels_rgb.data, pixels_rgb.data + pixels_rgb.total() * 3);
    result.sha256 = sha256_hex(bytes.data(), bytes.size());
    result.file_bytes = std::move(bytes);
    if (reduction > 1)
        engine::log_info("decode_image: ", name, " is ", header.width, "x", header.height, "; decoded at 1/", reduction);
    return result;
}

IntakeImage decode_image_file(const fs::path& path, const IntakeLimits& limits) {
    const std::string bytes = read_whole_file(path, limits.max_file_bytes);
    return decode_image_bytes(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), path.string(), limits);
}

std::vector<std::uint8_t> make_thumbnail_png(const engine::RgbImage& image, int max_side) {
    GLM4V_CHECK(image.width > 0 && image.height > 0 &&
                    image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * 3,
                ErrorKind::InvalidInput)
        << "make_thumbnail_png: not an RGB image of " << image.width << "x" << image.height;
    GLM4V_CHECK(max_side > 0, ErrorKind::InvalidInput) << "make_thumbnail_png: max_side " << max_side;
    const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
    const double scale = std::min(1.0, static_cast<double>(max_side) / std::max(image.width, image.height));
    cv::Mat small;
    if (scale < 1.0)
        cv::resize(rgb, small, cv::Size(std::max(1, static_cast<int>(image.width * scale + 0.5)),
                                         std::max(1, static_cast<int>(image.height * scale + 0.5))),
                   0, 0, cv::INTER_AREA);
    else
        small = rgb;
    cv::Mat bgr;
    cv::cvtColor(small, bgr, cv::COLOR_RGB2BGR);
    std::vector<std::uint8_t> png;
    GLM4V_CHECK(cv::imencode(".png", bgr, png), ErrorKind::Io) << "make_thumbnail_png: PNG encoding failed";
    return png;
}

} // namespace glm4v::app
