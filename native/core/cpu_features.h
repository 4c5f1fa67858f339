// Which SIMD level the CPU kernels dispatch to, decided once per process.
#pragma once

namespace ember {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
    bool avx2 = false;         // avx2 + fma + f16c
    bool avx512 = false;       // avx512 f/bw/dq/vl with OS support for the zmm state
    bool avx512_vnni = false;
    bool avx512_bf16 = false;
    bool avx_vnni = false;
};

const CpuFeatures& cpu_features();

// The level in use: the best the CPU has, lowered by EMBER_ISA=avx2|scalar for tests/benchmarks.
Isa active_isa();
const char* isa_name(Isa isa);

}  // namespace ember
