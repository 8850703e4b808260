#include "app/worker.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

#include "app/embedding_cache.h"
#include "app/failure.h"
#include "app/history_store.h"
#include "app/image_intake.h"
#include "engine/io/model_dir.h"
#include "engine/log.h"
#include "engine/model/glm4v.h"

namespace glm4v::app {

using engine::Error;
using engine::ErrorKind;
namespace runtime = engine::runtime;

namespace {

// A stored conversation's messages as question/reply pairs. A question whose reply never came (the
// process died mid-generation before it was stored) gets an empty reply.
std::vector<Turn> turns_from_messages(const std::vector<MessageRecord>& messages) {
    std::vector<Turn> turns;
    for (const MessageRecord& m : messages) {
        if (m.role == MessageRole::User) {
            turns.push_back({m.text, "", {}});
        } else if (!turns.empty()) {
            Turn& t = turns.back();
            t.reply = m.text;
            t.stats.prompt_tokens = m.prompt_tokens;
            t.stats.generated_tokens = m.generated_tokens;
            t.stats.time_to_first_token_ms = m.time_to_first_token_ms;
            t.stats.tokens_per_second = m.tokens_per_second;
        }
    }
    return turns;
}

std::string title_from_question(const std::string& question) {
    std::string title;
    for (char c : question) title += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (title.size() > 80) {
        std::size_t cut = 80;
        while (cut > 0 && (static_cast<unsigned char>(title[cut]) & 0xC0) == 0x80) --cut; // whole characters
        title = title.substr(0, cut) + "\xE2\x80\xA6";
    }
    return title;
}

// What a model folder holds, for the "put these files here" screen (DESIGN.md section 5).
std::vector<std::string> all_model_files() {
    return {"config.json", "tokenizer.model", "tokenizer_config.json",
            "model.safetensors.index.json (or model.safetensors)", "model-0000N-of-0000M.safetensors (every shard the index lists)"};
}

} // namespace

namespace {
HistoryStore& open_store(std::unique_ptr<HistoryStore>& history, std::unique_ptr<EmbeddingCache>& embeddings,
                         const WorkerPaths& paths) {
    if (!history) {
        if (!embeddings) embeddings = std::make_unique<EmbeddingCache>(paths.embedding_dir);
        history = std::make_unique<HistoryStore>(paths.data_dir, embeddings.get());
    }
    return *history;
}
} // namespace

struct Worker::EngineState {
    std::shared_ptr<const engine::model::Glm4v> model;
    std::unique_ptr<EmbeddingCache> embeddings;
    std::unique_ptr<HistoryStore> history;
    bool history_failed = false;

    std::int64_t id = 0; // the open conversation; > 0 when it is stored
    engine::RgbImage image;
    std::string image_sha256;
    std::vector<Turn> turns;
    std::vector<float> image_embeddings; // once computed or read from the cache
    std::unique_ptr<runtime::Chat> chat; // null: rebuilt from image_embeddings and turns on the next ask

    // A reopened conversation whose image file is gone still has its image when its embeddings are cached.
    bool has_image() const { return !image.pixels.empty() || !image_sha256.empty(); }
};

struct Worker::StoreState {
    std::unique_ptr<EmbeddingCache> embeddings;
    std::unique_ptr<HistoryStore> history;
    std::set<std::int64_t> sent_thumbnails; // image ids whose thumbnail the UI already has
    bool swept = false;
    std::int64_t pending_delete = 0;
    std::string pending_title;
};

Worker::Worker(WorkerPaths paths, std::function<void()> wake)
    : paths_(std::move(paths)), wake_ui_(std::move(wake)), engine_(std::make_unique<EngineState>()),
      store_(std::make_unique<StoreState>()) {
    engine_lane_.thread = std::thread([this] {
        // A little below the UI thread, so frames keep coming while the CPU computes. The engine's OpenMP
        // threads are started from this thread and inherit it (Linux nice values are per thread).
        setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5);
        run_lane(engine_lane_);
    });
    store_lane_.thread = std::thread([this] { run_lane(store_lane_); });
}

Worker::~Worker() { shutdown(); }

void Worker::run_lane(Lane& lane) {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(lane.mutex);
            lane.wake.wait(lock, [&] { return lane.stop || !lane.queue.empty(); });
            if (lane.queue.empty() || (lane.stop && lane.drop_queued_on_stop)) return;
            job = std::move(lane.queue.front());
            lane.queue.pop_front();
        }
        // The lock is dropped during the job: submit() and cancel() never wait on it.
        try {
            job();
        } catch (const std::exception& e) {
            push_failure(0, failure_from(e, "working"));
        }
    }
}

void Worker::post(Lane& lane, std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lock(lane.mutex);
        if (lane.stop && lane.drop_queued_on_stop) return;
        lane.queue.push_back(std::move(job));
    }
    lane.wake.notify_one();
}

void Worker::push(Event event) {
    {
        std::lock_guard<std::mutex> lock(events_mutex_);
        events_.push_back(std::move(event));
    }
    if (wake_ui_) wake_ui_();
}

void Worker::push_failure(std::int64_t conversation_id, const Error& error) {
    const std::string where = error.where().empty() ? "" : " (at " + error.where() + ")";
    // A refused input (a corrupt image, an empty question) is the user's to fix and is shown to them; the
    // log's errors are the app's. glm4v batch would otherwise print each bad image twice.
    if (error.kind() == ErrorKind::InvalidInput)
        engine::log_info("worker: ", error.what(), where);
    else
        engine::log_error("worker: ", error.what(), where);
    Event e;
    e.kind = EventKind::Failed;
    e.conversation_id = conversation_id;
    e.error_kind = error.kind();
    e.text = error.what();
    push(std::move(e));
}

void Worker::drain_events(std::vector<Event>& out) {
    std::lock_guard<std::mutex> lock(events_mutex_);
    for (Event& e : events_) out.push_back(std::move(e));
    events_.clear();
}

void Worker::cancel(std::int64_t conversation_id) {
    if (conversation_id == 0 || generating_id_ != conversation_id) return;
    cancel_requested_ = true;
    std::lock_guard<std::mutex> lock(chat_mutex_);
    if (active_chat_) active_chat_->cancel();
}

void Worker::shutdown() {
    if (stopping_.exchange(true)) return;
    cancel_requested_ = true;
    {
        std::lock_guard<std::mutex> lock(chat_mutex_);
        if (active_chat_) active_chat_->cancel();
    }
    post(store_lane_, [this] { finish_pending_delete(); });
    for (Lane* lane : {&engine_lane_, &store_lane_}) {
        {
            std::lock_guard<std::mutex> lock(lane->mutex);
            lane->stop = true;
        }
        lane->wake.notify_all();
    }
    for (Lane* lane : {&engine_lane_, &store_lane_})
        if (lane->thread.joinable()) lane->thread.join();
}

void Worker::submit(Command c) {
    auto cmd = std::make_shared<Command>(std::move(c));
    switch (cmd->kind) {
    case CommandKind::LoadModel: post(engine_lane_, [this, cmd] { load_model(*cmd); }); break;
    case CommandKind::OpenImageFile:
    case CommandKind::OpenImageBytes: post(store_lane_, [this, cmd] { open_image(*cmd); }); break;
    case CommandKind::NewConversation: post(engine_lane_, [this] { start_conversation(0, {}, {}, {}); }); break;
    case CommandKind::Ask:
        post(engine_lane_, [this, cmd] { ask(cmd->conversation_id, cmd->text, cmd->generation); });
        break;
    case CommandKind::Regenerate:
        post(engine_lane_, [this, cmd] { redo_last(cmd->conversation_id, nullptr, cmd->generation); });
        break;
    case CommandKind::EditAndResend:
        post(engine_lane_, [this, cmd] { redo_last(cmd->conversation_id, &cmd->text, cmd->generation); });
        break;
    case CommandKind::Reopen: post(store_lane_, [this, cmd] { reopen(cmd->conversation_id); }); break;
    case CommandKind::ListHistory: post(store_lane_, [this, cmd] { list_history(cmd->text); }); break;
    case CommandKind::Rename:
        post(store_lane_, [this, cmd] {
            open_store(store_->history, store_->embeddings, paths_).rename_conversation(cmd->conversation_id, cmd->text);
            push(Event{EventKind::HistoryChanged, cmd->conversation_id, store_->pending_title});
        });
        break;
    case CommandKind::Delete:
        post(store_lane_, [this, cmd] {
            finish_pending_delete();
            if (!store_->history) return;
            auto record = store_->history->find_conversation(cmd->conversation_id);
            store_->pending_delete = cmd->conversation_id;
            store_->pending_title = record ? record->title : "conversation";
            push(Event{EventKind::HistoryChanged, cmd->conversation_id, store_->pending_title});
        });
        break;
    case CommandKind::UndoDelete:
        post(store_lane_, [this] {
            store_->pending_delete = 0;
            store_->pending_title.clear();
            push(Event{EventKind::HistoryChanged, 0, ""});
        });
        break;
    case CommandKind::ListDirectory: post(store_lane_, [this, cmd] { list_directory(cmd->text); }); break;
    case CommandKind::SavePng:
        post(store_lane_, [this, cmd] {
            cv::Mat rgba(cmd->height, cmd->width, CV_8UC4, cmd->bytes.data());
            cv::Mat bgr;
            cv::cvtColor(rgba, bgr, cv::COLOR_RGBA2BGR);
            std::filesystem::path path(cmd->text);
            std::error_code ec;
            if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
            bool ok = false;
            try {
                ok = cv::imwrite(path.string(), bgr);
            } catch (const cv::Exception& e) {
                engine::log_error("worker: writing ", path.string(), ": ", e.what());
            }
            if (!ok) throw Error(ErrorKind::Io, "could not write the screenshot " + path.string());
            Event e{EventKind::Saved};
            e.text = path.string();
            push(std::move(e));
        });
        break;
    case CommandKind::SaveSettings:
        post(store_lane_, [this, cmd] {
            save_settings(settings_file(), cmd->settings);
            Event e{EventKind::Saved};
            e.text = settings_file().string();
            push(std::move(e));
        });
        break;
    }
}

// ---- engine lane ---------------------------------------------------------------------------------

void Worker::load_model(const Command& command) {
    if (stopping_) return;
    const std::string folder = command.text;
    engine_->model.reset();
    engine_->chat.reset();
    engine_->image_embeddings.clear();
    Event start{EventKind::LoadProgress};
    start.folder = folder;
    start.text = "checking the folder";
    push(std::move(start));
    try {
        std::vector<std::string> missing;
        try {
            missing = engine::io::missing_model_files(folder);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::ModelMissing) throw;
            missing = all_model_files();
        }
        if (!missing.empty()) {
            Event e{EventKind::ModelMissing};
            e.folder = folder;
            e.missing_files = missing;
            e.text = "The folder " + folder + " does not hold a complete GLM-4V model.";
            push(std::move(e));
            return;
        }
        engine::model::LoadOptions options;
        options.device = command.device;
        options.low_vram = command.low_vram;
        options.cache_dir = paths_.quant_cache_dir.string();
        double last = -1;
        auto progress = [&](double fraction, const std::string& what) {
            if (fraction - last < 0.01 && fraction < 1) return;
            last = fraction;
            Event e{EventKind::LoadProgress};
            e.progress = fraction;
            e.text = what;
            e.folder = folder;
            push(std::move(e));
        };
        auto started = std::chrono::steady_clock::now();
        engine_->model = engine::model::Glm4v::load(folder, options, progress);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        engine::log_info("worker: loaded ", folder, " on ", engine_->model->device().str(), " in ", seconds, " s");
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::ModelMissing) {
            Event ev{EventKind::ModelMissing};
            ev.folder = folder;
            ev.text = e.what();
            push(std::move(ev));
            return;
        }
        push_failure(0, e);
        return;
    } catch (const std::exception& e) {
        push_failure(0, failure_from(e, "loading the model"));
        return;
    }
    Event ready{EventKind::ModelReady};
    ready.text = engine_->model->device().str();
    ready.folder = folder;
    push(std::move(ready));
    if (engine_->has_image() && !engine_->chat) {
        push(Event{EventKind::Preparing, engine_->id});
        prepare_chat();
        push(Event{EventKind::Prepared, engine_->id});
    }
}

void Worker::start_conversation(std::int64_t id, engine::RgbImage image, std::string image_sha256, std::vector<Turn> turns) {
    EngineState& s = *engine_;
    s.id = id;
    s.image = std::move(image);
    s.image_sha256 = std::move(image_sha256);
    s.turns = std::move(turns);
    s.image_embeddings.clear();
    s.chat.reset();
    if (s.model && s.has_image() && !stopping_) {
        // Encode now, so the first question does not wait for the vision tower.
        push(Event{EventKind::Preparing, id});
        try {
            prepare_chat();
        } catch (const std::exception& e) {
            s.chat.reset();
            push_failure(id, failure_from(e, "reading the image"));
            return;
        }
        push(Event{EventKind::Prepared, id});
    }
}

void Worker::prepare_chat() {
    EngineState& s = *engine_;
    if (s.chat) return;
    if (!s.model) throw Error(ErrorKind::ModelMissing, "the model is not loaded yet");
    auto chat = std::make_unique<runtime::Chat>(s.model);
    if (chat_observer_) chat_observer_(s.id, *chat);
    if (s.has_image()) {
        if (s.image_embeddings.empty() && !s.image_sha256.empty()) {
            try {
                if (!s.embeddings) s.embeddings = std::make_unique<EmbeddingCache>(paths_.embedding_dir);
                if (auto cached = s.embeddings->get(s.image_sha256, s.model->fingerprint())) s.image_embeddings = std::move(*cached);
            } catch (const Error& e) {
                engine::log_warn("worker: embedding cache: ", e.what());
            }
        }
        if (!s.image_embeddings.empty()) {
            chat->set_image_embeddings(s.image_embeddings);
        } else {
            // Answering without the picture while the user thinks the model sees it is worse than not answering.
            if (s.image.pixels.empty())
                throw Error(ErrorKind::InvalidInput, "this conversation's image file is missing or unreadable and its "
                                                     "embeddings are not cached, so the model cannot see it; open the image "
                                                     "again to start a new conversation about it");
            chat->set_image(s.image);
            s.image_embeddings = chat->image_embeddings();
            if (!s.image_sha256.empty() && s.embeddings) {
                try {
                    s.embeddings->put(s.image_sha256, s.model->fingerprint(), s.image_embeddings);
                } catch (const Error& e) {
                    engine::log_warn("worker: embedding cache: ", e.what());
                }
            }
        }
    }
    for (const Turn& t : s.turns) chat->add_past_turn(t.question, t.reply);
    s.chat = std::move(chat);
}

void Worker::ask(std::int64_t conversation_id, const std::string& question, const runtime::GenerationOptions& options) {
    EngineState& s = *engine_;
    if (conversation_id != s.id) {
        push_failure(conversation_id, Error(ErrorKind::InvalidInput, "that conversation is no longer open"));
        return;
    }
    if (!s.model) {
        push_failure(conversation_id, Error(ErrorKind::ModelMissing, "The model is not loaded yet."));
        return;
    }
    if (!s.history && !s.history_failed && s.id >= 0) {
        try {
            s.history = std::make_unique<HistoryStore>(paths_.data_dir);
        } catch (const Error& e) {
            s.history_failed = true;
            engine::log_error("worker: history: ", e.what());
        }
    }
    if (s.id == 0) {
        // A conversation without an image is stored at its first question (one about an image is stored
        // when the image is opened). It gets a title below, like any conversation's first question.
        try {
            if (!s.history) throw Error(ErrorKind::Io, "the history could not be opened");
            s.id = s.history->create_conversation(0, "");
        } catch (const Error& e) {
            // Answering still works, under an id of its own so that it can be cancelled.
            s.id = --unstored_ids_;
            engine::log_warn("worker: this conversation will not be saved: ", e.what());
        }
        conversation_id = s.id;
    }
    auto store = [&](MessageRole role, const std::string& text, const runtime::Reply* reply) {
        if (!s.history || s.id <= 0) return;
        NewMessage m;
        m.role = role;
        m.text = text;
        if (reply) {
            m.token_ids = reply->token_ids;
            m.prompt_tokens = reply->stats.prompt_tokens;
            m.generated_tokens = reply->stats.generated_tokens;
            m.time_to_first_token_ms = reply->stats.time_to_first_token_ms;
            m.tokens_per_second = reply->stats.tokens_per_second;
        }
        try {
            s.history->append_message(s.id, m);
        } catch (const Error& e) {
            engine::log_error("worker: storing a message: ", e.what());
        }
    };

    cancel_requested_ = false;
    generating_id_ = conversation_id;
    store(MessageRole::User, question, nullptr);
    if (s.turns.empty()) {
        const std::string title = title_from_question(question);
        if (s.history && s.id > 0) {
            try {
                s.history->rename_conversation(s.id, title);
            } catch (const Error& e) {
                engine::log_warn("worker: titling the conversation: ", e.what());
            }
        }
        push(Event{EventKind::ConversationStarted, s.id, title});
    }

    std::string partial;
    runtime::Reply reply;
    std::optional<Error> failure;
    // Asked just before the window closed: the question is kept with an empty, stopped reply.
    if (!stopping_) try {
        if (!s.chat) push(Event{EventKind::Preparing, conversation_id});
        prepare_chat();
        {
            std::lock_guard<std::mutex> lock(chat_mutex_);
            active_chat_ = s.chat.get();
        }
        if (cancel_requested_ || stopping_) s.chat->cancel();
        reply = s.chat->ask(question, options, [&](const std::string& piece) {
            partial += piece;
            push(Event{EventKind::TokenPiece, conversation_id, piece});
            if (cancel_requested_ || stopping_) s.chat->cancel();
        });
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Cancelled) {
            reply.finish = runtime::FinishReason::Cancelled;
        } else {
            failure = e;
        }
        reply.text = partial;
        s.chat.reset(); // its state after a throw is unknown: rebuilt from the turns on the next ask
    } catch (const std::exception& e) {
        failure = failure_from(e, "answering");
        reply.text = partial;
        s.chat.reset();
    }
    {
        std::lock_guard<std::mutex> lock(chat_mutex_);
        active_chat_ = nullptr;
    }
    if (cancel_requested_ || stopping_) reply.finish = runtime::FinishReason::Cancelled;
    generating_id_ = 0;

    s.turns.push_back({question, reply.text, reply.stats});
    store(MessageRole::Assistant, reply.text, &reply);

    Event done{EventKind::ReplyDone, conversation_id, reply.text};
    done.stats = reply.stats;
    done.finish = reply.finish;
    if (failure) {
        done.error_kind = failure->kind();
        done.error = failure->what();
    }
    if (s.chat) {
        done.context_used = s.chat->context_used();
        done.context_limit = s.chat->context_limit();
    }
    push(std::move(done));
    if (failure) push_failure(conversation_id, *failure);
}

void Worker::redo_last(std::int64_t conversation_id, const std::string* new_question, const runtime::GenerationOptions& options) {
    EngineState& s = *engine_;
    if (conversation_id != s.id || s.turns.empty()) return;
    std::string question = new_question ? *new_question : s.turns.back().question;
    s.turns.pop_back();
    s.chat.reset(); // the KV cache holds the old turn: re-enter the ones before it
    // The stored conversation keeps the old exchange as well: the history store cannot drop a message yet.
    ask(conversation_id, question, options);
}

// ---- store lane ----------------------------------------------------------------------------------


void Worker::open_image(const Command& command) {
    IntakeImage in;
    ImageInfo info;
    try {
        if (command.kind == CommandKind::OpenImageFile) {
            in = decode_image_file(command.text);
            info.name = std::filesystem::path(command.text).filename().string();
        } else {
            in = decode_image_bytes(command.bytes, "clipboard image");
            info.name = "clipboard";
        }
    } catch (const Error& e) {
        push_failure(0, e);
        return;
    }
    info.format = image_format_name(in.format);
    info.width = in.width;
    info.height = in.height;
    info.file_bytes = static_cast<std::int64_t>(in.file_bytes.size());

    std::int64_t id = 0;
    std::string sha = in.sha256;
    try {
        HistoryStore& history = open_store(store_->history, store_->embeddings, paths_);
        NewImage image;
        image.file_bytes = in.file_bytes;
        image.format = info.format;
        image.width = in.width;
        image.height = in.height;
        image.thumbnail_png = make_thumbnail_png(in.image);
        ImageRecord record = history.add_image(image);
        sha = record.sha256;
        id = history.create_conversation(record.id, info.name);
    } catch (const Error& e) {
        // Chatting still works; the conversation is just not kept.
        id = --unstored_ids_;
        push_failure(id, Error(e.kind(), std::string("This conversation will not be saved: ") + e.what()));
    }
    Event opened{EventKind::ImageOpened, id};
    opened.image = in.image;
    opened.image_info = info;
    // Queued before the event goes out, so an Ask sent on seeing the event runs after it.
    auto image = std::make_shared<engine::RgbImage>(std::move(in.image));
    post(engine_lane_, [this, id, image, sha] { start_conversation(id, std::move(*image), sha, {}); });
    push(std::move(opened));
}

void Worker::list_history(const std::string& query) {
    HistoryStore& history = open_store(store_->history, store_->embeddings, paths_);
    if (!store_->swept) {
        // Conversations never asked about (an image opened, then left) are not kept.
        store_->swept = true;
        for (const ConversationRecord& c : history.list_conversations())
            if (c.message_count == 0) history.delete_conversation(c.id);
    }
    std::vector<ConversationRecord> records;
    if (query.find_first_not_of(" \t") == std::string::npos) {
        records = history.list_conversations(500);
    } else {
        std::set<std::int64_t> seen;
        for (const SearchHit& hit : history.search(query, 200))
            if (seen.insert(hit.conversation_id).second)
                if (auto c = history.find_conversation(hit.conversation_id)) records.push_back(*c);
    }
    Event e{EventKind::HistoryList};
    e.text = query;
    for (const ConversationRecord& c : records) {
        if (c.message_count == 0 || c.id == store_->pending_delete) continue;
        HistoryItem item;
        item.conversation_id = c.id;
        item.image_id = c.image_id;
        item.title = c.title;
        item.updated_ms = c.updated_ms;
        if (c.image_id && !store_->sent_thumbnails.count(c.image_id)) {
            if (auto image = history.find_image(c.image_id); image && !image->thumbnail_png.empty()) {
                try {
                    item.thumbnail = decode_image_bytes(image->thumbnail_png, "thumbnail").image;
                    store_->sent_thumbnails.insert(c.image_id);
                } catch (const Error& err) {
                    engine::log_warn("worker: thumbnail of image ", c.image_id, ": ", err.what());
                }
            }
        }
        e.history.push_back(std::move(item));
    }
    push(std::move(e));
}

void Worker::reopen(std::int64_t conversation_id) {
    HistoryStore& history = open_store(store_->history, store_->embeddings, paths_);
    auto record = history.find_conversation(conversation_id);
    if (!record) throw Error(ErrorKind::InvalidInput, "that conversation no longer exists");
    std::vector<Turn> turns = turns_from_messages(history.messages(conversation_id));
    Event loaded{EventKind::ConversationLoaded, conversation_id};
    loaded.turns = turns;
    loaded.text = record->title;
    std::string sha;
    if (record->image_id) {
        auto image = history.find_image(record->image_id);
        if (image) {
            sha = image->sha256;
            loaded.image_info.name = record->title;
            loaded.image_info.format = image->format;
            loaded.image_info.width = image->width;
            loaded.image_info.height = image->height;
            loaded.image_info.file_bytes = image->byte_size;
            try {
                loaded.image = decode_image_file(image->file).image;
            } catch (const Error& e) {
                push_failure(conversation_id, Error(e.kind(), std::string("The conversation's image is unreadable: ") + e.what()));
            }
        }
    }
    auto image = std::make_shared<engine::RgbImage>(loaded.image);
    // Queued before the event goes out, so an Ask sent on seeing the event runs after it.
    post(engine_lane_, [this, conversation_id, image, sha, turns]() mutable {
        start_conversation(conversation_id, std::move(*image), sha, std::move(turns));
    });
    push(std::move(loaded));
}

void Worker::finish_pending_delete() {
    if (!store_->pending_delete || !store_->history) return;
    const std::int64_t id = store_->pending_delete;
    store_->pending_delete = 0;
    store_->pending_title.clear();
    try {
        store_->history->delete_conversation(id);
    } catch (const Error& e) {
        engine::log_error("worker: deleting conversation ", id, ": ", e.what());
    }
}

void Worker::list_directory(const std::string& folder) {
    Event e{EventKind::DirectoryListing};
    e.folder = folder;
    std::error_code ec;
    std::filesystem::directory_iterator it(folder, std::filesystem::directory_options::skip_permission_denied, ec);
    if (ec) {
        e.text = "Cannot read " + folder + ": " + ec.message();
        push(std::move(e));
        return;
    }
    for (const auto& entry : it) {
        std::string name = entry.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        FolderEntry f;
        f.name = name;
        std::error_code ignored;
        f.is_directory = entry.is_directory(ignored);
        if (!f.is_directory) f.bytes = static_cast<std::int64_t>(entry.file_size(ignored));
        e.entries.push_back(std::move(f));
        if (e.entries.size() >= 5000) break;
    }
    std::sort(e.entries.begin(), e.entries.end(), [](const FolderEntry& a, const FolderEntry& b) {
        if (a.is_directory != b.is_directory) return a.is_directory;
        return a.name < b.name;
    });
    push(std::move(e));
}

} // namespace glm4v::app
