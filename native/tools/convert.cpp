// Hugging Face folder -> GGUF (ember_convert), and synthetic models (ember_synth_model).
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/synth_model.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ember/tools.h"
#include "io/gguf.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/rope_freqs.h"
#include "quant/quants.h"
#include "tools/convert.h"

namespace ember {

namespace {

// llama.cpp's llama_ftype for general.file_type.
uint32_t file_type(int32_t dtype) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return 0;
        case EMBER_DTYPE_F16: return 1;
        case EMBER_DTYPE_Q4_0: return 2;
        case EMBER_DTYPE_Q8_0: return 7;
        case EMBER_DTYPE_Q4_K: return 15;  // Q4_K_M
        case EMBER_DTYPE_Q6_K: return 18;
        case EMBER_DTYPE_BF16: return 32;
        default: return 0;
    }
}

// The type a matrix with rows of `k` elements is written in.
int32_t matrix_dtype(int32_t want, int64_t k) {
    if (dtype_row_bytes(want, k) >= 0) return want;
    if (dtype_row_bytes(EMBER_DTYPE_Q8_0, k) >= 0) return EMBER_DTYPE_Q8_0;
    return EMBER_DTYPE_F16;
}

std::string basename_of(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const size_t s = p.find_last_of('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

// GPT-2's byte-to-unicode table: the printable stand-in character of each byte, UTF-8 encoded.
std::vector<std::string> gpt2_byte_tokens() {
    std::vector<int> bs, cs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    cs = bs;
    int n = 0;
    for (int b = 0; b < 256; ++b)
        if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
            bs.push_back(b);
            cs.push_back(256 + n++);
        }
    std::vector<std::string> out(256);
    for (size_t i = 0; i < bs.size(); ++i) {
        const int cp = cs[i];
        std::string s;
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        out[static_cast<size_t>(bs[i])] = s;
    }
    return out;
}

// A special token named in tokenizer_config.json ("eos_token": "<|endoftext|>" or {"content": ...}).
std::string special_name(const Json& cfg, const char* key) {
    const Json* v = json_find(cfg, key);
    if (v == nullptr) return "";
    if (v->is_string()) return v->get<std::string>();
    if (v->is_object()) {
        const Json* c = json_find(*v, "content");
        if (c != nullptr && c->is_string()) return c->get<std::string>();
    }
    return "";
}

void write_tokenizer(GgufWriter& w, const std::string& dir, const std::string& arch, int32_t vocab) {
    const std::string tj_path = join_path(dir, "tokenizer.json");
    std::vector<std::string> tokens(static_cast<size_t>(vocab));
    std::vector<int32_t> types(static_cast<size_t>(vocab), 5);  // 5 = unused
    std::vector<std::string> merges;
    std::map<std::string, int32_t> ids;
    int32_t eos = -1, bos = -1, pad = -1;
    bool add_bos = false, add_eos = false;
    std::string pre = "default";

    if (!file_exists(tj_path)) {
        // Stand-in vocabulary: the 256 GPT-2 byte tokens (so any text tokenizes), fillers, and
        // the last id as an end-of-text control token.
        const auto bytes = gpt2_byte_tokens();
        for (int32_t i = 0; i < vocab; ++i) {
            if (i < 256 && vocab > 256) {
                tokens[i] = bytes[static_cast<size_t>(i)];
                types[i] = 1;
            } else {
                tokens[i] = "[PAD" + std::to_string(i) + "]";
                types[i] = 4;
            }
        }
        tokens[vocab - 1] = "<|endoftext|>";
        types[vocab - 1] = 3;
        eos = bos = pad = vocab - 1;
    } else {
        const Json tj = read_json_file(tj_path);
        const Json* model = json_find(tj, "model");
        const std::string type = model ? json_string_or(*model, "type", "", "tokenizer.json model") : "";
        if (type != "BPE")
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "tokenizer.json: model type \"%s\" cannot be written to GGUF yet "
                       "(BPE only)", type.c_str());
        const Json* vocab_j = json_find(*model, "vocab");
        if (vocab_j == nullptr || !vocab_j->is_object())
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tokenizer.json: model.vocab must be an object");
        for (auto it = vocab_j->begin(); it != vocab_j->end(); ++it) {
            if (!it.value().is_number_integer()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tokenizer.json: bad vocab id");
            const int64_t id = it.value().get<int64_t>();
            if (id < 0 || id >= vocab) continue;  // beyond the embedding matrix: unusable anyway
            tokens[id] = it.key();
            types[id] = 1;
            ids[it.key()] = static_cast<int32_t>(id);
        }
        if (const Json* added = json_find(tj, "added_tokens"); added != nullptr && added->is_array()) {
            for (const Json& a : *added) {
                const int64_t id = json_int(a, "id", "tokenizer.json added_tokens", 0, INT32_MAX);
                const std::string content = json_string(a, "content", "tokenizer.json added_tokens");
                if (id >= vocab) continue;
                tokens[id] = content;
                types[id] = json_bool_or(a, "special", false, "tokenizer.json added_tokens") ? 3 : 4;
                ids[content] = static_cast<int32_t>(id);
            }
        }
        if (const Json* m = json_find(*model, "merges"); m != nullptr && m->is_array()) {
            for (const Json& e : *m) {
                if (e.is_string()) merges.push_back(e.get<std::string>());
                else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string())
                    merges.push_back(e[0].get<std::string>() + " " + e[1].get<std::string>());
                else EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tokenizer.json: bad merge entry");
            }
        }
        for (int32_t i = 0; i < vocab; ++i)
            if (tokens[i].empty()) tokens[i] = "[PAD" + std::to_string(i) + "]";
        // Which special tokens the post-processor adds around a single sequence.
        if (const Json* pp = json_find(tj, "post_processor"); pp != nullptr) {
            const Json* single = json_find(*pp, "single");
            if (single == nullptr) {  // Sequence of processors: look for a TemplateProcessing
                if (const Json* procs = json_find(*pp, "processors"); procs && procs->is_array())
                    for (const Json& p : *procs)
                        if (const Json* s = json_find(p, "single")) single = s;
            }
            if (single != nullptr && single->is_array() && !single->empty()) {
                auto special_id = [&](const Json& item) -> int32_t {
                    const Json* st = json_find(item, "SpecialToken");
                    if (st == nullptr) return -1;
                    const std::string name = json_string_or(*st, "id", "", "tokenizer.json post_processor");
                    auto it = ids.find(name);
                    return it == ids.end() ? -1 : it->second;
                };
                const int32_t first = special_id(single->front()), last = special_id(single->back());
                if (first >= 0) { add_bos = true; bos = first; }
                if (last >= 0) { add_eos = true; eos = last; }
            }
        }
        const std::string tc_path = join_path(dir, "tokenizer_config.json");
        if (file_exists(tc_path)) {
            const Json tc = read_json_file(tc_path);
            auto lookup = [&](const char* key) {
                auto it = ids.find(special_name(tc, key));
                return it == ids.end() ? -1 : it->second;
            };
            if (eos < 0) eos = lookup("eos_token");
            if (bos < 0) bos = lookup("bos_token");
            pad = lookup("pad_token");
        }
        pre = arch == "qwen3" ? "qwen2" : "llama-bpe";
        if (eos < 0) {
            auto it = ids.find("<|endoftext|>");
            if (it != ids.end()) eos = it->second;
        }
    }
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", pre);
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_string_array("tokenizer.ggml.merges", merges);
    if (eos >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
    if (bos >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
    if (pad >= 0) w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
    w.add_bool("tokenizer.ggml.add_bos_token", add_bos);
    w.add_bool("tokenizer.ggml.add_eos_token", add_eos);
}

// A safetensors tensor converted row by row: read (and, for Llama Q/K, permute) rows, write them
// in `dtype`.
// Rows are independent: they are converted on all cores (the K-quant scale search is slow).
GgufWriter::Producer matrix_producer(ThreadPool& pool, const TensorView* t, int64_t n, int64_t k, int32_t dtype,
                                     int32_t permute_heads) {
    return [&pool, t, n, k, dtype, permute_heads](uint8_t* dst, size_t bytes) {
        const int64_t src_rb = dtype_row_bytes(t->dtype, k), dst_rb = dtype_row_bytes(dtype, k);
        if (src_rb < 0 || dst_rb < 0 || static_cast<uint64_t>(n * dst_rb) != bytes)
            EMBER_FAIL(EMBER_ERR_INTERNAL, "convert: size mismatch for %s", t->name.c_str());
        const int64_t D = permute_heads > 0 ? n / permute_heads : 0;
        pool.parallel_for(n, std::max<int64_t>(1, 65536 / k), [&](int64_t r0, int64_t r1) {
            std::vector<float> row(static_cast<size_t>(k));
            for (int64_t r = r0; r < r1; ++r) {
                // llama.cpp's permute(): GGUF row (head, i, h) = HF row (head, h, i), i < D/2, h in {0, 1}.
                int64_t src_row = r;
                if (permute_heads > 0) {
                    const int64_t head = r / D, within = r % D, i = within / 2, h = within % 2;
                    src_row = head * D + h * (D / 2) + i;
                }
                if (!quant::dequantize_row(t->dtype, t->data + src_row * src_rb, row.data(), k))
                    EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "convert: cannot read %s (%s)", t->name.c_str(),
                               t->st_dtype.c_str());
                quant::quantize_row(dtype, row.data(), dst + r * dst_rb, k);
            }
        });
    };
}

}  // namespace

void convert_hf_to_gguf(const std::string& dir, const std::string& out, int32_t dtype) {
    EMBER_CHECK_ARG(dtype_info(dtype) != nullptr, "convert: unknown dtype %d", dtype);
    const std::string config_path = join_path(dir, "config.json");
    if (!file_exists(config_path)) EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "%s has no config.json", dir.c_str());
    const Json config = read_json_file(config_path);
    const DecoderConfig c = parse_decoder_config(config, "config.json");
    const bool qwen = c.model_type == "qwen3";
    const std::string arch = qwen ? "qwen3" : "llama";
    if (c.rope.type != "default" && c.rope.type != "linear" && c.rope.type != "yarn" && c.rope.type != "llama3")
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "convert: rope type \"%s\" cannot be written to GGUF yet", c.rope.type.c_str());
    int32_t pooling = read_st_pooling(dir);
    if (pooling < 0) pooling = (qwen || c.causal) ? EMBER_POOLING_LAST : EMBER_POOLING_MEAN;
    const uint32_t gguf_pooling = pooling == EMBER_POOLING_MEAN ? 1 : pooling == EMBER_POOLING_CLS ? 2 : 3;

    auto archive = SafetensorsArchive::open_dir(dir);
    ThreadPool pool(0);
    GgufWriter w;
    const std::string a = arch + ".";
    w.add_string("general.architecture", arch);
    w.add_string("general.name", basename_of(dir));
    w.add_u32("general.file_type", file_type(dtype));
    w.add_u32("general.quantization_version", 2);
    w.add_u32(a + "context_length", static_cast<uint32_t>(c.max_positions));
    w.add_u32(a + "embedding_length", static_cast<uint32_t>(c.hidden_size));
    w.add_u32(a + "block_count", static_cast<uint32_t>(c.num_layers));
    w.add_u32(a + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
    w.add_u32(a + "attention.head_count", static_cast<uint32_t>(c.num_heads));
    w.add_u32(a + "attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
    w.add_u32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim));
    w.add_f32(a + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_eps));
    w.add_f32(a + "rope.freq_base", static_cast<float>(c.rope.theta));
    w.add_u32(a + "rope.dimension_count", static_cast<uint32_t>(c.head_dim));
    // llama3 scaling goes in as per-pair divisors (the tensor rope_freqs.weight), as llama.cpp's
    // converter writes it; llama.cpp has no llama3 scaling type.
    if (c.rope.type != "default" && c.rope.type != "llama3") {
        w.add_string(a + "rope.scaling.type", c.rope.type);
        w.add_f32(a + "rope.scaling.factor", static_cast<float>(c.rope.factor));
        if (c.rope.original_max_positions > 0)
            w.add_u32(a + "rope.scaling.original_context_length", static_cast<uint32_t>(c.rope.original_max_positions));
    }
    w.add_u32(a + "pooling_type", gguf_pooling);
    w.add_bool(a + "attention.causal", c.causal);
    w.add_u32(a + "vocab_size", static_cast<uint32_t>(c.vocab_size));
    write_tokenizer(w, dir, arch, c.vocab_size);

    auto find = [&](const std::string& name, const std::vector<int64_t>& shape) -> const TensorView* {
        const TensorView* t = archive->find(name);
        if (t == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "convert: missing tensor %s", name.c_str());
        if (t->shape != shape)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "convert: tensor %s has shape %s", name.c_str(), t->shape_string().c_str());
        if (t->dtype < 0)
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "convert: tensor %s is %s", name.c_str(), t->st_dtype.c_str());
        return t;
    };
    auto matrix = [&](const std::string& gname, const std::string& hf, int64_t n, int64_t k, int32_t heads) {
        const TensorView* t = find(hf, {n, k});
        const int32_t dt = matrix_dtype(dtype, k);
        w.add_tensor(gname, {n, k}, dt, matrix_producer(pool, t, n, k, dt, heads));
    };
    auto vector = [&](const std::string& gname, const std::string& hf, int64_t n) {
        const TensorView* t = find(hf, {n});
        w.add_tensor(gname, {n}, EMBER_DTYPE_F32, matrix_producer(pool, t, 1, n, EMBER_DTYPE_F32, 0));
    };
    // Decoder tensors are spelled with or without "model." in published checkpoints.
    auto hf = [&](const std::string& name) {
        return archive->find(name) != nullptr || archive->find("model." + name) == nullptr ? name : "model." + name;
    };
    const int64_t H = c.hidden_size, D = c.head_dim, Q = int64_t(c.num_heads) * D, KV = int64_t(c.num_kv_heads) * D,
                  F = c.intermediate_size;
    const int32_t q_perm = qwen ? 0 : c.num_heads, k_perm = qwen ? 0 : c.num_kv_heads;
    if (c.rope.type == "llama3") {
        const std::vector<float> factors = rope_freq_factors(c.rope, c.head_dim, c.max_positions);
        w.add_tensor("rope_freqs.weight", {static_cast<int64_t>(factors.size())}, EMBER_DTYPE_F32,
                     [factors](uint8_t* dst, size_t bytes) { std::memcpy(dst, factors.data(), bytes); });
    }
    matrix("token_embd.weight", hf("embed_tokens.weight"), c.vocab_size, H, 0);
    for (int32_t l = 0; l < c.num_layers; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".", g = "blk." + std::to_string(l) + ".";
        vector(g + "attn_norm.weight", hf(p + "input_layernorm.weight"), H);
        matrix(g + "attn_q.weight", hf(p + "self_attn.q_proj.weight"), Q, H, q_perm);
        matrix(g + "attn_k.weight", hf(p + "self_attn.k_proj.weight"), KV, H, k_perm);
        matrix(g + "attn_v.weight", hf(p + "self_attn.v_proj.weight"), KV, H, 0);
        matrix(g + "attn_output.weight", hf(p + "self_attn.o_proj.weight"), H, Q, 0);
        if (c.qk_norm) {
            vector(g + "attn_q_norm.weight", hf(p + "self_attn.q_norm.weight"), D);
            vector(g + "attn_k_norm.weight", hf(p + "self_attn.k_norm.weight"), D);
        }
        vector(g + "ffn_norm.weight", hf(p + "post_attention_layernorm.weight"), H);
        matrix(g + "ffn_gate.weight", hf(p + "mlp.gate_proj.weight"), F, H, 0);
        matrix(g + "ffn_up.weight", hf(p + "mlp.up_proj.weight"), F, H, 0);
        matrix(g + "ffn_down.weight", hf(p + "mlp.down_proj.weight"), H, F, 0);
    }
    vector("output_norm.weight", hf("norm.weight"), H);
    w.write(out);
}

// mkdir -p of the folder that will hold `path`.
void make_parent_dirs(const std::string& path) {
    for (size_t i = 1; i < path.size(); ++i)
        if (path[i] == '/') ::mkdir(path.substr(0, i).c_str(), 0755);
}

void synth_model_any(const std::string& like, const std::string& out, int32_t dtype, uint64_t seed) {
    const bench::ModelShape* shape = bench::find_shape(like);
    EMBER_CHECK_ARG(shape != nullptr, "unknown model shape \"%s\"", like.c_str());
    const bool gguf = out.size() > 5 && out.compare(out.size() - 5, 5, ".gguf") == 0;
    make_parent_dirs(out);
    auto name = [](int32_t dt) -> std::string {
        return dt == EMBER_DTYPE_F32 ? "f32" : dt == EMBER_DTYPE_F16 ? "f16" : "bf16";
    };
    if (!gguf) {
        EMBER_CHECK_ARG(dtype == EMBER_DTYPE_F32 || dtype == EMBER_DTYPE_F16 || dtype == EMBER_DTYPE_BF16,
                        "a synthetic Hugging Face folder holds f32, f16 or bf16 weights");
        bench::synth_model(*shape, name(dtype), out, seed);
        return;
    }
    if (file_exists(out)) return;
    const std::string dir = out + ".hf";
    bench::synth_model(*shape, "bf16", dir, seed);
    convert_hf_to_gguf(dir, out, dtype);
}

}  // namespace ember

extern "C" {

EMBER_API ember_status ember_convert(const char* hf_dir, const char* out_gguf, int32_t dtype) {
    return ember::guarded([&] {
        EMBER_CHECK_ARG(hf_dir != nullptr && out_gguf != nullptr, "hf_dir and out_gguf must not be null");
        ember::convert_hf_to_gguf(hf_dir, out_gguf, dtype);
    });
}

EMBER_API ember_status ember_synth_model(const char* like, const char* out, int32_t dtype, uint64_t seed) {
    return ember::guarded([&] {
        EMBER_CHECK_ARG(like != nullptr && out != nullptr, "like and out must not be null");
        ember::synth_model_any(like, out, dtype, seed);
    });
}

}  // extern "C"
