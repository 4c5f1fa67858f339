// Qwen3-Embedding, llama-embed-nemotron and other plain decoder embedders: the decoder stack,
// then last-token / mean / first-token pooling.
#pragma once

#include <memory>
#include <string>

#include "model/decoder.h"
#include "model/model.h"

namespace ember {

struct DecoderModelSpec {
    DecoderConfig decoder;
    int32_t pooling = EMBER_POOLING_LAST;
    std::string family;
};

std::unique_ptr<Model> make_decoder_model(const DecoderModelSpec& spec, std::unique_ptr<Backend> backend,
                                          std::unique_ptr<WeightSource> weights);

// Uploads the batch's ids and cu_seqlens to backend memory (views of the host arrays on CPU).
struct BackendBatch {
    Buffer ids_buf, cu_buf, pool_start_buf;
    const int32_t* ids = nullptr;
    const int32_t* pool_start = nullptr;
    Seqs seqs;
};
BackendBatch to_backend(Backend& backend, const HostBatch& batch);

// `n` int32 values in backend memory: the host array itself on the CPU, else a copy in `storage`.
const int32_t* to_backend(Backend& backend, const int32_t* host, int64_t n, Buffer& storage);

// The decoder's last_hidden_state for the batch's ids, in a fresh activation buffer
// (total_tokens x hidden_size).
Buffer run_decoder(Backend& backend, const Decoder& decoder, const BackendBatch& batch);

// n values of `dtype` (f32, or the bf16 / f16 activations of a GPU backend) from backend memory to
// host floats (after synchronizing).
void download_f32(Backend& backend, const void* src, int32_t dtype, int64_t n, float* out);

// Activation bytes per token of Decoder::forward (its largest working set).
int64_t decoder_activation_bytes(const DecoderConfig& c);

// ember_model_runtime's object for a model built on `decoder`: {"graphs": {"enabled", "recorded",
// "replayed", "failed", "evicted", "live", "last_failure"}}.
Json decoder_runtime(const Decoder& decoder, const Backend& backend);

// ember_model_info for a model built on `decoder`: its sizes, attention, the backend in use and
// the decoder's weights. Architectures that add to it (a wider embedding, more weights) adjust
// the result.
ember_model_info decoder_model_info(const DecoderConfig& c, const Decoder& decoder, const Backend& backend,
                                    int32_t pooling, const std::string& family);

}  // namespace ember
