// Hardening: bad files fail at load with the right status (not later, not as a crash), resource
// exhaustion is reported instead of terminating the process, and 10,000 load / embed / free
// cycles leave heap, file descriptors, mappings and threads flat (LeakSanitizer checks the rest
// in the sanitizer build).
#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ember/ember.h"
#include "fuzz/fuzz_targets.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EMBER_TEST_ASAN 1
#endif
#ifdef EMBER_TEST_ASAN
// From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc does not install).
extern "C" size_t __sanitizer_get_current_allocated_bytes(void);
#endif

namespace {

// A temporary model folder holding a tiny model, removed at the end of the test.
struct TempModel {
    std::string dir;
    explicit TempModel(const ember::fuzz::TinyModel& m) {
        char tmpl[] = "/tmp/ember-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        write("config.json", m.config_json);
        write("model.safetensors", m.safetensors);
    }
    void write(const std::string& name, const std::string& bytes) const {
        std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
    }
    ~TempModel() {
        for (const char* f : {"config.json", "model.safetensors"}) std::remove((dir + "/" + f).c_str());
        ::rmdir(dir.c_str());
    }
};

ember_status load(const std::string& dir, ember_model** m, int threads = 1) {
    ember_load_options o;
    ember_load_options_init(&o);
    o.backend = EMBER_BACKEND_CPU;
    o.threads = threads;
    return ember_model_load(dir.c_str(), &o, m);
}

// Loads `config` (edited from the tiny qwen3 model's) and returns the status.
ember_status load_with_config(const std::string& edit_key, const ember::Json& value, std::string* message) {
    auto tiny = ember::fuzz::tiny_model("qwen3", "F32", 1);
    ember::Json c = ember::Json::parse(tiny.config_json);
    c[edit_key] = value;
    tiny.config_json = c.dump();
    TempModel dir(tiny);
    ember_model* m = nullptr;
    const ember_status st = load(dir.dir, &m);
    *message = ember_last_error();
    ember_model_free(m);
    return st;
}

int64_t count_entries(const char* dir) {
    int64_t n = 0;
    if (DIR* d = opendir(dir)) {
        while (const dirent* e = readdir(d)) n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

int64_t count_lines(const char* path) {
    std::ifstream in(path);
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) ++n;
    return n;
}

int64_t heap_in_use() {
#ifdef EMBER_TEST_ASAN
    return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#else
    const struct mallinfo2 mi = mallinfo2();
    return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
#endif
}

struct Usage {
    int64_t heap, fds, threads, maps;
};

Usage usage() { return {heap_in_use(), count_entries("/proc/self/fd"), count_entries("/proc/self/task"), count_lines("/proc/self/maps")}; }

}  // namespace

TEST_CASE("hardening: a head_dim beyond the attention kernels fails at load as UNSUPPORTED") {
    std::string msg;
    CHECK(load_with_config("head_dim", 512, &msg) == EMBER_ERR_MODEL_UNSUPPORTED);
    CHECK(msg.find("head_dim 512") != std::string::npos);
}

TEST_CASE("hardening: an unsupported RoPE variant fails at load, not at the first embed") {
    std::string msg;
    CHECK(load_with_config("rope_scaling", {{"rope_type", "longrope"}, {"factor", 2.0}}, &msg) ==
          EMBER_ERR_MODEL_UNSUPPORTED);
    CHECK(msg.find("longrope") != std::string::npos);
}

TEST_CASE("hardening: GGUF metadata the decoder cannot run fails at load, with the status config.json gets") {
    // The gguf_load regressions (flags byte, then the file): each loaded and then failed every embed.
    const struct {
        const char* file;
        ember_status status;
        const char* says;
    } cases[] = {
        {"fail-late-head-dim-258", EMBER_ERR_MODEL_UNSUPPORTED, "head_dim 258"},
        {"fail-late-rms-eps-f64-1e300", EMBER_ERR_MODEL_MALFORMED, "layer_norm_rms_epsilon"},
    };
    char tmpl[] = "/tmp/ember-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string path = std::string(tmpl) + "/model.gguf";
    for (const auto& c : cases) {
        INFO(c.file);
        const std::string input =
            ember::read_text_file(std::string(EMBER_SOURCE_DIR) + "/tests/fuzz-regressions/gguf_load/" + c.file);
        std::ofstream(path, std::ios::binary | std::ios::trunc) << input.substr(1);
        ember_model* m = nullptr;
        CHECK(load(path, &m) == c.status);
        CHECK(m == nullptr);
        CHECK(std::string(ember_last_error()).find(c.says) != std::string::npos);
    }
    // These two failed late when only default RoPE existed; yarn and linear scaling are computed
    // now, so they load (and the gguf_load replay embeds them).
    for (const char* file : {"fail-late-rope-scaling-yarn", "fail-late-rope-scaling-linear"}) {
        INFO(file);
        const std::string input =
            ember::read_text_file(std::string(EMBER_SOURCE_DIR) + "/tests/fuzz-regressions/gguf_load/" + file);
        std::ofstream(path, std::ios::binary | std::ios::trunc) << input.substr(1);
        ember_model* m = nullptr;
        CHECK_MESSAGE(load(path, &m) == EMBER_OK, ember_last_error());
        ember_model_free(m);
    }
    std::remove(path.c_str());
    ::rmdir(tmpl);
}

TEST_CASE("hardening: absurd thread counts are refused, not attempted") {
    auto tiny = ember::fuzz::tiny_model("llama", "F32", 1);
    TempModel dir(tiny);
    ember_model* m = nullptr;
    CHECK(load(dir.dir, &m, 1 << 30) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(m == nullptr);
    CHECK(std::string(ember_last_error()).find("threads") != std::string::npos);
}

TEST_CASE("hardening: CUDA settings out of range are refused on every backend; valid ones load on the CPU") {
    auto tiny = ember::fuzz::tiny_model("llama", "F32", 1);
    TempModel dir(tiny);
    struct Case {
        int32_t precision, graphs, cublaslt;
        const char* field;  // nullptr: valid
    };
    const Case cases[] = {{3, 0, 0, "cuda_precision"}, {-1, 0, 0, "cuda_precision"}, {0, 3, 0, "cuda_graphs"},
                          {0, 0, -2, "cuda_cublaslt"},  {0, 0, 0, nullptr},                {2, 2, 1, nullptr},
                          {1, 1, 2, nullptr}};
    for (const Case& c : cases) {
        for (int32_t backend : {EMBER_BACKEND_CPU, EMBER_BACKEND_AUTO}) {
            INFO("precision " << c.precision << " graphs " << c.graphs << " cublaslt " << c.cublaslt << " backend " << backend);
            ember_load_options o;
            ember_load_options_init(&o);
            o.backend = backend;
            o.threads = 1;
            o.cuda_precision = c.precision;
            o.cuda_graphs = c.graphs;
            o.cuda_cublaslt = c.cublaslt;
            ember_model* m = nullptr;
            const ember_status st = ember_model_load(dir.dir.c_str(), &o, &m);
            if (c.field) {
                CHECK(st == EMBER_ERR_INVALID_ARGUMENT);
                CHECK(m == nullptr);
                CHECK(std::string(ember_last_error()).find(c.field) != std::string::npos);
            } else {
                CHECK(st == EMBER_OK);  // AUTO: the CPU without a device, else the GPU with these settings
                ember_model_free(m);
            }
        }
    }
}

#ifndef EMBER_TEST_ASAN  // ASan reserves terabytes of address space: RLIMIT_AS cannot be used
TEST_CASE("hardening: a thread pool the system cannot start throws OUT_OF_MEMORY instead of terminating") {
    // In a child process: cap the address space so thread stacks cannot be mapped.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct rlimit lim{};
        std::ifstream statm("/proc/self/statm");
        long pages = 0;
        statm >> pages;
        lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(pages) * 4096 + (64u << 20);
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
        try {
            ember::ThreadPool pool(256);  // 8 MiB stacks: far beyond 64 MiB of headroom
            _exit(4);
        } catch (const ember::Error& e) {
            _exit(e.status() == EMBER_ERR_OUT_OF_MEMORY ? 0 : 5);
        } catch (...) {
            _exit(6);
        }
    }
    // Before the fix the child hung (the half-built pool's condition variable was destroyed
    // under waiting workers) or died in std::terminate; give it 30 s.
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 3000 && done == 0; ++i) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) usleep(10000);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        FAIL("the thread pool constructor hung when the system refused a thread");
    }
    INFO("child status ", status);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
#endif

TEST_CASE("hardening: shard names with a NUL byte are refused") {
    const std::string text = std::string(R"({"weight_map": {"a": "model.safetensors\u0000/../../x"}})");
    bool threw = false;
    try {
        ember::parse_shard_index(ember::parse_json(text, "index.json"), "index.json");
    } catch (const ember::Error& e) {
        threw = e.status() == EMBER_ERR_MODEL_MALFORMED;
    }
    CHECK(threw);
}

TEST_CASE("leaks: 10,000 load / embed / free cycles keep heap, fds, mappings and threads flat") {
    // EMBER_LEAK_CYCLES overrides the count (e.g. smaller under a slow sanitizer).
    long cycles = 10000;
    if (const char* s = std::getenv("EMBER_LEAK_CYCLES")) cycles = std::strtol(s, nullptr, 10);
    const auto tiny = ember::fuzz::tiny_model("qwen3", "F32", 2);
    TempModel dir(tiny);
    const int32_t ids[5] = {1, 2, 3, 4, 5};
    const int32_t cu[3] = {0, 3, 5};
    ember_batch b{};
    b.token_ids = ids;
    b.cu_seqlens = cu;
    b.n_seqs = 2;
    std::vector<float> out(16), hidden(5 * 8);
    const int64_t live_before = ember_live_models();
    auto cycle = [&](long i) {
        ember_model* m = nullptr;
        // Every other cycle with a worker thread, so pool start / stop is part of the loop.
        REQUIRE(load(dir.dir, &m, 1 + static_cast<int>(i % 2)) == EMBER_OK);
        REQUIRE(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_OK);
        REQUIRE(ember_forward_hidden(m, &b, hidden.data(), hidden.size()) == EMBER_OK);
        ember_model_free(m);
    };
    // The kernel drops an exited thread from /proc/self/task a moment after pthread_join has
    // returned (the join waits for the tid to be cleared, not for the task to be reaped): on a
    // loaded machine the last cycle's worker can still be listed, before the loop as after it.
    // So both readings wait until the thread count has held still for 100 ms (at most 2 s).
    auto settled_usage = [] {
        Usage u = usage();
        for (int i = 0, still = 0; i < 200 && still < 10; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            const Usage v = usage();
            still = v.threads == u.threads ? still + 1 : 0;
            u = v;
        }
        return u;
    };
    const long warmup = std::min<long>(cycles / 10, 500);
    for (long i = 0; i < warmup; ++i) cycle(i);
    const Usage before = settled_usage();
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = warmup; i < cycles; ++i) cycle(i);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Usage after = settled_usage();
    MESSAGE(cycles, " cycles, ", secs, " s after warm-up; heap ", before.heap, " -> ", after.heap, " bytes, fds ",
            before.fds, " -> ", after.fds, ", threads ", before.threads, " -> ", after.threads, ", maps ",
            before.maps, " -> ", after.maps);
    CHECK(ember_live_models() == live_before);
    // A leak of one model per cycle would be megabytes; allow allocator noise only.
    CHECK(after.heap - before.heap < 64 * 1024);
    CHECK(after.fds == before.fds);
    CHECK(after.threads == before.threads);
    // Mappings: one leaked weight file per cycle would add thousands; allocators and cached
    // thread stacks move the count by a few.
    CHECK(after.maps <= before.maps + 64);
}
