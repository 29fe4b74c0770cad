//! Encoded runs inside a text — base64, hex, and percent-encoding —
//! decoded so the rules can read what they carry. The
//! run predicate is shared with the prefilter, which must see every run
//! `scan` would decode.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// Runs shorter than this are ordinary words; between this and
/// `LONG_RUN` a decoded run only counts as text, never as an instruction.
pub(crate) const SHORT_RUN: usize = 8;
pub(crate) const LONG_RUN: usize = 16;
/// Bounds on the work one text can ask for.
const MAX_RUNS: usize = 8;
const MAX_RUN_BYTES: usize = 8192;
/// Percent escapes needed before a run is worth decoding.
const MIN_PERCENT_ESCAPES: usize = 3;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);

/// A decoded run and whether it was long enough to carry an instruction.
pub(crate) struct Decoded {
    pub text: String,
    pub long: bool,
    pub percent: bool,
}

/// `-` and `_` end a run: URL-safe base64 is given up so that model names
/// and ids (`gpt-4o-2024-08-06`) stay short runs.
pub(crate) const fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// A run is a candidate when it is long enough and not a plain word: it
/// holds a digit or one of `+/=` (base64 of text nearly always does).
pub(crate) fn is_candidate(run: &[u8]) -> bool {
    run.len() >= SHORT_RUN
        && run
            .iter()
            .any(|b| b.is_ascii_digit() || matches!(b, b'+' | b'/' | b'='))
}

/// Every decodable run in `text`, bounded in count and size.
pub(crate) fn decoded_runs(text: &str) -> Vec<Decoded> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() && out.len() < MAX_RUNS {
        if !is_run_byte(bytes[start]) {
            start += 1;
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|b| !is_run_byte(*b))
            .map_or(bytes.len(), |n| start + n);
        let run = &bytes[start..end.min(start + MAX_RUN_BYTES)];
        if let Some(text) = is_candidate(run).then(|| decode_run(run)).flatten() {
            out.push(Decoded {
                text,
                long: run.len() >= LONG_RUN,
                percent: false,
            });
        }
        start = end;
    }
    if let Some(text) = percent_decoded(text) {
        out.push(Decoded {
            text,
            long: true,
            percent: true,
        });
    }
    out
}

fn decode_run(run: &[u8]) -> Option<String> {
    let trimmed = trim_padding(run);
    let raw = if trimmed.len().is_multiple_of(2) && trimmed.iter().all(u8::is_ascii_hexdigit) {
        hex(trimmed)
    } else {
        STANDARD.decode(trimmed).ok()
    }?;
    readable(raw)
}

fn trim_padding(run: &[u8]) -> &[u8] {
    let end = run.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    &run[..end]
}

fn hex(digits: &[u8]) -> Option<Vec<u8>> {
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Decoded bytes count only as printable UTF-8 with some letters in it;
/// random identifiers decode to binary.
fn readable(raw: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(raw).ok()?;
    let printable = text
        .chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\t');
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    (printable && letters >= 3).then_some(text)
}

/// The text with `%XX` escapes decoded, when it has enough of them.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let escapes = bytes
        .windows(3)
        .filter(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
        .count();
    if escapes < MIN_PERCENT_ESCAPES {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len().min(MAX_RUN_BYTES));
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_RUN_BYTES {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(hex)
            .and_then(|v| v.first().copied());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}
