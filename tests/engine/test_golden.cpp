// Every golden case directory, end to end, as `glm4v check-golden` runs it (DESIGN.md section 7).
#include <catch2/catch.hpp>

#include "app/golden_check.h"
#include "tests/support/test_support.h"

using glm4v::app::GoldenCheck;

namespace {
void check_case(const std::string& dir, const std::string& dtype) {
    glm4v::app::GoldenCheckOptions options;
    options.case_dir = dir;
    options.dtype = dtype;
    int checks = 0;
    const int failed = glm4v::app::run_golden_checks(options, [&](const GoldenCheck& c) {
        ++checks;
        INFO(dir << " " << dtype << ": " << c.name << ": " << c.detail);
        CHECK(c.ok);
    });
    CHECK(failed == 0);
    // tokenizer, 2 x preprocess, vision, then logits and greedy for three conversations
    CHECK(checks >= 10);
}
} // namespace

TEST_CASE("every golden case matches the reference in fp32 on the CPU", "[golden]") {
    const auto dirs = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(dirs.empty());
    for (const auto& dir : dirs) check_case(dir.string(), "f32");
}

TEST_CASE("every golden case matches the reference in bf16 on the CPU within its tolerance", "[golden]") {
    for (const auto& dir : glm4v::test::golden_case_dirs()) check_case(dir.string(), "bf16");
}
