// CUDA attention (flash, wgmma and generic paths) over ragged batches with odd lengths (0, 1, 7, 97,
// 1025), GQA, head_dim 16 / 20 / 64 / 128 / 256, causal and bidirectional, f32 and bf16.
//
// Tolerance: flash-attention's rule. The exact answer is computed in float64 on the values the
// GPU sees; a naive implementation in the same precision is run on the same inputs (f32: plain
// loops in float; bf16: PyTorch's eager recipe, q * scale rounded to bf16, scores rounded to bf16,
// softmax in f32 rounded to bf16, P V accumulated in f32 and rounded to bf16). The kernel's max
// error against float64 must be at most twice the naive one, plus a floor of 5e-6 (f32) / 1e-5
// (bf16) of the largest output (the online softmax rounds differently, not worse). Outputs start
// as NaN; padding columns hold NaN (reading them would show).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "attention.cuh"
#include "core/thread_pool.h"
#include "cuda_test_util.h"
#include "ops/attention.h"

using namespace ember;
using namespace ember::cuda;
using namespace ember::cudatest;

namespace {

struct Config {
    std::vector<int32_t> lengths;
    int32_t heads, kv_heads, dim;
};

float bfr(float x) { return round_to(EMBER_DTYPE_BF16, x); }

struct Problem {
    Config c;
    bool causal;
    int32_t dtype;
    std::vector<int32_t> cu;
    int64_t rows, qs, ks, vs, os;
    std::vector<float> q, k, v;  // rounded to dtype; NaN in the padding columns
    float scale;
};

Problem make_problem(const Config& c, bool causal, int32_t dtype, uint64_t seed) {
    Problem p{c, causal, dtype, {0}, 0, 0, 0, 0, 0, {}, {}, {}, 0};
    for (int32_t len : c.lengths) p.cu.push_back(p.cu.back() + len);
    p.rows = p.cu.back();
    const int64_t qw = int64_t(c.heads) * c.dim, kw = int64_t(c.kv_heads) * c.dim;
    p.qs = qw + 8;
    p.ks = kw + 8;
    p.vs = kw + 16;
    p.os = qw + 8;
    p.scale = static_cast<float>(1.0 / std::sqrt(double(c.dim)));
    auto fill = [&](std::vector<float>& x, int64_t width, int64_t stride, uint64_t s, float mag) {
        x = rounded(dtype, test::random_floats(static_cast<size_t>(std::max<int64_t>(p.rows, 1) * stride), s, mag));
        for (int64_t r = 0; r < p.rows; ++r)
            for (int64_t j = width; j < stride; ++j) x[r * stride + j] = NAN;
    };
    // |q|, |k| up to 2: peaked softmax rows as well as flat ones.
    fill(p.q, qw, p.qs, seed, 2.0f);
    fill(p.k, kw, p.ks, seed + 1, 2.0f);
    fill(p.v, kw, p.vs, seed + 2, 1.0f);
    return p;
}

// out[row * (heads * dim) + h * dim + d] for every valid row: `naive` 0 = float64, 1 = naive f32,
// 2 = naive bf16.
std::vector<float> reference(const Problem& p, int naive, ThreadPool& pool) {
    const Config& c = p.c;
    const int64_t qw = int64_t(c.heads) * c.dim;
    std::vector<float> out(static_cast<size_t>(p.rows * qw), 0.0f);
    const int32_t n_seqs = static_cast<int32_t>(c.lengths.size());
    const int group = c.heads / c.kv_heads;
    pool.parallel_for(int64_t(n_seqs) * c.heads, 1, [&](int64_t b, int64_t e) {
        std::vector<double> sd, od;
        std::vector<float> sf, qv;
        for (int64_t task = b; task < e; ++task) {
            const int s = static_cast<int>(task / c.heads), h = static_cast<int>(task % c.heads), kvh = h / group;
            const int64_t start = p.cu[s], len = p.cu[s + 1] - start;
            for (int64_t i = 0; i < len; ++i) {
                const float* q = &p.q[(start + i) * p.qs + int64_t(h) * c.dim];
                const int64_t nk = p.causal ? i + 1 : len;
                float* o = &out[(start + i) * qw + int64_t(h) * c.dim];
                if (naive == 0) {
                    sd.assign(static_cast<size_t>(nk), 0.0);
                    double mx = -INFINITY;
                    for (int64_t j = 0; j < nk; ++j) {
                        const float* k = &p.k[(start + j) * p.ks + int64_t(kvh) * c.dim];
                        double dot = 0;
                        for (int d = 0; d < c.dim; ++d) dot += double(q[d]) * k[d];
                        sd[j] = dot * p.scale;
                        mx = std::max(mx, sd[j]);
                    }
                    double sum = 0;
                    for (int64_t j = 0; j < nk; ++j) sum += (sd[j] = std::exp(sd[j] - mx));
                    od.assign(static_cast<size_t>(c.dim), 0.0);
                    for (int64_t j = 0; j < nk; ++j) {
                        const float* v = &p.v[(start + j) * p.vs + int64_t(kvh) * c.dim];
                        for (int d = 0; d < c.dim; ++d) od[d] += sd[j] / sum * v[d];
                    }
                    for (int d = 0; d < c.dim; ++d) o[d] = static_cast<float>(od[d]);
                    continue;
                }
                const bool bf = naive == 2;
                qv.assign(q, q + c.dim);
                if (bf)
                    for (float& x : qv) x = bfr(x * p.scale);
                sf.assign(static_cast<size_t>(nk), 0.0f);
                float mx = -INFINITY;
                for (int64_t j = 0; j < nk; ++j) {
                    const float* k = &p.k[(start + j) * p.ks + int64_t(kvh) * c.dim];
                    float dot = 0;
                    for (int d = 0; d < c.dim; ++d) dot += qv[d] * k[d];
                    sf[j] = bf ? bfr(dot) : dot * p.scale;
                    mx = std::max(mx, sf[j]);
                }
                float sum = 0;
                for (int64_t j = 0; j < nk; ++j) sum += (sf[j] = std::exp(sf[j] - mx));
                for (int64_t j = 0; j < nk; ++j) sf[j] = bf ? bfr(sf[j] / sum) : sf[j];
                for (int d = 0; d < c.dim; ++d) {
                    float acc = 0;
                    for (int64_t j = 0; j < nk; ++j) acc += sf[j] * p.v[(start + j) * p.vs + int64_t(kvh) * c.dim + d];
                    o[d] = bf ? bfr(acc) : acc / sum;
                }
            }
        }
    });
    return out;
}

double max_abs_err(const std::vector<float>& a, const std::vector<float>& ref) {
    double e = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        e = std::max(e, std::fabs(double(a[i]) - ref[i]));
    }
    return e;
}

ThreadPool& ref_pool() {
    static ThreadPool pool(0);
    return pool;
}

// Runs every applicable path of one problem (or the wgmma path alone: it has test cases of its
// own, which ci/gpu-check.sh runs in a process of their own, since a fault is sticky for the
// process). Returns the paths run.
int check_problem(const Problem& p, bool only_wgmma = false) {
    const Config& c = p.c;
    const int64_t qw = int64_t(c.heads) * c.dim, kw = int64_t(c.kv_heads) * c.dim;
    const std::vector<float> exact = reference(p, 0, ref_pool());
    const std::vector<float> naive = reference(p, p.dtype == EMBER_DTYPE_BF16 ? 2 : 1, ref_pool());
    const double naive_err = max_abs_err(naive, exact);
    double ref_max = 0;
    for (float x : exact) ref_max = std::max(ref_max, double(std::fabs(x)));

    DeviceArray dq(p.dtype, p.q), dk(p.dtype, p.k), dv(p.dtype, p.v);
    DeviceVec<int32_t> dcu(p.cu);
    int ran = 0;
    const std::vector<AttentionPath> paths = only_wgmma ? std::vector<AttentionPath>{AttentionPath::Wgmma}
                                                        : std::vector<AttentionPath>{AttentionPath::Flash, AttentionPath::Generic};
    for (const AttentionPath path : paths) {
        DeviceArray dout(p.dtype, static_cast<size_t>(std::max<int64_t>(p.rows, 1) * p.os));
        AttentionArgs a;
        a.out = dout.tensor(p.rows, qw, p.os);
        a.q = dq.tensor(p.rows, qw, p.qs);
        a.k = dk.tensor(p.rows, kw, p.ks);
        a.v = dv.tensor(p.rows, kw, p.vs);
        a.seqs.cu_seqlens = dcu.data();
        a.seqs.cu_seqlens_host = p.cu.data();
        a.seqs.n_seqs = static_cast<int32_t>(c.lengths.size());
        a.seqs.total_tokens = p.rows;
        a.seqs.max_len = *std::max_element(c.lengths.begin(), c.lengths.end());
        a.n_heads = c.heads;
        a.n_kv_heads = c.kv_heads;
        a.head_dim = c.dim;
        a.scale = p.scale;
        a.causal = p.causal;
        if (!attention_path_applies(a, path)) continue;
        std::string err;
        INFO("path " << attention_path_name(path) << " dtype "
                     << (p.dtype == EMBER_DTYPE_BF16 ? "bf16" : "f32") << " heads " << c.heads << "/" << c.kv_heads << " dim "
                     << c.dim << " causal " << p.causal);
        REQUIRE_MESSAGE(attention_with(a, path, nullptr, &err) == EMBER_OK, err);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
        const std::vector<float> got = dense(dout.get(), p.rows, qw, p.os);
        const double e = max_abs_err(got, exact);
        const double floor = (p.dtype == EMBER_DTYPE_BF16 ? 1e-5 : 5e-6) * ref_max;
        CHECK_MESSAGE(e <= 2 * naive_err + floor, "max error " << e << ", naive " << naive_err << ", |ref| " << ref_max);
        ++ran;
    }
    return ran;
}

const Config kConfigs[] = {
    {{1, 7, 97}, 2, 2, 16},  {{97, 1}, 8, 4, 64},    {{1025, 7}, 4, 1, 64}, {{33, 130}, 8, 1, 128},
    {{129}, 16, 8, 128},     {{200, 64}, 2, 1, 256}, {{0, 50, 0}, 2, 2, 64}, {{65, 3}, 6, 2, 20},
};

}  // namespace

TEST_CASE("attention: flash and generic paths against float64, within 2x the naive same-precision error") {
    uint64_t seed = test::test_seed();
    INFO("seed " << seed);
    int runs = 0;
    for (const Config& c : kConfigs)
        for (bool causal : {false, true})
            for (int32_t dt : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16}) runs += check_problem(make_problem(c, causal, dt, seed += 3));
    MESSAGE("attention: " << runs << " path runs compared");
}

TEST_CASE("attention: real shapes (16 heads of 128, GQA 2, sequences of 512 and 300)") {
    uint64_t seed = test::test_seed() + 500;
    for (bool causal : {false, true}) check_problem(make_problem({{512, 300, 64}, 16, 8, 128}, causal, EMBER_DTYPE_BF16, seed += 3));
    check_problem(make_problem({{256, 33}, 8, 8, 64}, false, EMBER_DTYPE_BF16, seed += 3));
}

// More sequences than one grid holds (grid.z <= 65535): the later ones run in a further launch
// from their own place in cu_seqlens.
namespace {
Config many_sequences() {
    std::vector<int32_t> lengths(70000);
    for (size_t i = 0; i < lengths.size(); ++i) lengths[i] = 1 + static_cast<int32_t>(i % 3);
    return {lengths, 2, 1, 64};
}
}  // namespace

TEST_CASE("attention: 70,000 short sequences, more than one grid holds") {
    uint64_t seed = test::test_seed() + 600;
    for (bool causal : {false, true})
        CHECK(check_problem(make_problem(many_sequences(), causal, EMBER_DTYPE_BF16, seed += 3)) == 2);  // flash, generic
}

// The Hopper kernel (sm_90a): blocks of 128 queries against key tiles of 128, so lengths around
// both (1, 7, 127, 128, 129, 1025), several blocks and key tiles, GQA 1 / 2 / 4 / 16, both head
// dims, causal or not, and an empty sequence.
TEST_CASE("attention: the wgmma path (H100 / H200) against float64 [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    uint64_t seed = test::test_seed() + 700;
    INFO("seed " << seed);
    const Config configs[] = {{{1, 7, 97}, 8, 4, 64},     {{1025, 7}, 4, 1, 64},       {{0, 128, 0, 129}, 2, 2, 64},
                              {{33, 130}, 8, 1, 128},     {{129}, 16, 8, 128},          {{512, 300, 64}, 16, 8, 128},
                              {{127, 1, 256}, 2, 2, 128}, {{1025, 3}, 16, 1, 128}};
    int runs = 0;
    for (const Config& c : configs)
        for (bool causal : {false, true}) runs += check_problem(make_problem(c, causal, EMBER_DTYPE_BF16, seed += 3), true);
    CHECK(runs == 16);  // 8 shapes x causal or not
    MESSAGE("wgmma attention: " << runs << " runs compared");
}

// The default on a 9.0 device: wgmma wherever it applies, flash for SelfExtend, generic for a
// head_dim the tensor-core kernels do not take. choose_attention reads no memory.
TEST_CASE("attention: the default takes wgmma on 9.0, flash for SelfExtend [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    void* const p = reinterpret_cast<void*>(uintptr_t(1) << 20);
    const std::vector<int32_t> cu{0, 512};
    AttentionArgs a;
    for (Tensor* t : {&a.out, &a.q, &a.k, &a.v, &a.q_group, &a.k_group, &a.q_group_future, &a.k_group_future})
        *t = Tensor{p, EMBER_DTYPE_BF16, 512, 2048, 2048};
    a.seqs.cu_seqlens = static_cast<const int32_t*>(p);
    a.seqs.cu_seqlens_host = cu.data();
    a.seqs.n_seqs = 1;
    a.seqs.total_tokens = a.seqs.max_len = 512;
    a.n_heads = a.n_kv_heads = 16;
    a.head_dim = 128;
    a.scale = 0.088f;
    for (bool causal : {false, true}) {
        a.causal = causal;
        a.self_extend_window = 0;
        CHECK(choose_attention(a) == AttentionPath::Wgmma);
        a.self_extend_window = 64;
        CHECK(choose_attention(a) == AttentionPath::Flash);
    }
    a.self_extend_window = 0;
    a.head_dim = 16;
    a.n_heads = a.n_kv_heads = 128;
    CHECK(choose_attention(a) == AttentionPath::Generic);
}

TEST_CASE("attention: the wgmma path on 70,000 short sequences [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    uint64_t seed = test::test_seed() + 650;
    for (bool causal : {false, true})
        CHECK(check_problem(make_problem(many_sequences(), causal, EMBER_DTYPE_BF16, seed += 3), true) == 1);
}

// Structured inputs whose outputs name what the kernel read, so that one failing GPU run says
// which part of the wgmma layout is wrong. Small integers, exact in bf16.
//   "V column": Q = 0 makes every score 0 and the softmax uniform; V(key, c) = c, so O(row, c) =
//     c names the V column behind output column c (P V's N-major operand along head_dim).
//   "key": Q(i, c) = 1024 at c = i % D and 0 elsewhere; K(key, c) = 1 at c = key % D for keys
//     below D and -1 everywhere else. Each row scores +1024 scale for the one key whose index mod
//     D matches and -1024 scale for every other key, 2^-261 (D = 128) or less of its weight: 0 in
//     f32. With V(key, c) = key, O(i, c) = i % D exactly names the key read through S's columns,
//     P's fragments and V's rows, the Q column against K's (Q K^T's K-major operands along
//     head_dim), and the Q row behind row i. (Other keys at score 0, as a first version had, keep
//     weights near e^-22: enough to make the rows that should read key 0 come out 4e-10, not 0.)
namespace {

// One probe (0: V column, 1: key) on one sequence of 256 tokens, 2 heads: the outputs that differ
// from what they name, the first dozen spelled out ("" when none).
std::string wgmma_probe_failures(int32_t d, bool causal, int probe) {
    const int32_t len = 256, heads = 2;
    const int64_t w = int64_t(heads) * d;
    std::vector<float> q(static_cast<size_t>(len * w)), k(q.size()), v(q.size());
    for (int64_t i = 0; i < len; ++i)
        for (int64_t c = 0; c < w; ++c) {
            const int64_t col = c % d;
            q[i * w + c] = probe == 0 ? 0.0f : (col == i % d ? 1024.0f : 0.0f);
            k[i * w + c] = probe == 0 ? 0.5f : (col == i % d && i < d ? 1.0f : -1.0f);
            v[i * w + c] = probe == 0 ? static_cast<float>(col) : static_cast<float>(i);
        }
    DeviceArray dq(EMBER_DTYPE_BF16, q), dk(EMBER_DTYPE_BF16, k), dv(EMBER_DTYPE_BF16, v), dout(EMBER_DTYPE_BF16, q.size());
    const std::vector<int32_t> cu{0, len};
    DeviceVec<int32_t> dcu(cu);
    AttentionArgs a;
    a.out = dout.tensor(len, w, w);
    a.q = dq.tensor(len, w, w);
    a.k = dk.tensor(len, w, w);
    a.v = dv.tensor(len, w, w);
    a.seqs.cu_seqlens = dcu.data();
    a.seqs.cu_seqlens_host = cu.data();
    a.seqs.n_seqs = 1;
    a.seqs.total_tokens = len;
    a.seqs.max_len = len;
    a.n_heads = a.n_kv_heads = heads;
    a.head_dim = d;
    a.scale = static_cast<float>(1.0 / std::sqrt(double(d)));
    a.causal = causal;
    std::string err;
    if (attention_wgmma(a, nullptr, &err) != EMBER_OK) return "launch failed: " + err;
    const std::vector<float> out = dout.get();
    int64_t bad = 0;
    std::string first;
    for (int64_t i = 0; i < len; ++i)
        for (int64_t c = 0; c < w; ++c) {
            // Causal rows see keys 0..i only: the uniform mean of V columns is still c, and the
            // matching key i % d is among them.
            const float want = probe == 0 ? static_cast<float>(c % d) : static_cast<float>(i % d);
            const float got = out[i * w + c];
            if (got == want) continue;  // NaN never equals
            if (++bad <= 12) first += format(" (%lld, %lld): %g not %g;", (long long)i, (long long)c, got, want);
        }
    return bad == 0 ? "" : format("%lld of %lld wrong, first:", (long long)bad, (long long)(len * w)) + first;
}

}  // namespace

TEST_CASE("attention: the wgmma path reads what each output names [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    for (int32_t d : {64, 128})
        for (bool causal : {false, true})
            for (int probe = 0; probe < 2; ++probe) {
                const std::string failures = wgmma_probe_failures(d, causal, probe);
                CHECK_MESSAGE(failures.empty(),
                              (probe == 0 ? "V column" : "key") << " probe, head_dim " << d << " causal " << causal << ": " << failures);
            }
}

namespace {

// SelfExtend and length scaling against the CPU twin (cpu::attention_ref, float64 on the same
// rounded operands). The kernels do not care that q_group etc. are rotations of q and k (that is
// the rope op's business, checked in test_cuda_ops), so all seven operands are independent random
// tensors here: a pair scored from the wrong operand shows at once.
struct SeProblem {
    std::vector<int32_t> cu;
    int32_t heads, kv_heads, dim, window, length_base;
    bool causal;
    int32_t dtype;
    int64_t rows, qs, ks, vs, os;
    std::vector<float> q, k, v, qg, kg, qf, kf;  // rounded to dtype; NaN padding
};

SeProblem make_se(const std::vector<int32_t>& lengths, int32_t heads, int32_t kv_heads, int32_t dim, int32_t window,
                  int32_t length_base, bool causal, int32_t dtype, uint64_t seed) {
    SeProblem p{{0}, heads, kv_heads, dim, window, length_base, causal, dtype, 0, 0, 0, 0, 0, {}, {}, {}, {}, {}, {}, {}};
    for (int32_t len : lengths) p.cu.push_back(p.cu.back() + len);
    p.rows = p.cu.back();
    const int64_t qw = int64_t(heads) * dim, kw = int64_t(kv_heads) * dim;
    p.qs = qw + 8;
    p.ks = kw + 8;
    p.vs = kw + 16;
    p.os = qw + 8;
    auto fill = [&](std::vector<float>& x, int64_t width, int64_t stride, uint64_t s) {
        x = rounded(dtype, test::random_floats(static_cast<size_t>(p.rows * stride), s, 1.0f));
        for (int64_t r = 0; r < p.rows; ++r)
            for (int64_t j = width; j < stride; ++j) x[r * stride + j] = NAN;
    };
    fill(p.q, qw, p.qs, seed);
    fill(p.k, kw, p.ks, seed + 1);
    fill(p.v, kw, p.vs, seed + 2);
    fill(p.qg, qw, p.qs, seed + 3);
    fill(p.kg, kw, p.ks, seed + 4);
    fill(p.qf, qw, p.qs, seed + 5);
    fill(p.kf, kw, p.ks, seed + 6);
    return p;
}

ember_attention_params se_params(const SeProblem& p, float* out, bool self_extend) {
    ember_attention_params a{};
    a.q = p.q.data();
    a.k = p.k.data();
    a.v = p.v.data();
    a.out = out;
    a.q_stride = p.qs;
    a.k_stride = p.ks;
    a.v_stride = p.vs;
    a.out_stride = p.os;
    a.cu_seqlens = p.cu.data();
    a.n_seqs = static_cast<int32_t>(p.cu.size() - 1);
    a.n_heads = p.heads;
    a.n_kv_heads = p.kv_heads;
    a.head_dim = p.dim;
    a.scale = static_cast<float>(1.0 / std::sqrt(double(p.dim)));
    a.causal = p.causal ? 1 : 0;
    a.length_scaling_base = p.length_base;
    if (self_extend) {
        a.self_extend_window = p.window;
        a.q_group = p.qg.data();
        a.k_group = p.kg.data();
        a.q_group_future = p.qf.data();
        a.k_group_future = p.kf.data();
        a.q_group_stride = a.q_group_future_stride = p.qs;
        a.k_group_stride = a.k_group_future_stride = p.ks;
    }
    return a;
}

// Runs `path` on the device; returns the dense outputs (rows x heads * dim).
std::vector<float> run_se(const SeProblem& p, AttentionPath path, bool self_extend, bool* applies) {
    const int64_t qw = int64_t(p.heads) * p.dim, kw = int64_t(p.kv_heads) * p.dim;
    DeviceArray dq(p.dtype, p.q), dk(p.dtype, p.k), dv(p.dtype, p.v), dqg(p.dtype, p.qg), dkg(p.dtype, p.kg),
        dqf(p.dtype, p.qf), dkf(p.dtype, p.kf), dout(p.dtype, static_cast<size_t>(p.rows * p.os));
    DeviceVec<int32_t> dcu(p.cu);
    AttentionArgs a;
    a.out = dout.tensor(p.rows, qw, p.os);
    a.q = dq.tensor(p.rows, qw, p.qs);
    a.k = dk.tensor(p.rows, kw, p.ks);
    a.v = dv.tensor(p.rows, kw, p.vs);
    a.seqs.cu_seqlens = dcu.data();
    a.seqs.cu_seqlens_host = p.cu.data();
    a.seqs.n_seqs = static_cast<int32_t>(p.cu.size() - 1);
    a.seqs.total_tokens = p.rows;
    for (size_t s = 0; s + 1 < p.cu.size(); ++s) a.seqs.max_len = std::max<int64_t>(a.seqs.max_len, p.cu[s + 1] - p.cu[s]);
    a.n_heads = p.heads;
    a.n_kv_heads = p.kv_heads;
    a.head_dim = p.dim;
    a.scale = static_cast<float>(1.0 / std::sqrt(double(p.dim)));
    a.causal = p.causal;
    a.length_scaling_base = p.length_base;
    if (self_extend) {
        a.self_extend_window = p.window;
        a.q_group = dqg.tensor(p.rows, qw, p.qs);
        a.k_group = dkg.tensor(p.rows, kw, p.ks);
        if (!p.causal) {
            a.q_group_future = dqf.tensor(p.rows, qw, p.qs);
            a.k_group_future = dkf.tensor(p.rows, kw, p.ks);
        }
    }
    *applies = attention_path_applies(a, path);
    if (!*applies) return {};
    std::string err;
    REQUIRE_MESSAGE(attention_with(a, path, nullptr, &err) == EMBER_OK, err);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    return dense(dout.get(), p.rows, qw, p.os);
}

// max |got - ref| over max_j sum p_j |v_j| (the CPU tests' measure); NaN never passes.
double se_error(const SeProblem& p, const std::vector<float>& got, bool self_extend) {
    const int64_t qw = int64_t(p.heads) * p.dim;
    std::vector<float> ref(static_cast<size_t>(p.rows * p.os)), terms(ref.size());
    ember_attention_params a = se_params(p, ref.data(), self_extend);
    cpu::attention_ref(a);
    SeProblem abs_p = p;
    for (float& x : abs_p.v) x = std::isnan(x) ? x : std::fabs(x);
    ember_attention_params b = se_params(abs_p, terms.data(), self_extend);
    cpu::attention_ref(b);
    double diff = 0, scale = 0;
    for (int64_t r = 0; r < p.rows; ++r)
        for (int64_t c = 0; c < qw; ++c) {
            const float x = got[r * qw + c], y = ref[r * p.os + c];
            if (!std::isfinite(x)) return INFINITY;
            diff = std::max(diff, std::fabs(double(x) - y));
            scale = std::max(scale, double(terms[r * p.os + c]));
        }
    return diff / scale;
}

}  // namespace

// f32: the same 1e-5 of the terms the CPU kernels are held to (the generic path computes in f32
// like them). bf16 operands are compared with the twin run on the same rounded values: the output
// is rounded to bf16 (2^-9 of |out| <= the terms), and the flash path also rounds P to bf16 for
// P V (another 2^-9 of the terms), so 6e-3 of the terms.
//
// Windows: 4 (almost every flash tile of 64 keys on the window's edge, two or three products per
// tile), 64 (edges on tile boundaries) and 200 (edges inside tiles, whole tiles beyond the
// window); lengths around them (W + 1) and odd ones (97, 1, 1025 for the flash path's long rows).
TEST_CASE("attention: SelfExtend and length scaling match the CPU twin on both paths") {
    uint64_t seed = test::test_seed() + 900;
    INFO("seed " << seed);
    struct Shape {
        int32_t heads, kv_heads, dim;
    };
    int flash_runs = 0;
    for (const Shape sh : {Shape{4, 2, 64}, Shape{8, 2, 128}, Shape{2, 1, 16}})
        for (int32_t window : {4, 64, 200})
            for (bool causal : {true, false})
                for (int32_t dt : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16}) {
                    std::vector<int32_t> lengths{300, window + 1, 97, 1};
                    if (window == 200 && dt == EMBER_DTYPE_BF16 && sh.dim == 128) lengths.push_back(1025);
                    const SeProblem p = make_se(lengths, sh.heads, sh.kv_heads, sh.dim, window, window == 4 ? 64 : 0,
                                                causal, dt, seed += 11);
                    INFO("heads " << sh.heads << "/" << sh.kv_heads << " dim " << sh.dim << " W " << window << " causal "
                                  << causal << (dt == EMBER_DTYPE_BF16 ? " bf16" : " f32"));
                    const double tol = dt == EMBER_DTYPE_BF16 ? 6e-3 : 1e-5;
                    for (AttentionPath path : {AttentionPath::Flash, AttentionPath::Generic}) {
                        INFO("path " << attention_path_name(path));
                        bool applies = false;
                        const std::vector<float> se = run_se(p, path, true, &applies);
                        // The flash path takes SelfExtend wherever it takes plain attention.
                        const bool flash_expected = dt == EMBER_DTYPE_BF16 && (sh.dim == 64 || sh.dim == 128);
                        CHECK(applies == (path == AttentionPath::Generic || flash_expected));
                        if (applies) {
                            CHECK(se_error(p, se, true) <= tol);
                            if (path == AttentionPath::Flash) ++flash_runs;
                        }
                        // Without SelfExtend (length scaling alone where set).
                        const std::vector<float> plain = run_se(p, path, false, &applies);
                        if (applies) CHECK(se_error(p, plain, false) <= tol);
                    }
                }
    CHECK(flash_runs == 2 * 3 * 2);  // dims 64 and 128 x 3 windows x causal or not, bf16
}

// LongEmbed's length scaling on the wgmma path (per sequence, from its length), against the CPU
// twin with the bf16 tolerance above; SelfExtend is not the wgmma path's (it stays on flash).
TEST_CASE("attention: the wgmma path with length scaling matches the CPU twin [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    uint64_t seed = test::test_seed() + 980;
    for (int32_t dim : {64, 128})
        for (bool causal : {true, false}) {
            INFO("dim " << dim << " causal " << causal);
            const SeProblem p = make_se({300, 129, 97, 1}, 8, 2, dim, 64, 64, causal, EMBER_DTYPE_BF16, seed += 13);
            bool applies = false;
            const std::vector<float> got = run_se(p, AttentionPath::Wgmma, false, &applies);
            REQUIRE(applies);
            CHECK(se_error(p, got, false) <= 6e-3);
            run_se(p, AttentionPath::Wgmma, true, &applies);
            CHECK_FALSE(applies);
        }
}

// With a window covering every sequence all pairs are near: SelfExtend must then be the plain
// kernel exactly (same products in the same order), on each path.
TEST_CASE("attention: SelfExtend with a window covering the sequences is the plain kernel, bit for bit") {
    uint64_t seed = test::test_seed() + 950;
    for (bool causal : {true, false})
        for (int32_t dt : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16})
            for (AttentionPath path : {AttentionPath::Generic, AttentionPath::Flash}) {
                INFO("causal " << causal << " dtype " << dt << " path " << attention_path_name(path));
                const SeProblem p = make_se({300, 65, 1}, 8, 2, 64, 300, 0, causal, dt, seed += 7);
                bool applies = false, plain_applies = false;
                const std::vector<float> se = run_se(p, path, true, &applies);
                const std::vector<float> plain = run_se(p, path, false, &plain_applies);
                CHECK(applies == plain_applies);
                if (!applies) continue;  // flash: f32
                REQUIRE(se.size() == plain.size());
                CHECK(std::memcmp(se.data(), plain.data(), se.size() * sizeof(float)) == 0);
            }
}

TEST_CASE("attention rejects bad arguments without launching [host]") {
    std::vector<int32_t> cu{0, 4};
    float dummy[64];
    AttentionArgs a;
    a.out = a.q = Tensor{dummy, EMBER_DTYPE_F32, 4, 16, 16};
    a.k = a.v = Tensor{dummy, EMBER_DTYPE_F32, 4, 16, 16};
    a.seqs.cu_seqlens = cu.data();
    a.seqs.cu_seqlens_host = cu.data();
    a.seqs.n_seqs = 1;
    a.seqs.max_len = 4;
    a.n_heads = 1;
    a.n_kv_heads = 1;
    a.head_dim = 16;
    std::string err;
    AttentionArgs bad = a;
    bad.n_heads = 3;
    bad.n_kv_heads = 2;
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.k.dtype = EMBER_DTYPE_BF16;
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.seqs.max_len = 3;
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.head_dim = 512;
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK_FALSE(attention_flash_applies(a));  // f32: generic only
    CHECK_FALSE(attention_wgmma_applies(a));
    CHECK(attention_with(a, AttentionPath::Wgmma, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.self_extend_window = 4;  // SelfExtend without its grouped q / k
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad.q_group = bad.q_group_future = a.q;
    bad.k_group = a.k;
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);  // bidirectional: k_group_future too
    bad.causal = true;
    bad.k_group = Tensor{dummy, EMBER_DTYPE_F32, 4, 8, 16};
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);  // wrong width
    bad = a;
    bad.length_scaling_base = -1;
    CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    for (float scale : {0.0f, -0.25f, NAN, INFINITY}) {
        bad = a;
        bad.scale = scale;
        CHECK(attention(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
        CHECK(err.find("scale") != std::string::npos);
    }
}
