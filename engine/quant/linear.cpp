#include "engine/quant/linear.h"

#include "engine/error.h"

#ifdef GLM4V_HAS_CUDA
#include "engine/cuda/nf4_ops.h"
#endif

namespace glm4v::engine::quant {

Linear Linear::dense(torch::Tensor weight, torch::Tensor bias) {
    GLM4V_CHECK(weight.dim() == 2, ErrorKind::ModelCorrupt) << "a linear weight must be 2-D, got " << weight.sizes();
    Linear l;
    l.out_features_ = weight.size(0);
    l.in_features_ = weight.size(1);
    if (bias.defined()) {
        GLM4V_CHECK(bias.dim() == 1 && bias.size(0) == l.out_features_, ErrorKind::ModelCorrupt)
            << "bias of shape " << bias.sizes() << " does not fit weight " << weight.sizes();
    }
    l.weight_ = std::move(weight);
    l.bias_ = std::move(bias);
    return l;
}

Linear Linear::nf4(Nf4Weight weight, torch::Tensor bias) {
    nf4_validate(weight);
    Linear l;
    l.out_features_ = weight.out_features;
    l.in_features_ = weight.in_features;
    if (bias.defined()) {
        GLM4V_CHECK(bias.dim() == 1 && bias.size(0) == l.out_features_, ErrorKind::ModelCorrupt)
            << "bias of shape " << bias.sizes() << " does not fit NF4 weight [" << weight.out_features << ", "
            << weight.in_features << "]";
    }
    if (weight.device().is_cuda() && weight.double_quant()) weight = nf4_with_f32_absmax(weight);
    l.nf4_ = std::move(weight);
    l.bias_ = std::move(bias);
    return l;
}

Linear Linear::to(const torch::Device& device) const {
    const torch::Tensor bias = bias_.defined() ? bias_.to(device) : torch::Tensor();
    return is_nf4() ? nf4(nf4_.to(device), bias) : dense(weight_.to(device), bias);
}

torch::Tensor Linear::forward(const torch::Tensor& x) const {
    if (is_nf4()) return forward_nf4(x);
    return bias_.defined() ? torch::linear(x, weight_, bias_) : torch::linear(x, weight_);
}

torch::Tensor Linear::forward_nf4(const torch::Tensor& x) const {
    GLM4V_CHECK(x.dim() >= 1 && x.size(-1) == in_features_, ErrorKind::InvalidInput)
        << "linear input of shape " << x.sizes() << " does not fit NF4 weight [" << out_features_ << ", "
        << in_features_ << "]";
    GLM4V_CHECK(x.device() == nf4_.device(), ErrorKind::InvalidInput)
        << "linear input on " << x.device() << ", NF4 weight on " << nf4_.device();
    if (x.is_cuda()) {
#ifdef GLM4V_HAS_CUDA
        const std::int64_t rows = x.numel() / in_features_;
        if (rows <= kGemvMaxRows && cuda::nf4_gemv_supports(nf4_)) {
            std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
            shape.back() = out_features_;
            cuda::Nf4GemvOptions options;
            options.bias = bias_;
            return cuda::nf4_gemv(x.reshape({rows, in_features_}).contiguous(), nf4_, options).view(shape);
        }
        const torch::Tensor w = cuda::nf4_dequantize(nf4_, x.scalar_type()); // [out, in]
        return bias_.defined() ? torch::linear(x, w, bias_) : torch::linear(x, w);
#else
        GLM4V_FAIL(ErrorKind::Unsupported) << "this build has no CUDA kernels (configure with -DGLM4V_CUDA=ON)";
#endif
    }
    // CPU: the reference path, dequantize then matmul in x's dtype.
    const torch::Tensor w = nf4_dequantize(nf4_, x.scalar_type());
    return bias_.defined() ? torch::linear(x, w, bias_) : torch::linear(x, w);
}

} // namespace glm4v::engine::quant
