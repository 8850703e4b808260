#include "engine/cuda/prefill_ops.h"

#include "engine/cuda/prefill_kernels.h"
#include "engine/error.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>

namespace glm4v::engine::cuda {
namespace {

// Contiguous bf16 or fp16 rows of n % 8 == 0 values on a CUDA device, 16-byte aligned (a view at an odd offset is
// copied).
torch::Tensor checked_rows(const torch::Tensor& x, const char* op) {
    const auto dtype = x.scalar_type();
    GLM4V_CHECK(x.dim() == 2 && x.is_cuda() && (dtype == torch::kBFloat16 || dtype == torch::kFloat16) &&
                    x.size(1) % 8 == 0,
                ErrorKind::InvalidInput)
        << op << ": x must be bf16 or fp16 [rows, n] on a CUDA device with n % 8 == 0, got " << x.scalar_type() << " "
        << x.sizes() << " on " << x.device();
    const torch::Tensor c = x.contiguous();
    return reinterpret_cast<std::uintptr_t>(c.data_ptr()) % 16 == 0 ? c : c.clone();
}

cudaStream_t stream_of(const torch::Tensor& t) { return c10::cuda::getCurrentCUDAStream(t.device().index()).stream(); }

} // namespace

torch::Tensor rms_norm_rows(const torch::Tensor& x_in, const torch::Tensor& weight_in, double eps) {
    const torch::Tensor x = checked_rows(x_in, "rms_norm_rows");
    const std::int64_t n = x.size(1);
    GLM4V_CHECK(weight_in.numel() == n && weight_in.scalar_type() == x.scalar_type() && weight_in.device() == x.device(),
                ErrorKind::InvalidInput)
        << "rms_norm_rows: the weight must be " << n << " values of " << x.scalar_type() << " on " << x.device()
        << ", got " << weight_in.sizes() << " " << weight_in.scalar_type();
    const torch::Tensor weight = checked_rows(weight_in.view({1, n}), "rms_norm_rows");
    const c10::cuda::CUDAGuard guard(x.device());
    torch::Tensor y = torch::empty_like(x);
    if (x.size(0) == 0) return y;
    if (x.scalar_type() == torch::kBFloat16)
        launch_rms_norm_rows_bf16(x.data_ptr(), weight.data_ptr(), y.data_ptr(), x.size(0), n, static_cast<float>(eps),
                                  stream_of(x));
    else
        launch_rms_norm_rows_fp16(x.data_ptr(), weight.data_ptr(), y.data_ptr(), x.size(0), n, static_cast<float>(eps),
                                  stream_of(x));
    return y;
}

torch::Tensor swiglu_rows(const torch::Tensor& x_in) {
    const torch::Tensor x = checked_rows(x_in, "swiglu_rows");
    const std::int64_t n = x.size(1) / 2;
    GLM4V_CHECK(n % 8 == 0, ErrorKind::InvalidInput) << "swiglu_rows: each half of a row must be a multiple of 8, got " << n;
    const c10::cuda::CUDAGuard guard(x.device());
    torch::Tensor y = torch::empty({x.size(0), n}, x.options());
    if (x.size(0) == 0) return y;
    if (x.scalar_type() == torch::kBFloat16)
        launch_swiglu_rows_bf16(x.data_ptr(), y.data_ptr(), x.size(0), n, stream_of(x));
    else
        launch_swiglu_rows_fp16(x.data_ptr(), y.data_ptr(), x.size(0), n, stream_of(x));
    return y;
}

} // namespace glm4v::engine::cuda
