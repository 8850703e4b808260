#include "engine/model/layers.h"

namespace glm4v::engine::model {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    const auto variance = x.to(torch::kFloat32).pow(2).mean(-1, /*keepdim=*/true);
    const auto normed = x * torch::rsqrt(variance + eps); // promotes to fp32
    return (weight * normed).to(x.scalar_type());
}

torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, double eps) {
    return torch::layer_norm(x, {x.size(-1)}, weight, bias, eps);
}

torch::Tensor rope_table(const torch::Tensor& positions, std::int64_t rotary_dims, double rope_ratio,
                         torch::ScalarType dtype) {
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
    const double base = 10000.0 * rope_ratio;
    const auto theta = 1.0 / torch::pow(base, torch::arange(0, rotary_dims, 2, f32) / static_cast<double>(rotary_dims));
    const auto angles = torch::outer(positions.to(torch::kFloat32), theta); // [S, rotary_dims / 2]
    auto table = torch::stack({torch::cos(angles), torch::sin(angles)}, -1);
    // The reference keeps fp32 for fp32/fp64 activations and rounds for half types only.
    if (dtype == torch::kBFloat16 || dtype == torch::kFloat16) table = table.to(dtype);
    return table;
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& table) {
    const auto S = x.size(0), heads = x.size(1), D = x.size(2);
    const auto rot = table.size(1) * 2;
    const auto pairs = x.narrow(-1, 0, rot).reshape({S, heads, rot / 2, 2});
    const auto cs = table.view({S, 1, rot / 2, 2});
    const auto x0 = pairs.select(-1, 0), x1 = pairs.select(-1, 1);
    const auto c = cs.select(-1, 0), s = cs.select(-1, 1);
    auto rotated = torch::stack({x0 * c - x1 * s, x1 * c + x0 * s}, -1).flatten(2).to(x.scalar_type());
    if (rot == D) return rotated;
    return torch::cat({rotated, x.narrow(-1, rot, D - rot)}, -1);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask) {
    const auto heads = q.size(0), groups = k.size(0);
    auto kk = k, vv = v;
    if (heads != groups) {
        kk = k.repeat_interleave(heads / groups, 0);
        vv = v.repeat_interleave(heads / groups, 0);
    }
    // 4-D, as the fused kernels (flash, memory-efficient) require: a 3-D call falls back to the math path,
    // which holds every score (5 GB in the vision tower's 6401-token attention).
    const auto out = mask.defined() ? torch::scaled_dot_product_attention(q.unsqueeze(0), kk.unsqueeze(0), vv.unsqueeze(0), mask)
                                    : torch::scaled_dot_product_attention(q.unsqueeze(0), kk.unsqueeze(0), vv.unsqueeze(0));
    return out.squeeze(0);
}

torch::Tensor swiglu(const torch::Tensor& x) {
    const auto halves = x.chunk(2, -1);
    return torch::silu(halves[0]) * halves[1];
}

} // namespace glm4v::engine::model
