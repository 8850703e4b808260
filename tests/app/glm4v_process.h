#pragma once
// The glm4v command line run as a child process, the way a user runs it: the tests of ask and batch
// need a real process to interrupt (SIGINT) and kill (SIGKILL) part way. The child inherits the
// environment, so a ScratchHome made first keeps it away from the real history.

#include <string>
#include <sys/types.h>
#include <vector>

#include "tests/support/test_support.h"

namespace glm4v::test {

struct ProcessResult {
    int exit_code = -1; // 128 + the signal when a signal ended it, as a shell reports it
    std::string out;
    std::string err;
};

class Glm4vProcess {
public:
    // Starts `glm4v args...` with `input` on its stdin.
    explicit Glm4vProcess(const std::vector<std::string>& args, const std::string& input = {});
    ~Glm4vProcess(); // kills and reaps a child still running
    Glm4vProcess(const Glm4vProcess&) = delete;
    Glm4vProcess& operator=(const Glm4vProcess&) = delete;

    void signal(int signal_number);
    ProcessResult wait();

private:
    ScratchDir dir_; // its stdin, stdout and stderr files
    pid_t pid_ = -1;
};

// Runs it to the end.
ProcessResult run_glm4v(const std::vector<std::string>& args, const std::string& input = {});

} // namespace glm4v::test
