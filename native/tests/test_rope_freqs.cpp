// RoPE inverse frequencies (model/rope_freqs): every scaling variant against the numbers
// transformers computes (tests/goldens/rope-inv-freq.json), the config styles that name them,
// and the load-time overrides (ember_load_options).
#include <cmath>
#include <string>

#include "core/error.h"
#include "doctest/doctest.h"
#include "io/json.h"
#include "model/config.h"
#include "model/rope_freqs.h"
#include "goldens.h"
#include "test_util.h"

using namespace ember;

namespace {

using test::golden_dir;

// |a - b| / |b|, the error in units of float32's relative precision (2^-24 is half an ulp).
double ulps(double a, double b) { return std::fabs(a - b) / std::fabs(b) / test::kUnitRoundoff; }

ember_status status_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.status();
    }
    return EMBER_OK;
}

}  // namespace

// Each case's `rope` object is read the way a config.json's rope_parameters is, so this also pins
// the parser. Tolerance 2 units of 2^-24: transformers' float32 pow and Ember's correctly rounded
// one may differ by an ulp, then one float32 division or blend step adds at most another.
TEST_CASE("rope frequencies: every variant equals transformers' inv_freq and attention factor") {
    const Json golden = read_json_file(golden_dir("rope-inv-freq.json"));
    int compared = 0;
    for (const Json& c : golden["cases"]) {
        const std::string name = c["name"].get<std::string>();
        INFO("case " << name);
        Json config = Json::object();
        config["rope_parameters"] = c["rope"];
        const RopeConfig rope = parse_rope_config(config, "case " + name);
        const int32_t head_dim = c["head_dim"].get<int32_t>();
        const int64_t max_pos = c["max_position_embeddings"].get<int64_t>();
        const int64_t seq_len = c["seq_len"].is_null() ? max_pos : c["seq_len"].get<int64_t>();
        const RopeFrequencies f = compute_rope_frequencies(rope, head_dim, max_pos, seq_len);
        const std::vector<float> want = c["inv_freq"].get<std::vector<float>>();
        REQUIRE(f.inv_freq.size() == want.size());
        double worst = 0;
        for (size_t j = 0; j < want.size(); ++j) worst = std::max(worst, ulps(f.inv_freq[j], want[j]));
        const double att = ulps(f.attention_factor, c["attention_scaling"].get<double>());
        MESSAGE(name << ": inv_freq worst " << worst << " x 2^-24 relative, attention factor " << f.attention_factor
                     << " (" << att << " x 2^-24)");
        CHECK(worst <= 2.0);
        CHECK(att <= 1.0);  // the double rounded to float
        ++compared;
    }
    CHECK(compared == 5);
}

TEST_CASE("rope frequencies: rope_scaling (type or rope_type) and rope_parameters read the same") {
    const char* styles[] = {
        R"({"rope_theta": 1000000.0, "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128}})",
        R"({"rope_theta": 1000000.0, "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128}})",
        R"({"rope_parameters": {"rope_theta": 1000000.0, "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128}})",
        R"({"rope_theta": 1000000.0, "original_max_position_embeddings": 128, "rope_scaling": {"type": "yarn", "factor": 4.0}})"};
    for (const char* s : styles) {
        INFO(s);
        const RopeConfig r = parse_rope_config(parse_json(s, "config"), "config");
        CHECK(r.type == "yarn");
        CHECK(r.theta == 1e6);
        CHECK(r.factor == 4.0);
        CHECK(r.original_max_positions == 128);
        CHECK(r.beta_fast == 32.0);
        CHECK(r.beta_slow == 1.0);
    }
    // yarn without a factor: max_position_embeddings / original (transformers 5, DeepSeek-V3 style).
    const RopeConfig nf = parse_rope_config(
        parse_json(R"({"rope_parameters": {"rope_type": "yarn", "original_max_position_embeddings": 128}})", "c"), "c");
    CHECK(compute_rope_frequencies(nf, 16, 512, 512).attention_factor == doctest::Approx(0.1 * std::log(4.0) + 1.0));
    // mscale / mscale_all_dim give the attention factor their ratio.
    const RopeConfig ms = parse_rope_config(
        parse_json(R"({"rope_parameters": {"rope_type": "yarn", "factor": 40, "mscale": 1.0, "mscale_all_dim": 0.5,
                       "original_max_position_embeddings": 4096}})",
                   "c"),
        "c");
    CHECK(compute_rope_frequencies(ms, 64, 163840, 163840).attention_factor ==
          doctest::Approx((0.1 * std::log(40.0) + 1.0) / (0.05 * std::log(40.0) + 1.0)));
    // dynamic never reads an original length: it scales from max_position_embeddings.
    const RopeConfig dyn = parse_rope_config(
        parse_json(R"({"rope_scaling": {"type": "dynamic", "factor": 2, "original_max_position_embeddings": 64}})", "c"), "c");
    CHECK(dyn.original_max_positions == 0);
    CHECK(status_of([] {
              parse_rope_config(parse_json(R"({"rope_scaling": {"type": "longrope", "factor": 2}})", "c"), "c");
          }) == EMBER_OK);  // parsing accepts it; computing refuses it
    RopeConfig longrope;
    longrope.type = "longrope";
    CHECK(status_of([&] { compute_rope_frequencies(longrope, 64, 4096, 4096); }) == EMBER_ERR_MODEL_UNSUPPORTED);
    RopeConfig no_factor;
    no_factor.type = "linear";
    CHECK(status_of([&] { compute_rope_frequencies(no_factor, 64, 4096, 4096); }) == EMBER_ERR_MODEL_MALFORMED);
    CHECK(status_of([] {
              parse_rope_config(parse_json(R"({"partial_rotary_factor": 0.5})", "c"), "c");
          }) == EMBER_ERR_MODEL_UNSUPPORTED);
}

TEST_CASE("rope frequencies: static NTK's closed form, dynamic NTK per length") {
    RopeConfig base;
    base.theta = 10000.0;
    const RopeFrequencies plain = compute_rope_frequencies(base, 128, 4096, 4096);
    RopeConfig ntk = base;
    ntk.type = "ntk";
    ntk.factor = 4.0;
    const RopeFrequencies f = compute_rope_frequencies(ntk, 128, 4096, 4096);
    const double new_base = 10000.0 * std::pow(4.0, 128.0 / 126.0);
    for (size_t j = 0; j < f.inv_freq.size(); ++j)
        CHECK(ulps(f.inv_freq[j], std::pow(new_base, -2.0 * j / 128.0)) <= 2.0);
    // The closed form leaves the fastest pair as it is and slows the slowest by exactly the factor.
    CHECK(f.inv_freq[0] == 1.0f);
    CHECK(ulps(f.inv_freq.back(), plain.inv_freq.back() / 4.0) <= 4.0);
    // An explicit new base is the plain variant with another theta (LongEmbed's E5-Mistral: 1e5).
    RopeConfig explicit_base = base;
    explicit_base.theta = 1e5;
    CHECK(ulps(compute_rope_frequencies(explicit_base, 128, 4096, 4096).inv_freq[1], 1.0 / std::pow(1e5, 2.0 / 128)) <=
          2.0);

    RopeConfig dyn = base;
    dyn.type = "dynamic";
    dyn.factor = 2.0;
    CHECK(rope_depends_on_length(dyn));
    CHECK(!rope_depends_on_length(ntk));
    // Up to the trained context nothing changes; beyond it each length has its own base.
    CHECK(compute_rope_frequencies(dyn, 128, 4096, 100).inv_freq == plain.inv_freq);
    CHECK(compute_rope_frequencies(dyn, 128, 4096, 4096).inv_freq == plain.inv_freq);
    const RopeFrequencies at8k = compute_rope_frequencies(dyn, 128, 4096, 8192);
    const double base8k = 10000.0 * std::pow(2.0 * 8192 / 4096 - 1.0, 128.0 / 126.0);
    CHECK(ulps(at8k.inv_freq[10], std::pow(base8k, -20.0 / 128.0)) <= 2.0);
    CHECK(compute_rope_frequencies(dyn, 128, 4096, 8193).inv_freq[10] < at8k.inv_freq[10]);
}

TEST_CASE("rope overrides: load options replace the configured scaling and base; bad values are refused") {
    const Json cfg = read_json_file(golden_dir("qwen3-yarn-tiny/config.json"));
    auto with = [&](auto change) {
        DecoderConfig c = parse_decoder_config(cfg, "config.json");
        ember_load_options o;
        ember_load_options_init(&o);
        change(o);
        apply_long_context_options(c, o);
        return c;
    };
    const DecoderConfig as_is = with([](ember_load_options&) {});
    CHECK(as_is.rope.type == "yarn");
    CHECK(as_is.self_extend_group == 0);
    // ntk:4 extends the trained 128 positions (the yarn config's original), base from config.json.
    const DecoderConfig ntk = with([](ember_load_options& o) {
        o.rope_scaling = EMBER_ROPE_SCALING_NTK;
        o.rope_factor = 4;
    });
    CHECK(ntk.rope.type == "ntk");
    CHECK(ntk.rope.theta == 1e6);
    CHECK(ntk.rope.factor == 4.0);
    CHECK(ntk.rope.original_max_positions == 128);
    const DecoderConfig theta = with([](ember_load_options& o) {
        o.rope_scaling = EMBER_ROPE_SCALING_NONE;
        o.rope_theta = 1e5;
    });
    CHECK(theta.rope.type == "default");
    CHECK(theta.rope.theta == 1e5);
    const DecoderConfig yarn8 = with([](ember_load_options& o) {
        o.rope_scaling = EMBER_ROPE_SCALING_YARN;
        o.rope_factor = 8;
    });
    CHECK(compute_rope_frequencies(yarn8.rope, 16, 512, 512).attention_factor == doctest::Approx(0.1 * std::log(8.0) + 1));
    const DecoderConfig se = with([](ember_load_options& o) {
        o.self_extend_group = 9;
        o.self_extend_window = 512;
        o.attention_scaling = 512;
    });
    CHECK(se.self_extend_group == 9);
    CHECK(se.self_extend_window == 512);
    CHECK(se.attention_scaling == 512);
    CHECK(se.rope.type == "yarn");

    auto status = [&](auto change) { return status_of([&] { with(change); }); };
    CHECK(status([](ember_load_options& o) { o.rope_scaling = 7; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.rope_scaling = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.rope_scaling = EMBER_ROPE_SCALING_LINEAR; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) {
              o.rope_scaling = EMBER_ROPE_SCALING_LINEAR;
              o.rope_factor = 0.5;
          }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) {
              o.rope_scaling = EMBER_ROPE_SCALING_DYNAMIC;
              o.rope_factor = NAN;
          }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.rope_theta = 1.0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.rope_theta = INFINITY; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.self_extend_group = 2; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) {
              o.self_extend_group = 0;
              o.self_extend_window = 4;
          }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) {
              o.self_extend_group = -2;
              o.self_extend_window = 4;
          }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.attention_scaling = 1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(status([](ember_load_options& o) { o.attention_scaling = -512; }) == EMBER_ERR_INVALID_ARGUMENT);
}

// GGUF carries Llama 3 scaling as per-pair divisors (rope_freqs.weight). The transformers llama3
// numbers (the golden case) must come back from plain RoPE divided by the factors Ember's converter
// writes, and those factors must be the ones llama.cpp's converter computes (its formula, written
// out here in double from the float32 frequencies as its Python does: 1 below the high-frequency
// wavelength, the factor above the low one, 1 / ((1 - smooth) / factor + smooth) between).
TEST_CASE("rope frequencies: GGUF frequency factors reproduce llama3 and match llama.cpp's converter") {
    const Json golden = read_json_file(golden_dir("rope-inv-freq.json"));
    const Json* llama3 = nullptr;
    for (const Json& c : golden["cases"])
        if (c["name"] == "llama3") llama3 = &c;
    REQUIRE(llama3 != nullptr);
    Json config = Json::object();
    config["rope_parameters"] = (*llama3)["rope"];
    const RopeConfig rope = parse_rope_config(config, "llama3");
    const int32_t head_dim = (*llama3)["head_dim"].get<int32_t>();
    const int64_t max_pos = (*llama3)["max_position_embeddings"].get<int64_t>();
    const std::vector<float> factors = rope_freq_factors(rope, head_dim, max_pos);
    REQUIRE(factors.size() == static_cast<size_t>(head_dim / 2));

    const double factor = rope.factor, low = rope.low_freq_factor, high = rope.high_freq_factor;
    const double old_context = static_cast<double>(rope.original_max_positions);
    RopeConfig plain;
    plain.theta = rope.theta;
    const std::vector<float> freqs = compute_rope_frequencies(plain, head_dim, max_pos, 0).inv_freq;
    int blended = 0, scaled = 0, kept = 0;
    double worst_factor = 0;
    for (size_t j = 0; j < freqs.size(); ++j) {
        const double wavelen = 2 * M_PI / freqs[j];
        double want;
        if (wavelen < old_context / high) {
            want = 1, ++kept;
        } else if (wavelen > old_context / low) {
            want = factor, ++scaled;
        } else {
            const double smooth = (old_context / wavelen - low) / (high - low);
            want = 1 / ((1 - smooth) / factor + smooth), ++blended;
        }
        worst_factor = std::max(worst_factor, ulps(factors[j], static_cast<float>(want)));
    }
    MESSAGE("factors vs llama.cpp's formula: worst " << worst_factor << " x 2^-24 (" << kept << " kept, " << blended
                                                     << " blended, " << scaled << " scaled)");
    CHECK(kept > 0);
    CHECK(blended > 0);
    CHECK(scaled > 0);
    CHECK(worst_factor <= 4.0);  // two float32 roundings of a ratio of float32 values

    RopeConfig from_gguf = plain;
    from_gguf.freq_factors = factors;
    const std::vector<float> got = compute_rope_frequencies(from_gguf, head_dim, max_pos, 0).inv_freq;
    const std::vector<float> want = (*llama3)["inv_freq"].get<std::vector<float>>();
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (size_t j = 0; j < want.size(); ++j) worst = std::max(worst, ulps(got[j], want[j]));
    MESSAGE("plain / factors vs transformers' llama3 inv_freq: worst " << worst << " x 2^-24");
    CHECK(worst <= 3.0);  // the llama3 bound (2) plus the division's rounding

    // Factors that give no usable frequencies are refused, whatever their source.
    for (float bad : {0.0f, -1.0f, NAN, INFINITY}) {
        RopeConfig r = from_gguf;
        r.freq_factors[3] = bad;
        INFO("factor " << bad);
        CHECK(status_of([&] { compute_rope_frequencies(r, head_dim, max_pos, 0); }) == EMBER_ERR_MODEL_MALFORMED);
    }
    RopeConfig shorter = from_gguf;
    shorter.freq_factors.pop_back();
    CHECK(status_of([&] { compute_rope_frequencies(shorter, head_dim, max_pos, 0); }) == EMBER_ERR_MODEL_MALFORMED);
}
