#include "engine/model/weights.h"

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/tensor.h"

namespace glm4v::engine::model {

torch::Tensor WeightPlacement::tensor(const std::string& name, torch::IntArrayRef shape) const {
    const io::TensorInfo& info = checkpoint->get(name);
    GLM4V_CHECK(torch::IntArrayRef(info.shape) == shape, ErrorKind::ModelCorrupt)
        << "tensor '" << name << "': shape " << info.shape_string() << ", expected " << shape;
    GLM4V_CHECK(info.dtype == io::DType::BF16 || info.dtype == io::DType::F16 || info.dtype == io::DType::F32 ||
                    info.dtype == io::DType::F64,
                ErrorKind::ModelCorrupt)
        << "tensor '" << name << "': dtype " << io::dtype_name(info.dtype) << " is not a float type";
    auto t = io::to_tensor(info).to(device, dtype).contiguous();
    if (on_tensor) on_tensor(name);
    return t;
}

quant::Linear WeightPlacement::linear(const std::string& prefix, std::int64_t out, std::int64_t in,
                                      bool has_bias) const {
    auto weight = tensor(prefix + ".weight", {out, in});
    auto bias = has_bias ? tensor(prefix + ".bias", {out}) : torch::Tensor();
    if (make_linear) return make_linear(prefix, std::move(weight), std::move(bias));
    return quant::Linear::dense(std::move(weight), std::move(bias));
}

} // namespace glm4v::engine::model
