// libFuzzer entry point for one target of fuzz_targets.h, chosen at compile time by
// EMBER_FUZZ_TARGET (the target's name, e.g. safetensors). Built by EMBER_FUZZ=ON (clang).
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_targets.h"

#ifndef EMBER_FUZZ_TARGET
#error "EMBER_FUZZ_TARGET names the target"
#endif
#define EMBER_STR2(x) #x
#define EMBER_STR(x) EMBER_STR2(x)

namespace {
ember::fuzz::TargetFn target() {
    static const ember::fuzz::Target* t = ember::fuzz::find_target(EMBER_STR(EMBER_FUZZ_TARGET));
    if (t == nullptr) {
        std::fprintf(stderr, "no fuzz target named %s\n", EMBER_STR(EMBER_FUZZ_TARGET));
        std::abort();
    }
    return t->fn;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    target()(data, size);
    return 0;
}
