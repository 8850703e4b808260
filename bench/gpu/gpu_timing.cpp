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

double graph_ms(const std::function<void(int)>& run, int reps) {
    for (int i = 0; i < 3; ++i) run(i); // lazy loading, workspaces
    torch::cuda::synchronize();
    at::cuda::CUDAGraph graph;
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    {
        const c10::cuda::CUDAStreamGuard guard(side);
        graph.capture_begin();
        for (int i = 0; i < reps; ++i) run(i);
        graph.capture_end();
    }
    return median_ms([&](int) { graph.replay(); }, 5) / reps;
}

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
