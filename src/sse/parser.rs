//! Incremental SSE parser following the WHATWG event-stream rules: bytes in
//! arbitrary pieces, events out once their terminating blank line arrives.

use std::collections::VecDeque;

/// One complete event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; empty when the event had none.
    pub event: String,
    /// All `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
}

impl SseEvent {
    /// The event type, `message` when none was given (as browsers do).
    pub fn event_type(&self) -> &str {
        if self.event.is_empty() {
            "message"
        } else {
            &self.event
        }
    }
}

/// Feeds on raw bytes, yields complete events.
///
/// Only a partial line is ever copied between feeds; complete lines are read
/// straight from the input slice. An event is emitted only after its blank
/// line: a stream that stops mid-event leaves it pending (see
/// [`SseParser::has_partial_event`]), never half-delivered.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The unfinished line carried over from the previous feed.
    line: Vec<u8>,
    /// The previous feed ended in `\r`; a leading `\n` is part of that break.
    skip_lf: bool,
    /// No line processed yet, so a UTF-8 BOM may still need stripping.
    seen_first_line: bool,
    event: String,
    data: String,
    has_data: bool,
    id: Option<String>,
    ready: VecDeque<SseEvent>,
}

impl SseParser {
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Consumes `bytes`; complete events become available from
    /// [`SseParser::next_event`].
    pub fn feed(&mut self, mut bytes: &[u8]) {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.line.is_empty() {
                self.process_line(&bytes[..end]);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&bytes[..end]);
                self.process_line(&line);
                line.clear();
                self.line = line;
            }
            let mut next = end + 1;
            if bytes[end] == b'\r' {
                match bytes.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            bytes = &bytes[next..];
        }
        self.line.extend_from_slice(bytes);
    }

    /// The next complete event, in stream order.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    /// True when bytes of an unterminated event are buffered: if the stream
    /// ends now, that event was cut.
    pub fn has_partial_event(&self) -> bool {
        !self.line.is_empty() || self.has_data || !self.event.is_empty() || self.id.is_some()
    }

    fn process_line(&mut self, mut line: &[u8]) {
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                self.data.push_str(&String::from_utf8_lossy(value));
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
            }
            // `retry` and unknown fields do not concern a proxy.
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        if !self.has_data {
            // Per the spec an event without data is dropped, fields and all.
            self.event.clear();
            self.id = None;
            return;
        }
        self.has_data = false;
        self.ready.push_back(SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data),
            id: self.id.take(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> (Vec<SseEvent>, bool) {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c);
            while let Some(ev) = p.next_event() {
                out.push(ev);
            }
        }
        (out, p.has_partial_event())
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    const STREAM: &[u8] = b"\xEF\xBB\xBF: comment\r\n\
event: message_start\r\ndata: {\"a\":1}\r\n\r\n\
data:no-space\n\
data:  two spaces\n\
id: 7\n\n\
event: ping\n\
data\n\n\
: keep-alive\n\n\
event: crlf-cr\rdata: x\xC3\xA9\r\r\
event: dropped\n\n\
data: tail-without-blank-line";

    fn expected() -> Vec<SseEvent> {
        vec![
            ev("message_start", "{\"a\":1}", None),
            ev("", "no-space\n two spaces", Some("7")),
            ev("ping", "", None),
            ev("crlf-cr", "x\u{e9}", None),
        ]
    }

    #[test]
    fn parses_a_whole_stream() {
        let (events, partial) = parse_all(&[STREAM]);
        assert_eq!(events, expected());
        assert!(partial, "the unterminated last event stays pending");
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        for cut in 0..=STREAM.len() {
            let (events, partial) = parse_all(&[&STREAM[..cut], &STREAM[cut..]]);
            assert_eq!(events, expected(), "split at {cut}");
            assert!(partial);
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_events() {
        for a in 0..=STREAM.len() {
            for b in a..=STREAM.len() {
                let (events, _) = parse_all(&[&STREAM[..a], &STREAM[a..b], &STREAM[b..]]);
                assert_eq!(events, expected(), "split at {a},{b}");
            }
        }
    }

    #[test]
    fn byte_by_byte_feeding_works() {
        let pieces: Vec<&[u8]> = STREAM.chunks(1).collect();
        let (events, _) = parse_all(&pieces);
        assert_eq!(events, expected());
    }

    #[test]
    fn final_event_is_emitted_once_terminated() {
        let mut p = SseParser::new();
        p.feed(b"data: last");
        assert!(p.next_event().is_none());
        p.feed(b"\n");
        assert!(p.next_event().is_none());
        assert!(p.has_partial_event());
        p.feed(b"\n");
        assert_eq!(p.next_event(), Some(ev("", "last", None)));
        assert!(!p.has_partial_event());
    }

    #[test]
    fn cr_at_end_of_feed_then_lf_is_one_break() {
        let (events, partial) = parse_all(&[b"data: a\r", b"\n\r", b"\n"]);
        assert_eq!(events, vec![ev("", "a", None)]);
        assert!(!partial);
    }
}
