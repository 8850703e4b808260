#include "engine/runtime/preprocess.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace glm4v::engine::runtime {
namespace {
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kSupport = 2.0; // bicubic

double bicubic(double x) {
    constexpr double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

// For each output pixel: the first input pixel, the count, and fixed-point weights (ksize per pixel).
struct Coefficients {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<std::int32_t> weights;
};

Coefficients precompute(int in_size, int out_size) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = kSupport * filter_scale;
    Coefficients c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.first.resize(out_size);
    c.count.resize(out_size);
    c.weights.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
    std::vector<double> k(c.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filter_scale;
        // Truncation toward zero, as Pillow's (int) casts do.
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double total = 0.0;
        for (int x = 0; x < xmax; ++x) {
            const double w = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = w;
            total += w;
        }
        for (int x = 0; x < xmax; ++x) {
            const double w = total != 0.0 ? k[x] / total : k[x];
            const double fixed = w * (1 << kPrecisionBits);
            c.weights[static_cast<std::size_t>(xx) * c.ksize + x] =
                static_cast<std::int32_t>(w < 0 ? -0.5 + fixed : 0.5 + fixed);
        }
        c.first[xx] = xmin;
        c.count[xx] = xmax;
    }
    return c;
}

std::uint8_t clip8(std::int64_t v) {
    v >>= kPrecisionBits;
    return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One pass along x (stride 3 between taps) or y (stride 3 * width).
RgbImage resample_horizontal(const RgbImage& in, int out_width) {
    const Coefficients c = precompute(in.width, out_width);
    RgbImage out{out_width, in.height, std::vector<std::uint8_t>(static_cast<std::size_t>(out_width) * in.height * 3)};
    for (int y = 0; y < in.height; ++y) {
        const std::uint8_t* row = &in.pixels[static_cast<std::size_t>(y) * in.width * 3];
        std::uint8_t* dst = &out.pixels[static_cast<std::size_t>(y) * out_width * 3];
        for (int xx = 0; xx < out_width; ++xx) {
            const std::int32_t* k = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
            for (int ch = 0; ch < 3; ++ch) {
                std::int64_t acc = 1 << (kPrecisionBits - 1);
                for (int x = 0; x < c.count[xx]; ++x) acc += row[(c.first[xx] + x) * 3 + ch] * static_cast<std::int64_t>(k[x]);
                dst[xx * 3 + ch] = clip8(acc);
            }
        }
    }
    return out;
}

RgbImage resample_vertical(const RgbImage& in, int out_height) {
    const Coefficients c = precompute(in.height, out_height);
    const std::size_t row_bytes = static_cast<std::size_t>(in.width) * 3;
    RgbImage out{in.width, out_height, std::vector<std::uint8_t>(row_bytes * out_height)};
    for (int yy = 0; yy < out_height; ++yy) {
        const std::int32_t* k = &c.weights[static_cast<std::size_t>(yy) * c.ksize];
        std::uint8_t* dst = &out.pixels[yy * row_bytes];
        for (std::size_t i = 0; i < row_bytes; ++i) {
            std::int64_t acc = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < c.count[yy]; ++y)
                acc += in.pixels[(c.first[yy] + y) * row_bytes + i] * static_cast<std::int64_t>(k[y]);
            dst[i] = clip8(acc);
        }
    }
    return out;
}
} // namespace

RgbImage resize_bicubic(const RgbImage& image, int width, int height) {
    GLM4V_CHECK(image.width > 0 && image.height > 0 &&
                    image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * 3,
                ErrorKind::InvalidInput)
        << "an image of " << image.width << "x" << image.height << " with " << image.pixels.size()
        << " bytes of pixels is not valid RGB8";
    GLM4V_CHECK(width > 0 && height > 0, ErrorKind::InvalidInput) << "cannot resize to " << width << "x" << height;
    // Pillow skips a pass whose size does not change; each pass rounds to 8 bits, so this matters.
    RgbImage out = image.width == width ? image : resample_horizontal(image, width);
    if (out.height != height) out = resample_vertical(out, height);
    return out;
}

torch::Tensor preprocess_image(const RgbImage& image, int size) {
    const RgbImage resized = resize_bicubic(image, size, size);
    auto hwc = torch::from_blob(const_cast<std::uint8_t*>(resized.pixels.data()), {size, size, 3}, torch::kUInt8);
    auto x = hwc.permute({2, 0, 1}).to(torch::kFloat32) / 255.0f; // [3, S, S], ToTensor
    const auto mean = torch::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({3, 1, 1});
    const auto std = torch::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({3, 1, 1});
    return ((x - mean) / std).contiguous();
}

} // namespace glm4v::engine::runtime
