#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <sqlite3.h>

#include "app/embedding_cache.h"
#include "app/history_schema.h"
#include "app/history_store.h"
#include "app/paths.h"
#include "app/search_grams.h"
#include "app/sha256.h"
#include "engine/error.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace fs = std::filesystem;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;

namespace {

app::NewImage fake_image(const std::string& content) {
    // The store keeps bytes as given and never decodes them, so any bytes do.
    app::NewImage image;
    image.file_bytes.assign(content.begin(), content.end());
    image.format = "png";
    image.width = 640;
    image.height = 480;
    image.thumbnail_png = {1, 2, 3};
    return image;
}

app::NewMessage message(app::MessageRole role, const std::string& text) {
    app::NewMessage m;
    m.role = role;
    m.text = text;
    return m;
}

std::vector<std::int64_t> message_ids(const std::vector<app::SearchHit>& hits) {
    std::vector<std::int64_t> ids;
    for (const auto& hit : hits)
        if (hit.message_id) ids.push_back(hit.message_id);
    return ids;
}

ErrorKind kind_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e.kind();
    }
    FAIL("no engine::Error was thrown");
    return ErrorKind::Io;
}

} // namespace

TEST_CASE("a conversation with follow-ups survives reopening the store", "[app][history]") {
    glm4v::test::ScratchHome home;
    std::int64_t conversation = 0, image_id = 0;
    {
        app::HistoryStore store(app::data_dir());
        CHECK(store.schema_version() == app::kHistorySchemaVersion);
        image_id = store.add_image(fake_image("photo bytes")).id;
        conversation = store.create_conversation(image_id, "菜单 photo", R"({"temperature":0.8})");
        store.append_message(conversation, message(app::MessageRole::User, "这是什么菜？"));
        app::NewMessage reply = message(app::MessageRole::Assistant, "这是宫保鸡丁。");
        reply.token_ids = {151331, 0, 42};
        reply.prompt_tokens = 1620;
        reply.generated_tokens = 3;
        reply.time_to_first_token_ms = 612.5;
        reply.tokens_per_second = 9.75;
        store.append_message(conversation, reply);
        store.append_message(conversation, message(app::MessageRole::User, "How spicy is it?"));
        store.append_message(conversation, message(app::MessageRole::Assistant, "Medium."));
    }
    app::HistoryStore store(app::data_dir());
    const auto record = store.find_conversation(conversation);
    REQUIRE(record);
    CHECK(record->title == "菜单 photo");
    CHECK(record->image_id == image_id);
    CHECK(record->settings_json == R"({"temperature":0.8})");
    CHECK(record->message_count == 4);
    const auto messages = store.messages(conversation);
    REQUIRE(messages.size() == 4);
    CHECK(messages[0].role == app::MessageRole::User);
    CHECK(messages[0].text == "这是什么菜？");
    CHECK(messages[1].role == app::MessageRole::Assistant);
    CHECK(messages[1].token_ids == std::vector<std::int64_t>{151331, 0, 42});
    CHECK(messages[1].prompt_tokens == 1620);
    CHECK(messages[1].generated_tokens == 3);
    CHECK(messages[1].time_to_first_token_ms == Approx(612.5));
    CHECK(messages[1].tokens_per_second == Approx(9.75));
    CHECK(messages[2].text == "How spicy is it?");
    CHECK(messages[3].text == "Medium.");
    CHECK(messages[0].id < messages[3].id);
    CHECK(store.integrity_check() == "ok");
}

TEST_CASE("the same photo dropped twice is one image row and one file", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    const auto first = store.add_image(fake_image("same bytes"));
    const auto second = store.add_image(fake_image("same bytes"));
    CHECK(first.id == second.id);
    CHECK(first.sha256 == app::sha256_hex(std::string("same bytes")));
    CHECK(first.file == app::history_images_dir() / (first.sha256 + ".png"));
    CHECK(glm4v::test::read_file(first.file) == "same bytes");
    CHECK(first.thumbnail_png == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(first.byte_size == 10);
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(store.images_dir())) {
        (void)entry;
        ++files;
    }
    CHECK(files == 1);
    CHECK(store.add_image(fake_image("other bytes")).id != first.id);

    // A file lost behind the store's back comes back when the image is added again.
    fs::remove(first.file);
    store.add_image(fake_image("same bytes"));
    CHECK(glm4v::test::read_file(first.file) == "same bytes");
}

TEST_CASE("search finds Chinese substrings of every length, English words and titles", "[app][history][search]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    const auto receipts = store.create_conversation(0, "Receipts");
    const auto dinner = store.create_conversation(0, "晚饭");
    const auto invoice = store.append_message(receipts, message(app::MessageRole::User, "请帮我看看这张发票的抬头")).id;
    const auto amount = store.append_message(receipts, message(app::MessageRole::Assistant, "发票金额是 120 元")).id;
    const auto menu = store.append_message(dinner, message(app::MessageRole::User, "Translate this MENU please")).id;
    const auto dish = store.append_message(dinner, message(app::MessageRole::Assistant, "菜单上有宫保鸡丁")).id;

    using Ids = std::vector<std::int64_t>;
    CHECK(message_ids(store.search("发票")) == Ids{amount, invoice});   // two characters
    CHECK(message_ids(store.search("票")) == Ids{amount, invoice});     // one character
    CHECK(message_ids(store.search("发票的抬头")) == Ids{invoice});      // five
    CHECK(message_ids(store.search("张发票")) == Ids{invoice});          // three
    CHECK(message_ids(store.search("菜单")) == Ids{dish});
    CHECK(message_ids(store.search("menu")) == Ids{menu});              // case ignored
    CHECK(message_ids(store.search("Translate please")) == Ids{menu});  // every term, any order
    CHECK(message_ids(store.search("发票 120")) == Ids{amount});        // short and long terms together
    CHECK(message_ids(store.search("菜单 发票")).empty());
    CHECK(message_ids(store.search("发货")).empty());
    CHECK(store.search("   ").empty());

    const auto titles = store.search("晚饭");
    REQUIRE(titles.size() == 1);
    CHECK(titles[0].conversation_id == dinner);
    CHECK(titles[0].message_id == 0);
    const auto receipt_title = store.search("receipt");
    REQUIRE(receipt_title.size() == 1);
    CHECK(receipt_title[0].conversation_id == receipts);

    const auto hit = store.search("抬头");
    REQUIRE(hit.size() == 1);
    CHECK(hit[0].conversation_id == receipts);
    CHECK(hit[0].title == "Receipts");
    CHECK(hit[0].snippet == "请帮我看看这张发票的抬头");

    // Queries are data, never FTS5 syntax.
    CHECK_NOTHROW(store.search("\"AND OR NOT ( * ^ : %_\\"));
}

TEST_CASE("rename changes the title that lists and searches see", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    const auto id = store.create_conversation(0, "old title");
    store.rename_conversation(id, "账单 March");
    CHECK(store.find_conversation(id)->title == "账单 March");
    CHECK(store.search("账单").size() == 1);
    CHECK(store.search("old").empty());
    CHECK(kind_of([&] { store.rename_conversation(id + 100, "x"); }) == ErrorKind::InvalidInput);
}

TEST_CASE("conversations are listed most recently updated first", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    const auto a = store.create_conversation(0, "a");
    const auto b = store.create_conversation(0, "b");
    store.append_message(a, message(app::MessageRole::User, "later"));
    const auto list = store.list_conversations();
    REQUIRE(list.size() == 2);
    CHECK(list[0].id == a);
    CHECK(list[0].message_count == 1);
    CHECK(list[1].id == b);
    CHECK(store.list_conversations(1, 1).at(0).id == b);
}

TEST_CASE("deleting a conversation removes its image and embeddings only when nothing else uses them",
          "[app][history]") {
    glm4v::test::ScratchHome home;
    app::EmbeddingCache cache(app::embedding_cache_dir());
    app::HistoryStore store(app::data_dir(), &cache);
    const auto image = store.add_image(fake_image("shared photo"));
    const auto first = store.create_conversation(image.id, "first");
    const auto second = store.create_conversation(image.id, "second");
    store.append_message(first, message(app::MessageRole::User, "独一无二的问题"));
    cache.put(image.sha256, "model-a", {1.0f, 2.0f});
    cache.put(image.sha256, "model-b", {3.0f});

    const auto kept = store.delete_conversation(first);
    CHECK_FALSE(kept.image_removed);
    CHECK(fs::exists(image.file));
    CHECK(store.find_image(image.id));
    CHECK(cache.get(image.sha256, "model-a"));
    CHECK_FALSE(store.find_conversation(first));
    CHECK(store.messages(first).empty());
    CHECK(store.search("独一无二").empty()); // its search entries went with it
    CHECK(store.search("一").empty());

    const auto removed = store.delete_conversation(second);
    CHECK(removed.image_removed);
    CHECK(removed.image_sha256 == image.sha256);
    CHECK_FALSE(fs::exists(image.file));
    CHECK_FALSE(store.find_image(image.id));
    CHECK_FALSE(cache.get(image.sha256, "model-a"));
    CHECK_FALSE(cache.get(image.sha256, "model-b"));
    CHECK(store.integrity_check() == "ok");
    CHECK(kind_of([&] { store.delete_conversation(second); }) == ErrorKind::InvalidInput);
}

TEST_CASE("bad arguments are InvalidInput and change nothing", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    CHECK(kind_of([&] { store.append_message(12345, message(app::MessageRole::User, "x")); }) ==
          ErrorKind::InvalidInput);
    CHECK(kind_of([&] { store.create_conversation(999, "no such image"); }) == ErrorKind::InvalidInput);
    auto bad_format = fake_image("x");
    bad_format.format = "../../etc";
    CHECK(kind_of([&] { store.add_image(bad_format); }) == ErrorKind::InvalidInput);
    const auto id = store.create_conversation(0, "t");
    app::NewMessage bad_tokens = message(app::MessageRole::Assistant, "x");
    bad_tokens.token_ids = {-1};
    CHECK(kind_of([&] { store.append_message(id, bad_tokens); }) == ErrorKind::InvalidInput);
    CHECK(store.messages(id).empty());
}

TEST_CASE("a version 1 database is migrated forward and its old messages become searchable", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::ensure_dir(app::data_dir());
    {
        // Version 1 exactly as it shipped (history_schema.cpp), written without the store.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(app::history_db_path().c_str(), &db) == SQLITE_OK);
        const char* v1 = R"sql(
CREATE TABLE images (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, byte_size INTEGER NOT NULL,
    format TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, thumbnail_png BLOB, created_ms INTEGER NOT NULL);
CREATE TABLE conversations (id INTEGER PRIMARY KEY, image_id INTEGER REFERENCES images(id), title TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, settings_json TEXT NOT NULL DEFAULT '{}');
CREATE INDEX conversations_by_image ON conversations(image_id);
CREATE INDEX conversations_by_updated ON conversations(updated_ms);
CREATE TABLE messages (id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')), text TEXT NOT NULL, token_ids BLOB,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, generated_tokens INTEGER NOT NULL DEFAULT 0,
    time_to_first_token_ms REAL, tokens_per_second REAL, created_ms INTEGER NOT NULL);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
INSERT INTO conversations (id, title, created_ms, updated_ms) VALUES (7, 'old trip', 1000, 2000);
INSERT INTO messages (id, conversation_id, role, text, created_ms) VALUES (70, 7, 'user', '这张菜单写了什么', 1500);
INSERT INTO messages (id, conversation_id, role, text, created_ms) VALUES (71, 7, 'assistant', 'A noodle menu', 1600);
PRAGMA user_version = 1;
)sql";
        REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    app::HistoryStore store(app::data_dir());
    CHECK(store.schema_version() == app::kHistorySchemaVersion);
    REQUIRE(store.find_conversation(7));
    CHECK(store.find_conversation(7)->title == "old trip");
    CHECK(store.messages(7).size() == 2);
    CHECK(message_ids(store.search("菜单")) == std::vector<std::int64_t>{70});
    CHECK(message_ids(store.search("noodle")) == std::vector<std::int64_t>{71});
    // New writes after the migration are indexed by its triggers.
    const auto added = store.append_message(7, message(app::MessageRole::User, "还有别的菜单吗")).id;
    CHECK(message_ids(store.search("菜单")) == std::vector<std::int64_t>{added, 70});
    CHECK(store.integrity_check() == "ok");
}

TEST_CASE("a database from a newer version of the app is refused, not touched", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::ensure_dir(app::data_dir());
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(app::history_db_path().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE future (x); PRAGMA user_version = 99;", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
    CHECK(kind_of([] { app::HistoryStore store(app::data_dir()); }) == ErrorKind::Unsupported);
}

TEST_CASE("search over 100,000 messages answers in milliseconds", "[app][history][search][perf]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    // Common characters without 发, 票, 抬 and 头, so the planted words are the only matches.
    const std::u32string pool = U"的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还成事只作当想看文无开手十用主行方又如前所本见经";
    const char* words[] = {"the", "photo", "shows", "a", "table", "with", "noodles", "and", "tea", "light"};
    std::mt19937 random(1234);
    const auto conversation = store.create_conversation(0, "bulk");
    constexpr int kMessages = 100000, kBatch = 10000;
    int planted = 0;
    const auto insert_start = std::chrono::steady_clock::now();
    for (int batch = 0; batch < kMessages / kBatch; ++batch) {
        std::vector<app::NewMessage> messages(kBatch);
        for (int i = 0; i < kBatch; ++i) {
            const int n = batch * kBatch + i;
            std::u32string text;
            for (int k = 0; k < 24; ++k) text.push_back(pool[random() % pool.size()]);
            std::string utf8 = app::utf8_encode(text) + " ";
            for (int k = 0; k < 3; ++k) utf8 += std::string(words[random() % 10]) + " ";
            if (n % 1000 == 500) {
                utf8 += "发票抬头 invoice";
                ++planted;
            }
            messages[static_cast<std::size_t>(i)] = message(app::MessageRole::Assistant, utf8);
        }
        store.append_messages(conversation, messages);
    }
    const double insert_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - insert_start).count();

    // Best of three, so a busy CI machine's scheduling does not count as search time.
    auto timed = [&](const std::string& query, int limit) {
        std::vector<app::SearchHit> hits;
        double ms = 1e9;
        for (int run = 0; run < 3; ++run) {
            const auto start = std::chrono::steady_clock::now();
            hits = store.search(query, limit);
            ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        WARN("search '" << query << "' over " << kMessages << " messages: " << hits.size() << " hits in " << ms
                        << " ms");
        return std::make_pair(hits.size(), ms);
    };
    WARN("inserting " << kMessages << " messages (indexed) took " << insert_s << " s");
    for (const char* query : {"发票", "票", "发票抬头", "invoice", "票 invoice"}) {
        const auto [count, ms] = timed(query, 1000);
        CHECK(count == static_cast<std::size_t>(planted));
        CHECK(ms < 50.0);
    }
    // A common pair: many matches, but only the newest `limit` are read.
    const auto [count, ms] = timed("的一", 50);
    CHECK(count == 50);
    CHECK(ms < 50.0);
}

TEST_CASE("messages appended in one batch keep their order, ids and search entries", "[app][history]") {
    glm4v::test::ScratchHome home;
    app::HistoryStore store(app::data_dir());
    const auto conversation = store.create_conversation(0, "batch");
    const auto single = store.append_message(conversation, message(app::MessageRole::User, "first")).id;
    std::vector<app::NewMessage> batch = {message(app::MessageRole::Assistant, "第二条 second"),
                                          message(app::MessageRole::User, "third 发票")};
    batch[0].token_ids = {5, 6};
    const auto ids = store.append_messages(conversation, batch);
    REQUIRE(ids.size() == 2);
    const auto stored = store.messages(conversation);
    REQUIRE(stored.size() == 3);
    CHECK(stored[0].id == single);
    CHECK(stored[1].id == ids[0]);
    CHECK(stored[1].text == "第二条 second");
    CHECK(stored[1].token_ids == std::vector<std::int64_t>{5, 6});
    CHECK(stored[2].id == ids[1]);
    CHECK(stored[2].role == app::MessageRole::User);
    CHECK(message_ids(store.search("发票")) == std::vector<std::int64_t>{ids[1]});
    CHECK(message_ids(store.search("二")) == std::vector<std::int64_t>{ids[0]});
    CHECK(store.append_messages(conversation, {}).empty());
}

TEST_CASE("opening the store sweeps old unreferenced image files and leaves recent ones", "[app][history]") {
    glm4v::test::ScratchHome home;
    fs::path kept, old_orphan, old_temporary, new_orphan;
    {
        app::HistoryStore store(app::data_dir());
        kept = store.add_image(fake_image("referenced")).file;
        old_orphan = store.images_dir() / (app::sha256_hex(std::string("orphan")) + ".png");
        old_temporary = store.images_dir() / ".tmp-1-0-abc.png";
        new_orphan = store.images_dir() / (app::sha256_hex(std::string("in flight")) + ".png");
        for (const auto& path : {old_orphan, old_temporary, new_orphan}) glm4v::test::write_file(path, "x");
        const auto two_hours_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
        for (const auto& path : {kept, old_orphan, old_temporary}) fs::last_write_time(path, two_hours_ago);
    }
    app::HistoryStore store(app::data_dir());
    CHECK(fs::exists(kept));
    CHECK_FALSE(fs::exists(old_orphan));
    CHECK_FALSE(fs::exists(old_temporary));
    CHECK(fs::exists(new_orphan)); // maybe another process between writing the file and its row
}
