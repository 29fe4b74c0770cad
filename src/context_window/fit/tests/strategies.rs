//! What `truncate`, `middle_out` and `compress_tool_results` drop and keep,
//! alone and in a chain.

use super::*;
use crate::canonical::{ContentPart, Image, ImageSource};

#[test]
fn truncate_drops_whole_oldest_turns_and_keeps_the_system_prompt() {
    let mut req = request(chat(10));
    let p = prompt(&req);
    let outcome = run(&mut req, budget(2000, Some(500)), &[Strategy::Truncate]);
    let FitOutcome::Fitted {
        prompt_tokens,
        applied,
        dropped,
        lowered_max_tokens,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(applied, vec![Strategy::Truncate]);
    assert_eq!(lowered_max_tokens, None);
    assert_eq!(prompt_tokens, prompt(&req));
    assert!(prompt_tokens + 500 <= 2000);
    assert_eq!(dropped.tokens, p - prompt_tokens);
    assert_eq!(dropped.messages as usize, 21 - req.messages.len());
    assert_eq!(req.messages[0].role, Role::System);
    assert_eq!(req.messages[1].role, Role::User);
    assert_eq!(req.messages.last(), chat(10).last());
}

#[test]
fn truncate_drops_a_block_down_towards_the_low_water_mark() {
    // Window 3000, output 500: the limit is 2500; blocks are 900 tokens.
    // 14 turns (2807 tokens) pass the limit by about 300: one block goes,
    // not the two turns that would be just enough.
    let mut req = request(chat(14));
    let outcome = run(&mut req, budget(3000, Some(500)), &[Strategy::Truncate]);
    let FitOutcome::Fitted {
        prompt_tokens,
        dropped,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(dropped.tokens >= 900, "{dropped:?}");
    assert!(prompt_tokens <= 2500 - 600, "{prompt_tokens}");
}

#[test]
fn a_tool_call_and_its_results_go_together() {
    // The results of u1's calls come after the next user message, so no
    // cut may fall between u1 and them.
    let mut msgs = vec![
        Message::text(Role::System, "s"),
        user(100, "u0"),
        assistant(100, "a0"),
    ];
    msgs.push(user(100, "u1"));
    msgs.push(calling(&["c1", "c2"]));
    msgs.push(user(100, "u2"));
    msgs.push(result("c1", 300));
    msgs.push(result("c2", 300));
    msgs.push(user(100, "u3"));
    msgs.push(assistant(100, "a3"));
    msgs.push(user(100, "u4"));
    let mut req = request(msgs.clone());
    let p = prompt(&req);
    // 250 tokens must go, in blocks of 1 %: cutting at u2 would be enough.
    let options = FitOptions {
        low_water_percent: 99,
        ..FitOptions::default()
    };
    let b = budget(p + 1000 - 250, None);
    let outcome = fit(&mut req, &ByteCounter, &b, &[Strategy::Truncate], &options);
    assert!(matches!(outcome, FitOutcome::Fitted { .. }), "{outcome:?}");
    // The cut is at u3: u1, the calls, u2 and both results went together.
    assert_eq!(
        req.messages[..],
        [
            msgs[0].clone(),
            msgs[8].clone(),
            msgs[9].clone(),
            msgs[10].clone()
        ]
    );
}

#[test]
fn the_latest_turn_stays_even_when_nothing_else_can_go() {
    let mut msgs = chat(2);
    msgs.push(user(100, "now"));
    msgs.push(calling(&["c9"]));
    msgs.push(result("c9", 3000));
    let mut req = request(msgs.clone());
    let outcome = run(
        &mut req,
        budget(2000, None),
        &[Strategy::Truncate, Strategy::MiddleOut],
    );
    assert!(matches!(outcome, FitOutcome::Reject { .. }), "{outcome:?}");
    assert_eq!(req.messages, msgs);
}

#[test]
fn middle_out_keeps_the_first_turn() {
    let mut req = request(chat(12));
    let outcome = run(&mut req, budget(2000, Some(500)), &[Strategy::MiddleOut]);
    assert!(matches!(outcome, FitOutcome::Fitted { .. }), "{outcome:?}");
    assert_eq!(req.messages[..3], chat(12)[..3]);
    assert_eq!(req.messages.last(), chat(12).last());
    assert!(req.messages.len() < 25);
}

#[test]
fn old_tool_results_become_stubs_with_size_and_hash() {
    let mut msgs = vec![
        Message::text(Role::System, "s"),
        user(50, "u0"),
        calling(&["c1"]),
    ];
    let mut big = Message::text(Role::Tool, "hello");
    big.tool_call_id = Some("c1".into());
    big.tool_error = true;
    big.content.push(ContentPart::Text(words(2000, "x")));
    msgs.push(big.clone());
    msgs.push(user(50, "u1"));
    msgs.push(calling(&["c2"]));
    msgs.push(result("c2", 2000));
    let mut req = request(msgs.clone());
    let outcome = run(
        &mut req,
        budget(3500, None),
        &[Strategy::CompressToolResults],
    );
    let FitOutcome::Fitted {
        applied, dropped, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(applied, vec![Strategy::CompressToolResults]);
    assert_eq!((dropped.messages, dropped.tool_results_compressed), (0, 1));
    let stub = &req.messages[3];
    let text = format!("hello{}", words(2000, "x"));
    let expected = format!(
        "[tool result elided by Tollgate: {} bytes, sha256 {}]",
        text.len(),
        &sha256_hex(text.as_bytes())[..8]
    );
    assert_eq!(stub.joined_text(), expected);
    assert_eq!(
        (stub.role, stub.tool_call_id.as_deref(), stub.tool_error),
        (Role::Tool, Some("c1"), true)
    );
    // The latest round's result stays whole.
    assert_eq!(req.messages[6], msgs[6]);
}

#[test]
fn the_stub_hash_is_sha256_of_the_result_text() {
    let mut m = Message::text(Role::Tool, "hello");
    m.tool_call_id = Some("c".into());
    // sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
    assert_eq!(
        stub_text(&m),
        "[tool result elided by Tollgate: 5 bytes, sha256 2cf24dba]"
    );
    m.content.push(ContentPart::Image(Box::new(Image {
        source: ImageSource::Url("u".into()),
        detail: None,
    })));
    assert!(stub_text(&m).starts_with("[tool result elided by Tollgate: 6 bytes, sha256 "));
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn strategies_compose_in_order() {
    let mut msgs = chat(6);
    for k in 0..4 {
        msgs.push(user(50, &format!("q{k}")));
        let id = format!("c{k}");
        msgs.push(calling(&[&id]));
        msgs.push(result(&id, 600));
        msgs.push(assistant(50, "ok"));
    }
    msgs.push(user(50, "last"));
    let mut req = request(msgs);
    let strategies = [Strategy::CompressToolResults, Strategy::Truncate];
    let outcome = run(&mut req, budget(1500, Some(200)), &strategies);
    let FitOutcome::Fitted {
        applied,
        dropped,
        prompt_tokens,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(applied, strategies);
    assert!(
        dropped.tool_results_compressed > 0 && dropped.messages > 0,
        "{dropped:?}"
    );
    assert!(prompt_tokens + 200 <= 1500);
}
