#include "engine/io/tensor.h"

#include "engine/error.h"

namespace glm4v::engine::io {

torch::ScalarType to_scalar_type(DType dtype) {
    switch (dtype) {
    case DType::Bool: return torch::kBool;
    case DType::U8: return torch::kUInt8;
    case DType::I8: return torch::kInt8;
    case DType::I16: return torch::kInt16;
    case DType::I32: return torch::kInt32;
    case DType::I64: return torch::kInt64;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::F32: return torch::kFloat32;
    case DType::F64: return torch::kFloat64;
    }
    GLM4V_FAIL(ErrorKind::Unsupported) << "dtype " << dtype_name(dtype);
}

DType from_scalar_type(torch::ScalarType type) {
    for (const DType d : {DType::Bool, DType::U8, DType::I8, DType::I16, DType::I32, DType::I64, DType::F16, DType::BF16,
                          DType::F32, DType::F64})
        if (to_scalar_type(d) == type) return d;
    GLM4V_FAIL(ErrorKind::Unsupported) << "safetensors has no dtype for " << type;
}

torch::Tensor to_tensor(const TensorInfo& info) {
    const auto options = torch::TensorOptions().dtype(to_scalar_type(info.dtype));
    std::vector<std::int64_t> shape(info.shape.begin(), info.shape.end());
    if (info.nbytes == 0) return torch::empty(shape, options);
    void* data = const_cast<std::uint8_t*>(info.data); // the pages are private copy-on-write
    if (reinterpret_cast<std::uintptr_t>(data) % dtype_size(info.dtype) != 0)
        return torch::from_blob(data, shape, options).clone();
    auto keep_alive = info.file;
    return torch::from_blob(data, shape, [keep_alive](void*) {}, options);
}

} // namespace glm4v::engine::io
