#pragma once
// Writing a safetensors file that a crash or a full disk can never leave half-written under its name:
// the bytes go to `<path>.tmp-<pid>` and appear at `path` only on commit() (fsync, rename, fsync the folder).
// Tensors are declared first, so the header is known; their data may then come in any order (pwrite at
// the declared offset), one tensor at a time, so a file larger than memory streams out. The data section is
// laid out by descending element size, which keeps every tensor aligned to its element in the file (and
// the reader's views zero-copy) without the holes the format forbids.

#include "engine/io/safetensors.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace glm4v::engine::io {

class SafetensorsWriter {
public:
    explicit SafetensorsWriter(std::string path);
    ~SafetensorsWriter(); // without commit(), the temporary file is removed
    SafetensorsWriter(const SafetensorsWriter&) = delete;
    SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

    void declare(const std::string& name, DType dtype, std::vector<std::int64_t> shape);
    void set_metadata(const std::string& key, const std::string& value);
    // Bytes of a declared tensor, exactly its declared size. The first write fixes the header.
    void write(const std::string& name, const void* data, std::size_t nbytes);
    // Every declared tensor must have been written. Throws Io (naming the path and the reason) on failure.
    void commit();

    const std::string& path() const { return path_; }
    const std::string& temporary_path() const { return temp_path_; }

private:
    struct Entry {
        DType dtype;
        std::vector<std::int64_t> shape;
        std::size_t nbytes = 0;
        std::size_t offset = 0; // within the data section
        bool written = false;
    };
    void write_header();
    void pwrite_all(const void* data, std::size_t nbytes, std::uint64_t offset);

    std::string path_;
    std::string temp_path_;
    int fd_ = -1;
    std::map<std::string, Entry> entries_;
    std::vector<std::string> order_; // declaration order, for the header
    std::map<std::string, std::string> metadata_;
    std::uint64_t data_start_ = 0; // 0 until the header is written
    bool committed_ = false;
};

// Removes `<path>.tmp-<pid>` files left by processes that no longer run (a crash mid-write).
void remove_stale_temporaries(const std::string& path);

} // namespace glm4v::engine::io
