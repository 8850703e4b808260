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

bool nf4_gemv_supports(const quant::Nf4Weight& w) {
    Nf4DeviceWeight d;
    d.out_features = w.out_features;
    d.in_features = w.in_features;
    d.blocksize = w.blocksize;
    if (!w.device().is_cuda()) return nf4_gemv_supports(d);
    const c10::cuda::CUDAGuard guard(w.device()); // the room asked of is the weight's device's
    return nf4_gemv_supports(d);
}

torch::Tensor nf4_gemv(const torch::Tensor& x_in, const quant::Nf4Weight& w, const Nf4GemvOptions& o) {
    using Input = Nf4GemvOptions::Input;
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
    // A view at an odd offset cannot take 16-byte loads; copy it (decode rows are tiny).
    const torch::Tensor x = aligned16(x_in) ? x_in : x_in.clone();
    const std::int64_t rows = x.size(0);
    const auto check_vector = [&](const torch::Tensor& t, std::initializer_list<std::int64_t> shape, const char* what) {
        GLM4V_CHECK(t.defined(), ErrorKind::InvalidInput) << "nf4_gemv: " << what << " is missing";
        GLM4V_CHECK(t.sizes() == c10::IntArrayRef(shape) && t.scalar_type() == dtype && t.is_contiguous() &&
                        t.device() == w.device(),
                    ErrorKind::InvalidInput)
            << "nf4_gemv: " << what << " must be contiguous " << dtype << " " << c10::IntArrayRef(shape) << " on "
            << w.device() << ", got " << t.scalar_type() << " " << t.sizes() << " on " << t.device();
    };
    if (o.bias.defined()) check_vector(o.bias, {w.out_features}, "bias");
    if (o.residual.defined()) check_vector(o.residual, {rows, w.out_features}, "residual");
    if (o.input == Input::RmsNorm) {
        check_vector(o.norm_weight, {w.in_features}, "norm weight");
        GLM4V_CHECK(aligned16(o.norm_weight), ErrorKind::InvalidInput) << "nf4_gemv: norm weight is not 16-byte aligned";
    }
    const std::int64_t y_cols = o.swiglu_output ? w.out_features / 2 : w.out_features;
    torch::Tensor y = o.out;
    if (y.defined())
        check_vector(y, {rows, y_cols}, "out");
    else
        y = torch::empty({rows, y_cols}, x.options());

    const c10::cuda::CUDAGuard guard(w.device());
    Nf4GemvParams p;
    p.x = x.data_ptr();
    p.rows = static_cast<int>(rows);
    p.prologue = o.input == Input::RmsNorm ? GemvPrologue::RmsNorm : GemvPrologue::None;
    p.swiglu_output = o.swiglu_output;
    p.norm_weight = o.input == Input::RmsNorm ? o.norm_weight.data_ptr() : nullptr;
    p.eps = static_cast<float>(o.eps);
    p.bias = o.bias.defined() ? o.bias.data_ptr() : nullptr;
    p.residual = o.residual.defined() ? o.residual.data_ptr() : nullptr;
    p.y = y.data_ptr();
    torch::Tensor workspace;
    if (const std::int64_t floats = nf4_gemv_workspace_floats(d); floats > 0) {
        workspace = torch::empty({floats}, x.options().dtype(torch::kFloat32));
        p.workspace = workspace.data_ptr<float>();
    }
    if (dtype == torch::kBFloat16)
        launch_nf4_gemv_bf16(d, p, current_stream(w.device()));
    else
        launch_nf4_gemv_fp16(d, p, current_stream(w.device()));
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
