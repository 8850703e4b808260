#include <catch2/catch.hpp>

#include <cstring>

#include "engine/error.h"
#include "engine/runtime/preprocess.h"
#include "tests/support/test_support.h"

using glm4v::engine::RgbImage;
using glm4v::engine::runtime::preprocess_image;
using glm4v::engine::runtime::resize_bicubic;

TEST_CASE("bicubic resize equals Pillow's byte for byte on random images", "[preprocess][oracle]") {
    const std::string python = glm4v::test::oracle_python();
    if (python.empty()) {
        WARN("no oracle Python configured (GLM4V_PYTHON); Pillow comparison not run");
        return;
    }
    glm4v::test::ScratchDir dir;
    const auto script = std::string(std::getenv("GLM4V_SOURCE_DIR")) + "/tests/engine/pillow_resize_oracle.py";
    REQUIRE(glm4v::test::run_command(python + " " + script + " " + (dir / "cases.bin").string()) == 0);
    const std::string data = glm4v::test::read_file(dir / "cases.bin");
    std::size_t at = 0;
    auto next_int = [&] {
        std::int32_t v;
        std::memcpy(&v, data.data() + at, 4);
        at += 4;
        return v;
    };
    const int count = next_int();
    REQUIRE(count > 10);
    for (int i = 0; i < count; ++i) {
        const int w = next_int(), h = next_int(), tw = next_int(), th = next_int();
        RgbImage src{w, h, std::vector<std::uint8_t>(data.begin() + at, data.begin() + at + std::size_t(w) * h * 3)};
        at += src.pixels.size();
        const std::string want = data.substr(at, std::size_t(tw) * th * 3);
        at += want.size();
        const RgbImage got = resize_bicubic(src, tw, th);
        std::size_t differ = 0;
        for (std::size_t k = 0; k < want.size(); ++k) differ += got.pixels[k] != static_cast<std::uint8_t>(want[k]);
        INFO(w << "x" << h << " -> " << tw << "x" << th);
        CHECK(differ == 0);
    }
}

TEST_CASE("preprocessing normalizes with the CLIP mean and std", "[preprocess]") {
    RgbImage white{4, 4, std::vector<std::uint8_t>(4 * 4 * 3, 255)};
    const auto x = preprocess_image(white, 4);
    REQUIRE(x.sizes() == torch::IntArrayRef({3, 4, 4}));
    CHECK(x[0][0][0].item<float>() == Approx((1.0 - 0.48145466) / 0.26862954));
    CHECK(x[2][3][3].item<float>() == Approx((1.0 - 0.40821073) / 0.27577711));
}

TEST_CASE("an image whose pixel buffer does not match its size is refused", "[preprocess]") {
    RgbImage bad{10, 10, std::vector<std::uint8_t>(10)};
    CHECK_THROWS_AS(resize_bicubic(bad, 5, 5), glm4v::engine::Error);
}
