//! One client connection: read a head (bounded in size and time), let the
//! service admit it, read the body (Content-Length or chunked, bounded, and
//! leased from the worker's body budget), hand the request to the service,
//! repeat while keep-alive holds. Bad input gets an OpenAI-shaped error and the
//! connection closes; nothing here can take the worker down.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::time::timeout_at;
use monoio_rustls::TlsAcceptor;

use super::body::{BodyLease, READ_SPARE, busy, read_chunked_body, read_sized_body};
use super::parse::{self, Framing, parse_request_head};
use super::{ClientIo, Limits, Request, Responder, Service};
use crate::api::ApiError;
use crate::http1::{has_token, read_append};

/// Buffers a connection keeps between requests; a larger one (after a big
/// request or answer) is given back rather than held at its high-water mark.
const KEEP_BUFFER: usize = 64 * 1024;

/// After refusing a request whose body may still be arriving, how long the
/// rest is read and dropped, so the client sees the answer rather than a
/// reset for the bytes it was still sending.
const LINGER: Duration = Duration::from_secs(1);

/// A refused connection: long enough for the client's request to arrive.
const REFUSE_LINGER: Duration = Duration::from_millis(200);

/// What a worker knows about its connections: for draining on shutdown, for
/// the caps on connections and body memory, and for giving memory back.
#[derive(Default)]
pub struct WorkerGauge {
    pub in_flight: Cell<usize>,
    pub draining: Cell<bool>,
    pub connections: Cell<usize>,
    /// Bytes leased by request bodies now.
    pub body_bytes: Cell<usize>,
    /// Bytes of bodies and buffers released since the allocator last
    /// returned free memory to the system.
    pub released: Cell<usize>,
}

/// Why a request could not be read; each maps to a status and a message.
pub(super) enum ReadFail {
    /// The peer went away or the socket failed: nothing to answer.
    Gone,
    /// Answered with the error as the service renders it for this route
    /// (`None`: the body is the default OpenAI shape).
    Reject(ApiError),
    Refused(Box<(ApiError, Vec<u8>, super::OwnHeaders)>),
}

pub(super) fn reject(status: u16, code: &'static str, message: &str) -> ReadFail {
    ReadFail::Reject(parse::reject(status, code, message))
}

/// Counts a connection against `max_connections` while it lives.
struct Counted<'g>(&'g WorkerGauge);

impl<'g> Counted<'g> {
    fn new(gauge: &'g WorkerGauge) -> Self {
        gauge.connections.set(gauge.connections.get() + 1);
        Self(gauge)
    }
}

/// What a connection holds while it lives (its buffers, its task): counted
/// as released when it closes, so a flood of connections that have gone
/// is given back to the system like a burst of bodies is.
const CONNECTION_FOOTPRINT: usize = 2 * READ_SPARE;

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.connections.set(self.0.connections.get() - 1);
        self.0
            .released
            .set(self.0.released.get() + CONNECTION_FOOTPRINT);
    }
}

pub async fn serve_connection<S: Service>(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    service: Rc<S>,
    limits: Rc<Limits>,
    gauge: Rc<WorkerGauge>,
) {
    let _ = stream.set_nodelay(true);
    if gauge.connections.get() >= limits.max_connections {
        // Plain clients learn why; a TLS client cannot without a handshake.
        if tls.is_none() {
            refuse_connection(crate::net::MaybeTls::Plain(stream)).await;
        }
        return;
    }
    let _counted = Counted::new(&gauge);
    let mut stream = match tls {
        None => crate::net::MaybeTls::Plain(stream),
        // The handshake counts against the header deadline: a silent peer is dropped.
        Some(acceptor) => {
            match monoio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => crate::net::MaybeTls::Tls(Box::new(tls)),
                _ => return,
            }
        }
    };
    service.on_connect();
    serve_requests(&mut stream, &*service, &limits, &gauge).await;
    service.on_disconnect();
}

async fn refuse_connection(mut stream: ClientIo) {
    let mut resp = Responder::new(&mut stream, Vec::new(), false, true);
    let _ = resp.send_error(&busy(), &[("retry-after", b"1")]).await;
    linger(
        &mut stream,
        Vec::with_capacity(4096),
        REFUSE_LINGER,
        64 * 1024,
    )
    .await;
}

async fn serve_requests<S: Service>(
    stream: &mut ClientIo,
    service: &S,
    limits: &Limits,
    gauge: &WorkerGauge,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SPARE);
    let mut wbuf: Vec<u8> = Vec::new();
    loop {
        if gauge.draining.get() && buf.is_empty() {
            return;
        }
        let mut lease = BodyLease::new(gauge, limits.max_body_memory_bytes);
        let req = match read_request(stream, &mut buf, service, limits, &mut lease).await {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadFail::Gone) => return,
            Err(fail @ (ReadFail::Reject(_) | ReadFail::Refused(..))) => {
                let (err, body, own) = match fail {
                    ReadFail::Refused(refused) => *refused,
                    ReadFail::Reject(err) => {
                        let body = err.to_json();
                        (err, body, Vec::new())
                    }
                    ReadFail::Gone => unreachable!("matched above"),
                };
                let mut headers: Vec<(&str, &[u8])> =
                    own.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                if err.status == 503 {
                    headers.push(("retry-after", b"1"));
                }
                // What was read of the body is of no use now: budget and buffer go back.
                drop(lease);
                buf.clear();
                shrink(&mut buf);
                let mut resp = Responder::new(stream, wbuf, false, true);
                if resp.send_json(err.status, &headers, &body).await.is_ok() {
                    linger(stream, buf, LINGER, limits.max_body_bytes).await;
                }
                return;
            }
        };
        let keep_alive = wants_keep_alive(&req) && !gauge.draining.get();
        gauge.in_flight.set(gauge.in_flight.get() + 1);
        let mut resp = Responder::new(stream, wbuf, keep_alive, req.http11);
        service.call(req, &mut resp).await;
        let (returned, nothing_sent, reusable) = resp.finish();
        wbuf = returned;
        gauge.in_flight.set(gauge.in_flight.get() - 1);
        gauge
            .released
            .set(gauge.released.get() + lease.held() + shrink(&mut buf) + shrink(&mut wbuf));
        drop(lease);
        if nothing_sent {
            // A service that answered nothing is a bug; the client still gets a real error.
            let mut resp = Responder::new(stream, wbuf, false, true);
            let _ = resp
                .send_error(
                    &ApiError::internal("The gateway produced no response."),
                    &[],
                )
                .await;
            return;
        }
        if !reusable {
            return;
        }
    }
}

/// Gives back a buffer grown past what a connection keeps; answers the bytes freed.
fn shrink(buf: &mut Vec<u8>) -> usize {
    let before = buf.capacity();
    if before > KEEP_BUFFER {
        buf.shrink_to(READ_SPARE.max(buf.len()));
    }
    before - buf.capacity()
}

/// Ends our side, then reads and drops what the client still sends (bounded
/// in time and bytes), so it reads our answer instead of a reset.
async fn linger(stream: &mut ClientIo, mut buf: Vec<u8>, time: Duration, max: usize) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + time;
    let mut dropped = 0;
    while dropped < max {
        buf.clear();
        match read_more(stream, &mut buf, deadline).await {
            Ok(n) if n > 0 => dropped += n,
            _ => return,
        }
    }
}

fn wants_keep_alive(req: &Request) -> bool {
    match req.header("connection") {
        Some(v) if has_token(v, b"close") => false,
        Some(v) if has_token(v, b"keep-alive") => true,
        _ => req.http11,
    }
}

/// Reads one request. `Ok(None)` is a clean close between requests.
async fn read_request<S: Service>(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    service: &S,
    limits: &Limits,
    lease: &mut BodyLease<'_>,
) -> Result<Option<Request>, ReadFail> {
    if buf.is_empty() {
        // Idle keep-alive: wait for the first byte, then the header clock starts.
        let deadline = Instant::now() + limits.idle_timeout;
        match read_more(stream, buf, deadline).await {
            Ok(0) | Err(ReadMoreFail::Io) | Err(ReadMoreFail::Timeout) => return Ok(None),
            Ok(_) => {}
        }
    }
    let deadline = Instant::now() + limits.header_timeout;
    let (head_len, mut req, framing) = loop {
        if let Some(head) = parse_request_head(buf, limits).map_err(ReadFail::Reject)? {
            break head;
        }
        read_request_bytes(stream, buf, deadline, READ_SPARE, "headers").await?;
    };
    buf.drain(..head_len);
    // Before any body byte is read or invited: a request the service will
    // refuse (no key) costs its head, not its body.
    service.admit(&req).map_err(|err| {
        let (body, headers) = service.error_body(&req, &err);
        ReadFail::Refused(Box::new((err, body, headers)))
    })?;
    if let Framing::Length(n) = framing {
        lease.grow_to(n)?;
    }

    // An HTTP/1.0 client knows no interim responses (RFC 9110 §10.1.1).
    if !matches!(framing, Framing::None)
        && req.http11
        && req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
    {
        let (res, _) = stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
            .await;
        if res.is_err() {
            return Err(ReadFail::Gone);
        }
    }
    let deadline = Instant::now() + limits.body_timeout;
    req.body = match framing {
        Framing::None => Vec::new(),
        Framing::Length(n) => read_sized_body(stream, buf, n, deadline).await?,
        Framing::Chunked => {
            read_chunked_body(stream, buf, limits.max_body_bytes, lease, deadline).await?
        }
    };
    Ok(Some(req))
}

enum ReadMoreFail {
    Io,
    Timeout,
}

/// Reads more of a request (`part`: "headers" or "body"): a closed or failed
/// socket means the client is gone, a missed deadline is a 408.
pub(super) async fn read_request_bytes(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    deadline: Instant,
    want: usize,
    part: &str,
) -> Result<(), ReadFail> {
    match read_more_sized(stream, buf, deadline, want).await {
        Ok(0) | Err(ReadMoreFail::Io) => Err(ReadFail::Gone),
        Ok(_) => Ok(()),
        Err(ReadMoreFail::Timeout) => Err(reject(
            408,
            "request_timeout",
            &format!("Timed out reading the request {part}."),
        )),
    }
}

async fn read_more(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, ReadMoreFail> {
    read_more_sized(stream, buf, deadline, READ_SPARE).await
}

async fn read_more_sized(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    deadline: Instant,
    spare: usize,
) -> Result<usize, ReadMoreFail> {
    let owned = std::mem::take(buf);
    match timeout_at(deadline.into(), read_append(stream, owned, spare)).await {
        Ok((res, owned)) => {
            *buf = owned;
            res.map_err(|_| ReadMoreFail::Io)
        }
        // The buffer went with the cancelled read; what it held is of no use now.
        Err(_) => Err(ReadMoreFail::Timeout),
    }
}
