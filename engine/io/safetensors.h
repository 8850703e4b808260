#pragma once
// Reading safetensors files without copying: each file is memory-mapped once and every tensor is a view
// into the mapping. Plain C++ (no libtorch), so the parser can be fuzzed and sanitized on its own.
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the data; offsets count from the end of the header.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace glm4v::engine::io {

enum class DType { Bool, U8, I8, I16, I32, I64, F16, BF16, F32, F64 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype); // as the format spells it: "BF16", "F32", ...

// A read-only view of a whole file. Pages are mapped copy-on-write, so a stray in-place write changes
// this process's copy, never the file. The mapping reserves no swap (MAP_NORESERVE): a 5 GB shard costs
// page cache, not commit charge. A file truncated by someone else while mapped raises SIGBUS on access;
// no reader that avoids copying can prevent that.
class MappedFile {
public:
    static std::shared_ptr<const MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    MappedFile(std::string path, std::uint8_t* data, std::size_t size);
    std::string path_;
    std::uint8_t* data_;
    std::size_t size_;
};

struct TensorInfo {
    std::string name;
    DType dtype = DType::U8;
    std::vector<std::int64_t> shape;
    const std::uint8_t* data = nullptr; // inside `file`, valid while `file` lives
    std::size_t nbytes = 0;
    std::shared_ptr<const MappedFile> file;

    std::int64_t numel() const;
    std::string shape_string() const; // "[64, 32, 2, 2]"
};

class SafetensorsFile {
public:
    // Validates the whole header: every failure names the file and, where there is one, the tensor.
    static SafetensorsFile open(const std::string& path);

    const std::string& path() const { return file_->path(); }
    const std::vector<TensorInfo>& tensors() const { return tensors_; } // in file order
    const TensorInfo* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

private:
    std::shared_ptr<const MappedFile> file_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, std::size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// model.safetensors.index.json: which shard holds each tensor.
struct ShardIndex {
    std::map<std::string, std::string> weight_map; // tensor name -> shard file name
    std::vector<std::string> shard_files;          // each shard once, sorted
};

// Throws ModelMissing when the file is absent, ModelCorrupt naming the index when it is not valid JSON,
// has no (or an empty) weight_map, or names a shard outside its own folder.
ShardIndex read_shard_index(const std::string& index_path);

// A checkpoint: one model.safetensors, or the shards listed by model.safetensors.index.json.
class Checkpoint {
public:
    // `path` is a model folder, an index file, or a single .safetensors file.
    static Checkpoint open(const std::string& path);

    const TensorInfo* find(const std::string& name) const;
    // Throws ModelCorrupt naming the tensor and the checkpoint when it is absent.
    const TensorInfo& get(const std::string& name) const;
    bool contains(const std::string& name) const { return find(name) != nullptr; }
    std::vector<std::string> names() const;
    const std::vector<std::string>& files() const { return files_; }
    const std::string& description() const { return description_; }

private:
    std::vector<SafetensorsFile> shards_;
    std::map<std::string, std::pair<std::size_t, std::size_t>> tensors_; // name -> (shard, tensor)
    std::vector<std::string> files_;
    std::string description_;
};

} // namespace glm4v::engine::io
