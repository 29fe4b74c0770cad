// Reference OpenAI prompt-token counts, computed with js-tiktoken (npm;
// ships the o200k_base and cl100k_base ranks) and the OpenAI cookbook's
// counting rule written out here independently of Tollgate's code:
// 3 tokens per message + its string fields (+1 for a name), 3 to prime the
// reply; tool calls' id/type/name/arguments and tool_call_id as string
// fields; tools by num_tokens_for_tools (func_init 7 for o200k, 10 for
// cl100k; prop_init 3, prop_key 3, enum_init -3, enum_item 3, func_end 12),
// nested object properties counted the same way; images by OpenAI's tiles.
//
// usage: node token_reference_openai.cjs NODE_MODULES FIXTURE_DIR
// prints {"texts": {name: {o200k, cl100k}}, "requests": {name: {o200k: {...}, cl100k: {...}}}}

const fs = require("fs");
const path = require("path");

const [nodeModules, fixtures] = process.argv.slice(2);
const { Tiktoken } = require(path.join(nodeModules, "js-tiktoken", "dist", "lite.cjs"));
const encoders = {
  o200k: new Tiktoken(require(path.join(nodeModules, "js-tiktoken", "dist", "ranks", "o200k_base.cjs"))),
  cl100k: new Tiktoken(require(path.join(nodeModules, "js-tiktoken", "dist", "ranks", "cl100k_base.cjs"))),
};
const FUNC_INIT = { o200k: 7, cl100k: 10 };

// Special-token text in content is ordinary text.
const count = (enc, text) => enc.encode(text, [], []).length;
const scalar = (v) => (typeof v === "string" ? v : JSON.stringify(v));
const stripDot = (s) => (s.endsWith(".") ? s.slice(0, -1) : s);

function pngSize(dataUrl) {
  const m = /^data:[^;]*;base64,(.*)$/.exec(dataUrl);
  if (!m) return null;
  const b = Buffer.from(m[1].slice(0, 64), "base64");
  if (b.length < 24 || b.toString("latin1", 12, 16) !== "IHDR") return null;
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

function imageTokens(image) {
  if (image.detail === "low") return 85;
  const size = pngSize(image.url);
  if (!size) return 85 + 170 * 8; // unknown size: the largest a tile image can cost
  let [w, h] = size;
  if (w > 2048 || h > 2048) {
    const s = 2048 / Math.max(w, h);
    [w, h] = [Math.floor(w * s), Math.floor(h * s)];
  }
  const short = Math.min(w, h);
  if (short > 768) [w, h] = [Math.floor((w * 768) / short), Math.floor((h * 768) / short)];
  return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
}

function message(enc, m) {
  let n = 3 + count(enc, m.role);
  if (typeof m.content === "string") n += count(enc, m.content);
  if (Array.isArray(m.content)) {
    for (const part of m.content) {
      if (part.type === "text") n += count(enc, part.text);
      if (part.type === "image_url") n += imageTokens(part.image_url);
    }
  }
  if (m.name !== undefined) n += count(enc, m.name) + 1;
  for (const call of m.tool_calls || []) {
    n += count(enc, call.id) + count(enc, call.type);
    n += count(enc, call.function.name) + count(enc, call.function.arguments);
  }
  if (m.tool_call_id !== undefined) n += count(enc, m.tool_call_id);
  return n;
}

function properties(enc, schema) {
  const props = schema && schema.properties;
  if (!props || Object.keys(props).length === 0) return 0;
  let n = 3;
  for (const [key, p] of Object.entries(props)) {
    n += 3;
    if (Array.isArray(p.enum)) {
      n += -3;
      for (const item of p.enum) n += 3 + count(enc, scalar(item));
    }
    const type = p.type === undefined ? "" : scalar(p.type);
    n += count(enc, `${key}:${type}:${stripDot(p.description || "")}`);
    n += properties(enc, p);
  }
  return n;
}

function tools(enc, family, list) {
  if (!list || list.length === 0) return 0;
  let n = 12;
  for (const t of list) {
    const f = t.function;
    n += FUNC_INIT[family] + count(enc, `${f.name}:${stripDot(f.description || "")}`);
    n += properties(enc, f.parameters);
  }
  return n;
}

const out = { texts: {}, requests: {} };
const texts = JSON.parse(fs.readFileSync(path.join(fixtures, "texts.json"), "utf8"));
for (const [name, text] of Object.entries(texts)) {
  out.texts[name] = {};
  for (const [family, enc] of Object.entries(encoders)) out.texts[name][family] = count(enc, text);
}
const dir = path.join(fixtures, "requests");
for (const file of fs.readdirSync(dir).sort()) {
  const request = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
  const name = file.replace(/\.json$/, "");
  out.requests[name] = {};
  for (const [family, enc] of Object.entries(encoders)) {
    const perMessage = request.messages.map((m) => message(enc, m));
    const toolTokens = tools(enc, family, request.tools);
    const total = perMessage.reduce((a, b) => a + b, 0) + toolTokens + 3;
    out.requests[name][family] = { total, per_message: perMessage, tools: toolTokens };
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
