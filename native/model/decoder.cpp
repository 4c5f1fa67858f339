#include "model/decoder.h"

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "model/rope_freqs.h"

namespace ember {

namespace {

// Published checkpoints spell decoder tensors with or without "model." after the module prefix.
std::string resolve(const WeightSource& src, const std::string& prefix, const std::string& name) {
    const std::string plain = prefix + name;
    if (src.find(plain) != nullptr) return plain;
    const std::string nested = prefix + "model." + name;
    if (src.find(nested) != nullptr) return nested;
    return plain;  // get() reports it missing under its plain name
}

Tensor make_tensor(const Buffer& b, int64_t rows, int64_t cols, int32_t dtype) {
    return Tensor{b.data(), dtype, rows, cols, cols};
}

}  // namespace

Decoder::Decoder(const DecoderConfig& c, Backend& backend, const WeightSource& src, const std::string& prefix)
    : config_(c), backend_(backend), rope_interleaved_(src.rope_interleaved()) {
    const int64_t H = c.hidden_size, D = c.head_dim, Q = int64_t(c.num_heads) * D, KV = int64_t(c.num_kv_heads) * D,
                  F = c.intermediate_size;
    auto matrix = [&](const std::string& name, int64_t n, int64_t k, Buffer& storage) {
        Weight w = load_matrix(backend, src, resolve(src, prefix, name), n, k, storage);
        weight_bytes_ += n * dtype_row_bytes(w.dtype, k);
        return w;
    };
    auto vec = [&](const std::string& name, int64_t n) {
        weight_bytes_ += n * 4;
        return load_vector_f32(backend, src, resolve(src, prefix, name), n);
    };

    embed_tokens_ = matrix("embed_tokens.weight", c.vocab_size, H, embed_storage_);
    layers_.resize(c.num_layers);
    for (int32_t i = 0; i < c.num_layers; ++i) {
        Layer& L = layers_[i];
        L.storage.resize(7);
        const std::string p = "layers." + std::to_string(i) + ".";
        L.q = matrix(p + "self_attn.q_proj.weight", Q, H, L.storage[0]);
        L.k = matrix(p + "self_attn.k_proj.weight", KV, H, L.storage[1]);
        L.v = matrix(p + "self_attn.v_proj.weight", KV, H, L.storage[2]);
        L.o = matrix(p + "self_attn.o_proj.weight", H, Q, L.storage[3]);
        L.gate = matrix(p + "mlp.gate_proj.weight", F, H, L.storage[4]);
        L.up = matrix(p + "mlp.up_proj.weight", F, H, L.storage[5]);
        L.down = matrix(p + "mlp.down_proj.weight", H, F, L.storage[6]);
        L.attn_norm = vec(p + "input_layernorm.weight", H);
        L.ffn_norm = vec(p + "post_attention_layernorm.weight", H);
        if (c.qk_norm) {
            L.q_norm = vec(p + "self_attn.q_norm.weight", D);
            L.k_norm = vec(p + "self_attn.k_norm.weight", D);
        }
    }
    final_norm_ = vec("norm.weight", H);
    weight_dtype_ = layers_.empty() ? embed_tokens_.dtype : layers_[0].q.dtype;
}

void Decoder::embed(const Tensor& x, const int32_t* ids) const { backend_.embed_rows(x, embed_tokens_, ids); }

std::pair<RopeTable, std::shared_ptr<void>> Decoder::rope_table(int64_t rows) const {
    std::lock_guard<std::mutex> lock(rope_mutex_);
    if (rope_cache_.rows < rows) {
        // Grow geometrically so a stream of slightly longer batches does not rebuild every time.
        int64_t want = std::max<int64_t>(rows, std::min<int64_t>(std::max<int64_t>(rope_cache_.rows * 2, 512),
                                                                  std::max<int64_t>(rows, config_.max_positions)));
        RopeFrequencies f = compute_rope_frequencies(config_.rope, config_.head_dim, config_.max_positions, want);
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

void Decoder::forward(const Tensor& x, const Seqs& seqs, const Tensor& out) const {
    const DecoderConfig& c = config_;
    const int64_t T = seqs.total_tokens;
    const int64_t H = c.hidden_size, D = c.head_dim, Q = int64_t(c.num_heads) * D, KV = int64_t(c.num_kv_heads) * D,
                  F = c.intermediate_size;
    const int32_t dt = backend_.activation_dtype();
    const size_t es = static_cast<size_t>(dtype_info(dt)->block_bytes);
    const float eps = static_cast<float>(c.rms_eps);

    Buffer xn_buf = backend_.alloc(T * H * es), q_buf = backend_.alloc(T * Q * es), k_buf = backend_.alloc(T * KV * es),
           v_buf = backend_.alloc(T * KV * es), attn_buf = backend_.alloc(T * Q * es),
           gate_buf = backend_.alloc(T * F * es), up_buf = backend_.alloc(T * F * es);
    const Tensor xn = make_tensor(xn_buf, T, H, dt), q = make_tensor(q_buf, T, Q, dt), k = make_tensor(k_buf, T, KV, dt),
                 v = make_tensor(v_buf, T, KV, dt), attn = make_tensor(attn_buf, T, Q, dt),
                 gate = make_tensor(gate_buf, T, F, dt), up = make_tensor(up_buf, T, F, dt);
    // Per-head views for Qwen3's q/k norm: one row per (token, head).
    const Tensor q_heads{q.data, dt, T * c.num_heads, D, D}, k_heads{k.data, dt, T * c.num_kv_heads, D, D};

    auto [table, keep_table] = rope_table(seqs.max_len);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

    for (const Layer& L : layers_) {
        backend_.rmsnorm(x, nullptr, L.attn_norm.as<float>(), eps, xn);
        backend_.matmul(q, xn, L.q, nullptr, false);
        backend_.matmul(k, xn, L.k, nullptr, false);
        backend_.matmul(v, xn, L.v, nullptr, false);
        if (c.qk_norm) {
            backend_.rmsnorm(q_heads, nullptr, L.q_norm.as<float>(), eps, q_heads);
            backend_.rmsnorm(k_heads, nullptr, L.k_norm.as<float>(), eps, k_heads);
        }
        backend_.rope(q, c.num_heads, D, table, seqs, rope_interleaved_, {});
        backend_.rope(k, c.num_kv_heads, D, table, seqs, rope_interleaved_, {});
        backend_.attention(attn, q, k, v, seqs, c.num_heads, c.num_kv_heads, D, scale, c.causal, {});
        backend_.matmul(x, attn, L.o, nullptr, /*accumulate=*/true);  // residual add fused
        backend_.rmsnorm(x, nullptr, L.ffn_norm.as<float>(), eps, xn);
        backend_.matmul(gate, xn, L.gate, nullptr, false);
        backend_.matmul(up, xn, L.up, nullptr, false);
        backend_.swiglu(gate, gate, up);
        backend_.matmul(x, gate, L.down, nullptr, /*accumulate=*/true);
    }
    backend_.rmsnorm(x, nullptr, final_norm_.as<float>(), eps, out);
}

}  // namespace ember
