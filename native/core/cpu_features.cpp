#include "core/cpu_features.h"

#include <cpuid.h>
#include <cstdlib>
#include <cstring>

namespace ember {

namespace {

unsigned long long xgetbv0() {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
}

CpuFeatures detect() {
    CpuFeatures f;
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = c & (1u << 27);
    const bool fma = c & (1u << 12);
    const bool f16c = c & (1u << 29);
    if (!osxsave) return f;
    const unsigned long long xcr0 = xgetbv0();
    const bool ymm_os = (xcr0 & 0x6) == 0x6;
    const bool zmm_os = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const bool avx2 = b & (1u << 5);
    f.avx2 = ymm_os && avx2 && fma && f16c;
    const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
               avx512vl = b & (1u << 31);
    f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
    f.avx512_vnni = f.avx512 && (c & (1u << 11));
    unsigned int a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) {
        f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
        f.avx_vnni = f.avx2 && (a1 & (1u << 4));
    }
    return f;
}

Isa pick() {
    const CpuFeatures& f = cpu_features();
    Isa best = f.avx512 ? Isa::Avx512 : (f.avx2 ? Isa::Avx2 : Isa::Scalar);
    if (const char* env = std::getenv("EMBER_ISA")) {
        if (std::strcmp(env, "scalar") == 0) return Isa::Scalar;
        if (std::strcmp(env, "avx2") == 0 && best >= Isa::Avx2) return Isa::Avx2;
    }
    return best;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

Isa active_isa() {
    static const Isa isa = pick();
    return isa;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Avx512: return "avx512";
        case Isa::Avx2: return "avx2";
        default: return "scalar";
    }
}

}  // namespace ember
