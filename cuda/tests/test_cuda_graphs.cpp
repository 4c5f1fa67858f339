// CUDA graphs (on unless EMBER_CUDA_GRAPHS=0): Decoder::forward's replays of recorded passes on the device.
// A decoder on a backend that records and one on a backend that does not share the weights; every
// batch must give both the same numbers bit for bit (the kernels are deterministic and a replay
// launches the same kernels with the same grids), and the recording must really be made and
// replayed (the counters), or the comparison would pass by running directly every time. The
// layouts of one shape differ in their sequence boundaries, so a replay that kept the boundaries
// of the recorded batch, or any launch decision that hangs on them, shows here. The plumbing
// itself (buffers, fallback, threads) is also checked on the CPU: native/tests/test_replay.cpp.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/synth_model.h"
#include "cuda_backend.cuh"
#include "cuda_test_util.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/decoder_model.h"
#include "tests/decoder_runs.h"
#include "tests/goldens.h"

using namespace ember;

namespace {

struct Pair {
    DecoderConfig config;
    std::unique_ptr<WeightSource> weights;
    std::unique_ptr<Backend> plain, graphs;
    std::unique_ptr<Decoder> direct, replayed;

    Pair(const std::string& dir, cuda::Precision precision, std::pair<int32_t, int32_t> self_extend) {
        config = parse_decoder_config(read_json_file(dir + "/config.json"), "config.json");
        config.self_extend_group = self_extend.first;
        config.self_extend_window = self_extend.second;
        weights = make_safetensors_source(SafetensorsArchive::open_dir(dir));
        plain = cuda::make_backend(0, {precision, /*graphs=*/false, /*cublaslt=*/false});
        graphs = cuda::make_backend(0, {precision, /*graphs=*/true, /*cublaslt=*/false});
        direct = std::make_unique<Decoder>(config, *plain, *weights, "");
        replayed = std::make_unique<Decoder>(config, *graphs, *weights, "");
    }

    void batch(const std::vector<int>& lengths, std::mt19937& rng, std::vector<int32_t>& ids, std::vector<int32_t>& cu) const {
        ids.clear();
        cu.assign(1, 0);
        for (int len : lengths) {
            for (int i = 0; i < len; ++i) ids.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(config.vocab_size)));
            cu.push_back(static_cast<int32_t>(ids.size()));
        }
    }

    // True when both decoders give the same finite numbers for a batch of these lengths.
    bool same(const std::vector<int>& lengths, std::mt19937& rng) const {
        std::vector<int32_t> ids, cu;
        batch(lengths, rng, ids, cu);
        const std::vector<float> a = test::decoder_hidden(*plain, *direct, ids, cu),
                                 b = test::decoder_hidden(*graphs, *replayed, ids, cu);
        for (float v : a)
            if (!std::isfinite(v)) return false;
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    }
};

std::string synth_dir(const char* model_type, const char* tag) {
    std::string t = std::string("/tmp/ember-cuda-graphs-") + tag + "-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    const ember::bench::ModelShape shape{tag, model_type, 1024, 2, 16, 8, 128, 3072, 2048, 1e6};
    ember::bench::synth_model(shape, "bf16", buf.data(), 7);
    return buf.data();
}

void check_replays(const Pair& p, const std::vector<std::vector<int>>& layouts, std::mt19937& rng) {
    for (const auto& lengths : layouts) {
        CAPTURE(lengths.size());
        REQUIRE(p.same(lengths, rng));
    }
    const Decoder::ReplayStats st = p.replayed->replay_stats();
    INFO("last recording failure: " << st.last_failure);
    CHECK(st.failed == 0);
    CHECK(st.recorded == 1);
    CHECK(st.replayed == static_cast<int64_t>(layouts.size()) - 1);
}

}  // namespace

TEST_CASE("CUDA graphs: replayed decoder passes equal direct ones bit for bit") {
    std::mt19937 rng(static_cast<uint32_t>(test::test_seed()));
    // The goldens' tiny models, plain and with SelfExtend (G 2, W 4), in both precision modes:
    // one shape (17 tokens, 3 sequences, longest 9) in five layouts.
    const std::vector<std::vector<int>> tiny{{5, 9, 3}, {9, 3, 5}, {3, 5, 9}, {9, 4, 4}, {1, 9, 7}};
    for (const char* name : {"qwen3-tiny-bf16", "llama-bidir-tiny"})
        for (cuda::Precision prec : {cuda::Precision::Fast, cuda::Precision::Fp32})
            for (std::pair<int32_t, int32_t> se : {std::pair<int32_t, int32_t>{0, 0}, {2, 4}}) {
                CAPTURE(name);
                CAPTURE(prec == cuda::Precision::Fast);
                CAPTURE(se.first);
                const Pair p(test::golden_dir(name), prec, se);
                check_replays(p, tiny, rng);
            }
    // Real width (hidden 1024, 16 heads of 128, GQA 2) on the flash attention path, with and
    // without SelfExtend (G 4, W 64): 400 tokens in 3 sequences, longest 300.
    const std::vector<std::vector<int>> wide{{300, 77, 23}, {23, 300, 77}, {50, 300, 50}, {1, 99, 300}};
    for (const char* type : {"qwen3", "llama_bidirec"}) {
        const std::string dir = synth_dir(type, type[0] == 'q' ? "qwen3" : "llama");
        for (std::pair<int32_t, int32_t> se : {std::pair<int32_t, int32_t>{0, 0}, {4, 64}}) {
            CAPTURE(type);
            CAPTURE(se.first);
            const Pair p(dir, cuda::Precision::Fast, se);
            check_replays(p, wide, rng);
        }
        CHECK(std::system(("rm -rf '" + dir + "'").c_str()) == 0);
    }
}

TEST_CASE("CUDA graphs: threads sharing recordings get their own results") {
    const Pair p(test::golden_dir("qwen3-tiny-bf16"), cuda::Precision::Fast, {0, 0});
    std::mt19937 rng(5);
    const std::vector<std::vector<int>> layouts{{8, 3, 5}, {3, 8, 5}, {5, 5, 6}, {6, 5, 5}, {8, 8}};
    std::vector<std::vector<int32_t>> ids(layouts.size()), cus(layouts.size());
    std::vector<std::vector<float>> want(layouts.size());
    for (size_t l = 0; l < layouts.size(); ++l) {
        p.batch(layouts[l], rng, ids[l], cus[l]);
        want[l] = test::decoder_hidden(*p.plain, *p.direct, ids[l], cus[l]);
    }
    // Each thread has its own stream: recordings made on one are replayed on others, calls meet a
    // recording in use (and run directly), and the pool frees blocks while a stream records.
    std::atomic<int> wrong{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                const size_t l = static_cast<size_t>((t + i) % static_cast<int>(layouts.size()));
                try {
                    if (test::decoder_hidden(*p.graphs, *p.replayed, ids[l], cus[l]) != want[l]) ++wrong;
                } catch (const std::exception&) {
                    ++failed;
                }
            }
        });
    for (auto& th : threads) th.join();
    CHECK(failed.load() == 0);
    CHECK(wrong.load() == 0);
    const Decoder::ReplayStats st = p.replayed->replay_stats();
    INFO("last recording failure: " << st.last_failure);
    CHECK(st.failed == 0);
    CHECK(st.recorded == 3);  // (16 tokens, 3 sequences, longest 8), (16, 3, 6) and (16, 2, 8)
    CHECK(st.replayed > 0);
}

TEST_CASE("EMBER_CUDA_GRAPHS and EMBER_CUBLASLT take 0 / off / 1 / on [host]") {
    setenv("EMBER_CUBLASLT", "on", 1);
    CHECK(cuda::cublaslt_from_env());
    setenv("EMBER_CUBLASLT", "0", 1);
    CHECK(!cuda::cublaslt_from_env());
    setenv("EMBER_CUBLASLT", "2", 1);
    CHECK_THROWS_AS(cuda::cublaslt_from_env(), ember::Error);
    unsetenv("EMBER_CUBLASLT");
    CHECK(!cuda::cublaslt_from_env());  // the default

    setenv("EMBER_CUDA_GRAPHS", "on", 1);
    CHECK(cuda::graphs_from_env());
    setenv("EMBER_CUDA_GRAPHS", "0", 1);
    CHECK(!cuda::graphs_from_env());
    setenv("EMBER_CUDA_GRAPHS", "off", 1);
    CHECK(!cuda::graphs_from_env());
    setenv("EMBER_CUDA_GRAPHS", "yes please", 1);
    CHECK_THROWS_AS(cuda::graphs_from_env(), ember::Error);
    unsetenv("EMBER_CUDA_GRAPHS");
    CHECK(cuda::graphs_from_env());  // the default
}

// ember_load_options' CUDA settings win over the environment; their defaults defer to it.
TEST_CASE("CUDA settings: load options over the environment over Ember's defaults [host]") {
    unsetenv("EMBER_CUDA_PRECISION");
    unsetenv("EMBER_CUDA_GRAPHS");
    unsetenv("EMBER_CUBLASLT");
    cuda::Settings s = cuda::resolve_settings(CudaSettings{});
    CHECK(s.precision == cuda::Precision::Fast);
    CHECK(s.graphs);
    CHECK(!s.cublaslt);

    setenv("EMBER_CUDA_PRECISION", "fp32", 1);
    setenv("EMBER_CUDA_GRAPHS", "off", 1);
    setenv("EMBER_CUBLASLT", "1", 1);
    s = cuda::resolve_settings(CudaSettings{});
    CHECK(s.precision == cuda::Precision::Fp32);
    CHECK(!s.graphs);
    CHECK(s.cublaslt);
    s = cuda::resolve_settings(CudaSettings{EMBER_CUDA_PRECISION_FAST, EMBER_SWITCH_ON, EMBER_SWITCH_OFF});
    CHECK(s.precision == cuda::Precision::Fast);
    CHECK(s.graphs);
    CHECK(!s.cublaslt);

    unsetenv("EMBER_CUDA_PRECISION");
    unsetenv("EMBER_CUDA_GRAPHS");
    unsetenv("EMBER_CUBLASLT");
    s = cuda::resolve_settings(CudaSettings{EMBER_CUDA_PRECISION_FP32, EMBER_SWITCH_OFF, EMBER_SWITCH_ON});
    CHECK(s.precision == cuda::Precision::Fp32);
    CHECK(!s.graphs);
    CHECK(s.cublaslt);

    // A bad environment value fails only where it is consulted.
    setenv("EMBER_CUBLASLT", "yes please", 1);
    CHECK_THROWS_AS(cuda::resolve_settings(CudaSettings{}), ember::Error);
    CHECK(cuda::resolve_settings(CudaSettings{EMBER_CUDA_PRECISION_DEFAULT, EMBER_SWITCH_DEFAULT, EMBER_SWITCH_ON}).cublaslt);
    unsetenv("EMBER_CUBLASLT");
}
