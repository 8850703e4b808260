#pragma once
// Device helpers shared by the NF4 kernels.

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/kernel_timeline.h"
#include "engine/quant/nf4_code.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <vector>

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

// The kernel timeline (kernel_timeline.h), compiled in only with GLM4V_KERNEL_TIMELINE: thread 0 of each block notes
// the global timer when the block starts, when its wait on the previous kernel returns and when it ends.
#ifdef GLM4V_KERNEL_TIMELINE
namespace { // one copy per translation unit: the kernels are built without relocatable device code
__device__ KernelTimeline g_kernel_timeline;
}

__device__ __forceinline__ std::uint64_t global_timer_ns() {
    std::uint64_t t;
    asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t));
    return t;
}

// The block's moments between its start and end (KernelSpan), written and read by thread 0 only.
struct BlockStamps {
    std::uint64_t waited, staged, summed;
};
__device__ __forceinline__ BlockStamps& block_stamps() {
    __shared__ BlockStamps stamps;
    return stamps;
}

// The block's place in the record is taken when it starts, so that the atomic's round trip overlaps the block's work:
// taken at its end, it delayed the block's exit, and that build's token took 7% longer (docs/performance.md).
class KernelSpanRecorder {
  public:
    __device__ KernelSpanRecorder(SpanKind kind, std::uint32_t a, std::uint32_t b)
        : kind_(static_cast<std::uint32_t>(kind)), a_(a), b_(b) {
        if (threadIdx.x != 0 || g_kernel_timeline.spans == nullptr) return;
        start_ = global_timer_ns();
        at_ = atomicAdd(g_kernel_timeline.count, 1u);
        block_stamps() = {};
    }
    __device__ ~KernelSpanRecorder() {
        if (threadIdx.x != 0 || g_kernel_timeline.spans == nullptr || at_ >= g_kernel_timeline.capacity) return;
        const std::uint64_t end = global_timer_ns();
        std::uint32_t sm;
        asm volatile("mov.u32 %0, %smid;" : "=r"(sm));
        const BlockStamps& stamps = block_stamps();
        g_kernel_timeline.spans[at_] = {kind_, a_, b_, blockIdx.y * gridDim.x + blockIdx.x, gridDim.x * gridDim.y, sm,
                                        start_, stamps.waited, stamps.staged, stamps.summed, end};
    }

  private:
    std::uint32_t kind_, a_, b_, at_ = 0;
    std::uint64_t start_ = 0;
};
#define GLM4V_KERNEL_SPAN(kind, a, b) const KernelSpanRecorder glm4v_kernel_span((kind), (a), (b))
// Notes the global timer as the block's `moment` (a BlockStamps field) when thread 0 passes here.
#define GLM4V_KERNEL_STAMP(moment)                                                                                     \
    do {                                                                                                               \
        if (threadIdx.x == 0) block_stamps().moment = global_timer_ns();                                               \
    } while (0)
#define GLM4V_KERNEL_TIMELINE_ATTACH(name)                                                                             \
    void name(const KernelTimeline& timeline) {                                                                       \
        GLM4V_CUDA_CHECK(cudaMemcpyToSymbol(g_kernel_timeline, &timeline, sizeof timeline));                          \
    }
#else
#define GLM4V_KERNEL_SPAN(kind, a, b) ((void)0)
#define GLM4V_KERNEL_STAMP(moment) ((void)0)
#define GLM4V_KERNEL_TIMELINE_ATTACH(name)
#endif

__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
    GLM4V_KERNEL_STAMP(waited);
}

// An attribute of the current device, asked of the driver once per (device, attribute) and thread: eager prefill
// launches thousands of kernels, and a driver query each was CPU time on its critical path.
inline int current_device_attribute(cudaDeviceAttr attribute) {
    struct Known {
        int device;
        cudaDeviceAttr attribute;
        int value;
    };
    static thread_local std::vector<Known> known;
    int device = 0;
    GLM4V_CUDA_CHECK(cudaGetDevice(&device));
    for (const Known& k : known)
        if (k.device == device && k.attribute == attribute) return k.value;
    int value = 0;
    GLM4V_CUDA_CHECK(cudaDeviceGetAttribute(&value, attribute, device));
    known.push_back({device, attribute, value});
    return value;
}

inline bool device_has_pdl() { return current_device_attribute(cudaDevAttrComputeCapabilityMajor) >= 9; }

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

// D += A B on the tensor cores: mma.m16n8k16 with fp32 accumulators, A row-major 16 x 16, B col-major 16 x 8.
template <typename T> struct Mma;

template <> struct Mma<__nv_bfloat16> {
    __device__ __forceinline__ static void run(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                               std::uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <> struct Mma<__half> {
    __device__ __forceinline__ static void run(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                               std::uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

__device__ __forceinline__ std::uint32_t shared_address(const void* p) {
    return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// Copies to shared memory that bypass the registers (sm_80+): 16 bytes of weights, not kept in L1, and 4 of absmax.
// The destination as a shared-window address lets the compiler keep a block-wide base in a uniform register.
__device__ __forceinline__ void cp_async16(std::uint32_t dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src) { cp_async16(shared_address(dst), src); }
__device__ __forceinline__ void cp_async4(std::uint32_t dst, const void* src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src));
}
// 16 bytes, of which the first src_bytes (0 or 16) are read and the rest zero-filled.
__device__ __forceinline__ void cp_async16_zfill(void* dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int kPending> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

// Activation math shared by the GEMV's prologue and epilogue and the prefill's row kernels, rounded where the
// reference rounds. SwiGLU of a gate and an up value that are values of T (model::swiglu: silu rounded to T, then the
// product, which the caller rounds).
template <typename T> __device__ __forceinline__ float swiglu1(float gate, float up) {
    return Act<T>::to_float(Act<T>::from_float(gate / (1.0f + expf(-gate)))) * up;
}

// SwiGLU of 8 gate and 8 up values, rounded.
template <typename T> __device__ __forceinline__ uint4 swiglu8(uint4 gate, uint4 up) {
    const std::uint32_t gw[4] = {gate.x, gate.y, gate.z, gate.w}, uw[4] = {up.x, up.y, up.z, up.w};
    std::uint32_t o[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const float2 g = Act<T>::pair(gw[k]), u = Act<T>::pair(uw[k]);
        o[k] = Act<T>::pack(swiglu1<T>(g.x, u.x), swiglu1<T>(g.y, u.y));
    }
    return make_uint4(o[0], o[1], o[2], o[3]);
}

// sum + the squares of 8 values.
template <typename T> __device__ __forceinline__ float add_squares8(uint4 v, float sum) {
    const std::uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const float2 p = Act<T>::pair(w[k]);
        sum = fmaf(p.x, p.x, fmaf(p.y, p.y, sum));
    }
    return sum;
}

// RMSNorm's output for 8 values (model::rms_norm: fp32 products, one rounding).
template <typename T> __device__ __forceinline__ uint4 rms_scale8(uint4 x, uint4 weight, float inv_rms) {
    const std::uint32_t xw[4] = {x.x, x.y, x.z, x.w}, ww[4] = {weight.x, weight.y, weight.z, weight.w};
    std::uint32_t o[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const float2 xf = Act<T>::pair(xw[k]), wf = Act<T>::pair(ww[k]);
        o[k] = Act<T>::pack(wf.x * (xf.x * inv_rms), wf.y * (xf.y * inv_rms));
    }
    return make_uint4(o[0], o[1], o[2], o[3]);
}

} // namespace glm4v::engine::cuda
