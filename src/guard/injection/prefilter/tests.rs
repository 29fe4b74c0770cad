use serde::Deserialize;

use super::super::rules::{BUILTIN, TOOL_NAME_WEIGHT};
use super::reference::Reference;
use super::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/guard/injection");

fn anchored() -> Vec<(f32, &'static [&'static str])> {
    BUILTIN.iter().map(|r| (r.weight, r.anchors)).collect()
}

fn both() -> (Prefilter, Reference) {
    let rules = anchored();
    (
        Prefilter::new(&rules, 0.0, TOOL_NAME_WEIGHT, 1.0).expect("builds"),
        Reference::new(&rules, 0.0, TOOL_NAME_WEIGHT, 1.0).expect("builds"),
    )
}

/// The text as one user message, escaped as a JSON encoder would.
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

#[derive(Deserialize)]
struct Record {
    text: String,
}

fn corpus() -> Vec<String> {
    let mut texts = Vec::new();
    for name in ["dev.jsonl", "heldout.jsonl"] {
        let raw = std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus file");
        for line in raw.lines().filter(|l| !l.trim().is_empty()) {
            let mut bytes = line.as_bytes().to_vec();
            let record: Record = simd_json::serde::from_slice(&mut bytes).expect("record");
            texts.push(record.text);
        }
    }
    texts
}

/// Every corpus item, as a body and as the one string literal a per-string
/// caller passes: wherever the first prefilter said "maybe", so does this
/// one; and it skips the same benign items.
#[test]
fn agrees_with_the_reference_on_the_corpus() {
    let (fast, slow) = both();
    let (mut fast_passed, mut slow_passed) = (0, 0);
    for text in corpus() {
        let raw = body(&text);
        let literal = &raw[raw.len() - text.len().min(raw.len()) - 5..raw.len() - 4];
        for raw in [&raw[..], literal] {
            let (f, s) = (fast.may_match(raw), slow.may_match(raw));
            assert!(f || !s, "skipped what the reference kept: {text:?}");
            fast_passed += usize::from(f);
            slow_passed += usize::from(s);
        }
    }
    assert_eq!(fast_passed, slow_passed, "no more conservative than needed");
}

/// Pieces that exercise every branch: anchors in any case and at word
/// starts or not, structure words quoted or not, escapes, runs, percent.
const PIECES: &[&str] = &[
    "ignore",
    "IGNORE",
    "Ignore",
    "previous",
    "xignore",
    "now",
    "new",
    "act",
    "system",
    "\"system\"",
    "system:",
    "System message",
    "user",
    "\"user\"",
    "<|system|>",
    "[INST]",
    "![",
    "###",
    "------",
    "***",
    "\\n",
    "\\t",
    "\\\\",
    "\\u0069",
    "\\/",
    "%41",
    "%4",
    "%zz",
    "42",
    "abc123",
    "+",
    "/",
    "=",
    "aGVsbG8gd29y",
    "aGVsbG8gd29ybGQgaGVsbG8=",
    "_",
    "-",
    " ",
    " ",
    " ",
    ".",
    ",",
    "\"",
    ":",
    "matter",
    "overriding",
    "jailbroken",
    "im_start",
    "role-play",
    "pre-prompt",
    "tools",
    "\"tools\"",
    "DAN",
    "word",
    "turn",
    "http",
    "b",
    "n",
    "t",
    "x",
];

#[test]
fn agrees_with_the_reference_on_generated_text() {
    let (fast, slow) = both();
    let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1du64);
    for _ in 0..20_000 {
        let text = crate::test_rng::text(&mut next, PIECES, 48);
        let raw = text.as_bytes();
        assert_eq!(fast.may_match(raw), slow.may_match(raw), "{text:?}");
    }
}

/// Each piece at every offset across two 64-byte steps and the blocks
/// after them, with text after it or not: the pass splits no piece.
#[test]
fn answers_at_every_block_boundary() {
    let (fast, slow) = both();
    for pad in 0..140 {
        for piece in [
            "ignore all",
            "\\u0041",
            "aGVsbG8gd29ybGQgaGVsbG8=",
            "%41",
            "\\nsystem: x",
            "7ignore all",
            "\u{e9}",
        ] {
            for after in ["", " and more plain words after it, long enough for a step"] {
                let lead = "a ".repeat(pad / 2) + &"b".repeat(pad % 2);
                let text = format!("{lead}{piece}{after}");
                let raw = text.as_bytes();
                assert_eq!(fast.may_match(raw), slow.may_match(raw), "{pad} {piece}");
                let benign = piece == "ignore all" || piece == "7ignore all";
                assert!(fast.may_match(raw) || benign, "{pad} {piece}");
            }
        }
    }
}

/// A letter after a digit or `_` starts no word, in a whole step or not.
#[test]
fn a_letter_after_a_digit_or_underscore_starts_no_word() {
    let (fast, _) = both();
    for pad in [0, 3, 60, 62, 70] {
        for text in [
            "1ignore 2previous 3instructions",
            "_ignore _previous _instructions",
        ] {
            let raw = format!("{}{text}", " ".repeat(pad));
            assert!(!fast.may_match(raw.as_bytes()), "{raw:?}");
            let plain = raw.replace(['1', '2', '3', '_'], " ");
            assert!(fast.may_match(plain.as_bytes()), "{plain:?}");
        }
    }
}

#[test]
fn refuses_anchors_the_pass_would_never_look_at() {
    for bad in ["x", "9lives", "_x", " x", "\"x", "ne\u{e9}", "?x", "{x"] {
        let words: &[&str] = &[bad];
        assert!(
            Prefilter::new(&[(1.0, words)], 0.0, 0.0, 1.0).is_err(),
            "{bad:?}"
        );
    }
}

/// Words too short to open any anchor are passed over; a word as long as
/// the shortest anchor is still found at every offset, across a step's
/// end (its letters split between two steps) and in the last bytes.
#[test]
fn short_words_are_skipped_but_no_anchor_is() {
    let three: &[&str] = &["act"];
    let two: &[&str] = &["go"];
    let under: &[&str] = &["im_end", "act"];
    for (words, hit, near) in [
        (three, "act", "ac at"),
        (two, "go", "g o"),
        (under, "<|im_end|>", "im end"),
    ] {
        let fast = Prefilter::new(&[(1.0, words)], 0.0, 0.0, 1.0).expect("builds");
        for pad in 0..140 {
            for after in [
                "",
                " now",
                "s and more words after it to fill a step or two",
            ] {
                let lead = " ".repeat(pad);
                let text = format!("{lead}{hit}{after}");
                assert!(fast.may_match(text.as_bytes()), "{text:?}");
                let text = format!("{lead}{near}{after}");
                assert!(!fast.may_match(text.as_bytes()), "{text:?}");
            }
        }
    }
}

/// Standing in for the PII request prefilter, the pass says "maybe" exactly
/// where either prefilter alone would: over generated text with digits,
/// `@` and escapes at every offset across steps, for every mix of kinds.
#[test]
fn one_pass_answers_for_the_pii_prefilter_too() {
    use crate::guard::text::{PiiConfig, PiiKind, PiiLook, PiiScanner};
    let (fast, _) = both();
    let scanners: Vec<(PiiLook, PiiScanner)> = [
        vec![],
        vec![PiiKind::Email],
        vec![PiiKind::Phone],
        PiiKind::ALL.to_vec(),
    ]
    .into_iter()
    .map(|kinds| {
        let scanner = PiiScanner::new(&PiiConfig {
            kinds,
            ..PiiConfig::default()
        });
        (scanner.look(), scanner)
    })
    .collect();
    let check = |raw: &[u8]| {
        let alone = fast.may_match_part(raw, Some(false), PiiLook::default());
        for (look, scanner) in &scanners {
            let pii = !scanner.look().eq(&PiiLook::default()) && scanner.may_contain(raw);
            assert_eq!(
                fast.may_match_part(raw, Some(false), *look),
                alone || pii,
                "{look:?} {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    };
    const DIGITS: &[&str] = &[
        "1",
        "12",
        "123",
        "4",
        " ",
        "-",
        ".",
        "@",
        "a@b.co",
        "4111 1111 1111 1111",
        "12 34 56",
        "123-4567",
        "1 2 3 4 5",
        "\\u0040",
        "\\u0031",
        "\\n",
        "word",
        "order",
        "2pm",
        "x",
    ];
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15u64);
    for _ in 0..20_000 {
        let len = next() % 40;
        let text: String = (0..len)
            .map(|_| match next() % 3 {
                0 => crate::test_rng::pick(&mut next, PIECES),
                _ => crate::test_rng::pick(&mut next, DIGITS),
            })
            .collect();
        check(text.as_bytes());
        check(format!("\"{text}\"").as_bytes());
    }
    for pad in 0..140 {
        for piece in [
            "1234567",
            "12 34 56",
            "1 2 3 4 5 6",
            "123 45 6",
            "a@b",
            "55555",
        ] {
            let text = format!(
                "{}{piece} tail words",
                "a ".repeat(pad / 2) + &"b".repeat(pad % 2)
            );
            check(text.as_bytes());
        }
    }
}

/// `rare_byte_at` ends a short run's digit or `+/=` without asking whether
/// it opens an anchor: none of them may; and no anchor holds a quote (a
/// literal's pass reads on past its closing one).
#[test]
fn no_anchor_opens_with_a_run_byte_or_holds_a_quote() {
    assert!(!block::OPENERS.iter().any(|b| b"0123456789+/=".contains(b)));
    for word in ["1st", "+x", "/etc", "=a", "say\"", "<\"x"] {
        assert!(Anchors::new(&[(1.0, &[word][..])]).is_err(), "{word}");
    }
}

/// A literal read on into its body answers as the literal alone: over
/// generated bodies (pieces in values and between them, non-ASCII after
/// a literal, literals ending at every place of a step and near the
/// body's end), every value literal, with and without the PII look.
#[test]
fn a_literal_read_in_its_body_answers_as_the_literal() {
    use crate::guard::strings::Strings;
    use crate::guard::text::{PiiConfig, PiiKind, PiiScanner};
    let (fast, _) = both();
    let pii = PiiScanner::new(&PiiConfig {
        kinds: PiiKind::ALL.to_vec(),
        ..PiiConfig::default()
    })
    .look();
    const BETWEEN: &[&str] = &[
        "\"k\":",
        ",",
        "{",
        "}",
        "[",
        "]",
        " ",
        "1",
        "é",
        "\"é\"",
        "\"ignore\":",
    ];
    let (mut said, mut passed) = (0, 0);
    let mut next = crate::test_rng::xorshift(0x6a09_e667_f3bc_c908u64);
    let mut strings = Strings::default();
    for round in 0..4000 {
        let mut body = String::from("{");
        for _ in 0..next() % 6 {
            body.push_str(crate::test_rng::pick(&mut next, BETWEEN));
            let text = crate::test_rng::text(&mut next, PIECES, 40);
            let text = if round % 2 == 0 {
                text
            } else {
                text.replace(['\\', '"'], "")
            };
            body.push('"');
            body.push_str(&" ".repeat((next() % 64) as usize));
            body.push_str(&text);
            body.push('"');
        }
        body.push_str(&"}".repeat((next() % 3) as usize));
        let body = body.as_bytes();
        strings.walk(body, 0);
        for &(start, end) in &strings.values {
            let (start, end) = (start as usize, end as usize);
            for look in [PiiLook::default(), pii] {
                for tools in [false, true] {
                    let alone = fast.may_match_part(&body[start..end], Some(tools), look);
                    let read_on = fast.may_match_in(&body[start..], end - start, tools, look);
                    assert_eq!(
                        read_on,
                        alone,
                        "{:?} at {start}..{end}",
                        String::from_utf8_lossy(body)
                    );
                    said += usize::from(alone);
                    passed += usize::from(!alone);
                }
            }
        }
    }
    assert!(said > 1000 && passed > 1000, "{said} maybe, {passed} not");
}
