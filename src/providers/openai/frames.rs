//! The cheap half of SSE for relayed streams: [`SseFrames`] cuts raw
//! upstream pieces (split anywhere) into whole events with one `memchr`
//! per line, and [`scan`] finds a JSON member in an event by `memmem`, so a
//! passthrough reader looks at a few keys instead of parsing every event.
//! Shared by the OpenAI and Anthropic passthrough readers.

/// Cuts a byte stream into events, each ending at a blank line (`\n\n` or
/// `\r\n\r\n`; servers that end lines with a lone `\r` are not seen here).
/// Only an event that spans pieces is copied; the rest are handed out as
/// slices of the piece.
#[derive(Debug, Default)]
pub struct SseFrames {
    /// The bytes of the unfinished event, carried over to the next piece.
    pending: Vec<u8>,
    /// The last two bytes of the stream so far, to see a blank line that
    /// straddles two pieces.
    tail: [u8; 2],
}

impl SseFrames {
    /// Feeds one piece; `on_event` gets each event completed by it, with
    /// its terminating blank line.
    pub fn feed(&mut self, piece: &[u8], mut on_event: impl FnMut(&[u8])) {
        let tail = self.tail;
        let before = |i: usize, k: usize| {
            if i >= k {
                piece[i - k]
            } else {
                tail[2 - (k - i)]
            }
        };
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', piece) {
            let prev = before(i, 1);
            let blank = prev == b'\n' || (prev == b'\r' && before(i, 2) == b'\n');
            if !blank {
                continue;
            }
            if self.pending.is_empty() {
                on_event(&piece[start..=i]);
            } else {
                self.pending.extend_from_slice(&piece[start..=i]);
                on_event(&self.pending);
                self.pending.clear();
            }
            start = i + 1;
        }
        self.pending.extend_from_slice(&piece[start..]);
        self.tail = match piece {
            [.., a, b] => [*a, *b],
            [b] => [tail[1], *b],
            [] => tail,
        };
    }

    /// Bytes of an event whose blank line has not arrived: if the stream
    /// ends now, that event was cut.
    pub fn partial(&self) -> &[u8] {
        &self.pending
    }

    /// Hands out (and forgets) the unfinished event's bytes.
    pub fn take_partial(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// Byte scans over one event's JSON. A pattern `"key"` followed by `:`
/// can only be a member name: inside a JSON string every `"` is escaped,
/// and a string value is never followed by a colon. Keys are [`Key`]s,
/// searchers built once per process: building one per lookup cost more
/// than the search.
pub mod scan {
    use memchr::memmem::Finder;

    /// A member name, quotes included, with its searcher built on first use.
    pub struct Key {
        quoted: &'static [u8],
        finder: std::sync::OnceLock<Finder<'static>>,
    }

    impl Key {
        /// `quoted` is the name as it appears in JSON: `b"\"usage\""`.
        pub const fn new(quoted: &'static [u8]) -> Self {
            Key {
                quoted,
                finder: std::sync::OnceLock::new(),
            }
        }

        fn finder(&self) -> &Finder<'static> {
            self.finder.get_or_init(|| Finder::new(self.quoted))
        }
    }

    /// Finding where an event's `data:` field starts.
    static DATA: Key = Key::new(b"data:");

    /// The first line's value of `data:` in an event (without the space),
    /// up to its line end. Servers send a JSON chunk on one line; a value
    /// split over several `data:` lines is read from its first.
    pub fn data(event: &[u8]) -> Option<&[u8]> {
        let at = DATA.finder().find(event)?;
        let rest = &event[at + 5..];
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        Some(&rest[..end])
    }

    /// The `event:` field, when the event starts with one.
    pub fn event_name(event: &[u8]) -> Option<&[u8]> {
        let rest = event.strip_prefix(b"event:")?;
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        Some(&rest[..end])
    }

    /// Where the value of the first member named `key` in `json` starts.
    pub fn value_of(json: &[u8], key: &Key) -> Option<usize> {
        let len = key.quoted.len();
        for at in key.finder().find_iter(json) {
            let mut i = skip_ws(json, at + len);
            if json.get(i) != Some(&b':') {
                continue;
            }
            i = skip_ws(json, i + 1);
            return (i < json.len()).then_some(i);
        }
        None
    }

    /// The unsigned integer value of member `key`.
    pub fn number(json: &[u8], key: &Key) -> Option<u64> {
        let at = value_of(json, key)?;
        let digits = json[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&json[at..at + digits])
            .ok()?
            .parse()
            .ok()
    }

    /// The string value of member `key`, when it has no escapes (finish
    /// reasons, stop reasons, event types).
    pub fn plain_str<'j>(json: &'j [u8], key: &Key) -> Option<&'j [u8]> {
        let at = value_of(json, key)?;
        let rest = json[at..].strip_prefix(b"\"")?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        (rest[end] == b'"').then(|| &rest[..end])
    }

    /// The object value of member `key`, braces included.
    pub fn object<'j>(json: &'j [u8], key: &Key) -> Option<&'j [u8]> {
        let at = value_of(json, key)?;
        if json[at] != b'{' {
            return None;
        }
        let end = crate::canonical::json_scan::skip_value(json, at)?;
        Some(&json[at..end])
    }

    fn skip_ws(json: &[u8], mut i: usize) -> usize {
        while json.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    }
}
