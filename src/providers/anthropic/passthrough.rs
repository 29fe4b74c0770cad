//! Reads an Anthropic Messages stream on the same-dialect passthrough path:
//! the bytes go to the client untouched, and this reader sees each event
//! only to learn what the delivery record needs — `message_start` usage
//! (input, cache read, cache write), `message_delta` usage and stop reason,
//! `message_stop`, `error` — by the event name and byte scans. Only an
//! error event (which ends the stream) is parsed.
//!
//! Usage follows the one canonical rule: Anthropic's `input_tokens`
//! excludes the cache, so prompt tokens = input + cache read + cache write
//! ([`map_usage`], the same function the translated path uses).

use super::convert::{map_error, map_usage};
use super::wire::{OutputTokensDetails, WireUsage};
use crate::api::ApiError;
use crate::canonical::Usage;
use crate::providers::openai::frames::SseFrames;
use crate::providers::openai::frames::scan::{self, Key};

static TYPE: Key = Key::new(b"\"type\"");
static USAGE: Key = Key::new(b"\"usage\"");
static STOP_REASON: Key = Key::new(b"\"stop_reason\"");
static INPUT_TOKENS: Key = Key::new(b"\"input_tokens\"");
static OUTPUT_TOKENS: Key = Key::new(b"\"output_tokens\"");
static CACHE_READ: Key = Key::new(b"\"cache_read_input_tokens\"");
static CACHE_CREATION: Key = Key::new(b"\"cache_creation_input_tokens\"");
static THINKING_TOKENS: Key = Key::new(b"\"thinking_tokens\"");

/// Watches one relayed Anthropic stream.
#[derive(Debug, Default)]
pub struct AnthropicStreamReader {
    frames: SseFrames,
    usage: WireUsage,
    usage_seen: bool,
    stop_reason: Option<String>,
    stopped: bool,
    error: Option<ApiError>,
    events: u64,
    parsed: u64,
}

impl AnthropicStreamReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at one upstream piece (split anywhere) the caller relays.
    pub fn observe(&mut self, piece: &[u8]) {
        let mut frames = std::mem::take(&mut self.frames);
        frames.feed(piece, |event| self.inspect(event));
        self.frames = frames;
    }

    /// Relays events as they came, but `message_delta` (the final usage)
    /// with its cost (`price` of the usage so far, nano-USD) added.
    pub fn relay_with_cost(
        &mut self,
        piece: &[u8],
        out: &mut Vec<u8>,
        price: &dyn Fn(&Usage) -> i64,
    ) {
        let mut frames = std::mem::take(&mut self.frames);
        frames.feed(piece, |event| {
            self.inspect(event);
            let name = scan::event_name(event)
                .or_else(|| scan::data(event).and_then(|d| scan::plain_str(d, &TYPE)));
            if name == Some(b"message_delta".as_slice())
                && let Some(usage) = self.usage()
            {
                crate::governance::cost::inject(event, price(&usage), out);
            } else {
                out.extend_from_slice(event);
            }
        });
        self.frames = frames;
    }

    /// Usage so far in canonical terms (final after `message_stop`);
    /// `None` before `message_start`.
    pub fn usage(&self) -> Option<Usage> {
        self.usage_seen.then(|| map_usage(&self.usage))
    }

    /// Anthropic's `stop_reason` from `message_delta` (`end_turn`,
    /// `tool_use`, `max_tokens`…).
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    /// `message_stop` arrived and no error did: the answer is whole.
    pub fn ended_cleanly(&self) -> bool {
        self.stopped && self.error.is_none()
    }

    /// The stream's `error` event, mapped as an upstream error body is.
    pub fn error(&self) -> Option<&ApiError> {
        self.error.as_ref()
    }

    /// Events seen, and how many of them were parsed (error events only).
    pub fn counts(&self) -> (u64, u64) {
        (self.events, self.parsed)
    }

    fn inspect(&mut self, event: &[u8]) {
        self.events += 1;
        let Some(data) = scan::data(event) else {
            return;
        };
        // Anthropic names every event; the data's `type` is the fallback.
        let name = scan::event_name(event).or_else(|| scan::plain_str(data, &TYPE));
        match name {
            Some(b"message_start") => {
                if let Some(usage) = scan::object(data, &USAGE) {
                    self.merge_usage(usage);
                }
            }
            Some(b"message_delta") => {
                if let Some(reason) = scan::plain_str(data, &STOP_REASON) {
                    self.stop_reason = Some(String::from_utf8_lossy(reason).into_owned());
                }
                if let Some(usage) = scan::object(data, &USAGE) {
                    self.merge_usage(usage);
                }
            }
            Some(b"message_stop") => self.stopped = true,
            Some(b"error") => {
                self.parsed += 1;
                let error = map_error(0, data);
                self.error.get_or_insert(error);
            }
            _ => {}
        }
    }

    /// `message_delta` usage is cumulative: what it carries replaces what
    /// `message_start` said, what it omits stays.
    fn merge_usage(&mut self, usage: &[u8]) {
        self.usage_seen = true;
        let fields = [
            (&INPUT_TOKENS, &mut self.usage.input_tokens),
            (&OUTPUT_TOKENS, &mut self.usage.output_tokens),
            (&CACHE_READ, &mut self.usage.cache_read_input_tokens),
            (&CACHE_CREATION, &mut self.usage.cache_creation_input_tokens),
        ];
        for (key, slot) in fields {
            if let Some(n) = scan::number(usage, key) {
                *slot = Some(n);
            }
        }
        if let Some(n) = scan::number(usage, &THINKING_TOKENS) {
            self.usage.output_tokens_details = Some(OutputTokensDetails {
                thinking_tokens: Some(n),
            });
        }
    }
}
