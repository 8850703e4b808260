#include "engine/model/quant_cache.h"

#include <sys/stat.h>

#include <cstring>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/safetensors_writer.h"
#include "engine/io/tensor.h"

namespace glm4v::engine::model {
namespace fs = std::filesystem;

namespace {
// Bump when what the cache holds changes (which tensors are quantized, blocksize, layout).
constexpr const char* kCacheFormat = "glm4v-nf4-cache-1 blocksize 64";
constexpr const char* kCacheSuffix = ".nf4.safetensors";

std::uint64_t fnv1a(std::uint64_t h, const std::string& bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string folder_name(const std::string& model_dir) {
    fs::path p = fs::path(model_dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    const std::string name = p.filename().string();
    return name.empty() ? "model" : name;
}
} // namespace

std::string quant_cache_path(const std::string& cache_dir, const std::string& model_dir, const io::Checkpoint& source) {
    std::ostringstream key;
    key << kCacheFormat << '|';
    std::ifstream config(fs::path(model_dir) / "config.json", std::ios::binary);
    key << config.rdbuf();
    for (const std::string& file : source.files()) {
        struct stat st {};
        GLM4V_CHECK(::stat(file.c_str(), &st) == 0, ErrorKind::Io) << "cannot stat " << file;
        key << '|' << fs::path(file).filename().string() << ':' << st.st_size << ':' << st.st_mtim.tv_sec << '.'
            << st.st_mtim.tv_nsec;
    }
    std::ostringstream name;
    name << folder_name(model_dir) << '-' << std::hex << std::setw(16) << std::setfill('0')
         << fnv1a(1469598103934665603ull, key.str()) << kCacheSuffix;
    return (fs::path(cache_dir) / name.str()).string();
}

void write_quant_cache(const std::string& path, const WeightRecord& record,
                       const std::function<void(double fraction)>& progress) {
    io::remove_stale_temporaries(path);
    double total = 0, done = 0;
    {
        io::SafetensorsWriter writer(path);
        writer.set_metadata("format", kCacheFormat);
        for (const auto& [name, t] : record) {
            writer.declare(name, io::from_scalar_type(t.scalar_type()), t.sizes().vec());
            total += static_cast<double>(t.nbytes());
        }
        for (const auto& [name, t] : record) {
            const torch::Tensor host = t.to(torch::kCPU).contiguous(); // one tensor at a time in host memory
            writer.write(name, host.data_ptr(), host.nbytes());
            done += static_cast<double>(host.nbytes());
            if (progress) progress(total > 0 ? done / total : 1.0);
        }
        writer.commit();
    }
    // Older caches of the same folder were made from another version of its files.
    const fs::path target(path);
    const std::string stem = target.filename().string();
    const std::string prefix = stem.substr(0, stem.size() - std::string(kCacheSuffix).size() - 16); // "<name>-"
    std::error_code ec;
    for (fs::directory_iterator it(target.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const bool same_model = name.size() == stem.size() && name.rfind(prefix, 0) == 0 &&
                                name.compare(name.size() - std::strlen(kCacheSuffix), std::string::npos, kCacheSuffix) == 0;
        if (same_model && name != stem) fs::remove(it->path(), ec);
    }
}

} // namespace glm4v::engine::model
