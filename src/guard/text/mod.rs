//! PII, secrets and leaks in text: the request-side PII scan (`pii`), the
//! system-prompt echo print (`leak`), and the answer guard that redacts keys,
//! canaries, PII and echoes as a stream flows, holding back only a bounded
//! window (`window`). `TextPolicy` is built per config snapshot,
//! `TextRules` per request (it adds the request's system prompt).

pub mod leak;
pub mod pii;
pub mod window;

use std::borrow::Cow;
use std::sync::Arc;

pub use leak::{LeakAction, LeakConfig, PromptPrint};
pub use pii::{Finding, PiiAction, PiiConfig, PiiKind, PiiLook, PiiScanner};
pub use window::{Emit, LeakEvent, LeakKind, StreamGuard, Verdict};

/// A shorter canary would match ordinary words.
pub const CANARY_MIN: usize = 8;
/// A longer canary would widen every stream's window for little gain.
pub const CANARY_MAX: usize = 256;
/// Fewer words than this overlap by chance; more would widen the window.
pub const MIN_WORDS: std::ops::RangeInclusive<usize> = 4..=64;

/// Why a `[guards.pii]` / `[guards.leak]` pair cannot be used. Never quotes
/// a canary: it is a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextConfigError {
    #[error("guards.leak.canaries: each canary must be {CANARY_MIN} to {CANARY_MAX} bytes long")]
    CanaryLength,
    #[error("guards.leak.min_words must be between 4 and 64")]
    MinWords,
}

/// The text guards of one config snapshot.
#[derive(Debug)]
pub struct TextPolicy {
    pii: Option<(PiiScanner, PiiConfig)>,
    leak: Option<LeakConfig>,
}

impl TextPolicy {
    /// From `[guards.pii]` and `[guards.leak]` (each absent = off), with the
    /// canaries already resolved from their references.
    pub fn new(
        pii: Option<&PiiConfig>,
        leak: Option<&LeakConfig>,
    ) -> Result<Self, TextConfigError> {
        if let Some(leak) = leak {
            let bad_canary = |c: &String| !(CANARY_MIN..=CANARY_MAX).contains(&c.len());
            if leak.canaries.iter().any(bad_canary) {
                return Err(TextConfigError::CanaryLength);
            }
            if leak.system_prompt && !MIN_WORDS.contains(&leak.min_words) {
                return Err(TextConfigError::MinWords);
            }
        }
        Ok(TextPolicy {
            pii: pii.map(|c| (PiiScanner::new(c), c.clone())),
            leak: leak.cloned(),
        })
    }

    /// The request-side scanner and what a finding does, when PII is on.
    pub fn pii(&self) -> Option<(&PiiScanner, PiiAction)> {
        self.pii
            .as_ref()
            .map(|(scanner, config)| (scanner, config.action))
    }

    /// The rules for one request's answer, with its system prompt printed
    /// when echo detection is on.
    pub fn for_request(self: &Arc<Self>, system_prompt: Option<&str>) -> TextRules {
        let print = self
            .leak
            .as_ref()
            .filter(|leak| leak.system_prompt)
            .zip(system_prompt)
            .and_then(|(leak, prompt)| PromptPrint::new(prompt, leak::SHINGLE.min(leak.min_words)));
        TextRules {
            policy: Arc::clone(self),
            print: print.map(Arc::new),
        }
    }

    pub(crate) fn answer_pii(&self) -> Option<(&PiiScanner, PiiAction)> {
        self.pii
            .as_ref()
            .filter(|(_, config)| config.answers)
            .map(|(scanner, config)| (scanner, config.action))
    }

    pub(crate) fn leak(&self) -> Option<&LeakConfig> {
        self.leak.as_ref()
    }
}

/// What one request's answer is checked against.
#[derive(Debug, Clone)]
pub struct TextRules {
    policy: Arc<TextPolicy>,
    print: Option<Arc<PromptPrint>>,
}

impl TextRules {
    pub(crate) fn policy(&self) -> &TextPolicy {
        &self.policy
    }

    pub(crate) fn print(&self) -> Option<&Arc<PromptPrint>> {
        self.print.as_ref()
    }

    /// A guard for one streamed answer.
    pub fn stream(&self) -> StreamGuard {
        StreamGuard::new(self.clone())
    }

    /// A whole (non-stream) answer: the text to send, borrowed when nothing
    /// changed, and the strongest event. After a block, the text is only
    /// what preceded the blocked finding; the caller sends an error instead.
    pub fn check_whole<'t>(&self, text: &'t str) -> (Cow<'t, str>, Option<LeakEvent>) {
        let mut guard = self.stream();
        let first = guard.push(text);
        let last = guard.finish();
        let event = window::strongest(first.event, last.event);
        let mut out = first.text;
        out.push_str(&last.text);
        match out == text {
            true => (Cow::Borrowed(text), event),
            false => (Cow::Owned(out), event),
        }
    }
}
