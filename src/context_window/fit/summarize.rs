//! `summarize`: the oldest turns, chosen by the block rule, are handed to the
//! caller to condense with a cheap model; [`apply_summary`] puts the summary
//! in their place, and the caller fits again.

use std::ops::Range;

use super::blocks::{Aim, Pick, pick};
use super::conversation::{Conversation, Ledger, is_pinned};
use crate::canonical::{ChatRequest, Message, Role};

/// What opens the message that replaces condensed turns.
pub const SUMMARY_HEADING: &str = "[Summary of the earlier conversation, condensed by Tollgate]";

/// The turns to condense and the room their summary may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SummaryPlan {
    pub range: Range<usize>,
    pub range_tokens: u32,
    pub max_summary_tokens: u32,
}

/// The oldest turns whose replacement by a summary of `reserve` tokens
/// brings the prompt to `limit`; `None` when no such range exists.
pub(super) fn plan(
    conv: &Conversation<'_>,
    ledger: &Ledger,
    aim: Aim,
    reserve: u32,
) -> Option<SummaryPlan> {
    let limit = aim.limit;
    let start = conv.messages.iter().position(|m| !is_pinned(m))?;
    let excess = (ledger.prompt + u64::from(reserve)).saturating_sub(limit);
    let freed = ledger.freed_by_cuts(conv, 0, &conv.cuts);
    let Pick::Enough(k) = pick(&freed, excess.max(1), aim) else {
        return None;
    };
    let kept = ledger.prompt - freed[k];
    Some(SummaryPlan {
        range: start..conv.cuts[k],
        range_tokens: clamp(freed[k]),
        max_summary_tokens: clamp(limit.saturating_sub(kept)),
    })
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The range handed back does not fit the request: it was planned for
/// another one, or it would not leave a user turn after the summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("summary range {start}..{end} does not fit a request of {len} messages")]
pub struct StaleSummaryRange {
    pub start: usize,
    pub end: usize,
    pub len: usize,
}

/// The messages to condense: the unpinned ones in `range` (system and
/// developer prompts in it stay and need no summary). Empty for a range
/// outside the request.
pub fn summary_source<'r>(
    request: &'r ChatRequest,
    range: &Range<usize>,
) -> impl Iterator<Item = &'r Message> {
    request
        .messages
        .get(range.clone())
        .unwrap_or_default()
        .iter()
        .filter(|m| !is_pinned(m))
}

/// Replaces the unpinned messages in `range` with one user message holding
/// `summary` under [`SUMMARY_HEADING`]; pinned messages in the range stay,
/// after it. The range must end at a user message, as planned ranges do, so
/// the conversation goes on with a user turn (adapters that need strict
/// alternation merge the two user messages into one turn).
pub fn apply_summary(
    request: &mut ChatRequest,
    range: Range<usize>,
    summary: &str,
) -> Result<(), StaleSummaryRange> {
    let messages = &mut request.messages;
    let stale = StaleSummaryRange {
        start: range.start,
        end: range.end,
        len: messages.len(),
    };
    let ends_at_user = messages
        .get(range.end)
        .is_some_and(|m| m.role == Role::User);
    if range.start >= range.end || !ends_at_user {
        return Err(stale);
    }
    let tail = messages.split_off(range.end);
    let condensed = messages.split_off(range.start);
    messages.push(Message::text(
        Role::User,
        format!("{SUMMARY_HEADING}\n{summary}"),
    ));
    messages.extend(condensed.into_iter().filter(is_pinned));
    messages.extend(tail);
    Ok(())
}
