#!/usr/bin/env python3
"""Cosine between two embed outputs (ci/llamacpp/embed.mjs and `ember_gguf embed` print the same
JSON). Usage: compare.py A.json B.json MIN_COSINE LABEL. Prints one line; exit 1 below MIN_COSINE
(MIN_COSINE 0 only reports)."""
import json
import math
import sys


def cosine(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    return ab / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


a, b = (json.load(open(p)) for p in sys.argv[1:3])
floor, label = float(sys.argv[3]), sys.argv[4]
cos = [cosine(x, y) for x, y in zip(a["embeddings"], b["embeddings"])]
ok = len(cos) == len(a["embeddings"]) == len(b["embeddings"]) and min(cos) >= floor
print(f"{label}: min cosine {min(cos):.6f} over {len(cos)} inputs"
      + ("" if floor == 0 else f" (needs >= {floor})") + ("" if ok else "  FAIL"))
sys.exit(0 if ok else 1)
