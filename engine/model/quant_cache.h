#pragma once
// The quantized cache file (DESIGN.md section 3): a bf16/fp16 checkpoint is quantized to NF4 once, on first
// load, and written here, so every later start memory-maps about 8 GB instead of reading 28 GB. The file is a
// safetensors file in the layout transformers + bitsandbytes save 4-bit models in, so it loads through the same
// code as such a checkpoint, and bitsandbytes itself can read it.

#include <functional>
#include <string>

#include "engine/model/weights.h"

namespace glm4v::engine::io {
class Checkpoint;
}

namespace glm4v::engine::model {

// `<cache_dir>/<model folder name>-<key>.nf4.safetensors`. The key hashes config.json, every weight file's name,
// size and modification time, and the cache's own format version: a changed source never matches an old file.
std::string quant_cache_path(const std::string& cache_dir, const std::string& model_dir, const io::Checkpoint& source);

// Writes `record` to `path` through a temporary file and a rename, so a crash leaves either no file or a whole
// one; then removes the model's other (stale) cache files and temporaries of dead processes. Throws Io.
void write_quant_cache(const std::string& path, const WeightRecord& record,
                       const std::function<void(double fraction)>& progress = {});

} // namespace glm4v::engine::model
