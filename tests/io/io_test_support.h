#pragma once
// Helpers shared by the io tests: building safetensors files byte by byte, decoding elements, and the
// safetensors-package oracle (tests/io/safetensors_oracle.py), run once per test process.

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/safetensors.h"

namespace glm4v::test {

// The 8-byte little-endian header length, the header, then the data: a file exactly as the format lays
// it out, whatever the header says.
std::string safetensors_bytes(const std::string& header, const std::string& data);
std::string safetensors_bytes(const nlohmann::json& header, const std::string& data);

// {"dtype": ..., "shape": ..., "data_offsets": [begin, end]}
nlohmann::json tensor_entry(const std::string& dtype, const std::vector<std::int64_t>& shape, std::uint64_t begin,
                            std::uint64_t end);

std::uint32_t crc32(const std::uint8_t* data, std::size_t size); // zlib's CRC-32, as Python's zlib.crc32
std::string from_hex(const std::string& hex);

// Element `index` (flat, row-major) of a tensor, widened to double; BF16 and F16 decoded by hand.
double element_value(const engine::io::TensorInfo& tensor, std::size_t index);

struct OracleOutput {
    std::filesystem::path dir; // the files the oracle wrote
    nlohmann::json result;     // its oracle.json
};
// Runs the oracle on every golden case's model folder, once; throws when GLM4V_PYTHON or the script is
// missing, so that a build without the oracle fails these tests instead of passing them unchecked.
const OracleOutput& safetensors_oracle();

// The engine::Error `fn` throws; fails the test when it throws nothing.
template <typename Fn> engine::Error error_from(Fn&& fn) {
    try {
        fn();
    } catch (const engine::Error& e) {
        return e;
    }
    FAIL("expected an engine::Error, but nothing was thrown");
    throw std::logic_error("unreachable");
}

} // namespace glm4v::test
