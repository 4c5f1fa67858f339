// BERT input embeddings (word + token type + absolute position) and whole-row copies.
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/copy_rows.h"
#include "ops/embed_abs.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

namespace {

// A table of `rows` x `dim` random values stored as `dtype` (f32 or bf16).
std::vector<uint8_t> table(int32_t dtype, int64_t rows, int32_t dim, uint64_t seed) {
    const std::vector<float> v = random_floats(static_cast<size_t>(rows * dim), seed);
    std::vector<uint8_t> out(v.size() * (dtype == EMBER_DTYPE_F32 ? 4 : 2));
    for (size_t i = 0; i < v.size(); ++i) {
        if (dtype == EMBER_DTYPE_F32) {
            std::memcpy(out.data() + 4 * i, &v[i], 4);
        } else {
            const uint16_t h = f32_to_bf16(v[i]);
            std::memcpy(out.data() + 2 * i, &h, 2);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("embed_abs: fast kernel matches the scalar twin and the definition") {
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    const std::vector<int32_t> cu{0, 1, 8, 105, 107};
    const int32_t n_seqs = 4, total = cu.back();
    int index = 0;
    for (int32_t dtype : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16}) {
        for (int32_t dim : {1, 7, 97, 768}) {
            for (bool with_types : {false, true}) {
                ++index;
                const int64_t vocab = 50, positions = 97, types = 3;  // 97: exactly the longest sequence
                const auto word = table(dtype, vocab, dim, seed + index), pos = table(dtype, positions, dim, seed + index + 1),
                           type = table(dtype, types, dim, seed + index + 2);
                std::vector<int32_t> ids(total), type_ids(total);
                for (int32_t t = 0; t < total; ++t) {
                    ids[t] = static_cast<int32_t>((seed + 7 * t) % vocab);
                    type_ids[t] = t % types;
                }
                const int64_t os = dim + 1;
                ember_embed_abs_params p{ids.data(), with_types ? type_ids.data() : nullptr, cu.data(), n_seqs,
                                         word.data(), dtype, vocab, pos.data(), dtype, positions, type.data(),
                                         dtype, types, dim, nullptr, os};
                std::vector<float> ref(static_cast<size_t>(total * os), 5.0f), fast = ref;
                p.out = ref.data();
                cpu::embed_abs_ref(p);
                p.out = fast.data();
                cpu::embed_abs(p, pool);
                INFO("seed=" << seed << " dtype=" << dtype << " dim=" << dim << " types=" << with_types);
                // Three addends, two float roundings in the fast kernel against one in the twin.
                CHECK(rel_error(fast, ref) <= 3 * kUnitRoundoff * 2);
                // The definition, for one column: row t of sequence s uses position t - cu[s].
                auto value = [&](const std::vector<uint8_t>& tab, int64_t row) {
                    if (dtype == EMBER_DTYPE_F32) {
                        float f;
                        std::memcpy(&f, tab.data() + 4 * (row * dim), 4);
                        return double(f);
                    }
                    uint16_t h;
                    std::memcpy(&h, tab.data() + 2 * (row * dim), 2);
                    return double(bf16_to_f32(h));
                };
                for (int32_t s = 0; s < n_seqs; ++s)
                    for (int32_t t = cu[s]; t < cu[s + 1]; ++t) {
                        const double want = value(word, ids[t]) + value(pos, t - cu[s]) + value(type, with_types ? type_ids[t] : 0);
                        CHECK(ref[t * os] == doctest::Approx(want).epsilon(1e-6));
                    }
            }
        }
    }
}

TEST_CASE("embed_abs: ids, types and lengths outside the tables are rejected") {
    ThreadPool pool(1);
    std::vector<float> word(4 * 2, 1.0f), pos(3 * 2, 1.0f), type(2 * 2, 1.0f), out(8 * 2);
    std::vector<int32_t> ids{0, 1, 2, 3}, types{0, 1, 0, 1}, cu{0, 3, 4};
    const ember_embed_abs_params good{ids.data(), types.data(), cu.data(), 2, word.data(), EMBER_DTYPE_F32, 4,
                                      pos.data(), EMBER_DTYPE_F32, 3, type.data(), EMBER_DTYPE_F32, 2, 2, out.data(), 2};
    auto status_of = [&](ember_embed_abs_params p) {
        try {
            cpu::embed_abs_ref(p);
        } catch (const Error& e) {
            CHECK_THROWS_AS(cpu::embed_abs(p, pool), Error);
            return e.status();
        }
        return EMBER_OK;
    };
    CHECK(status_of(good) == EMBER_OK);
    ids[1] = 4;
    CHECK(status_of(good) == EMBER_ERR_INVALID_ARGUMENT);
    ids[1] = -1;
    CHECK(status_of(good) == EMBER_ERR_INVALID_ARGUMENT);
    ids[1] = 1;
    types[2] = 2;
    CHECK(status_of(good) == EMBER_ERR_INVALID_ARGUMENT);
    types[2] = 0;
    ember_embed_abs_params p = good;
    p.position_rows = 2;  // sequence 0 has 3 tokens
    CHECK(status_of(p) == EMBER_ERR_INVALID_ARGUMENT);
    p = good;
    p.word_dtype = EMBER_DTYPE_Q8_0;
    CHECK(status_of(p) == EMBER_ERR_INVALID_ARGUMENT);
    p = good;
    p.out_stride = 1;
    CHECK(status_of(p) == EMBER_ERR_INVALID_ARGUMENT);
}

TEST_CASE("copy_rows: gathers and scatters exactly; bad indices are rejected") {
    ThreadPool pool(3);
    const int64_t cols = 37, src_rows = 20, dst_rows = 30;
    const std::vector<float> src = random_floats(src_rows * (cols + 2), test_seed());
    const std::vector<int32_t> from{19, 0, 7, 7}, to{29, 3, 0, 12};
    for (bool gather : {false, true}) {
        for (bool scatter : {false, true}) {
            std::vector<float> ref(dst_rows * cols, 1.5f), fast = ref;
            ember_copy_rows_params p{src.data(), cols + 2, src_rows, gather ? from.data() : nullptr, nullptr, cols,
                                     dst_rows, scatter ? to.data() : nullptr, 4, cols};
            p.dst = ref.data();
            cpu::copy_rows_ref(p);
            p.dst = fast.data();
            cpu::copy_rows(p, pool);
            CHECK(fast == ref);
            for (int i = 0; i < 4; ++i)
                CHECK(std::memcmp(fast.data() + (scatter ? to[i] : i) * cols, src.data() + (gather ? from[i] : i) * (cols + 2),
                                  cols * 4) == 0);
        }
    }
    std::vector<float> dst(dst_rows * cols);
    auto status_of = [&](ember_copy_rows_params p) {
        try {
            cpu::copy_rows_ref(p);
        } catch (const Error& e) {
            CHECK_THROWS_AS(cpu::copy_rows(p, pool), Error);
            return e.status();
        }
        return EMBER_OK;
    };
    const std::vector<int32_t> dup{1, 2, 1}, out_of_range{0, 20};
    CHECK(status_of({src.data(), cols + 2, src_rows, nullptr, dst.data(), cols, dst_rows, dup.data(), 3, cols}) ==
          EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status_of({src.data(), cols + 2, src_rows, out_of_range.data(), dst.data(), cols, dst_rows, nullptr, 2, cols}) ==
          EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status_of({src.data(), cols + 2, src_rows, nullptr, dst.data(), cols, dst_rows, nullptr, 21, cols}) ==
          EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status_of({src.data(), cols + 2, src_rows, nullptr, dst.data(), cols, dst_rows, dup.data(), 2, cols}) == EMBER_OK);
}
