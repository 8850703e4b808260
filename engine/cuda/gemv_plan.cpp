#include "engine/cuda/gemv_plan.h"

namespace glm4v::engine::cuda {

bool gemv_splits_fit(std::int64_t stripes, int steps, int splits, const GemvSplitLimits& limits) {
    const int part = (steps + splits - 1) / splits;
    return splits >= 1 && splits <= limits.max_splits &&
           (splits == 1 || (stripes <= limits.max_split_stripes && (splits - 1) * part < steps));
}

int gemv_splits(std::int64_t stripes, int steps, int grid, const GemvSplitLimits& limits) {
    constexpr double kUnitCost = 0.5, kJoinCost = 2.0; // in stages
    int splits = 1;
    double best = 0.0;
    for (int s = 1; s <= limits.max_splits; ++s) {
        const int part = (steps + s - 1) / s;
        if (!gemv_splits_fit(stripes, steps, s, limits) || (s > 1 && part < limits.stage_steps / 2)) break;
        const std::int64_t rounds = (stripes * s + grid - 1) / grid;
        const double stages =
            static_cast<double>(rounds) * (static_cast<double>(part) / limits.stage_steps + kUnitCost) +
            (s > 1 ? kJoinCost : 0.0);
        if (s == 1 || stages < best) {
            best = stages;
            splits = s;
        }
    }
    return splits;
}

} // namespace glm4v::engine::cuda
