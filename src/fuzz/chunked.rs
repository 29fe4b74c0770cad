//! Target `chunked`: the `Transfer-Encoding: chunked` decoder alone.
//! Oracles: decoding in any split equals decoding whole (data, end, bytes
//! consumed, error), and any bytes chunk-encoded by us decode back to themselves.

use std::path::Path;

use super::mutate::{Rng, byte_edit, feed_split, hash, line_edit, lines, split_points};
use super::{Options, Reached, Target};
use crate::http1::{ChunkedDecoder, ChunkedError};

pub struct Chunked;

const STAGES: &[&str] = &[
    "size line read",
    "data decoded",
    "body complete",
    "rejected",
];

/// Outcome of a decode: data, whether the last chunk was seen, bytes consumed.
pub(super) type Decoded = (Vec<u8>, bool, usize, Option<ChunkedError>);

impl Target for Chunked {
    fn name(&self) -> &'static str {
        "chunked"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, _root: &Path) -> Vec<Vec<u8>> {
        [
            &b"5\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\nNEXT",
            // Issue 10 item 9: bare-LF size lines and data delimiters.
            b"5\nhello\n0\n\n",
            b"000005\r\nhello\r\n00\r\n\r\n",
            b"fffffffffffffff\r\nabc",
            b"1 ; a=b\r\nx\r\n0\r\nt: 1\r\nu: 2\r\n\r\n",
            b"0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect()
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        match rng.below(4) {
            0 => {
                let mut ls = lines(input);
                line_edit(rng, &mut ls, pool);
                *input = ls.concat();
            }
            1 => {
                // A chunk with an edge-case size line spliced in.
                let sizes: &[&[u8]] = &[
                    b"0",
                    b"00000000000000000001",
                    b"ffffffffffffffff",
                    b"1;",
                    b"1 ",
                    b"-1",
                    b"0x1",
                    b"+1",
                    b"1\r",
                    b"A",
                    b"a;x=\"y\"",
                ];
                let mut chunk = rng.pick(sizes).to_vec();
                chunk.extend_from_slice(if rng.one_in(3) { b"\n" } else { b"\r\n" });
                chunk.extend_from_slice(b"abcdefghij");
                chunk.extend_from_slice(b"\r\n");
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            2 => {
                let mut ls = lines(input);
                for l in ls.iter_mut() {
                    if rng.one_in(3) && l.ends_with(b"\r\n") {
                        l.remove(l.len() - 2);
                    }
                }
                *input = ls.concat();
            }
            _ => byte_edit(rng, input),
        }
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        let whole = decode(input, &[input.len()], false);
        let strict = decode(input, &[input.len()], true);
        if strict.3.is_none() && strict != whole {
            return Err("the strict decoder accepts what the lenient one reads differently".into());
        }
        if !input.contains(&b'\n') && strict != whole {
            return Err("strict and lenient differ on input without line ends".into());
        }
        let (data, done, _, err) = &whole;
        if !data.is_empty() || *done {
            reached.hit(0);
        }
        if !data.is_empty() {
            reached.hit(1);
        }
        if *done {
            reached.hit(2);
        }
        if err.is_some() {
            reached.hit(3);
        }
        let mut rng = Rng::new(hash(input));
        let cuts = split_points(&mut rng, input.len());
        for (mode, whole, strict_mode) in [("lenient", &whole, false), ("strict", &strict, true)] {
            let split = decode(input, &cuts, strict_mode);
            if split != *whole {
                return Err(format!(
                    "{mode} split decode differs from whole: {:?} vs {:?}",
                    summary(&split),
                    summary(whole)
                ));
            }
        }
        round_trip(input, &mut rng)
    }
}

fn summary(d: &Decoded) -> (usize, bool, usize, Option<ChunkedError>) {
    (d.0.len(), d.1, d.2, d.3)
}

/// Decodes `input` fed in the pieces `cuts` describes, the way the server
/// does: each piece is appended to what is still unconsumed. `strict` is the
/// request-body mode (CRLF only).
pub(super) fn decode(input: &[u8], cuts: &[usize], strict: bool) -> Decoded {
    let mut d = if strict {
        ChunkedDecoder::strict()
    } else {
        ChunkedDecoder::new()
    };
    let mut out = Vec::new();
    let mut pos = 0;
    let mut avail = 0;
    let mut result = None;
    feed_split(input, cuts, |piece| {
        avail += piece.len();
        while result.is_none() && !d.is_done() && pos < avail {
            match d.decode(&input[pos..avail]) {
                Ok((n, data)) => {
                    out.extend_from_slice(data);
                    pos += n;
                    if n == 0 {
                        break;
                    }
                }
                Err(e) => result = Some(e),
            }
        }
    });
    // After an error the connection is dropped: how far the decoder got
    // into the bad bytes is not part of the outcome.
    let consumed = if result.is_some() { 0 } else { pos };
    (out, d.is_done(), consumed, result)
}

/// Chunk-encodes `data` with random chunk sizes, extensions and trailers;
/// the decoder must give `data` back and stop exactly at the end.
fn round_trip(data: &[u8], rng: &mut Rng) -> Result<(), String> {
    let mut body = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(64)).min(rest.len());
        if rng.one_in(2) {
            body.extend_from_slice(format!("{n:x}").as_bytes());
        } else {
            body.extend_from_slice(format!("{n:04X}").as_bytes());
        }
        if rng.one_in(4) {
            body.extend_from_slice(b";name=value");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&rest[..n]);
        body.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    body.extend_from_slice(b"0\r\n");
    if rng.one_in(3) {
        body.extend_from_slice(b"x-trailer: 1\r\n");
    }
    body.extend_from_slice(b"\r\n");
    let len = body.len();
    body.extend_from_slice(b"NEXT");
    let cuts = split_points(rng, body.len());
    let (out, done, consumed, err) = decode(&body, &cuts, rng.one_in(2));
    if out != data || !done || consumed != len || err.is_some() {
        return Err(format!(
            "round trip of {} bytes gave {} bytes, done={done}, consumed {consumed} of {len}, {err:?}",
            data.len(),
            out.len()
        ));
    }
    Ok(())
}
