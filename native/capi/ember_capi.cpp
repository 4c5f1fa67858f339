// C ABI for models: every entry point is guarded so no C++ exception reaches the caller.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "ember/ember.h"
#include "model/model.h"
#include "ops/pool.h"

struct ember_model {
    std::unique_ptr<ember::Model> impl;
};

namespace {
std::atomic<int64_t> g_live_models{0};
}

using namespace ember;

namespace {

// check_batch plus what the model's architecture needs (encoder ids, ...).
HostBatch checked(const Model& m, const ember_batch* batch) {
    HostBatch b = check_batch(batch, m.info().vocab_size);
    m.check_inputs(b);
    return b;
}

}  // namespace

extern "C" {

EMBER_API const char* ember_last_error(void) { return ember::last_error(); }

EMBER_API const char* ember_version(void) { return EMBER_VERSION; }

EMBER_API int32_t ember_cuda_built(void) { return ember::cuda_built() ? 1 : 0; }

EMBER_API ember_status ember_cuda_device_count(int32_t* count, char* reason, size_t reason_len) {
    return guarded([&] {
        EMBER_CHECK_ARG(count != nullptr, "count is null");
        std::string why;
        *count = cuda_device_count(&why);
        if (reason != nullptr && reason_len > 0) {
            const size_t n = std::min(reason_len - 1, why.size());
            std::memcpy(reason, why.data(), n);
            reason[n] = '\0';
        }
    });
}

EMBER_API ember_status ember_cuda_device_info(int32_t index, char* name, size_t name_len, int64_t* total_memory,
                                              int32_t* major, int32_t* minor, int32_t* multiprocessors) {
    return guarded([&] {
        EMBER_CHECK_ARG(name != nullptr || name_len == 0, "name is null but name_len is %zu", name_len);
        const CudaDeviceInfo info = cuda_device_info(index);
        if (name != nullptr && name_len > 0) {
            const size_t n = std::min(name_len - 1, info.name.size());
            std::memcpy(name, info.name.data(), n);
            name[n] = '\0';
        }
        if (total_memory) *total_memory = info.total_memory;
        if (major) *major = info.major;
        if (minor) *minor = info.minor;
        if (multiprocessors) *multiprocessors = info.multiprocessors;
    });
}

EMBER_API const char* ember_cpu_isa(void) { return isa_name(active_isa()); }

EMBER_API void ember_load_options_init(ember_load_options* opts) {
    if (opts == nullptr) return;
    std::memset(opts, 0, sizeof(*opts));
    opts->backend = EMBER_BACKEND_AUTO;
}

EMBER_API ember_status ember_model_load(const char* path, const ember_load_options* opts, ember_model** out) {
    return guarded([&] {
        EMBER_CHECK_ARG(path != nullptr && out != nullptr, "path and out must not be null");
        *out = nullptr;
        ember_load_options defaults;
        ember_load_options_init(&defaults);
        auto m = std::make_unique<ember_model>();
        m->impl = load_model(path, opts ? *opts : defaults);
        *out = m.release();
        g_live_models.fetch_add(1, std::memory_order_relaxed);
    });
}

EMBER_API void ember_model_free(ember_model* model) {
    if (model == nullptr) return;
    guarded([&] { delete model; });
    g_live_models.fetch_sub(1, std::memory_order_relaxed);
}

EMBER_API int64_t ember_live_models(void) { return g_live_models.load(std::memory_order_relaxed); }

EMBER_API ember_status ember_model_get_info(const ember_model* model, ember_model_info* out) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr && out != nullptr, "model and out must not be null");
        *out = model->impl->info();
    });
}

EMBER_API void ember_embed_options_init(ember_embed_options* opts) {
    if (opts == nullptr) return;
    std::memset(opts, 0, sizeof(*opts));
    opts->normalize = 1;
}

EMBER_API ember_status ember_embed(ember_model* model, const ember_batch* batch, const ember_embed_options* opts,
                                   float* out, size_t out_len) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr && out != nullptr, "model and out must not be null");
        ember_embed_options defaults;
        ember_embed_options_init(&defaults);
        const ember_embed_options& o = opts ? *opts : defaults;
        Model& m = *model->impl;
        const HostBatch b = checked(m, batch);
        const int32_t full = m.info().embedding_size;
        EMBER_CHECK_ARG(o.dimensions >= 0 && o.dimensions <= full, "dimensions %d must be in [1, %d] (0 = all)",
                        o.dimensions, full);
        const int32_t dims = o.dimensions == 0 ? full : o.dimensions;
        EMBER_CHECK_ARG(out_len >= static_cast<size_t>(b.n_seqs) * dims,
                        "output holds %zu floats, %lld needed", out_len, (long long)b.n_seqs * dims);
        std::vector<float> pooled(static_cast<size_t>(b.n_seqs) * full);
        m.forward_pooled(b, pooled.data());
        for (int32_t s = 0; s < b.n_seqs; ++s)
            std::memcpy(out + static_cast<size_t>(s) * dims, pooled.data() + static_cast<size_t>(s) * full,
                        sizeof(float) * dims);
        if (o.normalize) cpu::l2_normalize(out, b.n_seqs, dims, dims);
    });
}

EMBER_API ember_status ember_hidden_rows(const ember_model* model, const ember_batch* batch, int64_t* rows) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr && rows != nullptr, "model and rows must not be null");
        const HostBatch b = checked(*model->impl, batch);
        *rows = model->impl->hidden_rows(b);
    });
}

EMBER_API ember_status ember_forward_hidden(ember_model* model, const ember_batch* batch, float* out, size_t out_len) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr && out != nullptr, "model and out must not be null");
        Model& m = *model->impl;
        const HostBatch b = checked(m, batch);
        const int64_t need = m.hidden_rows(b) * m.info().hidden_size;
        EMBER_CHECK_ARG(out_len >= static_cast<size_t>(need), "output holds %zu floats, %lld needed", out_len,
                        (long long)need);
        m.forward_hidden(b, out);
    });
}

EMBER_API ember_status ember_embed_arrays(ember_model* model, const int32_t* token_ids, const int32_t* cu_seqlens,
                                          int32_t n_seqs, const int32_t* pool_start,
                                          const int32_t* encoder_token_ids, const int32_t* encoder_cu_seqlens,
                                          int32_t normalize, int32_t dimensions, float* out, size_t out_len) {
    const ember_batch b{token_ids, cu_seqlens, n_seqs, pool_start, encoder_token_ids, encoder_cu_seqlens};
    ember_embed_options o;
    ember_embed_options_init(&o);
    o.normalize = normalize;
    o.dimensions = dimensions;
    return ember_embed(model, &b, &o, out, out_len);
}

EMBER_API ember_status ember_forward_hidden_arrays(ember_model* model, const int32_t* token_ids,
                                                   const int32_t* cu_seqlens, int32_t n_seqs,
                                                   const int32_t* encoder_token_ids,
                                                   const int32_t* encoder_cu_seqlens, float* out, size_t out_len) {
    const ember_batch b{token_ids, cu_seqlens, n_seqs, nullptr, encoder_token_ids, encoder_cu_seqlens};
    return ember_forward_hidden(model, &b, out, out_len);
}

EMBER_API ember_status ember_hidden_rows_arrays(const ember_model* model, const int32_t* token_ids,
                                                const int32_t* cu_seqlens, int32_t n_seqs,
                                                const int32_t* encoder_token_ids,
                                                const int32_t* encoder_cu_seqlens, int64_t* rows) {
    const ember_batch b{token_ids, cu_seqlens, n_seqs, nullptr, encoder_token_ids, encoder_cu_seqlens};
    return ember_hidden_rows(model, &b, rows);
}

namespace {
// `text` into buf (at most buf_len bytes with the NUL, truncated), its full size + 1 into *needed.
void copy_text(const std::string& text, char* buf, size_t buf_len, size_t* needed) {
    EMBER_CHECK_ARG(buf != nullptr || buf_len == 0, "buf is null but buf_len is %zu", buf_len);
    if (needed != nullptr) *needed = text.size() + 1;
    if (buf_len > 0) {
        const size_t n = std::min(buf_len - 1, text.size());
        std::memcpy(buf, text.data(), n);
        buf[n] = '\0';
    }
}
}  // namespace

EMBER_API ember_status ember_model_describe(const ember_model* model, char* buf, size_t buf_len, size_t* needed) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr, "model is null");
        copy_text(model->impl->description(), buf, buf_len, needed);
    });
}

EMBER_API ember_status ember_model_runtime(const ember_model* model, char* buf, size_t buf_len, size_t* needed) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr, "model is null");
        // Failure messages come from drivers and libraries: never let a stray byte fail the dump.
        copy_text(model->impl->runtime().dump(-1, ' ', false, Json::error_handler_t::replace), buf, buf_len, needed);
    });
}

EMBER_API ember_status ember_intermediate_shape(const ember_model* model, const ember_batch* batch, int32_t which,
                                                int64_t* rows, int64_t* cols) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr && rows != nullptr && cols != nullptr, "model, rows and cols must not be null");
        const HostBatch b = checked(*model->impl, batch);
        const auto [r, c] = model->impl->intermediate_shape(b, which);
        *rows = r;
        *cols = c;
    });
}

EMBER_API ember_status ember_forward_intermediate(ember_model* model, const ember_batch* batch, int32_t which, float* out,
                                                  size_t out_len) {
    return guarded([&] {
        EMBER_CHECK_ARG(model != nullptr && out != nullptr, "model and out must not be null");
        Model& m = *model->impl;
        const HostBatch b = checked(m, batch);
        const auto [r, c] = m.intermediate_shape(b, which);
        EMBER_CHECK_ARG(out_len >= static_cast<size_t>(r * c), "output holds %zu floats, %lld needed", out_len,
                        (long long)(r * c));
        m.forward_intermediate(b, which, out);
    });
}

}  // extern "C"
