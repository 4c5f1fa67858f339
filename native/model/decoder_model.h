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

}  // namespace ember
