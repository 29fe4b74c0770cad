//! `middle_out`: keep the head (system prompts and the first user turns,
//! where the task is usually stated) and the tail; drop the oldest turns
//! after the head, in blocks.

use super::blocks::Aim;
use super::conversation::{Conversation, Ledger};
use super::truncate::drop_turns;

/// Like `truncate`, but the first `head_turns` user turns (at least one)
/// stay; `false` when there is no middle to drop or dropping all of it is
/// not enough.
pub(super) fn middle_out(
    conv: &Conversation<'_>,
    ledger: &mut Ledger,
    aim: Aim,
    head_turns: usize,
) -> bool {
    if ledger.prompt <= aim.limit {
        return true;
    }
    let Some(&head_last_user) = conv.users.get(head_turns.max(1) - 1) else {
        return false;
    };
    // The head runs to the first cut point after its last user message.
    let after_head = conv.cuts.partition_point(|&c| c <= head_last_user);
    let Some((&head_end, middle_cuts)) = conv.cuts[after_head..].split_first() else {
        return false;
    };
    drop_turns(conv, ledger, head_end, middle_cuts, aim)
}
