//! Writes one response on a client connection: whole (Content-Length) or
//! streamed (each piece written as soon as it is handed over: chunked to an
//! HTTP/1.1 client, delimited by closing the connection to an HTTP/1.0 one).

use monoio::io::AsyncWriteRentExt;

use super::ClientIo;
use crate::api::ApiError;
use crate::canonical::json::write_u64;
use crate::canonical::scratch::with_buffer;

const JSON: [(&str, &[u8]); 1] = [("content-type", b"application/json")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Streaming,
    Done,
}

pub struct Responder<'a> {
    stream: &'a mut ClientIo,
    wbuf: Vec<u8>,
    state: State,
    keep_alive: bool,
    /// The request was HTTP/1.1: chunked framing is understood.
    http11: bool,
    failed: bool,
}

impl<'a> Responder<'a> {
    pub(super) fn new(
        stream: &'a mut ClientIo,
        wbuf: Vec<u8>,
        keep_alive: bool,
        http11: bool,
    ) -> Self {
        Self {
            stream,
            wbuf,
            state: State::Fresh,
            keep_alive,
            http11,
            failed: false,
        }
    }

    /// Whether anything has been sent: past this point the response is committed.
    pub fn committed(&self) -> bool {
        self.state != State::Fresh
    }

    pub(super) fn finish(self) -> (Vec<u8>, bool, bool) {
        let reusable = self.keep_alive && !self.failed && self.state == State::Done;
        (self.wbuf, self.state == State::Fresh, reusable)
    }

    /// Resolves when the client has gone away (see `ClientIo::closed`): race
    /// it against upstream work to cancel that work as soon as nobody waits.
    /// A half-close after a complete request is not departure.
    pub async fn client_closed(&self) {
        self.stream.closed().await
    }

    /// Resolves when the client has gone or stopped sending (see
    /// `ClientIo::input_ended`): for servers whose callers never half-close.
    pub async fn client_input_ended(&self) {
        self.stream.input_ended().await
    }

    /// Asks for the connection to close after this response.
    pub fn close_after(&mut self) {
        self.keep_alive = false;
    }

    fn write_head(&mut self, status: u16, headers: &[(&str, &[u8])]) {
        self.write_head_after(status, &[], headers);
    }

    /// The head with `first` ahead of `headers`.
    fn write_head_after(
        &mut self,
        status: u16,
        first: &[(&str, &[u8])],
        headers: &[(&str, &[u8])],
    ) {
        self.wbuf.clear();
        self.wbuf.extend_from_slice(b"HTTP/1.1 ");
        write_u64(&mut self.wbuf, u64::from(status));
        self.wbuf.push(b' ');
        self.wbuf.extend_from_slice(reason(status).as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
        for (name, value) in first.iter().chain(headers) {
            self.wbuf.extend_from_slice(name.as_bytes());
            self.wbuf.extend_from_slice(b": ");
            self.wbuf.extend_from_slice(value);
            self.wbuf.extend_from_slice(b"\r\n");
        }
        if !self.keep_alive {
            self.wbuf.extend_from_slice(b"connection: close\r\n");
        } else if !self.http11 {
            // HTTP/1.0 closes by default: keeping it open must be said.
            self.wbuf.extend_from_slice(b"connection: keep-alive\r\n");
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        let buf = std::mem::take(&mut self.wbuf);
        let (res, mut buf) = self.stream.write_all(buf).await;
        buf.clear();
        self.wbuf = buf;
        if res.is_err() {
            self.failed = true;
            self.state = State::Done;
        }
        res.map(|_| ())
    }

    /// Sends a whole response with a Content-Length.
    pub async fn send(
        &mut self,
        status: u16,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> std::io::Result<()> {
        self.send_after(status, &[], headers, body).await
    }

    async fn send_after(
        &mut self,
        status: u16,
        first: &[(&str, &[u8])],
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> std::io::Result<()> {
        self.stage(status, first, headers, body);
        self.flush().await
    }

    /// The whole response, head and body, in the write buffer.
    fn stage(
        &mut self,
        status: u16,
        first: &[(&str, &[u8])],
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) {
        debug_assert_eq!(self.state, State::Fresh);
        self.write_head_after(status, first, headers);
        self.wbuf.extend_from_slice(b"content-length: ");
        write_u64(&mut self.wbuf, body.len() as u64);
        self.wbuf.extend_from_slice(b"\r\n\r\n");
        self.wbuf.extend_from_slice(body);
        self.state = State::Done;
    }

    /// [`send`](Self::send) with `content-type: application/json` ahead of `extra`.
    pub async fn send_json(
        &mut self,
        status: u16,
        extra: &[(&str, &[u8])],
        body: &[u8],
    ) -> std::io::Result<()> {
        self.send_after(status, &JSON, extra, body).await
    }

    /// [`send_json`](Self::send_json) of the body `write` produces, written
    /// in the worker's scratch buffer rather than a fresh one.
    pub async fn send_json_written(
        &mut self,
        status: u16,
        extra: &[(&str, &[u8])],
        write: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<()> {
        with_buffer(|body| {
            write(body);
            self.stage(status, &JSON, extra, body);
        });
        self.flush().await
    }

    pub async fn send_error(
        &mut self,
        err: &ApiError,
        extra: &[(&str, &[u8])],
    ) -> std::io::Result<()> {
        self.send_json(err.status, extra, &err.to_json()).await
    }

    /// Starts a streamed response; the head is written with the first chunk
    /// unless `flush_head` asks for it now. An HTTP/1.0 client cannot read
    /// chunked framing: its body ends when the connection closes.
    pub async fn start_stream(
        &mut self,
        status: u16,
        headers: &[(&str, &[u8])],
        flush_head: bool,
    ) -> std::io::Result<()> {
        debug_assert_eq!(self.state, State::Fresh);
        if !self.http11 {
            self.keep_alive = false;
        }
        self.write_head(status, headers);
        if self.http11 {
            self.wbuf
                .extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
        } else {
            self.wbuf.extend_from_slice(b"\r\n");
        }
        self.state = State::Streaming;
        if flush_head {
            self.flush().await
        } else {
            Ok(())
        }
    }

    /// Starts a response whose length is known but whose body arrives in pieces.
    pub async fn start_sized(
        &mut self,
        status: u16,
        headers: &[(&str, &[u8])],
        len: u64,
    ) -> std::io::Result<()> {
        self.write_head(status, headers);
        self.wbuf.extend_from_slice(b"content-length: ");
        write_u64(&mut self.wbuf, len);
        self.wbuf.extend_from_slice(b"\r\n\r\n");
        self.state = State::Streaming;
        Ok(())
    }

    /// Writes raw body bytes of a sized response.
    pub async fn send_raw(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.wbuf.extend_from_slice(data);
        self.flush().await
    }

    pub fn end_sized(&mut self) {
        self.state = State::Done;
    }

    /// Writes one chunk (plus any pending head) and flushes it to the socket.
    pub async fn send_chunk(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if !self.http11 {
            self.wbuf.extend_from_slice(data);
            return self.flush().await;
        }
        push_hex(&mut self.wbuf, data.len());
        self.wbuf.extend_from_slice(b"\r\n");
        self.wbuf.extend_from_slice(data);
        self.wbuf.extend_from_slice(b"\r\n");
        self.flush().await
    }

    pub async fn end_stream(&mut self) -> std::io::Result<()> {
        if self.http11 {
            self.wbuf.extend_from_slice(b"0\r\n\r\n");
        }
        self.state = State::Done;
        self.flush().await
    }

    /// Marks a response that cannot be completed: the connection will close.
    pub fn abort(&mut self) {
        self.failed = true;
        self.state = State::Done;
    }
}

fn push_hex(out: &mut Vec<u8>, n: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bits = usize::BITS - n.leading_zeros();
    let mut shift = bits.div_ceil(4).max(1) * 4;
    while shift > 0 {
        shift -= 4;
        out.push(DIGITS[(n >> shift) & 0xf]);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_in_hex() {
        for n in [0usize, 1, 15, 16, 255, 4096, 123_456] {
            let mut v = Vec::new();
            push_hex(&mut v, n);
            assert_eq!(v, format!("{n:x}").into_bytes());
        }
    }
}
