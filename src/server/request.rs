//! A parsed request: its head kept as one buffer with ranges into it, and its body.

use std::cell::Cell;
use std::ops::Range;

pub struct Request {
    head: Vec<u8>,
    method: Range<usize>,
    path: Range<usize>,
    /// Each header's name and value, and its name's [`name_bit`] (as a
    /// shift), compared before the name itself.
    headers: Vec<(Range<usize>, Range<usize>, u8)>,
    /// A bit per header name present ([`name_bit`]): most look-ups are for
    /// headers a request does not send (`x-tollgate-*`), and this answers
    /// them without a walk over the headers.
    names: u64,
    /// Where [`Request::credential`] found the credential, once it looked.
    credential: Cell<Option<Option<(usize, usize)>>>,
    /// The credential's digest, once [`Request::credential_digest`] made it.
    digest: Cell<Option<[u8; 32]>>,
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
        let mut names = 0;
        let headers = parsed
            .headers
            .iter()
            .map(|h| {
                let bit = name_bit(h.name.as_bytes());
                names |= bit;
                (
                    range(h.name.as_bytes()),
                    range(h.value),
                    bit.trailing_zeros() as u8,
                )
            })
            .collect();
        Self {
            method,
            path,
            headers,
            names,
            credential: Cell::new(None),
            digest: Cell::new(None),
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

    /// The first header with this name (case-insensitive). Inlined whole
    /// up to the name's bit, so a literal name's bit is a constant and the
    /// look-up of a header the request lacks is a test of one bit.
    #[inline(always)]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let bit = name_bit(name.as_bytes());
        if self.names & bit == 0 {
            return None;
        }
        self.header_with_bit(name, bit)
    }

    #[inline(never)]
    fn header_with_bit(&self, name: &str, bit: u64) -> Option<&[u8]> {
        let shift = bit.trailing_zeros() as u8;
        // Compared as bytes: no UTF-8 check of every name on every look-up.
        self.headers
            .iter()
            .find(|(n, _, s)| {
                *s == shift && crate::http1::eq_ignore_case(&self.head[n.clone()], name.as_bytes())
            })
            .map(|(_, v, _)| &self.head[v.clone()])
    }

    /// The credential the request presents, whichever header carries it:
    /// `Authorization: Bearer …`, else `x-api-key`, else `api-key`, trimmed;
    /// `None` when empty or absent. Found once per request: the head's check
    /// and the pipeline both ask.
    pub fn credential(&self) -> Option<&[u8]> {
        let found = match self.credential.get() {
            Some(found) => found,
            None => {
                let base = self.head.as_ptr() as usize;
                let found = self
                    .header("authorization")
                    .and_then(|v| {
                        v.strip_prefix(b"Bearer ")
                            .or_else(|| v.strip_prefix(b"bearer "))
                    })
                    .or_else(|| self.header("x-api-key"))
                    .or_else(|| self.header("api-key"))
                    .map(<[u8]>::trim_ascii)
                    .filter(|p| !p.is_empty())
                    .map(|p| (p.as_ptr() as usize - base, p.len()));
                self.credential.set(Some(found));
                found
            }
        };
        found.map(|(start, len)| &self.head[start..start + len])
    }

    /// `hash` of the [`Request::credential`], made once per request.
    pub fn credential_digest(&self, hash: impl FnOnce(&[u8]) -> [u8; 32]) -> Option<[u8; 32]> {
        if let Some(d) = self.digest.get() {
            return Some(d);
        }
        let d = hash(self.credential()?);
        self.digest.set(Some(d));
        Some(d)
    }

    #[inline(always)]
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v, _)| {
            // httparse only accepts token characters in header names: ASCII.
            let name = std::str::from_utf8(&self.head[n.clone()]).unwrap_or("");
            (name, &self.head[v.clone()])
        })
    }
}

/// A header name's bit in [`Request::names`], case-insensitive: from its
/// length and its first, middle and last bytes, which tell apart the names
/// a gateway looks up (`x-tollgate-region` and `x-tollgate-tags` differ in
/// length; `authorization` and `x-api-key` in every byte taken).
#[inline(always)]
fn name_bit(name: &[u8]) -> u64 {
    let n = name.len();
    let Some(&last) = name.last() else {
        return 1;
    };
    let h = (n as u32)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(u32::from(name[0] | 0x20).wrapping_mul(0x85eb_ca6b))
        .wrapping_add(u32::from(name[n / 2] | 0x20).wrapping_mul(0xc2b2_ae35))
        .wrapping_add(u32::from(last | 0x20).wrapping_mul(0x27d4_eb2f));
    1 << (h >> 26)
}

#[cfg(test)]
mod tests {
    use super::name_bit;

    #[test]
    fn a_name_has_one_bit_whatever_its_case() {
        for name in [
            "authorization",
            "x-api-key",
            "x-tollgate-region",
            "Content-Type",
            "a",
            "-",
        ] {
            let bit = name_bit(name.as_bytes());
            assert_eq!(bit.count_ones(), 1);
            assert_eq!(
                bit,
                name_bit(name.to_ascii_uppercase().as_bytes()),
                "{name}"
            );
            assert_eq!(
                bit,
                name_bit(name.to_ascii_lowercase().as_bytes()),
                "{name}"
            );
        }
        assert_eq!(name_bit(b""), 1);
    }
}
