#include "engine/quant/nf4.h"

#include "engine/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace glm4v::engine::quant {

// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) as bitsandbytes 0.50 computes it in fp32;
// tests/quant checks every entry against the installed bitsandbytes.
const float kDynamicCode[256] = {
    -0x1.fc66660000000p-1f, -0x1.f533340000000p-1f, -0x1.ee00000000000p-1f, -0x1.e6cccc0000000p-1f,
    -0x1.df999a0000000p-1f, -0x1.d866660000000p-1f, -0x1.d133340000000p-1f, -0x1.ca00000000000p-1f,
    -0x1.c2cccc0000000p-1f, -0x1.bb999a0000000p-1f, -0x1.b466660000000p-1f, -0x1.ad33340000000p-1f,
    -0x1.a600000000000p-1f, -0x1.9ecccc0000000p-1f, -0x1.97999a0000000p-1f, -0x1.9066660000000p-1f,
    -0x1.8933340000000p-1f, -0x1.8200000000000p-1f, -0x1.7acccc0000000p-1f, -0x1.73999a0000000p-1f,
    -0x1.6c66680000000p-1f, -0x1.6533340000000p-1f, -0x1.5e00000000000p-1f, -0x1.56cccc0000000p-1f,
    -0x1.4f999a0000000p-1f, -0x1.4866680000000p-1f, -0x1.4133340000000p-1f, -0x1.3a00000000000p-1f,
    -0x1.32cccc0000000p-1f, -0x1.2b999a0000000p-1f, -0x1.2466680000000p-1f, -0x1.1d33340000000p-1f,
    -0x1.1600000000000p-1f, -0x1.0ecccc0000000p-1f, -0x1.0799980000000p-1f, -0x1.0066660000000p-1f,
    -0x1.f266640000000p-2f, -0x1.e400000000000p-2f, -0x1.d599980000000p-2f, -0x1.c733340000000p-2f,
    -0x1.b8cccc0000000p-2f, -0x1.aa66660000000p-2f, -0x1.9c00000000000p-2f, -0x1.8d99980000000p-2f,
    -0x1.7f33340000000p-2f, -0x1.70cccc0000000p-2f, -0x1.6266660000000p-2f, -0x1.5400000000000p-2f,
    -0x1.4599980000000p-2f, -0x1.3733340000000p-2f, -0x1.28cccc0000000p-2f, -0x1.1a66680000000p-2f,
    -0x1.0c00000000000p-2f, -0x1.fb33320000000p-3f, -0x1.de66660000000p-3f, -0x1.c1999a0000000p-3f,
    -0x1.a4cccc0000000p-3f, -0x1.8800000000000p-3f, -0x1.6b33340000000p-3f, -0x1.4e66660000000p-3f,
    -0x1.31999a0000000p-3f, -0x1.14cccc0000000p-3f, -0x1.f000000000000p-4f, -0x1.b666680000000p-4f,
    -0x1.93d70a0000000p-4f, -0x1.8851ee0000000p-4f, -0x1.7cccce0000000p-4f, -0x1.7147ae0000000p-4f,
    -0x1.65c2900000000p-4f, -0x1.5a3d700000000p-4f, -0x1.4eb8540000000p-4f, -0x1.4333340000000p-4f,
    -0x1.37ae140000000p-4f, -0x1.2c28f60000000p-4f, -0x1.20a3d60000000p-4f, -0x1.151eba0000000p-4f,
    -0x1.09999a0000000p-4f, -0x1.fc28f60000000p-5f, -0x1.e51eba0000000p-5f, -0x1.ce147a0000000p-5f,
    -0x1.b70a3e0000000p-5f, -0x1.a000000000000p-5f, -0x1.88f5c20000000p-5f, -0x1.71eb860000000p-5f,
    -0x1.5ae1460000000p-5f, -0x1.43d70a0000000p-5f, -0x1.2cccce0000000p-5f, -0x1.15c2900000000p-5f,
    -0x1.fd70a40000000p-6f, -0x1.cf5c2a0000000p-6f, -0x1.a147ae0000000p-6f, -0x1.7333340000000p-6f,
    -0x1.451eba0000000p-6f, -0x1.170a3e0000000p-6f, -0x1.d1eb860000000p-7f, -0x1.75c2900000000p-7f,
    -0x1.3e76c80000000p-7f, -0x1.2c08300000000p-7f, -0x1.19999a0000000p-7f, -0x1.072b020000000p-7f,
    -0x1.e978d40000000p-8f, -0x1.c49ba60000000p-8f, -0x1.9fbe760000000p-8f, -0x1.7ae1480000000p-8f,
    -0x1.56041a0000000p-8f, -0x1.3126e80000000p-8f, -0x1.0c49ba0000000p-8f, -0x1.ced9140000000p-9f,
    -0x1.851eb80000000p-9f, -0x1.3b645a0000000p-9f, -0x1.e353f80000000p-10f, -0x1.4fdf3a0000000p-10f,
    -0x1.eecbfe0000000p-11f, -0x1.b3d07c0000000p-11f, -0x1.78d5000000000p-11f, -0x1.3dd9820000000p-11f,
    -0x1.02de020000000p-11f, -0x1.8fc5060000000p-12f, -0x1.19ce0a0000000p-12f, -0x1.47ae160000000p-13f,
    -0x1.743e960000000p-14f, -0x1.15df660000000p-14f, -0x1.6f00680000000p-15f, -0x1.64840c0000000p-16f,
    -0x1.040bfe0000000p-17f, -0x1.b435280000000p-19f, -0x1.27476e0000000p-21f, 0x0.0p+0f,
    0x1.27476e0000000p-21f, 0x1.b435280000000p-19f, 0x1.040bfe0000000p-17f, 0x1.64840c0000000p-16f,
    0x1.6f00680000000p-15f, 0x1.15df660000000p-14f, 0x1.743e960000000p-14f, 0x1.47ae160000000p-13f,
    0x1.19ce0a0000000p-12f, 0x1.8fc5060000000p-12f, 0x1.02de020000000p-11f, 0x1.3dd9820000000p-11f,
    0x1.78d5000000000p-11f, 0x1.b3d07c0000000p-11f, 0x1.eecbfe0000000p-11f, 0x1.4fdf3a0000000p-10f,
    0x1.e353f80000000p-10f, 0x1.3b645a0000000p-9f, 0x1.851eb80000000p-9f, 0x1.ced9140000000p-9f,
    0x1.0c49ba0000000p-8f, 0x1.3126e80000000p-8f, 0x1.56041a0000000p-8f, 0x1.7ae1480000000p-8f,
    0x1.9fbe760000000p-8f, 0x1.c49ba60000000p-8f, 0x1.e978d40000000p-8f, 0x1.072b020000000p-7f,
    0x1.19999a0000000p-7f, 0x1.2c08300000000p-7f, 0x1.3e76c80000000p-7f, 0x1.75c2900000000p-7f,
    0x1.d1eb860000000p-7f, 0x1.170a3e0000000p-6f, 0x1.451eba0000000p-6f, 0x1.7333340000000p-6f,
    0x1.a147ae0000000p-6f, 0x1.cf5c2a0000000p-6f, 0x1.fd70a40000000p-6f, 0x1.15c2900000000p-5f,
    0x1.2cccce0000000p-5f, 0x1.43d70a0000000p-5f, 0x1.5ae1460000000p-5f, 0x1.71eb860000000p-5f,
    0x1.88f5c20000000p-5f, 0x1.a000000000000p-5f, 0x1.b70a3e0000000p-5f, 0x1.ce147a0000000p-5f,
    0x1.e51eba0000000p-5f, 0x1.fc28f60000000p-5f, 0x1.09999a0000000p-4f, 0x1.151eba0000000p-4f,
    0x1.20a3d60000000p-4f, 0x1.2c28f60000000p-4f, 0x1.37ae140000000p-4f, 0x1.4333340000000p-4f,
    0x1.4eb8540000000p-4f, 0x1.5a3d700000000p-4f, 0x1.65c2900000000p-4f, 0x1.7147ae0000000p-4f,
    0x1.7cccce0000000p-4f, 0x1.8851ee0000000p-4f, 0x1.93d70a0000000p-4f, 0x1.b666680000000p-4f,
    0x1.f000000000000p-4f, 0x1.14cccc0000000p-3f, 0x1.31999a0000000p-3f, 0x1.4e66660000000p-3f,
    0x1.6b33340000000p-3f, 0x1.8800000000000p-3f, 0x1.a4cccc0000000p-3f, 0x1.c1999a0000000p-3f,
    0x1.de66660000000p-3f, 0x1.fb33320000000p-3f, 0x1.0c00000000000p-2f, 0x1.1a66680000000p-2f,
    0x1.28cccc0000000p-2f, 0x1.3733340000000p-2f, 0x1.4599980000000p-2f, 0x1.5400000000000p-2f,
    0x1.6266660000000p-2f, 0x1.70cccc0000000p-2f, 0x1.7f33340000000p-2f, 0x1.8d99980000000p-2f,
    0x1.9c00000000000p-2f, 0x1.aa66660000000p-2f, 0x1.b8cccc0000000p-2f, 0x1.c733340000000p-2f,
    0x1.d599980000000p-2f, 0x1.e400000000000p-2f, 0x1.f266640000000p-2f, 0x1.0066660000000p-1f,
    0x1.0799980000000p-1f, 0x1.0ecccc0000000p-1f, 0x1.1600000000000p-1f, 0x1.1d33340000000p-1f,
    0x1.2466680000000p-1f, 0x1.2b999a0000000p-1f, 0x1.32cccc0000000p-1f, 0x1.3a00000000000p-1f,
    0x1.4133340000000p-1f, 0x1.4866680000000p-1f, 0x1.4f999a0000000p-1f, 0x1.56cccc0000000p-1f,
    0x1.5e00000000000p-1f, 0x1.6533340000000p-1f, 0x1.6c66680000000p-1f, 0x1.73999a0000000p-1f,
    0x1.7acccc0000000p-1f, 0x1.8200000000000p-1f, 0x1.8933340000000p-1f, 0x1.9066660000000p-1f,
    0x1.97999a0000000p-1f, 0x1.9ecccc0000000p-1f, 0x1.a600000000000p-1f, 0x1.ad33340000000p-1f,
    0x1.b466660000000p-1f, 0x1.bb999a0000000p-1f, 0x1.c2cccc0000000p-1f, 0x1.ca00000000000p-1f,
    0x1.d133340000000p-1f, 0x1.d866660000000p-1f, 0x1.df999a0000000p-1f, 0x1.e6cccc0000000p-1f,
    0x1.ee00000000000p-1f, 0x1.f533340000000p-1f, 0x1.fc66660000000p-1f, 0x1.0000000000000p+0f,
};

namespace {

float bits_to_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

std::uint32_t float_to_bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// Code-book midpoints in fp32, as bnb's (code[:-1] + code[1:]) / 2.
struct Nf4Bounds {
    float mid[15];
    Nf4Bounds() {
        for (int i = 0; i < 15; ++i) mid[i] = (kNf4Code[i] + kNf4Code[i + 1]) / 2.0f;
    }
};

std::uint8_t nf4_code_of(float scaled, const Nf4Bounds& b) {
    // torch.bucketize(right=False): the number of boundaries strictly below the value.
    std::uint8_t q = 0;
    for (int i = 0; i < 15; ++i) q += b.mid[i] < scaled ? 1 : 0;
    return q;
}

float clamp_unit(float v) { return std::min(1.0f, std::max(-1.0f, v)); }

// bnb's 8-bit CPU quantizer: 65536 grid points on [-1, 1], each mapped to its nearest code (ties low).
struct DynamicLut {
    static constexpr int kSize = 65536;
    std::vector<std::uint8_t> code_of_point;
    DynamicLut() : code_of_point(kSize) {
        float mid[255];
        for (int i = 0; i < 255; ++i) mid[i] = 0.5f * (kDynamicCode[i] + kDynamicCode[i + 1]);
        int c = 0;
        for (int i = 0; i < kSize; ++i) {
            const float point = -1.0f + (2.0f * static_cast<float>(i)) / static_cast<float>(kSize - 1);
            while (c < 255 && mid[c] < point) ++c;
            code_of_point[i] = static_cast<std::uint8_t>(c);
        }
    }
    std::uint8_t code_of(float scaled) const {
        const float v = clamp_unit(scaled);
        const float t = (v + 1.0f) * 0.5f * static_cast<float>(kSize - 1) + 0.5f;
        return code_of_point[static_cast<std::uint16_t>(t)];
    }
};

template <typename Store>
void nf4_dequantize_to(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                       Store store) {
    for (std::int64_t i = 0; i < n; ++i) {
        const std::uint8_t byte = packed[i >> 1];
        const int q = (i & 1) ? (byte & 0x0F) : (byte >> 4);
        store(i, kNf4Code[q] * absmax[i / blocksize]);
    }
}

void check_blocksize(std::int64_t blocksize) {
    GLM4V_CHECK(blocksize >= 2 && (blocksize & (blocksize - 1)) == 0, ErrorKind::InvalidInput)
        << "NF4 blocksize must be a power of two, got " << blocksize;
}

} // namespace

std::uint16_t float_to_bf16_bits(float f) {
    const std::uint32_t u = float_to_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u); // quiet NaN
    const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(rounded >> 16);
}

std::uint16_t float_to_f16_bits(float f) {
    const std::uint32_t u = float_to_bits(f);
    const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00u;  // NaN
    if (a >= 0x477FF000u) return sign | 0x7C00u; // 65520 and up round to infinity
    if (a < 0x38800000u) {                       // below 2^-14: a half subnormal (or zero)
        const float scaled = bits_to_float(a) * 16777216.0f; // exact: units of 2^-24
        return sign | static_cast<std::uint16_t>(std::nearbyint(scaled));
    }
    const std::uint32_t rounded = a + 0xFFFu + ((a >> 13) & 1u);
    return sign | static_cast<std::uint16_t>((rounded - 0x38000000u) >> 13);
}

void nf4_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* packed, float* absmax) {
    check_blocksize(blocksize);
    static const Nf4Bounds bounds;
    const float tiny = static_cast<float>(1e-38); // bnb's clamp(min=1e-38), a float32 subnormal
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(blocksize));
    for (std::int64_t start = 0, b = 0; start < n; start += blocksize, ++b) {
        const std::int64_t len = std::min(blocksize, n - start);
        float amax = 0.0f;
        for (std::int64_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(x[start + i]));
        const bool whole = len == blocksize;
        // Whole blocks multiply by a reciprocal and store the raw max; bnb treats the short tail block with a
        // division and stores the clamped max. Both are kept, as they change codes on rare ties.
        const float safe = std::max(amax, tiny);
        const float inv = 1.0f / safe;
        absmax[b] = whole ? amax : safe;
        for (std::int64_t i = 0; i < len; ++i) {
            const float v = x[start + i];
            codes[i] = nf4_code_of(clamp_unit(whole ? v * inv : v / safe), bounds);
        }
        for (std::int64_t i = 0; i < len; ++i) {
            const std::int64_t e = start + i;
            if (e & 1)
                packed[e >> 1] = static_cast<std::uint8_t>(packed[e >> 1] | codes[i]);
            else
                packed[e >> 1] = static_cast<std::uint8_t>(codes[i] << 4);
        }
    }
    if (n & 1) packed[n >> 1] = static_cast<std::uint8_t>(packed[n >> 1] | 7u); // the pad element is 0.0: code 7
}

void nf4_dequantize_f32(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                        float* out) {
    nf4_dequantize_to(packed, absmax, n, blocksize, [out](std::int64_t i, float v) { out[i] = v; });
}

void nf4_dequantize_bf16(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                         std::uint16_t* out) {
    nf4_dequantize_to(packed, absmax, n, blocksize,
                      [out](std::int64_t i, float v) { out[i] = float_to_bf16_bits(v); });
}

void nf4_dequantize_f16(const std::uint8_t* packed, const float* absmax, std::int64_t n, std::int64_t blocksize,
                        std::uint16_t* out) {
    nf4_dequantize_to(packed, absmax, n, blocksize, [out](std::int64_t i, float v) { out[i] = float_to_f16_bits(v); });
}

void blockwise8_quantize(const float* x, std::int64_t n, std::int64_t blocksize, std::uint8_t* codes, float* absmax) {
    check_blocksize(blocksize);
    static const DynamicLut lut;
    for (std::int64_t start = 0, b = 0; start < n; start += blocksize, ++b) {
        const std::int64_t end = std::min(start + blocksize, n);
        float amax = 0.0f;
        for (std::int64_t i = start; i < end; ++i) amax = std::max(amax, std::fabs(x[i]));
        absmax[b] = amax;
        if (amax == 0.0f) {
            std::fill(codes + start, codes + end, std::uint8_t{0});
            continue;
        }
        const float inv = 1.0f / amax;
        for (std::int64_t i = start; i < end; ++i) codes[i] = lut.code_of(x[i] * inv);
    }
}

void blockwise8_dequantize(const std::uint8_t* codes, const float* absmax, std::int64_t n, std::int64_t blocksize,
                           float offset, float* out) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float v = kDynamicCode[codes[i]] * absmax[i / blocksize];
        out[i] = v + offset;
    }
}

// ---- libtorch ----

Nf4Weight Nf4Weight::to(torch::Device target) const {
    Nf4Weight w = *this;
    w.packed = packed.to(target);
    w.absmax = absmax.to(target);
    if (nested_absmax.defined()) w.nested_absmax = nested_absmax.to(target);
    return w;
}

Nf4Weight nf4_quantize(const torch::Tensor& weight, std::int64_t blocksize, bool double_quant) {
    GLM4V_CHECK(weight.dim() == 2, ErrorKind::InvalidInput) << "nf4_quantize takes a 2-D weight, got " << weight.sizes();
    const auto dtype = weight.scalar_type();
    GLM4V_CHECK(dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16,
                ErrorKind::InvalidInput)
        << "nf4_quantize takes fp32, bf16 or fp16, got " << dtype;
    check_blocksize(blocksize);
    const torch::Tensor x = weight.to(torch::kCPU, torch::kFloat32).contiguous();
    Nf4Weight w;
    w.out_features = weight.size(0);
    w.in_features = weight.size(1);
    w.blocksize = blocksize;
    w.dtype = dtype;
    const std::int64_t n = w.numel();
    w.packed = torch::empty({(n + 1) / 2}, torch::kUInt8);
    torch::Tensor absmax = torch::empty({w.blocks()}, torch::kFloat32);
    nf4_quantize(x.data_ptr<float>(), n, blocksize, w.packed.data_ptr<std::uint8_t>(), absmax.data_ptr<float>());
    if (!double_quant) {
        w.absmax = absmax;
        return w;
    }
    // bnb: offset = absmax.mean() in fp32 (torch's own reduction order, hence torch here), then 8-bit blockwise.
    const torch::Tensor mean = absmax.mean();
    w.nested_offset = mean.item<float>();
    const torch::Tensor centered = (absmax - mean).contiguous();
    const std::int64_t nested_blocks = (w.blocks() + kNf4NestedBlocksize - 1) / kNf4NestedBlocksize;
    w.absmax = torch::empty({w.blocks()}, torch::kUInt8);
    w.nested_absmax = torch::empty({nested_blocks}, torch::kFloat32);
    blockwise8_quantize(centered.data_ptr<float>(), w.blocks(), kNf4NestedBlocksize, w.absmax.data_ptr<std::uint8_t>(),
                        w.nested_absmax.data_ptr<float>());
    return w;
}

void nf4_validate(const Nf4Weight& w, const std::string& what) {
    GLM4V_CHECK(w.out_features > 0 && w.in_features > 0, ErrorKind::ModelCorrupt)
        << what << ": empty shape [" << w.out_features << ", " << w.in_features << "]";
    GLM4V_CHECK(w.blocksize > 0 && (w.blocksize & (w.blocksize - 1)) == 0, ErrorKind::ModelCorrupt)
        << what << ": blocksize " << w.blocksize << " is not a power of two";
    GLM4V_CHECK(w.packed.defined() && w.packed.scalar_type() == torch::kUInt8 && w.packed.is_contiguous() &&
                    w.packed.numel() == (w.numel() + 1) / 2,
                ErrorKind::ModelCorrupt)
        << what << ": packed must be contiguous uint8 of " << (w.numel() + 1) / 2 << " bytes, got "
        << (w.packed.defined() ? w.packed.sizes() : torch::IntArrayRef{});
    const auto absmax_type = w.double_quant() ? torch::kUInt8 : torch::kFloat32;
    GLM4V_CHECK(w.absmax.defined() && w.absmax.scalar_type() == absmax_type && w.absmax.is_contiguous() &&
                    w.absmax.numel() == w.blocks() && w.absmax.device() == w.packed.device(),
                ErrorKind::ModelCorrupt)
        << what << ": absmax must be contiguous " << absmax_type << " of " << w.blocks() << " values beside packed";
    if (w.double_quant()) {
        const std::int64_t nested = (w.blocks() + w.nested_blocksize - 1) / w.nested_blocksize;
        GLM4V_CHECK(w.nested_absmax.scalar_type() == torch::kFloat32 && w.nested_absmax.is_contiguous() &&
                        w.nested_absmax.numel() == nested && w.nested_absmax.device() == w.packed.device(),
                    ErrorKind::ModelCorrupt)
            << what << ": nested absmax must be contiguous fp32 of " << nested << " values";
    }
}

torch::Tensor nf4_absmax_f32(const Nf4Weight& w) {
    nf4_validate(w);
    if (!w.double_quant()) return w.absmax;
    // Two separate fp32 ops (multiply, then add the offset) round exactly as bnb's dequantize does, on any device.
    const auto on = torch::TensorOptions().device(w.absmax.device());
    const torch::Tensor code = torch::from_blob(const_cast<float*>(kDynamicCode), {256}, torch::kFloat32).to(on);
    const torch::Tensor scale =
        w.nested_absmax.repeat_interleave(w.nested_blocksize).narrow(0, 0, w.blocks());
    const torch::Tensor values = code.index_select(0, w.absmax.to(torch::kLong)) * scale;
    return values + w.nested_offset;
}

Nf4Weight nf4_with_f32_absmax(const Nf4Weight& w) {
    Nf4Weight out = w;
    out.absmax = nf4_absmax_f32(w).contiguous();
    out.nested_absmax = torch::Tensor();
    out.nested_offset = 0.0f;
    return out;
}

torch::Tensor nf4_dequantize(const Nf4Weight& w, torch::ScalarType dtype) {
    nf4_validate(w);
    GLM4V_CHECK(w.packed.device().is_cpu(), ErrorKind::InvalidInput)
        << "nf4_dequantize is the CPU reference; the weight is on " << w.packed.device();
    torch::Tensor absmax;
    if (w.double_quant()) {
        absmax = torch::empty({w.blocks()}, torch::kFloat32);
        blockwise8_dequantize(w.absmax.data_ptr<std::uint8_t>(), w.nested_absmax.data_ptr<float>(), w.blocks(),
                              w.nested_blocksize, w.nested_offset, absmax.data_ptr<float>());
    } else {
        absmax = w.absmax;
    }
    const std::uint8_t* packed = w.packed.data_ptr<std::uint8_t>();
    const float* scale = absmax.data_ptr<float>();
    torch::Tensor out = torch::empty({w.out_features, w.in_features}, torch::TensorOptions().dtype(dtype));
    const std::int64_t n = w.numel();
    switch (dtype) {
    case torch::kFloat32:
        nf4_dequantize_f32(packed, scale, n, w.blocksize, out.data_ptr<float>());
        break;
    case torch::kBFloat16:
        nf4_dequantize_bf16(packed, scale, n, w.blocksize, reinterpret_cast<std::uint16_t*>(out.data_ptr()));
        break;
    case torch::kFloat16:
        nf4_dequantize_f16(packed, scale, n, w.blocksize, reinterpret_cast<std::uint16_t*>(out.data_ptr()));
        break;
    default:
        GLM4V_FAIL(ErrorKind::InvalidInput) << "nf4_dequantize returns fp32, bf16 or fp16, not " << dtype;
    }
    return out;
}

} // namespace glm4v::engine::quant
