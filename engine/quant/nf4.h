#pragma once
// NF4 weights, bit-compatible with bitsandbytes' quant_type="nf4" (DESIGN.md section 3; docs/nf4.md).
//
// Layout of a weight of n = out * in elements, flattened row-major:
//   packed  uint8 [(n + 1) / 2]     two 4-bit codes per byte, element 2k in the HIGH nibble, 2k+1 in the low one;
//                                   an odd n pads the last low nibble with code 7 (0.0)
//   absmax  fp32  [ceil(n / blocksize)]  one scale per block of `blocksize` consecutive elements
// or, double-quantized (bitsandbytes' compress_statistics):
//   absmax  uint8 [ceil(n / blocksize)]  8-bit codes of (absmax - nested_offset) in the dynamic map kDynamicCode
//   nested_absmax fp32 [ceil(blocks / 256)], nested_offset fp32 (the mean of the fp32 absmax)
// Element i dequantizes to kNf4Code[code_i] * absmax[i / blocksize] in fp32, then rounds (nearest even) to the
// compute dtype.
//
// The raw-pointer functions are the reference the CUDA kernels are tested against; the torch wrappers below
// only allocate and dispatch.

#include "engine/quant/nf4_code.h"

#include <torch/types.h>

#include <cstdint>

namespace glm4v::engine::quant {

constexpr std::int64_t kNf4DefaultBlocksize = 64;
constexpr std::int64_t kNf4NestedBlocksize = 256; // compress_statistics always uses 256

// bitsandbytes' signed dynamic 8-bit map, ascending (create_dynamic_map()), for double-quantized absmax.
extern const float kDynamicCode[256];

// ---- plain C++ on raw pointers ----

// Codes of x[0, n) in blocks; packed holds (n + 1) / 2 bytes, absmax ceil(n / blocksize) floats.
// Rounding follows bitsandbytes' CPU quantize_4bit: scaled = clamp(x * (1 / absmax), -1, 1) for whole blocks
// (x / absmax for a short last block, whose absmax is stored clamped to at least 1e-38), and the code is the
// number of code-book midpoints strictly below scaled (a value exactly on a midpoint takes the lower code).
void nf4_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* packed, float* absmax);

void nf4_dequantize_f32(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                        float* out);
void nf4_dequantize_bf16(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                         std::uint16_t* out);
void nf4_dequantize_f16(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                        std::uint16_t* out);

// 8-bit blockwise quantization with kDynamicCode as bitsandbytes' CPU quantize_blockwise does it: the scaled
// value is snapped to a grid of 65536 points on [-1, 1], and each grid point takes its nearest code.
void blockwise8_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* codes, float* absmax);
// out[i] = kDynamicCode[codes[i]] * absmax[i / blocksize] + offset, each step rounded in fp32.
void blockwise8_dequantize(const std::uint8_t* codes, const float* absmax, std::int64_t n, std::int64_t blocksize,
                           float offset, float* out);

// Round to nearest even, NaN kept quiet.
std::uint16_t float_to_bf16_bits(float f);
std::uint16_t float_to_f16_bits(float f);

// ---- libtorch ----

struct Nf4Weight {
    torch::Tensor packed;        // uint8 [(numel + 1) / 2]
    torch::Tensor absmax;        // fp32 [blocks], or uint8 [blocks] when double-quantized
    torch::Tensor nested_absmax; // fp32 [ceil(blocks / 256)], defined only when double-quantized
    float nested_offset = 0.0f;
    std::int64_t blocksize = kNf4DefaultBlocksize;
    std::int64_t nested_blocksize = kNf4NestedBlocksize;
    std::int64_t out_features = 0;
    std::int64_t in_features = 0;
    torch::ScalarType dtype = torch::kBFloat16; // what the weight was before quantization (bnb quant_state.dtype)

    bool double_quant() const { return nested_absmax.defined(); }
    std::int64_t numel() const { return out_features * in_features; }
    std::int64_t blocks() const { return (numel() + blocksize - 1) / blocksize; }
    torch::Device device() const { return packed.device(); }
    Nf4Weight to(torch::Device device) const;
};

// weight [out, in] in fp32, bf16 or fp16 (quantized from its fp32 value, as bitsandbytes does); any device,
// computed on the CPU. double_quant adds compress_statistics; its offset is torch's fp32 mean, as in bnb.
Nf4Weight nf4_quantize(const torch::Tensor& weight, std::int64_t blocksize = kNf4DefaultBlocksize,
                       bool double_quant = false);

// Checks sizes, dtypes and devices of every field against each other; throws ModelCorrupt naming `what`.
void nf4_validate(const Nf4Weight& w, const std::string& what = "NF4 weight");

// The fp32 absmax [blocks] (expanding a double-quantized one), on the weight's device.
torch::Tensor nf4_absmax_f32(const Nf4Weight& w);
// The same weight with fp32 absmax: what the CUDA kernels read.
Nf4Weight nf4_with_f32_absmax(const Nf4Weight& w);

// CPU reference: [out, in] in dtype (fp32, bf16 or fp16). The weight must be on the CPU.
torch::Tensor nf4_dequantize(const Nf4Weight& w, torch::ScalarType dtype);

} // namespace glm4v::engine::quant
