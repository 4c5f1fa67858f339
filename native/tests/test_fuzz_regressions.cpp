// Replays the fuzz targets' committed inputs in every build (no clang needed): each file under
// tests/fuzz-regressions/<target>/ once crashed or misbehaved and must now pass cleanly, and the
// seed corpus must go through every target (which also checks the harnesses themselves).
#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "ember/ember.h"
#include "fuzz/fuzz_targets.h"
#include "io/mapped_file.h"

namespace {

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (const dirent* e = readdir(d))
            if (e->d_name[0] != '.' && ember::file_exists(dir + "/" + e->d_name)) out.push_back(dir + "/" + e->d_name);
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

void run(const ember::fuzz::Target& t, const std::string& bytes) {
    t.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("fuzz regressions: every committed input passes its target") {
    const std::string root = std::string(EMBER_SOURCE_DIR) + "/tests/fuzz-regressions";
    // EMBER_FUZZ_REPLAY=substring replays only the matching files (triage: one input per run).
    const char* only = std::getenv("EMBER_FUZZ_REPLAY");
    int replayed = 0;
    for (const auto& t : ember::fuzz::targets()) {
        for (const std::string& path : files_in(root + "/" + t.name)) {
            if (only != nullptr && path.find(only) == std::string::npos) continue;
            INFO(path);
            run(t, ember::read_text_file(path));
            ++replayed;
        }
    }
    MESSAGE(replayed, " regression inputs replayed");
}

TEST_CASE("fuzz seeds: every seed passes its target, and the tiny models in them load and embed") {
    for (const auto& t : ember::fuzz::targets()) {
        const auto seeds = ember::fuzz::seeds(t.name, EMBER_SOURCE_DIR);
        INFO(t.name);
        CHECK(seeds.size() >= 3);
        for (const auto& s : seeds) {
            INFO(s.name);
            run(t, s.bytes);
        }
    }
}

TEST_CASE("fuzz targets catch only clean errors: a hostile but clean input passes") {
    const auto* t = ember::fuzz::find_target("safetensors");
    REQUIRE(t != nullptr);
    run(*t, "");
    run(*t, std::string("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10));
    const auto* m = ember::fuzz::find_target("model_load");
    REQUIRE(m != nullptr);
    run(*m, std::string("\x00{}", 3));
    run(*m, std::string("\x1f", 1));
    const auto* g = ember::fuzz::find_target("gguf");
    REQUIRE(g != nullptr);
    run(*g, "");
    run(*g, "GGUF");
    run(*g, std::string("GGUF\x03\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 24));
    const auto* gl = ember::fuzz::find_target("gguf_load");
    REQUIRE(gl != nullptr);
    run(*gl, std::string("\x02", 1));
    run(*gl, std::string("\x00GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 25));
}
