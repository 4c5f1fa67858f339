#!/usr/bin/env python3
"""A tiny random-weight model with a real tokenizer, for text conformance (standard library only).

    text_model.py GOLDEN_DIR TOKENIZER_JSON OUT_DIR [--eos-template]

The golden's config and layers, a new embedding table with one row per token of TOKENIZER_JSON
(random f16 values of magnitude 1/32 to 1/16, seeded: the same model every run) and that
tokenizer.json (with --eos-template, Qwen3-Embedding's post-processor that appends <|endoftext|>).
The same construction as java/src/test/java/dev/ember/TextModels.java, so a 151,669 x 64 table
need not be committed."""
import json
import random
import shutil
import struct
import sys
from pathlib import Path

golden, tokenizer, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
eos_template = "--eos-template" in sys.argv[4:]
out.mkdir(parents=True, exist_ok=True)

tok = json.loads(tokenizer.read_text(encoding="utf-8"))
vocab = 1 + max(list(tok["model"]["vocab"].values()) + [a["id"] for a in tok.get("added_tokens", [])])
if eos_template:
    tok["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [tok["model"]["vocab"].get(
            "<|endoftext|>", next(a["id"] for a in tok["added_tokens"] if a["content"] == "<|endoftext|>"))],
            "tokens": ["<|endoftext|>"]}},
    }
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
else:
    shutil.copyfile(tokenizer, out / "tokenizer.json")

config = json.loads((golden / "config.json").read_text())
config["vocab_size"] = vocab
(out / "config.json").write_text(json.dumps(config, indent=2))
for extra in ("modules.json", "1_Pooling/config.json"):
    if (golden / extra).exists():
        (out / extra).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(golden / extra, out / extra)

raw = (golden / "model.safetensors").read_bytes()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
hidden = config["hidden_size"]
tensors, chunks, offset = {}, [], 0
for name, t in header.items():
    if name == "__metadata__" or name.endswith("embed_tokens.weight"):
        continue
    start, end = t["data_offsets"]
    tensors[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [offset, offset + end - start]}
    chunks.append(data[start:end])
    offset += end - start
embed_name = next(k for k in header if k.endswith("embed_tokens.weight"))
# Random f16 bits with the exponent fixed at 2^-5: |value| in [1/32, 1/16), random sign and mantissa.
random.seed(1)
table = bytearray(random.randbytes(2 * vocab * hidden))
high = bytes((b & 0x83) | (10 << 2) for b in range(256))
table[1::2] = table[1::2].translate(high)
tensors[embed_name] = {"dtype": "F16", "shape": [vocab, hidden], "data_offsets": [offset, offset + len(table)]}
head = json.dumps(tensors).encode()
with open(out / "model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(head)))
    f.write(head)
    for c in chunks:
        f.write(c)
    f.write(table)
