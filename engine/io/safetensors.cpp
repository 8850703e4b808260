#include "engine/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"

namespace glm4v::engine::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// Larger headers are not written by any tool we know of; refusing them bounds what a bad file costs.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

struct DTypeName {
    const char* name;
    DType dtype;
    std::size_t size;
};
constexpr DTypeName kDTypes[] = {
    {"BOOL", DType::Bool, 1}, {"U8", DType::U8, 1},   {"I8", DType::I8, 1},   {"I16", DType::I16, 2},
    {"I32", DType::I32, 4},   {"I64", DType::I64, 8}, {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2},
    {"F32", DType::F32, 4},   {"F64", DType::F64, 8},
};

std::string file_name(const std::string& path) {
    return fs::path(path).filename().string();
}
} // namespace

std::size_t dtype_size(DType dtype) {
    for (const auto& d : kDTypes)
        if (d.dtype == dtype) return d.size;
    return 0;
}

const char* dtype_name(DType dtype) {
    for (const auto& d : kDTypes)
        if (d.dtype == dtype) return d.name;
    return "?";
}

// ---------------------------------------------------------------------------------------------- MappedFile

MappedFile::MappedFile(std::string path, std::uint8_t* data, std::size_t size)
    : path_(std::move(path)), data_(data), size_(size) {}

MappedFile::~MappedFile() {
    if (data_ && size_) munmap(data_, size_);
}

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
    // O_NONBLOCK: a FIFO in the model folder must fail the regular-file check below, not hang the open.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        GLM4V_CHECK(err != ENOENT, ErrorKind::ModelMissing) << "file not found: " << path;
        GLM4V_FAIL(ErrorKind::Io) << "cannot open " << path << ": " << std::strerror(err);
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        GLM4V_FAIL(ErrorKind::Io) << "not a regular file: " << path;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* data = nullptr;
    if (size > 0) {
        // Writable but private: libtorch wants a non-const pointer, and an in-place op on a weight must
        // never reach the file. MAP_NORESERVE: nothing is ever written, so charge no swap for it.
        data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
        if (data == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            GLM4V_FAIL(ErrorKind::Io) << "cannot map " << path << ": " << std::strerror(err);
        }
    }
    ::close(fd); // the mapping keeps the file alive
    return std::shared_ptr<const MappedFile>(new MappedFile(path, static_cast<std::uint8_t*>(data), size));
}

// ---------------------------------------------------------------------------------------------- TensorInfo

std::int64_t TensorInfo::numel() const {
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d;
    return n;
}

std::string TensorInfo::shape_string() const {
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

// ---------------------------------------------------------------------------------------------- SafetensorsFile

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    SafetensorsFile st;
    st.file_ = MappedFile::open(path);
    const std::string name = file_name(path);
    const std::uint8_t* bytes = st.file_->data();
    const std::size_t size = st.file_->size();

    GLM4V_CHECK(size >= 8, ErrorKind::ModelCorrupt)
        << name << ": " << size << " bytes is too short for a safetensors file (truncated?)";
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i)
        header_len = (header_len << 8) | bytes[i];
    GLM4V_CHECK(header_len <= size - 8, ErrorKind::ModelCorrupt)
        << name << ": header length " << header_len << " runs past the end of the file (" << size
        << " bytes; truncated?)";
    GLM4V_CHECK(header_len <= kMaxHeaderBytes, ErrorKind::ModelCorrupt)
        << name << ": header length " << header_len << " is implausibly large";
    GLM4V_CHECK(header_len >= 2 && bytes[8] == '{', ErrorKind::ModelCorrupt)
        << name << ": the header is not a JSON object; not a safetensors file";

    json header;
    try {
        header = json::parse(bytes + 8, bytes + 8 + header_len);
    } catch (const json::exception& e) {
        GLM4V_FAIL(ErrorKind::ModelCorrupt) << name << ": the header is not valid JSON (" << e.what() << ")";
    }
    GLM4V_CHECK(header.is_object(), ErrorKind::ModelCorrupt) << name << ": the header is not a JSON object";

    const std::uint8_t* data_begin = bytes + 8 + header_len;
    const std::size_t data_size = size - 8 - header_len;
    struct Span {
        std::uint64_t begin, end;
        std::size_t tensor;
    };
    std::vector<Span> spans;

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& key = it.key();
        const json& entry = it.value();
        if (key == "__metadata__") {
            GLM4V_CHECK(entry.is_object(), ErrorKind::ModelCorrupt) << name << ": __metadata__ is not an object";
            for (auto m = entry.begin(); m != entry.end(); ++m) {
                GLM4V_CHECK(m.value().is_string(), ErrorKind::ModelCorrupt)
                    << name << ": __metadata__ value '" << m.key() << "' is not a string";
                st.metadata_[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = name + ": tensor '" + key + "'";
        GLM4V_CHECK(entry.is_object(), ErrorKind::ModelCorrupt) << where << " is not described by an object";
        GLM4V_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), ErrorKind::ModelCorrupt)
            << where << " has no dtype";
        GLM4V_CHECK(entry.contains("shape") && entry["shape"].is_array(), ErrorKind::ModelCorrupt)
            << where << " has no shape";
        GLM4V_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                        entry["data_offsets"].size() == 2,
                    ErrorKind::ModelCorrupt)
            << where << " has no data_offsets [begin, end]";

        TensorInfo t;
        t.name = key;
        const std::string dtype = entry["dtype"].get<std::string>();
        std::size_t elem_size = 0;
        for (const auto& d : kDTypes)
            if (dtype == d.name) t.dtype = d.dtype, elem_size = d.size;
        GLM4V_CHECK(elem_size != 0, ErrorKind::Unsupported) << where << " has unsupported dtype '" << dtype << "'";

        // Every dimension, zeros counted as ones, must multiply to at most INT64_MAX: then numel() and
        // any stride a tensor library computes from the shape fit in int64, even for empty tensors.
        constexpr std::uint64_t kMaxExtent = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        std::uint64_t extent = 1;
        std::uint64_t numel = 1;
        for (const json& d : entry["shape"]) {
            GLM4V_CHECK(d.is_number_unsigned(), ErrorKind::ModelCorrupt)
                << where << " has shape entry " << d.dump() << ", which is not a non-negative integer";
            const auto dim = d.get<std::uint64_t>();
            const std::uint64_t factor = std::max<std::uint64_t>(dim, 1);
            GLM4V_CHECK(dim <= kMaxExtent && extent <= kMaxExtent / factor, ErrorKind::ModelCorrupt)
                << where << ": shape " << entry["shape"].dump() << " overflows a 64-bit element count";
            extent *= factor;
            numel *= dim;
            t.shape.push_back(static_cast<std::int64_t>(dim));
        }
        GLM4V_CHECK(numel <= std::numeric_limits<std::uint64_t>::max() / elem_size, ErrorKind::ModelCorrupt)
            << where << ": shape " << t.shape_string() << " overflows a 64-bit byte count";

        const json& offsets = entry["data_offsets"];
        GLM4V_CHECK(offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(), ErrorKind::ModelCorrupt)
            << where << ": data_offsets " << offsets.dump() << " are not non-negative integers";
        const auto begin = offsets[0].get<std::uint64_t>();
        const auto end = offsets[1].get<std::uint64_t>();
        GLM4V_CHECK(begin <= end, ErrorKind::ModelCorrupt)
            << where << ": data_offsets [" << begin << ", " << end << "] end before they begin";
        GLM4V_CHECK(end <= data_size, ErrorKind::ModelCorrupt)
            << where << ": data_offsets [" << begin << ", " << end << "] run past the end of the data (" << data_size
            << " bytes; truncated?)";
        GLM4V_CHECK(end - begin == numel * elem_size, ErrorKind::ModelCorrupt)
            << where << ": " << dtype << " " << t.shape_string() << " needs " << numel * elem_size
            << " bytes but data_offsets span " << end - begin;

        t.data = data_begin + begin;
        t.nbytes = static_cast<std::size_t>(end - begin);
        t.file = st.file_;
        spans.push_back({begin, end, st.tensors_.size()});
        st.tensors_.push_back(std::move(t));
    }

    // Sorted by start, a non-empty span overlaps an earlier one exactly when it starts before the furthest
    // end seen so far. Empty tensors occupy no bytes and may sit anywhere in bounds.
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    const Span* furthest = nullptr;
    for (const Span& cur : spans) {
        if (cur.begin == cur.end) continue;
        GLM4V_CHECK(!furthest || cur.begin >= furthest->end, ErrorKind::ModelCorrupt)
            << name << ": tensors '" << st.tensors_[furthest->tensor].name << "' and '" << st.tensors_[cur.tensor].name
            << "' overlap in the file";
        if (!furthest || cur.end > furthest->end) furthest = &cur;
    }
    for (std::size_t i = 0; i < st.tensors_.size(); ++i)
        st.index_[st.tensors_[i].name] = i;
    return st;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------------- Checkpoint

ShardIndex read_shard_index(const std::string& index_path) {
    const auto text = MappedFile::open(index_path);
    const std::string index_name = file_name(index_path);
    json index;
    try {
        const char* b = reinterpret_cast<const char*>(text->data());
        index = json::parse(std::string(b ? b : "", text->size()));
    } catch (const json::exception& e) {
        GLM4V_FAIL(ErrorKind::ModelCorrupt) << index_name << " is not valid JSON (" << e.what() << ")";
    }
    GLM4V_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
                ErrorKind::ModelCorrupt)
        << index_name << " has no weight_map object";
    const json& weight_map = index["weight_map"];
    GLM4V_CHECK(!weight_map.empty(), ErrorKind::ModelCorrupt) << index_name << ": weight_map lists no tensors";

    ShardIndex out;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
        GLM4V_CHECK(it.value().is_string(), ErrorKind::ModelCorrupt)
            << index_name << ": weight_map entry '" << it.key() << "' is not a file name";
        const std::string shard = it.value().get<std::string>();
        // Only plain names in the index's own folder: an index must not point the reader anywhere else.
        GLM4V_CHECK(!shard.empty() && shard != "." && shard != ".." && shard.find('/') == std::string::npos,
                    ErrorKind::ModelCorrupt)
            << index_name << ": weight_map entry '" << it.key() << "' names '" << shard
            << "', which is not a file in the model folder";
        out.weight_map.emplace(it.key(), shard);
        out.shard_files.push_back(shard);
    }
    std::sort(out.shard_files.begin(), out.shard_files.end());
    out.shard_files.erase(std::unique(out.shard_files.begin(), out.shard_files.end()), out.shard_files.end());
    return out;
}

Checkpoint Checkpoint::open(const std::string& path) {
    Checkpoint ck;
    fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
        if (fs::exists(p / "model.safetensors.index.json", ec))
            p /= "model.safetensors.index.json";
        else if (fs::exists(p / "model.safetensors", ec))
            p /= "model.safetensors";
        else
            GLM4V_FAIL(ErrorKind::ModelMissing) << "no model.safetensors.index.json or model.safetensors in " << path;
    } else {
        GLM4V_CHECK(fs::exists(p, ec), ErrorKind::ModelMissing) << "file not found: " << path;
    }
    ck.description_ = p.string();

    if (p.extension() != ".json") {
        ck.shards_.push_back(SafetensorsFile::open(p.string()));
        ck.files_.push_back(p.string());
        const auto& tensors = ck.shards_[0].tensors();
        for (std::size_t i = 0; i < tensors.size(); ++i)
            ck.tensors_[tensors[i].name] = {0, i};
        return ck;
    }

    const ShardIndex index = read_shard_index(p.string());
    const std::string index_name = p.filename().string();
    const fs::path dir = p.parent_path();
    std::map<std::string, std::size_t> shard_of_file;
    for (const std::string& shard_name : index.shard_files) {
        const std::string shard_path = (dir / shard_name).string();
        GLM4V_CHECK(fs::exists(shard_path, ec), ErrorKind::ModelMissing)
            << index_name << " lists " << shard_name << ", which is missing from " << dir.string();
        // Shard errors already name the shard file; no context to add.
        ck.shards_.push_back(SafetensorsFile::open(shard_path));
        ck.files_.push_back(shard_path);
        shard_of_file.emplace(shard_name, ck.shards_.size() - 1);
    }
    for (const auto& [tensor, shard_name] : index.weight_map) {
        const std::size_t shard = shard_of_file.at(shard_name); // read_shard_index listed every shard
        const TensorInfo* t = ck.shards_[shard].find(tensor);
        GLM4V_CHECK(t != nullptr, ErrorKind::ModelCorrupt)
            << index_name << " puts tensor '" << tensor << "' in " << shard_name << ", which does not hold it";
        ck.tensors_[tensor] = {shard, static_cast<std::size_t>(t - ck.shards_[shard].tensors().data())};
    }
    return ck;
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) return nullptr;
    return &shards_[it->second.first].tensors()[it->second.second];
}

const TensorInfo& Checkpoint::get(const std::string& name) const {
    const TensorInfo* t = find(name);
    GLM4V_CHECK(t != nullptr, ErrorKind::ModelCorrupt)
        << "tensor '" << name << "' is missing from " << fs::path(description_).filename().string();
    return *t;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& kv : tensors_)
        out.push_back(kv.first);
    return out;
}

} // namespace glm4v::engine::io
