//! `truncate`: drop the oldest turns, in blocks, keeping system and
//! developer prompts and the latest user turn.

use super::blocks::{Aim, Pick, pick};
use super::conversation::{Conversation, Ledger};

/// Shrinks the ledger's prompt to `limit` or below by dropping whole turns
/// from the start; `false`, with the turns up to the last grid cut gone,
/// when that is not enough.
pub(super) fn truncate(conv: &Conversation<'_>, ledger: &mut Ledger, aim: Aim) -> bool {
    drop_turns(conv, ledger, 0, &conv.cuts, aim)
}

/// Drops the unpinned messages from `from` up to one of `cuts` (cut points
/// past `from`, ascending), choosing the cut by the block rule.
pub(super) fn drop_turns(
    conv: &Conversation<'_>,
    ledger: &mut Ledger,
    from: usize,
    cuts: &[usize],
    aim: Aim,
) -> bool {
    if ledger.prompt <= aim.limit {
        return true;
    }
    let freed = ledger.freed_by_cuts(conv, from, cuts);
    let (k, fits) = match pick(&freed, ledger.prompt - aim.limit, aim) {
        Pick::Enough(k) => (k, true),
        Pick::Short(Some(k)) => (k, false),
        Pick::Short(None) => return false,
    };
    ledger.drop_span(conv, from, cuts[k]);
    fits
}
