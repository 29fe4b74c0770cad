//! Writes SSE events into a reusable buffer.

/// Appends one event: an optional `event:` line, one `data:` line per line of
/// `data` (the SSE way to carry newlines), and the blank line that ends it.
pub fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    out.reserve(data.len() + 16);
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    // `\r\n`, `\n` and a lone `\r` all end a line in SSE, so each becomes
    // its own `data:` line; the reader joins them back with `\n`.
    for line in data.split('\n') {
        for part in line.strip_suffix('\r').unwrap_or(line).split('\r') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(part.as_bytes());
            out.push(b'\n');
        }
    }
    out.push(b'\n');
}

/// Appends a comment line, which clients ignore; used as a keep-alive.
pub fn write_comment(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b": ");
    out.extend_from_slice(text.replace(['\n', '\r'], " ").as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    #[test]
    fn written_events_parse_back() {
        let mut out = Vec::new();
        write_event(&mut out, Some("message_start"), "{\"a\":1}");
        write_comment(&mut out, "keep\nalive");
        write_event(&mut out, None, "line one\nline two");
        let mut parser = SseParser::new();
        parser.feed(&out);
        let first = parser.next_event().unwrap();
        assert_eq!(
            (first.event.as_str(), first.data.as_str()),
            ("message_start", "{\"a\":1}")
        );
        let second = parser.next_event().unwrap();
        assert_eq!(second.event_type(), "message");
        assert_eq!(second.data, "line one\nline two");
        assert!(parser.next_event().is_none());
    }
}
