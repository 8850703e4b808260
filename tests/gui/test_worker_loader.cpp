// The window's worker when its engine module cannot be loaded (a broken install): one Failed event that says so
// and names the module, commands sent before it dropped, and a clean shutdown. The module loading for real is
// test_gui_window's (the window's first question is answered through it).
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "app/gui/worker_loader.h"
#include "tests/support/test_support.h"

using namespace glm4v::app;

TEST_CASE("a window whose engine module is missing says so once", "[gui][worker_loader]") {
    // This test's executable has no libglm4v-worker.so beside it, nor under ../lib*/glm4v-desktop.
    REQUIRE_THAT(gui::worker_module_path(), Catch::EndsWith("libglm4v-worker.so"));
    glm4v::test::ScratchDir dir;
    std::mutex mutex;
    std::condition_variable woken;
    int wakes = 0;
    {
        gui::LoadedWorker worker({dir / "data", dir / "embeddings", dir / "cache"}, [&] {
            std::lock_guard<std::mutex> lock(mutex);
            ++wakes;
            woken.notify_all();
        });
        Command load(CommandKind::LoadModel);
        load.text = (dir / "model").string();
        worker.submit(load); // waits for the module, which never comes
        std::vector<Event> events;
        worker.drain_events(events);
        CHECK(events.empty()); // not started yet: nothing to say
        worker.start();
        {
            std::unique_lock<std::mutex> lock(mutex);
            REQUIRE(woken.wait_for(lock, std::chrono::seconds(30), [&] { return wakes > 0; }));
        }
        worker.drain_events(events);
        REQUIRE(events.size() == 1);
        CHECK(events[0].kind == EventKind::Failed);
        CHECK(events[0].conversation_id == 0);
        CHECK_THAT(events[0].text, Catch::Contains("could not load its engine") && Catch::Contains("libglm4v-worker.so"));
        events.clear();
        worker.submit(Command(CommandKind::Ask));
        worker.drain_events(events);
        CHECK(events.empty()); // said once
        worker.shutdown();
    }
}
