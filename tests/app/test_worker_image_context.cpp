// A conversation never loses its image (issue #8): the window's worker on the golden tiny model, with
// the prompts the engine actually prefills recorded (Chat::set_prefill_observer through
// Worker::set_chat_observer).
//
// Replies are forced to token ids that the tokenizer would itself produce for their text, so a
// conversation re-entered from the history prefills exactly the ids a live one fed. That makes the
// first-token logits comparable: the fourth follow-up of a live conversation (image fed once, four turns
// ago, only in the KV cache) must give the same logits as the same question asked in a reopened
// conversation whose single prefill visibly holds the image rows, while a conversation about another
// image must give different ones.
// libtorch first: its glog-style CHECK(cond) would otherwise replace Catch's and abort on failure.
#include <torch/types.h>
#undef CHECK
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>

#include "app/history_store.h"
#include "app/image_intake.h"
#include "app/worker.h"
#include "engine/model/glm4v.h"
#include "engine/runtime/chat.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/app/scratch_home.h"

namespace fs = std::filesystem;
using namespace glm4v;
using app::Command;
using app::CommandKind;
using app::Event;
using app::EventKind;

namespace {

// What one ask() fed before generating, as the test keeps it.
struct Prefill {
    std::int64_t conversation_id = 0;
    std::vector<std::int64_t> ids;
    std::int64_t image_index = -1;
    torch::Tensor rows;      // [rows, hidden] float32
    torch::Tensor positions; // [rows]
    std::int64_t cache_rows = 0;
    torch::Tensor first_logits; // [vocab] float32: the prompt's last row, what the first token is drawn from
};

// The worker with every event and every prefill recorded; waits for events the way the window would get them.
class RecordingWorker {
public:
    explicit RecordingWorker(const fs::path& home)
        : worker_(app::WorkerPaths{home / "data", home / "cache" / "embeddings", home / "cache"}, [this] {
              std::lock_guard<std::mutex> lock(mutex_);
              cv_.notify_all();
          }) {
        worker_.set_chat_observer([this](std::int64_t id, engine::runtime::Chat& chat) {
            chat.set_prefill_observer([this, id](const engine::runtime::PrefillView& p) {
                Prefill r;
                r.conversation_id = id;
                r.ids = p.token_ids;
                r.image_index = p.image_index;
                r.rows = p.rows.to(torch::kCPU, torch::kFloat32).clone();
                r.positions = p.positions.to(torch::kCPU).clone();
                r.cache_rows = p.cache_rows;
                std::lock_guard<std::mutex> lock(mutex_);
                prefills_.push_back(std::move(r));
                awaiting_logits_ = true;
            });
            chat.set_logits_observer([this](const at::Tensor& logits) {
                std::lock_guard<std::mutex> lock(mutex_);
                if (!awaiting_logits_) return; // a decoded token's
                prefills_.back().first_logits = logits[-1].to(torch::kCPU, torch::kFloat32).clone();
                awaiting_logits_ = false;
            });
        });
    }

    void submit(Command c) { worker_.submit(std::move(c)); }

    // The next event of this kind; Failed events on the way are kept in failures().
    Event wait_for(EventKind kind) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            std::vector<Event> fresh;
            worker_.drain_events(fresh);
            for (Event& e : fresh) {
                if (e.kind == EventKind::Failed) failures_.push_back(e.text);
                pending_.push_back(std::move(e));
            }
            for (auto it = pending_.begin(); it != pending_.end(); ++it) {
                if (it->kind != kind) continue;
                Event e = std::move(*it);
                pending_.erase(pending_.begin(), it + 1);
                return e;
            }
            pending_.clear();
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
                FAIL("no event of kind " << static_cast<int>(kind) << " within 120 s");
            }
        }
    }

    void load(const fs::path& model) {
        Command c{CommandKind::LoadModel};
        c.text = model.string();
        c.device = "cpu";
        submit(std::move(c));
        wait_for(EventKind::ModelReady);
    }

    std::int64_t open(const fs::path& image) {
        Command c{CommandKind::OpenImageFile};
        c.text = image.string();
        submit(std::move(c));
        return wait_for(EventKind::ImageOpened).conversation_id;
    }

    void reopen(std::int64_t id) {
        Command c{CommandKind::Reopen};
        c.conversation_id = id;
        submit(std::move(c));
        REQUIRE(wait_for(EventKind::ConversationLoaded).conversation_id == id);
    }

    Event ask(std::int64_t id, const std::string& question, const engine::runtime::GenerationOptions& generation) {
        Command c{CommandKind::Ask};
        c.conversation_id = id;
        c.text = question;
        c.generation = generation;
        submit(std::move(c));
        return wait_for(EventKind::ReplyDone);
    }

    // Regenerate, or with a new question EditAndResend.
    Event redo(std::int64_t id, const engine::runtime::GenerationOptions& generation, const std::string* new_question = nullptr) {
        Command c{new_question ? CommandKind::EditAndResend : CommandKind::Regenerate};
        c.conversation_id = id;
        c.generation = generation;
        if (new_question) c.text = *new_question;
        submit(std::move(c));
        return wait_for(EventKind::ReplyDone);
    }

    std::vector<app::HistoryItem> list(const std::string& query) {
        Command c{CommandKind::ListHistory};
        c.text = query;
        submit(std::move(c));
        return wait_for(EventKind::HistoryList).history;
    }

    std::vector<Prefill> prefills_of(std::int64_t id) {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<Prefill> out;
        for (const Prefill& p : prefills_)
            if (p.conversation_id == id) out.push_back(p);
        return out;
    }
    const std::vector<std::string>& failures() const { return failures_; }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Event> pending_;
    std::vector<Prefill> prefills_;
    bool awaiting_logits_ = false;
    std::vector<std::string> failures_;
    app::Worker worker_; // last: its threads stop before the members they call into
};

std::shared_ptr<const engine::model::Glm4v> load_model(const fs::path& dir) {
    engine::model::LoadOptions options;
    options.device = "cpu";
    return engine::model::Glm4v::load(dir.string(), options);
}

// The vision tower's output for this file, computed here, apart from the worker.
torch::Tensor embeddings_of(const std::shared_ptr<const engine::model::Glm4v>& model, const fs::path& image) {
    engine::runtime::Chat chat(model);
    chat.set_image(app::decode_image_file(image).image);
    const auto values = chat.image_embeddings();
    const auto hidden = model->config().language.hidden_size;
    return torch::tensor(values).reshape({static_cast<std::int64_t>(values.size()) / hidden, hidden});
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// The image's rows sit where its three placeholder tokens were, equal to `image`, with the positions
// DESIGN.md section 2 gives them: boi at its token index, every patch at boi + 1, eoi at boi + 2.
void check_image_rows(const Prefill& p, const torch::Tensor& image, const engine::tokenizer::Tokenizer& tok) {
    REQUIRE(p.image_index >= 0);
    const std::int64_t i = p.image_index;
    const std::int64_t n = image.size(0);
    REQUIRE(static_cast<std::int64_t>(p.ids.size()) >= i + 3);
    CHECK(p.ids[i] == tok.require_special_token("<|begin_of_image|>"));
    CHECK(p.ids[i + 1] == tok.require_special_token("<|endoftext|>"));
    CHECK(p.ids[i + 2] == tok.require_special_token("<|end_of_image|>"));
    REQUIRE(p.rows.size(0) == static_cast<std::int64_t>(p.ids.size()) - 3 + n);
    CHECK(max_difference(p.rows.narrow(0, i, n), image) < 1e-6);
    const std::int64_t p0 = p.positions[i].item<std::int64_t>();
    CHECK(p0 == p.positions[0].item<std::int64_t>() + i);
    CHECK((p.positions.narrow(0, i + 1, n - 2) == p0 + 1).all().item<bool>());
    CHECK(p.positions[i + n - 1].item<std::int64_t>() == p0 + 2);
}

// Every token id the conversation fed, in order: each prompt, then the reply's ids the decode loop fed
// (all but the last, which opens the next prompt: replies here end by length, not by an eos token).
std::vector<std::int64_t> fed_ids(const std::vector<Prefill>& prefills, const std::vector<std::vector<std::int64_t>>& replies) {
    std::vector<std::int64_t> all;
    for (std::size_t k = 0; k < prefills.size(); ++k) {
        all.insert(all.end(), prefills[k].ids.begin(), prefills[k].ids.end());
        if (k + 1 < prefills.size()) all.insert(all.end(), replies[k].begin(), replies[k].end() - 1);
    }
    return all;
}

} // namespace

TEST_CASE("a conversation keeps its image at the fourth follow-up and after the app is reopened", "[worker][image]") {
    const auto cases = test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    const fs::path golden = cases.front();
    const auto model = load_model(golden / "model");
    const engine::tokenizer::Tokenizer& tok = model->tokenizer();
    const torch::Tensor image = embeddings_of(model, golden / "image.png");
    const torch::Tensor photo = embeddings_of(model, golden / "photo.png");
    REQUIRE(image.size(0) == model->config().vision->num_image_embeddings());
    REQUIRE(max_difference(image, photo) > 1e-3);

    const std::vector<std::string> questions = {"What is in the picture?", "What colour is it?", "Where is it?",
                                                "How big is it?", "What is in the top left corner?"};
    const std::vector<std::string> texts = {"A small square.", "It is red and blue.", "On a table.",
                                            "About ten centimetres.", "A dark spot."};
    std::vector<std::vector<std::int64_t>> replies;
    std::vector<engine::runtime::GenerationOptions> forced;
    for (const std::string& t : texts) {
        const auto ids = tok.encode(t);
        replies.emplace_back(ids.begin(), ids.end());
        engine::runtime::GenerationOptions g;
        g.temperature = 0;
        g.ignore_eos = true;
        g.forced_tokens = replies.back();
        g.max_new_tokens = static_cast<int>(ids.size());
        forced.push_back(g);
    }

    test::ScratchHome home;
    std::int64_t live = 0, other = 0, stored = 0;
    std::vector<Prefill> live_prefills, other_prefills;
    Prefill regenerated, edited;
    const std::string edited_question = "What is in the bottom right corner?";
    {
        RecordingWorker w(home.path());
        w.load(golden / "model");

        // A live conversation: a question and four follow-ups about image.png.
        live = w.open(golden / "image.png");
        for (std::size_t k = 0; k < questions.size(); ++k) {
            const Event done = w.ask(live, questions[k], forced[k]);
            REQUIRE(done.conversation_id == live);
            REQUIRE(done.text == texts[k]); // so the history re-encodes to the same ids
        }
        // The same questions and replies about photo.png.
        other = w.open(golden / "photo.png");
        for (std::size_t k = 0; k < questions.size(); ++k) w.ask(other, questions[k], forced[k]);
        // Regenerating the last reply, or editing the last question, rebuilds the Chat from the stored
        // turns: the image must come back too.
        w.redo(other, forced.back());
        w.redo(other, forced.back(), &edited_question);
        // Three turns about image.png, to be continued after a restart.
        stored = w.open(golden / "image.png");
        for (std::size_t k = 0; k + 1 < questions.size(); ++k) w.ask(stored, questions[k], forced[k]);
        REQUIRE(w.failures().empty());
        live_prefills = w.prefills_of(live);
        other_prefills = w.prefills_of(other);
        REQUIRE(other_prefills.size() == questions.size() + 2);
        edited = other_prefills.back();
        other_prefills.pop_back();
        regenerated = other_prefills.back();
        other_prefills.pop_back();
    }
    REQUIRE(live_prefills.size() == questions.size());
    REQUIRE(live > 0);

    // The live conversation fed the image once, in its first prompt, and the KV cache kept every row
    // since: each follow-up's prompt starts where the cache left off, never on a rebuilt cache.
    check_image_rows(live_prefills[0], image, tok);
    std::int64_t cached = 0;
    for (std::size_t k = 0; k < live_prefills.size(); ++k) {
        INFO("prompt " << k + 1);
        CHECK(live_prefills[k].cache_rows == cached);
        if (k > 0) CHECK(live_prefills[k].image_index == -1);
        cached += live_prefills[k].rows.size(0) + static_cast<std::int64_t>(replies[k].size()) - 1;
    }
    const torch::Tensor live_fourth = live_prefills.back().first_logits;
    const torch::Tensor other_fourth = other_prefills.back().first_logits;
    REQUIRE(live_fourth.defined());
    // The image still matters four turns later: without it in the cache, these would not differ.
    const double image_effect = max_difference(live_fourth, other_fourth);
    INFO("largest logit difference between the two images at the fourth follow-up: " << image_effect);
    CHECK(image_effect > 1e-2);

    SECTION("regenerating a reply, or editing the last question, re-enters the image with the past turns") {
        check_image_rows(regenerated, photo, tok);
        CHECK(regenerated.cache_rows == 0);
        CHECK(regenerated.ids == fed_ids(other_prefills, replies));
        CHECK(max_difference(regenerated.first_logits, other_fourth) < 1e-4);

        check_image_rows(edited, photo, tok);
        CHECK(edited.cache_rows == 0);
        const engine::tokenizer::ChatTemplate tmpl(tok);
        const auto old_turn = tmpl.next_turn(questions.back());
        const auto new_turn = tmpl.next_turn(edited_question);
        REQUIRE(regenerated.ids.size() > old_turn.size());
        const std::vector<std::int64_t> before(regenerated.ids.begin(), regenerated.ids.end() - old_turn.size());
        std::vector<std::int64_t> expected = before;
        expected.insert(expected.end(), new_turn.begin(), new_turn.end());
        CHECK(edited.ids == expected);
    }

    SECTION("after a restart, from the embedding cache or the vision tower, a follow-up sees the image") {
        const bool recompute = GENERATE(false, true);
        INFO((recompute ? "embedding cache emptied" : "embeddings from the cache"));
        const fs::path cache = home.path() / "cache" / "embeddings";
        REQUIRE_FALSE(fs::is_empty(cache));
        if (recompute) fs::remove_all(cache);
        RecordingWorker w(home.path());
        w.load(golden / "model");
        w.reopen(stored);
        const Event done = w.ask(stored, questions.back(), forced.back());
        CHECK(w.failures().empty());
        CHECK(done.text == texts.back());
        const auto prefills = w.prefills_of(stored);
        REQUIRE(prefills.size() == 1);
        const Prefill& p = prefills.front();
        check_image_rows(p, image, tok);
        CHECK(p.cache_rows == 0);
        // The very prompt the live conversation built up over five turns...
        CHECK(p.ids == fed_ids(live_prefills, replies));
        // ...and what the model makes of it: the live fourth follow-up saw what this prompt shows.
        const double difference = max_difference(p.first_logits, live_fourth);
        INFO("largest logit difference from the live conversation: " << difference);
        CHECK(difference < 1e-4);
        CHECK_FALSE(fs::is_empty(cache)); // recomputed embeddings are cached again
    }

    SECTION("a reopened conversation whose image file is gone uses the cached embeddings, or refuses") {
        for (const auto& entry : fs::directory_iterator(home.path() / "data" / "images")) fs::remove(entry.path());
        {
            RecordingWorker w(home.path());
            w.load(golden / "model");
            w.reopen(stored);
            const Event done = w.ask(stored, questions.back(), forced.back());
            CHECK(done.error.empty());
            const auto prefills = w.prefills_of(stored);
            REQUIRE(prefills.size() == 1);
            check_image_rows(prefills.front(), image, tok);
        }
        fs::remove_all(home.path() / "cache" / "embeddings");
        RecordingWorker w(home.path());
        w.load(golden / "model");
        w.reopen(stored);
        const Event done = w.ask(stored, questions.back(), forced.back());
        CHECK(done.text.empty());
        CHECK(done.error_kind == engine::ErrorKind::InvalidInput);
        CHECK(done.error.find("cannot see it") != std::string::npos);
        CHECK(w.prefills_of(stored).empty()); // never asked without its image
    }
}

TEST_CASE("the sidebar's search, rename, and delete with undo go through the worker", "[worker][history]") {
    const auto cases = test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    const fs::path golden = cases.front();
    test::ScratchHome home;
    const auto model = load_model(golden / "model");
    auto reply = [&](const std::string& text) {
        const auto ids = model->tokenizer().encode(text);
        engine::runtime::GenerationOptions g;
        g.temperature = 0;
        g.ignore_eos = true;
        g.forced_tokens.assign(ids.begin(), ids.end());
        g.max_new_tokens = static_cast<int>(ids.size());
        return g;
    };
    auto titles = [](const std::vector<app::HistoryItem>& items) {
        std::vector<std::string> out;
        for (const app::HistoryItem& i : items) out.push_back(i.title);
        return out;
    };
    using Titles = std::vector<std::string>;
    std::int64_t invoice = 0, menu = 0;
    {
        RecordingWorker w(home.path());
        w.load(golden / "model");
        invoice = w.open(golden / "image.png");
        w.ask(invoice, "Where is the invoice?", reply("On the desk."));
        menu = w.open(golden / "photo.png");
        w.ask(menu, "\xE8\x8F\x9C\xE5\x8D\x95\xE4\xB8\x8A\xE6\x9C\x89\xE4\xBB\x80\xE4\xB9\x88\xEF\xBC\x9F", reply("Noodles.")); // 菜单上有什么？
        const std::string menu_title = "\xE8\x8F\x9C\xE5\x8D\x95\xE4\xB8\x8A\xE6\x9C\x89\xE4\xBB\x80\xE4\xB9\x88\xEF\xBC\x9F";

        CHECK(titles(w.list("")) == Titles{menu_title, "Where is the invoice?"}); // newest first
        CHECK(titles(w.list("\xE8\x8F\x9C\xE5\x8D\x95")) == Titles{menu_title}); // 菜单: two characters
        CHECK(titles(w.list("invoice")) == Titles{"Where is the invoice?"});
        CHECK(titles(w.list("desk")) == Titles{"Where is the invoice?"}); // in a reply

        Command rename{CommandKind::Rename};
        rename.conversation_id = invoice;
        rename.text = "Kitchen receipt";
        w.submit(rename);
        w.wait_for(EventKind::HistoryChanged);
        CHECK(titles(w.list("kitchen")) == Titles{"Kitchen receipt"});

        Command remove{CommandKind::Delete};
        remove.conversation_id = invoice;
        w.submit(remove);
        CHECK(w.wait_for(EventKind::HistoryChanged).text == "Kitchen receipt"); // what Undo would bring back
        CHECK(titles(w.list("")) == Titles{menu_title});
        CHECK(titles(w.list("desk")).empty());
        w.submit(Command{CommandKind::UndoDelete});
        CHECK(w.wait_for(EventKind::HistoryChanged).text.empty());
        CHECK(titles(w.list("")) == Titles{menu_title, "Kitchen receipt"});

        // A second deletion makes the first one final; closing makes the pending one final.
        w.submit(remove);
        w.wait_for(EventKind::HistoryChanged);
        remove.conversation_id = menu;
        w.submit(remove);
        w.wait_for(EventKind::HistoryChanged);
        w.submit(Command{CommandKind::UndoDelete});
        w.wait_for(EventKind::HistoryChanged);
        CHECK(titles(w.list("")) == Titles{menu_title});
        w.submit(remove);
        w.wait_for(EventKind::HistoryChanged);
        CHECK(w.failures().empty());
    }
    app::HistoryStore store(home.path() / "data");
    CHECK(store.list_conversations().empty());
}
