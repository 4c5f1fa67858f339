// TEMPORARY PLACEHOLDER (build branch): DELETE THIS FILE when the real ember.h C API lands.
//
// Weak definitions of the ember.h entry points, so that libember.so exports the whole C ABI and
// the JavaCPP bindings can be built, loaded and smoke-tested before the model code exists. Every
// definition is weak: a real (strong) definition anywhere in ember_core replaces it at link time
// without a clash. Model functions answer EMBER_ERR_INTERNAL "not implemented yet".
#include <algorithm>
#include <cstring>
#include <string>

#include "backend/backend.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "ember/ember.h"

#define EMBER_PLACEHOLDER extern "C" EMBER_API __attribute__((weak))

namespace {
ember_status not_yet(const char* what) {
    ember::set_last_error(std::string(what) + " is not implemented yet (placeholder build)");
    return EMBER_ERR_INTERNAL;
}
}  // namespace

EMBER_PLACEHOLDER const char* ember_last_error(void) { return ember::last_error(); }

EMBER_PLACEHOLDER const char* ember_version(void) { return EMBER_VERSION; }

EMBER_PLACEHOLDER int32_t ember_cuda_built(void) { return ember::cuda_built() ? 1 : 0; }

EMBER_PLACEHOLDER ember_status ember_cuda_device_count(int32_t* count, char* reason, size_t reason_len) {
    return ember::guarded([&] {
        EMBER_CHECK_ARG(count != nullptr, "count is null");
        std::string why;
        *count = ember::cuda_device_count(&why);
        if (reason && reason_len > 0) {
            size_t n = std::min(why.size(), reason_len - 1);
            std::memcpy(reason, why.data(), n);
            reason[n] = '\0';
        }
    });
}

EMBER_PLACEHOLDER const char* ember_cpu_isa(void) { return ember::isa_name(ember::active_isa()); }

EMBER_PLACEHOLDER void ember_load_options_init(ember_load_options* opts) {
    if (!opts) return;
    std::memset(opts, 0, sizeof(*opts));
    opts->backend = EMBER_BACKEND_AUTO;
}

EMBER_PLACEHOLDER ember_status ember_model_load(const char*, const ember_load_options*, ember_model** out) {
    if (out) *out = nullptr;
    return not_yet("ember_model_load");
}

EMBER_PLACEHOLDER void ember_model_free(ember_model*) {}

EMBER_PLACEHOLDER ember_status ember_model_get_info(const ember_model*, ember_model_info*) {
    return not_yet("ember_model_get_info");
}

EMBER_PLACEHOLDER void ember_embed_options_init(ember_embed_options* opts) {
    if (!opts) return;
    std::memset(opts, 0, sizeof(*opts));
    opts->normalize = 1;
}

EMBER_PLACEHOLDER ember_status ember_embed(ember_model*, const ember_batch*, const ember_embed_options*,
                                           float*, size_t) {
    return not_yet("ember_embed");
}

EMBER_PLACEHOLDER ember_status ember_forward_hidden(ember_model*, const ember_batch*, float*, size_t) {
    return not_yet("ember_forward_hidden");
}

EMBER_PLACEHOLDER ember_status ember_hidden_rows(const ember_model*, const ember_batch*, int64_t* rows) {
    if (rows) *rows = 0;
    return not_yet("ember_hidden_rows");
}
