#include "bench/gpu/gpu_timing.h"

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace glm4v::bench {

void cuda_check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
        std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
        std::exit(1);
    }
}

double median_ms(const std::function<void(int)>& run, int reps) {
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    for (int i = 0; i < 3; ++i) run(i);
    std::vector<cudaEvent_t> ev(2 * reps);
    for (auto& e : ev) cuda_check(cudaEventCreate(&e), "cudaEventCreate");
    for (int i = 0; i < reps; ++i) {
        cuda_check(cudaEventRecord(ev[2 * i], stream), "cudaEventRecord");
        run(i);
        cuda_check(cudaEventRecord(ev[2 * i + 1], stream), "cudaEventRecord");
    }
    cuda_check(cudaEventSynchronize(ev.back()), "cudaEventSynchronize");
    std::vector<double> ms(reps);
    for (int i = 0; i < reps; ++i) {
        float t = 0;
        cuda_check(cudaEventElapsedTime(&t, ev[2 * i], ev[2 * i + 1]), "cudaEventElapsedTime");
        ms[i] = t;
    }
    for (auto& e : ev) cudaEventDestroy(e);
    std::nth_element(ms.begin(), ms.begin() + reps / 2, ms.end());
    return ms[reps / 2];
}

namespace {

// A graph of `reps` runs back to back, captured on a side stream after three warm-up runs.
void capture(at::cuda::CUDAGraph& graph, const std::function<void(int)>& run, int reps) {
    for (int i = 0; i < 3; ++i) run(i); // lazy loading, workspaces
    torch::cuda::synchronize();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    const c10::cuda::CUDAStreamGuard guard(side);
    graph.capture_begin();
    for (int i = 0; i < reps; ++i) run(i);
    graph.capture_end();
}

} // namespace

double graph_ms(const std::function<void(int)>& run, int reps) {
    at::cuda::CUDAGraph graph;
    capture(graph, run, reps);
    return median_ms([&](int) { graph.replay(); }, 5) / reps;
}

#ifdef GLM4V_KERNEL_TIMELINE
std::vector<engine::cuda::KernelSpan> graph_timeline(const std::function<void(int)>& run, int reps) {
    namespace cuda = engine::cuda;
    at::cuda::CUDAGraph graph;
    capture(graph, run, reps);
    graph.replay(); // the first replay uploads the graph
    torch::cuda::synchronize();
    constexpr std::uint32_t kCapacity = 1u << 22;
    const auto u8 = torch::TensorOptions().dtype(torch::kUInt8).device(torch::kCUDA);
    const torch::Tensor spans = torch::empty({kCapacity * static_cast<std::int64_t>(sizeof(cuda::KernelSpan))}, u8);
    const torch::Tensor count = torch::zeros({4}, u8);
    cuda::attach_kernel_timeline({static_cast<cuda::KernelSpan*>(spans.data_ptr()),
                                  static_cast<std::uint32_t*>(count.data_ptr()), kCapacity});
    graph.replay();
    torch::cuda::synchronize();
    cuda::attach_kernel_timeline({});
    std::uint32_t n = 0;
    cuda_check(cudaMemcpy(&n, count.data_ptr(), sizeof n, cudaMemcpyDeviceToHost), "cudaMemcpy");
    std::vector<cuda::KernelSpan> out(std::min(n, kCapacity));
    cuda_check(cudaMemcpy(out.data(), spans.data_ptr(), out.size() * sizeof(cuda::KernelSpan), cudaMemcpyDeviceToHost),
               "cudaMemcpy");
    return out;
}
#endif

double copy_gb_per_s() {
    const std::int64_t bytes = std::int64_t{2} << 30;
    const auto u8 = torch::TensorOptions().dtype(torch::kUInt8).device(torch::kCUDA);
    const torch::Tensor src = torch::randint(0, 255, {bytes}, u8);
    const torch::Tensor dst = torch::empty_like(src);
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    const double ms = median_ms(
        [&](int) {
            cuda_check(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), bytes, cudaMemcpyDeviceToDevice, stream),
                       "cudaMemcpyAsync");
        },
        20);
    return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

double bf16_matmul_tflop_per_s() {
    const std::int64_t n = 8192;
    const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
    const torch::Tensor a = torch::randn({n, n}, bf16), b = torch::randn({n, n}, bf16);
    torch::Tensor c = torch::empty({n, n}, bf16);
    const double ms = median_ms([&](int) { torch::mm_out(c, a, b); }, 20);
    return 2.0 * n * n * n / (ms * 1e-3) / 1e12;
}

} // namespace glm4v::bench
