// A decoder's hidden states for a ragged batch given as ids + cu_seqlens, on any backend, as host
// floats (shared by native/tests/test_replay.cpp and cuda/tests/test_cuda_graphs.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/decoder.h"
#include "model/decoder_model.h"

namespace ember::test {

inline std::vector<float> decoder_hidden(Backend& backend, const Decoder& decoder, const std::vector<int32_t>& ids,
                                         const std::vector<int32_t>& cu) {
    HostBatch b;
    b.ids = ids.data();
    b.cu_seqlens = cu.data();
    b.n_seqs = static_cast<int32_t>(cu.size() - 1);
    b.total_tokens = cu.back();
    for (size_t s = 0; s + 1 < cu.size(); ++s) b.max_len = std::max<int64_t>(b.max_len, cu[s + 1] - cu[s]);
    BackendBatch bb = to_backend(backend, b);
    Buffer h = run_decoder(backend, decoder, bb);
    std::vector<float> out(static_cast<size_t>(cu.back()) * decoder.config().hidden_size);
    download_f32(backend, h.data(), backend.activation_dtype(), static_cast<int64_t>(out.size()), out.data());
    return out;
}

}  // namespace ember::test
