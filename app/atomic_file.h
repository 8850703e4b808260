#pragma once
// Files that are either wholly there or not there at all: written to a temporary name in the same
// folder, fsync'ed, renamed over the final name, and the folder fsync'ed so the rename survives a
// power cut. Used for content-addressed images and cached embeddings.

#include <cstddef>
#include <filesystem>
#include <string>

namespace glm4v::app {

// Throws ErrorKind::Io naming `path` on any failure; never leaves the temporary file behind.
void write_file_atomically(const std::filesystem::path& path, const void* data, std::size_t size);

// Several pieces written one after another (a header, a payload, a trailer) with no copy into one buffer.
struct ByteSpan {
    const void* data;
    std::size_t size;
};
void write_file_atomically(const std::filesystem::path& path, std::initializer_list<ByteSpan> pieces);

// Whole file into memory; throws ErrorKind::Io naming `path`. Refuses files over `max_bytes`.
std::string read_whole_file(const std::filesystem::path& path, std::size_t max_bytes);

// Whether `name` is one of our temporary files, so folder scans can skip (and sweep) them.
bool is_temporary_file_name(const std::string& name);

} // namespace glm4v::app
