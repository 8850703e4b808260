#pragma once
// A linear layer whose weight is either dense or NF4 (DESIGN.md section 3). The model holds these and
// never asks which: forward() picks the kernel for the device and the number of rows.

#include <torch/types.h>

namespace glm4v::engine::quant {

class Linear {
public:
    Linear() = default;
    // weight [out, in] in the compute dtype and on the compute device; bias [out] or undefined.
    static Linear dense(torch::Tensor weight, torch::Tensor bias = {});

    torch::Tensor forward(const torch::Tensor& x) const; // x [..., in] -> [..., out]

    std::int64_t in_features() const { return in_features_; }
    std::int64_t out_features() const { return out_features_; }
    const torch::Tensor& bias() const { return bias_; }
    bool defined() const { return out_features_ > 0; }

private:
    torch::Tensor weight_; // dense [out, in]
    torch::Tensor bias_;
    std::int64_t in_features_ = 0;
    std::int64_t out_features_ = 0;
};

} // namespace glm4v::engine::quant
