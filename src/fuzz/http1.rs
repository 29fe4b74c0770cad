//! Target `http1`: the request head parser and framing check
//! (`server::parse_request_head`) and the body it frames, read the way the
//! connection loop reads it. Oracles: a refusal is a 4xx; a head never
//! depends on how its bytes arrived; an accepted head obeys RFC 9112's
//! framing rules; a chunked body decodes the same in any split.

use std::path::Path;

use super::chunked::decode;
use super::mutate::{Rng, byte_edit, hash, line_edit, lines, split_points};
use super::{Options, Reached, Target};
use crate::config::ServerConfig;
use crate::server::{Framing, Limits, Request, parse_request_head};

pub struct Http1;

const STAGES: &[&str] = &[
    "head complete",
    "framing accepted",
    "body decoded",
    "refused 4xx",
];

const CHAT: &str =
    "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

/// Headers and lines that change framing or trip strictness rules.
const HEADER_LINES: &[&str] = &[
    "Host: a\r\n",
    "host: b\r\n",
    "Host:\r\n",
    "Content-Length: 5\r\n",
    "Content-Length: 0\r\n",
    "Content-Length: 16777216\r\n",
    "Content-Length: 16777217\r\n",
    "Content-Length: 99999999999999999999\r\n",
    "Content-Length: -1\r\n",
    "Content-Length: 5, 5\r\n",
    "Content-Length: +5\r\n",
    "Content-Length:  5 \r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip, chunked\r\n",
    "Transfer-Encoding: chunked, identity\r\n",
    "transfer-encoding: CHUNKED\r\n",
    "Transfer-Encoding : chunked\r\n",
    "Transfer-Encoding:\tchunked\r\n",
    "Transfer-Encoding: xchunked\r\n",
    " folded continuation\r\n",
    "\tfolded: tab\r\n",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Expect: 100-continue\r\n",
    "Authorization: Bearer sk-test\r\n",
    "X-Empty:\r\n",
    "Bad Header: x\r\n",
    ": no-name\r\n",
    "X-Bin: \u{7f}\u{1}\r\n",
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
];

const REQUEST_LINES: &[&str] = &[
    "POST /v1/chat/completions HTTP/1.1\r\n",
    "POST /v1/chat/completions HTTP/1.0\r\n",
    "GET /healthz HTTP/1.1\r\n",
    "GET / HTTP/1.2\r\n",
    "GET / HTTP/2.0\r\n",
    "get / HTTP/1.1\r\n",
    "POST  /v1/chat/completions HTTP/1.1\r\n",
    "POST /v1/chat/completions\r\n",
    "POST http://a/v1/chat/completions HTTP/1.1\r\n",
    "OPTIONS * HTTP/1.1\r\n",
    "POST /v1/chat/completions?x=%00 HTTP/1.1\r\n",
    "POST /v1/chat/completions HTTP/1.1\n",
    "\r\nPOST / HTTP/1.1\r\n",
];

impl Target for Http1 {
    fn name(&self) -> &'static str {
        "http1"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, _root: &Path) -> Vec<Vec<u8>> {
        let chat = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer k\r\nContent-Length: {}\r\n\r\n{CHAT}",
            CHAT.len()
        );
        let chunked = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}\r\n{:x};ext=1\r\n{}\r\n0\r\nx-t: 1\r\n\r\n",
            &CHAT[..16],
            CHAT.len() - 16,
            &CHAT[16..]
        );
        let mut seeds: Vec<Vec<u8>> = vec![chat.into_bytes(), chunked.into_bytes()];
        seeds.extend(
            [
                "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n",
                "GET /v1/models HTTP/1.0\r\n\r\n",
                // Issue 10 repros: a keyless 16 MiB head (item 1); no Host, two
                // Hosts, TE on HTTP/1.0, bare-LF chunk sizes (item 9).
                "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 16777216\r\n\r\n{\"model\":",
                "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
                "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 2\r\n\r\n{}",
                "POST /v1/chat/completions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n",
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec()),
        );
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        let split = find_head_end(input).unwrap_or(input.len());
        let (head, body) = input.split_at(split);
        let mut ls = lines(head);
        let mut body = body.to_vec();
        match rng.below(9) {
            0 | 1 => line_edit(rng, &mut ls, pool),
            2 | 3 => {
                let at = 1 + rng.below(ls.len().max(1));
                let at = at.min(ls.len());
                ls.insert(at, rng.pick(HEADER_LINES).as_bytes().to_vec());
            }
            4 if !ls.is_empty() => ls[0] = rng.pick(REQUEST_LINES).as_bytes().to_vec(),
            5 if !ls.is_empty() => {
                let i = rng.below(ls.len());
                let len = ls[i].len();
                if ls[i].ends_with(b"\r\n") {
                    ls[i].remove(len - 2);
                }
            }
            6 => body = rechunk(rng, &body),
            7 => {
                let len = body.len();
                body.truncate(rng.below(len + 1));
            }
            _ => {
                let mut all = [ls.concat(), body].concat();
                byte_edit(rng, &mut all);
                *input = all;
                return;
            }
        }
        *input = [ls.concat(), body].concat();
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        let limits = Limits::from_config(&ServerConfig::default());
        let whole = parse_request_head(input, &limits);
        let mut rng = Rng::new(hash(input));
        for cut in split_points(&mut rng, input.len()).into_iter().take(8) {
            check_prefix(input, cut, &whole, &limits)?;
        }
        if head_is_complete(input) {
            reached.hit(0);
        }
        let (head_len, req, framing) = match whole {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(()),
            Err(e) if (400..500).contains(&e.status) => {
                reached.hit(3);
                return Ok(());
            }
            Err(e) => return Err(format!("head refused with {}: {}", e.status, e.message)),
        };
        reached.hit(1);
        check_framing_rules(&req, framing)?;
        let body = &input[head_len..];
        match framing {
            Framing::None => reached.hit(2),
            Framing::Length(n) if n > limits.max_body_bytes => {
                return Err(format!("accepted a {n}-byte body over the limit"));
            }
            Framing::Length(n) if body.len() >= n => reached.hit(2),
            Framing::Length(_) => {}
            Framing::Chunked => {
                let whole = decode(body, &[body.len()], true);
                let split = decode(body, &split_points(&mut rng, body.len()), true);
                if split != whole {
                    return Err("chunked request body decodes differently when split".into());
                }
                if whole.1 {
                    reached.hit(2);
                }
            }
        }
        Ok(())
    }
}

/// The server parses whatever prefix it has read so far: a prefix must ask
/// for more, or give the same answer as the whole.
fn check_prefix(
    input: &[u8],
    cut: usize,
    whole: &Result<Option<(usize, Request, Framing)>, crate::api::ApiError>,
    limits: &Limits,
) -> Result<(), String> {
    let part = parse_request_head(&input[..cut], limits);
    match (&part, whole) {
        (Ok(None), _) => Ok(()),
        (Ok(Some((n, _, f))), Ok(Some((wn, _, wf)))) if n == wn && f == wf => Ok(()),
        (Err(e), Err(we)) if e.status == we.status => Ok(()),
        _ => Err(format!(
            "the first {cut} bytes parse differently from the whole: {} vs {}",
            outcome(&part),
            outcome(whole)
        )),
    }
}

fn outcome(r: &Result<Option<(usize, Request, Framing)>, crate::api::ApiError>) -> String {
    match r {
        Ok(None) => "needs more".into(),
        Ok(Some((n, _, f))) => format!("head of {n} bytes, {f:?}"),
        Err(e) => format!("{} {}", e.status, e.message),
    }
}

/// RFC 9112 §3.2 and §6, checked from the raw headers of an accepted head.
fn check_framing_rules(req: &Request, framing: Framing) -> Result<(), String> {
    let count = |name: &str| {
        req.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    };
    let hosts = count("host");
    let te = count("transfer-encoding");
    let cl = count("content-length");
    if req.http11 && hosts != 1 || hosts > 1 {
        return Err(format!("accepted a request with {hosts} Host headers"));
    }
    if te > 0 && (!req.http11 || cl > 0) {
        return Err("accepted Transfer-Encoding on HTTP/1.0 or with Content-Length".into());
    }
    if (te > 0) != (framing == Framing::Chunked) {
        return Err(format!("framing {framing:?} does not match the headers"));
    }
    let _ = (req.method(), req.path(), req.query());
    Ok(())
}

/// httparse alone reads a whole head: the stage before any framing rule.
fn head_is_complete(input: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    matches!(
        httparse::Request::new(&mut headers).parse(input),
        Ok(httparse::Status::Complete(_))
    )
}

fn find_head_end(input: &[u8]) -> Option<usize> {
    input
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Re-encodes a body as chunks with edge-case size lines.
fn rechunk(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(24)).min(rest.len());
        let size = match rng.below(6) {
            0 => format!("{n:08x}"),
            1 => format!("{n:X};a=\"b\""),
            2 => format!("{n:x} "),
            _ => format!("{n:x}"),
        };
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(if rng.one_in(6) { b"\n" } else { b"\r\n" });
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(if rng.one_in(4) {
        b"0\r\nt: 1\r\n\r\n"
    } else {
        b"0\r\n\r\n"
    });
    out
}
