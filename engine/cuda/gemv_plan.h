#pragma once
// How the NF4 GEMV (nf4_gemv.cu) splits each 16-row stripe's k over blocks: host code alone, so the choice is
// tested where no GPU is (tests/cuda/test_gemv_plan.cpp).

#include <cstdint>

namespace glm4v::engine::cuda {

struct GemvSplitLimits {
    int max_splits;                 // parts of a stripe at most (the workspace is sized for them)
    std::int64_t max_split_stripes; // stripes of a GEMV that may split at all (its arrival counters)
    int stage_steps;                // k steps of 64 in one stage; a part keeps at least half a stage
};

// The parts (1 = no split) that finish soonest for `stripes` stripes of `steps` k steps on a persistent grid of
// `grid` blocks, by a cost model in stages: a block takes rounds of units (a part of a stripe each), each costing
// its part of k plus half a stage (its sums, the stage it leaves part full), and a split adds two stages for the
// join (fences and L2 round trips). Fitted to `gpu_check.sh bench-splits` on the H200: qkv unsplit 6.6 us, in 2, 3
// and 4 parts 10.5, 11.8 and 13.4; dense 6.0 against 8.4 in 2 (docs/performance.md).
int gemv_splits(std::int64_t stripes, int steps, int grid, const GemvSplitLimits& limits);

// Whether the kernel can split `stripes` stripes of `steps` k steps in `splits` parts at all: no more parts than the
// workspace holds, no more split stripes than there are arrival counters, and no part left without steps.
bool gemv_splits_fit(std::int64_t stripes, int steps, int splits, const GemvSplitLimits& limits);

} // namespace glm4v::engine::cuda
