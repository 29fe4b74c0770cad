//! `compress_tool_results`: old tool results give way to a stub naming their
//! size and hash, oldest first, in blocks. The results of the latest round
//! of calls stay whole: the model is about to read them.

use ring::digest::{Context, SHA256};

use super::blocks::{Aim, Pick, pick};
use super::conversation::{Conversation, Ledger};
use crate::canonical::{ContentPart, ImageSource, Message, Parts, Role};

/// A tool result that may be stubbed, with the stub and what it costs.
#[derive(Debug)]
pub(super) struct StubCandidate {
    pub index: usize,
    pub text: String,
    pub tokens: u32,
}

/// `[tool result elided by Tollgate: 18234 bytes, sha256 1a2b3c4d]`: the
/// byte length and the first 4 bytes of the SHA-256 of the result's text
/// (its parts concatenated; an image counts as its URL or base64 data), so
/// for a plain-text result anyone can check which output was elided.
/// SHA-256 comes from `ring`, already linked for TLS.
pub fn stub_text(message: &Message) -> String {
    let mut hash = Context::new(&SHA256);
    let mut bytes = 0usize;
    for part in &message.content {
        let piece = match part {
            ContentPart::Text(text) => text.as_str(),
            ContentPart::Image(image) => match &image.source {
                ImageSource::Url(url) => url.as_str(),
                ImageSource::Base64 { data, .. } => data.as_str(),
            },
        };
        hash.update(piece.as_bytes());
        bytes += piece.len();
    }
    let digest = hash.finish();
    let d = digest.as_ref();
    format!(
        "[tool result elided by Tollgate: {bytes} bytes, sha256 {:02x}{:02x}{:02x}{:02x}]",
        d[0], d[1], d[2], d[3]
    )
}

/// The message a stubbed result becomes: same role, call id, error flag and
/// name; only the content changes.
pub(super) fn stubbed(message: &Message, text: String) -> Message {
    Message {
        role: message.role,
        content: Parts::one(ContentPart::Text(text)),
        name: message.name.clone(),
        tool_calls: Vec::new(),
        tool_call_id: message.tool_call_id.clone(),
        tool_error: message.tool_error,
        reasoning: Vec::new(),
    }
}

/// Tool results before the latest round that cost at least `min_tokens`
/// and more than their stub, oldest first.
fn candidates(conv: &Conversation<'_>, min_tokens: u32) -> Vec<StubCandidate> {
    let mut out = Vec::new();
    for (index, m) in conv.messages[..conv.latest_round.min(conv.messages.len())]
        .iter()
        .enumerate()
    {
        if m.role != Role::Tool || conv.tokens[index] < min_tokens.max(1) {
            continue;
        }
        let text = stub_text(m);
        let tokens = conv.counter.message(&stubbed(m, text.clone()));
        if tokens < conv.tokens[index] {
            out.push(StubCandidate {
                index,
                text,
                tokens,
            });
        }
    }
    out
}

/// Shrinks the ledger's prompt to `limit` or below by stubbing old tool
/// results; `false`, with the candidates up to the last grid cut stubbed,
/// when that is not enough.
pub(super) fn compress(
    conv: &Conversation<'_>,
    ledger: &mut Ledger,
    aim: Aim,
    min_tokens: u32,
) -> bool {
    if ledger.prompt <= aim.limit {
        return true;
    }
    let all = conv.stubs.get_or_init(|| candidates(conv, min_tokens));
    let open: Vec<usize> = (0..all.len())
        .filter(|&c| {
            let i = all[c].index;
            !ledger.dropped[i] && ledger.stubbed[i].is_none()
        })
        .collect();
    let mut sum = 0u64;
    let freed: Vec<u64> = open
        .iter()
        .map(|&c| {
            let cand = &all[c];
            sum += u64::from(ledger.tokens[cand.index].saturating_sub(cand.tokens));
            sum
        })
        .collect();
    let (upto, fits) = match pick(&freed, ledger.prompt - aim.limit, aim) {
        Pick::Enough(k) => (k + 1, true),
        Pick::Short(last_grid) => (last_grid.map_or(0, |k| k + 1), false),
    };
    for &c in &open[..upto] {
        let cand = &all[c];
        let i = cand.index;
        ledger.prompt -= u64::from(ledger.tokens[i].saturating_sub(cand.tokens));
        ledger.tokens[i] = cand.tokens.min(ledger.tokens[i]);
        ledger.stubbed[i] = Some(c as u32);
    }
    fits
}
