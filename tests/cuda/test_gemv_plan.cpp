// The NF4 GEMV's split of k (engine/cuda/gemv_plan.h): host code, so this runs on any machine. The known answers
// are the H200's grid (132 SMs, 2 blocks each) on GLM-4V-9B's shapes, where `gpu_check.sh bench-splits` measured
// every language shape fastest unsplit (docs/performance.md).
#include "engine/cuda/gemv_plan.h"

#include <catch2/catch.hpp>

#include <cstdint>

using glm4v::engine::cuda::gemv_splits;
using glm4v::engine::cuda::gemv_splits_fit;
using glm4v::engine::cuda::GemvSplitLimits;

namespace {

constexpr GemvSplitLimits kLimits{8, 4096, 32}; // nf4_gemv.cu's
constexpr int kH200Grid = 264;

int splits(std::int64_t out, std::int64_t in, int grid = kH200Grid) {
    return gemv_splits((out + 15) / 16, static_cast<int>(in / 64), grid, kLimits);
}

} // namespace

TEST_CASE("no language shape of GLM-4V-9B splits its k on an H200", "[gemv_plan]") {
    CHECK(splits(4608, 4096) == 1);   // qkv: 288 stripes on 264 blocks; measured 6.6 us unsplit, 10.5-13.4 split
    CHECK(splits(4096, 4096) == 1);   // dense
    CHECK(splits(27392, 4096) == 1);  // h_to_4h
    CHECK(splits(4096, 13696) == 1);  // 4h_to_h: measured 14.1 us unsplit, 17.8-18.8 split
    CHECK(splits(151552, 4096) == 1); // output layer
}

TEST_CASE("few stripes over a long k split, when a block's share outweighs the join", "[gemv_plan]") {
    CHECK(splits(1792, 15360) == 2); // the vision tower's fc2: 112 stripes; measured 9.9 us in 2 parts, 13.8 in 7
    CHECK(splits(1000, 8192) == 4);  // 63 stripes of 128 steps: one round of 4 parts beats 4 stages a block
    // One block does every part itself: a split only adds the join.
    for (const std::int64_t out : {16, 1792, 4608})
        for (const std::int64_t in : {4096, 15360})
            CHECK(splits(out, in, 1) == 1);
}

TEST_CASE("a forced split is refused where the kernel cannot do it", "[gemv_plan]") {
    CHECK(gemv_splits_fit(63, 128, 4, kLimits));
    CHECK(gemv_splits_fit(20000, 64, 1, kLimits));      // unsplit needs no counters
    CHECK_FALSE(gemv_splits_fit(63, 128, 9, kLimits));  // more parts than the workspace holds
    CHECK_FALSE(gemv_splits_fit(4097, 64, 2, kLimits)); // more split stripes than counters
    CHECK(gemv_splits_fit(1, 3, 3, kLimits));           // parts of 1, 1, 1 steps
    CHECK_FALSE(gemv_splits_fit(1, 4, 3, kLimits));     // parts of 2, 2 and none
    CHECK_FALSE(gemv_splits_fit(1, 64, 0, kLimits));
}

TEST_CASE("a split keeps to the kernel's limits", "[gemv_plan]") {
    for (const std::int64_t stripes : {1, 7, 63, 112, 288, 4096, 4097, 20000})
        for (const int steps : {1, 16, 28, 64, 127, 214, 240, 1024})
            for (const int grid : {1, 46, 84, 264}) {
                const int s = gemv_splits(stripes, steps, grid, kLimits);
                INFO("stripes " << stripes << ", steps " << steps << ", grid " << grid << ": " << s << " parts");
                CHECK(s >= 1);
                CHECK(s <= kLimits.max_splits);
                if (s > 1) {
                    const int part = (steps + s - 1) / s;
                    CHECK(stripes <= kLimits.max_split_stripes);
                    CHECK(part >= kLimits.stage_steps / 2);
                    CHECK((s - 1) * part < steps); // every part has steps
                }
            }
}
