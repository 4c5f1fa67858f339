#include "bench/synth_model.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/half.h"

namespace ember::bench {

namespace {

const ModelShape kShapes[] = {
    {"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, 151669, 1e6},
    {"qwen3-4b", "qwen3", 2560, 36, 32, 8, 128, 9728, 151665, 1e6},
    {"qwen3-8b", "qwen3", 4096, 36, 32, 8, 128, 12288, 151665, 1e6},
    {"llama-embed-nemotron-8b", "llama_bidirec", 4096, 32, 32, 8, 128, 14336, 128256, 5e5},
    {"tiny", "qwen3", 64, 2, 4, 2, 16, 128, 512, 1e6},
    // Every matrix row a whole number of 256-weight blocks, so Q4_K / Q6_K files hold real K-quant
    // tensors (tiny's 64-wide rows fall back to Q8_0): CI's llama.cpp conformance uses it.
    {"small", "qwen3", 256, 4, 4, 2, 64, 768, 2048, 1e6},
};

struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    bool norm;
};

}  // namespace

const ModelShape* find_shape(const std::string& name) {
    for (const auto& s : kShapes)
        if (name == s.name) return &s;
    return nullptr;
}

void synth_model(const ModelShape& s, const std::string& dtype, const std::string& dir, uint64_t seed) {
    const std::string config_path = dir + "/config.json", weights_path = dir + "/model.safetensors";
    struct stat st;
    if (stat(config_path.c_str(), &st) == 0 && stat(weights_path.c_str(), &st) == 0) return;
    mkdir(dir.c_str(), 0755);
    const bool qwen = std::strcmp(s.model_type, "qwen3") == 0;
    std::vector<Entry> entries;
    entries.push_back({"embed_tokens.weight", {s.vocab, s.hidden}, false});
    for (int l = 0; l < s.layers; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".";
        entries.push_back({p + "input_layernorm.weight", {s.hidden}, true});
        entries.push_back({p + "post_attention_layernorm.weight", {s.hidden}, true});
        entries.push_back({p + "self_attn.q_proj.weight", {int64_t(s.heads) * s.head_dim, s.hidden}, false});
        entries.push_back({p + "self_attn.k_proj.weight", {int64_t(s.kv_heads) * s.head_dim, s.hidden}, false});
        entries.push_back({p + "self_attn.v_proj.weight", {int64_t(s.kv_heads) * s.head_dim, s.hidden}, false});
        entries.push_back({p + "self_attn.o_proj.weight", {s.hidden, int64_t(s.heads) * s.head_dim}, false});
        if (qwen) {
            entries.push_back({p + "self_attn.q_norm.weight", {s.head_dim}, true});
            entries.push_back({p + "self_attn.k_norm.weight", {s.head_dim}, true});
        }
        entries.push_back({p + "mlp.gate_proj.weight", {s.ffn, s.hidden}, false});
        entries.push_back({p + "mlp.up_proj.weight", {s.ffn, s.hidden}, false});
        entries.push_back({p + "mlp.down_proj.weight", {s.hidden, s.ffn}, false});
    }
    entries.push_back({"norm.weight", {s.hidden}, true});

    const int esize = dtype == "f32" ? 4 : 2;
    const char* st_dtype = dtype == "f32" ? "F32" : dtype == "bf16" ? "BF16" : "F16";
    std::string header = "{";
    uint64_t offset = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        uint64_t n = 1;
        std::string shape;
        for (size_t d = 0; d < entries[i].shape.size(); ++d) {
            n *= entries[i].shape[d];
            shape += (d ? "," : "") + std::to_string(entries[i].shape[d]);
        }
        header += (i ? "," : "") + std::string("\"") + entries[i].name + "\":{\"dtype\":\"" + st_dtype +
                  "\",\"shape\":[" + shape + "],\"data_offsets\":[" + std::to_string(offset) + "," +
                  std::to_string(offset + n * esize) + "]}";
        offset += n * esize;
    }
    header += "}";
    while ((header.size() + 8) % 8 != 0) header += ' ';

    const std::string tmp = weights_path + ".part";
    std::ofstream out(tmp, std::ios::binary);
    const uint64_t hlen = header.size();
    out.write(reinterpret_cast<const char*>(&hlen), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<char> buf;
    for (const auto& e : entries) {
        uint64_t n = 1;
        for (int64_t d : e.shape) n *= d;
        buf.resize(n * esize);
        for (uint64_t i = 0; i < n; ++i) {
            const float v = e.norm ? 1.0f : normal(rng);
            if (esize == 4) {
                std::memcpy(&buf[i * 4], &v, 4);
            } else {
                const uint16_t h = dtype == "bf16" ? f32_to_bf16(v) : f32_to_f16(v);
                std::memcpy(&buf[i * 2], &h, 2);
            }
        }
        out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    }
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
    std::rename(tmp.c_str(), weights_path.c_str());

    std::ofstream cfg(config_path);
    cfg << "{\n  \"model_type\": \"" << s.model_type << "\",\n  \"hidden_size\": " << s.hidden
        << ",\n  \"num_hidden_layers\": " << s.layers << ",\n  \"num_attention_heads\": " << s.heads
        << ",\n  \"num_key_value_heads\": " << s.kv_heads << ",\n  \"head_dim\": " << s.head_dim
        << ",\n  \"intermediate_size\": " << s.ffn << ",\n  \"vocab_size\": " << s.vocab
        << ",\n  \"max_position_embeddings\": 32768,\n  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": " << s.rope_theta
        << ",\n  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": true\n}\n";
}

}  // namespace ember::bench
