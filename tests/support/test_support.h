#pragma once
// What every test needs: the golden case directories, scratch folders, the oracle Python.

#include <filesystem>
#include <string>
#include <vector>

namespace glm4v::test {

// Every directory under $GLM4V_GOLDEN_DIR holding a golden.json, sorted; tests run them all, since they
// are also run on cases this repository does not ship.
std::vector<std::filesystem::path> golden_case_dirs();

// The project's virtual-environment Python ($GLM4V_PYTHON), or empty when the build was not given one.
std::string oracle_python();

// Runs a shell command, returns its exit status; its stdout goes to `output` when given.
int run_command(const std::string& command, std::string* output = nullptr);

// A fresh empty directory, removed with its contents when this object dies.
class ScratchDir {
public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& bytes);

} // namespace glm4v::test
