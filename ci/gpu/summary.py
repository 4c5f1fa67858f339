#!/usr/bin/env python3
"""The table ci/gpu-check.sh prints last: Ember against its peers and the issue's targets, from the
RESULT lines of the benchmark logs (as text, then as Markdown for BENCHMARKS.md), then the steps'
pass/fail lines.

    summary.py STEPS_FILE LOG...
STEPS_FILE holds one "name|PASS or FAIL or SKIP|seconds|note" line per step.
"""
import sys


def results(paths):
    r = {}
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 4 and parts[0] == "RESULT":
                        try:
                            r[parts[1]] = float(parts[2])
                        except ValueError:
                            pass
        except OSError:
            pass
    return r


ROWS = [
    # label, ember key, peer keys (first found), unit, target
    ("attn d128 B32 H16 S512, wgmma (sm_90a)", "attn_b32_s512_wgmma", ["sdpa_attn_b32_s512"], "TFLOP/s", 450),
    ("attn d128 B8 S2048, wgmma", "attn_b8_s2048_wgmma", ["sdpa_attn_b8_s2048"], "TFLOP/s", 650),
    ("attn d128 B1 S32768, wgmma", "attn_b1_s32768_wgmma", ["sdpa_attn_b1_s32768"], "TFLOP/s", 650),
    ("attn causal B2 S8192, wgmma", "attn_causal_b2_s8192_wgmma", ["sdpa_attn_causal_b2_s8192"], "TFLOP/s", 600),
    ("attn d128 B32 H16 S512, flash (sm_80)", "attn_b32_s512", ["sdpa_attn_b32_s512"], "TFLOP/s", 450),
    ("attn d128 B8 S2048, flash", "attn_b8_s2048", ["sdpa_attn_b8_s2048"], "TFLOP/s", 650),
    ("attn d128 B1 S32768, flash", "attn_b1_s32768", ["sdpa_attn_b1_s32768"], "TFLOP/s", 650),
    ("attn causal B2 S8192, flash", "attn_causal_b2_s8192", ["sdpa_attn_causal_b2_s8192"], "TFLOP/s", 600),
    ("attn SE W512 B1 S32768, flash (vs plain)", "attn_se_b1_s32768", ["attn_b1_s32768"], "TFLOP/s", None),
    ("attn causal SE W512 S32768 (vs plain)", "attn_causal_se_b1_s32768", ["attn_causal_b1_s32768"], "TFLOP/s", None),
    ("matmul bf16 (0.6B proj, m 16384), wgmma", "matmul_ember_bf16_wgmma", ["matmul_cublaslt_bf16", "matmul_torch_bf16"], "TFLOP/s", None),
    ("matmul bf16, wgmma vs mma.sync (sm_80)", "matmul_ember_bf16_wgmma", ["matmul_ember_bf16"], "TFLOP/s", None),
    ("matmul bf16, mma.sync vs cuBLASLt", "matmul_ember_bf16", ["matmul_cublaslt_bf16", "matmul_torch_bf16"], "TFLOP/s", None),
    ("matmul Q8_0, wgmma (vs bf16 wgmma)", "matmul_ember_q8_0_wgmma", ["matmul_ember_bf16_wgmma"], "TFLOP/s", None),
    ("matmul Q4_K, wgmma (vs bf16 wgmma)", "matmul_ember_q4_k_wgmma", ["matmul_ember_bf16_wgmma"], "TFLOP/s", None),
    ("matmul Q8_0, mma.sync (vs bf16 mma.sync)", "matmul_ember_q8_0", ["matmul_ember_bf16"], "TFLOP/s", None),
    ("matmul Q4_K, mma.sync (vs bf16 mma.sync)", "matmul_ember_q4_k", ["matmul_ember_bf16"], "TFLOP/s", None),
    ("matmul bf16 m=16 (one query), W read", "matmul_m16_default", ["matmul_m16_cublaslt"], "GB/s", None),
    ("Qwen3-0.6B B32x512 e2e", "e2e_qwen3_0.6b_b32x512", ["torch_e2e_qwen3_0.6b_b32x512"], "tok/s", 420000),
    ("Qwen3-0.6B B32x512, sm_80 kernels", "e2e_qwen3_0.6b_sm80_b32x512", ["torch_e2e_qwen3_0.6b_b32x512"], "tok/s", 420000),
    ("Qwen3-0.6B B32x512, cuBLASLt matmuls", "e2e_qwen3_0.6b_cublaslt_b32x512", ["torch_e2e_qwen3_0.6b_b32x512"], "tok/s", 420000),
    ("Qwen3-0.6B Q8_0 B32x512 (vs bf16)", "e2e_qwen3_0.6b_q8_0_b32x512", ["e2e_qwen3_0.6b_b32x512"], "tok/s", None),
    ("Qwen3-0.6B 1 query x 16 tokens, no graphs", "e2e_qwen3_0.6b_query16", ["torch_e2e_qwen3_0.6b_query16"], "queries/s", None),
    ("same, CUDA graphs (vs without)", "e2e_qwen3_0.6b_query16_graphs", ["e2e_qwen3_0.6b_query16"], "queries/s", None),
    ("Qwen3-0.6B 256 mixed e2e", "e2e_qwen3_0.6b_mixed256", ["torch_e2e_qwen3_0.6b_mixed256"], "tok/s", 260000),
    ("NV-Embed-v2 B16x512 e2e", "e2e_nvembed_v2_b16x512", ["torch_e2e_nvembed_v2_b16x512"], "tok/s", 42000),
    ("Qwen3-8B B16x512 e2e", "e2e_qwen3_8b_b16x512", ["torch_e2e_qwen3_8b_b16x512"], "tok/s", 42000),
    ("Qwen3-8B B16x512, sm_80 kernels", "e2e_qwen3_8b_sm80_b16x512", ["torch_e2e_qwen3_8b_b16x512"], "tok/s", 42000),
    ("Qwen3-8B B16x512, cuBLASLt matmuls", "e2e_qwen3_8b_cublaslt_b16x512", ["torch_e2e_qwen3_8b_b16x512"], "tok/s", 42000),
    ("nemotron-8B B16x512 e2e", "e2e_nemotron_8b_b16x512", ["torch_e2e_nemotron_8b_b16x512"], "tok/s", 44000),
]


def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 1000 else f"{v:.1f}"


def main(argv):
    steps_file, logs = argv[1], argv[2:]
    r = results(logs)
    out = []
    out.append(f"{'workload':44s} {'Ember':>12s} {'peer':>12s} {'ratio':>6s} {'target':>10s}  unit")
    for label, ek, pks, unit, target in ROWS:
        e = r.get(ek)
        p = next((r[k] for k in pks if k in r), None)
        if e is None and p is None:
            continue
        ratio = f"{e / p:.2f}" if e and p else "-"
        out.append(f"{label:44s} {fmt(e):>12s} {fmt(p):>12s} {ratio:>6s} {fmt(target):>10s}  {unit}")
    for k, v in sorted(r.items()):
        if k.startswith("probe_cosine_"):
            out.append(f"{'e2e probe cosine vs PyTorch (' + k[13:] + ')':44s} {v:12.6f}")
    out.append("")
    # The same rows as a Markdown table, ready for BENCHMARKS.md.
    out.append("| workload | Ember | peer (same run) | ratio | target | unit |")
    out.append("| --- | ---: | ---: | ---: | ---: | --- |")
    for label, ek, pks, unit, target in ROWS:
        e = r.get(ek)
        pk = next((k for k in pks if k in r), None)
        if e is None and pk is None:
            continue
        p = r[pk] if pk else None
        ratio = f"{e / p:.2f}" if e and p else "–"
        peer = f"{fmt(p)} ({pk})" if pk else "–"
        out.append(f"| {label} | {fmt(e) if e is not None else '–'} | {peer} | {ratio} | {fmt(target) if target else '–'} | {unit} |")
    out.append("")
    try:
        with open(steps_file) as f:
            for line in f:
                name, status, secs, note = (line.rstrip("\n").split("|") + ["", "", ""])[:4]
                out.append(f"{status:5s} {name:44s} {secs:>5s}s  {note}")
    except OSError:
        pass
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
