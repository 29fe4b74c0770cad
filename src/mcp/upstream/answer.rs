//! An HTTP answer read as MCP: one JSON body, or an SSE stream of
//! notifications ending in the response to our id; and a change stream of
//! notifications. A stream dropped before its end closes its connection
//! (never pooled half-read): in the modern era that is the cancellation.

use std::time::Instant;

use monoio::time::timeout_at;

use super::message::{self, Incoming};
use super::{Event, McpUpstreamError};
use crate::sse::SseParser;
use crate::upstream::UpstreamResponse;

/// The largest message (a JSON body, one SSE event) accepted.
pub(super) const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// The most of an error body read.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub(super) struct HttpExchange {
    id: u64,
    resp: Option<UpstreamResponse>,
    state: State,
    deadline: Instant,
}

enum State {
    /// The answer is known already (a JSON-RPC error on an error status).
    Ready(Vec<u8>),
    Json,
    Sse(SseReader),
    Done,
}

impl HttpExchange {
    /// Reads the head's verdict: a 2xx JSON or SSE answer to stream, a
    /// JSON-RPC error on an error status, or the status itself.
    pub(super) async fn start(
        resp: UpstreamResponse,
        id: u64,
        deadline: Instant,
    ) -> Result<HttpExchange, McpUpstreamError> {
        let state = if (200..300).contains(&resp.status) && resp.status != 202 {
            match content_kind(&resp) {
                Some(Kind::Sse) => State::Sse(SseReader::default()),
                Some(Kind::Json) => State::Json,
                None => {
                    return Err(McpUpstreamError::Protocol(
                        "the answer is neither JSON nor an event stream".into(),
                    ));
                }
            }
        } else {
            let status = resp.status;
            let body = read_small(resp, deadline).await?;
            return match message::classify(&body) {
                Incoming::Response(_) if status != 202 => Ok(HttpExchange {
                    id,
                    resp: None,
                    state: State::Ready(body),
                    deadline,
                }),
                _ => Err(McpUpstreamError::Status(status)),
            };
        };
        Ok(HttpExchange {
            id,
            resp: Some(resp),
            state,
            deadline,
        })
    }

    pub(super) async fn next(&mut self) -> Result<Event, McpUpstreamError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Ready(msg) => Ok(Event::Final(msg)),
            State::Done => Err(McpUpstreamError::Closed),
            State::Json => {
                let resp = self.resp.as_mut().ok_or(McpUpstreamError::Closed)?;
                let body = timeout_at(self.deadline.into(), resp.body.collect(MAX_MESSAGE))
                    .await
                    .map_err(|_| McpUpstreamError::Timeout)??;
                Ok(Event::Final(body))
            }
            State::Sse(mut reader) => {
                let resp = self.resp.as_mut().ok_or(McpUpstreamError::Closed)?;
                let msg = timeout_at(self.deadline.into(), reader.next(resp))
                    .await
                    .map_err(|_| McpUpstreamError::Timeout)??;
                if message::answers(&msg, self.id) {
                    return Ok(Event::Final(msg));
                }
                self.state = State::Sse(reader);
                Ok(Event::Message(msg))
            }
        }
    }
}

/// A change stream: each notification (and, legacy, server request).
pub(super) struct HttpListener {
    resp: UpstreamResponse,
    reader: SseReader,
}

impl HttpListener {
    /// `405` (no GET stream) or an answer that is not a stream: the server
    /// offers no change notifications.
    pub(super) async fn start(
        resp: UpstreamResponse,
        id: Option<u64>,
    ) -> Result<HttpListener, McpUpstreamError> {
        let status = resp.status;
        if status == 405 || (id.is_some() && matches!(status, 400 | 404)) {
            return Err(McpUpstreamError::Unsupported);
        }
        if !(200..300).contains(&status) {
            return Err(McpUpstreamError::Status(status));
        }
        if content_kind(&resp) != Some(Kind::Sse) {
            return Err(McpUpstreamError::Unsupported);
        }
        Ok(HttpListener {
            resp,
            reader: SseReader::default(),
        })
    }

    /// The next notification, raw; `Closed` when the stream ends (the
    /// server's closing answer to `subscriptions/listen` included).
    pub(super) async fn next(&mut self) -> Result<Vec<u8>, McpUpstreamError> {
        loop {
            let msg = self.reader.next(&mut self.resp).await?;
            match message::classify(&msg) {
                Incoming::Response(_) => return Err(McpUpstreamError::Closed),
                Incoming::Notification(_)
                    if message::is_notification(
                        &msg,
                        "notifications/subscriptions/acknowledged",
                    ) => {}
                Incoming::Notification(_) | Incoming::Request(_) => return Ok(msg),
                Incoming::Other => {}
            }
        }
    }
}

/// Events of an SSE body, each `message` event's data one JSON-RPC message.
#[derive(Default)]
struct SseReader {
    parser: SseParser,
    /// Bytes fed since the last event: bounds one event's size.
    pending: usize,
}

impl SseReader {
    async fn next(&mut self, resp: &mut UpstreamResponse) -> Result<Vec<u8>, McpUpstreamError> {
        loop {
            while let Some(event) = self.parser.next_event() {
                self.pending = 0;
                // Priming events (no data, an id to resume from) and other
                // event types carry no message.
                if event.event_type() == "message" && !event.data.trim().is_empty() {
                    return Ok(event.data.into_bytes());
                }
            }
            match resp.body.next().await? {
                Some(piece) => {
                    self.pending += piece.len();
                    if self.pending > MAX_MESSAGE {
                        return Err(McpUpstreamError::Protocol("an event is too large".into()));
                    }
                    self.parser.feed(piece);
                }
                None => return Err(McpUpstreamError::Closed),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Sse,
}

fn content_kind(resp: &UpstreamResponse) -> Option<Kind> {
    let value = resp.header("content-type")?;
    let media = value.split(|&b| b == b';').next()?.trim_ascii();
    if media.eq_ignore_ascii_case(b"text/event-stream") {
        Some(Kind::Sse)
    } else if media.eq_ignore_ascii_case(b"application/json") {
        Some(Kind::Json)
    } else {
        None
    }
}

/// A small body read whole (errors, notification answers), by `deadline`.
pub(super) async fn read_small(
    mut resp: UpstreamResponse,
    deadline: Instant,
) -> Result<Vec<u8>, McpUpstreamError> {
    timeout_at(deadline.into(), resp.body.collect(MAX_ERROR_BODY))
        .await
        .map_err(|_| McpUpstreamError::Timeout)?
        .map_err(McpUpstreamError::from)
}
