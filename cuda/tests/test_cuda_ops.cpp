// Every CUDA op other than matmul and attention against its CPU twin (the cpu::*_ref scalar
// functions of native/ops), in f32 and bf16, on fresh random inputs with odd sizes (1, 7, 97,
// 1025 rows), padded strides and outputs poisoned with NaN. bf16 runs feed the CPU the same
// rounded inputs, so the only difference left is the output rounding (2^-9 relative): the
// tolerance is 8e-3 of the largest value; f32 runs are held to 1e-5 (the CPU twins accumulate in
// double, the GPU in float). NaN never passes (rel_error returns inf).
// Then the backend as a whole: the latent-attention block (composed from these ops) against its
// CPU twin in both precision modes, out-of-memory recovery, and concurrent calls from threads.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "activation.cuh"
#include "copy_rows.cuh"
#include "core/dtype.h"
#include "core/error.h"
#include "cuda_backend.cuh"
#include "cuda_test_util.h"
#include "embed.cuh"
#include "norm.cuh"
#include "ops/embed_abs.h"
#include "ops/gelu.h"
#include "ops/latent_pool.h"
#include "ops/layernorm.h"
#include "ops/pool.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"
#include "pool.cuh"
#include "quant.cuh"
#include "rope.cuh"
#include "softmax.cuh"

using namespace ember;
using namespace ember::cuda;
using namespace ember::cudatest;

namespace {

const int32_t kActs[] = {EMBER_DTYPE_F32, EMBER_DTYPE_BF16};
double tol(int32_t dt) { return dt == EMBER_DTYPE_F32 ? 1e-5 : 8e-3; }
const char* nm(int32_t dt) { return dt == EMBER_DTYPE_F32 ? "f32" : "bf16"; }

void sync_ok() { REQUIRE(cudaDeviceSynchronize() == cudaSuccess); }

std::vector<int32_t> cu_of(const std::vector<int32_t>& lengths) {
    std::vector<int32_t> cu{0};
    for (int32_t l : lengths) cu.push_back(cu.back() + l);
    return cu;
}

Seqs seqs_of(const std::vector<int32_t>& cu, const int32_t* dev) {
    Seqs s;
    s.cu_seqlens = dev;
    s.cu_seqlens_host = cu.data();
    s.n_seqs = static_cast<int32_t>(cu.size()) - 1;
    s.total_tokens = cu.back();
    for (size_t i = 0; i + 1 < cu.size(); ++i) s.max_len = std::max<int64_t>(s.max_len, cu[i + 1] - cu[i]);
    return s;
}

}  // namespace

TEST_CASE("rmsnorm (+ residual, in place) matches rmsnorm_ref") {
    uint64_t seed = test::test_seed();
    for (int32_t dt : kActs)
        for (int64_t rows : {1, 7, 97, 1025})
            for (int64_t dim : {16, 128, 1000, 4096})
                for (int flags = 0; flags < 4; ++flags) {
                    const bool res = flags & 1, inplace = flags & 2;
                    const int64_t xs = dim + 3, rs = dim + 5, ys = inplace ? xs : dim + 1;
                    INFO(nm(dt) << " rows " << rows << " dim " << dim << " residual " << res << " in place " << inplace);
                    std::vector<float> x = rounded(dt, test::random_floats(rows * xs, seed += 3, 2.0f));
                    const std::vector<float> r = rounded(dt, test::random_floats(rows * rs, seed += 3, 2.0f));
                    const std::vector<float> w = test::random_floats(dim, seed += 3, 1.5f);
                    DeviceArray dx(dt, x), dr(dt, r), dy(dt, static_cast<size_t>(rows * ys));
                    DeviceVec<float> dw(w);
                    const Tensor tx = dx.tensor(rows, dim, xs), tr = dr.tensor(rows, dim, rs);
                    const Tensor ty = inplace ? tx : dy.tensor(rows, dim, ys);
                    std::string err;
                    REQUIRE_MESSAGE(rmsnorm(tx, res ? &tr : nullptr, dw.data(), 1e-6f, ty, nullptr, &err) == EMBER_OK, err);
                    sync_ok();
                    std::vector<float> cx = x, cy(static_cast<size_t>(rows * ys));
                    ember_rmsnorm_params p{cx.data(), xs, res ? r.data() : nullptr, rs, w.data(),
                                           inplace ? cx.data() : cy.data(), ys, rows, static_cast<int32_t>(dim), 1e-6f};
                    cpu::rmsnorm_ref(p);
                    const std::vector<float> gy = dense((inplace ? dx : dy).get(), rows, dim, ys);
                    CHECK(test::rel_error(gy, dense(inplace ? cx : cy, rows, dim, ys)) <= tol(dt));
                    if (res && !inplace) CHECK(test::rel_error(dense(dx.get(), rows, dim, xs), dense(cx, rows, dim, xs)) <= tol(dt));
                }
}

TEST_CASE("layernorm matches layernorm_ref for every input / output type pair") {
    uint64_t seed = test::test_seed() + 10;
    for (int32_t tx : kActs)
        for (int32_t ty : kActs)
            for (int64_t rows : {1, 97, 1025})
                for (int64_t dim : {32, 1000, 4096})
                    for (bool bias : {false, true}) {
                        INFO(nm(tx) << " -> " << nm(ty) << " rows " << rows << " dim " << dim << " bias " << bias);
                        const int64_t xs = dim + 2, ys = dim + 6;
                        // An offset per row: a float E[x^2] - E[x]^2 would lose the spread.
                        std::vector<float> x = test::random_floats(rows * xs, seed += 3, 1.0f);
                        for (int64_t i = 0; i < rows; ++i)
                            for (int64_t c = 0; c < dim; ++c) x[i * xs + c] += 3.0f;
                        x = rounded(tx, x);
                        const std::vector<float> w = test::random_floats(dim, seed += 3, 1.0f),
                                                 b = test::random_floats(dim, seed += 3, 1.0f);
                        DeviceArray dx(tx, x), dy(ty, static_cast<size_t>(rows * ys));
                        DeviceVec<float> dw(w), db(b);
                        std::string err;
                        REQUIRE_MESSAGE(layernorm(dx.tensor(rows, dim, xs), dw.data(), bias ? db.data() : nullptr, 1e-5f,
                                                  dy.tensor(rows, dim, ys), nullptr, &err) == EMBER_OK,
                                        err);
                        std::vector<float> cy(static_cast<size_t>(rows * ys));
                        ember_layernorm_params p{x.data(), xs, w.data(), bias ? b.data() : nullptr, cy.data(), ys, rows,
                                                 static_cast<int32_t>(dim), 1e-5f};
                        cpu::layernorm_ref(p);
                        CHECK(test::rel_error(dense(dy.get(), rows, dim, ys), dense(cy, rows, dim, ys)) <=
                              std::max(tol(tx), tol(ty)));
                    }
}

TEST_CASE("layernorm in place") {
    uint64_t seed = test::test_seed() + 15;
    for (int32_t dt : kActs) {
        const int64_t rows = 33, dim = 1536;
        std::vector<float> x = rounded(dt, test::random_floats(rows * dim, seed += 3, 2.0f));
        const std::vector<float> w = test::random_floats(dim, seed += 3, 1.0f), b = test::random_floats(dim, seed += 3, 1.0f);
        DeviceArray dx(dt, x);
        DeviceVec<float> dw(w), db(b);
        std::string err;
        const Tensor t = dx.tensor(rows, dim, dim);
        REQUIRE_MESSAGE(layernorm(t, dw.data(), db.data(), 1e-12f, t, nullptr, &err) == EMBER_OK, err);
        ember_layernorm_params p{x.data(), dim, w.data(), b.data(), x.data(), dim, rows, static_cast<int32_t>(dim), 1e-12f};
        cpu::layernorm_ref(p);
        CHECK(test::rel_error(dx.get(), x) <= tol(dt));
    }
}

TEST_CASE("rope matches rope_ref: both pair layouts, partial rotation, per-sequence tables, grouped positions") {
    uint64_t seed = test::test_seed() + 20;
    struct C {
        std::vector<int32_t> lengths;
        int32_t heads, dim, rot;
    };
    const C cases[] = {{{1, 7, 97}, 2, 16, 16}, {{1025}, 16, 128, 128}, {{5, 64}, 4, 64, 32}, {{33, 1, 2}, 8, 128, 64}};
    for (int32_t dt : kActs)
        for (const C& c : cases)
            for (int interleaved = 0; interleaved < 2; ++interleaved)
                for (bool per_seq : {false, true}) {
                    const RopePositions pos = per_seq ? RopePositions{3, 2} : RopePositions{};
                    INFO(nm(dt) << " heads " << c.heads << " dim " << c.dim << " rot " << c.rot << " interleaved "
                                << interleaved << " per-seq (and grouped positions) " << per_seq);
                    const std::vector<int32_t> cu = cu_of(c.lengths);
                    const int64_t rows = cu.back(), width = int64_t(c.heads) * c.dim, xs = width + 4, half = c.rot / 2;
                    const int64_t max_len = *std::max_element(c.lengths.begin(), c.lengths.end());
                    const int64_t per_table = max_len + 3;  // rows of each sequence's table (a gap between them)
                    std::vector<int64_t> first_row;
                    for (size_t i = 0; i < c.lengths.size(); ++i) first_row.push_back(static_cast<int64_t>(i) * per_table);
                    const int64_t table_rows = per_seq ? per_table * static_cast<int64_t>(c.lengths.size()) : per_table;
                    const size_t table_size = static_cast<size_t>(table_rows * half);
                    const std::vector<float> cs = test::random_floats(table_size, seed += 3, 1.0f),
                                             sn = test::random_floats(table_size, seed += 3, 1.0f);
                    std::vector<float> x = rounded(dt, test::random_floats(rows * xs, seed += 3, 2.0f));
                    DeviceArray dx(dt, x);
                    DeviceVec<float> dc(cs), ds(sn);
                    DeviceVec<int32_t> dcu(cu);
                    DeviceVec<int64_t> dfirst(first_row);
                    RopeTable t{dc.data(), ds.data(), table_rows, per_seq ? dfirst.data() : nullptr,
                                per_seq ? first_row.data() : nullptr, static_cast<int32_t>(half)};
                    std::string err;
                    REQUIRE_MESSAGE(rope(dx.tensor(rows, width, xs), c.heads, c.dim, t, seqs_of(cu, dcu.data()),
                                         interleaved != 0, pos, nullptr, &err) == EMBER_OK,
                                    err);
                    ember_rope_params p{x.data(), xs, cu.data(), static_cast<int32_t>(c.lengths.size()), c.heads, c.dim, c.rot,
                                        cs.data(), sn.data(), table_rows, per_seq ? first_row.data() : nullptr,
                                        pos.offset, interleaved, pos.group};
                    cpu::rope_ref(p);
                    CHECK(test::rel_error(dense(dx.get(), rows, width, xs), dense(x, rows, width, xs)) <= tol(dt));
                }
}

TEST_CASE("swiglu, gelu and geglu match their CPU twins (vector and scalar paths, in place)") {
    uint64_t seed = test::test_seed() + 30;
    for (int32_t dt : kActs)
        for (int64_t rows : {1, 7, 97, 1025})
            for (int64_t cols : {1, 33, 3072})
                for (int64_t pad : {0, 1})
                    for (int op = 0; op < 3; ++op) {  // 0 swiglu, 1 gelu, 2 geglu (out aliases up)
                        INFO(nm(dt) << " rows " << rows << " cols " << cols << " pad " << pad << " op " << op);
                        const int64_t gs = cols + 8 * pad + pad, us = cols + 8 * pad, os = cols + 2 * pad;
                        const std::vector<float> g = rounded(dt, test::random_floats(rows * gs, seed += 3, 6.0f));
                        std::vector<float> u = rounded(dt, test::random_floats(rows * us, seed += 3, 2.0f));
                        DeviceArray dg(dt, g), du(dt, u), dout(dt, static_cast<size_t>(rows * os));
                        const Tensor tg = dg.tensor(rows, cols, gs), tu = du.tensor(rows, cols, us), to = dout.tensor(rows, cols, os);
                        std::string err;
                        ember_status st = op == 0   ? swiglu(to, tg, tu, nullptr, &err)
                                          : op == 1 ? gelu(to, tg, nullptr, nullptr, &err)
                                                    : gelu(tu, tg, &tu, nullptr, &err);
                        REQUIRE_MESSAGE(st == EMBER_OK, err);
                        std::vector<float> want(static_cast<size_t>(rows * os));
                        if (op == 0) {
                            cpu::swiglu_ref({g.data(), gs, u.data(), us, want.data(), os, rows, cols});
                        } else if (op == 1) {
                            cpu::gelu_ref({g.data(), gs, nullptr, 0, want.data(), os, rows, cols});
                        } else {
                            cpu::gelu_ref({g.data(), gs, u.data(), us, u.data(), us, rows, cols});
                        }
                        const std::vector<float> got = op == 2 ? dense(du.get(), rows, cols, us) : dense(dout.get(), rows, cols, os);
                        const std::vector<float> ref = op == 2 ? dense(u, rows, cols, us) : dense(want, rows, cols, os);
                        CHECK(test::rel_error(got, ref) <= tol(dt));
                    }
}

TEST_CASE("embed_rows decodes every table type") {
    uint64_t seed = test::test_seed() + 40;
    const int64_t vocab = 300, dim = 256, rows = 97;
    std::mt19937_64 rng(seed);
    std::vector<int32_t> ids(rows);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
    ids[0] = 0;
    ids[1] = vocab - 1;
    DeviceVec<int32_t> dids(ids);
    for (int32_t wt : {EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_BF16, EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K}) {
        const int64_t rb = dtype_row_bytes(wt, dim);
        std::vector<uint8_t> raw(static_cast<size_t>(vocab * rb));
        if (wt == EMBER_DTYPE_F32 || wt == EMBER_DTYPE_F16 || wt == EMBER_DTYPE_BF16) {
            raw = encode(wt, test::random_floats(vocab * dim, seed += 3, 1.0f));
        } else {
            for (auto& b : raw) b = static_cast<uint8_t>(rng());
            const int bb = dtype_info(wt)->block_bytes;
            for (size_t off = 0; off < raw.size(); off += bb) {
                // Random bytes may spell an f16 inf / NaN scale: give every block finite ones
                // (d; Q4_K's dmin follows d).
                const uint16_t h = f32_to_f16(0.01f);
                std::memcpy(raw.data() + off + (wt == EMBER_DTYPE_Q6_K ? 208 : 0), &h, 2);
                if (wt == EMBER_DTYPE_Q4_K) std::memcpy(raw.data() + off + 2, &h, 2);
            }
        }
        DeviceVec<uint8_t> dt_(raw);
        for (int32_t out : kActs) {
            INFO("table " << dtype_info(wt)->name << " out " << nm(out));
            DeviceArray dout(out, static_cast<size_t>(rows * (dim + 4)));
            std::string err;
            REQUIRE_MESSAGE(embed_rows(dout.tensor(rows, dim, dim + 4), Weight{dt_.data(), wt, vocab, dim}, dids.data(), nullptr,
                                       &err) == EMBER_OK,
                            err);
            std::vector<float> want(static_cast<size_t>(rows * dim));
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < dim; ++c) {
                    const uint8_t* row = raw.data() + ids[r] * rb;
                    want[r * dim + c] = round_to(out, decode_weight(wt, row, c));
                }
            // The device may fuse d * sc * q - dmin * m into an FMA: a float ulp, then the rounding.
            CHECK(test::rel_error(dense(dout.get(), rows, dim, dim + 4), want) <= (out == EMBER_DTYPE_F32 ? 1e-6 : 8e-3));
        }
    }
}

TEST_CASE("embed_abs matches embed_abs_ref") {
    uint64_t seed = test::test_seed() + 50;
    const std::vector<int32_t> lengths{1, 7, 97};
    const std::vector<int32_t> cu = cu_of(lengths);
    const int64_t rows = cu.back(), dim = 48, vocab = 64, positions = 100, types = 2;
    std::mt19937_64 rng(seed);
    std::vector<int32_t> ids(rows);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
    DeviceVec<int32_t> dids(ids), dcu(cu);
    for (int32_t tt : {EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_BF16})
        for (int32_t out : kActs) {
            INFO("tables " << dtype_info(tt)->name << " out " << nm(out));
            const std::vector<uint8_t> word = encode(tt, test::random_floats(vocab * dim, seed += 3, 1.0f)),
                                       pos = encode(tt, test::random_floats(positions * dim, seed += 3, 1.0f)),
                                       typ = encode(tt, test::random_floats(types * dim, seed += 3, 1.0f));
            DeviceVec<uint8_t> dw(word), dp(pos), dty(typ);
            DeviceArray dout(out, static_cast<size_t>(rows * dim));
            AbsEmbedTables t{Weight{dw.data(), tt, vocab, dim}, Weight{dp.data(), tt, positions, dim}, Weight{dty.data(), tt, types, dim}};
            std::string err;
            REQUIRE_MESSAGE(embed_abs(dout.tensor(rows, dim, dim), t, dids.data(), seqs_of(cu, dcu.data()), nullptr, &err) == EMBER_OK,
                            err);
            std::vector<float> want(static_cast<size_t>(rows * dim));
            ember_embed_abs_params p{ids.data(), nullptr, cu.data(), 3, word.data(), tt, vocab, pos.data(), tt, positions,
                                     typ.data(), tt, types, static_cast<int32_t>(dim), want.data(), dim};
            cpu::embed_abs_ref(p);
            CHECK(test::rel_error(dout.get(), want) <= tol(out));
        }
}

TEST_CASE("pool matches pool_ref in every mode, with and without pool_start") {
    uint64_t seed = test::test_seed() + 60;
    const std::vector<int32_t> lengths{1, 7, 97, 1025};
    const std::vector<int32_t> cu = cu_of(lengths);
    const std::vector<int32_t> starts{0, 3, 96, 500};
    DeviceVec<int32_t> dcu(cu), dstart(starts);
    for (int32_t dt : kActs)
        for (int64_t dim : {64, 1000})
            for (int32_t mode : {EMBER_POOLING_LAST, EMBER_POOLING_MEAN, EMBER_POOLING_CLS})
                for (bool with_start : {false, true}) {
                    INFO(nm(dt) << " dim " << dim << " mode " << mode << " pool_start " << with_start);
                    const int64_t rows = cu.back(), xs = dim + 3;
                    const std::vector<float> x = rounded(dt, test::random_floats(rows * xs, seed += 3, 3.0f));
                    DeviceArray dx(dt, x), dout(EMBER_DTYPE_F32, static_cast<size_t>(4 * dim));
                    std::string err;
                    REQUIRE_MESSAGE(pool(dout.tensor(4, dim, dim), dx.tensor(rows, dim, xs), seqs_of(cu, dcu.data()),
                                         with_start ? dstart.data() : nullptr, mode, nullptr, &err) == EMBER_OK,
                                    err);
                    std::vector<float> want(static_cast<size_t>(4 * dim));
                    ember_pool_params p{x.data(), xs, cu.data(), 4, with_start ? starts.data() : nullptr,
                                        static_cast<int32_t>(dim), mode, want.data()};
                    cpu::pool_ref(p);
                    CHECK(test::rel_error(dout.get(), want) <= 1e-6);
                }
}

TEST_CASE("copy_rows gathers and scatters between f32 and bf16; convert; l2_normalize; softmax_groups") {
    uint64_t seed = test::test_seed() + 70;
    const int64_t cols = 100, src_rows = 50, dst_rows = 60, n = 20;
    std::vector<int32_t> srci(n), dsti(n);
    std::iota(dsti.begin(), dsti.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(dsti.begin(), dsti.end(), rng);
    for (auto& d : dsti) d += 30;  // 30..49, a permutation
    for (auto& s : srci) s = static_cast<int32_t>(rng() % src_rows);
    DeviceVec<int32_t> dsrc(srci), ddst(dsti);
    for (int32_t ts : kActs)
        for (int32_t td : kActs)
            for (int idx = 0; idx < 4; ++idx) {
                INFO(nm(ts) << " -> " << nm(td) << " indices " << idx);
                const std::vector<float> src = rounded(ts, test::random_floats(src_rows * (cols + 1), seed += 3, 2.0f));
                const std::vector<float> dst0 = rounded(td, test::random_floats(dst_rows * (cols + 3), seed += 3, 2.0f));
                DeviceArray ds(ts, src), dd(td, dst0);
                const bool si = idx & 1, di = idx & 2;
                std::string err;
                REQUIRE_MESSAGE(copy_rows(dd.tensor(dst_rows, cols, cols + 3), di ? ddst.data() : nullptr,
                                          ds.tensor(src_rows, cols, cols + 1), si ? dsrc.data() : nullptr, n, nullptr, &err) ==
                                    EMBER_OK,
                                err);
                std::vector<float> want = dst0;
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t c = 0; c < cols; ++c)
                        want[(di ? dsti[i] : i) * (cols + 3) + c] = round_to(td, src[(si ? srci[i] : i) * (cols + 1) + c]);
                CHECK(test::rel_error(dd.get(), want) == 0.0);
            }

    // convert
    for (int32_t from : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16, EMBER_DTYPE_F16})
        for (int32_t to : kActs) {
            const std::vector<float> v = rounded(from, test::random_floats(1001, seed += 3, 100.0f));
            DeviceArray a(from, v), b(to, v.size());
            std::string err;
            REQUIRE_MESSAGE(convert(b.data(), to, a.data(), from, static_cast<int64_t>(v.size()), nullptr, &err) == EMBER_OK, err);
            CHECK(test::rel_error(b.get(), rounded(to, v)) == 0.0);
        }

    // l2_normalize
    for (int64_t dim : {7, 1024, 4096}) {
        const int64_t rows = 97, stride = dim + 1;
        std::vector<float> x = test::random_floats(rows * stride, seed += 3, 5.0f);
        DeviceArray d(EMBER_DTYPE_F32, x);
        std::string err;
        REQUIRE_MESSAGE(l2_normalize(d.tensor(rows, dim, stride), nullptr, &err) == EMBER_OK, err);
        cpu::l2_normalize(x.data(), rows, dim, stride);
        CHECK(test::rel_error(d.get(), x) <= 1e-6);
    }

    // softmax_groups
    for (int32_t dt : kActs)
        for (int32_t width : {16, 512}) {
            const int64_t rows = 97, groups = 4, w = groups * width;
            const std::vector<float> s = rounded(dt, test::random_floats(rows * w, seed += 3, 8.0f));
            DeviceArray d(dt, s);
            std::string err;
            REQUIRE_MESSAGE(softmax_groups(d.tensor(rows, w, w), groups, width, 0.125f, nullptr, &err) == EMBER_OK, err);
            std::vector<float> want(s.size());
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t g = 0; g < groups; ++g) {
                    const float* v = &s[r * w + g * width];
                    double mx = -INFINITY, sum = 0;
                    for (int j = 0; j < width; ++j) mx = std::max(mx, double(v[j]));
                    for (int j = 0; j < width; ++j) sum += std::exp((v[j] - mx) * 0.125);
                    for (int j = 0; j < width; ++j) want[r * w + g * width + j] = static_cast<float>(std::exp((v[j] - mx) * 0.125) / sum);
                }
            CHECK(test::rel_error(d.get(), want) <= tol(dt));
        }
}

TEST_CASE("backend latent_pool matches latent_pool_ref in both precision modes") {
    uint64_t seed = test::test_seed() + 80;
    const int32_t d = 64, heads = 4, r = 16, ffn = 96;
    const int64_t hr = int64_t(heads) * r;
    const std::vector<int32_t> lengths{5, 17, 1};
    const std::vector<int32_t> cu = cu_of(lengths), starts{0, 3, 0};
    const int64_t T = cu.back();
    // Weights with bf16-exact values, so that the fast mode's conversion loses nothing.
    auto wv = [&](int64_t n, float mag) { return rounded(EMBER_DTYPE_BF16, test::random_floats(n, seed += 3, mag)); };
    const std::vector<float> score_w = wv(hr * d, 0.2f), value_w = wv(d * hr, 0.2f), w0 = wv(2 * ffn * d, 0.2f),
                             w2 = wv(d * ffn, 0.2f), b0 = wv(2 * ffn, 0.1f), b2 = wv(d, 0.1f), nw = wv(d, 1.0f),
                             nb = wv(d, 0.1f), fw = wv(d, 1.0f), fb = wv(d, 0.1f);
    for (Precision prec : {Precision::Fp32, Precision::Fast}) {
        INFO((prec == Precision::Fast ? "fast" : "fp32"));
        std::unique_ptr<Backend> be = make_backend(0, {prec, /*graphs=*/false, /*cublaslt=*/false});
        const int32_t A = be->activation_dtype();
        const std::vector<float> x = rounded(A, test::random_floats(T * d, seed += 3, 1.0f));
        DeviceArray dx(A, x), dout(EMBER_DTYPE_F32, static_cast<size_t>(3 * d)), dtok(EMBER_DTYPE_F32, static_cast<size_t>(T * d));
        DeviceVec<float> dsw(score_w), dvw(value_w), db0(b0), db2(b2), dnw(nw), dnb(nb), dfw(fw), dfb(fb);
        DeviceVec<int32_t> dcu(cu), dst(starts);
        Buffer s0, s2;
        LatentBlock blk;
        blk.dim = d;
        blk.n_heads = heads;
        blk.n_latents = r;
        blk.ffn_dim = ffn;
        blk.scale = 0.25f;
        blk.eps = 1e-5f;
        blk.score_w = Weight{dsw.data(), EMBER_DTYPE_F32, hr, d};
        blk.value_w = Weight{dvw.data(), EMBER_DTYPE_F32, d, hr};
        blk.w0 = be->adopt_weight(w0.data(), EMBER_DTYPE_F32, 2 * ffn, d, s0);
        blk.w2 = be->adopt_weight(w2.data(), EMBER_DTYPE_F32, d, ffn, s2);
        blk.b0 = db0.data();
        blk.b2 = db2.data();
        blk.norm_weight = dnw.data();
        blk.norm_bias = dnb.data();
        blk.ffn_norm_weight = dfw.data();
        blk.ffn_norm_bias = dfb.data();
        const Tensor out = dout.tensor(3, d, d), tok = dtok.tensor(T, d, d);
        be->latent_pool(out, &tok, dx.tensor(T, d, d), seqs_of(cu, dcu.data()), dst.data(), blk);
        be->synchronize();
        std::vector<float> want(static_cast<size_t>(3 * d)), want_tok(static_cast<size_t>(T * d));
        ember_latent_pool_params p{};
        p.x = x.data();
        p.x_stride = d;
        p.cu_seqlens = cu.data();
        p.n_seqs = 3;
        p.pool_start = starts.data();
        p.dim = d;
        p.n_heads = heads;
        p.n_latents = r;
        p.ffn_dim = ffn;
        p.norm_weight = nw.data();
        p.norm_bias = nb.data();
        p.score_w = score_w.data();
        p.score_w_dtype = EMBER_DTYPE_F32;
        p.value_w = value_w.data();
        p.value_w_dtype = EMBER_DTYPE_F32;
        p.scale = 0.25f;
        p.ffn_norm_weight = fw.data();
        p.ffn_norm_bias = fb.data();
        p.w0 = w0.data();
        p.w0_dtype = EMBER_DTYPE_F32;
        p.b0 = b0.data();
        p.w2 = w2.data();
        p.w2_dtype = EMBER_DTYPE_F32;
        p.b2 = b2.data();
        p.eps = 1e-5f;
        p.out = want.data();
        p.token_out = want_tok.data();
        p.token_out_stride = d;
        cpu::latent_pool_ref(p);
        // fast: every intermediate is rounded to bf16 (about 8 roundings in a row).
        const double t = prec == Precision::Fast ? 3e-2 : 1e-5;
        CHECK(test::rel_error(dout.get(), want) <= t);
        CHECK(test::rel_error(dtok.get(), want_tok) <= t);
    }
}

TEST_CASE("backend: out of device memory is a typed error and the backend stays usable") {
    std::unique_ptr<Backend> be = make_backend(0, {Precision::Fast, /*graphs=*/false, /*cublaslt=*/false});
    bool threw = false;
    try {
        Buffer huge = be->alloc(size_t(1) << 50);  // a petabyte
    } catch (const Error& e) {
        threw = true;
        CHECK(e.status() == EMBER_ERR_OUT_OF_MEMORY);
        MESSAGE("OOM message: " << e.what());
    }
    CHECK(threw);
    // Still usable: a small op round trip.
    Buffer b = be->alloc(64 * 4);
    std::vector<float> v(64, 2.0f), out(64, 0.0f);
    be->upload(b.data(), v.data(), 256);
    const Tensor t{b.data(), EMBER_DTYPE_F32, 1, 64, 64};
    be->copy_rows(t, nullptr, t, nullptr, 0);
    be->download(out.data(), b.data(), 256);
    CHECK(out == v);
}

TEST_CASE("backend: concurrent calls from several threads (one stream each) give the single-thread results") {
    std::unique_ptr<Backend> be = make_backend(0, {Precision::Fast, /*graphs=*/false, /*cublaslt=*/false});
    const int64_t m = 300, n = 256, k = 512;
    const std::vector<float> w = test::random_floats(n * k, test::test_seed() + 90, 0.1f);
    Buffer ws;
    const Weight W = be->adopt_weight(w.data(), EMBER_DTYPE_F32, n, k, ws);  // bf16 on the device
    std::vector<float> ones(n, 1.0f);
    Buffer wn = be->alloc(n * 4);
    be->upload(wn.data(), ones.data(), n * 4);
    auto run = [&](uint64_t seed) {
        const std::vector<float> x = test::random_floats(m * k, seed, 1.0f);
        const std::vector<uint8_t> xb = encode(EMBER_DTYPE_BF16, x);
        Buffer bx = be->alloc(xb.size()), by = be->alloc(static_cast<size_t>(m * n) * 2);
        be->upload(bx.data(), xb.data(), xb.size());
        const Tensor tx{bx.data(), EMBER_DTYPE_BF16, m, k, k}, ty{by.data(), EMBER_DTYPE_BF16, m, n, n};
        be->matmul(ty, tx, W, nullptr, false);
        be->rmsnorm(ty, nullptr, wn.as<float>(), 1e-6f, ty);
        std::vector<uint8_t> yb(static_cast<size_t>(m * n) * 2);
        be->download(yb.data(), by.data(), yb.size());
        return yb;
    };
    const int kThreads = 4, kIters = 25;
    std::vector<std::vector<uint8_t>> expected;
    for (int t = 0; t < kThreads; ++t) expected.push_back(run(1000 + t));
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            try {
                for (int i = 0; i < kIters; ++i)
                    if (run(1000 + t) != expected[t]) ++mismatches;
            } catch (...) {
                ++failures;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(failures.load() == 0);
    CHECK(mismatches.load() == 0);
}

TEST_CASE("ops reject bad arguments without launching [host]") {
    float dummy[16];
    std::string err;
    const Tensor a{dummy, EMBER_DTYPE_F32, 2, 4, 4}, b{dummy, EMBER_DTYPE_BF16, 2, 4, 4}, narrow{dummy, EMBER_DTYPE_F32, 2, 3, 3};
    CHECK(rmsnorm(a, nullptr, dummy, 1e-6f, b, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);  // mixed dtypes
    CHECK(rmsnorm(a, nullptr, dummy, -1.0f, a, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(swiglu(a, a, narrow, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(gelu(a, narrow, nullptr, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(layernorm(a, dummy, nullptr, 1e-5f, narrow, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(copy_rows(a, nullptr, narrow, nullptr, 1, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(softmax_groups(a, 3, 2, 1.0f, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(l2_normalize(b, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    std::vector<int32_t> cu{0, 2};
    Seqs s;
    s.cu_seqlens = cu.data();
    s.cu_seqlens_host = cu.data();
    s.n_seqs = 1;
    s.max_len = 2;
    CHECK(pool(a, a, s, nullptr, 7, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    RopeTable t{dummy, dummy, 1, nullptr, nullptr, 2};  // one position, sequences of two
    CHECK(rope(a, 1, 4, t, s, false, {}, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    t.rows = 2;
    CHECK(rope(a, 1, 4, t, s, false, {1, 1}, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);  // positions 1, 2
}
