// io::to_tensor: checkpoint views as libtorch tensors, without copying where alignment allows, keeping
// the mapping alive, and never writing through to the file.

// libtorch first: its glog-style CHECK(cond) would otherwise replace Catch's and abort on failure.
#include <torch/types.h>
#undef CHECK
#include <catch2/catch.hpp>

#include "engine/io/safetensors.h"
#include "engine/io/tensor.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::io::Checkpoint;
using glm4v::engine::io::SafetensorsFile;
using glm4v::engine::io::TensorInfo;
using glm4v::engine::io::to_tensor;
using glm4v::test::safetensors_bytes;
using glm4v::test::tensor_entry;
using nlohmann::json;

TEST_CASE("golden tensors become libtorch views of the mapped shard", "[io][tensor][golden]") {
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    for (const fs::path& case_dir : cases) {
        const Checkpoint ck = Checkpoint::open((case_dir / "model").string());
        for (const std::string& name : ck.names()) {
            INFO("tensor " << name);
            const TensorInfo& info = ck.get(name);
            const torch::Tensor t = to_tensor(info);
            CHECK(t.scalar_type() == glm4v::engine::io::to_scalar_type(info.dtype));
            CHECK(t.sizes().vec() == info.shape);
            CHECK(t.device().is_cpu());
            if (info.nbytes == 0) continue;
            CHECK(t.data_ptr() == static_cast<const void*>(info.data)); // the shards are 8-byte aligned
            CHECK(t.reshape({-1})[0].item<double>() == glm4v::test::element_value(info, 0));
            CHECK(t.reshape({-1})[-1].item<double>() ==
                  glm4v::test::element_value(info, static_cast<std::size_t>(info.numel()) - 1));
        }
    }
}

TEST_CASE("a view outlives its checkpoint and never writes to the file", "[io][tensor]") {
    const glm4v::test::ScratchDir dir;
    const fs::path path = dir / "w.safetensors";
    const std::vector<float> values = {1.5f, -2.0f, 3.25f, 8.0f};
    std::string data(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
    glm4v::test::write_file(path, safetensors_bytes(json{{"w", tensor_entry("F32", {2, 2}, 0, 16)}}, data));
    const std::string before = glm4v::test::read_file(path);

    torch::Tensor t;
    {
        const Checkpoint ck = Checkpoint::open(path.string());
        t = to_tensor(ck.get("w"));
    }
    CHECK(torch::equal(t, torch::tensor({1.5f, -2.0f, 3.25f, 8.0f}).reshape({2, 2})));
    t.add_(1); // copy-on-write: this process's pages only
    CHECK(t[0][0].item<float>() == 2.5f);
    CHECK(glm4v::test::read_file(path) == before);
    CHECK(to_tensor(Checkpoint::open(path.string()).get("w"))[0][0].item<float>() == 1.5f);
}

TEST_CASE("a misaligned tensor is copied and an empty one keeps its shape", "[io][tensor]") {
    const glm4v::test::ScratchDir dir;
    const fs::path path = dir / "odd.safetensors";
    const float f[2] = {0.5f, -7.0f};
    std::string data = "\x2a" + std::string(reinterpret_cast<const char*>(f), sizeof f);
    // The header is padded so the data starts 8-aligned; 'f' then starts at an odd address.
    std::string header = json{{"b", tensor_entry("U8", {1}, 0, 1)},
                              {"f", tensor_entry("F32", {2}, 1, 9)},
                              {"e", tensor_entry("BF16", {0, 3}, 9, 9)}}
                             .dump();
    header.append((8 - header.size() % 8) % 8, ' ');
    glm4v::test::write_file(path, safetensors_bytes(header, data));
    const SafetensorsFile st = SafetensorsFile::open(path.string());

    const TensorInfo& info = *st.find("f");
    REQUIRE(reinterpret_cast<std::uintptr_t>(info.data) % 4 != 0);
    const torch::Tensor t = to_tensor(info);
    CHECK(t.data_ptr() != static_cast<const void*>(info.data));
    CHECK(torch::equal(t, torch::tensor({0.5f, -7.0f})));

    const torch::Tensor e = to_tensor(*st.find("e"));
    CHECK(e.sizes().vec() == std::vector<std::int64_t>{0, 3});
    CHECK(e.scalar_type() == torch::kBFloat16);
}
