//! What fitting knows about a conversation, worked out once per call: each
//! message's token count, where the conversation may be cut without breaking
//! it, and the [`Ledger`] of what the strategies have dropped or stubbed so far.

use std::collections::HashMap;

use super::compress::StubCandidate;
use crate::canonical::{ChatRequest, Message, Role};
use crate::context_window::CountTokens;

/// System and developer prompts: no strategy removes them.
pub(super) fn is_pinned(message: &Message) -> bool {
    matches!(message.role, Role::System | Role::Developer)
}

/// The read-only facts about one request.
pub(super) struct Conversation<'a> {
    pub messages: &'a [Message],
    pub counter: &'a dyn CountTokens,
    /// Request overhead plus tool schemas: what no strategy can shrink.
    pub fixed: u64,
    /// Each message's count as sent (before any stub).
    pub tokens: Vec<u32>,
    /// Indices of user messages, oldest first.
    pub users: Vec<usize>,
    /// Cut points, ascending: indices of user messages no tool call/result
    /// pair straddles, up to and including the latest user message. Dropping
    /// the unpinned messages between two cut points (or from the start to a
    /// cut point) leaves every pair whole and a user turn right after the cut.
    pub cuts: Vec<usize>,
    /// Tool results at or past this index answer the latest round of calls.
    pub latest_round: usize,
    pub(super) stubs: std::cell::OnceCell<Vec<StubCandidate>>,
}

impl<'a> Conversation<'a> {
    pub fn analyse(request: &'a ChatRequest, counter: &'a dyn CountTokens) -> Self {
        let messages = &request.messages[..];
        let fixed =
            u64::from(counter.request_overhead()) + u64::from(counter.tools(&request.tools));
        let tokens = messages.iter().map(|m| counter.message(m)).collect();
        let users: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i].role == Role::User)
            .collect();
        let straddled = straddled(messages);
        let cuts = users.iter().copied().filter(|&u| !straddled[u]).collect();
        let latest_round = messages
            .iter()
            .rposition(|m| m.role == Role::Assistant && !m.tool_calls.is_empty())
            .map_or(0, |i| i + 1);
        Conversation {
            messages,
            counter,
            fixed,
            tokens,
            users,
            cuts,
            latest_round,
            stubs: std::cell::OnceCell::new(),
        }
    }

    pub fn prompt_tokens(&self) -> u64 {
        self.fixed + self.tokens.iter().map(|&t| u64::from(t)).sum::<u64>()
    }
}

/// `straddled[i]` is true when a tool result at or after `i` answers a call
/// made before `i`, so cutting at `i` would split the pair. A result answers
/// the latest earlier assistant message that made a call with its id (ids
/// are reused across turns by some clients).
fn straddled(messages: &[Message]) -> Vec<bool> {
    let mut depth = vec![0i32; messages.len() + 1];
    let mut caller: HashMap<&str, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        for call in &m.tool_calls {
            if m.role == Role::Assistant {
                caller.insert(call.id.as_str(), i);
            }
        }
        if m.role != Role::Tool {
            continue;
        }
        let Some(&call) = m.tool_call_id.as_deref().and_then(|id| caller.get(id)) else {
            continue;
        };
        if call < i {
            depth[call + 1] += 1;
            depth[i + 1] -= 1;
        }
    }
    let mut open = 0;
    depth
        .iter()
        .take(messages.len())
        .map(|d| {
            open += d;
            open > 0
        })
        .collect()
}

/// What the strategies have done so far: cheap to copy, applied to the
/// request only when a fit is found.
#[derive(Clone, Debug)]
pub(super) struct Ledger {
    /// Each message's count now (a stub's count once compressed, 0 once dropped).
    pub tokens: Vec<u32>,
    pub dropped: Vec<bool>,
    /// Index into the conversation's stub candidates, per compressed message.
    pub stubbed: Vec<Option<u32>>,
    pub prompt: u64,
}

impl Ledger {
    pub fn new(conv: &Conversation<'_>) -> Self {
        Ledger {
            tokens: conv.tokens.clone(),
            dropped: vec![false; conv.tokens.len()],
            stubbed: vec![None; conv.tokens.len()],
            prompt: conv.prompt_tokens(),
        }
    }

    pub fn drop_message(&mut self, i: usize) {
        if !self.dropped[i] {
            self.dropped[i] = true;
            self.prompt -= u64::from(self.tokens[i]);
            self.tokens[i] = 0;
        }
    }

    /// Drops the unpinned messages in `from..to`.
    pub fn drop_span(&mut self, conv: &Conversation<'_>, from: usize, to: usize) {
        for i in from..to {
            if !is_pinned(&conv.messages[i]) {
                self.drop_message(i);
            }
        }
    }

    /// Tokens that dropping the unpinned messages in `from..to` would free,
    /// for each cut point `to` in `cuts`, in order.
    pub fn freed_by_cuts(&self, conv: &Conversation<'_>, from: usize, cuts: &[usize]) -> Vec<u64> {
        let mut freed = Vec::with_capacity(cuts.len());
        let mut sum = 0u64;
        let mut at = from;
        for &cut in cuts {
            while at < cut {
                if !is_pinned(&conv.messages[at]) {
                    sum += u64::from(self.tokens[at]);
                }
                at += 1;
            }
            freed.push(sum);
        }
        freed
    }

    pub fn messages_dropped(&self) -> u32 {
        self.dropped.iter().filter(|&&d| d).count() as u32
    }

    pub fn results_stubbed(&self) -> u32 {
        self.stubbed
            .iter()
            .zip(&self.dropped)
            .filter(|(s, d)| s.is_some() && !**d)
            .count() as u32
    }
}
