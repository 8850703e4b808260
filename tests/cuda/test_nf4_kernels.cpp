// The NF4 CUDA kernels against the CPU reference (engine/quant/nf4.cpp), on every linear-layer shape of
// GLM-4V-9B. A GPU executable: exits 77 (CTest: skipped) without a CUDA device.
// libtorch first: its glog-style CHECK(cond) would otherwise replace Catch's and abort on failure.
#include <torch/types.h>
#undef CHECK
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "engine/cuda/nf4_kernels.h"
#include "engine/cuda/nf4_ops.h"
#include "engine/error.h"
#include "engine/model/layers.h"
#include "engine/quant/linear.h"
#include "engine/quant/nf4.h"
#include "engine/quant/nf4_on_device.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>

namespace quant = glm4v::engine::quant;
namespace kernels = glm4v::engine::cuda;
namespace model = glm4v::engine::model;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;

namespace {

struct Shape {
    const char* name;
    std::int64_t out, in;
};

// Every linear layer of the model (DESIGN.md section 2); repeats (projector 4096->4096, 13696->4096) listed once.
const Shape kModelShapes[] = {
    {"language qkv", 4608, 4096},       {"language dense", 4096, 4096},   {"language h_to_4h", 27392, 4096},
    {"language 4h_to_h", 4096, 13696},  {"output layer", 151552, 4096},   {"vision qkv", 5376, 1792},
    {"vision dense", 1792, 1792},       {"vision fc1", 15360, 1792},      {"vision fc2", 1792, 15360},
    {"projector h_to_4h", 13696, 4096},
};

// A valid NF4 weight straight from random bytes and scales (any byte is two valid codes): no fp32 copy of the
// 151552 x 4096 weight needed.
quant::Nf4Weight random_weight(std::int64_t out, std::int64_t in, std::int64_t blocksize = 64) {
    quant::Nf4Weight w;
    w.out_features = out;
    w.in_features = in;
    w.blocksize = blocksize;
    w.packed = torch::randint(0, 256, {out * in / 2}, torch::kUInt8);
    w.absmax = torch::rand({w.blocks()}) * 0.05 + 0.005;
    return w;
}

// y_ref [rows, out] in fp64: x (as given, widened) times the exact fp32 dequantized weight.
torch::Tensor reference_gemv(const torch::Tensor& x, const quant::Nf4Weight& w, const torch::Tensor& bias) {
    const torch::Tensor xf = x.to(torch::kCPU, torch::kFloat64).contiguous();
    const std::int64_t rows = xf.size(0), in = w.in_features;
    torch::Tensor y = torch::zeros({rows, w.out_features}, torch::kFloat64);
    const std::uint8_t* packed = w.packed.data_ptr<std::uint8_t>();
    const float* absmax = w.absmax.data_ptr<float>();
    const double* xp = xf.data_ptr<double>();
    double* yp = y.data_ptr<double>();
    at::parallel_for(0, w.out_features, 64, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> row(in);
        for (std::int64_t o = begin; o < end; ++o) {
            quant::nf4_dequantize_f32(packed + o * in / 2, absmax + o * in / w.blocksize, in, w.blocksize, row.data());
            for (std::int64_t m = 0; m < rows; ++m) {
                double s = 0.0;
                for (std::int64_t k = 0; k < in; ++k) s += xp[m * in + k] * row[k];
                yp[m * w.out_features + o] = s;
            }
        }
    });
    if (bias.defined()) y += bias.to(torch::kCPU, torch::kFloat64);
    return y;
}

double relative_error(const torch::Tensor& out, const torch::Tensor& ref) {
    const torch::Tensor o = out.to(torch::kCPU, torch::kFloat64), r = ref.to(torch::kCPU, torch::kFloat64);
    REQUIRE(o.sizes() == r.sizes());
    REQUIRE(torch::isfinite(o).all().item<bool>());
    return (o - r).norm().item<double>() / r.norm().item<double>();
}

void report(const std::string& what, double err) { std::printf("  %-60s rel err %.3e\n", what.c_str(), err); }

} // namespace

int main(int argc, char** argv) {
    if (!torch::cuda::is_available()) {
        std::puts("no CUDA device: the NF4 kernel tests are skipped");
        return 77;
    }
    return Catch::Session().run(argc, argv);
}

TEST_CASE("the NF4 GEMV matches the CPU reference on every model shape", "[cuda][nf4][gemv]") {
    torch::manual_seed(11);
    const torch::Device cuda(torch::kCUDA);
    for (const Shape& s : kModelShapes) {
        const quant::Nf4Weight cpu = random_weight(s.out, s.in);
        const quant::Nf4Weight gpu = cpu.to(cuda);
        REQUIRE(kernels::nf4_gemv_supports(gpu));
        const torch::Tensor bias = torch::randn({s.out}) * 0.1;
        for (const std::int64_t rows : {1, 3, 8}) {
            for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
                // fp16 only on the cheaper shapes: it shares the code path, not the conversions.
                if (dtype == torch::kFloat16 && (rows != 1 || s.out * s.in > 64ll * 1024 * 1024)) continue;
                const torch::Tensor x = torch::randn({rows, s.in}).to(dtype);
                kernels::Nf4GemvOptions options;
                if (rows == 3) options.bias = bias.to(dtype).to(cuda);
                const torch::Tensor ref = reference_gemv(x, cpu, options.bias);
                const std::string what = std::string(s.name) + " [" + std::to_string(s.out) + "x" + std::to_string(s.in) +
                                         "] rows " + std::to_string(rows) + (dtype == torch::kBFloat16 ? " bf16" : " fp16") +
                                         (options.bias.defined() ? " +bias" : "");
                INFO(what);
                const torch::Tensor y = kernels::nf4_gemv(x.to(cuda), gpu, options);
                REQUIRE(y.scalar_type() == dtype);
                const double err = relative_error(y, ref);
                report("gemv " + what, err);
                CHECK(err < 1e-2);
            }
        }
    }
}

TEST_CASE("an NF4 GEMV whose k is split over blocks is exact and deterministic", "[cuda][nf4][gemv][split]") {
    // Few output rows (63 stripes, the last one partial) and a long k, split in 4 parts whatever the launch plan
    // would pick; the parts meet in a workspace. Every run must give the same bits, whichever part finishes last,
    // and the arrival counters must be back at zero for the next GEMV (a different weight, split as the plan picks).
    torch::manual_seed(16);
    const torch::Device cuda(torch::kCUDA);
    struct Reset {
        ~Reset() { kernels::nf4_gemv_force_splits(0); }
    } reset;
    const quant::Nf4Weight cpu = random_weight(1000, 8192, 128);
    const quant::Nf4Weight gpu = cpu.to(cuda);
    const quant::Nf4Weight other = random_weight(1792, 15360).to(cuda);
    for (const std::int64_t rows : {1, 5}) {
        const torch::Tensor x = torch::randn({rows, 8192}).to(torch::kBFloat16);
        const torch::Tensor ref = reference_gemv(x, cpu, torch::Tensor());
        kernels::nf4_gemv_force_splits(4);
        const torch::Tensor first = kernels::nf4_gemv(x.to(cuda), gpu);
        const double err = relative_error(first, ref);
        report("split-k gemv [1000x8192] blocksize 128 rows " + std::to_string(rows), err);
        CHECK(err < 1e-2);
        for (int run = 0; run < 20; ++run) {
            kernels::nf4_gemv_force_splits(0);
            kernels::nf4_gemv(torch::randn({rows, 15360}).to(torch::kBFloat16).to(cuda), other);
            kernels::nf4_gemv_force_splits(4);
            CHECK(torch::equal(kernels::nf4_gemv(x.to(cuda), gpu), first));
        }
    }
    // One absmax a step, in parts of 43 steps: a part's stages start at odd steps, and its last stage has an odd
    // count, which the absmax copies and the steps of a stage must both stop at.
    const quant::Nf4Weight odd = random_weight(1000, 8192);
    const torch::Tensor x = torch::randn({3, 8192}).to(torch::kBFloat16);
    kernels::nf4_gemv_force_splits(3);
    const double err =
        relative_error(kernels::nf4_gemv(x.to(cuda), odd.to(cuda)), reference_gemv(x, odd, torch::Tensor()));
    report("split-k gemv [1000x8192] blocksize 64 in parts of 43 steps rows 3", err);
    CHECK(err < 1e-2);
}

TEST_CASE("on a card with 99 KB of shared memory the NF4 GEMV takes fewer rows a launch, or leaves the layer to a "
          "matmul", "[cuda][nf4][gemv][room]") {
    // A GeForce RTX 30 or 40 allows a block 99 KB, not the 227 KB of an H100. The kernel must ask only for what the
    // card allows: x' of qkv fits 2 rows a launch there, and 4h_to_h's 13696 inputs do not fit at all, so
    // quant::Linear dequantizes for it instead.
    torch::manual_seed(17);
    const torch::Device cuda(torch::kCUDA);
    struct Reset {
        ~Reset() { kernels::nf4_gemv_limit_shared_memory(0); }
    } reset;
    kernels::nf4_gemv_limit_shared_memory(99 * 1024);
    const quant::Nf4Weight qkv_cpu = random_weight(4608, 4096);
    const quant::Nf4Weight qkv = qkv_cpu.to(cuda);
    CHECK(kernels::nf4_gemv_supports(qkv));
    for (const std::int64_t rows : {1, 8}) {
        const torch::Tensor x = torch::randn({rows, 4096}).to(torch::kBFloat16);
        const torch::Tensor norm_weight = (torch::rand({4096}) + 0.5).to(torch::kBFloat16);
        kernels::Nf4GemvOptions o;
        o.input = kernels::Nf4GemvOptions::Input::RmsNorm;
        o.norm_weight = norm_weight.to(cuda);
        o.eps = 1e-5;
        const double err = relative_error(kernels::nf4_gemv(x.to(cuda), qkv, o),
                                          reference_gemv(model::rms_norm(x, norm_weight, 1e-5), qkv_cpu, torch::Tensor()));
        report("gemv qkv after RMSNorm in 99 KB, rows " + std::to_string(rows), err);
        CHECK(err < 1e-2);
    }
    const quant::Nf4Weight down_cpu = random_weight(4096, 13696);
    const quant::Nf4Weight down = down_cpu.to(cuda);
    CHECK_FALSE(kernels::nf4_gemv_supports(down));
    const torch::Tensor x = torch::randn({1, 13696}).to(torch::kBFloat16);
    const double err = relative_error(quant::Linear::nf4(down).forward(x.to(cuda)), reference_gemv(x, down_cpu, torch::Tensor()));
    report("Linear::forward 4h_to_h in 99 KB (dequantize + matmul)", err);
    CHECK(err < 1e-2);
    kernels::nf4_gemv_limit_shared_memory(0);
    CHECK(kernels::nf4_gemv_supports(down));
}

TEST_CASE("the NF4 GEMV's RMSNorm prologue, residual epilogue and SwiGLU output match the model's ops",
          "[cuda][nf4][gemv][fused]") {
    torch::manual_seed(15);
    const torch::Device cuda(torch::kCUDA);
    using Input = kernels::Nf4GemvOptions::Input;
    struct Reset {
        ~Reset() { kernels::nf4_gemv_force_splits(0); }
    } reset;
    struct Case {
        const char* name;
        std::int64_t out, in;
        Input input;
        bool swiglu;     // the result is model::swiglu of the product, in place of a residual add
        int splits = 0;  // forced parts of k (0: the launch plan's)
    };
    const Case cases[] = {{"qkv after RMSNorm", 4608, 4096, Input::RmsNorm, false},
                          {"h_to_4h after RMSNorm", 27392, 4096, Input::RmsNorm, false},
                          {"h_to_4h after RMSNorm, SwiGLU out", 27392, 4096, Input::RmsNorm, true},
                          {"h_to_4h after RMSNorm, SwiGLU out, k in 3 parts", 27392, 4096, Input::RmsNorm, true, 3},
                          {"4h_to_h", 4096, 13696, Input::Plain, false},
                          {"output layer after RMSNorm", 151552, 4096, Input::RmsNorm, false}};
    for (const Case& c : cases) {
        const quant::Nf4Weight cpu = random_weight(c.out, c.in);
        const quant::Nf4Weight gpu = cpu.to(cuda);
        kernels::nf4_gemv_force_splits(c.splits);
        for (const std::int64_t rows : {1, 3, 8}) {
            for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
                if (dtype == torch::kFloat16 && rows != 3) continue;
                const std::string what = std::string(c.name) + " rows " + std::to_string(rows) +
                                         (dtype == torch::kBFloat16 ? " bf16" : " fp16");
                INFO(what);
                const auto on = torch::TensorOptions().dtype(dtype);
                const torch::Tensor x = torch::randn({rows, c.in}, on) * 2;
                const torch::Tensor norm_weight = (torch::rand({c.in}) + 0.5).to(dtype);
                const torch::Tensor bias = (torch::randn({c.out}) * 0.1).to(dtype);
                const torch::Tensor residual = torch::randn({rows, c.out}, on); // added unless the output is SwiGLU's
                // The reference: the model's own ops on the CPU in the same dtype, then an exact product.
                const torch::Tensor x_ref = c.input == Input::RmsNorm ? model::rms_norm(x, norm_weight, 1e-5) : x;
                const torch::Tensor lin = (reference_gemv(x_ref, cpu, bias)).to(dtype);
                const torch::Tensor ref = c.swiglu ? model::swiglu(lin).to(torch::kFloat64)
                                                   : residual.to(torch::kFloat64) + lin.to(torch::kFloat64);

                kernels::Nf4GemvOptions o;
                o.input = c.input;
                if (c.input == Input::RmsNorm) o.norm_weight = norm_weight.to(cuda);
                o.eps = 1e-5;
                o.bias = bias.to(cuda);
                o.swiglu_output = c.swiglu;
                if (!c.swiglu) o.residual = residual.to(cuda);
                o.out = c.swiglu ? torch::empty({rows, c.out / 2}, on.device(cuda)) : o.residual; // in place, as decode
                const torch::Tensor y = kernels::nf4_gemv(x.to(cuda), gpu, o);
                CHECK(y.data_ptr() == o.out.data_ptr());
                const double err = relative_error(y, ref);
                report("fused gemv " + what, err);
                CHECK(err < 1e-2);

                // The prologue and the SwiGLU alone: the same GEMV fed the reference's x', and the model's SwiGLU of
                // its product, differ by the odd rounding step at most.
                kernels::Nf4GemvOptions plain;
                plain.bias = o.bias;
                const torch::Tensor product = kernels::nf4_gemv(x_ref.to(cuda), gpu, plain);
                const torch::Tensor from_ref = c.swiglu ? model::swiglu(product) : product;
                const torch::Tensor fused = kernels::nf4_gemv(x.to(cuda), gpu, [&] {
                    kernels::Nf4GemvOptions f = o;
                    f.residual = f.out = torch::Tensor();
                    return f;
                }());
                const double fused_err = relative_error(fused, from_ref);
                report("  prologue and SwiGLU alone " + what, fused_err);
                CHECK(fused_err < 2e-3);
            }
        }
    }
}

TEST_CASE("the NF4 dequantize kernel is bit-identical to the CPU reference on every model shape",
          "[cuda][nf4][dequant]") {
    torch::manual_seed(12);
    const torch::Device cuda(torch::kCUDA);
    for (const Shape& s : kModelShapes) {
        const quant::Nf4Weight cpu = random_weight(s.out, s.in, s.out == 1792 ? 128 : 64);
        const quant::Nf4Weight gpu = cpu.to(cuda);
        for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
            if (dtype == torch::kFloat16 && s.out * s.in > 64ll * 1024 * 1024) continue;
            INFO(s.name << " [" << s.out << "x" << s.in << "] " << dtype);
            const torch::Tensor got = kernels::nf4_dequantize(gpu, dtype).cpu();
            const torch::Tensor want = quant::nf4_dequantize(cpu, dtype);
            REQUIRE(got.sizes() == want.sizes());
            const std::int64_t differ =
                got.view(torch::kInt16).ne(want.view(torch::kInt16)).sum().item<std::int64_t>();
            std::printf("  dequant %-40s %-9s %lld of %lld elements differ\n", s.name,
                        dtype == torch::kBFloat16 ? "bf16" : "fp16", static_cast<long long>(differ),
                        static_cast<long long>(got.numel()));
            CHECK(differ == 0);
        }
    }
}

TEST_CASE("the NF4 quantize kernel is bit-identical to the CPU reference", "[cuda][nf4][quantize]") {
    torch::manual_seed(14);
    const torch::Device cuda(torch::kCUDA);
    struct Case {
        const char* name;
        std::int64_t out, in, blocksize;
        torch::ScalarType dtype;
    };
    // Model shapes in the checkpoints' dtypes, plus a short tail block and an odd element count (bnb's special
    // cases: division instead of a reciprocal, clamped absmax, the pad nibble), and an all-zero block.
    const Case cases[] = {{"language qkv", 4608, 4096, 64, torch::kBFloat16},
                          {"vision fc2", 1792, 15360, 64, torch::kBFloat16},
                          {"language 4h_to_h", 4096, 13696, 64, torch::kFloat16},
                          {"projector", 1024, 4096, 128, torch::kFloat32},
                          {"tail block", 7, 100, 64, torch::kFloat32},
                          {"odd count", 3, 33, 32, torch::kFloat32}};
    for (const Case& c : cases) {
        INFO(c.name << " [" << c.out << "x" << c.in << "] blocksize " << c.blocksize << " " << c.dtype);
        torch::Tensor w = (torch::randn({c.out, c.in}) * 0.02).to(c.dtype);
        if (c.out * c.in >= 128) w.view(-1).narrow(0, 0, 64).zero_(); // a block of zeros: absmax 0, every code 7
        const quant::Nf4Weight want = quant::nf4_quantize(w, c.blocksize);
        const quant::Nf4Weight got = kernels::nf4_quantize(w.to(cuda), c.blocksize);
        REQUIRE(got.packed.sizes() == want.packed.sizes());
        REQUIRE(got.absmax.sizes() == want.absmax.sizes());
        const std::int64_t bytes_differ = got.packed.cpu().ne(want.packed).sum().item<std::int64_t>();
        const std::int64_t scales_differ =
            got.absmax.cpu().view(torch::kInt32).ne(want.absmax.view(torch::kInt32)).sum().item<std::int64_t>();
        std::printf("  quantize %-40s %lld of %lld bytes, %lld of %lld scales differ\n", c.name,
                    static_cast<long long>(bytes_differ), static_cast<long long>(want.packed.numel()),
                    static_cast<long long>(scales_differ), static_cast<long long>(want.absmax.numel()));
        CHECK(bytes_differ == 0);
        CHECK(scales_differ == 0);
        CHECK(got.dtype == c.dtype);
    }
    // Loading quantizes big weights in row chunks straight from host memory: the same bits as one piece.
    const torch::Tensor big = (torch::randn({20000, 4096}) * 0.02).to(torch::kBFloat16);
    const quant::Nf4Weight whole = quant::nf4_quantize(big);
    const quant::Nf4Weight chunked = quant::nf4_quantize_on(big, cuda);
    CHECK(chunked.device().is_cuda());
    CHECK(torch::equal(chunked.packed.cpu(), whole.packed));
    CHECK(torch::equal(chunked.absmax.cpu(), whole.absmax));
    CHECK(chunked.out_features == 20000);
}

TEST_CASE("an NF4 linear on CUDA takes the GEMV for few rows and dequant plus matmul for many", "[cuda][nf4][linear]") {
    torch::manual_seed(13);
    const torch::Device cuda(torch::kCUDA);
    const torch::Tensor w = torch::randn({1000, 1792}) * 0.03;
    const torch::Tensor bias = torch::randn({1000}).to(torch::kBFloat16);
    for (const bool dq : {false, true}) {
        const quant::Nf4Weight q = quant::nf4_quantize(w, 64, dq);
        const quant::Linear cpu = quant::Linear::nf4(q, bias.to(torch::kFloat32));
        const quant::Linear gpu = quant::Linear::nf4(q.to(cuda), bias.to(cuda));
        CHECK_FALSE(gpu.nf4_weight().double_quant()); // expanded once for the kernels
        for (const std::int64_t tokens : {1, 5, 8, 9, 300}) {
            INFO("double quant " << dq << ", " << tokens << " tokens");
            const torch::Tensor x = torch::randn({1, tokens, 1792});
            const torch::Tensor ref = cpu.forward(x.to(torch::kFloat64).to(torch::kFloat32));
            const torch::Tensor y = gpu.forward(x.to(torch::kBFloat16).to(cuda));
            REQUIRE(y.sizes() == torch::IntArrayRef({1, tokens, 1000}));
            const double err = relative_error(y, ref);
            report("Linear::forward " + std::to_string(tokens) + " tokens" + (dq ? " (double quant)" : ""), err);
            CHECK(err < 1e-2);
        }
    }
    // A geometry the GEMV does not take (in % 64 != 0): one token still works, through dequantize and a matmul.
    const quant::Nf4Weight odd = quant::nf4_quantize(torch::randn({100, 96}) * 0.03);
    const torch::Tensor x = torch::randn({1, 96});
    const torch::Tensor y = quant::Linear::nf4(odd.to(cuda)).forward(x.to(torch::kBFloat16).to(cuda));
    const double err = relative_error(y, quant::Linear::nf4(odd).forward(x));
    report("Linear::forward 1 token, in_features 96 (no GEMV)", err);
    CHECK(err < 1e-2);
}

TEST_CASE("the NF4 kernels refuse bad inputs with a message", "[cuda][nf4][errors]") {
    const torch::Device cuda(torch::kCUDA);
    const quant::Nf4Weight w = random_weight(64, 256).to(cuda);
    const auto expect_error = [](const std::function<void()>& f, ErrorKind kind, const char* text) {
        try {
            f();
            FAIL("no error for: " << text);
        } catch (const Error& e) {
            CHECK(e.kind() == kind);
            CHECK_THAT(e.what(), Catch::Contains(text));
        }
    };
    const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(cuda);
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, cuda), w); }, ErrorKind::InvalidInput, "bf16 or fp16");
    expect_error([&] { kernels::nf4_gemv(torch::randn({9, 256}, bf16), w); }, ErrorKind::InvalidInput, "[1..8, 256]");
    expect_error([&] { kernels::nf4_gemv(torch::randn({2, 512}, bf16).narrow(1, 0, 256), w); },
                 ErrorKind::InvalidInput, "contiguous");
    kernels::Nf4GemvOptions short_bias;
    short_bias.bias = torch::randn({63}, bf16);
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, bf16), w, short_bias); }, ErrorKind::InvalidInput,
                 "bias");
    kernels::Nf4GemvOptions no_norm;
    no_norm.input = kernels::Nf4GemvOptions::Input::RmsNorm;
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, bf16), w, no_norm); }, ErrorKind::InvalidInput,
                 "norm weight");
    kernels::Nf4GemvOptions swiglu_added;
    swiglu_added.swiglu_output = true;
    swiglu_added.residual = torch::randn({1, 64}, bf16);
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, bf16), w, swiglu_added); }, ErrorKind::InvalidInput,
                 "SwiGLU output needs");
    kernels::Nf4GemvOptions swiglu;
    swiglu.swiglu_output = true;
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, bf16), random_weight(56, 256).to(cuda), swiglu); },
                 ErrorKind::InvalidInput, "out_features % 16");
    // A geometry the GEMV does not take (in % 64 != 0) is refused here; quant::Linear dequantizes instead.
    const quant::Nf4Weight narrow = random_weight(64, 96).to(cuda);
    CHECK_FALSE(kernels::nf4_gemv_supports(narrow));
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 96}, bf16), narrow); }, ErrorKind::Unsupported,
                 "in_features % 64");
    const quant::Nf4Weight dq = quant::nf4_quantize(torch::randn({64, 256}), 64, true).to(cuda);
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, bf16), dq); }, ErrorKind::InvalidInput,
                 "nf4_with_f32_absmax");
    expect_error([&] { kernels::nf4_gemv(torch::randn({1, 256}, bf16), random_weight(64, 256)); },
                 ErrorKind::InvalidInput, "cpu");
    expect_error([&] { kernels::nf4_dequantize(w, torch::kFloat32); }, ErrorKind::InvalidInput, "bf16 or fp16");
}
