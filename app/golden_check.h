#pragma once
// The checks of a golden case directory (DESIGN.md section 7) against this build: tokenizer cases,
// preprocessing, vision features, logits at every position and greedy continuations, the follow-up run
// as a real follow-up through the KV cache. Shared by `glm4v check-golden` and the tests.

#include <functional>
#include <string>

namespace glm4v::app {

struct GoldenCheckOptions {
    std::string case_dir;
    std::string device = "cpu"; // cpu or cuda
    std::string dtype = "f32";  // f32, bf16 or f16
    // "none": dense weights, checked against the golden reference outputs. "nf4": NF4 weights, checked
    // against the same NF4 weights computed in fp32 on the CPU (and the distance to the golden outputs shown).
    std::string quant = "none";
    bool low_vram = false; // the vision tower's layers held in host memory (LoadOptions::low_vram)
};

struct GoldenCheck {
    bool ok = false;
    std::string name;   // "logits image_prompt"
    std::string detail; // measured error and its limit
};

// Calls on_check as each check completes; returns how many failed. Throws engine::Error when the case
// directory or the model cannot be read at all.
int run_golden_checks(const GoldenCheckOptions& options, const std::function<void(const GoldenCheck&)>& on_check);

} // namespace glm4v::app
