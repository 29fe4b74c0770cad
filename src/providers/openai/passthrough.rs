//! Reads an OpenAI-format stream on the byte-exact passthrough path: the
//! bytes go to the client as the upstream sent them, and this reader sees
//! each event only to learn what the delivery record needs — the usage,
//! the finish reason, `[DONE]`, an error event — by byte scans, never a
//! parse (an error event, which ends the stream, is the one thing parsed).
//!
//! The gateway asks every OpenAI-compatible upstream for
//! `stream_options.include_usage`; for a client that did not ask, the reader
//! can also take the extra usage-only chunk (`"choices":[]` with `usage`)
//! out of the relayed bytes, so the client gets exactly the other events.
//! OpenAI also puts `"usage":null` in every other chunk when asked; those
//! members are left as they are (clients ignore a null usage).

use super::frames::SseFrames;
use super::frames::scan::{self, Key};
use crate::api::ApiError;
use crate::canonical::tape::with_tape;
use crate::canonical::{FinishReason, Usage};

static ERROR: Key = Key::new(b"\"error\"");
static OBJECT: Key = Key::new(b"\"object\"");
static FINISH_REASON: Key = Key::new(b"\"finish_reason\"");
static USAGE: Key = Key::new(b"\"usage\"");
static CHOICES: Key = Key::new(b"\"choices\"");
static PROMPT_TOKENS: Key = Key::new(b"\"prompt_tokens\"");
static COMPLETION_TOKENS: Key = Key::new(b"\"completion_tokens\"");
static TOTAL_TOKENS: Key = Key::new(b"\"total_tokens\"");
static CACHED_TOKENS: Key = Key::new(b"\"cached_tokens\"");
static PROMPT_CACHE_HIT_TOKENS: Key = Key::new(b"\"prompt_cache_hit_tokens\"");
static CACHE_CREATION_TOKENS: Key = Key::new(b"\"cache_creation_tokens\"");
static REASONING_TOKENS: Key = Key::new(b"\"reasoning_tokens\"");

/// Watches one relayed OpenAI-format stream.
#[derive(Debug, Default)]
pub struct OpenAiStreamReader {
    frames: SseFrames,
    usage: Option<Usage>,
    finish_reason: Option<FinishReason>,
    done_after_finish: bool,
    done: bool,
    error: Option<ApiError>,
    events: u64,
    parsed: u64,
}

/// What one event is, for the relay.
enum Seen {
    Other,
    /// The usage-only chunk the gateway asked for.
    UsageOnly,
}

impl OpenAiStreamReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at one upstream piece the caller relays unchanged.
    pub fn observe(&mut self, piece: &[u8]) {
        let mut frames = std::mem::take(&mut self.frames);
        frames.feed(piece, |event| {
            self.inspect(event);
        });
        self.frames = frames;
    }

    /// Looks at one upstream piece and appends to `out` the bytes to send
    /// to a client that did not ask for usage: every complete event except
    /// the usage-only chunk. The bytes of an event still arriving are held
    /// until its end (or [`OpenAiStreamReader::flush`]).
    pub fn relay_without_usage(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        let mut frames = std::mem::take(&mut self.frames);
        frames.feed(piece, |event| {
            if let Seen::Other = self.inspect(event) {
                without_null_usage(event, out);
            }
        });
        self.frames = frames;
    }

    /// Relays events as they came, but the usage-only chunk with its cost
    /// (`price` of the usage, nano-USD) added to its `usage` object.
    pub fn relay_with_cost(
        &mut self,
        piece: &[u8],
        out: &mut Vec<u8>,
        price: &dyn Fn(&Usage) -> i64,
    ) {
        let mut frames = std::mem::take(&mut self.frames);
        frames.feed(piece, |event| match self.inspect(event) {
            Seen::UsageOnly => {
                let usage = self.usage.unwrap_or_default();
                crate::governance::cost::inject(event, price(&usage), out);
            }
            Seen::Other => out.extend_from_slice(event),
        });
        self.frames = frames;
    }

    /// When the upstream body ends in stripping mode: the held bytes of an
    /// unfinished event, passed on as the upstream sent them (the stream
    /// was cut; the caller follows them with its error event).
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frames.take_partial());
    }

    /// The usage the upstream reported (the latest, when it sent several).
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The last finish reason seen.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish_reason
    }

    /// `[DONE]` arrived after a finish reason, with no error: the answer is
    /// whole. Anything else at the end of the body is a cut stream.
    pub fn ended_cleanly(&self) -> bool {
        self.done_after_finish && self.error.is_none()
    }

    /// The error event the upstream sent, if any.
    pub fn error(&self) -> Option<&ApiError> {
        self.error.as_ref()
    }

    /// Events seen, and how many of them were parsed (error events only).
    pub fn counts(&self) -> (u64, u64) {
        (self.events, self.parsed)
    }

    fn inspect(&mut self, event: &[u8]) -> Seen {
        self.events += 1;
        let Some(data) = scan::data(event) else {
            return Seen::Other;
        };
        if data.starts_with(b"[DONE]") {
            self.done = true;
            self.done_after_finish |= self.finish_reason.is_some();
            return Seen::Other;
        }
        // A chunk has `choices` (early, after id and model); an error event
        // has none, so only events without it are searched for an error.
        let choices = scan::value_of(data, &CHOICES);
        let error = scan::event_name(event) == Some(b"error")
            || (choices.is_none()
                && (scan::value_of(data, &ERROR).is_some()
                    || scan::plain_str(data, &OBJECT) == Some(b"error")));
        if error {
            self.on_error(data);
            return Seen::Other;
        }
        let after_choices = &data[choices.unwrap_or(0)..];
        if let Some(reason) = scan::plain_str(after_choices, &FINISH_REASON) {
            self.finish_reason = Some(finish_reason(reason));
        }
        let Some(usage) = scan::object(data, &USAGE) else {
            return Seen::Other;
        };
        self.usage = Some(read_usage(usage));
        let no_choices =
            choices.is_some_and(|at| data[at + 1..].trim_ascii_start().starts_with(b"]"));
        if no_choices {
            Seen::UsageOnly
        } else {
            Seen::Other
        }
    }

    fn on_error(&mut self, data: &[u8]) {
        self.parsed += 1;
        let error = with_tape(data, |parsed, _| match parsed {
            Ok(tape) => {
                let root = tape.as_value();
                let inner = crate::canonical::tape::member(root, "error");
                super::error::error_from_value(502, inner.unwrap_or(root))
            }
            Err(_) => super::map_error(502, data),
        });
        self.error.get_or_insert(error);
    }
}

fn finish_reason(reason: &[u8]) -> FinishReason {
    super::response::finish_reason(std::str::from_utf8(reason).unwrap_or(""))
}

/// OpenAI's usage object, already the canonical meaning; DeepSeek's
/// `prompt_cache_hit_tokens` stands in for `cached_tokens`.
fn read_usage(usage: &[u8]) -> Usage {
    let n = |key: &Key| scan::number(usage, key);
    let prompt = n(&PROMPT_TOKENS).unwrap_or(0);
    let completion = n(&COMPLETION_TOKENS).unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: n(&TOTAL_TOKENS).unwrap_or(prompt + completion),
        cached_prompt_tokens: n(&CACHED_TOKENS)
            .or_else(|| n(&PROMPT_CACHE_HIT_TOKENS))
            .unwrap_or(0),
        cache_creation_tokens: n(&CACHE_CREATION_TOKENS).unwrap_or(0),
        reasoning_tokens: n(&REASONING_TOKENS).unwrap_or(0),
    }
}

/// Appends `event` without the `"usage":null` member OpenAI adds to every
/// chunk once usage is asked for: the client that did not ask gets the
/// bytes it would have got.
fn without_null_usage(event: &[u8], out: &mut Vec<u8>) {
    const MEMBER: &[u8] = b",\"usage\":null";
    match memchr::memmem::find(event, MEMBER) {
        Some(at) => {
            out.extend_from_slice(&event[..at]);
            out.extend_from_slice(&event[at + MEMBER.len()..]);
        }
        None => out.extend_from_slice(event),
    }
}

#[cfg(test)]
mod null_usage_tests {
    #[test]
    fn the_null_usage_member_is_taken_out() {
        let mut out = Vec::new();
        super::without_null_usage(
            b"data: {\"id\":\"x\",\"choices\":[],\"usage\":null}\n\n",
            &mut out,
        );
        assert_eq!(out, b"data: {\"id\":\"x\",\"choices\":[]}\n\n");
    }
}
