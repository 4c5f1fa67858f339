// The decoder stack shared by Qwen3, Llama and Mistral (causal or bidirectional): token
// embeddings -> N x [RMSNorm, attention with RoPE (+ Qwen3 q/k norm), residual, RMSNorm, SwiGLU
// MLP, residual] -> final RMSNorm. Other architectures (NV-Embed, Causal2Vec) embed this.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace ember {

class Decoder {
  public:
    // `prefix` is prepended to every tensor name ("" for plain checkpoints, "embedding_model."
    // for NV-Embed, "llm." for Causal2Vec).
    Decoder(const DecoderConfig& config, Backend& backend, const WeightSource& src, const std::string& prefix);

    const DecoderConfig& config() const { return config_; }
    int64_t weight_bytes() const { return weight_bytes_; }
    int32_t weight_dtype() const { return weight_dtype_; }

    // Writes the token embeddings of `ids` (backend memory, `rows` ids) into x.
    void embed(const Tensor& x, const int32_t* ids) const;
    // Runs all layers and the final norm on x (the embeddings of the batch, rows = tokens) and
    // writes last_hidden_state into `out` (same shape; may alias x).
    //
    // On a backend that records (CUDA graphs), a batch of up to kReplayMaxTokens tokens whose
    // shape (tokens, sequences, longest sequence) came before is a replay of the pass recorded for
    // that shape: the kernels read the sequence boundaries from memory, so batches of one shape
    // share a recording whatever their lengths. A shape is recorded the second time it comes
    // (one-off shapes never pay for recording). Recordings keep buffers of their own, at most
    // kReplayBudgetBytes in all, the least recently used dropped first; a replay ends with a
    // synchronize so that the next call, from any thread, finds them idle. A call that finds its
    // shape's recording in use by another thread runs directly, and so does a call whose recording
    // or replay fails (then the shape is tried again later, kRecordAttempts times in all).
    void forward(const Tensor& x, const Seqs& seqs, const Tensor& out) const;

    static constexpr int64_t kReplayMaxTokens = 1024;
    static constexpr size_t kReplayBudgetBytes = size_t(512) << 20;
    static constexpr int kRecordAttempts = 3;  // failed recordings or replays before a shape runs directly for good

    struct ReplayStats {
        int64_t recorded = 0, replayed = 0, failed = 0, evicted = 0, live = 0;
        std::string last_failure;
    };
    ReplayStats replay_stats() const;

  private:
    struct Layer {
        Weight q, k, v, o, gate, up, down;
        Buffer attn_norm, ffn_norm, q_norm, k_norm;
        std::vector<Buffer> storage;
    };
    struct RopeCache {
        std::shared_ptr<Buffer> cos, sin;
        int64_t rows = 0;
    };
    // The RoPE tables one forward pass reads: the shared table, plus for dynamic NTK a table per
    // sequence longer than the trained context, built for this batch.
    struct BatchRope {
        RopeTable table;
        std::shared_ptr<void> keep;  // holds the shared table while the pass runs
        Buffer cos, sin, first_row;  // the per-batch tables, when there are any
        std::vector<int64_t> first_row_host;
    };

    // What one forward pass works in: its activation buffers and the RoPE tables and SelfExtend
    // settings of its batch.
    struct Pass {
        Buffer xn_buf, q_buf, k_buf, v_buf, attn_buf, gate_buf, up_buf, se_buf;
        Tensor xn, q, k, v, attn, gate, up, q_heads, k_heads;
        BatchRope rope;
        bool self_extend = false;
        AttentionExtras extras;
        RopePositions past_q, past_k, future_q, future_k;
        size_t bytes = 0;
    };
    // One batch shape's recorded pass (see forward) and everything it points at.
    struct Replay {
        std::mutex busy;  // held from refilling cu / x until the stream has finished the replay
        Buffer x_buf, cu_buf;
        Tensor x;
        std::vector<int32_t> cu_host;
        Seqs seqs;
        Pass pass;
        std::unique_ptr<Recording> recording;
        uint64_t last_use = 0;
        size_t bytes() const { return pass.bytes + x_buf.bytes() + cu_buf.bytes(); }
    };
    struct ShapeKey {
        int64_t tokens = 0, max_len = 0;
        int32_t n_seqs = 0;
        bool operator<(const ShapeKey& o) const {
            return tokens != o.tokens ? tokens < o.tokens : max_len != o.max_len ? max_len < o.max_len : n_seqs < o.n_seqs;
        }
        bool operator==(const ShapeKey& o) const { return !(*this < o) && !(o < *this); }
        static ShapeKey of(const Seqs& s) { return {s.total_tokens, s.max_len, s.n_seqs}; }
    };

    Pass prepare(const Seqs& seqs) const;
    // The layers and the final norm (Decoder::forward without the choice of replaying).
    void run_layers(const Pass& p, const Tensor& x, const Seqs& seqs, const Tensor& out) const;
    // The recording for this batch's shape, made now if its shape came before; nullptr when the
    // pass should run directly.
    std::shared_ptr<Replay> replay_for(const Seqs& seqs, const ShapeKey& key) const;
    // Replays r for this batch; false (with r dropped) when it could not be recorded, or not
    // launched for want of device memory.
    bool run_replay(Replay& r, const ShapeKey& key, const Tensor& x, const Seqs& seqs, const Tensor& out) const;
    // Under replay_mutex_: a failed recording or replay of r's shape. Drops r from the cache; after
    // kRecordAttempts failures the shape runs directly for good (a failure can be passing: another
    // thread's cudaDeviceSynchronize invalidates a capture, memory is short for a moment).
    void note_replay_failure(const Replay& r, const ShapeKey& key, const std::string& why) const;
    // Under replay_mutex_: the failures counted for a shape (kRecordAttempts or more: it runs
    // directly for good), and adding to them.
    int replay_failures(const ShapeKey& key) const;
    void add_replay_failures(const ShapeKey& key, int n) const;

    // A table covering at least `rows` positions, grown on demand and shared between calls.
    std::pair<RopeTable, std::shared_ptr<void>> rope_table(int64_t rows) const;
    // Table rows a sequence of `len` tokens reads (more than len with SelfExtend's shifted
    // grouped positions).
    int64_t rope_rows(int64_t len, bool self_extend) const;
    BatchRope batch_rope(const Seqs& seqs, bool self_extend) const;

    DecoderConfig config_;
    Backend& backend_;
    bool rope_interleaved_ = false;
    Weight embed_tokens_;
    Buffer embed_storage_;
    std::vector<Layer> layers_;
    Buffer final_norm_;
    int64_t weight_bytes_ = 0;
    int32_t weight_dtype_ = EMBER_DTYPE_F32;

    mutable std::mutex rope_mutex_;
    mutable RopeCache rope_cache_;

    mutable std::mutex replay_mutex_;  // taken before rope_mutex_, never after
    mutable std::map<ShapeKey, std::shared_ptr<Replay>> replays_;
    mutable std::vector<ShapeKey> seen_once_;                        // bounded, oldest first
    mutable std::vector<std::pair<ShapeKey, int>> replay_failures_;  // per shape; bounded, oldest first
    mutable size_t replay_bytes_ = 0;
    mutable uint64_t replay_clock_ = 0;
    mutable ReplayStats replay_stats_;
};

}  // namespace ember
