// The safetensors writer: what it writes, our reader and the `safetensors` package both read back byte for
// byte; nothing appears under the final name until commit; a full disk is an Io error, never a bad file.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "engine/io/safetensors_writer.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;
using glm4v::engine::io::DType;
using glm4v::engine::io::SafetensorsFile;
using glm4v::engine::io::SafetensorsWriter;

namespace {
struct Planned {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string bytes;
};

std::vector<Planned> random_plan(std::mt19937& rng) {
    // Mixed element sizes in an order that would misalign them if laid out as declared.
    std::vector<Planned> plan = {{"packed", DType::U8, {37, 1}, {}},    {"absmax", DType::F32, {5}, {}},
                                 {"embed", DType::BF16, {3, 7}, {}},    {"ids", DType::I64, {3}, {}},
                                 {"state", DType::U8, {11}, {}},        {"scalar", DType::F64, {}, {}},
                                 {"empty", DType::F16, {0, 4}, {}},     {"half", DType::F16, {9}, {}}};
    for (Planned& p : plan) {
        std::size_t n = glm4v::engine::io::dtype_size(p.dtype);
        for (auto d : p.shape) n *= static_cast<std::size_t>(d);
        p.bytes.resize(n);
        for (char& c : p.bytes) c = static_cast<char>(rng() & 0xFF);
    }
    return plan;
}

void write_plan(SafetensorsWriter& w, std::vector<Planned> plan, std::mt19937& rng) {
    for (const Planned& p : plan) w.declare(p.name, p.dtype, p.shape);
    w.set_metadata("format", "test");
    std::shuffle(plan.begin(), plan.end(), rng);
    for (const Planned& p : plan) w.write(p.name, p.bytes.data(), p.bytes.size());
}
} // namespace

TEST_CASE("written files read back byte for byte, aligned, by our reader and the safetensors package",
          "[io][safetensors][writer]") {
    glm4v::test::ScratchDir dir;
    std::mt19937 rng(7);
    const std::vector<Planned> plan = random_plan(rng);
    const fs::path path = dir / "out.safetensors";
    {
        SafetensorsWriter w(path.string());
        write_plan(w, plan, rng);
        CHECK_FALSE(fs::exists(path)); // only the temporary exists until commit
        CHECK(fs::exists(w.temporary_path()));
        w.commit();
        CHECK_FALSE(fs::exists(w.temporary_path()));
    }
    const SafetensorsFile st = SafetensorsFile::open(path.string());
    CHECK(st.metadata().at("format") == "test");
    REQUIRE(st.tensors().size() == plan.size());
    for (const Planned& p : plan) {
        INFO(p.name);
        const auto* t = st.find(p.name);
        REQUIRE(t != nullptr);
        CHECK(t->dtype == p.dtype);
        CHECK(t->shape == p.shape);
        REQUIRE(t->nbytes == p.bytes.size());
        CHECK(std::memcmp(t->data, p.bytes.data(), p.bytes.size()) == 0);
        CHECK(reinterpret_cast<std::uintptr_t>(t->data) % glm4v::engine::io::dtype_size(p.dtype) == 0);
    }

    const std::string python = glm4v::test::oracle_python();
    if (python.empty()) {
        WARN("GLM4V_PYTHON is not set: the safetensors package was not asked");
        return;
    }
    // The package's own parser: every tensor's name, dtype, shape and CRC-32 of its bytes.
    std::string out;
    const std::string script =
        "import sys, zlib, json; from safetensors import deserialize; "
        "print(json.dumps({n: [t['dtype'], list(t['shape']), zlib.crc32(bytes(t['data']))] "
        "for n, t in deserialize(open(sys.argv[1], 'rb').read())}))";
    REQUIRE(glm4v::test::run_command(python + " -c \"" + script + "\" '" + path.string() + "'", &out) == 0);
    const auto read = nlohmann::json::parse(out);
    REQUIRE(read.size() == plan.size());
    for (const Planned& p : plan) {
        INFO(p.name);
        const auto& t = read.at(p.name);
        CHECK(t.at(0).get<std::string>() == glm4v::engine::io::dtype_name(p.dtype));
        CHECK(t.at(1).get<std::vector<std::int64_t>>() == p.shape);
        CHECK(t.at(2).get<std::uint32_t>() ==
              glm4v::test::crc32(reinterpret_cast<const std::uint8_t*>(p.bytes.data()), p.bytes.size()));
    }
}

TEST_CASE("an uncommitted or unfinished file leaves nothing behind", "[io][safetensors][writer]") {
    glm4v::test::ScratchDir dir;
    const fs::path path = dir / "out.safetensors";
    std::string temp;
    {
        SafetensorsWriter w(path.string());
        w.declare("a", DType::F32, {4});
        w.declare("b", DType::U8, {3});
        const float a[4] = {1, 2, 3, 4};
        w.write("a", a, sizeof a);
        temp = w.temporary_path();
        try {
            w.commit();
            FAIL("committed with a tensor never written");
        } catch (const Error& e) {
            CHECK_THAT(e.what(), Catch::Contains("'b' was declared but never written"));
        }
        CHECK_THROWS_AS(w.write("a", a, sizeof a), Error);      // twice
        CHECK_THROWS_AS(w.write("b", a, 2), Error);             // wrong size
        CHECK_THROWS_AS(w.write("c", a, sizeof a), Error);      // undeclared
        CHECK_THROWS_AS(w.declare("d", DType::U8, {1}), Error); // after data
    }
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(fs::exists(temp));
}

TEST_CASE("a full disk is an Io error naming the file, and the final name never appears", "[io][safetensors][writer]") {
    glm4v::test::ScratchDir dir;
    const fs::path path = dir / "big.safetensors";
    // A child process whose files may not grow past 64 KiB stands in for a full disk (EFBIG, as ENOSPC would).
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        int status = 1;
        try {
            SafetensorsWriter w(path.string());
            w.declare("big", DType::U8, {1 << 20});
            const std::string bytes(1 << 20, 'x');
            w.write("big", bytes.data(), bytes.size());
            w.commit();
            status = 2; // no error at all
        } catch (const Error& e) {
            const std::string what = e.what();
            status = e.kind() == ErrorKind::Io && what.find("big.safetensors.tmp-") != std::string::npos ? 0 : 3;
        }
        _exit(status);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_FALSE(fs::exists(path));
    CHECK(fs::is_empty(dir.path())); // the temporary was removed too
}

TEST_CASE("temporaries of processes that no longer run are removed, a running one's kept", "[io][safetensors][writer]") {
    glm4v::test::ScratchDir dir;
    const fs::path path = dir / "cache.safetensors";
    const fs::path dead = dir / "cache.safetensors.tmp-999999999"; // above any Linux pid_max
    const fs::path alive = dir / ("cache.safetensors.tmp-" + std::to_string(getpid()));
    const fs::path other = dir / "other.safetensors.tmp-999999999";
    for (const auto& p : {dead, alive, other}) glm4v::test::write_file(p, "partial");
    glm4v::engine::io::remove_stale_temporaries(path.string());
    CHECK_FALSE(fs::exists(dead));
    CHECK(fs::exists(alive));
    CHECK(fs::exists(other));
}
