// Decoder::forward's replays of recorded passes (the CUDA-graph path), checked on the CPU: a
// backend that "records" by keeping the op sequence and "replays" by issuing it again stands in
// for CUDA graphs. Like a graph, a recording runs nothing when it is made and reads, at replay,
// only what the decoder keeps for it; so a replay that reads a caller's buffer, a freed pass or
// stale sequence boundaries gives wrong numbers here (or an AddressSanitizer report in CI). What
// only a device can show (that every launch decision is fixed by the shape) is in
// cuda/tests/test_cuda_models.cpp.
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "core/error.h"
#include "decoder_runs.h"
#include "goldens.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/decoder_model.h"

namespace ember {
namespace {

// The CPU backend, plus record(): a recording is the op sequence itself, issued again per replay.
// It refuses its first `refused_records` recordings, and the next `oom_replays` replays fail as a
// CUDA graph launch does without device memory.
class RecordingCpuBackend final : public Backend {
  public:
    explicit RecordingCpuBackend(int refused_records) : cpu_(make_cpu_backend(1)), refused_records_(refused_records) {}

    std::atomic<int> record_calls{0}, replays{0}, transfers_in_replay{0}, oom_replays{0};

    bool records() const override { return true; }
    std::unique_ptr<Recording> record(const std::function<void()>& ops, std::string* why) override {
        if (++record_calls <= refused_records_) {
            if (why) *why = "recording refused by the test";
            return nullptr;
        }
        return std::make_unique<Replayed>(*this, ops);
    }

    BackendKind kind() const override { return cpu_->kind(); }
    std::string describe() const override { return "recording " + cpu_->describe(); }
    int32_t activation_dtype() const override { return cpu_->activation_dtype(); }
    Buffer alloc(size_t bytes) override {
        note_transfer();
        Buffer inner = cpu_->alloc(bytes);
        void* p = inner.data();
        if (p) std::memset(p, 0x7f, bytes);  // garbage, never zeros: a pass that reads before it writes shows
        std::lock_guard<std::mutex> lock(mu_);
        inner_.push_back(std::move(inner));
        return Buffer(this, p, bytes);
    }
    void release(void* data) noexcept override {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto it = inner_.begin(); it != inner_.end(); ++it)
            if (it->data() == data) {
                inner_.erase(it);
                return;
            }
    }
    void upload(void* dst, const void* src, size_t bytes) override {
        note_transfer();
        cpu_->upload(dst, src, bytes);
    }
    void download(void* dst, const void* src, size_t bytes) override {
        note_transfer();
        cpu_->download(dst, src, bytes);
    }
    Weight adopt_weight(const void* host, int32_t dtype, int64_t n, int64_t k, Buffer& storage) override {
        return cpu_->adopt_weight(host, dtype, n, k, storage);
    }
    void embed_rows(const Tensor& out, const Weight& table, const int32_t* ids) override { cpu_->embed_rows(out, table, ids); }
    void matmul(const Tensor& y, const Tensor& x, const Weight& w, const float* bias, bool accumulate) override {
        cpu_->matmul(y, x, w, bias, accumulate);
    }
    void rmsnorm(const Tensor& x, const Tensor* residual, const float* weight, float eps, const Tensor& y) override {
        cpu_->rmsnorm(x, residual, weight, eps, y);
    }
    void rope(const Tensor& x, int32_t n_heads, int32_t head_dim, const RopeTable& table, const Seqs& seqs,
              bool interleaved, const RopePositions& positions) override {
        cpu_->rope(x, n_heads, head_dim, table, seqs, interleaved, positions);
    }
    void attention(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, const Seqs& seqs, int32_t n_heads,
                   int32_t n_kv_heads, int32_t head_dim, float scale, bool causal, const AttentionExtras& extras) override {
        cpu_->attention(out, q, k, v, seqs, n_heads, n_kv_heads, head_dim, scale, causal, extras);
    }
    void swiglu(const Tensor& out, const Tensor& gate, const Tensor& up) override { cpu_->swiglu(out, gate, up); }
    void pool(const Tensor& out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start, int32_t mode) override {
        cpu_->pool(out, x, seqs, pool_start, mode);
    }
    void layernorm(const Tensor& x, const float* weight, const float* bias, float eps, const Tensor& y) override {
        cpu_->layernorm(x, weight, bias, eps, y);
    }
    void gelu(const Tensor& out, const Tensor& gate, const Tensor* up) override { cpu_->gelu(out, gate, up); }
    void embed_abs(const Tensor& out, const AbsEmbedTables& tables, const int32_t* ids, const Seqs& seqs) override {
        cpu_->embed_abs(out, tables, ids, seqs);
    }
    void copy_rows(const Tensor& dst, const int32_t* dst_rows, const Tensor& src, const int32_t* src_rows,
                   int64_t n) override {
        cpu_->copy_rows(dst, dst_rows, src, src_rows, n);
    }
    void latent_pool(const Tensor& out, const Tensor* token_out, const Tensor& x, const Seqs& seqs,
                     const int32_t* pool_start, const LatentBlock& block) override {
        cpu_->latent_pool(out, token_out, x, seqs, pool_start, block);
    }

  private:
    class Replayed final : public Recording {
      public:
        Replayed(RecordingCpuBackend& owner, std::function<void()> ops) : owner_(owner), ops_(std::move(ops)) {}
        void replay() override {
            if (owner_.oom_replays > 0) {
                --owner_.oom_replays;
                throw Error(EMBER_ERR_OUT_OF_MEMORY, "no memory to launch (test)");
            }
            ++owner_.replays;
            replaying = true;
            ops_();
            replaying = false;
        }

      private:
        RecordingCpuBackend& owner_;
        std::function<void()> ops_;
    };
    // A recorded sequence may not allocate, free or move data between host and device.
    void note_transfer() {
        if (replaying) ++transfers_in_replay;
    }
    static thread_local bool replaying;

    std::unique_ptr<Backend> cpu_;
    const int refused_records_;
    std::mutex mu_;
    std::vector<Buffer> inner_;
};
thread_local bool RecordingCpuBackend::replaying = false;

struct Fixture {
    DecoderConfig config;
    std::unique_ptr<WeightSource> weights;
    std::unique_ptr<Backend> plain = make_cpu_backend(1);
    RecordingCpuBackend recording;
    std::unique_ptr<Decoder> direct, replayed;

    Fixture(const std::string& name, bool self_extend, int refused_records) : recording(refused_records) {
        const std::string dir = test::golden_dir(name);
        config = parse_decoder_config(read_json_file(dir + "/config.json"), "config.json");
        if (self_extend) {  // so that sequences of 5+ tokens take SelfExtend's path
            config.self_extend_group = 2;
            config.self_extend_window = 4;
        }
        weights = make_safetensors_source(SafetensorsArchive::open_dir(dir));
        direct = std::make_unique<Decoder>(config, *plain, *weights, "");
        replayed = std::make_unique<Decoder>(config, recording, *weights, "");
    }

    // Runs a batch of these lengths (fresh random ids) through both decoders; true when the
    // replaying one gave the direct one's numbers bit for bit.
    bool same(const std::vector<int>& lengths, std::mt19937& rng) {
        std::vector<int32_t> cu{0}, ids;
        for (int len : lengths) {
            for (int i = 0; i < len; ++i) ids.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(config.vocab_size)));
            cu.push_back(static_cast<int32_t>(ids.size()));
        }
        const std::vector<float> a = test::decoder_hidden(*plain, *direct, ids, cu),
                                 b = test::decoder_hidden(recording, *replayed, ids, cu);
        for (float v : a)
            if (!std::isfinite(v)) return false;
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    }
};

}  // namespace

TEST_CASE("replayed decoder passes equal direct ones bit for bit, for every layout of a shape") {
    std::mt19937 rng(20261127);
    for (const char* name : {"qwen3-tiny", "llama-bidir-tiny"}) {
        for (bool se : {false, true}) {
            CAPTURE(name);
            CAPTURE(se);
            Fixture f(name, se, 0);
            // One shape (17 tokens, 3 sequences, longest 9) in four layouts: the first call runs
            // directly, the second records, every later one replays with its own boundaries.
            for (const std::vector<int>& lengths : {std::vector<int>{5, 9, 3}, {9, 3, 5}, {3, 5, 9}, {9, 4, 4}, {1, 9, 7}}) {
                CAPTURE(lengths.size());
                REQUIRE(f.same(lengths, rng));
            }
            Decoder::ReplayStats st = f.replayed->replay_stats();
            CHECK(st.recorded == 1);
            CHECK(st.replayed == 4);
            CHECK(st.live == 1);
            CHECK(f.recording.replays.load() == 4);
            CHECK(f.recording.transfers_in_replay.load() == 0);
            // A shape seen once runs directly; a second shape gets a recording of its own; a batch
            // wider than kReplayMaxTokens never does.
            REQUIRE(f.same({6, 2}, rng));
            CHECK(f.replayed->replay_stats().recorded == 1);
            REQUIRE(f.same({2, 6}, rng));
            REQUIRE(f.same({1}, rng));
            REQUIRE(f.same({1}, rng));
            REQUIRE(f.same({1}, rng));
            const int64_t wide = Decoder::kReplayMaxTokens + 1;
            REQUIRE(f.same({static_cast<int>(wide)}, rng));
            REQUIRE(f.same({static_cast<int>(wide)}, rng));
            st = f.replayed->replay_stats();
            CHECK(st.recorded == 3);
            CHECK(st.replayed == 4 + 1 + 2);
            CHECK(st.live == 3);
            CHECK(st.failed == 0);
            CHECK(f.recording.transfers_in_replay.load() == 0);
        }
    }
}

TEST_CASE("a pass that cannot be recorded runs directly, and its shape is tried kRecordAttempts times") {
    std::mt19937 rng(7);
    Fixture f("qwen3-tiny", false, /*refused_records=*/1 << 30);
    for (int i = 0; i < 4 * Decoder::kRecordAttempts; ++i) REQUIRE(f.same({4, 7}, rng));
    const Decoder::ReplayStats st = f.replayed->replay_stats();
    CHECK(f.recording.record_calls.load() == Decoder::kRecordAttempts);
    CHECK(st.failed == Decoder::kRecordAttempts);
    CHECK(st.recorded == 0);
    CHECK(st.replayed == 0);
    CHECK(st.live == 0);
    CHECK(st.last_failure == "recording refused by the test");
}

TEST_CASE("a shape whose recording failed once is recorded on a later call") {
    std::mt19937 rng(8);
    Fixture f("qwen3-tiny", false, /*refused_records=*/1);
    // Calls: direct (first sight), refused recording (direct), direct (first sight again), recorded
    // and replayed, replayed.
    for (int i = 0; i < 5; ++i) REQUIRE(f.same({6, 3}, rng));
    const Decoder::ReplayStats st = f.replayed->replay_stats();
    CHECK(f.recording.record_calls.load() == 2);
    CHECK(st.failed == 1);
    CHECK(st.recorded == 1);
    CHECK(st.replayed == 2);
    CHECK(st.live == 1);
}

TEST_CASE("a replay that finds no device memory runs directly, and the shape is recorded again") {
    std::mt19937 rng(9);
    Fixture f("qwen3-tiny", false, 0);
    f.recording.oom_replays = 1;
    // Calls: direct, recorded but its launch fails (direct, recording dropped), direct (first sight
    // again), recorded and replayed, replayed.
    for (int i = 0; i < 5; ++i) REQUIRE(f.same({2, 5, 5}, rng));
    const Decoder::ReplayStats st = f.replayed->replay_stats();
    CHECK(f.recording.record_calls.load() == 2);
    CHECK(st.failed == 1);
    CHECK(st.last_failure.find("no memory to launch") != std::string::npos);
    CHECK(st.recorded == 2);
    CHECK(st.replayed == 2);
    CHECK(st.live == 1);
    CHECK(f.recording.transfers_in_replay.load() == 0);
    // What ember_model_runtime reports.
    const Json rt = decoder_runtime(*f.replayed, f.recording);
    CHECK(rt["graphs"]["enabled"] == true);
    CHECK(rt["graphs"]["recorded"] == 2);
    CHECK(rt["graphs"]["replayed"] == 2);
    CHECK(rt["graphs"]["failed"] == 1);
    CHECK(rt["graphs"]["live"] == 1);
    CHECK(rt["graphs"]["last_failure"] == st.last_failure);
}

TEST_CASE("threads sharing a shape's recording get their own results") {
    Fixture f("qwen3-tiny", false, 0);
    // The expected results first, directly, from one thread.
    const std::vector<std::vector<int>> layouts{{8, 3, 5}, {3, 8, 5}, {5, 5, 6}, {8, 8}};
    std::vector<std::vector<int32_t>> ids(layouts.size()), cus(layouts.size());
    std::vector<std::vector<float>> want(layouts.size());
    std::mt19937 rng(11);
    for (size_t l = 0; l < layouts.size(); ++l) {
        cus[l] = {0};
        for (int len : layouts[l]) {
            for (int i = 0; i < len; ++i) ids[l].push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(f.config.vocab_size)));
            cus[l].push_back(static_cast<int32_t>(ids[l].size()));
        }
        want[l] = test::decoder_hidden(*f.plain, *f.direct, ids[l], cus[l]);
    }
    // Four threads at once, each through every layout, so that a recording made on one thread is
    // replayed on others and calls meet a recording in use (they run directly then).
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 8; ++i) {
                const size_t l = static_cast<size_t>((t + i) % static_cast<int>(layouts.size()));
                const std::vector<float> got = test::decoder_hidden(f.recording, *f.replayed, ids[l], cus[l]);
                if (got.size() != want[l].size() || std::memcmp(got.data(), want[l].data(), got.size() * 4) != 0) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
    const Decoder::ReplayStats st = f.replayed->replay_stats();
    CHECK(st.recorded == 3);  // (16 tokens, 3 sequences, longest 8), (16, 3, 6) and (16, 2, 8)
    CHECK(st.replayed > 0);
}

}  // namespace ember
