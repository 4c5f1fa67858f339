#!/usr/bin/env python3
"""Text conformance: the ids each engine made of the same texts, and the vectors.

    compare_text.py TEXTS.json EMBER_IDS.jsonl EMBER.json LLAMA.json MIN_COSINE LABEL [KNOWN ...]

TEXTS.json {"names": [...], "texts": [...]}; EMBER_IDS.jsonl one {"ids": [...]} per text (ember
tokenize); EMBER.json / LLAMA.json embed outputs (LLAMA.json with llama.cpp's "ids"). Every text
must tokenize to the same ids in both, except those named KNOWN (documented differences), which
are reported; texts with equal ids must reach MIN_COSINE. Exit 1 otherwise."""
import json
import math
import sys


def cosine(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    return ab / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


texts = json.load(open(sys.argv[1]))
ember_ids = [json.loads(line)["ids"] for line in open(sys.argv[2]) if line.strip()]
ember, llama = json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
floor, label, known = float(sys.argv[5]), sys.argv[6], set(sys.argv[7:])
names = texts["names"]
ok = len(ember_ids) == len(names) == len(llama["ids"]) == len(ember["embeddings"]) == len(llama["embeddings"])
if not ok:
    print(f"{label}: {len(names)} texts, but {len(ember_ids)} Ember id lists, {len(llama['ids'])} llama.cpp ones  FAIL")
    sys.exit(1)
same, worst, notes = 0, 1.0, []
for i, name in enumerate(names):
    if ember_ids[i] != llama["ids"][i]:
        notes.append(f"{name} ({'known' if name in known else 'UNEXPECTED'}: Ember {len(ember_ids[i])} ids, "
                     f"llama.cpp {len(llama['ids'][i])})")
        ok &= name in known
        continue
    same += 1
    worst = min(worst, cosine(ember["embeddings"][i], llama["embeddings"][i]))
ok &= worst >= floor
print(f"{label}: {same} of {len(names)} texts tokenize alike, min cosine {worst:.6f} over them (needs >= {floor})"
      + (f"; differ: {', '.join(notes)}" if notes else "") + ("" if ok else "  FAIL"))
sys.exit(0 if ok else 1)
