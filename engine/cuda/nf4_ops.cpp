#include "engine/cuda/nf4_ops.h"

#include "engine/cuda/nf4_kernels.h"
#include "engine/error.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>

namespace glm4v::engine::cuda {
namespace {

bool aligned16(const torch::Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 16 == 0; }

Nf4DeviceWeight device_weight(const quant::Nf4Weight& w, const char* op) {
    quant::nf4_validate(w, std::string(op) + " weight");
    GLM4V_CHECK(w.device().is_cuda(), ErrorKind::InvalidInput) << op << ": the NF4 weight is on " << w.device();
    GLM4V_CHECK(!w.double_quant(), ErrorKind::InvalidInput)
        << op << ": the kernels read fp32 absmax; expand a double-quantized weight with quant::nf4_with_f32_absmax";
    GLM4V_CHECK(aligned16(w.packed), ErrorKind::InvalidInput) << op << ": packed weight is not 16-byte aligned";
    Nf4DeviceWeight d;
    d.packed = w.packed.data_ptr<std::uint8_t>();
    d.absmax = w.absmax.data_ptr<float>();
    d.out_features = w.out_features;
    d.in_features = w.in_features;
    d.blocksize = w.blocksize;
    return d;
}

cudaStream_t current_stream(const torch::Device& device) {
    return c10::cuda::getCurrentCUDAStream(device.index()).stream();
}

} // namespace

torch::Tensor nf4_gemv(const torch::Tensor& x_in, const quant::Nf4Weight& w, const torch::Tensor& bias,
                       Nf4GemvVariant variant) {
    const Nf4DeviceWeight d = device_weight(w, "nf4_gemv");
    GLM4V_CHECK(x_in.dim() == 2 && x_in.size(1) == w.in_features && x_in.size(0) >= 1 &&
                    x_in.size(0) <= kNf4GemvMaxRows,
                ErrorKind::InvalidInput)
        << "nf4_gemv: x must be [1.." << kNf4GemvMaxRows << ", " << w.in_features << "], got " << x_in.sizes();
    const auto dtype = x_in.scalar_type();
    GLM4V_CHECK(dtype == torch::kBFloat16 || dtype == torch::kFloat16, ErrorKind::InvalidInput)
        << "nf4_gemv: x must be bf16 or fp16, got " << dtype;
    GLM4V_CHECK(x_in.device() == w.device(), ErrorKind::InvalidInput)
        << "nf4_gemv: x is on " << x_in.device() << ", the weight on " << w.device();
    GLM4V_CHECK(x_in.is_contiguous(), ErrorKind::InvalidInput) << "nf4_gemv: x must be contiguous";
    if (bias.defined()) {
        GLM4V_CHECK(bias.dim() == 1 && bias.size(0) == w.out_features && bias.scalar_type() == dtype &&
                        bias.is_contiguous() && bias.device() == w.device(),
                    ErrorKind::InvalidInput)
            << "nf4_gemv: bias must be contiguous " << dtype << " [" << w.out_features << "] on " << w.device()
            << ", got " << bias.scalar_type() << " " << bias.sizes() << " on " << bias.device();
    }
    // A view at an odd offset cannot take 16-byte loads; copy it (decode rows are tiny).
    const torch::Tensor x = aligned16(x_in) ? x_in : x_in.clone();

    const c10::cuda::CUDAGuard guard(w.device());
    torch::Tensor y = torch::empty({x.size(0), w.out_features}, x.options());
    const void* b = bias.defined() ? bias.data_ptr() : nullptr;
    const int rows = static_cast<int>(x.size(0));
    const auto codes = variant == Nf4GemvVariant::ExactCodes ? Nf4GemvCodes::Fp32 : Nf4GemvCodes::Bf16;
    if (dtype == torch::kBFloat16)
        launch_nf4_gemv_bf16(x.data_ptr(), rows, d, b, y.data_ptr(), current_stream(w.device()), codes);
    else
        launch_nf4_gemv_fp16(x.data_ptr(), rows, d, b, y.data_ptr(), current_stream(w.device()), codes);
    return y;
}

torch::Tensor nf4_dequantize(const quant::Nf4Weight& w, torch::ScalarType dtype) {
    const Nf4DeviceWeight d = device_weight(w, "nf4_dequantize");
    GLM4V_CHECK(dtype == torch::kBFloat16 || dtype == torch::kFloat16, ErrorKind::InvalidInput)
        << "nf4_dequantize on CUDA returns bf16 or fp16, not " << dtype;
    const c10::cuda::CUDAGuard guard(w.device());
    torch::Tensor out =
        torch::empty({w.out_features, w.in_features}, torch::TensorOptions().dtype(dtype).device(w.device()));
    if (dtype == torch::kBFloat16)
        launch_nf4_dequant_bf16(d, out.data_ptr(), current_stream(w.device()));
    else
        launch_nf4_dequant_fp16(d, out.data_ptr(), current_stream(w.device()));
    return out;
}

quant::Nf4Weight nf4_quantize(const torch::Tensor& weight, std::int64_t blocksize) {
    GLM4V_CHECK(weight.dim() == 2 && weight.is_cuda(), ErrorKind::InvalidInput)
        << "cuda::nf4_quantize takes a 2-D CUDA weight, got " << weight.sizes() << " on " << weight.device();
    const auto dtype = weight.scalar_type();
    GLM4V_CHECK(dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16,
                ErrorKind::InvalidInput)
        << "cuda::nf4_quantize takes fp32, bf16 or fp16, got " << dtype;
    const c10::cuda::CUDAGuard guard(weight.device());
    const torch::Tensor x = weight.to(torch::kFloat32).contiguous(); // bnb quantizes the fp32 value
    quant::Nf4Weight w;
    w.blocksize = blocksize;
    w.out_features = weight.size(0);
    w.in_features = weight.size(1);
    w.dtype = dtype;
    const auto bytes = torch::TensorOptions().dtype(torch::kUInt8).device(weight.device());
    w.packed = torch::empty({(w.numel() + 1) / 2}, bytes);
    w.absmax = torch::empty({w.blocks()}, bytes.dtype(torch::kFloat32));
    launch_nf4_quantize(x.data_ptr<float>(), w.numel(), blocksize, w.packed.data_ptr<std::uint8_t>(),
                        w.absmax.data_ptr<float>(), current_stream(weight.device()));
    return w;
}

} // namespace glm4v::engine::cuda
