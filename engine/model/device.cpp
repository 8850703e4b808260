#include <torch/cuda.h>

#include "engine/error.h"
#include "engine/model/glm4v.h"

#ifdef GLM4V_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

namespace glm4v::engine::model {

torch::Device resolve_device(const std::string& name) {
    if (name == "cpu") return torch::kCPU;
    const bool cuda = torch::cuda::is_available();
    if (name == "auto") return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    GLM4V_CHECK(name.rfind("cuda", 0) == 0, ErrorKind::InvalidInput)
        << "unknown device '" << name << "' (use cpu, cuda, cuda:N or auto)";
    GLM4V_CHECK(cuda, ErrorKind::Unsupported) << "device '" << name << "' was asked for, but no CUDA GPU is available";
    torch::Device device(name);
    GLM4V_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()),
                ErrorKind::Unsupported)
        << "device '" << name << "' does not exist: " << torch::cuda::device_count() << " GPU(s) found";
    return device.has_index() ? device : torch::Device(torch::kCUDA, 0);
}

torch::ScalarType default_dtype(const torch::Device& device) {
    if (!device.is_cuda()) return torch::kFloat32;
#ifdef GLM4V_HAS_CUDA
    cudaDeviceProp props{};
    if (cudaGetDeviceProperties(&props, device.index()) == cudaSuccess && props.major < 8) return torch::kFloat16;
#endif
    return torch::kBFloat16; // Ampere and newer compute bf16 natively
}

} // namespace glm4v::engine::model
