// glm4v batch: one prompt over many images, one JSON line per image in --out, resumable (docs/history.md,
// "glm4v batch"). Runs through the window's worker, like ask: each image becomes a stored conversation
// that the window or `glm4v chat --conversation ID` can continue, unless --no-history.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <set>

#include "app/cli/batch_results.h"
#include "app/cli/commands.h"
#include "app/cli/worker_session.h"
#include "app/sha256.h"
#include "engine/error.h"

namespace glm4v::app::cli {
namespace {
using engine::Error;
using engine::ErrorKind;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BatchOptions {
    SessionOptions session;
    std::vector<std::string> inputs;
    std::string prompt;
    std::string out;
    engine::runtime::GenerationOptions generation;
};

// A folder contributes the files whose extension is an image format's; files named on the command line
// are taken whatever their name (image intake goes by content, and refuses what is not an image).
bool has_image_extension(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    static const std::set<std::string> kImageExtensions = {".jpg", ".jpeg", ".jpe", ".png", ".webp",
                                                           ".bmp", ".dib",  ".tif", ".tiff"};
    return kImageExtensions.count(ext) > 0;
}

// The images in command-line order, each folder's sorted by name (not recursive, hidden files skipped),
// each file once however many times it is named.
std::vector<std::string> list_images(const std::vector<std::string>& inputs) {
    std::vector<std::string> images;
    std::set<std::string> seen;
    auto add = [&](const std::string& path) {
        if (seen.insert(batch_image_key(path)).second) images.push_back(path);
    };
    for (const std::string& input : inputs) {
        std::error_code ec;
        const fs::file_status status = fs::status(input, ec);
        if (ec || !fs::exists(status)) throw Error(ErrorKind::InvalidInput, input + ": no such file or folder");
        if (!fs::is_directory(status)) {
            add(input);
            continue;
        }
        std::vector<std::string> found;
        for (fs::directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            std::error_code ignored;
            if (name.empty() || name[0] == '.' || !it->is_regular_file(ignored) || !has_image_extension(it->path()))
                continue;
            found.push_back((fs::path(input) / name).string());
        }
        if (ec) throw Error(ErrorKind::Io, "cannot read the folder " + input + ": " + ec.message());
        std::sort(found.begin(), found.end());
        for (const std::string& f : found)
            add(f);
    }
    return images;
}

std::string sha256_of_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::Io, path + ": cannot open the file");
    Sha256 hash;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad()) throw Error(ErrorKind::Io, path + ": cannot read the file");
    return to_hex(hash.finish_raw());
}

std::string format_duration(double seconds) {
    const long s = std::lround(seconds);
    char text[32];
    if (s < 60)
        std::snprintf(text, sizeof text, "%lds", s);
    else if (s < 3600)
        std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    return text;
}

// Images done out of the total, with an ETA from this run's pace: a bar redrawn in place on a terminal,
// one line per image otherwise (a log file gets no carriage returns).
class Progress {
public:
    Progress(std::size_t total, std::size_t done, bool quiet)
        : total_(total), done_(done), quiet_(quiet), tty_(isatty(STDERR_FILENO)), started_(Clock::now()) {}

    void starting(const std::string& image) {
        if (quiet_ || !tty_) return;
        std::string name = fs::path(image).filename().string();
        if (name.size() > 30) name = name.substr(0, 27) + "...";
        constexpr int kWidth = 24;
        const auto filled = static_cast<int>(kWidth * done_ / std::max<std::size_t>(total_, 1));
        std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu %3zu%%  ETA %s  %s", std::string(filled, '#').c_str(),
                     std::string(kWidth - filled, '-').c_str(), done_, total_,
                     100 * done_ / std::max<std::size_t>(total_, 1), eta().c_str(), name.c_str());
    }

    void finished(const BatchResult& r) {
        ++done_;
        ++done_now_;
        if (quiet_) return;
        // On a terminal the bar shows progress, and a failure gets a line of its own above it.
        if (r.error)
            std::fprintf(stderr, "%s[%zu/%zu] %s: failed: %s\n", tty_ ? "\r\033[K" : "", done_, total_, r.image.c_str(),
                         r.error->c_str());
        else if (!tty_)
            std::fprintf(stderr, "[%zu/%zu] %s: %lld tokens in %.1f s, ETA %s\n", done_, total_, r.image.c_str(),
                         static_cast<long long>(r.generated_tokens), r.seconds, eta().c_str());
    }

    void end() {
        if (!quiet_ && tty_) std::fputs("\r\033[K", stderr);
    }

private:
    std::string eta() const {
        if (done_now_ == 0) return "--";
        const double per_image = std::chrono::duration<double>(Clock::now() - started_).count() / done_now_;
        return format_duration(per_image * static_cast<double>(total_ - done_));
    }

    std::size_t total_;
    std::size_t done_;
    std::size_t done_now_ = 0;
    bool quiet_;
    bool tty_;
    Clock::time_point started_;
};

// One image's line, or nothing when Ctrl+C stopped it (it is done again by the next run).
std::optional<BatchResult> run_image(WorkerSession& session, const BatchOptions& o, const std::string& image) {
    const auto started = Clock::now();
    BatchResult r;
    r.image = image;
    r.prompt = o.prompt;
    try {
        r.sha256 = sha256_of_file(image);
        session.open_image(image);
        Answer a = session.ask(o.prompt, o.generation, [](const std::string&) {});
        if (a.finish == engine::runtime::FinishReason::Cancelled) return std::nullopt;
        r.reply = a.text;
        r.prompt_tokens = a.stats.prompt_tokens;
        r.generated_tokens = a.stats.generated_tokens;
        r.time_to_first_token_ms = a.stats.time_to_first_token_ms;
        r.tokens_per_second = a.stats.tokens_per_second;
        if (session.recording() && a.conversation_id > 0) r.conversation = a.conversation_id;
        if (a.error) {
            r.error = a.error->what();
            r.error_kind = engine::error_kind_name(a.error->kind());
        } else {
            r.finish = a.finish == engine::runtime::FinishReason::Length ? "length" : "eos";
        }
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Cancelled) return std::nullopt;
        if (e.kind() == ErrorKind::ModelMissing) throw; // no image can succeed
        r.error = e.what();
        r.error_kind = engine::error_kind_name(e.kind());
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return r;
}

void run_batch(const BatchOptions& o) {
    if (o.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
        throw Error(ErrorKind::InvalidInput, "the prompt is empty");
    const std::vector<std::string> images = list_images(o.inputs);
    if (images.empty()) throw Error(ErrorKind::InvalidInput, "no image files (jpg, png, webp, bmp, tiff) found");

    WorkerSession session(o.session); // catches Ctrl+C from here on
    BatchResultsFile results(o.out);
    if (results.dropped_bytes() > 0)
        std::fprintf(stderr, "glm4v: %s: dropped an incomplete last line (%zu bytes) left by an interrupted run\n",
                     o.out.c_str(), results.dropped_bytes());
    std::vector<std::string> pending;
    for (const std::string& image : images)
        if (!results.contains(image, o.prompt)) pending.push_back(image);
    const std::size_t before = images.size() - pending.size();
    if (!o.session.quiet && before > 0)
        std::fprintf(stderr, "glm4v: %zu of %zu images already in %s\n", before, images.size(), o.out.c_str());
    if (pending.empty()) return;

    session.load_model();
    Progress progress(images.size(), before, o.session.quiet);
    std::size_t failed = 0;
    std::size_t done = before;
    for (const std::string& image : pending) {
        if (session.interrupted()) break;
        progress.starting(image);
        std::optional<BatchResult> r = run_image(session, o, image);
        if (!r) break;
        results.append(*r);
        ++done;
        if (r->error) ++failed;
        progress.finished(*r);
    }
    progress.end();
    if (done < images.size())
        throw Error(ErrorKind::Cancelled, "interrupted: " + std::to_string(done) + " of " +
                                              std::to_string(images.size()) + " images are in " + o.out +
                                              "; run the same command again to do the rest");
    if (!o.session.quiet)
        std::fprintf(stderr, "glm4v: %zu images in %s (%zu now), %zu failed%s\n", images.size(), o.out.c_str(),
                     images.size() - before, failed, failed ? " (their lines have an \"error\")" : "");
}

} // namespace

void add_batch_command(CLI::App& app) {
    auto o = std::make_shared<BatchOptions>();
    o->generation.temperature = 0; // greedy: the same image and prompt give the same reply on every run
    CLI::App* cmd = app.add_subcommand(
        "batch", "Ask one prompt about many images; one JSON line per image, resumable after an interruption");
    add_session_options(cmd, o->session);
    cmd->add_option("--images", o->inputs, "Image files, or folders whose image files are taken (sorted by name)")
        ->required();
    cmd->add_option("--prompt", o->prompt, "The question asked about every image")->required();
    cmd->add_option("--out", o->out, "Results file (JSON Lines); a rerun skips the images it already holds")
        ->required();
    add_generation_options(cmd, o->generation);
    cmd->add_flag("--no-history", o->session.no_history,
                  "Do not record the images and replies in the history (recorded by default, like ask)");
    cmd->callback([o] { run_batch(*o); });
}

} // namespace glm4v::app::cli
