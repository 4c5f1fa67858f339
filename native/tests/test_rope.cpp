// RoPE: the fast kernel against the scalar twin and against the rotation written out directly.
#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/rope.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

namespace {

// cos / sin tables of `rows` positions for inv_freq_j = base^(-2j / rot_dim), as the model code
// builds them; `shift` varies the base so per-sequence tables differ.
void append_tables(std::vector<float>& cos, std::vector<float>& sin, int64_t rows, int32_t rot_dim, double shift) {
    const int32_t half = rot_dim / 2;
    for (int64_t pos = 0; pos < rows; ++pos)
        for (int32_t j = 0; j < half; ++j) {
            const double angle = pos * std::pow(10000.0 * shift, -2.0 * j / rot_dim);
            cos.push_back(static_cast<float>(std::cos(angle)));
            sin.push_back(static_cast<float>(std::sin(angle)));
        }
}

}  // namespace

TEST_CASE("rope: fast kernel matches the scalar twin and the rotation formula") {
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    const std::vector<int32_t> lengths{1, 7, 0, 97, 30};
    std::vector<int32_t> cu{0};
    for (int32_t l : lengths) cu.push_back(cu.back() + l);
    const int32_t n_seqs = static_cast<int32_t>(lengths.size());
    int index = 0;
    for (int32_t head_dim : {16, 64, 128}) {
        for (int32_t rot_dim : {head_dim, head_dim / 2}) {
            for (int32_t interleaved : {0, 1}) {
                for (bool per_seq : {false, true}) {
                    for (auto [pos_offset, group] : {std::pair{0, 0}, std::pair{5, 1}, std::pair{0, 3}, std::pair{7, 2}}) {
                        ++index;
                        const int32_t n_heads = 3, half = rot_dim / 2;
                        // The longest sequence just fits each table.
                        const int64_t table_rows = (group > 1 ? 96 / group : 96) + pos_offset + 1;
                        std::vector<float> cos, sin;
                        std::vector<int64_t> first_row;
                        for (int32_t s = 0; s < (per_seq ? n_seqs : 1); ++s) {
                            first_row.push_back(s * table_rows);
                            append_tables(cos, sin, table_rows, rot_dim, 1.0 + 0.5 * s);
                        }
                        const int64_t xs = int64_t{n_heads} * head_dim + 3, rows = cu.back();
                        const std::vector<float> x0 = random_floats(static_cast<size_t>(rows * xs), seed + index);
                        ember_rope_params p{nullptr, xs, cu.data(), n_seqs, n_heads, head_dim, rot_dim,
                                            cos.data(), sin.data(), static_cast<int64_t>(cos.size() / half),
                                            per_seq ? first_row.data() : nullptr, pos_offset, interleaved, group};
                        std::vector<float> ref = x0, fast = x0;
                        p.x = ref.data();
                        cpu::rope_ref(p);
                        p.x = fast.data();
                        cpu::rope(p, pool);
                        INFO("seed=" << seed << " head_dim=" << head_dim << " rot_dim=" << rot_dim << " interleaved="
                                     << interleaved << " per_seq=" << per_seq << " pos_offset=" << pos_offset
                                     << " group=" << group);
                        // Each output is a*c - b*s: two products and a difference in float against
                        // double, a few ulp of max(|a|, |b|).
                        CHECK(rel_error(fast, ref) <= 4 * kUnitRoundoff * 4);

                        // The rotation written out: Hugging Face's q * cos + rotate_half(q) * sin, or
                        // the complex product for adjacent pairs. Dims past rot_dim and padding stay.
                        double worst = 0;
                        bool rest_kept = true;
                        for (int32_t s = 0; s < n_seqs; ++s)
                            for (int64_t r = cu[s]; r < cu[s + 1]; ++r) {
                                const int64_t index = r - cu[s];
                                const int64_t pos = (group > 1 ? index / group : index) + pos_offset;
                                const float* c = cos.data() + (per_seq ? s * table_rows * half : 0) + pos * half;
                                const float* sn = sin.data() + (per_seq ? s * table_rows * half : 0) + pos * half;
                                for (int32_t h = 0; h < n_heads; ++h) {
                                    const float* in = x0.data() + r * xs + h * head_dim;
                                    const float* out = fast.data() + r * xs + h * head_dim;
                                    for (int32_t j = 0; j < half; ++j) {
                                        const int ia = interleaved ? 2 * j : j, ib = interleaved ? 2 * j + 1 : j + half;
                                        const double a = double(in[ia]) * c[j] - double(in[ib]) * sn[j];
                                        const double b = double(in[ib]) * c[j] + double(in[ia]) * sn[j];
                                        worst = std::max({worst, std::fabs(out[ia] - a), std::fabs(out[ib] - b)});
                                    }
                                    for (int32_t d = rot_dim; d < head_dim; ++d) rest_kept &= out[d] == in[d];
                                }
                                for (int64_t d = int64_t{n_heads} * head_dim; d < xs; ++d)
                                    rest_kept &= fast[r * xs + d] == x0[r * xs + d];
                            }
                        CHECK(worst <= 4 * 4 * kUnitRoundoff);
                        CHECK(rest_kept);
                    }
                }
            }
        }
    }
}

TEST_CASE("rope: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<int32_t> cu{0, 3, 5};
    std::vector<float> x(5 * 8, 1.0f), cos, sin;
    append_tables(cos, sin, 4, 8, 1.0);
    const ember_rope_params good{x.data(), 8, cu.data(), 2, 1, 8, 8, cos.data(), sin.data(), 4, nullptr, 0, 0, 0};
    auto with = validation_probe(good, [](const ember_rope_params& p) { cpu::rope_ref(p); },
                                 [&](const ember_rope_params& p) { cpu::rope(p, pool); });
    CHECK(with([](auto&) {}) == EMBER_OK);
    CHECK(with([](auto& p) { p.pos_offset = 1; }) == EMBER_OK);                          // position 3 < 4 rows
    CHECK(with([](auto& p) { p.pos_offset = 2; }) == EMBER_ERR_INVALID_ARGUMENT);        // position 4 >= 4 rows
    CHECK(with([](auto& p) { p.table_rows = 2; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.pos_offset = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.cos = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.cu_seqlens = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.n_seqs = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.rot_dim = 7; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.rot_dim = 10; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.rot_dim = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x_stride = 7; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.interleaved = 2; }) == EMBER_ERR_INVALID_ARGUMENT);
    const int64_t first_ok[2] = {0, 2}, first_past[2] = {0, 3}, first_negative[2] = {-1, 0};
    CHECK(with([&](auto& p) { p.table_first_row = first_ok; }) == EMBER_OK);  // rows 2, 3
    CHECK(with([&](auto& p) { p.table_first_row = first_past; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([&](auto& p) { p.table_first_row = first_negative; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.pos_group = -2; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) {
              p.pos_group = 2;
              p.pos_offset = 2;
          }) == EMBER_OK);  // positions 2, 2, 3 and 2, 2
    CHECK(with([](auto& p) {
              p.pos_group = 2;
              p.pos_offset = 3;
          }) == EMBER_ERR_INVALID_ARGUMENT);
    std::vector<int32_t> bad_cu{0, 3, 2};
    CHECK(with([&](auto& p) { p.cu_seqlens = bad_cu.data(); }) == EMBER_ERR_INVALID_ARGUMENT);
}
