#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sys/stat.h>

#include "app/image_intake.h"
#include "app/sha256.h"
#include "engine/error.h"
#include "tests/app/image_fixtures.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace images = glm4v::test::images;
namespace fs = std::filesystem;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;

namespace {

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

app::IntakeImage decode(const std::string& bytes, const app::IntakeLimits& limits = {}) {
    return app::decode_image_bytes(bytes_of(bytes), "test image", limits);
}

cv::Vec3b rgb_at(const glm4v::engine::RgbImage& image, int x, int y) {
    const std::size_t at = (static_cast<std::size_t>(y) * image.width + x) * 3;
    return {image.pixels[at], image.pixels[at + 1], image.pixels[at + 2]};
}

bool near(cv::Vec3b a, cv::Vec3b b, int tolerance) {
    for (int c = 0; c < 3; ++c)
        if (std::abs(int(a[c]) - int(b[c])) > tolerance) return false;
    return true;
}

// Where displayed pixel (x, y) comes from in the stored W x H image, per EXIF orientation; written from
// the tag's definition, independently of the code under test.
cv::Point stored_from_displayed(int orientation, int x, int y, int w, int h) {
    switch (orientation) {
    case 2: return {w - 1 - x, y};
    case 3: return {w - 1 - x, h - 1 - y};
    case 4: return {x, h - 1 - y};
    case 5: return {y, x};
    case 6: return {y, h - 1 - x};
    case 7: return {w - 1 - y, h - 1 - x};
    case 8: return {w - 1 - y, x};
    default: return {x, y};
    }
}

// Checks the quadrant colours at the centre of each displayed quadrant.
void check_quadrants(const app::IntakeImage& decoded, int stored_w, int stored_h, int orientation, int tolerance) {
    const bool swaps = orientation >= 5;
    REQUIRE(decoded.image.width == (swaps ? stored_h : stored_w));
    REQUIRE(decoded.image.height == (swaps ? stored_w : stored_h));
    REQUIRE(decoded.image.pixels.size() == std::size_t(decoded.image.width) * decoded.image.height * 3);
    const int w = decoded.image.width, h = decoded.image.height;
    for (int qy = 0; qy < 2; ++qy)
        for (int qx = 0; qx < 2; ++qx) {
            const int x = w / 4 + qx * w / 2, y = h / 4 + qy * h / 2;
            const cv::Point s = stored_from_displayed(orientation, x, y, stored_w, stored_h);
            const cv::Vec3b want = images::quadrant_rgb(stored_w, stored_h, s.x, s.y);
            const cv::Vec3b got = rgb_at(decoded.image, x, y);
            INFO("orientation " << orientation << " at (" << x << ", " << y << "): got " << got << ", want " << want);
            CHECK(near(got, want, tolerance));
        }
}

std::string refusal(const std::string& bytes, const app::IntakeLimits& limits = {}) {
    try {
        decode(bytes, limits);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::InvalidInput);
        return e.what();
    } catch (const std::exception& e) {
        FAIL("not an engine::Error: " << e.what());
    }
    FAIL("the image was accepted");
    return {};
}

} // namespace

TEST_CASE("every supported format decodes to the right size and colours", "[app][image]") {
    const cv::Mat picture = images::quadrants(64, 32);
    struct Case {
        const char* name;
        std::string bytes;
        app::ImageFormat format;
        int tolerance;
    };
    const Case cases[] = {
        {"jpeg", images::encode(picture, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95}), app::ImageFormat::Jpeg, 40},
        {"png", images::encode(picture, ".png"), app::ImageFormat::Png, 0},
        {"webp lossless", images::encode(picture, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}), app::ImageFormat::Webp, 0},
        {"webp lossy", images::encode(picture, ".webp", {cv::IMWRITE_WEBP_QUALITY, 90}), app::ImageFormat::Webp, 40},
        {"bmp", images::encode(picture, ".bmp"), app::ImageFormat::Bmp, 0},
        {"tiff (OpenCV)", images::encode(picture, ".tiff"), app::ImageFormat::Tiff, 0},
        {"tiff (hand-written)", images::tiff_rgb(picture, 0), app::ImageFormat::Tiff, 0},
    };
    for (const Case& c : cases) {
        SECTION(c.name) {
            const app::IntakeImage decoded = decode(c.bytes);
            CHECK(decoded.format == c.format);
            CHECK(decoded.width == 64);
            CHECK(decoded.height == 32);
            CHECK(decoded.reduction == 1);
            CHECK(decoded.sha256 == app::sha256_hex(c.bytes));
            CHECK(decoded.file_bytes == bytes_of(c.bytes));
            check_quadrants(decoded, 64, 32, 1, c.tolerance);
        }
    }
}

TEST_CASE("EXIF orientation turns JPEG, PNG, WebP and TIFF upright", "[app][image]") {
    const cv::Mat picture = images::quadrants(64, 32);
    const std::string jpeg = images::encode(picture, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95});
    const std::string png = images::encode(picture, ".png");
    const std::string webp = images::encode(picture, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101});
    for (int orientation = 1; orientation <= 8; ++orientation) {
        DYNAMIC_SECTION("orientation " << orientation) {
            for (const auto& [name, bytes, tolerance] :
                 {std::make_tuple("jpeg", images::jpeg_with_orientation(jpeg, orientation), 40),
                  std::make_tuple("png", images::png_with_orientation(png, orientation), 0),
                  std::make_tuple("webp", images::webp_with_orientation(webp, 64, 32, orientation), 0),
                  std::make_tuple("tiff", images::tiff_rgb(picture, orientation), 0)}) {
                INFO(name);
                const app::IntakeImage decoded = decode(bytes);
                CHECK(decoded.exif_orientation == orientation);
                CHECK(decoded.width == (orientation >= 5 ? 32 : 64));
                check_quadrants(decoded, 64, 32, orientation, tolerance);
            }
        }
    }
}

TEST_CASE("a little-endian EXIF block is read too", "[app][image]") {
    const std::string block = images::exif_block(6, false);
    CHECK(app::exif_orientation(reinterpret_cast<const std::uint8_t*>(block.data()), block.size()) == 6);
    const std::string junk = "Exif\0\0II*\0\xff\xff\xff\xff";
    CHECK(app::exif_orientation(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()) == 1);
}

TEST_CASE("alpha is composited on white", "[app][image]") {
    cv::Mat bgra(2, 3, CV_8UC4);
    bgra.at<cv::Vec4b>(0, 0) = {0, 0, 255, 255}; // opaque red
    bgra.at<cv::Vec4b>(0, 1) = {0, 0, 255, 0};   // transparent: white whatever the colour
    bgra.at<cv::Vec4b>(0, 2) = {0, 0, 0, 128};   // half black: mid grey
    bgra.at<cv::Vec4b>(1, 0) = {255, 0, 0, 255}; // opaque blue
    bgra.at<cv::Vec4b>(1, 1) = {0, 255, 0, 51};  // 20% green
    bgra.at<cv::Vec4b>(1, 2) = {10, 20, 30, 255};
    for (const auto& [name, bytes] : {std::make_pair("png", images::encode(bgra, ".png")),
                                      std::make_pair("webp", images::encode(bgra, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})),
                                      std::make_pair("tiff", images::encode(bgra, ".tiff"))}) {
        INFO(name);
        const app::IntakeImage decoded = decode(bytes);
        REQUIRE(decoded.image.width == 3);
        CHECK(rgb_at(decoded.image, 0, 0) == cv::Vec3b(255, 0, 0));
        CHECK(rgb_at(decoded.image, 1, 0) == cv::Vec3b(255, 255, 255));
        CHECK(near(rgb_at(decoded.image, 2, 0), cv::Vec3b(127, 127, 127), 1));
        CHECK(rgb_at(decoded.image, 0, 1) == cv::Vec3b(0, 0, 255));
        CHECK(near(rgb_at(decoded.image, 1, 1), cv::Vec3b(204, 255, 204), 1));
        CHECK(rgb_at(decoded.image, 2, 1) == cv::Vec3b(30, 20, 10));
    }
}

TEST_CASE("grayscale, 16-bit and palette images become RGB8", "[app][image]") {
    SECTION("grayscale") {
        cv::Mat gray(4, 4, CV_8UC1, cv::Scalar(77));
        for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
            INFO(ext);
            const app::IntakeImage decoded = decode(images::encode(gray, ext));
            CHECK(near(rgb_at(decoded.image, 1, 1), cv::Vec3b(77, 77, 77), 2));
        }
    }
    SECTION("16-bit colour and grey") {
        cv::Mat deep(2, 2, CV_16UC3, cv::Scalar(0, 32896, 65535)); // BGR: red full, green half
        for (const char* ext : {".png", ".tiff"}) {
            INFO(ext);
            const app::IntakeImage decoded = decode(images::encode(deep, ext));
            CHECK(rgb_at(decoded.image, 1, 1) == cv::Vec3b(255, 128, 0));
        }
        cv::Mat deep_gray(2, 2, CV_16UC1, cv::Scalar(257 * 200));
        CHECK(rgb_at(decode(images::encode(deep_gray, ".png")).image, 0, 0) == cv::Vec3b(200, 200, 200));
        cv::Mat deep_alpha(1, 1, CV_16UC4, cv::Scalar(0, 0, 65535, 0)); // transparent red
        CHECK(rgb_at(decode(images::encode(deep_alpha, ".png")).image, 0, 0) == cv::Vec3b(255, 255, 255));
    }
    SECTION("palette") {
        const std::vector<cv::Vec3b> palette = {{255, 0, 0}, {0, 128, 0}, {10, 20, 250}};
        const app::IntakeImage decoded = decode(images::palette_png(24, 16, palette));
        REQUIRE(decoded.image.width == 24);
        REQUIRE(decoded.image.height == 16);
        CHECK(rgb_at(decoded.image, 0, 0) == palette[0]);
        CHECK(rgb_at(decoded.image, 8, 0) == palette[1]);
        CHECK(rgb_at(decoded.image, 16, 0) == palette[2]);
        CHECK(rgb_at(decoded.image, 16, 8) == palette[0]);
    }
}

TEST_CASE("a valid image followed by trailing garbage still decodes", "[app][image]") {
    const cv::Mat picture = images::quadrants(16, 16);
    for (const char* ext : {".png", ".jpg"}) {
        INFO(ext);
        const app::IntakeImage decoded = decode(images::encode(picture, ext) + std::string(1000, '\x5a') + "garbage");
        check_quadrants(decoded, 16, 16, 1, 40);
    }
}

TEST_CASE("bad images are refused, each with its own message naming the file", "[app][image]") {
    const cv::Mat picture = images::quadrants(64, 48);
    const std::string jpeg = images::encode(picture, ".jpg");
    cv::Mat noise(256, 256, CV_8UC3);
    cv::randu(noise, 0, 256); // so that scan data, not tables, fills most of the file
    const std::string noisy_jpeg = images::encode(noise, ".jpg");
    const std::string png = images::encode(picture, ".png");
    const std::string webp = images::encode(picture, ".webp");
    const std::string bmp = images::encode(picture, ".bmp");
    const std::string tiff = images::tiff_rgb(picture, 0);
    std::string bad_crc = png;
    bad_crc[bad_crc.find("IDAT") + 10] ^= 0x01;
    std::string tiff_two_heights = tiff; // its BitsPerSample entry (the third) retagged as a second ImageLength
    tiff_two_heights[8 + 2 + 2 * 12] = static_cast<char>(257 & 0xFF);
    tiff_two_heights[8 + 2 + 2 * 12 + 1] = static_cast<char>(257 >> 8);
    std::string corrupt_webp = webp;
    for (std::size_t i = 40; i < corrupt_webp.size(); ++i) corrupt_webp[i] = static_cast<char>(i * 7);

    struct Case {
        const char* name;
        std::string bytes;
        const char* message;
    };
    const Case cases[] = {
        {"zero bytes", "", "empty (0 bytes)"},
        {"text", "hello, this is a web page saved as photo.jpg\n", "not an image (it looks like text)"},
        {"binary junk", std::string("\x00\x01\x02\x03\xfe\xfd\xfc", 7), "not an image;"},
        {"truncated JPEG", noisy_jpeg.substr(0, noisy_jpeg.size() * 6 / 10), "truncated JPEG: the image data has no end marker"},
        {"JPEG cut in its header", jpeg.substr(0, 30), "truncated JPEG: the file ends"},
        {"PNG with a bad CRC", bad_crc, "corrupt PNG: chunk 'IDAT' fails its CRC checksum"},
        {"truncated PNG", png.substr(0, png.size() - 30), "truncated PNG: the file ends inside chunk 'IDAT'"},
        {"PNG without IEND", png.substr(0, png.size() - 12), "truncated PNG: the file ends inside the image data"},
        {"PNG declaring 30000x20000", images::png_with_declared_size(png, 30000, 20000),
         "is 30000x20000 pixels (600 megapixels), more than the 64 megapixels"},
        {"PNG declaring 100000x100000", images::png_with_declared_size(png, 100000, 100000), "is 100000x100000 pixels"},
        {"PNG declaring 0x0", images::png_with_declared_size(png, 0, 0), "corrupt PNG: impossible size 0x0"},
        {"truncated WebP", webp.substr(0, webp.size() / 2), "truncated WebP"},
        {"WebP whose RIFF size is too small", std::string("RIFF\x02\0\0\0WEBPVP8 ", 16), "corrupt WebP: its RIFF header"},
        {"WebP whose odd chunk has no pad byte", std::string("RIFF\x0d\0\0\0WEBPXYZW\x01\0\0\0\x01", 21),
         "truncated WebP: no image data"},
        {"corrupt WebP", corrupt_webp, "corrupt webp data"},
        {"truncated BMP", bmp.substr(0, bmp.size() / 2), "truncated BMP"},
        {"truncated TIFF", tiff.substr(0, tiff.size() - 100), "truncated TIFF: strip 0 lies past the end"},
        {"TIFF cut in its directory", tiff.substr(0, 20), "truncated TIFF: the file ends inside its directory"},
        {"TIFF with two heights", tiff_two_heights, "corrupt TIFF: its height is given twice"},
    };
    for (const Case& c : cases) {
        SECTION(c.name) {
            const std::string message = refusal(c.bytes);
            INFO(message);
            CHECK(message.rfind("test image: ", 0) == 0);
            CHECK(message.find(c.message) != std::string::npos);
        }
    }
}

TEST_CASE("files are read from disk and named in errors; a directory or missing file is an Io error",
          "[app][image]") {
    glm4v::test::ScratchHome home;
    const fs::path good = home.path() / "photo.png";
    glm4v::test::write_file(good, images::encode(images::quadrants(8, 8), ".png"));
    CHECK(app::decode_image_file(good).image.width == 8);

    const fs::path text = home.path() / "notes.jpg";
    glm4v::test::write_file(text, "just some words");
    try {
        app::decode_image_file(text);
        FAIL("accepted a text file");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::InvalidInput);
        CHECK(std::string(e.what()).find(text.string() + ": not an image") != std::string::npos);
    }
    try {
        app::decode_image_file(home.path() / "missing.png");
        FAIL("accepted a missing file");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Io);
        CHECK(std::string(e.what()).find("missing.png") != std::string::npos);
    }
    CHECK_THROWS_AS(app::decode_image_file(home.path()), Error);
    const fs::path fifo = home.path() / "pipe.png";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_AS(app::decode_image_file(fifo), Error); // refused at once, not read forever
}

TEST_CASE("a JPEG over the pixel limit is decoded reduced; other formats are refused", "[app][image]") {
    const cv::Mat picture = images::quadrants(2000, 1000);
    app::IntakeLimits limits;
    limits.max_pixels = 300000;
    const app::IntakeImage reduced = decode(images::encode(picture, ".jpg"), limits);
    CHECK(reduced.reduction == 4);
    CHECK(reduced.width == 2000);
    CHECK(reduced.height == 1000);
    check_quadrants(reduced, 500, 250, 1, 40);

    const std::string message = refusal(images::encode(picture, ".png"), limits);
    CHECK(message.find("2000x1000 pixels (2 megapixels), more than the 0.3 megapixels") != std::string::npos);

    limits.max_pixels = 1000; // even 1/8 (250x125) is too many
    CHECK(refusal(images::encode(picture, ".jpg"), limits).find("2000x1000 pixels") != std::string::npos);
}

TEST_CASE("thumbnails are PNGs no larger than asked, aspect kept, never enlarged", "[app][image]") {
    const app::IntakeImage decoded = decode(images::encode(images::quadrants(400, 200), ".png"));
    const std::vector<std::uint8_t> png = app::make_thumbnail_png(decoded.image, 128);
    const cv::Mat thumb = cv::imdecode(png, cv::IMREAD_UNCHANGED);
    CHECK(thumb.cols == 128);
    CHECK(thumb.rows == 64);
    CHECK(thumb.at<cv::Vec3b>(16, 16) == cv::Vec3b(0, 0, 255)); // BGR red, top-left
    const app::IntakeImage small = decode(images::encode(images::quadrants(20, 10), ".png"));
    const cv::Mat same = cv::imdecode(app::make_thumbnail_png(small.image, 128), cv::IMREAD_UNCHANGED);
    CHECK(same.cols == 20);
    CHECK(same.rows == 10);
}
