#include "engine/quant/linear.h"

#include "engine/error.h"

namespace glm4v::engine::quant {

Linear Linear::dense(torch::Tensor weight, torch::Tensor bias) {
    GLM4V_CHECK(weight.dim() == 2, ErrorKind::ModelCorrupt) << "a linear weight must be 2-D, got " << weight.sizes();
    Linear l;
    l.out_features_ = weight.size(0);
    l.in_features_ = weight.size(1);
    if (bias.defined())
        GLM4V_CHECK(bias.dim() == 1 && bias.size(0) == l.out_features_, ErrorKind::ModelCorrupt)
            << "bias of shape " << bias.sizes() << " does not fit weight " << weight.sizes();
    l.weight_ = std::move(weight);
    l.bias_ = std::move(bias);
    return l;
}

torch::Tensor Linear::forward(const torch::Tensor& x) const {
    return bias_.defined() ? torch::linear(x, weight_, bias_) : torch::linear(x, weight_);
}

} // namespace glm4v::engine::quant
