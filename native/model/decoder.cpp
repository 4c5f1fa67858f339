#include "model/decoder.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "model/rope_freqs.h"

namespace ember {

namespace {

Tensor make_tensor(const Buffer& b, int64_t rows, int64_t cols, int32_t dtype) {
    return Tensor{b.data(), dtype, rows, cols, cols};
}

}  // namespace

Decoder::Decoder(const DecoderConfig& c, Backend& backend, const WeightSource& src, const std::string& prefix)
    : config_(c), backend_(backend), rope_interleaved_(src.rope_interleaved()) {
    const int64_t H = c.hidden_size, D = c.head_dim, Q = int64_t(c.num_heads) * D, KV = int64_t(c.num_kv_heads) * D,
                  F = c.intermediate_size;
    // Published checkpoints spell decoder tensors with or without "model." after the module prefix.
    WeightLoader load(backend, src, prefix, "model.");

    embed_tokens_ = load.matrix("embed_tokens.weight", c.vocab_size, H, embed_storage_);
    layers_.resize(c.num_layers);
    for (int32_t i = 0; i < c.num_layers; ++i) {
        Layer& L = layers_[i];
        L.storage.resize(7);
        const std::string p = "layers." + std::to_string(i) + ".";
        L.q = load.matrix(p + "self_attn.q_proj.weight", Q, H, L.storage[0]);
        L.k = load.matrix(p + "self_attn.k_proj.weight", KV, H, L.storage[1]);
        L.v = load.matrix(p + "self_attn.v_proj.weight", KV, H, L.storage[2]);
        L.o = load.matrix(p + "self_attn.o_proj.weight", H, Q, L.storage[3]);
        L.gate = load.matrix(p + "mlp.gate_proj.weight", F, H, L.storage[4]);
        L.up = load.matrix(p + "mlp.up_proj.weight", F, H, L.storage[5]);
        L.down = load.matrix(p + "mlp.down_proj.weight", H, F, L.storage[6]);
        L.attn_norm = load.vector_f32(p + "input_layernorm.weight", H);
        L.ffn_norm = load.vector_f32(p + "post_attention_layernorm.weight", H);
        if (c.qk_norm) {
            L.q_norm = load.vector_f32(p + "self_attn.q_norm.weight", D);
            L.k_norm = load.vector_f32(p + "self_attn.k_norm.weight", D);
        }
    }
    final_norm_ = load.vector_f32("norm.weight", H);
    weight_bytes_ = load.bytes();
    weight_dtype_ = layers_.empty() ? embed_tokens_.dtype : layers_[0].q.dtype;
}

void Decoder::embed(const Tensor& x, const int32_t* ids) const { backend_.embed_rows(x, embed_tokens_, ids); }

std::pair<RopeTable, std::shared_ptr<void>> Decoder::rope_table(int64_t rows) const {
    std::lock_guard<std::mutex> lock(rope_mutex_);
    if (rope_cache_.rows < rows) {
        // Grow geometrically so a stream of slightly longer batches does not rebuild every time.
        int64_t want = std::max<int64_t>(rows, std::min<int64_t>(std::max<int64_t>(rope_cache_.rows * 2, 512),
                                                                  std::max<int64_t>(rows, config_.max_positions)));
        // Sequence length 0: the base frequencies (dynamic NTK gives longer sequences tables of their own).
        RopeFrequencies f = compute_rope_frequencies(config_.rope, config_.head_dim, config_.max_positions, 0);
        std::vector<float> cos, sin;
        build_rope_table(f, want, cos, sin);
        auto c = std::make_shared<Buffer>(backend_.alloc(cos.size() * sizeof(float)));
        auto s = std::make_shared<Buffer>(backend_.alloc(sin.size() * sizeof(float)));
        backend_.upload(c->data(), cos.data(), cos.size() * sizeof(float));
        backend_.upload(s->data(), sin.data(), sin.size() * sizeof(float));
        rope_cache_ = RopeCache{c, s, want};
    }
    RopeTable t;
    t.cos = rope_cache_.cos->as<float>();
    t.sin = rope_cache_.sin->as<float>();
    t.rows = rope_cache_.rows;
    t.half = config_.head_dim / 2;
    // The caller holds both buffers for the duration of its forward pass.
    auto keep = std::make_shared<std::pair<std::shared_ptr<Buffer>, std::shared_ptr<Buffer>>>(rope_cache_.cos,
                                                                                             rope_cache_.sin);
    return {t, keep};
}

int64_t Decoder::rope_rows(int64_t len, bool self_extend) const {
    if (!self_extend || len == 0) return len;
    const int64_t g = config_.self_extend_group, w = config_.self_extend_window;
    return std::max(len, (len - 1) / g + (w - w / g) + 1);
}

Decoder::BatchRope Decoder::batch_rope(const Seqs& seqs, bool self_extend) const {
    BatchRope r;
    const DecoderConfig& c = config_;
    const int32_t* cu = seqs.cu_seqlens_host;
    // Dynamic NTK: a sequence longer than the trained context gets frequencies from its own length
    // (transformers recomputes them from the longest sequence of a padded batch; per sequence, a
    // ragged batch gives each sequence what it would get alone). Shorter ones share the base table.
    int64_t shared_rows = 0, own_rows = 0;
    const int64_t trained = rope_trained_context(c.rope, c.max_positions);
    const bool dynamic = rope_depends_on_length(c.rope);
    for (int32_t s = 0; s < seqs.n_seqs; ++s) {
        const int64_t len = cu[s + 1] - cu[s];
        if (dynamic && len > trained)
            own_rows += rope_rows(len, self_extend);
        else
            shared_rows = std::max(shared_rows, rope_rows(len, self_extend));
    }
    if (own_rows == 0) {
        auto [t, keep] = rope_table(std::max<int64_t>(shared_rows, 1));
        r.table = t;
        r.keep = keep;
        return r;
    }
    std::vector<float> cos, sin;
    append_rope_table(compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, 0), shared_rows, cos, sin);
    r.first_row_host.assign(static_cast<size_t>(seqs.n_seqs), 0);
    int64_t at = shared_rows;
    for (int32_t s = 0; s < seqs.n_seqs; ++s) {
        const int64_t len = cu[s + 1] - cu[s];
        if (len <= trained) continue;
        const int64_t rows = rope_rows(len, self_extend);
        append_rope_table(compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, len), rows, cos, sin);
        r.first_row_host[s] = at;
        at += rows;
    }
    r.cos = backend_.alloc(cos.size() * sizeof(float));
    r.sin = backend_.alloc(sin.size() * sizeof(float));
    r.first_row = backend_.alloc(r.first_row_host.size() * sizeof(int64_t));
    backend_.upload(r.cos.data(), cos.data(), cos.size() * sizeof(float));
    backend_.upload(r.sin.data(), sin.data(), sin.size() * sizeof(float));
    backend_.upload(r.first_row.data(), r.first_row_host.data(), r.first_row_host.size() * sizeof(int64_t));
    r.table.cos = r.cos.as<float>();
    r.table.sin = r.sin.as<float>();
    r.table.rows = at;
    r.table.first_row = r.first_row.as<int64_t>();
    r.table.first_row_host = r.first_row_host.data();
    r.table.half = c.head_dim / 2;
    return r;
}

Decoder::Pass Decoder::prepare(const Seqs& seqs) const {
    const DecoderConfig& c = config_;
    const int64_t T = seqs.total_tokens;
    const int64_t H = c.hidden_size, D = c.head_dim, Q = int64_t(c.num_heads) * D, KV = int64_t(c.num_kv_heads) * D,
                  F = c.intermediate_size;
    const int32_t dt = backend_.activation_dtype();
    const size_t es = static_cast<size_t>(dtype_info(dt)->block_bytes);

    Pass p;
    p.xn_buf = backend_.alloc(T * H * es);
    p.q_buf = backend_.alloc(T * Q * es);
    p.k_buf = backend_.alloc(T * KV * es);
    p.v_buf = backend_.alloc(T * KV * es);
    p.attn_buf = backend_.alloc(T * Q * es);
    p.gate_buf = backend_.alloc(T * F * es);
    p.up_buf = backend_.alloc(T * F * es);
    p.xn = make_tensor(p.xn_buf, T, H, dt);
    p.q = make_tensor(p.q_buf, T, Q, dt);
    p.k = make_tensor(p.k_buf, T, KV, dt);
    p.v = make_tensor(p.v_buf, T, KV, dt);
    p.attn = make_tensor(p.attn_buf, T, Q, dt);
    p.gate = make_tensor(p.gate_buf, T, F, dt);
    p.up = make_tensor(p.up_buf, T, F, dt);
    // Per-head views for Qwen3's q/k norm: one row per (token, head).
    p.q_heads = Tensor{p.q.data, dt, T * c.num_heads, D, D};
    p.k_heads = Tensor{p.k.data, dt, T * c.num_kv_heads, D, D};

    // SelfExtend matters only when some pair of tokens is a window or more apart; below that it is
    // exactly ordinary attention, so it is skipped.
    p.self_extend = c.self_extend_window > 0 && seqs.max_len > c.self_extend_window;
    p.rope = batch_rope(seqs, p.self_extend);

    // SelfExtend's grouped q / k (see ember_attention_params): copies of q and k before RoPE,
    // rotated to grouped positions. They live in the gate / up buffers, idle during attention,
    // when those are wide enough (every published shape), else in buffers of their own.
    p.extras.length_scaling_base = c.attention_scaling;
    if (p.self_extend) {
        const int64_t g = c.self_extend_group, w = c.self_extend_window, shift = w - w / g;
        p.past_q = {static_cast<int32_t>(g), static_cast<int32_t>(shift)};
        p.past_k = {static_cast<int32_t>(g), 0};
        p.future_q = {static_cast<int32_t>(g), 0};
        p.future_k = {static_cast<int32_t>(g), static_cast<int32_t>(shift)};
        const int64_t q_cols = c.causal ? Q : 2 * Q, k_cols = c.causal ? KV : 2 * KV;
        Tensor qs = p.gate, ks = p.up;
        if (q_cols > F || k_cols > F) {
            p.se_buf = backend_.alloc(static_cast<size_t>(T * (q_cols + k_cols)) * es);
            qs = Tensor{p.se_buf.data(), dt, T, q_cols + k_cols, q_cols + k_cols};
            ks = qs.cols_view(q_cols, k_cols);
        }
        p.extras.window = c.self_extend_window;
        p.extras.q_group = qs.cols_view(0, Q);
        p.extras.k_group = ks.cols_view(0, KV);
        if (!c.causal) {
            p.extras.q_group_future = qs.cols_view(Q, Q);
            p.extras.k_group_future = ks.cols_view(KV, KV);
        }
    }
    for (const Buffer* b : {&p.xn_buf, &p.q_buf, &p.k_buf, &p.v_buf, &p.attn_buf, &p.gate_buf, &p.up_buf, &p.se_buf,
                            &p.rope.cos, &p.rope.sin, &p.rope.first_row})
        p.bytes += b->bytes();
    return p;
}

void Decoder::run_layers(const Pass& p, const Tensor& x, const Seqs& seqs, const Tensor& out) const {
    const DecoderConfig& c = config_;
    const int64_t T = seqs.total_tokens, D = c.head_dim;
    const float eps = static_cast<float>(c.rms_eps);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    const AttentionExtras& extras = p.extras;
    const RopeTable& rope = p.rope.table;
    for (const Layer& L : layers_) {
        backend_.rmsnorm(x, nullptr, L.attn_norm.as<float>(), eps, p.xn);
        backend_.matmul(p.q, p.xn, L.q, nullptr, false);
        backend_.matmul(p.k, p.xn, L.k, nullptr, false);
        backend_.matmul(p.v, p.xn, L.v, nullptr, false);
        if (c.qk_norm) {
            backend_.rmsnorm(p.q_heads, nullptr, L.q_norm.as<float>(), eps, p.q_heads);
            backend_.rmsnorm(p.k_heads, nullptr, L.k_norm.as<float>(), eps, p.k_heads);
        }
        if (p.self_extend) {
            backend_.copy_rows(extras.q_group, nullptr, p.q, nullptr, T);
            backend_.copy_rows(extras.k_group, nullptr, p.k, nullptr, T);
            backend_.rope(extras.q_group, c.num_heads, D, rope, seqs, rope_interleaved_, p.past_q);
            backend_.rope(extras.k_group, c.num_kv_heads, D, rope, seqs, rope_interleaved_, p.past_k);
            if (!c.causal) {
                backend_.copy_rows(extras.q_group_future, nullptr, p.q, nullptr, T);
                backend_.copy_rows(extras.k_group_future, nullptr, p.k, nullptr, T);
                backend_.rope(extras.q_group_future, c.num_heads, D, rope, seqs, rope_interleaved_, p.future_q);
                backend_.rope(extras.k_group_future, c.num_kv_heads, D, rope, seqs, rope_interleaved_, p.future_k);
            }
        }
        backend_.rope(p.q, c.num_heads, D, rope, seqs, rope_interleaved_, {});
        backend_.rope(p.k, c.num_kv_heads, D, rope, seqs, rope_interleaved_, {});
        backend_.attention(p.attn, p.q, p.k, p.v, seqs, c.num_heads, c.num_kv_heads, D, scale, c.causal, extras);
        backend_.matmul(x, p.attn, L.o, nullptr, /*accumulate=*/true);  // residual add fused
        backend_.rmsnorm(x, nullptr, L.ffn_norm.as<float>(), eps, p.xn);
        backend_.matmul(p.gate, p.xn, L.gate, nullptr, false);
        backend_.matmul(p.up, p.xn, L.up, nullptr, false);
        backend_.swiglu(p.gate, p.gate, p.up);
        backend_.matmul(x, p.gate, L.down, nullptr, /*accumulate=*/true);
    }
    backend_.rmsnorm(x, nullptr, final_norm_.as<float>(), eps, out);
}

void Decoder::forward(const Tensor& x, const Seqs& seqs, const Tensor& out) const {
    const ShapeKey key = ShapeKey::of(seqs);
    if (std::shared_ptr<Replay> r = replay_for(seqs, key)) {
        std::unique_lock<std::mutex> busy(r->busy, std::try_to_lock);
        if (busy.owns_lock() && run_replay(*r, key, x, seqs, out)) return;
    }
    const Pass p = prepare(seqs);
    run_layers(p, x, seqs, out);
}

std::shared_ptr<Decoder::Replay> Decoder::replay_for(const Seqs& seqs, const ShapeKey& key) const {
    if (!backend_.records() || seqs.n_seqs <= 0 || seqs.total_tokens <= 0 || seqs.total_tokens > kReplayMaxTokens)
        return nullptr;
    // Dynamic NTK gives sequences past the trained context tables of their own, built per batch.
    if (rope_depends_on_length(config_.rope) && seqs.max_len > rope_trained_context(config_.rope, config_.max_positions))
        return nullptr;
    std::lock_guard<std::mutex> lock(replay_mutex_);
    if (auto it = replays_.find(key); it != replays_.end()) {
        it->second->last_use = ++replay_clock_;
        return it->second;
    }
    if (replay_failures(key) >= kRecordAttempts) return nullptr;
    auto seen = std::find(seen_once_.begin(), seen_once_.end(), key);
    if (seen == seen_once_.end()) {
        if (seen_once_.size() >= 64) seen_once_.erase(seen_once_.begin());
        seen_once_.push_back(key);
        return nullptr;
    }
    seen_once_.erase(seen);

    auto r = std::make_shared<Replay>();
    try {
        const int64_t H = config_.hidden_size, T = seqs.total_tokens;
        const int32_t dt = backend_.activation_dtype();
        r->x_buf = backend_.alloc(static_cast<size_t>(T * H) * dtype_info(dt)->block_bytes);
        r->x = make_tensor(r->x_buf, T, H, dt);
        r->cu_buf = backend_.alloc(static_cast<size_t>(seqs.n_seqs + 1) * sizeof(int32_t));
        r->cu_host.assign(seqs.cu_seqlens_host, seqs.cu_seqlens_host + seqs.n_seqs + 1);
        r->seqs = seqs;
        r->seqs.cu_seqlens = r->cu_buf.as<const int32_t>();
        r->seqs.cu_seqlens_host = r->cu_host.data();
        r->pass = prepare(r->seqs);
    } catch (const Error& e) {
        if (e.status() != EMBER_ERR_OUT_OF_MEMORY) throw;
        return nullptr;  // no room for a recording's buffers: this batch runs directly
    }
    const size_t bytes = r->bytes();
    if (bytes > kReplayBudgetBytes / 4) {  // too wide a model for this many tokens to keep
        add_replay_failures(key, kRecordAttempts);
        return nullptr;
    }
    // Make room, least recently used first (a recording in use lives on with its user).
    while (!replays_.empty() && replay_bytes_ + bytes > kReplayBudgetBytes) {
        auto lru = replays_.begin();
        for (auto it = replays_.begin(); it != replays_.end(); ++it)
            if (it->second->last_use < lru->second->last_use) lru = it;
        replay_bytes_ -= lru->second->bytes();
        replays_.erase(lru);
        ++replay_stats_.evicted;
    }
    // Another thread may take r before this one does. Its buffers may be blocks this stream freed
    // moments ago (an encoder's temporaries), which this stream's queued work may still read.
    backend_.synchronize();
    r->last_use = ++replay_clock_;
    replay_bytes_ += bytes;
    replays_.emplace(key, r);
    return r;
}

bool Decoder::run_replay(Replay& r, const ShapeKey& key, const Tensor& x, const Seqs& seqs, const Tensor& out) const {
    // Whatever happens, the stream is idle before `busy` is released: the next user of r may be
    // another thread's stream.
    struct IdleOnExit {
        Backend& backend;
        bool armed = true;
        ~IdleOnExit() {
            if (!armed) return;
            try {
                backend.synchronize();
            } catch (...) {
            }
        }
    } idle{backend_};
    const int64_t T = seqs.total_tokens;
    std::copy(seqs.cu_seqlens_host, seqs.cu_seqlens_host + seqs.n_seqs + 1, r.cu_host.begin());
    backend_.upload(r.cu_buf.data(), r.cu_host.data(), r.cu_host.size() * sizeof(int32_t));
    backend_.copy_rows(r.x, nullptr, x, nullptr, T);
    if (!r.recording) {
        std::string why;
        Replay* rp = &r;  // the recording belongs to r, so r outlives it
        r.recording = backend_.record([this, rp] { run_layers(rp->pass, rp->x, rp->seqs, rp->x); }, &why);
        std::lock_guard<std::mutex> lock(replay_mutex_);
        if (!r.recording) {
            note_replay_failure(r, key, why);
            return false;
        }
        ++replay_stats_.recorded;
    }
    try {
        r.recording->replay();
    } catch (const Error& e) {
        if (e.status() != EMBER_ERR_OUT_OF_MEMORY) throw;
        // Launching found no memory (a graph's first launch allocates): nothing ran, so the caller's
        // pass runs directly, after r's memory is given back.
        r.recording.reset();
        std::lock_guard<std::mutex> lock(replay_mutex_);
        note_replay_failure(r, key, std::string("replay: ") + e.what());
        return false;
    }
    backend_.copy_rows(out, nullptr, r.x, nullptr, T);
    idle.armed = false;
    backend_.synchronize();
    std::lock_guard<std::mutex> lock(replay_mutex_);
    ++replay_stats_.replayed;
    return true;
}

void Decoder::note_replay_failure(const Replay& r, const ShapeKey& key, const std::string& why) const {
    ++replay_stats_.failed;
    replay_stats_.last_failure = why;
    add_replay_failures(key, 1);
    if (auto it = replays_.find(key); it != replays_.end() && it->second.get() == &r) {
        replay_bytes_ -= r.bytes();
        replays_.erase(it);
    }
}

int Decoder::replay_failures(const ShapeKey& key) const {
    for (const auto& [k, n] : replay_failures_)
        if (k == key) return n;
    return 0;
}

void Decoder::add_replay_failures(const ShapeKey& key, int n) const {
    for (auto& [k, count] : replay_failures_)
        if (k == key) {
            count += n;
            return;
        }
    if (replay_failures_.size() >= 256) replay_failures_.erase(replay_failures_.begin());
    replay_failures_.emplace_back(key, n);
}

Decoder::ReplayStats Decoder::replay_stats() const {
    std::lock_guard<std::mutex> lock(replay_mutex_);
    ReplayStats s = replay_stats_;
    s.live = static_cast<int64_t>(replays_.size());
    return s;
}

}  // namespace ember
