/* Ember tools: GGUF conversion, the tokenizer a GGUF file carries, and synthetic models, as plain
 * C ABI functions (the CLI and the Java API call these). Same conventions as ember.h: a status
 * code, the message in ember_last_error(), nothing aborts. */
#ifndef EMBER_TOOLS_H
#define EMBER_TOOLS_H

#include "ember.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Converts a Hugging Face decoder folder (config.json + safetensors, model_type qwen3, llama,
 * mistral or a bidirectional llama/mistral) to a GGUF v3 file llama.cpp loads (architecture
 * qwen3 or llama). `dtype` (ember_dtype) is the type of the 2-D projection and embedding
 * matrices: F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K; norms stay F32. A matrix whose row length
 * is not a whole number of the type's blocks falls back to Q8_0 (K-quants) or F16. Llama-family
 * Q/K rows are permuted the way llama.cpp's converter does. The tokenizer is written from the
 * folder's tokenizer.json (BPE; tokenizer.ggml.*); without one, a stand-in byte-level vocabulary
 * of the model's size is written so llama.cpp loads the file (only token ids are meaningful). */
EMBER_API ember_status ember_convert(const char* hf_dir, const char* out_gguf, int32_t dtype);

/* Writes a random-weight model of a known shape ("qwen3-0.6b", "qwen3-4b", "qwen3-8b",
 * "llama-embed-nemotron-8b"; "tiny": 64 wide, 2 layers; "small": 256 wide, 4 layers, every row a
 * whole number of K-quant blocks) for benchmarks and tests: a Hugging Face folder when `out`
 * does not end in .gguf (then dtype is F32, F16 or BF16), else a GGUF file of `dtype` (converted
 * from a BF16 folder next to it, `out` + ".hf"). Existing complete outputs are kept. */
EMBER_API ember_status ember_synth_model(const char* like, const char* out, int32_t dtype, uint64_t seed);

/* The tokenizer stored in a GGUF file (tokenizer.ggml.*), read without loading any weights, as one
 * JSON object: "model" (e.g. "gpt2"), "pre" ("" when absent), "tokens" (strings), "token_type"
 * (integers 0..6 as llama.cpp defines them: 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte; [] when absent), "merges" ("a b" strings, [] when absent), and, only when the
 * file has them, "bos_token_id", "eos_token_id", "padding_token_id", "unknown_token_id",
 * "seperator_token_id", "eot_token_id" (integers) and "add_bos_token", "add_eos_token" (bools).
 * Token text that is not valid UTF-8 is replaced (U+FFFD). EMBER_ERR_MODEL_NOT_FOUND when the
 * file is missing or has no tokenizer.ggml.model; EMBER_ERR_MODEL_MALFORMED for inconsistent
 * metadata (counts that disagree, ids outside the vocabulary). Writes at most buf_len bytes
 * including the terminating NUL (truncating); *needed (may be NULL) receives the full length plus
 * one. buf may be NULL when buf_len is 0. */
EMBER_API ember_status ember_gguf_tokenizer_json(const char* path, char* buf, size_t buf_len, size_t* needed);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_TOOLS_H */
