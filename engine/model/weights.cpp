#include "engine/model/weights.h"

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/tensor.h"

#include "engine/quant/nf4_on_device.h"

namespace glm4v::engine::model {
namespace {

constexpr const char* kNf4StateSuffix = ".quant_state.bitsandbytes__nf4";

const char* bnb_dtype_name(torch::ScalarType t) {
    switch (t) {
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return "float32";
    }
}

torch::ScalarType bnb_dtype(const std::string& name, const std::string& what) {
    if (name == "bfloat16") return torch::kBFloat16;
    if (name == "float16") return torch::kFloat16;
    if (name == "float32") return torch::kFloat32;
    GLM4V_FAIL(ErrorKind::ModelCorrupt) << what << ": unknown dtype '" << name << "' in its quantization state";
}

// A stored table must be exactly the one our kernels decode with, or the weight means something else.
void check_table(const torch::Tensor& stored, const float* expected, std::int64_t n, const std::string& what) {
    GLM4V_CHECK(stored.defined() && stored.scalar_type() == torch::kFloat32 && stored.numel() == n,
                ErrorKind::ModelCorrupt)
        << what << " is missing or not " << n << " fp32 values";
    const torch::Tensor t = stored.to(torch::kCPU).contiguous();
    const float* p = t.data_ptr<float>();
    for (std::int64_t i = 0; i < n; ++i)
        GLM4V_CHECK(p[i] == expected[i], ErrorKind::Unsupported)
            << what << " differs from the NF4 tables at entry " << i << " (" << p[i] << ", expected " << expected[i]
            << "): not a bitsandbytes NF4 weight";
}

torch::Tensor json_bytes(const nlohmann::ordered_json& j) {
    const std::string text = j.dump();
    torch::Tensor t = torch::empty({static_cast<std::int64_t>(text.size())}, torch::kUInt8);
    std::memcpy(t.data_ptr(), text.data(), text.size());
    return t;
}

} // namespace

torch::Tensor CheckpointSource::get(const std::string& name, torch::IntArrayRef shape) const {
    const io::TensorInfo& info = checkpoint_.get(name);
    GLM4V_CHECK(torch::IntArrayRef(info.shape) == shape, ErrorKind::ModelCorrupt)
        << "tensor '" << name << "': shape " << info.shape_string() << ", expected " << shape;
    GLM4V_CHECK(info.dtype == io::DType::BF16 || info.dtype == io::DType::F16 || info.dtype == io::DType::F32 ||
                    info.dtype == io::DType::F64,
                ErrorKind::ModelCorrupt)
        << "tensor '" << name << "': dtype " << io::dtype_name(info.dtype) << " is not a float type";
    return io::to_tensor(info);
}

torch::Tensor CheckpointSource::find(const std::string& name) const {
    const io::TensorInfo* info = checkpoint_.find(name);
    return info ? io::to_tensor(*info) : torch::Tensor();
}

torch::Tensor WeightPlacement::place(const std::string& name, torch::IntArrayRef shape, torch::Device where) const {
    const torch::Tensor stored = source->get(name, shape);
    note(name, stored);
    auto t = stored.to(where, dtype).contiguous();
    if (pin && where.is_cpu()) t = t.pin_memory();
    if (on_tensor) on_tensor(name);
    return t;
}

torch::Tensor WeightPlacement::tensor(const std::string& name, torch::IntArrayRef shape) const {
    return place(name, shape, device);
}

torch::Tensor WeightPlacement::host(const std::string& name, torch::IntArrayRef shape) const {
    return place(name, shape, torch::kCPU);
}

quant::Linear WeightPlacement::linear(const std::string& prefix, std::int64_t out, std::int64_t in,
                                      bool has_bias) const {
    const std::string weight_name = prefix + ".weight";
    torch::Tensor bias = has_bias ? tensor(prefix + ".bias", {out}) : torch::Tensor();
    GLM4V_CHECK(!source->find(weight_name + ".quant_state.bitsandbytes__fp4").defined(), ErrorKind::Unsupported)
        << "'" << weight_name << "' is bitsandbytes FP4; only NF4 4-bit checkpoints are supported";
    quant::Nf4Weight w;
    if (const torch::Tensor state = source->find(weight_name + kNf4StateSuffix); state.defined())
        w = stored_nf4(weight_name, state, out, in).to(device);
    else if (quantize_nf4)
        w = quant::nf4_quantize_on(source->get(weight_name, {out, in}), quantize_device.value_or(device)).to(device);
    else
        return quant::Linear::dense(tensor(weight_name, {out, in}), std::move(bias));
    if (pin && device.is_cpu()) {
        w.packed = w.packed.pin_memory();
        w.absmax = w.absmax.pin_memory();
    }
    note_nf4(weight_name, w);
    if (on_tensor) on_tensor(weight_name);
    return quant::Linear::nf4(std::move(w), std::move(bias));
}

WeightPlacement WeightPlacement::on_host() const {
    WeightPlacement host_place = *this;
    host_place.quantize_device = device;
    host_place.device = torch::kCPU;
    host_place.pin = device.is_cuda();
    return host_place;
}

quant::Nf4Weight WeightPlacement::stored_nf4(const std::string& weight_name, const torch::Tensor& state,
                                             std::int64_t out, std::int64_t in) const {
    const std::string what = "NF4 weight '" + weight_name + "'";
    const torch::Tensor state_bytes = state.to(torch::kCPU).contiguous();
    GLM4V_CHECK(state_bytes.scalar_type() == torch::kUInt8, ErrorKind::ModelCorrupt) << what << ": its quantization state is not bytes";
    const auto j = nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(state_bytes.data_ptr<std::uint8_t>()), state_bytes.numel()), nullptr,
        false);
    GLM4V_CHECK(j.is_object() && j.value("quant_type", "") == "nf4" && j.contains("blocksize") && j.contains("shape") &&
                    j.contains("dtype"),
                ErrorKind::ModelCorrupt)
        << what << ": its quantization state is not bitsandbytes NF4 JSON";
    try {
        quant::Nf4Weight w;
        w.out_features = out;
        w.in_features = in;
        w.blocksize = j.at("blocksize").get<std::int64_t>();
        GLM4V_CHECK((j.at("shape").get<std::vector<std::int64_t>>() == std::vector<std::int64_t>{out, in}),
                    ErrorKind::ModelCorrupt)
            << what << ": stored for shape " << j.at("shape").dump() << ", the model needs [" << out << ", " << in << "]";
        w.dtype = bnb_dtype(j.at("dtype").get<std::string>(), what);
        const torch::Tensor packed = source->find(weight_name);
        GLM4V_CHECK(packed.defined() && packed.scalar_type() == torch::kUInt8, ErrorKind::ModelCorrupt)
            << what << ": the packed codes are missing or not uint8";
        w.packed = packed.reshape({-1});
        w.absmax = source->find(weight_name + ".absmax");
        GLM4V_CHECK(w.absmax.defined(), ErrorKind::ModelCorrupt) << what << ": '" << weight_name << ".absmax' is missing";
        check_table(source->find(weight_name + ".quant_map"), quant::kNf4Code, 16, what + " quant_map");
        if (j.contains("nested_offset")) {
            check_table(source->find(weight_name + ".nested_quant_map"), quant::kDynamicCode, 256,
                        what + " nested_quant_map");
            w.nested_absmax = source->find(weight_name + ".nested_absmax");
            w.nested_blocksize = j.at("nested_blocksize").get<std::int64_t>();
            w.nested_offset = j.at("nested_offset").get<float>();
            GLM4V_CHECK(j.value("nested_dtype", "float32") == "float32", ErrorKind::Unsupported)
                << what << ": nested dtype " << j.at("nested_dtype").dump() << " is not float32";
        }
        quant::nf4_validate(w, what);
        return w;
    } catch (const nlohmann::json::exception& e) {
        GLM4V_FAIL(ErrorKind::ModelCorrupt) << what << ": bad quantization state: " << e.what();
    }
}

void WeightPlacement::note(const std::string& name, const torch::Tensor& stored) const {
    if (record) record->emplace_back(name, stored);
}

void WeightPlacement::note_nf4(const std::string& weight_name, const quant::Nf4Weight& w) const {
    if (!record) return;
    nlohmann::ordered_json state = {{"quant_type", "nf4"},
                                    {"blocksize", w.blocksize},
                                    {"dtype", bnb_dtype_name(w.dtype)},
                                    {"shape", {w.out_features, w.in_features}}};
    record->emplace_back(weight_name, w.packed.view({-1, 1}));
    record->emplace_back(weight_name + ".absmax", w.absmax);
    record->emplace_back(weight_name + ".quant_map", torch::from_blob(const_cast<float*>(quant::kNf4Code), {16}).clone());
    if (w.double_quant()) {
        state["nested_blocksize"] = w.nested_blocksize;
        state["nested_dtype"] = "float32";
        state["nested_offset"] = w.nested_offset;
        record->emplace_back(weight_name + ".nested_absmax", w.nested_absmax);
        record->emplace_back(weight_name + ".nested_quant_map",
                             torch::from_blob(const_cast<float*>(quant::kDynamicCode), {256}).clone());
    }
    record->emplace_back(weight_name + kNf4StateSuffix, json_bytes(state));
}

} // namespace glm4v::engine::model
