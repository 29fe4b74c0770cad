//! One client connection: read a head (bounded in size and time), read the
//! body (Content-Length or chunked, bounded), hand the request to the service,
//! repeat while keep-alive holds. Bad input gets an OpenAI-shaped error and the
//! connection closes; nothing here can take the worker down.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use monoio::time::timeout_at;
use monoio_rustls::TlsAcceptor;

use super::parse::{self, Framing, parse_request_head};
use super::{ClientIo, Limits, Request, Responder, Service};
use crate::api::ApiError;
use crate::http1::{ChunkedDecoder, has_token, read_append};

const READ_SPARE: usize = 8 * 1024;

/// What a worker knows about its connections, for draining on shutdown.
#[derive(Default)]
pub struct WorkerGauge {
    pub in_flight: Cell<usize>,
    pub draining: Cell<bool>,
}

/// Why a request could not be read; each maps to a status and a message.
enum ReadFail {
    /// The peer went away or the socket failed: nothing to answer.
    Gone,
    Reject(ApiError),
}

fn reject(status: u16, code: &'static str, message: &str) -> ReadFail {
    ReadFail::Reject(parse::reject(status, code, message))
}

pub async fn serve_connection<S: Service>(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    service: Rc<S>,
    limits: Rc<Limits>,
    gauge: Rc<WorkerGauge>,
) {
    let _ = stream.set_nodelay(true);
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

async fn serve_requests<S: Service>(
    stream: &mut ClientIo,
    service: &S,
    limits: &Limits,
    gauge: &WorkerGauge,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SPARE);
    let mut wbuf: Vec<u8> = Vec::with_capacity(READ_SPARE);
    loop {
        if gauge.draining.get() && buf.is_empty() {
            return;
        }
        let req = match read_request(stream, &mut buf, limits).await {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadFail::Gone) => return,
            Err(ReadFail::Reject(err)) => {
                let mut resp = Responder::new(stream, wbuf, false);
                let _ = resp.send_error(&err, &[]).await;
                return;
            }
        };
        let keep_alive = wants_keep_alive(&req) && !gauge.draining.get();
        gauge.in_flight.set(gauge.in_flight.get() + 1);
        let mut resp = Responder::new(stream, wbuf, keep_alive);
        service.call(req, &mut resp).await;
        let (returned, nothing_sent, reusable) = resp.finish();
        wbuf = returned;
        gauge.in_flight.set(gauge.in_flight.get() - 1);
        if nothing_sent {
            // A service that answered nothing is a bug; the client still gets a real error.
            let mut resp = Responder::new(stream, wbuf, false);
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

fn wants_keep_alive(req: &Request) -> bool {
    match req.header("connection") {
        Some(v) if has_token(v, b"close") => false,
        Some(v) if has_token(v, b"keep-alive") => true,
        _ => req.http11,
    }
}

/// Reads one request. `Ok(None)` is a clean close between requests.
async fn read_request(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    limits: &Limits,
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

    if !matches!(framing, Framing::None)
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
        Framing::Chunked => read_chunked_body(stream, buf, limits.max_body_bytes, deadline).await?,
    };
    Ok(Some(req))
}

async fn read_sized_body(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    len: usize,
    deadline: Instant,
) -> Result<Vec<u8>, ReadFail> {
    while buf.len() < len {
        let want = (len - buf.len()).clamp(READ_SPARE, 1 << 20);
        read_request_bytes(stream, buf, deadline, want, "body").await?;
    }
    let rest = buf.split_off(len);
    Ok(std::mem::replace(buf, rest))
}

async fn read_chunked_body(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    max: usize,
    deadline: Instant,
) -> Result<Vec<u8>, ReadFail> {
    let mut decoder = ChunkedDecoder::strict();
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        loop {
            let (n, data) = decoder.decode(&buf[pos..]).map_err(|e| {
                reject(
                    400,
                    "bad_chunked_body",
                    &format!("Malformed chunked body: {e}."),
                )
            })?;
            if body.len() + data.len() > max {
                return Err(ReadFail::Reject(parse::too_large(max)));
            }
            body.extend_from_slice(data);
            pos += n;
            if decoder.is_done() {
                buf.drain(..pos);
                return Ok(body);
            }
            if n == 0 {
                break;
            }
        }
        buf.drain(..pos);
        pos = 0;
        read_request_bytes(stream, buf, deadline, READ_SPARE, "body").await?;
    }
}

enum ReadMoreFail {
    Io,
    Timeout,
}

/// Reads more of a request (`part`: "headers" or "body"): a closed or failed
/// socket means the client is gone, a missed deadline is a 408.
async fn read_request_bytes(
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
