//! Measures the injection scanner on the labelled corpus
//! (`data/guard/injection/`, built by `scripts/injection-corpus.py`): the
//! held-out half, frozen before any rule was written, must keep recall at
//! 0.8 or more at a false-positive rate of 1 % or less; the dev half is
//! reported too.
//! Every item is also checked against the prefilter: an item that scores at
//! the threshold must never be skipped by `may_match` on its JSON body.

use std::collections::BTreeMap;

use serde::Deserialize;
use tollgate::guard::injection::{InjectionConfig, Scanner, Source};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/guard/injection");

#[derive(Deserialize)]
struct Record {
    text: String,
    label: String,
    category: String,
    source: String,
}

#[derive(Default)]
struct Counts {
    flagged: usize,
    total: usize,
}

struct Report {
    tp: usize,
    fn_: usize,
    fp: usize,
    tn: usize,
    by_category: BTreeMap<(String, String), Counts>,
    prefilter_passed_benign: usize,
}

impl Report {
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn fpr(&self) -> f64 {
        self.fp as f64 / (self.fp + self.tn).max(1) as f64
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: precision {:.3}  recall {:.3}  FPR {:.4}  (tp {} fn {} fp {} tn {})",
            self.precision(),
            self.recall(),
            self.fpr(),
            self.tp,
            self.fn_,
            self.fp,
            self.tn
        );
        for ((label, category), c) in &self.by_category {
            let rate = c.flagged as f64 / c.total.max(1) as f64;
            let what = if label == "attack" { "recall" } else { "FPR" };
            println!(
                "  {label:7} {category:22} {what:6} {rate:.3}  ({}/{})",
                c.flagged, c.total
            );
        }
        println!(
            "  prefilter let through {}/{} benign bodies",
            self.prefilter_passed_benign,
            self.fp + self.tn
        );
    }
}

fn load(name: &str) -> Vec<Record> {
    let raw = std::fs::read_to_string(format!("{DIR}/{name}")).expect("corpus file");
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut bytes = line.as_bytes().to_vec();
            simd_json::serde::from_slice(&mut bytes).expect("corpus record")
        })
        .collect()
}

/// The text as one user message of a Chat Completions body.
fn body(text: &str) -> Vec<u8> {
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            c if (c as u32) < 0x20 => escaped.push_str(&format!("\\u{:04x}", c as u32)),
            c => escaped.push(c),
        }
    }
    format!(r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{escaped}"}}]}}"#)
        .into_bytes()
}

fn measure(scanner: &Scanner, records: &[Record]) -> Report {
    let mut report = Report {
        tp: 0,
        fn_: 0,
        fp: 0,
        tn: 0,
        by_category: BTreeMap::new(),
        prefilter_passed_benign: 0,
    };
    for record in records {
        let verdict = scanner.scan(&record.text, Source::User, &[]);
        let flagged = verdict.score >= scanner.threshold();
        let passed = scanner.may_match(&body(&record.text));
        assert!(
            passed || !flagged,
            "prefilter skipped an item that scores {} ({})",
            verdict.score,
            record.source
        );
        let attack = record.label == "attack";
        match (attack, flagged) {
            (true, true) => report.tp += 1,
            (true, false) => report.fn_ += 1,
            (false, true) => report.fp += 1,
            (false, false) => report.tn += 1,
        }
        if !attack && passed {
            report.prefilter_passed_benign += 1;
        }
        let c = report
            .by_category
            .entry((record.label.clone(), record.category.clone()))
            .or_default();
        c.total += 1;
        c.flagged += usize::from(flagged);
    }
    report
}

fn frozen_digest_matches() {
    let held = std::fs::read(format!("{DIR}/heldout.jsonl")).expect("heldout");
    let frozen = std::fs::read_to_string(format!("{DIR}/FROZEN")).expect("FROZEN");
    let digest = ring::digest::digest(&ring::digest::SHA256, &held);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        frozen.starts_with(&hex),
        "heldout.jsonl changed since it was frozen"
    );
}

#[test]
fn heldout_recall_and_false_positive_floors() {
    frozen_digest_matches();
    let scanner = Scanner::new(&InjectionConfig::default()).expect("default config");
    let dev = measure(&scanner, &load("dev.jsonl"));
    dev.print("dev");
    let held = measure(&scanner, &load("heldout.jsonl"));
    held.print("held-out");
    assert!(
        held.recall() >= 0.8,
        "held-out recall {:.3} < 0.8",
        held.recall()
    );
    assert!(held.fpr() <= 0.01, "held-out FPR {:.4} > 0.01", held.fpr());
}
