#pragma once
// Checkpoint tensors as libtorch tensors, without copying.

#include <torch/types.h>

#include "engine/io/safetensors.h"

namespace glm4v::engine::io {

torch::ScalarType to_scalar_type(DType dtype);
DType from_scalar_type(torch::ScalarType type);

// A CPU tensor viewing the mapped bytes; it keeps the mapping alive. A tensor whose offset in the file
// is not aligned to its element size is copied instead, since kernels may assume alignment.
torch::Tensor to_tensor(const TensorInfo& info);

} // namespace glm4v::engine::io
