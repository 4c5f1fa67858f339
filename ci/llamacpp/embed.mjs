// Embeds with llama.cpp (node-llama-cpp 3.22.1, prebuilt CPU binaries, no download, no build) and
// prints JSON, for Ember's conformance and speed comparisons.
//
//   node embed.mjs MODEL.gguf [--threads N] [--context N] [--repeat R] [--warmup W] < input.json
//
// input.json: {"ids": [[1, 2, 3], ...]} (token ids, evaluated as given: no BOS/EOS added) or
//             {"texts": ["...", ...]} (tokenized by llama.cpp from the file's tokenizer).
// Output: {"backend": ..., "pooling": <the file's pooling, applied by llama.cpp>,
//          "embeddings": [[...], ...] (as llama.cpp returns them), "seconds": [per input, median
//          of R timed runs after W untimed ones], "tokens": [per input], and for texts "ids": [[...], ...], the ids
//          embedded (llama.cpp's tokenization, special tokens in the text recognized, plus the
//          BOS / EOS the file's tokenizer.ggml.add_*_token ask for)}.
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const args = process.argv.slice(2);
if (args.length < 1) {
    console.error("usage: node embed.mjs MODEL.gguf [--threads N] [--context N] [--repeat R] [--warmup W] < input.json");
    process.exit(2);
}
const modelPath = args[0];
const opt = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback;
};
const threads = opt("--threads", 2);
const repeat = Math.max(1, opt("--repeat", 1));
const warmup = Math.max(0, opt("--warmup", 0));
const input = JSON.parse(readFileSync(0, "utf8"));
const items = input.ids ?? input.texts;
if (!Array.isArray(items) || items.length === 0) {
    console.error("input needs a non-empty \"ids\" or \"texts\" array");
    process.exit(2);
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
// Texts: llama.cpp's tokenizer with special tokens written in the text recognized (as Hugging
// Face's tokenizer does), then the BOS / EOS the file's tokenizer.ggml.add_bos_token /
// add_eos_token ask for, read from llama.cpp directly (node-llama-cpp 3.22.1's
// tokens.shouldAppendEosToken tests for a BOS token, so a Qwen file would get no EOS).
const tokens = model.tokens;
const addBos = tokens.bos != null && model._model.shouldPrependBosToken();
const addEos = tokens.eos != null && model._model.shouldAppendEosToken();
const textIds = input.texts ? items.map((t) => {
    const ids = Array.from(model.tokenize(t, true));
    if (addBos && ids[0] !== tokens.bos) ids.unshift(tokens.bos);
    if (addEos && ids.at(-1) !== tokens.eos) ids.push(tokens.eos);
    return ids;
}) : null;
const lengths = items.map((it, i) => (textIds ? textIds[i].length : it.length));
const context = opt("--context", Math.max(32, ...lengths.map((n) => n + 8)));
const ctx = await model.createEmbeddingContext({ contextSize: context, batchSize: context, threads });

const embeddings = [];
const seconds = [];
for (const [i, raw] of items.entries()) {
    const it = textIds ? textIds[i] : raw;
    const times = [];
    let vector = null;
    for (let r = 0; r < warmup + repeat; ++r) {
        const t0 = process.hrtime.bigint();
        const e = await ctx.getEmbeddingFor(it);
        if (r >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
        vector = Array.from(e.vector);
    }
    times.sort((a, b) => a - b);
    embeddings.push(vector);
    seconds.push(times[Math.floor(times.length / 2)]);
}
process.stdout.write(JSON.stringify({
    backend: "llama.cpp via node-llama-cpp 3.22.1",
    system: llama.systemInfo,
    cpu: llama.cpuMathCores !== undefined ? { cores: llama.cpuMathCores } : undefined,
    threads,
    embeddings,
    seconds,
    tokens: lengths,
    ids: textIds ?? undefined,
}) + "\n");
await ctx.dispose();
await model.dispose();
await llama.dispose();
