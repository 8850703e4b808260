#pragma once
// A linear layer whose weight is either dense or NF4 (DESIGN.md section 3). The model holds these and
// never asks which: forward() picks the kernel for the device and the number of rows.

#include "engine/quant/nf4.h"

#include <torch/types.h>

namespace glm4v::engine::quant {

class Linear {
public:
    // At most this many rows of x take the fused NF4 GEMV on CUDA; more dequantize the weight and use a matmul.
    static constexpr std::int64_t kGemvMaxRows = 8;

    Linear() = default;
    // weight [out, in] in the compute dtype and on the compute device; bias [out] or undefined.
    static Linear dense(torch::Tensor weight, torch::Tensor bias = {});
    // An NF4 weight on the compute device; bias [out] in the compute dtype or undefined. On CUDA a
    // double-quantized absmax is expanded to fp32 here, once, since the kernels read fp32 scales.
    static Linear nf4(Nf4Weight weight, torch::Tensor bias = {});

    torch::Tensor forward(const torch::Tensor& x) const; // x [..., in] -> [..., out]
    // The same layer on another device (the low-VRAM vision tower streams its layers to the GPU one at a time).
    Linear to(const torch::Device& device) const;
    torch::Device device() const { return is_nf4() ? nf4_.device() : weight_.device(); }

    std::int64_t in_features() const { return in_features_; }
    std::int64_t out_features() const { return out_features_; }
    const torch::Tensor& bias() const { return bias_; }
    bool defined() const { return out_features_ > 0; }
    bool is_nf4() const { return nf4_.packed.defined(); }
    const Nf4Weight& nf4_weight() const { return nf4_; }

private:
    torch::Tensor forward_nf4(const torch::Tensor& x) const;

    torch::Tensor weight_; // dense [out, in]
    Nf4Weight nf4_;        // or NF4
    torch::Tensor bias_;
    std::int64_t in_features_ = 0;
    std::int64_t out_features_ = 0;
};

} // namespace glm4v::engine::quant
