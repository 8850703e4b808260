#pragma once
// Launchers of the NF4 kernels (nf4_gemv.cu, nf4_dequant.cu): raw device pointers and a stream, no torch, so
// nvcc never parses libtorch. Callers outside engine/cuda use nf4_ops.h instead.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace glm4v::engine::cuda {

// An NF4 weight on the device with fp32 absmax (see engine/quant/nf4.h for the layout).
struct Nf4DeviceWeight {
    const std::uint8_t* packed = nullptr; // [out * in / 2]
    const float* absmax = nullptr;        // [out * in / blocksize]
    std::int64_t out_features = 0;
    std::int64_t in_features = 0;
    std::int64_t blocksize = 64;
};

// The fused decode GEMV (nf4_gemv.cu): y[rows, out] = x'[rows, in] * W^T (+ bias) (+ residual), rows
// 1..kNf4GemvMaxRows, each weight byte read once, on the tensor cores with fp32 accumulation; code values enter as
// the activation type (bf16 codes are within 2^-9 of the exact ones, the rounding prefill's dequantize applies too).
// x' is x, or RMSNorm(x) * norm_weight, rounded as the reference rounds. With swiglu_output, y is [rows, out / 2]:
// silu of the product's first half times its second half (model::swiglu of the rounded product), which is what the
// down projection reads. The residual [rows, out] may be y itself (an in-place residual add); x must not overlap y.
// Needs nf4_gemv_supports(w) and 16-byte aligned x, norm_weight and packed. A weight with few output rows has its k
// split over several blocks, whose sums meet in `workspace` (nf4_gemv_workspace_floats of the weight; no initial
// value needed) and are added in a fixed order: results do not depend on timing. The split parts count their
// arrivals in per-device counters, so two GEMVs must not run concurrently on one device.
constexpr int kNf4GemvMaxRows = 8;
enum class GemvPrologue { None, RmsNorm };
struct Nf4GemvParams {
    const void* x = nullptr; // [rows, in]
    int rows = 1;
    GemvPrologue prologue = GemvPrologue::None;
    const void* norm_weight = nullptr; // RmsNorm: [in]
    float eps = 0.0f;                  // RmsNorm
    const void* bias = nullptr;        // [out] or null
    const void* residual = nullptr;    // [rows, out] or null
    void* y = nullptr;                 // [rows, out], or [rows, out / 2] with swiglu_output
    bool swiglu_output = false;        // needs out % 16 == 0 and no residual
    float* workspace = nullptr;        // nf4_gemv_workspace_floats(w) floats on the device
};
// in % 64 == 0, one row of x' in the current device's shared memory (in <= 49088 on an H100, 13184 on a GeForce RTX
// 30 or 40, whose 99 KB leave room for less), blocksize a power of two >= 64. Callers fall back to dequantize and a
// matmul where it is false.
bool nf4_gemv_supports(const Nf4DeviceWeight& w);
std::int64_t nf4_gemv_workspace_floats(const Nf4DeviceWeight& w);
// Sizes later GEMVs as if the card allowed a block at most `bytes` of shared memory (0: what it allows), so tests on
// a large card check a small one's limits.
void nf4_gemv_limit_shared_memory(int bytes);
// Splits every later GEMV's k in `splits` parts (0: as many as the launch plan picks, gemv_plan.h), for tests and
// tuning runs (bench_nf4 --splits).
void nf4_gemv_force_splits(int splits);
void launch_nf4_gemv_bf16(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream);
void launch_nf4_gemv_fp16(const Nf4DeviceWeight& w, const Nf4GemvParams& p, cudaStream_t stream);

// out[out, in] = the dequantized weight, rounded to nearest even: bit-identical to quant::nf4_dequantize.
// Needs out * in % 8 == 0, blocksize a power of two >= 8, 16-byte aligned out.
void launch_nf4_dequant_bf16(const Nf4DeviceWeight& w, void* out, cudaStream_t stream);
void launch_nf4_dequant_fp16(const Nf4DeviceWeight& w, void* out, cudaStream_t stream);

// packed[(n + 1) / 2] and absmax[ceil(n / blocksize)] of x[0, n) in fp32: bit-identical to quant::nf4_quantize.
void launch_nf4_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* packed, float* absmax,
                         cudaStream_t stream);

} // namespace glm4v::engine::cuda
