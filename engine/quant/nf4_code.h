#pragma once
// bitsandbytes' NF4 code book (get_4bit_type("nf4"), ascending), as hex literals so each value is the exact fp32
// bitsandbytes holds. Plain C++ with no torch, so the CUDA launchers share it (DESIGN.md section 3).

namespace glm4v::engine::quant {

inline constexpr float kNf4Code[16] = {
    -0x1.000000p+0f, -0x1.647362p-1f, -0x1.0cd660p-1f, -0x1.946540p-2f, -0x1.23449ap-2f, -0x1.7a6a7ep-3f,
    -0x1.74f0e2p-4f, 0.0f,            0x1.45f5fep-4f,  0x1.4995c6p-3f,  0x1.f809bap-3f,  0x1.5a0674p-2f,
    0x1.c34970p-2f,  0x1.200f56p-1f,  0x1.722766p-1f,  0x1.000000p+0f,
};

} // namespace glm4v::engine::quant
