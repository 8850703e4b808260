#include "engine/quant/nf4_on_device.h"

#include <algorithm>

#ifdef GLM4V_HAS_CUDA
#include "engine/cuda/nf4_ops.h"
#endif

namespace glm4v::engine::quant {

Nf4Weight nf4_quantize_on(const torch::Tensor& stored, const torch::Device& device) {
#ifdef GLM4V_HAS_CUDA
    if (device.is_cuda()) {
        // Row chunks of about 32 M elements bound what quantizing needs besides the weights (the uploaded
        // chunk and its fp32 copy, under 200 MB): the 151552 x 4096 output layer whole would need 3.7 GB more,
        // enough to fail a first load on an 8 GB card. Chunks hold whole blocks, so the codes are the same.
        const std::int64_t out = stored.size(0), in = stored.size(1);
        std::int64_t rows = std::max<std::int64_t>(1, (std::int64_t{1} << 25) / in);
        if ((rows * in) % kNf4DefaultBlocksize != 0 || rows >= out) return cuda::nf4_quantize(stored.to(device));
        Nf4Weight w;
        for (std::int64_t r0 = 0; r0 < out; r0 += rows) {
            const Nf4Weight part = cuda::nf4_quantize(stored.narrow(0, r0, std::min(rows, out - r0)).to(device));
            if (!w.packed.defined()) {
                w = part;
                w.out_features = out;
                w.packed = torch::empty({(w.numel() + 1) / 2}, part.packed.options());
                w.absmax = torch::empty({w.blocks()}, part.absmax.options());
            }
            w.packed.narrow(0, r0 * in / 2, part.packed.numel()).copy_(part.packed);
            w.absmax.narrow(0, r0 * in / kNf4DefaultBlocksize, part.absmax.numel()).copy_(part.absmax);
        }
        return w;
    }
#endif
    return nf4_quantize(stored).to(device);
}

} // namespace glm4v::engine::quant
