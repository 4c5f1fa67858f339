// main() of the CUDA test executables: every test case with a device, only the [host] ones
// without (then exit 77: ctest reports the test as skipped).
#define DOCTEST_CONFIG_IMPLEMENT
#include "doctest/doctest.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "backend/backend.h"
#include "cuda_test_util.h"

int ember::cudatest::run_or_skip(int argc, char** argv) {
    doctest::Context context(argc, argv);
    std::string reason;
    const int devices = ember::cuda_device_count(&reason);
    if (devices == 0) {
        context.addFilter("test-case", "*[host]*");
        const int rc = context.run();
        if (rc != 0 || context.shouldExit()) return rc;
        const char* require = std::getenv("EMBER_REQUIRE_CUDA");
        if (require && std::string(require) == "1") {
            std::printf("FAILED: EMBER_REQUIRE_CUDA=1 but no CUDA device (%s)\n", reason.c_str());
            return 1;
        }
        std::printf("SKIPPED: no CUDA device (%s)\n", reason.c_str());
        return 77;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        std::printf("device 0: %s, sm_%d%d, %d SMs, seed %llu\n", prop.name, prop.major, prop.minor,
                    prop.multiProcessorCount, static_cast<unsigned long long>(ember::test::test_seed()));
    return context.run();
}

int main(int argc, char** argv) { return ember::cudatest::run_or_skip(argc, argv); }
