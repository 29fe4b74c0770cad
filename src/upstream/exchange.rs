//! One request/response exchange with an upstream: send the request on a
//! pooled or new connection, read the response head within the first-byte
//! timeout, then hand out the body piece by piece as it arrives.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::io::AsyncWriteRentExt;
use monoio::time::timeout_at;

use super::body::{Framing, UpstreamBody};
use super::{Origin, Transport, pool};
use crate::api::ApiError;
use crate::http1::{ChunkedError, has_token, parse_content_length, read_append};

pub(super) const READ_SPARE: usize = 16 * 1024;
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// could not connect to the upstream
    #[error("could not connect to the upstream: {0}")]
    Connect(std::io::Error),
    /// no response head within the first-byte timeout
    #[error("the upstream did not answer within the first-byte timeout")]
    FirstByteTimeout,
    /// the whole exchange ran past the total timeout
    #[error("the upstream exceeded the total timeout")]
    TotalTimeout,
    #[error("the upstream connection failed: {0}")]
    Io(std::io::Error),
    #[error("the upstream closed the connection before the response was complete")]
    Closed,
    /// no body bytes within the time-to-first-token timeout
    #[error("the upstream sent no output within the first-token timeout")]
    FirstTokenTimeout,
    /// silence between two body pieces beyond the stall timeout
    #[error("the upstream stream stalled")]
    Stalled,
    #[error("the upstream sent a malformed response: {0}")]
    Protocol(String),
}

impl UpstreamError {
    /// The client-facing error for a failure before anything was relayed.
    pub fn to_api(&self, provider: &str) -> ApiError {
        let (status, code) = match self {
            UpstreamError::Connect(_) => (502, "upstream_connect_error"),
            UpstreamError::FirstByteTimeout
            | UpstreamError::TotalTimeout
            | UpstreamError::FirstTokenTimeout
            | UpstreamError::Stalled => (504, "upstream_timeout"),
            UpstreamError::Io(_) | UpstreamError::Closed => (502, "upstream_connection_error"),
            UpstreamError::Protocol(_) => (502, "upstream_protocol_error"),
        };
        ApiError::upstream(status, code, format!("Provider `{provider}`: {self}."))
    }
}

impl UpstreamError {
    /// A fresh value of a data-less variant (the I/O ones become `Closed`).
    pub(super) fn same_kind(&self) -> UpstreamError {
        match self {
            UpstreamError::FirstTokenTimeout => UpstreamError::FirstTokenTimeout,
            UpstreamError::Stalled => UpstreamError::Stalled,
            UpstreamError::FirstByteTimeout => UpstreamError::FirstByteTimeout,
            UpstreamError::TotalTimeout => UpstreamError::TotalTimeout,
            _ => UpstreamError::Closed,
        }
    }
}

impl From<ChunkedError> for UpstreamError {
    fn from(e: ChunkedError) -> Self {
        UpstreamError::Protocol(format!("bad chunked body: {e}"))
    }
}

pub struct UpstreamRequest<'a> {
    pub origin: &'a Origin,
    pub addrs: &'a [SocketAddr],
    pub tls: &'a Arc<rustls::ClientConfig>,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub total_timeout: Duration,
    pub max_idle: usize,
}

pub struct UpstreamResponse {
    pub status: u16,
    head: Vec<u8>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    pub body: UpstreamBody,
}

impl UpstreamResponse {
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| {
            let name = std::str::from_utf8(&self.head[n.clone()]).unwrap_or("");
            (name, &self.head[v.clone()])
        })
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| crate::http1::eq_ignore_case(n.as_bytes(), name.as_bytes()))
            .map(|(_, v)| v)
    }

    pub fn content_length(&self) -> Option<u64> {
        match self.body.framing() {
            Framing::Length(n) => Some(n),
            Framing::Empty => Some(0),
            _ => None,
        }
    }
}

/// Sends `bytes` (request line, headers, blank line, body) and waits for the head.
pub async fn send(
    req: UpstreamRequest<'_>,
    mut bytes: Vec<u8>,
) -> Result<UpstreamResponse, UpstreamError> {
    let deadline = Instant::now() + req.total_timeout;
    // A pooled connection may have been closed by the server while idle; if it
    // fails before any response byte, the request never reached it: try once
    // more on a fresh connection.
    if let Some((conn, buf)) = pool::checkout(req.origin) {
        match exchange(conn, buf, bytes, &req, deadline).await {
            Ok(resp) => return Ok(resp),
            Err((UpstreamError::Io(_) | UpstreamError::Closed, Some(returned))) => {
                bytes = returned;
            }
            Err((e, _)) => return Err(e),
        }
    }
    // Boxed: connecting is the rare case (pooled connections serve the
    // rest), and its state, kilobytes with TLS, would otherwise sit inline
    // in every request's future and be copied with it.
    let conn = Box::pin(timeout_at(
        deadline.into(),
        Transport::connect(req.origin, req.addrs, req.connect_timeout, req.tls),
    ))
    .await
    .map_err(|_| UpstreamError::TotalTimeout)?
    .map_err(UpstreamError::Connect)?;
    pool::note_opened();
    exchange(conn, Vec::with_capacity(READ_SPARE), bytes, &req, deadline)
        .await
        .map_err(|(e, _)| e)
}

/// Sends and reads the head. On failure before any response byte, the request
/// bytes come back so the caller may retry them.
async fn exchange(
    mut conn: Transport,
    mut buf: Vec<u8>,
    bytes: Vec<u8>,
    req: &UpstreamRequest<'_>,
    deadline: Instant,
) -> Result<UpstreamResponse, (UpstreamError, Option<Vec<u8>>)> {
    let (res, bytes) = match timeout_at(deadline.into(), conn.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => return Err((UpstreamError::TotalTimeout, None)),
    };
    if let Err(e) = res {
        return Err((UpstreamError::Io(e), Some(bytes)));
    }
    let first_byte = (Instant::now() + req.first_byte_timeout).min(deadline);
    buf.clear();
    loop {
        let owned = std::mem::take(&mut buf);
        let (res, owned) =
            match timeout_at(first_byte.into(), read_append(&mut conn, owned, READ_SPARE)).await {
                Ok(r) => r,
                Err(_) if first_byte < deadline => {
                    return Err((UpstreamError::FirstByteTimeout, None));
                }
                Err(_) => return Err((UpstreamError::TotalTimeout, None)),
            };
        buf = owned;
        match res {
            Ok(0) if buf.is_empty() => return Err((UpstreamError::Closed, Some(bytes))),
            Ok(0) => return Err((UpstreamError::Closed, None)),
            Ok(_) => {}
            Err(e) if buf.is_empty() => return Err((UpstreamError::Io(e), Some(bytes))),
            Err(e) => return Err((UpstreamError::Io(e), None)),
        }
        match parse_head(&buf) {
            Ok(Some(parsed)) => return Ok(parsed.into_response(conn, buf, req, deadline)),
            Ok(None) if buf.len() > MAX_RESPONSE_HEAD => {
                return Err((
                    UpstreamError::Protocol("response head too large".into()),
                    None,
                ));
            }
            Ok(None) => {}
            Err(e) => return Err((e, None)),
        }
    }
}

struct ParsedHead {
    status: u16,
    len: usize,
    headers: Vec<(Range<usize>, Range<usize>)>,
    framing: Framing,
    keep_alive: bool,
}

fn parse_head(buf: &[u8]) -> Result<Option<ParsedHead>, UpstreamError> {
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(UpstreamError::Protocol(e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    if (100..200).contains(&status) {
        return Err(UpstreamError::Protocol(
            "unexpected informational response".into(),
        ));
    }
    let base = buf.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = resp.version == Some(1);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(
                parse_content_length(h.value)
                    .ok_or_else(|| UpstreamError::Protocol("bad content-length".into()))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = has_token(h.value, b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            if has_token(h.value, b"close") {
                keep_alive = false;
            } else if has_token(h.value, b"keep-alive") {
                keep_alive = true;
            }
        }
    }
    let framing = if status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n == 0 {
            Framing::Empty
        } else {
            Framing::Length(n)
        }
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    let headers = resp
        .headers
        .iter()
        .map(|h| (range(h.name.as_bytes()), range(h.value)))
        .collect();
    Ok(Some(ParsedHead {
        status,
        len,
        headers,
        framing,
        keep_alive,
    }))
}

impl ParsedHead {
    fn into_response(
        self,
        conn: Transport,
        mut buf: Vec<u8>,
        req: &UpstreamRequest<'_>,
        deadline: Instant,
    ) -> UpstreamResponse {
        let head = buf[..self.len].to_vec();
        buf.drain(..self.len);
        let body = UpstreamBody::new(
            conn,
            buf,
            self.framing,
            self.keep_alive,
            deadline,
            req.origin.clone(),
            req.max_idle,
        );
        UpstreamResponse {
            status: self.status,
            head,
            headers: self.headers,
            body,
        }
    }
}
