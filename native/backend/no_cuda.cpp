// Linked into the CPU-only library: CUDA requests get a clear "not built" answer.
#include "backend/backend.h"
#include "core/error.h"

namespace ember {

bool cuda_built() { return false; }

int cuda_device_count(std::string* reason) {
    if (reason) *reason = "this build of Ember has no CUDA backend (use the linux-x86_64-gpu native jar)";
    return 0;
}

CudaDeviceInfo cuda_device_info(int) {
    EMBER_FAIL(EMBER_ERR_BACKEND_UNAVAILABLE,
               "this build of Ember has no CUDA backend (use the linux-x86_64-gpu native jar)");
}

std::unique_ptr<Backend> make_cuda_backend(int, const CudaSettings&) {
    EMBER_FAIL(EMBER_ERR_BACKEND_UNAVAILABLE,
               "CUDA backend requested, but this build of Ember has no CUDA backend "
               "(use the linux-x86_64-gpu native jar)");
}

}  // namespace ember
