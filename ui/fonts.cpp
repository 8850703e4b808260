#include "ui/fonts.h"

#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_freetype.h>

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace glm4v::ui {
namespace {

// Always in the atlas: Latin, general and CJK punctuation, the replacement character. Everything else
// arrives through fonts_note_text; a small base keeps each new atlas quick to upload.
const ImWchar kBaseRanges[] = {
    0x0020, 0x017F, 0x2000, 0x206F, 0x3000, 0x303F, 0xFFFD, 0xFFFD, 0,
};

struct FaceFile {
    std::string path;
    int index = 0; // face inside a .ttc collection
};

struct FontFiles {
    FaceFile regular, bold, mono;
    std::string status;
};

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// Known places of Noto Sans CJK (Debian/Ubuntu, Arch, Fedora), then DejaVu, then ImGui's own font.
// GLM4V_FONT names a regular face to use instead. Runs on the builder thread (it touches files).
FontFiles find_font_files() {
    FontFiles files;
    if (const char* env = std::getenv("GLM4V_FONT"); env && *env && file_exists(env)) {
        files.regular = files.bold = files.mono = {env, 0};
        files.status = std::string("GLM4V_FONT: ") + env;
        return files;
    }
    const char* dirs[] = {"/usr/share/fonts/opentype/noto/", "/usr/share/fonts/noto-cjk/",
                          "/usr/share/fonts/google-noto-cjk/", "/usr/share/fonts/opentype/noto-cjk/"};
    for (const char* dir : dirs) {
        std::string regular = std::string(dir) + "NotoSansCJK-Regular.ttc";
        if (!file_exists(regular)) continue;
        std::string bold = std::string(dir) + "NotoSansCJK-Bold.ttc";
        // Collection faces: 2 = Noto Sans CJK SC, 7 = Noto Sans Mono CJK SC.
        files.regular = {regular, 2};
        files.bold = file_exists(bold) ? FaceFile{bold, 2} : files.regular;
        files.mono = {regular, 7};
        files.status = "Noto Sans CJK SC: " + regular;
        return files;
    }
    const std::string dejavu = "/usr/share/fonts/truetype/dejavu/";
    if (file_exists(dejavu + "DejaVuSans.ttf")) {
        files.regular = {dejavu + "DejaVuSans.ttf", 0};
        files.bold = {file_exists(dejavu + "DejaVuSans-Bold.ttf") ? dejavu + "DejaVuSans-Bold.ttf" : files.regular.path, 0};
        files.mono = {file_exists(dejavu + "DejaVuSansMono.ttf") ? dejavu + "DejaVuSansMono.ttf" : files.regular.path, 0};
        files.status = "Noto Sans CJK not found (install fonts-noto-cjk): Chinese shows as '?'. Using DejaVu Sans.";
        return files;
    }
    files.status = "No Noto Sans CJK or DejaVu font found (install fonts-noto-cjk): using ImGui's built-in font.";
    return files;
}

struct Built {
    std::unique_ptr<ImFontAtlas> atlas;
    ImVector<ImWchar> ranges; // the atlas's fonts point into this
    FontSet set;
};

class Manager {
public:
    Manager() : noted_(0x10000, false) {
        for (const ImWchar* r = kBaseRanges; r[0]; r += 2)
            for (unsigned c = r[0]; c <= r[1]; ++c) noted_[c] = true;
        initial_ = std::make_unique<ImFontAtlas>();
        ImFont* font = initial_->AddFontDefault();
        set_ = {font, font, font, font, font, 13.0f};
    }

    ImFontAtlas* initial_atlas() { return initial_.get(); }
    const FontSet& set() const { return set_; }

    void request_size(float pixel_size) {
        if (pixel_size == size_) return;
        size_ = pixel_size;
        dirty_ = true;
    }

    void note(std::string_view text) {
        const char* p = text.data();
        const char* end = p + text.size();
        while (p < end) {
            if (static_cast<unsigned char>(*p) < 0x80) { // ASCII is always there
                ++p;
                continue;
            }
            unsigned c = decode_utf8(p, end);
            if (c < 0x10000 && !noted_[c]) {
                noted_[c] = true;
                extra_chars_.push_back(static_cast<ImWchar>(c));
                dirty_ = true;
            }
        }
    }

    bool pending() const { return dirty_ || in_flight_; }
    bool built() const { return current_ != nullptr; }

    bool update() {
        std::unique_ptr<Built> finished;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            finished = std::move(finished_);
        }
        bool changed = false;
        if (finished) {
            unsigned char* pixels = nullptr;
            int width = 0, height = 0;
            finished->atlas->GetTexDataAsRGBA32(&pixels, &width, &height);
            // RGBA like every other texture here: software GL (llvmpipe) compiles a shader variant per
            // texture format on first use, which would stall the first frame after a swap.
            GLuint texture = 0;
            glGenTextures(1, &texture);
            glBindTexture(GL_TEXTURE_2D, texture);
            glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
            glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
            glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
            glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
            finished->atlas->SetTexID(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(texture)));
            finished->atlas->ClearTexData();
            ImGui::GetIO().Fonts = finished->atlas.get();
            set_ = finished->set;
            if (current_texture_) glDeleteTextures(1, &current_texture_);
            current_texture_ = texture;
            current_ = std::move(finished);
            in_flight_ = false;
            changed = true;
        }
        if (!in_flight_ && dirty_) start_build();
        return changed;
    }

    std::string status() {
        std::lock_guard<std::mutex> lock(mutex_);
        return status_;
    }

    void shutdown() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
        if (current_texture_) glDeleteTextures(1, &current_texture_);
        current_texture_ = 0;
        ImGuiIO& io = ImGui::GetIO();
        io.Fonts = initial_.get();
        current_.reset();
        finished_.reset();
    }

private:
    void start_build() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            request_chars_ = extra_chars_;
            request_size_ = size_;
            request_ready_ = true;
        }
        dirty_ = false;
        in_flight_ = true;
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        wake_.notify_all();
    }

    void run() {
        FontFiles files = find_font_files();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            status_ = files.status;
        }
        std::vector<char> regular = read(files.regular.path);
        std::vector<char> bold = files.bold.path == files.regular.path ? std::vector<char>() : read(files.bold.path);
        std::vector<char> mono = (files.mono.path == files.regular.path || files.mono.path == files.bold.path)
                                     ? std::vector<char>()
                                     : read(files.mono.path);
        auto data_of = [&](const FaceFile& face) -> std::vector<char>* {
            if (face.path.empty()) return nullptr;
            if (face.path == files.regular.path) return regular.empty() ? nullptr : &regular;
            if (face.path == files.bold.path) return bold.empty() ? nullptr : &bold;
            return mono.empty() ? nullptr : &mono;
        };
        for (;;) {
            std::vector<ImWchar> chars;
            float size = 0;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [this] { return stop_ || request_ready_; });
                if (stop_) return;
                chars = request_chars_;
                size = request_size_;
                request_ready_ = false;
            }
            auto built = std::make_unique<Built>();
            built->atlas = std::make_unique<ImFontAtlas>();
            ImFontAtlas& atlas = *built->atlas;
            atlas.FontBuilderIO = ImGuiFreeType::GetBuilderForFreeType();
            // Power-of-two sides, always: llvmpipe keys its compiled shader variants on whether a texture's
            // sides are powers of two, so an atlas that flipped between the two cost a 120 ms frame mid-reply.
            atlas.TexDesiredWidth = chars.size() > 2000 ? 4096 : 2048;
            ImFontGlyphRangesBuilder ranges;
            ranges.AddRanges(kBaseRanges);
            for (ImWchar c : chars) ranges.AddChar(c);
            ranges.BuildRanges(&built->ranges);
            auto add = [&](const FaceFile& face, float pixels, unsigned flags) -> ImFont* {
                ImFontConfig config;
                config.SizePixels = pixels;
                std::vector<char>* data = data_of(face);
                if (!data) return atlas.AddFontDefault(&config);
                config.FontDataOwnedByAtlas = false;
                config.FontNo = face.index;
                config.FontBuilderFlags = flags;
                config.GlyphRanges = built->ranges.Data;
                return atlas.AddFontFromMemoryTTF(data->data(), static_cast<int>(data->size()), pixels, &config);
            };
            built->set.regular = add(files.regular, size, 0);
            built->set.bold = add(files.bold, size, 0);
            built->set.italic = add(files.regular, size, ImGuiFreeTypeBuilderFlags_Oblique);
            built->set.mono = add(files.mono, size, 0);
            built->set.heading = add(files.bold, size * 1.3f, 0);
            built->set.size = size;
            if (!atlas.Build()) {
                // A face the builder rejects: fall back to ImGui's own font rather than a blank window.
                atlas.Clear();
                ImFontConfig config;
                config.SizePixels = size;
                ImFont* font = atlas.AddFontDefault(&config);
                built->set = {font, font, font, font, font, size};
                atlas.Build();
                std::lock_guard<std::mutex> lock(mutex_);
                status_ = "Could not build the font atlas from " + files.regular.path + ": using ImGui's built-in font.";
            }
            unsigned char* pixels = nullptr;
            int width = 0, height = 0;
            atlas.GetTexDataAsRGBA32(&pixels, &width, &height); // rasterized and converted here, not on the UI thread
            {
                std::lock_guard<std::mutex> lock(mutex_);
                finished_ = std::move(built);
            }
            glfwPostEmptyEvent();
        }
    }

    static std::vector<char> read(const std::string& path) {
        if (path.empty()) return {};
        std::ifstream in(path, std::ios::binary);
        return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    // Shared with the builder thread, under mutex_.
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
    bool stop_ = false;
    bool request_ready_ = false;
    std::vector<ImWchar> request_chars_;
    float request_size_ = 0;
    std::unique_ptr<Built> finished_;
    std::string status_ = "Loading fonts...";

    // UI thread only.
    std::vector<bool> noted_;
    std::vector<ImWchar> extra_chars_;
    bool dirty_ = false;
    bool in_flight_ = false;
    float size_ = 0;
    std::unique_ptr<ImFontAtlas> initial_;
    std::unique_ptr<Built> current_;
    GLuint current_texture_ = 0;
    FontSet set_;
};

Manager& manager() {
    static Manager instance;
    return instance;
}

} // namespace

unsigned decode_utf8(const char*& p, const char* end) {
    const auto* s = reinterpret_cast<const unsigned char*>(p);
    unsigned c = s[0];
    int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || end - p < extra + 1) {
        ++p;
        return 0xFFFD;
    }
    if (extra == 0) {
        ++p;
        return c;
    }
    c &= (0x3F >> extra);
    for (int i = 1; i <= extra; ++i) {
        if ((s[i] & 0xC0) != 0x80) {
            p += i;
            return 0xFFFD;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    p += extra + 1;
    return c;
}

const FontSet& fonts() { return manager().set(); }
ImFontAtlas* fonts_initial_atlas() { return manager().initial_atlas(); }
void fonts_request_size(float pixel_size) { manager().request_size(pixel_size); }
bool fonts_update_between_frames() { return manager().update(); }
void fonts_note_text(std::string_view utf8) { manager().note(utf8); }
bool fonts_pending() { return manager().pending(); }
bool fonts_built() { return manager().built(); }
std::string fonts_status() { return manager().status(); }
void fonts_shutdown() { manager().shutdown(); }

} // namespace glm4v::ui
