// The C entry points for single kernels: statuses instead of exceptions, FAST and REFERENCE
// agreeing through the ABI.
#include "doctest/doctest.h"
#include "ember/kernels.h"
#include "test_util.h"

using namespace ember::test;

TEST_CASE("kernel C API: null parameters and unknown implementations give INVALID_ARGUMENT") {
    CHECK(ember_kernel_matmul(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_rmsnorm(EMBER_IMPL_REFERENCE, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_rope(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_attention(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_swiglu(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_pool(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_layernorm(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_gelu(EMBER_IMPL_REFERENCE, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_embed_abs(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_copy_rows(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_kernel_latent_pool(EMBER_IMPL_FAST, nullptr, 1) == EMBER_ERR_INVALID_ARGUMENT);
    ember_matmul_params p{};
    CHECK(ember_kernel_matmul(7, &p, 1) == EMBER_ERR_INVALID_ARGUMENT);
    p.m = -1;
    CHECK(ember_kernel_matmul(EMBER_IMPL_FAST, &p, 2) == EMBER_ERR_INVALID_ARGUMENT);
    p.m = 1;
    p.n = 1;
    p.k = 32;
    p.w_dtype = EMBER_DTYPE_Q8_0;
    CHECK(ember_kernel_matmul(EMBER_IMPL_REFERENCE, &p, 1) == EMBER_ERR_INVALID_ARGUMENT);  // null pointers
}

TEST_CASE("kernel C API: FAST and REFERENCE agree") {
    const int64_t m = 19, k = 70, n = 45;
    std::vector<float> x = random_floats(m * k, test_seed()), w = random_floats(n * k, test_seed() + 1);
    std::vector<float> y_fast(m * n), y_ref(m * n);
    ember_matmul_params mp{x.data(), k, w.data(), EMBER_DTYPE_F32, nullptr, y_ref.data(), n, m, n, k, 0};
    REQUIRE(ember_kernel_matmul(EMBER_IMPL_REFERENCE, &mp, 0) == EMBER_OK);
    mp.y = y_fast.data();
    REQUIRE(ember_kernel_matmul(EMBER_IMPL_FAST, &mp, 0) == EMBER_OK);
    CHECK(rel_error(y_fast, y_ref) <= 8 * std::sqrt(double(k)) * kUnitRoundoff);

    const int32_t cu[3] = {0, 5, 19};
    const int32_t heads = 2, d = 16;  // x reused as q, k, v: 19 rows of 70 >= 32 floats
    std::vector<float> o_fast(m * heads * d), o_ref(o_fast.size());
    ember_attention_params ap{x.data(), x.data() + 1, x.data() + 2, o_ref.data(), k, k, k, heads * d,
                              cu, 2, heads, 1, d, 0.25f, 1};
    REQUIRE(ember_kernel_attention(EMBER_IMPL_REFERENCE, &ap, 1) == EMBER_OK);
    ap.out = o_fast.data();
    REQUIRE(ember_kernel_attention(EMBER_IMPL_FAST, &ap, 2) == EMBER_OK);
    CHECK(rel_error(o_fast, o_ref) <= 1e-5);
    ap.n_kv_heads = 3;  // 2 heads cannot share 3 kv heads
    CHECK(ember_kernel_attention(EMBER_IMPL_FAST, &ap, 2) == EMBER_ERR_INVALID_ARGUMENT);
}
