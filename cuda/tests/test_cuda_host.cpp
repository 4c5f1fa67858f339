// Host-side checks of the CUDA code's index arithmetic, run in CI without a GPU:
//   - the GGUF block decoders (quant.cuh: decode_run, decode_one, QuantRun) against ggml's
//     dequantize_row_q8_0 / _q4_K / _q6_K loops, re-written here from the format description;
//   - the tensor-core fragment plumbing (mma.cuh): ldmatrix and mma.sync m16n8k16 replayed on the
//     host by the PTX ISA's rules, fed by the lane helpers exactly as the matmul and flash
//     attention kernels use them, against plain matrix products;
//   - the flash attention kernel's SelfExtend tile rule (which K tiles a block loads, which
//     products a warp computes) against every pair's kind;
//   - the wgmma matmul's and the wgmma attention's swizzled shared-memory tiles read back through
//     their descriptors by the PTX ISA's address rules for 128-byte-swizzled K-major and N-major
//     operands;
//   - the attention launches' chunking of more sequences than grid.z holds;
//   - the device pool's size classes.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "doctest/doctest.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "attention.cuh"
#include "matmul_wgmma.cuh"
#include "core/half.h"
#include "memory_pool.cuh"
#include "mma.cuh"
#include "quant.cuh"

using namespace ember;
using namespace ember::cuda;

namespace {

// --- reference dequantizers, in ggml's loop form -------------------------------------------------

void ref_q8_0(const uint8_t* blk, float* y) {
    const float d = f16_to_f32(uint16_t(blk[0] | (blk[1] << 8)));
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<int8_t>(blk[2 + i]);
}

void ref_scale_min(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
    if (j < 4) {
        d = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

void ref_q4_k(const uint8_t* blk, float* y) {
    const float d = f16_to_f32(uint16_t(blk[0] | (blk[1] << 8)));
    const float min = f16_to_f32(uint16_t(blk[2] | (blk[3] << 8)));
    const uint8_t* scales = blk + 4;
    const uint8_t* q = blk + 16;
    int is = 0;
    for (int j = 0; j < 256; j += 64) {
        uint8_t sc, m;
        ref_scale_min(is + 0, scales, sc, m);
        const float d1 = d * sc, m1 = min * m;
        ref_scale_min(is + 1, scales, sc, m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

void ref_q6_k(const uint8_t* blk, float* y) {
    const uint8_t* ql = blk;
    const uint8_t* qh = blk + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    const float d = f16_to_f32(uint16_t(blk[208] | (blk[209] << 8)));
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int8_t q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

// Random blocks with sane f16 scales (small normal numbers) and random everything else.
std::vector<uint8_t> random_blocks(int32_t dtype, int64_t blocks, uint64_t seed) {
    const int bytes = dtype == EMBER_DTYPE_Q8_0 ? 34 : dtype == EMBER_DTYPE_Q4_K ? 144 : 210;
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> v(static_cast<size_t>(blocks * bytes));
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    std::uniform_real_distribution<float> scale(0.001f, 0.1f);
    auto put = [&](uint8_t* p, float f) {
        const uint16_t h = f32_to_f16(f);
        p[0] = h & 0xff;
        p[1] = h >> 8;
    };
    for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* blk = v.data() + b * bytes;
        if (dtype == EMBER_DTYPE_Q8_0) put(blk, scale(rng));
        if (dtype == EMBER_DTYPE_Q4_K) {
            put(blk, scale(rng));
            put(blk + 2, scale(rng));
        }
        if (dtype == EMBER_DTYPE_Q6_K) put(blk + 208, scale(rng));
    }
    return v;
}

template <int WT>
void check_decoders(uint64_t seed) {
    constexpr int be = WeightTraits<WT>::block_elems, bb = WeightTraits<WT>::block_bytes;
    const int64_t blocks = 6, k = blocks * be;
    // One row of `blocks` blocks, at a 16-byte aligned address as device rows are.
    const std::vector<uint8_t> raw = random_blocks(WT, blocks, seed);
    std::vector<uint8_t, std::allocator<uint8_t>> row(raw);
    REQUIRE(reinterpret_cast<uintptr_t>(row.data()) % 16 == 0);
    std::vector<float> ref(static_cast<size_t>(k));
    for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* blk = row.data() + b * bb;
        if (WT == EMBER_DTYPE_Q8_0) ref_q8_0(blk, ref.data() + b * be);
        if (WT == EMBER_DTYPE_Q4_K) ref_q4_k(blk, ref.data() + b * be);
        if (WT == EMBER_DTYPE_Q6_K) ref_q6_k(blk, ref.data() + b * be);
    }
    for (int64_t i = 0; i < k; ++i) {
        INFO("element " << i);
        REQUIRE(decode_one<WT>(row.data(), i) == ref[i]);
    }
    for (int64_t k0 = 0; k0 < k; k0 += 8) {
        float out[8];
        decode_run<WT, 8>(row.data(), k0, out);
        for (int i = 0; i < 8; ++i) REQUIRE(out[i] == ref[k0 + i]);
    }
    for (int64_t k0 = 0; k0 < k; k0 += 16) {
        float out[16];
        decode_run<WT, 16>(row.data(), k0, out);
        for (int i = 0; i < 16; ++i) REQUIRE(out[i] == ref[k0 + i]);
    }
    CHECK(weight_row_bytes<WT>(k) == blocks * bb);
}

// --- ldmatrix / mma.sync replayed by the PTX rules ---------------------------------------------

using Smem = std::vector<uint16_t>;  // bf16 bits, row-major with a row stride

uint16_t bf(float f) { return f32_to_bf16(f); }
float fb(uint16_t h) { return bf16_to_f32(h); }
uint32_t pack(uint16_t lo, uint16_t hi) { return uint32_t(lo) | (uint32_t(hi) << 16); }

// ldmatrix.x4 (.trans): lane L points at row (row_of(L), col_of(L)) of a tile with stride `lds`;
// lanes 8i..8i+7 address the rows of matrix i.
template <class RowOf, class ColOf>
void ldmatrix_x4(const Smem& s, int lds, int row0, int col0, RowOf row_of, ColOf col_of, bool trans, uint32_t (&r)[32][4]) {
    auto elem = [&](int i, int rr, int c) {  // matrix i, row rr, element c
        const int lane = 8 * i + rr;
        return s[(row0 + row_of(lane)) * lds + col0 + col_of(lane) + c];
    };
    for (int L = 0; L < 32; ++L)
        for (int i = 0; i < 4; ++i) {
            if (!trans)
                r[L][i] = pack(elem(i, L / 4, 2 * (L % 4)), elem(i, L / 4, 2 * (L % 4) + 1));
            else
                r[L][i] = pack(elem(i, 2 * (L % 4), L / 4), elem(i, 2 * (L % 4) + 1, L / 4));
        }
}

// D (16 x 8) += A (16 x 16) B (16 x 8), operands given as per-lane fragments.
void mma_replay(float (&d)[32][4], const uint32_t (&a)[32][4], const uint32_t (&b)[32][2]) {
    float A[16][16], B[16][8];
    for (int L = 0; L < 32; ++L) {
        const int g = L / 4, t = L % 4;
        for (int j = 0; j < 2; ++j) {
            auto half = [&](uint32_t v) { return fb(static_cast<uint16_t>(j ? v >> 16 : v & 0xffff)); };
            A[g][2 * t + j] = half(a[L][0]);
            A[g + 8][2 * t + j] = half(a[L][1]);
            A[g][2 * t + 8 + j] = half(a[L][2]);
            A[g + 8][2 * t + 8 + j] = half(a[L][3]);
            B[2 * t + j][g] = half(b[L][0]);
            B[2 * t + 8 + j][g] = half(b[L][1]);
        }
    }
    for (int L = 0; L < 32; ++L) {
        const int g = L / 4, t = L % 4;
        for (int j = 0; j < 2; ++j)
            for (int h = 0; h < 2; ++h) {
                float acc = 0;
                for (int k = 0; k < 16; ++k) acc += A[g + 8 * h][k] * B[k][2 * t + j];
                d[L][2 * h + j] += acc;
            }
    }
}

// Element (row, col) of a 16 x 8 accumulator from its fragments.
float acc_at(const float (&d)[32][4], int row, int col) {
    const int g = row % 8, h = row / 8, t = col / 2, j = col % 2;
    return d[g * 4 + t][2 * h + j];
}

Smem random_tile(int rows, int lds, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    Smem s(static_cast<size_t>(rows * lds));
    for (auto& x : s) x = bf(u(rng));
    return s;
}

}  // namespace

TEST_CASE("GGUF decoders match ggml's dequantize loops") {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        check_decoders<EMBER_DTYPE_Q8_0>(seed);
        check_decoders<EMBER_DTYPE_Q4_K>(seed);
        check_decoders<EMBER_DTYPE_Q6_K>(seed);
    }
}

TEST_CASE("the decoders' integer-to-float bit tricks equal the conversions, for every input they get") {
    for (uint32_t b = 0; b < 256; ++b) {
        const float want = static_cast<float>(static_cast<int8_t>(b));
        CHECK(float_from_s8(b) == want);
        CHECK(float_from_s8(b | 0xAB00u) == want);  // bits above the byte are ignored
    }
    for (uint32_t u = 0; u < 65536; ++u) {
        REQUIRE(float_from_small(u) == static_cast<float>(u));
        if (u < 64) CHECK(float_from_small(u, 32.0f) == static_cast<float>(static_cast<int>(u) - 32));
    }
    CHECK(float_from_small((1u << 23) - 1) == 8388607.0f);
}

TEST_CASE("plain decoders read f32, f16 and bf16 rows") {
    std::vector<float> f(64);
    std::vector<uint16_t> h(64), b(64);
    for (int i = 0; i < 64; ++i) {
        f[i] = 0.37f * i - 5.0f;
        h[i] = f32_to_f16(f[i]);
        b[i] = f32_to_bf16(f[i]);
    }
    for (int k0 = 0; k0 < 64; k0 += 16) {
        float o32[16], o16[16], ob[16];
        decode_run<EMBER_DTYPE_F32, 16>(reinterpret_cast<const uint8_t*>(f.data()), k0, o32);
        decode_run<EMBER_DTYPE_F16, 16>(reinterpret_cast<const uint8_t*>(h.data()), k0, o16);
        decode_run<EMBER_DTYPE_BF16, 16>(reinterpret_cast<const uint8_t*>(b.data()), k0, ob);
        for (int i = 0; i < 16; ++i) {
            CHECK(o32[i] == f[k0 + i]);
            CHECK(o16[i] == f16_to_f32(h[k0 + i]));
            CHECK(ob[i] == bf16_to_f32(b[k0 + i]));
            CHECK(decode_one<EMBER_DTYPE_F16>(reinterpret_cast<const uint8_t*>(h.data()), k0 + i) == o16[i]);
        }
    }
}

TEST_CASE("matmul fragments: A from [m][k], B from [n][k] via ldmatrix give x W^T") {
    std::mt19937_64 rng(11);
    const int lds = 40;  // matmul_tc.cu's shared row stride
    const Smem A = random_tile(16, lds, rng), W = random_tile(16, lds, rng);
    for (int ks = 0; ks < 2; ++ks) {  // the two k16 steps of a 32-wide tile
        uint32_t af[32][4], r4[32][4], b0[32][2], b1[32][2];
        ldmatrix_x4(A, lds, 0, ks * 16, mma::a_lane_row, mma::a_lane_col, false, af);
        ldmatrix_x4(W, lds, 0, ks * 16, mma::bnk_lane_row, mma::bnk_lane_col, false, r4);
        for (int L = 0; L < 32; ++L) {
            b0[L][0] = r4[L][0];
            b0[L][1] = r4[L][1];
            b1[L][0] = r4[L][2];
            b1[L][1] = r4[L][3];
        }
        float d0[32][4] = {}, d1[32][4] = {};
        mma_replay(d0, af, b0);
        mma_replay(d1, af, b1);
        for (int m = 0; m < 16; ++m)
            for (int n = 0; n < 16; ++n) {
                float want = 0;
                for (int k = 0; k < 16; ++k) want += fb(A[m * lds + ks * 16 + k]) * fb(W[n * lds + ks * 16 + k]);
                const float got = n < 8 ? acc_at(d0, m, n) : acc_at(d1, m, n - 8);
                INFO("m " << m << " n " << n << " ks " << ks);
                REQUIRE(std::fabs(got - want) <= 1e-5f);
            }
    }
}

TEST_CASE("flash fragments: S accumulators become P fragments, V via ldmatrix.trans gives P V") {
    std::mt19937_64 rng(12);
    const int lds = 64 + 8;  // attention_flash.cu's shared row stride at head_dim 64
    const Smem Q = random_tile(16, lds, rng), K = random_tile(16, lds, rng), V = random_tile(16, lds, rng);
    // S = Q K^T over one k16 step: two n8 tiles of keys.
    uint32_t qf[32][4], r4[32][4], b0[32][2], b1[32][2];
    ldmatrix_x4(Q, lds, 0, 0, mma::a_lane_row, mma::a_lane_col, false, qf);
    ldmatrix_x4(K, lds, 0, 0, mma::bnk_lane_row, mma::bnk_lane_col, false, r4);
    for (int L = 0; L < 32; ++L) {
        b0[L][0] = r4[L][0];
        b0[L][1] = r4[L][1];
        b1[L][0] = r4[L][2];
        b1[L][1] = r4[L][3];
    }
    float s0[32][4] = {}, s1[32][4] = {};
    mma_replay(s0, qf, b0);
    mma_replay(s1, qf, b1);
    // P fragments exactly as flash_fwd_kernel packs them (kk = 0).
    uint32_t pa[32][4];
    for (int L = 0; L < 32; ++L) {
        pa[L][0] = pack(bf(s0[L][0]), bf(s0[L][1]));
        pa[L][1] = pack(bf(s0[L][2]), bf(s0[L][3]));
        pa[L][2] = pack(bf(s1[L][0]), bf(s1[L][1]));
        pa[L][3] = pack(bf(s1[L][2]), bf(s1[L][3]));
    }
    // O = P V: V is [key][d], B fragments by ldmatrix.trans for d tiles 0..7 and 8..15.
    ldmatrix_x4(V, lds, 0, 0, mma::bkn_lane_row, mma::bkn_lane_col, true, r4);
    for (int L = 0; L < 32; ++L) {
        b0[L][0] = r4[L][0];
        b0[L][1] = r4[L][1];
        b1[L][0] = r4[L][2];
        b1[L][1] = r4[L][3];
    }
    float o0[32][4] = {}, o1[32][4] = {};
    mma_replay(o0, pa, b0);
    mma_replay(o1, pa, b1);
    for (int m = 0; m < 16; ++m)
        for (int dcol = 0; dcol < 16; ++dcol) {
            float want = 0;
            for (int key = 0; key < 16; ++key) {
                // S itself is checked by the matmul case; here: P (S rounded to bf16) times V.
                const float s = key < 8 ? acc_at(s0, m, key) : acc_at(s1, m, key - 8);
                want += fb(bf(s)) * fb(V[key * lds + dcol]);
            }
            const float got = dcol < 8 ? acc_at(o0, m, dcol) : acc_at(o1, m, dcol - 8);
            INFO("row " << m << " dim " << dcol);
            REQUIRE(std::fabs(got - want) <= 1e-4f);
        }
}

TEST_CASE("ldmatrix row addresses stay 16-byte aligned and conflict-free at the padded strides") {
    for (int lds : {40, 64 + 8, 128 + 8}) {
        for (int lane = 0; lane < 32; ++lane) {
            for (int which = 0; which < 3; ++which) {
                const int r = which == 0 ? mma::a_lane_row(lane) : which == 1 ? mma::bnk_lane_row(lane) : mma::bkn_lane_row(lane);
                const int c = which == 0 ? mma::a_lane_col(lane) : which == 1 ? mma::bnk_lane_col(lane) : mma::bkn_lane_col(lane);
                CHECK((r * lds + c) * 2 % 16 == 0);
            }
        }
        // One 8-lane phase: the 8 row addresses fall in distinct 16-byte groups of the 128-byte
        // bank window.
        for (int which = 0; which < 3; ++which) {
            for (int phase = 0; phase < 4; ++phase) {
                bool seen[8] = {};
                for (int lane = 8 * phase; lane < 8 * phase + 8; ++lane) {
                    const int r = which == 0 ? mma::a_lane_row(lane) : which == 1 ? mma::bnk_lane_row(lane) : mma::bkn_lane_row(lane);
                    const int c = which == 0 ? mma::a_lane_col(lane) : which == 1 ? mma::bnk_lane_col(lane) : mma::bkn_lane_col(lane);
                    const int group = ((r * lds + c) * 2 % 128) / 16;
                    CHECK_FALSE(seen[group]);
                    seen[group] = true;
                }
            }
        }
    }
}

// The flash kernel's tiling (blocks of 64 queries, warps of 16, key tiles of 64; causal blocks
// stop at their last query): a warp only computes kinds its block loaded, and for the queries it
// stores, the kinds it computes are exactly those of its visible pairs, so a one-kind warp takes
// every score from that product and a mixed warp finds every pair's product.
TEST_CASE("flash SelfExtend tile rule: warps read loaded tiles and compute exactly their pairs' kinds") {
    int tiles = 0, mixed = 0;
    for (int len : {1, 7, 63, 64, 65, 97, 300, 1025})
        for (int window : {1, 4, 63, 64, 65, 200, 512})
            for (bool causal : {true, false})
                for (int m0 = 0; m0 < len; m0 += 64) {
                    const int kv_end = causal ? std::min(len, m0 + 64) : len;
                    for (int k0 = 0; k0 < kv_end; k0 += 64) {
                        const int block = flash_tile_kinds(window, causal, len, kv_end, m0, 64, k0, 64);
                        CHECK(block != 0);
                        if (causal) CHECK((block & kScoreFuture) == 0);  // causal launches load two kinds
                        for (int w = 0; w < 4; ++w) {
                            INFO("len " << len << " W " << window << " causal " << causal << " m0 " << m0 << " k0 " << k0
                                        << " warp " << w);
                            const int warp = flash_tile_kinds(window, causal, len, kv_end, m0 + 16 * w, 16, k0, 64);
                            CHECK((warp & ~block) == 0);
                            int seen = 0;
                            bool rows = false;
                            for (int r = m0 + 16 * w; r < std::min(m0 + 16 * w + 16, len); ++r) {
                                rows = true;
                                for (int key = k0; key < std::min(k0 + 64, kv_end); ++key)
                                    if (!causal || key <= r) seen |= score_kind(r, key, window);
                            }
                            if (rows) CHECK(seen == warp);
                            ++tiles;
                            mixed += rows && (warp & (warp - 1)) != 0;
                        }
                    }
                }
    CHECK(mixed > 0);
    MESSAGE("flash SelfExtend tile rule: " << tiles << " warp tiles, " << mixed << " of them on a window edge");
}

namespace {

// The byte address the tensor cores read for element (mn, k) of the k16 slice a descriptor
// describes (PTX ISA, "Shared Memory Matrix Layout", 128-byte swizzle; CUTLASS's canonical GMMA
// layouts say the same): K-major: start + (mn / 8) SBO + (mn % 8) 128 + 2 k; N-major (imm-trans
// 1): start + (mn / 64) LBO + (k / 8) SBO + (k % 8) 128 + 2 (mn % 64); then the swizzle XORs
// address bits 4-6 with bits 7-9. Checks the descriptor's fixed fields on the way.
uint32_t wgmma_read_address(uint64_t desc, int mn, int k, bool n_major) {
    REQUIRE((desc >> 62) == 1);         // 128-byte swizzle
    REQUIRE(((desc >> 49) & 7) == 0);   // base offset 0: atoms are 1024-aligned
    const uint32_t start = static_cast<uint32_t>(desc & 0x3FFF) << 4;
    const uint32_t lbo = static_cast<uint32_t>((desc >> 16) & 0x3FFF) << 4;
    const uint32_t sbo = static_cast<uint32_t>((desc >> 32) & 0x3FFF) << 4;
    REQUIRE(sbo == 1024);
    uint32_t addr = n_major ? start + (mn / 64) * lbo + (k / 8) * sbo + (k % 8) * 128 + 2 * (mn % 64)
                            : start + (mn / 8) * sbo + (mn % 8) * 128 + 2 * k;
    return addr ^ (((addr >> 7) & 7) << 4);
}

}  // namespace

TEST_CASE("wgmma tiles: what the cp.async writer stores is what the descriptors read") {
    using namespace ember::cuda::wgmma;
    // A stage of the kernel's shared memory, filled the way its loader does: element (row, col)
    // of the A tile (kBM rows) and the B tile (kBN rows) of 64 k values, each a distinct number.
    std::vector<uint16_t> smem(kStageBytes / 2, 0xffff);
    auto value = [](int tile, int row, int col) { return static_cast<uint16_t>((tile * 256 + row) * 64 + col); };
    for (int tile = 0; tile < 2; ++tile)
        for (int row = 0; row < (tile ? kBN : kBM); ++row)
            for (int chunk = 0; chunk < 8; ++chunk)
                for (int e = 0; e < 8; ++e)
                    smem[((tile ? kATileBytes : 0) + sw128_offset(row, chunk)) / 2 + e] = value(tile, row, chunk * 8 + e);
    // The stage's base is 1024-aligned (the kernel aligns it); 0x10000 stands for any such base.
    const uint32_t base = 0x10000;
    for (int tile = 0; tile < 2; ++tile)
        for (int wg = 0; wg < (tile ? 1 : 2); ++wg)  // A: each warpgroup's 64 rows; B: all 256
            for (int kk = 0; kk < kBK / 16; ++kk) {
                const uint32_t start = base + (tile ? kATileBytes : 0) + wg * 64 * 128 + kk * 32;
                const uint64_t d = sw128_desc(start);
                REQUIRE((static_cast<uint32_t>(d & 0x3FFF) << 4) == (start & 0x3FFFF));
                const int rows = tile ? kBN : 64;
                for (int r = 0; r < rows; ++r)
                    for (int k = 0; k < 16; ++k) {
                        const uint16_t got = smem[(wgmma_read_address(d, r, k, false) - base) / 2];
                        const uint16_t want = value(tile, (tile ? 0 : wg * 64) + r, kk * 16 + k);
                        if (got != want) {
                            FAIL("tile " << tile << " wg " << wg << " kk " << kk << " row " << r << " k " << k << ": read "
                                         << got << ", stored " << want);
                        }
                    }
            }
    CHECK(kSmemBytes <= 227 * 1024);  // the H100 / H200 opt-in limit per block
}

TEST_CASE("wgmma attention tiles: Q, K (K-major) and V (N-major) read back through the kernel's descriptors") {
    using namespace ember::cuda::flash3;
    for (int d : {64, 128}) {
        INFO("head_dim " << d);
        // One tile of 128 rows filled the way the kernel's loader does (tile_offset), element
        // (row, col) holding a distinct number.
        const int rows = kBlockM;
        std::vector<uint16_t> tile(static_cast<size_t>(tile_bytes(rows, d)) / 2, 0xffff);
        auto value = [&](int row, int col) { return static_cast<uint16_t>(row * d + col); };
        for (int row = 0; row < rows; ++row)
            for (int chunk = 0; chunk < d / 8; ++chunk)
                for (int e = 0; e < 8; ++e) tile[tile_offset(rows, row, chunk) / 2 + e] = value(row, chunk * 8 + e);
        const uint32_t base = 0x10000;  // any 1024-aligned tile start
        int64_t bad = 0;
        std::string first;
        auto expect = [&](const char* what, uint32_t addr, uint16_t want, int step, int mn, int k) {
            const uint16_t got = tile[(addr - base) / 2];
            if (got == want) return;
            if (++bad <= 8) first += format(" %s step %d (%d, %d): read %u, stored %u;", what, step, mn, k, got, want);
        };
        // S = Q K^T: the A operand is a warpgroup's 64 Q rows, the B operand all 128 K rows; k
        // runs over head_dim.
        for (int kd = 0; kd < d / 16; ++kd) {
            for (int wg = 0; wg < 2; ++wg) {
                const uint64_t desc = wgmma::sw128_desc(base + qk_step_offset(rows, wg * 64, kd));
                for (int r = 0; r < 64; ++r)
                    for (int k = 0; k < 16; ++k)
                        expect("Q", wgmma_read_address(desc, r, k, false), value(wg * 64 + r, kd * 16 + k), kd, r, k);
            }
            const uint64_t desc = wgmma::sw128_desc(base + qk_step_offset(rows, 0, kd));
            for (int key = 0; key < kBlockN; ++key)
                for (int k = 0; k < 16; ++k)
                    expect("K", wgmma_read_address(desc, key, k, false), value(key, kd * 16 + k), kd, key, k);
        }
        // O += P V: B is V with n = head_dim column and k = key, N-major.
        for (int kk = 0; kk < kBlockN / 16; ++kk) {
            const uint64_t desc = wgmma::sw128_desc(base + v_step_offset(kk), kVLeadingBytes);
            for (int n = 0; n < d; ++n)
                for (int k = 0; k < 16; ++k)
                    expect("V", wgmma_read_address(desc, n, k, true), value(kk * 16 + k, n), kk, n, k);
        }
        CHECK_MESSAGE(bad == 0, bad << " wrong reads, first:" << first);
        CHECK(smem_bytes(d) <= 227 * 1024);
    }
}

TEST_CASE("attention launches cover every sequence in chunks of at most 65535 (grid.z)") {
    std::vector<int32_t> cu(140001);
    for (int n : {0, 1, 65535, 65536, 140000}) {
        INFO("sequences " << n);
        Seqs seqs;
        seqs.cu_seqlens = cu.data();
        seqs.n_seqs = n;
        std::vector<std::pair<int64_t, unsigned>> chunks;  // first sequence, count
        const ember_status st = launch_sequence_chunks(seqs, 7, 3, [&](const int32_t* first, dim3 grid) {
            CHECK(grid.x == 7u);
            CHECK(grid.y == 3u);
            chunks.emplace_back(first - cu.data(), grid.z);
            return EMBER_OK;
        });
        CHECK(st == EMBER_OK);
        int64_t next = 0;
        for (const auto& c : chunks) {
            CHECK(c.first == next);
            CHECK(c.second >= 1u);
            CHECK(c.second <= 65535u);
            next += c.second;
        }
        CHECK(next == n);
    }
    // The first failing launch ends it, with its status.
    Seqs seqs;
    seqs.cu_seqlens = cu.data();
    seqs.n_seqs = 140000;
    int calls = 0;
    const ember_status st = launch_sequence_chunks(seqs, 1, 1, [&](const int32_t*, dim3) {
        ++calls;
        return EMBER_ERR_INTERNAL;
    });
    CHECK(st == EMBER_ERR_INTERNAL);
    CHECK(calls == 1);
}

TEST_CASE("pool size classes waste at most a quarter") {
    for (size_t b : {size_t(1), size_t(511), size_t(512), size_t(4096), size_t(4097), size_t(5000), size_t(8192),
                     size_t(8193), size_t(1) << 20, (size_t(1) << 30) + 1}) {
        const size_t c = DevicePool::size_class(b);
        INFO(b << " -> " << c);
        CHECK(c >= b);
        CHECK(c % 512 == 0);
        CHECK(c <= std::max<size_t>(512, b + b / 4 + 512));
        CHECK(DevicePool::size_class(c) == c);
    }
}
