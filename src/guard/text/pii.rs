//! PII in text: emails, phone numbers, payment cards (Luhn), IBANs (mod 97)
//! and national ids (US SSN, UK NINO, Spanish DNI/NIE, Indian Aadhaar),
//! found by shape and check digit, masked as `[email]`, `[card]`, … The
//! request side asks `may_contain` of the raw body first.

mod checks;
mod detect;
mod prefilter;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::ops::Range;

use serde::Deserialize;

pub use detect::PII_SPAN;

/// `[guards.pii]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiConfig {
    /// What a finding does to the request or answer.
    pub action: PiiAction,
    /// The kinds looked for.
    pub kinds: Vec<PiiKind>,
    /// Also scan answers (streamed or whole), not only requests.
    pub answers: bool,
}

impl Default for PiiConfig {
    fn default() -> Self {
        PiiConfig {
            action: PiiAction::Mask,
            kinds: PiiKind::ALL.to_vec(),
            answers: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiAction {
    /// Replace each finding by its kind's mask and go on.
    #[default]
    Mask,
    /// Refuse the request, or end the answer with an error event.
    Block,
    /// Leave the text as it is; only the delivery record says so.
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    Card,
    Iban,
    NationalId,
}

impl PiiKind {
    pub const ALL: [PiiKind; 5] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::NationalId,
    ];

    /// What a finding of this kind is replaced by: ASCII with no JSON
    /// metacharacters, so a masked JSON string stays valid.
    pub fn mask(self) -> &'static str {
        match self {
            PiiKind::Email => "[email]",
            PiiKind::Phone => "[phone]",
            PiiKind::Card => "[card]",
            PiiKind::Iban => "[iban]",
            PiiKind::NationalId => "[national_id]",
        }
    }
}

/// One piece of PII: its kind and its byte range in the text scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: PiiKind,
    pub range: Range<usize>,
}

/// What the request prefilter looks for in raw JSON, given to a pass that
/// stands in for it: an `@` (emails), six digits within eight bytes
/// (every numeric kind). A `\u` escape, which may spell either, is the
/// standing-in pass's own reason to say "maybe".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiLook {
    pub emails: bool,
    pub numbers: bool,
}

/// The configured detectors, built once per config snapshot.
#[derive(Debug, Clone)]
pub struct PiiScanner {
    kinds: Vec<PiiKind>,
    /// Whether emails, and numeric kinds, are wanted.
    look: PiiLook,
}

impl PiiScanner {
    pub fn new(config: &PiiConfig) -> Self {
        PiiScanner {
            kinds: config.kinds.clone(),
            look: PiiLook {
                emails: config.kinds.contains(&PiiKind::Email),
                numbers: config.kinds.iter().any(|&k| k != PiiKind::Email),
            },
        }
    }

    /// Whether the raw JSON of a request could hold PII of a wanted kind.
    /// Conservative (never false when `find` on its decoded strings would
    /// find something) and a fraction of an instruction per byte.
    pub fn may_contain(&self, raw_json: &[u8]) -> bool {
        prefilter::may_contain(raw_json, self.look.emails, self.look.numbers)
    }

    /// What `may_contain` looks for, for a pass over the same bytes that
    /// stands in for it (the injection prefilter's).
    pub fn look(&self) -> PiiLook {
        self.look
    }

    /// Every finding of a wanted kind, in order, none overlapping.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        if self.look.emails {
            detect::emails(bytes, &mut found);
        }
        if self.look.numbers {
            let emails_end = found.len();
            detect::numbers(bytes, &mut found);
            found.retain(|f| self.kinds.contains(&f.kind));
            if emails_end > 0 {
                found.sort_by_key(|f| f.range.start);
                drop_overlaps(&mut found);
            }
        }
        found
    }

    /// `text` with every finding replaced by its kind's mask; borrowed when
    /// there was none.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let found = self.find(text);
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in &found {
            out.push_str(&text[at..f.range.start]);
            out.push_str(f.kind.mask());
            at = f.range.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }
}

/// Keeps the first of findings that overlap (an email's digits are not
/// also a phone number). `found` is sorted by start.
fn drop_overlaps(found: &mut Vec<Finding>) {
    let mut end = 0;
    found.retain(|f| {
        let keep = f.range.start >= end;
        if keep {
            end = f.range.end;
        }
        keep
    });
}
