#pragma once
// GLM4V_CUDA_CHECK(call): throws engine::Error (kind Cuda) naming the call, the CUDA error and the device; the
// Error's where() holds file:line. GLM4V_CUDA_CHECK_LAUNCH() goes after every kernel launch (STYLE.md section 3).

#include "engine/error.h"

#include <cuda_runtime_api.h>

#define GLM4V_CUDA_CHECK(call)                                                                                         \
    do {                                                                                                               \
        const cudaError_t glm4v_cuda_status_ = (call);                                                                 \
        if (glm4v_cuda_status_ != cudaSuccess) {                                                                       \
            int glm4v_cuda_device_ = -1;                                                                               \
            cudaGetDevice(&glm4v_cuda_device_);                                                                        \
            GLM4V_FAIL(::glm4v::engine::ErrorKind::Cuda)                                                               \
                << #call << " failed on device " << glm4v_cuda_device_ << ": " << cudaGetErrorName(glm4v_cuda_status_) \
                << " (" << cudaGetErrorString(glm4v_cuda_status_) << ") at " << __FILE__ << ":" << __LINE__;         \
        }                                                                                                              \
    } while (0)

#define GLM4V_CUDA_CHECK_LAUNCH() GLM4V_CUDA_CHECK(cudaGetLastError())
