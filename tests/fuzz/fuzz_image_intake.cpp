// libFuzzer target: image_intake on arbitrary bytes. Every input must either decode to a well-formed
// RGB image or be refused with engine::Error; anything else (a crash, a sanitizer report, another
// exception, a malformed result) is a finding.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "app/image_intake.h"
#include "engine/error.h"
#include "engine/log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        glm4v::engine::set_log_sink({});
        return true;
    }();
    (void)quiet;
    // Small limits keep each run fast and within libFuzzer's memory limit; the checks they guard are
    // the same at any size.
    glm4v::app::IntakeLimits limits;
    limits.max_pixels = 4'000'000;
    limits.max_file_bytes = std::size_t{1} << 20;

    (void)glm4v::app::exif_orientation(data, size);
    try {
        const glm4v::app::IntakeImage decoded =
            glm4v::app::decode_image_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz input", limits);
        const auto& image = decoded.image;
        if (image.width <= 0 || image.height <= 0 ||
            image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 3)
            std::abort();
        if (static_cast<std::int64_t>(image.width) * image.height > limits.max_pixels) std::abort();
        if (decoded.exif_orientation < 1 || decoded.exif_orientation > 8) std::abort();
        if (glm4v::app::make_thumbnail_png(image, 16).empty()) std::abort();
    } catch (const glm4v::engine::Error&) {
        // Refused with a message: the expected outcome for most inputs.
    }
    return 0;
}
