// SIMD vector traits shared by the CPU kernels. One struct per instruction set, all with the same
// members in the same order, so a kernel is written once as a template over the traits and
// instantiated per ISA:
//   VecSse    4 floats, SSE2 only: the portable path, built for baseline x86-64 (no FMA, no F16C)
//   VecAvx2   8 floats, AVX2 + FMA + F16C      (only in *_avx2.cpp / *_avx512.cpp)
//   VecAvx512 16 floats, AVX-512 F/BW/DQ/VL    (only in *_avx512.cpp)
//
// Linkage rules for code under ops/simd/ and the ops/*_impl.h headers (read before editing):
// - Everything is in an anonymous namespace on purpose. Each translation unit compiles its own
//   copy with its own -m flags; with external linkage the linker would keep one copy of an inline
//   function or template, possibly the one built with AVX-512, for every caller.
// - The *_avx2.cpp / *_avx512.cpp files include only these headers, <immintrin.h>, <cstdint>,
//   <cstring> and plain C declarations. No std:: templates or inline library functions (they are
//   emitted as shared weak symbols), no exceptions (validation happens in the baseline file before
//   dispatch), no namespace-scope object that needs dynamic initialization (it would run AVX code
//   at library load on every machine). The kernel tables they define are constant-initialized.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ember/kernels.h"
#include "ops/simd/vec_sse.h"
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "ops/simd/vec_avx2.h"
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#include "ops/simd/vec_avx512.h"
#endif

namespace ember::cpu {
namespace {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// Element formats the kernels read weights in: load<V>(row, i) returns V::W consecutive elements
// starting at element `i` of a row, converted to float. Quantized block formats (Q8_0, Q4_K, ...)
// plug in as further structs with the same members and a case in with_format().
struct FmtF32 {
    static constexpr int kBytes = 4;
    template <class V>
    static typename V::T load(const void* row, int64_t i) {
        return V::load(static_cast<const float*>(row) + i);
    }
};
struct FmtBf16 {
    static constexpr int kBytes = 2;
    template <class V>
    static typename V::T load(const void* row, int64_t i) {
        return V::load_bf16(static_cast<const uint16_t*>(row) + i);
    }
};
struct FmtF16 {
    static constexpr int kBytes = 2;
    template <class V>
    static typename V::T load(const void* row, int64_t i) {
        return V::load_f16(static_cast<const uint16_t*>(row) + i);
    }
};

// Calls fn(Fmt{}) with the format of weight type `dtype`: the one weight-type switch of the
// kernels. Returns false (calling nothing) for a type without a format.
template <class Fn>
bool with_format(int32_t dtype, Fn&& fn) {
    switch (dtype) {
        case EMBER_DTYPE_F32: fn(FmtF32{}); return true;
        case EMBER_DTYPE_BF16: fn(FmtBf16{}); return true;
        case EMBER_DTYPE_F16: fn(FmtF16{}); return true;
        default: return false;
    }
}

// The first `count` (< V::W) elements at `i`, zeros after them; reads nothing past the row.
template <class V, class Fmt>
typename V::T load_partial(const void* row, int64_t i, int64_t count) {
    alignas(64) unsigned char tmp[V::W * Fmt::kBytes];
    std::memset(tmp, 0, sizeof(tmp));
    std::memcpy(tmp, static_cast<const unsigned char*>(row) + i * Fmt::kBytes,
                static_cast<size_t>(count) * Fmt::kBytes);
    return Fmt::template load<V>(tmp, 0);
}

inline void store_partial_floats(float* dst, const float* src, int64_t count) {
    std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
}

}  // namespace
}  // namespace ember::cpu
