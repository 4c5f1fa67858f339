#!/usr/bin/env python3
"""Golden helpers for ci/gpu-check.sh's Java CLI step (standard library only).

    goldens.py to-jsonl GOLDEN_DIR OUT.jsonl          the cases' inputs as `ember embed` JSONL lines
                                                      ({"ids", "instruction_len", "encoder_ids"})
    goldens.py compare GOLDEN_DIR EMBED.jsonl --mode fast|fp32
                                                      the CLI's vectors against reference.json:
                                                      fast: cosine >= 0.9999; fp32: max |diff| over
                                                      max |ref| <= 1e-4 (both L2-normalised first)
Exit status 1 when a case misses its bound.
"""
import json
import math
import sys


def cases(golden):
    with open(f"{golden}/reference.json") as f:
        return json.load(f)["cases"]


def to_jsonl(golden, out):
    with open(out, "w") as f:
        for c in cases(golden):
            line = {"ids": c["ids"]}
            if c.get("instruction_len"):
                line["instruction_len"] = c["instruction_len"]
            if "encoder_ids" in c:
                line["encoder_ids"] = c["encoder_ids"]
            f.write(json.dumps(line) + "\n")


def normalized(v):
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


def compare(golden, embed_jsonl, mode):
    refs = [normalized(c["embedding"]) for c in cases(golden)]
    with open(embed_jsonl) as f:
        got = [normalized(json.loads(line)["embedding"]) for line in f if line.strip()]
    if len(got) != len(refs):
        print(f"{golden}: {len(got)} vectors for {len(refs)} cases")
        return 1
    bad = 0
    for i, (g, r) in enumerate(zip(got, refs)):
        if len(g) != len(r) or any(not math.isfinite(x) for x in g):
            print(f"{golden} case {i}: {len(g)} values (or non-finite) for {len(r)}")
            bad += 1
            continue
        cos = sum(a * b for a, b in zip(g, r))
        rel = max(abs(a - b) for a, b in zip(g, r)) / max(abs(b) for b in r)
        ok = cos >= 0.9999 if mode == "fast" else rel <= 1e-4
        print(f"{golden} case {i} ({mode}): cosine {cos:.7f}, rel err {rel:.2e}: {'ok' if ok else 'MISS'}")
        bad += 0 if ok else 1
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "to-jsonl":
        to_jsonl(argv[2], argv[3])
        return 0
    if len(argv) >= 6 and argv[1] == "compare" and argv[4] == "--mode":
        return compare(argv[2], argv[3], argv[5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
