#pragma once
// A diagnostic build's record of when each block of the decode kernels ran (cmake -DGLM4V_KERNEL_TIMELINE=ON;
// `bench_nf4 --timeline`, tools/kernel_timeline.py): in a normal build the kernels record nothing and cost nothing.
// What a kernel's share of a sequence is cannot be timed kernel by kernel, since each starts under the previous one
// (programmatic dependent launch); block by block, it can: when the first block started, when the waits on the
// previous kernel returned, when the last block ended.

#include <cstdint>

namespace glm4v::engine::cuda {

// Recorded as numbers, which tools/kernel_timeline.py names: keep the two in step.
enum class SpanKind : std::uint32_t { Gemv, RopeAppend, AttentionSplit, AttentionCombine };

// One block, as thread 0 saw it. a, b: the GEMV's out and in features, 0 for the others. waited is 0 where the block
// returned before waiting (an attention slice past the used rows). The GEMV also notes when thread 0's part of x' was
// in shared memory (staged: all of x' with RMSNorm, the first stage's part without a prologue, since session 27) and
// when its last unit's stages were computed and their partial sums stored (summed), so that its time after the wait
// splits into the prologue, the compute and the sums' reduction and store; 0 for the other kernels.
// Nanoseconds of the GPU's global timer.
struct KernelSpan {
    std::uint32_t kind, a, b, block, blocks, sm;
    std::uint64_t start, waited, staged, summed, end;
};

// Device memory for `capacity` spans and a count the blocks take places with (zero it before a run).
struct KernelTimeline {
    KernelSpan* spans = nullptr;
    std::uint32_t* count = nullptr;
    std::uint32_t capacity = 0;
};

#ifdef GLM4V_KERNEL_TIMELINE
// Every kernel of nf4_gemv.cu and decode_attention.cu records into `timeline` from the next launch on; a timeline
// with no spans stops them.
void attach_kernel_timeline(const KernelTimeline& timeline);
// Each translation unit's part of that (its own copy of the record's address): nf4_gemv.cu, decode_attention.cu.
void attach_nf4_gemv_timeline(const KernelTimeline& timeline);
void attach_decode_attention_timeline(const KernelTimeline& timeline);
#endif

} // namespace glm4v::engine::cuda
