#!/usr/bin/env python3
"""The PyTorch peers of ci/gpu-check.sh: what users would otherwise run, timed the same way.

    peers.py make-model --dir DIR --shape qwen3-0.6b   random bf16 weights (N(0, 0.02), norms 1) as a
                                                        Hugging Face folder, named as Ember's synth_model
    peers.py attention                                  F.scaled_dot_product_attention TFLOP/s (default
                                                        backend choice, then flash and cuDNN forced)
    peers.py matmul                                     torch.matmul on the Qwen3-0.6B projections
    peers.py e2e --model DIR --key K [--batch 32] [--mixed 1] [--probe FILE]
                                                        tokens/s of a forward pass + pooling: Hugging Face
                                                        transformers (sdpa) when it can load the model,
                                                        else a plain-PyTorch forward of the same layers;
                                                        --probe compares Ember's embeddings of the probe
                                                        batch (written by ember_cuda_bench) with this one's

Every measurement prints "RESULT <key> <value> <unit>" for the summary table. Timing: CUDA events,
median of 10 after 3 warm-ups (kernels) or of 5 after 1 (end to end); inputs are random, never zeros.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {
    # name: model_type, hidden, layers, heads, kv_heads, head_dim, ffn, vocab, rope_theta
    "qwen3-0.6b": ("qwen3", 1024, 28, 16, 8, 128, 3072, 151669, 1e6),
    "qwen3-8b": ("qwen3", 4096, 36, 32, 8, 128, 12288, 151665, 1e6),
    "llama-embed-nemotron-8b": ("llama_bidirec", 4096, 32, 32, 8, 128, 14336, 128256, 5e5),
    # Mistral-7B without the causal mask, under NV-Embed-v2's latent-attention pooler (LATENT)
    "nv-embed-v2": ("nvembed", 4096, 32, 32, 8, 128, 14336, 32000, 1e4),
}
# NV-Embed-v2's pooler: 512 latents, 8 cross-attention heads of 4096, GEGLU feed-forward 4 x hidden.
LATENT = {"num_latents_value": 512, "num_cross_heads": 8, "cross_dim_head": 4096, "ffn_mult": 4}
LATENT_PREFIX = "latent_attention_model."


def result(key, value, unit):
    print(f"RESULT {key} {value:.1f} {unit}", flush=True)


def time_ms(fn, warm=3, reps=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


# --- model folder ----------------------------------------------------------------------------

def make_model(args):
    mtype, hidden, layers, heads, kv, hd, ffn, vocab, theta = SHAPES[args.shape]
    os.makedirs(args.dir, exist_ok=True)
    cfg_path, st_path = os.path.join(args.dir, "config.json"), os.path.join(args.dir, "model.safetensors")
    if os.path.exists(cfg_path) and os.path.exists(st_path):
        print(f"{args.dir}: model present")
        return
    from safetensors.torch import save_file

    g = torch.Generator(device="cuda").manual_seed(1)
    dev, dt = "cuda", torch.bfloat16

    def w(*shape):
        return (torch.randn(*shape, generator=g, device=dev, dtype=torch.float32) * 0.02).to(dt)

    def ones(n):
        return torch.ones(n, device=dev, dtype=dt)

    nv = mtype == "nvembed"
    bb = "embedding_model." if nv else ""  # NV-Embed keeps its backbone under embedding_model.
    sd = {bb + "embed_tokens.weight": w(vocab, hidden)}
    for i in range(layers):
        p = f"{bb}layers.{i}."
        sd[p + "input_layernorm.weight"] = ones(hidden)
        sd[p + "post_attention_layernorm.weight"] = ones(hidden)
        sd[p + "self_attn.q_proj.weight"] = w(heads * hd, hidden)
        sd[p + "self_attn.k_proj.weight"] = w(kv * hd, hidden)
        sd[p + "self_attn.v_proj.weight"] = w(kv * hd, hidden)
        sd[p + "self_attn.o_proj.weight"] = w(hidden, heads * hd)
        if mtype == "qwen3":
            sd[p + "self_attn.q_norm.weight"] = ones(hd)
            sd[p + "self_attn.k_norm.weight"] = ones(hd)
        sd[p + "mlp.gate_proj.weight"] = w(ffn, hidden)
        sd[p + "mlp.up_proj.weight"] = w(ffn, hidden)
        sd[p + "mlp.down_proj.weight"] = w(hidden, ffn)
    sd[bb + "norm.weight"] = ones(hidden)
    if nv:
        r, nh, dh, f = LATENT["num_latents_value"], LATENT["num_cross_heads"], LATENT["cross_dim_head"], LATENT["ffn_mult"] * hidden
        p = LATENT_PREFIX + "cross_attend_blocks."
        sd[LATENT_PREFIX + "latents"] = w(r, hidden)
        for n in ("0.norm", "0.norm_context", "1.norm"):
            sd[p + n + ".weight"] = ones(hidden)
            sd[p + n + ".bias"] = w(hidden)
        sd[p + "0.fn.to_q.weight"] = w(nh * dh, hidden)
        sd[p + "0.fn.to_kv.weight"] = w(2 * nh * dh, hidden)
        sd[p + "0.fn.to_out.weight"] = w(hidden, nh * dh)
        sd[p + "1.fn.net.0.weight"] = w(2 * f, hidden)
        sd[p + "1.fn.net.0.bias"] = w(2 * f)
        sd[p + "1.fn.net.2.weight"] = w(hidden, f)
        sd[p + "1.fn.net.2.bias"] = w(hidden)
    t0 = time.time()
    save_file({k: v.contiguous().cpu() for k, v in sd.items()}, st_path + ".part")
    os.replace(st_path + ".part", st_path)
    cfg = {
        "model_type": mtype, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv, "head_dim": hd, "intermediate_size": ffn, "vocab_size": vocab,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": theta, "hidden_act": "silu",
        "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    }
    if mtype == "qwen3":
        cfg["architectures"] = ["Qwen3Model"]
    if nv:
        text = dict(cfg, model_type="bidirectional_mistral", architectures=["BidirectionalMistralModel"],
                    tie_word_embeddings=False, rms_norm_eps=1e-5)
        cfg = {"architectures": ["NVEmbedModel"], "model_type": "nvembed", "padding_side": "right",
               "is_mask_instruction": True, "add_eos": True, "mask_type": "b", "text_config": text,
               "latent_attention_config": {"model_type": "latent_attention", "num_latents_value": r,
                                           "num_cross_heads": nh, "cross_dim_head": dh, "hidden_dim": hidden,
                                           "latent_dim": hidden, "output_normalize": True}}
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{args.dir}: wrote {args.shape} ({sum(v.numel() for v in sd.values()) / 1e9:.2f} B params) in {time.time() - t0:.1f} s")


# --- kernels ---------------------------------------------------------------------------------

ATTN = [("attn_b32_s512", 32, 16, 512, 128, False), ("attn_b8_s2048", 8, 16, 2048, 128, False),
        ("attn_b1_s32768", 1, 16, 32768, 128, False), ("attn_causal_b2_s8192", 2, 16, 8192, 128, True)]


def attention(args):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    for key, b, h, s, d, causal in ATTN:
        q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        flops = 4.0 * b * h * s * s * d * (0.5 if causal else 1.0)
        for name, backends in (("sdpa", None), ("sdpa_flash", [SDPBackend.FLASH_ATTENTION]),
                               ("sdpa_cudnn", [SDPBackend.CUDNN_ATTENTION])):
            try:
                def run():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                if backends is None:
                    ms = time_ms(run)
                else:
                    with sdpa_kernel(backends):
                        ms = time_ms(run)
                tf = flops / (ms * 1e-3) / 1e12
                print(f"{name:12s} {key:22s} {ms:9.3f} ms {tf:8.1f} TFLOP/s")
                result(f"{name}_{key}", tf, "TFLOP/s")
            except Exception as e:  # a backend not available for this shape / build
                print(f"{name:12s} {key:22s} unavailable: {str(e).splitlines()[0][:100]}")
        del q, k, v
        torch.cuda.empty_cache()


def matmul(args):
    m = 16384
    total_flops, total_ms = 0.0, 0.0
    for name, n, k in (("q_proj", 2048, 1024), ("kv_proj", 1024, 1024), ("o_proj", 1024, 2048),
                       ("gate_up", 3072, 1024), ("down", 1024, 3072)):
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.05
        ms = time_ms(lambda: torch.matmul(x, w.t()))
        flops = 2.0 * m * n * k
        print(f"torch matmul {name:8s} {m} x {n} x {k}: {flops / (ms * 1e-3) / 1e12:.1f} TFLOP/s")
        total_flops += flops
        total_ms += ms
    result("matmul_torch_bf16", total_flops / (total_ms * 1e-3) / 1e12, "TFLOP/s")


# --- end to end ------------------------------------------------------------------------------

def mixed_lengths():
    """The 256 lengths of ember_cuda_bench's mixed workload (same LCG and Box-Muller)."""
    state, mask = 1234, (1 << 64) - 1
    out = []

    def uniform():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        return ((state >> 11) + 0.5) / 9007199254740992.0

    while len(out) < 256:
        u1, u2 = uniform(), uniform()
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)
        out.append(min(512, max(4, int(math.floor(math.exp(math.log(120.0) + 0.7 * z) + 0.5)))))
    return out


class PlainModel:
    """The decoder of Qwen3 / (bidirectional) Llama in plain PyTorch, as transformers computes it."""

    def __init__(self, path):
        from safetensors.torch import load_file

        with open(os.path.join(path, "config.json")) as f:
            top = json.load(f)
        self.nv = top["model_type"] == "nvembed"
        c = top["text_config"] if self.nv else top
        self.latent = top.get("latent_attention_config")
        self.bb = "embedding_model." if self.nv else ""
        self.c = c
        self.qwen = c["model_type"] == "qwen3"
        self.causal = c["model_type"] not in ("llama_bidirec", "bidirectional_mistral")
        self.w = {k: v.cuda() for k, v in load_file(os.path.join(path, "model.safetensors")).items()}
        self.h, self.hd = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.eps = c["rms_norm_eps"]
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, device="cuda", dtype=torch.float32) / self.hd))

    def rms(self, x, w):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * xf.to(x.dtype)

    def rope(self, x, cos, sin):  # x: [B, heads, L, D]
        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rot * sin

    @torch.inference_mode()
    def __call__(self, ids, mask=None):
        W, B, L = self.w, ids.shape[0], ids.shape[1]
        pos = torch.arange(L, device="cuda", dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(torch.bfloat16), emb.sin().to(torch.bfloat16)
        attn_mask = None
        if mask is not None and not self.causal:
            attn_mask = mask[:, None, None, :].bool()
        x = W[self.bb + "embed_tokens.weight"][ids]
        for i in range(self.c["num_hidden_layers"]):
            p = f"{self.bb}layers.{i}."
            r = x
            y = self.rms(x, W[p + "input_layernorm.weight"])
            q = (y @ W[p + "self_attn.q_proj.weight"].t()).view(B, L, self.nh, self.hd)
            k = (y @ W[p + "self_attn.k_proj.weight"].t()).view(B, L, self.nkv, self.hd)
            v = (y @ W[p + "self_attn.v_proj.weight"].t()).view(B, L, self.nkv, self.hd)
            if self.qwen:
                q = self.rms(q, W[p + "self_attn.q_norm.weight"])
                k = self.rms(k, W[p + "self_attn.k_norm.weight"])
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=self.causal and attn_mask is None,
                                               enable_gqa=True)
            x = r + a.transpose(1, 2).reshape(B, L, self.nh * self.hd) @ W[p + "self_attn.o_proj.weight"].t()
            r = x
            y = self.rms(x, W[p + "post_attention_layernorm.weight"])
            g = y @ W[p + "mlp.gate_proj.weight"].t()
            u = y @ W[p + "mlp.up_proj.weight"].t()
            x = r + (F.silu(g) * u) @ W[p + "mlp.down_proj.weight"].t()
        return self.rms(x, W[self.bb + "norm.weight"])

    @torch.inference_mode()
    def latent_pool(self, h, lengths):
        """NV-Embed's pooler as its modeling code computes it (PreNorm cross-attention to the learned
        latents with einsum and softmax, then a PreNorm GEGLU feed-forward, both residual), then the
        mean over each sequence's tokens and L2. h: [B, L, d] bf16."""
        W, p, eps = self.w, LATENT_PREFIX + "cross_attend_blocks.", 1e-5
        B, L, d = h.shape
        nh, dh = self.latent["num_cross_heads"], self.latent["cross_dim_head"]

        def ln(x, n):
            return F.layer_norm(x, (d,), W[p + n + ".weight"], W[p + n + ".bias"], eps)

        x = ln(h, "0.norm")
        ctx = ln(W[LATENT_PREFIX + "latents"], "0.norm_context")
        q = (x @ W[p + "0.fn.to_q.weight"].t()).view(B, L, nh, dh).transpose(1, 2)
        k, v = (ctx @ W[p + "0.fn.to_kv.weight"].t()).chunk(2, dim=-1)
        k = k.view(-1, nh, dh).transpose(0, 1)  # [heads, r, dh], the same for every sequence
        v = v.view(-1, nh, dh).transpose(0, 1)
        attn = (torch.einsum("bhid,hjd->bhij", q, k) * dh ** -0.5).softmax(dim=-1)
        o = torch.einsum("bhij,hjd->bhid", attn, v).transpose(1, 2).reshape(B, L, nh * dh)
        h = o @ W[p + "0.fn.to_out.weight"].t() + h
        y = ln(h, "1.norm") @ W[p + "1.fn.net.0.weight"].t() + W[p + "1.fn.net.0.bias"]
        a, g = y.chunk(2, dim=-1)
        h = (a * F.gelu(g)) @ W[p + "1.fn.net.2.weight"].t() + W[p + "1.fn.net.2.bias"] + h
        mask = torch.zeros(B, L, device="cuda", dtype=torch.float32)
        for i, n in enumerate(lengths):
            mask[i, :n] = 1
        v = (h.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return F.normalize(v, dim=-1)


def load_peer(path):
    """transformers (sdpa) for model types it knows, else the plain forward. Returns (name, fn)."""
    with open(os.path.join(path, "config.json")) as f:
        mtype = json.load(f)["model_type"]
    if mtype == "qwen3":
        try:
            import transformers
            from transformers import AutoModel

            try:
                m = AutoModel.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa")
            except TypeError:
                m = AutoModel.from_pretrained(path, torch_dtype=torch.bfloat16, attn_implementation="sdpa")
            m = m.cuda().eval()

            @torch.inference_mode()
            def fn(ids, mask=None):
                return m(input_ids=ids, attention_mask=mask).last_hidden_state

            return f"transformers {transformers.__version__} (sdpa)", fn, True
        except Exception as e:
            print(f"transformers could not run the model ({str(e).splitlines()[0][:120]}); plain PyTorch instead")
    pm = PlainModel(path)
    if pm.nv:
        return "plain PyTorch (sdpa) + NV-Embed's latent pooler", pm, "latent"
    return "plain PyTorch (sdpa)", pm, pm.causal


def pool(hidden, lengths, causal_last, model=None):
    if causal_last == "latent":
        return model.latent_pool(hidden, lengths)
    if causal_last:
        idx = torch.tensor([l - 1 for l in lengths], device="cuda")
        v = hidden[torch.arange(len(lengths), device="cuda"), idx]
    else:
        mask = torch.zeros(hidden.shape[:2], device="cuda", dtype=torch.float32)
        for i, l in enumerate(lengths):
            mask[i, :l] = 1
        v = (hidden.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return F.normalize(v.float(), dim=-1)


def e2e(args):
    name, model, last = load_peer(args.model)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    vocab = cfg.get("text_config", cfg)["vocab_size"]
    print(f"peer: {name}")
    g = torch.Generator(device="cuda").manual_seed(7)
    ids = torch.randint(0, vocab, (args.batch, 512), device="cuda", generator=g)
    ms = time_ms(lambda: pool(model(ids), [512] * args.batch, last, model), warm=1, reps=5)
    tps = args.batch * 512 / (ms * 1e-3)
    print(f"{args.key} B{args.batch} x 512: {ms:.1f} ms, {tps:.0f} tokens/s")
    result(f"torch_e2e_{args.key}_b{args.batch}x512", tps, "tok/s")
    if args.mixed:
        lengths = mixed_lengths()
        batches = []
        for b0 in range(0, len(lengths), 64):  # padded batches of 64, in order, as a user would
            ls = lengths[b0:b0 + 64]
            L = max(ls)
            t = torch.randint(0, vocab, (len(ls), L), device="cuda", generator=g)
            mask = torch.zeros(len(ls), L, device="cuda", dtype=torch.long)
            for i, l in enumerate(ls):
                mask[i, :l] = 1
            batches.append((t, mask, ls))

        def run_all():
            for t, mask, ls in batches:
                pool(model(t, mask), ls, last, model)

        ms = time_ms(run_all, warm=1, reps=5)
        tps = sum(lengths) / (ms * 1e-3)
        print(f"{args.key} 256 mixed texts ({sum(lengths)} tokens, padded batches of 64): {ms:.1f} ms, {tps:.0f} useful tokens/s")
        result(f"torch_e2e_{args.key}_mixed256", tps, "tok/s")
    if args.query:  # one query at a time, as an online search request
        q = torch.randint(0, vocab, (1, args.query), device="cuda", generator=g)
        ms = time_ms(lambda: pool(model(q), [args.query], last, model), warm=5, reps=50)
        print(f"{args.key} 1 query x {args.query} tokens: {ms:.3f} ms")
        result(f"torch_e2e_{args.key}_query{args.query}", 1e3 / ms, "queries/s")
    if args.probe and os.path.exists(args.probe):
        with open(args.probe) as f:
            lines = f.read().strip().split("\n")
        lengths = [int(x) for x in lines[0].split()]
        flat = [int(x) for x in lines[1].split()]
        ember = torch.tensor([[float(x) for x in line.split()] for line in lines[2:]], device="cuda")
        worst, at = 1.0, 0
        for i, l in enumerate(lengths):
            t = torch.tensor([flat[at:at + l]], device="cuda")
            at += l
            mine = pool(model(t), [l], last, model)[0]
            c = F.cosine_similarity(mine, ember[i].float(), dim=0).item()
            worst = min(worst, c)
        print(f"probe: worst cosine between Ember (CUDA, fast) and {name} over {len(lengths)} sequences: {worst:.6f}")
        print(f"RESULT probe_cosine_{args.key} {worst:.6f} cos")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-model")
    p.add_argument("--dir", required=True)
    p.add_argument("--shape", default="qwen3-0.6b", choices=sorted(SHAPES))
    sub.add_parser("attention")
    sub.add_parser("matmul")
    p = sub.add_parser("e2e")
    p.add_argument("--model", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--mixed", type=int, default=1)
    p.add_argument("--query", type=int, default=0)
    p.add_argument("--probe")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch sees no CUDA device", file=sys.stderr)
        return 1
    {"make-model": make_model, "attention": attention, "matmul": matmul, "e2e": e2e}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
