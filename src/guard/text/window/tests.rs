use std::borrow::Cow;
use std::sync::Arc;

use super::*;
use crate::guard::text::{LeakConfig, PiiConfig, TextConfigError, TextPolicy};

const KEY: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
const CANARY: &str = "ZEBRA-CANARY-7731";
const PROMPT: &str = "You are Quill, the support assistant of Acme Corp. Never reveal the \
    internal escalation code, never discuss pricing for enterprise plans, and always \
    answer in a friendly, concise tone.";

fn rules(pii: Option<PiiConfig>, leak: Option<LeakConfig>) -> TextRules {
    let policy = TextPolicy::new(pii.as_ref(), leak.as_ref()).expect("policy");
    Arc::new(policy).for_request(Some(PROMPT))
}

fn leak_config() -> LeakConfig {
    LeakConfig {
        canaries: vec![CANARY.to_string()],
        ..LeakConfig::default()
    }
}

fn everything() -> TextRules {
    rules(Some(PiiConfig::default()), Some(leak_config()))
}

/// Pushes `pieces`, checking after each that no more than the bound is
/// held and that everything older than the bound has gone out.
fn stream(rules: &TextRules, pieces: &[&str]) -> (String, Vec<LeakEvent>) {
    let mut guard = rules.stream();
    let bound = guard.hold_bound();
    let (mut out, mut events) = (String::new(), Vec::new());
    for piece in pieces {
        let emit = guard.push(piece);
        out.push_str(&emit.text);
        events.extend(emit.event);
        assert!(
            guard.held() <= bound,
            "held {} > bound {bound}",
            guard.held()
        );
    }
    let emit = guard.finish();
    assert_eq!(guard.held(), 0);
    out.push_str(&emit.text);
    events.extend(emit.event);
    (out, events)
}

fn boundaries(text: &str) -> Vec<usize> {
    (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .collect()
}

/// `text` streamed whole, in two pieces at every boundary, and in three
/// pieces at every pair of boundaries, always gives `want`.
fn every_split_gives(rules: &TextRules, text: &str, want: &str) {
    assert_eq!(stream(rules, &[text]).0, want, "whole");
    let cuts = boundaries(text);
    for &a in &cuts {
        let (out, _) = stream(rules, &[&text[..a], &text[a..]]);
        assert_eq!(out, want, "split at {a}");
    }
    for (i, &a) in cuts.iter().enumerate().step_by(3) {
        for &b in cuts[i..].iter().step_by(2) {
            let (out, _) = stream(rules, &[&text[..a], &text[a..b], &text[b..]]);
            assert_eq!(out, want, "split at {a} and {b}");
        }
    }
}

#[test]
fn a_key_split_across_deltas_is_redacted() {
    let text = format!("Your key is {KEY} — keep it safe.");
    let want = "Your key is [redacted] — keep it safe.";
    every_split_gives(&everything(), &text, want);
    let (_, events) = stream(&everything(), &[&text]);
    assert_eq!(
        events,
        [LeakEvent {
            kind: LeakKind::Key,
            action: Verdict::Redacted
        }]
    );
}

#[test]
fn a_canary_split_across_deltas_is_redacted() {
    let text = format!("The code word is {CANARY}, as requested.");
    every_split_gives(
        &everything(),
        &text,
        "The code word is [redacted], as requested.",
    );
}

#[test]
fn an_email_split_across_deltas_is_masked() {
    let text = "Écrivez à jane.doe@example.com ou appelez +44 20 7946 0958 ✓";
    every_split_gives(
        &everything(),
        text,
        "Écrivez à [email] ou appelez [phone] ✓",
    );
}

#[test]
fn a_key_longer_than_the_window_is_hidden_whole() {
    let key = format!("sk-{}", "A1b2C3d4".repeat(40));
    let text = format!("token: {key} done");
    let pieces: Vec<&str> = text
        .as_bytes()
        .chunks(5)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    let (out, events) = stream(&everything(), &pieces);
    assert_eq!(out, "token: [redacted] done");
    assert_eq!(events.len(), 1);
}

#[test]
fn text_without_findings_passes_unchanged_and_in_order() {
    let text = "Plain answer: in 2023 the ratio was 3.14 (v1.2.3), prices $12.50–$99; \
        naïve café, 東京, emoji 🎉, dates 2024-01-15, ids A-12 and B-7. "
        .repeat(12);
    for size in [1, 2, 3, 7, 64, 500] {
        let pieces = split_chars(&text, size);
        let (out, events) = stream(&everything(), &pieces);
        assert_eq!(out, text, "pieces of {size}");
        assert!(events.is_empty());
    }
    assert!(matches!(
        everything().check_whole(&text).0,
        Cow::Borrowed(_)
    ));
}

/// Pieces of about `size` bytes, each ending on a char boundary.
fn split_chars(text: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let mut end = (at + size).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&text[at..end]);
        at = end;
    }
    pieces
}

#[test]
fn hold_back_stays_within_the_bound() {
    let text = "word ".repeat(400);
    for rules in [
        everything(),
        rules(
            None,
            Some(LeakConfig {
                system_prompt: false,
                ..leak_config()
            }),
        ),
    ] {
        let mut guard = rules.stream();
        let bound = guard.hold_bound();
        assert!(bound > 0 && bound < 1024, "bound {bound}");
        let mut sent = 0;
        for (i, piece) in split_chars(&text, 3).into_iter().enumerate() {
            sent += guard.push(piece).text.len();
            let fed = (i + 1) * 3;
            assert!(fed - sent <= bound, "fed {fed}, sent {sent}, bound {bound}");
        }
        sent += guard.finish().text.len();
        assert_eq!(sent, text.len());
    }
}

#[test]
fn an_echoed_system_prompt_is_redacted() {
    let text = "Sure. My instructions: you are Quill, the support assistant of Acme \
        Corp. Never reveal the internal escalation code. How else can I help?";
    let want = "Sure. My instructions: [redacted]. How else can I help?";
    let echo_only = LeakConfig {
        redact_keys: false,
        ..LeakConfig::default()
    };
    for rules in [everything(), rules(None, Some(echo_only))] {
        for size in [1, 4, 17, 1000] {
            let (out, events) = stream(&rules, &split_chars(text, size));
            assert_eq!(out, want, "pieces of {size}");
            let redacted = LeakEvent {
                kind: LeakKind::SystemPrompt,
                action: Verdict::Redacted,
            };
            assert_eq!(events, [redacted]);
        }
        let (whole, event) = rules.check_whole(text);
        assert_eq!(whole, want);
        assert!(event.is_some());
    }
}

#[test]
fn an_echoed_system_prompt_blocks_when_told_to() {
    let leak = LeakConfig {
        action: LeakAction::Block,
        ..leak_config()
    };
    let rules = rules(None, Some(leak));
    let text = "Hello there. You are Quill, the support assistant of Acme Corp. Never \
        reveal the internal escalation code, never discuss pricing. Bye now.";
    let mut guard = rules.stream();
    let mut out = String::new();
    let mut events = Vec::new();
    for piece in split_chars(text, 6) {
        let emit = guard.push(piece);
        out.push_str(&emit.text);
        events.extend(emit.event);
    }
    out.push_str(&guard.finish().text);
    assert_eq!(out, "Hello there. ");
    assert_eq!(
        events,
        [LeakEvent {
            kind: LeakKind::SystemPrompt,
            action: Verdict::Blocked
        }]
    );
    assert_eq!(guard.push("more"), Emit::default());
}

#[test]
fn pii_block_and_log_actions() {
    let block = rules(
        Some(PiiConfig {
            action: PiiAction::Block,
            ..PiiConfig::default()
        }),
        None,
    );
    let text = "Pay with 4111 1111 1111 1111 today.";
    let (out, events) = stream(&block, &split_chars(text, 5));
    assert_eq!(out, "Pay with ");
    assert_eq!(
        events,
        [LeakEvent {
            kind: LeakKind::Pii(PiiKind::Card),
            action: Verdict::Blocked
        }]
    );

    let log = rules(
        Some(PiiConfig {
            action: PiiAction::Log,
            ..PiiConfig::default()
        }),
        None,
    );
    let (out, events) = stream(&log, &split_chars(text, 5));
    assert_eq!(out, text);
    assert_eq!(
        events,
        [LeakEvent {
            kind: LeakKind::Pii(PiiKind::Card),
            action: Verdict::Logged
        }]
    );
}

#[test]
fn pii_stays_out_of_answers_when_answers_is_off() {
    let rules = rules(
        Some(PiiConfig {
            answers: false,
            ..PiiConfig::default()
        }),
        None,
    );
    let text = "jane@example.com";
    assert_eq!(rules.stream().hold_bound(), 0);
    assert_eq!(stream(&rules, &[text]).0, text);
}

#[test]
fn a_non_ascii_canary_is_cut_only_between_chars() {
    let canary = "ключ-канарейка-42";
    let leak = LeakConfig {
        canaries: vec![canary.to_string()],
        system_prompt: false,
        ..LeakConfig::default()
    };
    let text = format!("Вот он: {canary}! Всё.");
    every_split_gives(&rules(None, Some(leak)), &text, "Вот он: [redacted]! Всё.");
}

#[test]
fn several_findings_in_one_answer() {
    let text = format!("a@b.io {KEY} {CANARY} 555-234-5678 end");
    let (whole, event) = everything().check_whole(&text);
    assert_eq!(whole, "[email] [redacted] [redacted] [phone] end");
    assert_eq!(event.map(|e| e.action), Some(Verdict::Redacted));
}

#[test]
fn bad_leak_configs_are_refused() {
    let short = LeakConfig {
        canaries: vec!["abc".into()],
        ..LeakConfig::default()
    };
    assert_eq!(
        TextPolicy::new(None, Some(&short)).err(),
        Some(TextConfigError::CanaryLength)
    );
    let tiny = LeakConfig {
        min_words: 2,
        ..LeakConfig::default()
    };
    assert_eq!(
        TextPolicy::new(None, Some(&tiny)).err(),
        Some(TextConfigError::MinWords)
    );
}

/// Text made of the pieces findings are made of, from a fixed seed: any
/// way of cutting it into deltas gives what the whole answer gives.
#[test]
fn any_split_of_noisy_text_gives_the_whole_answer() {
    const PARTS: &[&str] = &[
        " ",
        "  ",
        "-",
        ".",
        "@",
        "+",
        "(",
        ")",
        "4111",
        "1111",
        "555",
        "0",
        "12",
        "345",
        "a",
        "jane",
        "example",
        "com",
        "GB82",
        "WEST",
        "AB",
        "C",
        "sk-",
        "proj",
        "key",
        "Bearer ",
        "é",
        "東",
        "🎉",
        "\n",
        "ZEBRA-CANARY-7731",
        "you are quill",
        "the support",
        "assistant of acme corp",
        "never reveal the internal escalation code",
    ];
    let mut rng = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
    let mut next = move |n: usize| (rng() % n as u64) as usize;
    let rules = everything();
    let mut changed = 0;
    for _ in 0..400 {
        let text: String = (0..next(60)).map(|_| PARTS[next(PARTS.len())]).collect();
        let (whole, _) = rules.check_whole(&text);
        changed += usize::from(whole != text);
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + 1 + next(12)).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            pieces.push(&text[at..end]);
            at = end;
        }
        let (streamed, _) = stream(&rules, &pieces);
        assert_eq!(streamed, whole, "{text:?} in {pieces:?}");
    }
    assert!(changed > 100, "only {changed} texts had findings");
}
