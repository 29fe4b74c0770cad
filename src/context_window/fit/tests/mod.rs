//! Tests of fitting: the budget rules and each strategy on hand-built
//! conversations, the invariants over random ones, and prefix stability
//! over growing ones. Here: the stand-in counter and the builders they share.

mod budget;
mod prefix;
mod property;
mod strategies;
mod summary;

use super::*;
use crate::canonical::ContentPart;
use crate::canonical::{Message, ReasoningBlock, Role, ToolCall};
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

pub(super) fn user(tokens: u32, tag: &str) -> Message {
    Message::text(Role::User, words(tokens, tag))
}

pub(super) fn assistant(tokens: u32, tag: &str) -> Message {
    Message::text(Role::Assistant, words(tokens, tag))
}

pub(super) fn calling(ids: &[&str]) -> Message {
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

pub(super) fn result(id: &str, tokens: u32) -> Message {
    let mut m = Message::text(Role::Tool, words(tokens, id));
    m.tool_call_id = Some(id.into());
    m
}

pub(super) fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        messages,
        ..ChatRequest::default()
    }
}

pub(super) fn budget(window: u32, max_output: Option<u32>) -> Budget {
    Budget {
        window,
        max_output,
        default_output: 1000,
        may_lower_max_tokens: false,
    }
}

pub(super) fn run(req: &mut ChatRequest, budget: Budget, strategies: &[Strategy]) -> FitOutcome {
    fit(
        req,
        &ByteCounter,
        &budget,
        strategies,
        &FitOptions::default(),
    )
}

/// System, then `turns` user/assistant pairs of 100 tokens each.
pub(super) fn chat(turns: usize) -> Vec<Message> {
    let mut m = vec![Message::text(Role::System, "be brief")];
    for t in 0..turns {
        m.push(user(100, &format!("u{t}")));
        m.push(assistant(100, &format!("a{t}")));
    }
    m
}

pub(super) fn prompt(req: &ChatRequest) -> u32 {
    let c = ByteCounter;
    c.request_overhead()
        + c.tools(&req.tools)
        + req.messages.iter().map(|m| c.message(m)).sum::<u32>()
}
