#pragma once
// Device helpers shared by the NF4 kernels.

#include "engine/cuda/cuda_check.h"
#include "engine/quant/nf4_code.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace glm4v::engine::cuda {

// The code book travels as a kernel argument (constant bank), copied to shared memory by each block.
struct Nf4CodeArg {
    float v[16];
};

inline Nf4CodeArg nf4_code_arg() {
    Nf4CodeArg c{};
    for (int i = 0; i < 16; ++i) c.v[i] = quant::kNf4Code[i];
    return c;
}

inline int log2_exact(std::int64_t v) {
    int s = 0;
    while ((std::int64_t{1} << s) < v) ++s;
    return s;
}

// Programmatic dependent launch (sm_90): a kernel launched with launch_after_previous may start while the previous
// kernel in the stream is still running; it does what does not depend on that kernel (table fills, weight loads),
// then waits here until the previous kernel has finished and its writes are visible. Everything that reads the
// previous kernel's output, or writes memory, comes after this. Without the launch attribute (older GPUs) it returns
// at once. Each kernel also lets the next one start early, at its own beginning.
__device__ __forceinline__ void allow_next_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;");
#endif
}
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

inline bool device_has_pdl() {
    int device = 0, major = 0;
    GLM4V_CUDA_CHECK(cudaGetDevice(&device));
    GLM4V_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    return major >= 9;
}

template <typename... KernelArgs, typename... Args>
void launch_after_previous(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                           Args... args) {
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    cudaLaunchAttribute attribute[1];
    attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute[0].val.programmaticStreamSerializationAllowed = 1;
    config.attrs = attribute;
    config.numAttrs = device_has_pdl() ? 1 : 0;
    GLM4V_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, static_cast<KernelArgs>(args)...));
}

// Read-once weight stream: no L1 allocation, so activations stay cached.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

template <typename T> struct Act;

template <> struct Act<__nv_bfloat16> {
    // A packed pair: the element with the lower address is the low half.
    __device__ __forceinline__ static float2 pair(std::uint32_t u) {
        return make_float2(__uint_as_float(u << 16), __uint_as_float(u & 0xFFFF0000u));
    }
    __device__ __forceinline__ static std::uint32_t pack(float lo, float hi) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<const std::uint32_t*>(&h);
    }
    __device__ __forceinline__ static std::uint16_t bits(float f) {
        const __nv_bfloat16 h = __float2bfloat16_rn(f);
        return *reinterpret_cast<const std::uint16_t*>(&h);
    }
    __device__ __forceinline__ static float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
    __device__ __forceinline__ static __nv_bfloat16 from_float(float f) { return __float2bfloat16_rn(f); }
};

template <> struct Act<__half> {
    __device__ __forceinline__ static float2 pair(std::uint32_t u) {
        return __half22float2(*reinterpret_cast<const __half2*>(&u));
    }
    __device__ __forceinline__ static std::uint32_t pack(float lo, float hi) {
        const __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<const std::uint32_t*>(&h);
    }
    __device__ __forceinline__ static std::uint16_t bits(float f) {
        const __half h = __float2half_rn(f);
        return *reinterpret_cast<const std::uint16_t*>(&h);
    }
    __device__ __forceinline__ static float to_float(__half v) { return __half2float(v); }
    __device__ __forceinline__ static __half from_float(float f) { return __float2half_rn(f); }
};

} // namespace glm4v::engine::cuda
