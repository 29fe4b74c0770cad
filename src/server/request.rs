//! A parsed request: its head kept as one buffer with ranges into it, and its body.

use std::ops::Range;

pub struct Request {
    head: Vec<u8>,
    method: Range<usize>,
    path: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    pub body: Vec<u8>,
    /// HTTP/1.0 (`false`) or HTTP/1.1.
    pub http11: bool,
}

impl Request {
    /// Builds from a complete httparse result over `buf`, whose first `len`
    /// bytes are the head; the head is copied, the ranges index the copy.
    pub(super) fn from_parsed(buf: &[u8], len: usize, parsed: &httparse::Request<'_, '_>) -> Self {
        let head = buf[..len].to_vec();
        let base = buf.as_ptr() as usize;
        let range = |s: &[u8]| {
            let start = s.as_ptr() as usize - base;
            start..start + s.len()
        };
        let method = range(parsed.method.unwrap_or("").as_bytes());
        let path = range(parsed.path.unwrap_or("").as_bytes());
        let headers = parsed
            .headers
            .iter()
            .map(|h| (range(h.name.as_bytes()), range(h.value)))
            .collect();
        Self {
            method,
            path,
            headers,
            body: Vec::new(),
            http11: parsed.version == Some(1),
            head,
        }
    }

    pub fn method(&self) -> &str {
        // httparse only accepts token characters for the method: ASCII.
        std::str::from_utf8(&self.head[self.method.clone()]).unwrap_or("")
    }

    /// The request target without its query string.
    pub fn path(&self) -> &str {
        let full = std::str::from_utf8(&self.head[self.path.clone()]).unwrap_or("");
        full.split_once('?').map_or(full, |(p, _)| p)
    }

    pub fn query(&self) -> Option<&str> {
        let full = std::str::from_utf8(&self.head[self.path.clone()]).unwrap_or("");
        full.split_once('?').map(|(_, q)| q)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        // Compared as bytes: no UTF-8 check of every name on every look-up.
        self.headers
            .iter()
            .find(|(n, _)| self.head[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &self.head[v.clone()])
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| {
            // httparse only accepts token characters in header names: ASCII.
            let name = std::str::from_utf8(&self.head[n.clone()]).unwrap_or("");
            (name, &self.head[v.clone()])
        })
    }
}
