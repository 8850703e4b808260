// glm4v check-golden CASE_DIR [--device cpu|cuda] [--dtype f32|bf16|f16] [--quant none|nf4] [--low-vram]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "app/cli/commands.h"
#include "app/golden_check.h"
#include "engine/error.h"

namespace glm4v::app::cli {

void add_check_golden_command(CLI::App& app) {
    auto opts = std::make_shared<GoldenCheckOptions>();
    CLI::App* cmd = app.add_subcommand("check-golden", "Check this build against a golden case directory");
    cmd->add_option("case_dir", opts->case_dir, "Case directory (golden.json, golden.safetensors, model/)")->required();
    cmd->add_option("--device", opts->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
    cmd->add_option("--dtype", opts->dtype, "f32, bf16 or f16")->check(CLI::IsMember({"f32", "bf16", "f16"}));
    cmd->add_option("--quant", opts->quant, "none (dense, against the golden outputs) or nf4 (against NF4 on the CPU)")
        ->check(CLI::IsMember({"none", "nf4"}));
    cmd->add_flag("--low-vram", opts->low_vram, "Hold the vision tower's layers in host memory, as low-VRAM mode does");
    cmd->callback([opts] {
        int checks = 0;
        const int failed = run_golden_checks(*opts, [&](const GoldenCheck& c) {
            std::printf("%s  %-30s %s\n", c.ok ? "PASS" : "FAIL", c.name.c_str(), c.detail.c_str());
            std::fflush(stdout);
            ++checks;
        });
        std::printf("%d passed, %d failed\n", checks - failed, failed);
        GLM4V_CHECK(failed == 0, engine::ErrorKind::ModelCorrupt) << failed << " of " << checks << " golden checks failed";
    });
}

} // namespace glm4v::app::cli
