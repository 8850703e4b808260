#include "engine/cuda/decode_ops.h"

#include "engine/cuda/decode_kernels.h"
#include "engine/error.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace glm4v::engine::cuda {
namespace {

void check_cache(const torch::Tensor& keys, const torch::Tensor& values, const torch::Tensor& row,
                 torch::ScalarType dtype, const torch::Device& device) {
    GLM4V_CHECK(keys.dim() == 3 && keys.sizes() == values.sizes() && keys.is_contiguous() && values.is_contiguous() &&
                    keys.scalar_type() == dtype && values.scalar_type() == dtype && keys.device() == device &&
                    values.device() == device,
                ErrorKind::InvalidInput)
        << "decode attention: keys and values must be contiguous " << dtype << " [groups, capacity, head_dim] on "
        << device << ", got " << keys.sizes() << " and " << values.sizes();
    GLM4V_CHECK(row.numel() == 1 && row.scalar_type() == torch::kInt64 && row.device() == device,
                ErrorKind::InvalidInput)
        << "decode attention: row must be one int64 on " << device;
}

DecodeAttentionArgs args_for(const torch::Tensor& keys, const torch::Tensor& values, const torch::Tensor& row,
                             std::int64_t heads) {
    DecodeAttentionArgs a;
    a.row = row.data_ptr<std::int64_t>();
    a.keys = keys.data_ptr();
    a.values = values.data_ptr();
    a.groups = static_cast<int>(keys.size(0));
    a.capacity = keys.size(1);
    a.head_dim = static_cast<int>(keys.size(2));
    a.heads = static_cast<int>(heads);
    return a;
}

cudaStream_t stream_of(const torch::Tensor& t) { return c10::cuda::getCurrentCUDAStream(t.device().index()).stream(); }

} // namespace

bool decode_attention_supports(std::int64_t heads, std::int64_t groups, std::int64_t head_dim, std::int64_t rotary_dims) {
    return groups > 0 && heads == groups * kDecodeHeadsPerGroup && head_dim == kDecodeHeadDim && rotary_dims % 2 == 0 &&
           rotary_dims > 0 && rotary_dims <= head_dim;
}

torch::Tensor rope_append(const torch::Tensor& qkv, const torch::Tensor& rope_table, const torch::Tensor& row,
                          const torch::Tensor& keys, const torch::Tensor& values, std::int64_t heads) {
    const auto dtype = qkv.scalar_type();
    GLM4V_CHECK(dtype == torch::kBFloat16 || dtype == torch::kFloat16, ErrorKind::InvalidInput)
        << "rope_append: bf16 or fp16, got " << dtype;
    check_cache(keys, values, row, dtype, qkv.device());
    DecodeAttentionArgs a = args_for(keys, values, row, heads);
    GLM4V_CHECK(decode_attention_supports(heads, a.groups, a.head_dim, 2 * rope_table.size(-2)), ErrorKind::Unsupported)
        << "rope_append: " << heads << " heads in " << a.groups << " groups of dim " << a.head_dim
        << " with rotary table " << rope_table.sizes() << " is not a geometry the decode kernels take";
    const std::int64_t token_values = (heads + 2 * a.groups) * a.head_dim;
    GLM4V_CHECK(qkv.dim() == 2 && qkv.size(1) == token_values && qkv.is_contiguous(), ErrorKind::InvalidInput)
        << "rope_append: qkv must be contiguous [tokens, " << token_values << "], got " << qkv.sizes();
    const std::int64_t tokens = qkv.size(0);
    const torch::Tensor table = rope_table.contiguous();
    GLM4V_CHECK(table.scalar_type() == dtype && table.device() == qkv.device() && table.size(-1) == 2 &&
                    table.numel() == tokens * rope_table.size(-2) * 2,
                ErrorKind::InvalidInput)
        << "rope_append: the rope table must be [" << tokens << ", rotary_dims / 2, 2] in " << dtype << ", got "
        << rope_table.sizes() << " " << rope_table.scalar_type();
    a.tokens = static_cast<int>(tokens);
    a.rotary_dims = static_cast<int>(2 * table.size(-2));
    a.qkv = qkv.data_ptr();
    a.rope_table = table.data_ptr();
    const c10::cuda::CUDAGuard guard(qkv.device());
    torch::Tensor q = torch::empty({tokens * heads, a.head_dim}, qkv.options());
    a.q = q.data_ptr();
    if (dtype == torch::kBFloat16)
        launch_rope_append_bf16(a, stream_of(qkv));
    else
        launch_rope_append_fp16(a, stream_of(qkv));
    return q;
}

torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& keys, const torch::Tensor& values,
                               const torch::Tensor& row) {
    const auto dtype = q.scalar_type();
    check_cache(keys, values, row, dtype, q.device());
    DecodeAttentionArgs a = args_for(keys, values, row, q.size(0));
    GLM4V_CHECK(q.dim() == 2 && q.size(1) == a.head_dim && q.is_contiguous() &&
                    decode_attention_supports(a.heads, a.groups, a.head_dim, 2),
                ErrorKind::InvalidInput)
        << "decode_attention: q " << q.sizes() << " against a cache of " << a.groups << " groups of dim " << a.head_dim
        << " is not a geometry the decode kernels take";
    a.q = q.data_ptr();
    const c10::cuda::CUDAGuard guard(q.device());
    torch::Tensor out = torch::empty({1, a.heads * a.head_dim}, q.options());
    a.attention_out = out.data_ptr();
    DecodeAttentionWorkspace ws;
    ws.splits = decode_attention_splits(a.capacity);
    const auto f32 = q.options().dtype(torch::kFloat32);
    const torch::Tensor part_out = torch::empty({a.heads, ws.splits, a.head_dim}, f32);
    const torch::Tensor stats = torch::empty({2, a.heads, ws.splits}, f32);
    ws.out = part_out.data_ptr<float>();
    ws.max = stats[0].data_ptr<float>();
    ws.sum = stats[1].data_ptr<float>();
    if (dtype == torch::kBFloat16)
        launch_decode_attention_bf16(a, ws, stream_of(q));
    else
        launch_decode_attention_fp16(a, ws, stream_of(q));
    return out;
}

} // namespace glm4v::engine::cuda
