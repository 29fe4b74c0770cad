//! The fitting rules on hand-built conversations: when it fits, when
//! `max_tokens` is lowered, what each strategy drops and what it keeps.

use super::*;
use crate::canonical::{
    ContentPart, Image, ImageSource, Message, ReasoningBlock, ReasoningConfig, Role, ToolCall,
};
use crate::context_window::CountTokens;

/// A stand-in counter: 4 tokens a message plus a token per 4 bytes of
/// everything it carries; an image is 85 tokens.
pub(super) struct ByteCounter;

impl CountTokens for ByteCounter {
    fn message(&self, m: &Message) -> u32 {
        let mut bytes = m.tool_call_id.as_ref().map_or(0, String::len);
        let mut images = 0;
        for part in &m.content {
            match part {
                ContentPart::Text(t) => bytes += t.len(),
                ContentPart::Image(_) => images += 85,
            }
        }
        for call in &m.tool_calls {
            bytes += call.id.len() + call.name.len() + call.arguments.len();
        }
        for block in &m.reasoning {
            bytes += match block {
                ReasoningBlock::Thought { text, signature } => {
                    text.len() + signature.as_ref().map_or(0, String::len)
                }
                ReasoningBlock::Redacted { data } => data.len(),
            };
        }
        4 + images + (bytes / 4) as u32
    }

    fn tools(&self, tools: &[crate::canonical::ToolDefinition]) -> u32 {
        tools.iter().map(|t| 8 + t.name.len() as u32 / 4).sum()
    }

    fn request_overhead(&self) -> u32 {
        3
    }
}

/// Text of `tokens` tokens under [`ByteCounter`] (with the message's 4).
pub(super) fn words(tokens: u32, tag: &str) -> String {
    let mut s = format!("{tag} ");
    while s.len() < (tokens.saturating_sub(4) * 4) as usize {
        s.push_str("lorem ");
    }
    s.truncate((tokens.saturating_sub(4) * 4) as usize);
    s
}

fn user(tokens: u32, tag: &str) -> Message {
    Message::text(Role::User, words(tokens, tag))
}

fn assistant(tokens: u32, tag: &str) -> Message {
    Message::text(Role::Assistant, words(tokens, tag))
}

fn calling(ids: &[&str]) -> Message {
    let mut m = Message::text(Role::Assistant, "");
    m.tool_calls = ids
        .iter()
        .map(|id| ToolCall {
            id: (*id).into(),
            name: "read".into(),
            arguments: "{}".into(),
        })
        .collect();
    m.reasoning.push(ReasoningBlock::Thought {
        text: "think".into(),
        signature: Some("sig".into()),
    });
    m
}

fn result(id: &str, tokens: u32) -> Message {
    let mut m = Message::text(Role::Tool, words(tokens, id));
    m.tool_call_id = Some(id.into());
    m
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        messages,
        ..ChatRequest::default()
    }
}

fn budget(window: u32, max_output: Option<u32>) -> Budget {
    Budget {
        window,
        max_output,
        default_output: 1000,
        may_lower_max_tokens: false,
    }
}

fn run(req: &mut ChatRequest, budget: Budget, strategies: &[Strategy]) -> FitOutcome {
    fit(
        req,
        &ByteCounter,
        &budget,
        strategies,
        &FitOptions::default(),
    )
}

/// System, then `turns` user/assistant pairs of 100 tokens each.
fn chat(turns: usize) -> Vec<Message> {
    let mut m = vec![Message::text(Role::System, "be brief")];
    for t in 0..turns {
        m.push(user(100, &format!("u{t}")));
        m.push(assistant(100, &format!("a{t}")));
    }
    m
}

fn prompt(req: &ChatRequest) -> u32 {
    let c = ByteCounter;
    c.request_overhead()
        + c.tools(&req.tools)
        + req.messages.iter().map(|m| c.message(m)).sum::<u32>()
}

#[test]
fn a_request_that_fits_is_left_alone() {
    let mut req = request(chat(3));
    let before = req.messages.clone();
    let p = prompt(&req);
    let outcome = run(&mut req, budget(p + 1000, None), &[Strategy::Truncate]);
    assert_eq!(
        outcome,
        FitOutcome::Fits {
            prompt_tokens: p,
            lowered_max_tokens: None
        }
    );
    assert_eq!(req.messages, before);
}

#[test]
fn max_tokens_is_lowered_to_the_room_left_when_the_route_allows() {
    let mut req = request(chat(3));
    let p = prompt(&req);
    let mut b = budget(p + 3000, Some(8000));
    b.may_lower_max_tokens = true;
    let outcome = run(&mut req, b, &[Strategy::Reject]);
    assert_eq!(
        outcome,
        FitOutcome::Fits {
            prompt_tokens: p,
            lowered_max_tokens: Some(3000)
        }
    );
    assert_eq!(req.sampling.max_output_tokens, Some(3000));
    // Unset max_tokens: the default output is what is lowered.
    let mut req = request(chat(3));
    let b = Budget {
        max_output: None,
        default_output: 4000,
        ..b
    };
    let outcome = run(&mut req, b, &[Strategy::Reject]);
    assert_eq!(
        outcome,
        FitOutcome::Fits {
            prompt_tokens: p,
            lowered_max_tokens: Some(3000)
        }
    );
}

#[test]
fn max_tokens_is_not_lowered_without_leave_or_below_the_floor() {
    let mut req = request(chat(3));
    let p = prompt(&req);
    let outcome = run(&mut req, budget(p + 3000, Some(8000)), &[Strategy::Reject]);
    assert_eq!(
        outcome,
        FitOutcome::Reject {
            prompt_tokens: p,
            max_output: 8000,
            window: p + 3000
        }
    );
    assert_eq!(req.sampling.max_output_tokens, None);
    // Room for 500 is under the 1024 floor.
    let mut b = budget(p + 500, Some(8000));
    b.may_lower_max_tokens = true;
    assert!(matches!(
        run(&mut req, b, &[Strategy::Reject]),
        FitOutcome::Reject { .. }
    ));
    // A reasoning budget of 2500 needs max_tokens above it.
    req.reasoning = Some(ReasoningConfig {
        effort: None,
        budget_tokens: Some(2500),
    });
    let mut b = budget(p + 2000, Some(8000));
    b.may_lower_max_tokens = true;
    assert!(matches!(
        run(&mut req, b, &[Strategy::Reject]),
        FitOutcome::Reject { .. }
    ));
}

#[test]
fn reject_and_an_exhausted_list_refuse_with_the_counts_and_leave_the_request() {
    let mut req = request(chat(10));
    let before = req.messages.clone();
    let p = prompt(&req);
    let expected = FitOutcome::Reject {
        prompt_tokens: p,
        max_output: 1000,
        window: 1500,
    };
    assert_eq!(
        run(
            &mut req,
            budget(1500, None),
            &[Strategy::Reject, Strategy::Truncate]
        ),
        expected
    );
    assert_eq!(run(&mut req, budget(1500, None), &[]), expected);
    assert_eq!(req.messages, before);
}

#[test]
fn bigger_model_names_the_window_needed_and_where_to_go_on() {
    let mut req = request(chat(10));
    let before = req.messages.clone();
    let p = prompt(&req);
    let strategies = [Strategy::BiggerModel, Strategy::Truncate];
    let outcome = run(&mut req, budget(1500, Some(700)), &strategies);
    assert_eq!(
        outcome,
        FitOutcome::BiggerModel {
            prompt_tokens: p,
            needed_window: p + 700,
            next: 1
        }
    );
    assert_eq!(req.messages, before);
}

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

#[test]
fn a_fit_found_only_with_less_output_lowers_max_tokens() {
    // The latest turn alone leaves 1500 of the 4000 asked: truncate drops
    // all it can, and max_tokens comes down to what is left.
    let mut msgs = chat(4);
    msgs.push(user(2500, "big"));
    let mut req = request(msgs);
    let mut b = budget(4000, Some(4000));
    b.may_lower_max_tokens = true;
    let outcome = run(&mut req, b, &[Strategy::Truncate]);
    let FitOutcome::Fitted {
        prompt_tokens,
        lowered_max_tokens,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(lowered_max_tokens, Some(4000 - prompt_tokens));
    assert_eq!(req.sampling.max_output_tokens, lowered_max_tokens);
}

#[test]
fn summarize_names_the_oldest_turns_and_the_summary_takes_their_place() {
    let mut req = request(chat(12));
    let before = req.messages.clone();
    let b = budget(2500, Some(500));
    let strategies = [Strategy::Summarize, Strategy::Truncate];
    let outcome = run(&mut req, b, &strategies);
    let FitOutcome::NeedsSummary {
        range,
        range_tokens,
        max_summary_tokens,
        next,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(req.messages, before);
    assert_eq!((range.start, next), (1, 1));
    assert_eq!(req.messages[range.end].role, Role::User);
    assert!(
        range_tokens >= 1024 && max_summary_tokens >= 1024,
        "{range_tokens} {max_summary_tokens}"
    );
    let source: Vec<_> = summary_source(&req, &range).cloned().collect();
    assert_eq!(source, before[range.clone()]);
    apply_summary(&mut req, range.clone(), "they said hello").expect("fresh range");
    assert_eq!(
        req.messages[1].joined_text(),
        format!("{SUMMARY_HEADING}\nthey said hello")
    );
    assert_eq!(req.messages[2..], before[range.end..]);
    assert!(matches!(
        run(&mut req, b, &strategies),
        FitOutcome::Fits { .. }
    ));
}

#[test]
fn a_stale_summary_range_is_refused() {
    let mut req = request(chat(3));
    let before = req.messages.clone();
    #[allow(clippy::reversed_empty_ranges)]
    let stale = [0..0, 1..2, 1..99, 5..1];
    for range in stale {
        assert!(apply_summary(&mut req, range, "x").is_err());
    }
    assert_eq!(req.messages, before);
    assert_eq!(summary_source(&req, &(1..99)).count(), 0);
}

#[test]
fn pinned_prompts_inside_a_summarized_range_stay() {
    let mut msgs = chat(3);
    msgs.insert(3, Message::text(Role::Developer, "mid"));
    let mut req = request(msgs.clone());
    apply_summary(&mut req, 1..4, "s").expect("ends at u1");
    assert_eq!(req.messages[0], msgs[0]);
    assert_eq!(req.messages[1].role, Role::User);
    assert_eq!(req.messages[2], msgs[3]);
    assert_eq!(req.messages[3..], msgs[4..]);
}
