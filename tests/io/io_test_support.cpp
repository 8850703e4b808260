#include "tests/io/io_test_support.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "tests/support/test_support.h"

namespace glm4v::test {
namespace fs = std::filesystem;
using nlohmann::json;

std::string safetensors_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i, n >>= 8)
        out[static_cast<std::size_t>(i)] = static_cast<char>(n & 0xff);
    return out + header + data;
}

std::string safetensors_bytes(const json& header, const std::string& data) {
    return safetensors_bytes(header.dump(), data);
}

json tensor_entry(const std::string& dtype, const std::vector<std::int64_t>& shape, std::uint64_t begin,
                  std::uint64_t end) {
    return json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, end}}};
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i)
        c = table[(c ^ data[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::string from_hex(const std::string& hex) {
    auto nibble = [&](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        throw std::runtime_error("bad hex from the oracle");
    };
    std::string out(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
    return out;
}

namespace {
template <typename T> T load(const std::uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

float half_to_float(std::uint16_t h) {
    const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude;
    if (exponent == 0)
        magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    else if (exponent == 31)
        magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : INFINITY;
    else
        magnitude = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
    return sign ? -magnitude : magnitude;
}
} // namespace

double element_value(const engine::io::TensorInfo& t, std::size_t index) {
    using engine::io::DType;
    const std::uint8_t* p = t.data + index * engine::io::dtype_size(t.dtype);
    REQUIRE((index + 1) * engine::io::dtype_size(t.dtype) <= t.nbytes);
    switch (t.dtype) {
    case DType::Bool:
        return *p ? 1.0 : 0.0;
    case DType::U8:
        return *p;
    case DType::I8:
        return load<std::int8_t>(p);
    case DType::I16:
        return load<std::int16_t>(p);
    case DType::I32:
        return load<std::int32_t>(p);
    case DType::I64:
        return static_cast<double>(load<std::int64_t>(p));
    case DType::F16:
        return half_to_float(load<std::uint16_t>(p));
    case DType::BF16: {
        const std::uint32_t bits = static_cast<std::uint32_t>(load<std::uint16_t>(p)) << 16;
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return f;
    }
    case DType::F32:
        return load<float>(p);
    case DType::F64:
        return load<double>(p);
    }
    throw std::logic_error("unknown dtype");
}

const OracleOutput& safetensors_oracle() {
    static std::unique_ptr<ScratchDir> scratch;
    static OracleOutput output;
    if (scratch) return output;

    const std::string python = oracle_python();
    if (python.empty())
        throw std::runtime_error("GLM4V_PYTHON is not set: configure with -DGLM4V_PYTHON=.venv/bin/python");
    const char* source_dir = std::getenv("GLM4V_SOURCE_DIR");
    if (!source_dir) throw std::runtime_error("GLM4V_SOURCE_DIR is not set (run the tests through ctest)");
    const fs::path script = fs::path(source_dir) / "tests/io/safetensors_oracle.py";

    auto dir = std::make_unique<ScratchDir>();
    std::string command = "'" + python + "' '" + script.string() + "' '" + dir->path().string() + "' 20261123";
    for (const fs::path& case_dir : golden_case_dirs())
        command += " '" + (case_dir / "model").string() + "'";
    std::string log;
    const int status = run_command(command + " 2>&1", &log);
    if (status != 0) throw std::runtime_error("the safetensors oracle failed (" + command + "):\n" + log);
    output.dir = dir->path();
    output.result = json::parse(read_file(dir->path() / "oracle.json"));
    scratch = std::move(dir);
    return output;
}

} // namespace glm4v::test
