//! A response body as it arrives: Content-Length, chunked or until-close
//! framing decoded piece by piece from the connection's buffer, with total,
//! first-token and stall deadlines; the connection goes back to this core's
//! pool only when the body was read to its end.

use std::ops::Range;
use std::time::Instant;

use monoio::time::timeout_at;

use super::exchange::{READ_SPARE, UpstreamError};
use super::{Origin, Transport, pool};
use crate::http1::{ChunkedDecoder, read_append};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A piece of the response body, borrowed from the connection's buffer.
pub type BodyChunk<'a> = &'a [u8];

pub struct UpstreamBody {
    conn: Option<Transport>,
    buf: Vec<u8>,
    pos: usize,
    framing: Framing,
    remaining: u64,
    decoder: ChunkedDecoder,
    done: bool,
    reusable: bool,
    deadline: Instant,
    /// Longest wait for the next piece, when set.
    piece_timeout: Option<(std::time::Duration, UpstreamError)>,
    origin: Origin,
    max_idle: usize,
}

impl UpstreamBody {
    /// A body whose first bytes (after the head) are already in `buf`.
    pub(super) fn new(
        conn: Transport,
        buf: Vec<u8>,
        framing: Framing,
        keep_alive: bool,
        deadline: Instant,
        origin: Origin,
        max_idle: usize,
    ) -> Self {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        let mut body = UpstreamBody {
            conn: Some(conn),
            buf,
            pos: 0,
            framing,
            remaining,
            decoder: ChunkedDecoder::new(),
            done: false,
            reusable: keep_alive,
            deadline,
            piece_timeout: None,
            origin,
            max_idle,
        };
        if framing == Framing::Empty {
            body.finish();
        }
        body
    }

    pub(super) fn framing(&self) -> Framing {
        self.framing
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bounds the wait for each following piece; a miss fails with `error`
    /// (`FirstTokenTimeout` before relaying starts, `Stalled` after).
    pub fn set_piece_timeout(
        &mut self,
        timeout: Option<std::time::Duration>,
        error: UpstreamError,
    ) {
        self.piece_timeout = timeout.map(|t| (t, error));
    }

    /// The next piece of the body as it arrives; `None` at its end, when the
    /// connection goes back to this core's pool.
    pub async fn next(&mut self) -> Result<Option<BodyChunk<'_>>, UpstreamError> {
        let range = loop {
            if self.done {
                return Ok(None);
            }
            if let Some(r) = self.take_buffered()? {
                break r;
            }
            if self.done {
                return Ok(None);
            }
            self.fill().await?;
        };
        Ok(Some(&self.buf[range]))
    }

    /// Reads the rest of the body into one buffer (for non-stream translation).
    pub async fn collect(&mut self, limit: usize) -> Result<Vec<u8>, UpstreamError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await? {
            if out.len() + chunk.len() > limit {
                return Err(UpstreamError::Protocol("response body too large".into()));
            }
            out.extend_from_slice(chunk);
        }
        Ok(out)
    }

    /// Decodes what is buffered: a range of body data, or `None` if more input is needed.
    fn take_buffered(&mut self) -> Result<Option<Range<usize>>, UpstreamError> {
        let avail = self.buf.len() - self.pos;
        match self.framing {
            Framing::Empty => {
                self.finish();
                Ok(None)
            }
            Framing::Length(_) => {
                if avail == 0 {
                    return Ok(None);
                }
                let take = (self.remaining as usize).min(avail);
                let start = self.pos;
                self.pos += take;
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.finish();
                }
                Ok(Some(start..start + take))
            }
            Framing::UntilClose => {
                if avail == 0 {
                    return Ok(None);
                }
                let start = self.pos;
                self.pos = self.buf.len();
                Ok(Some(start..self.pos))
            }
            Framing::Chunked => loop {
                let base = self.buf.as_ptr() as usize;
                let (n, data) = self.decoder.decode(&self.buf[self.pos..])?;
                // An empty `data` may not point into the buffer at all.
                let data_range = (!data.is_empty()).then(|| {
                    let start = data.as_ptr() as usize - base;
                    start..start + data.len()
                });
                self.pos += n;
                if self.decoder.is_done() {
                    self.finish();
                }
                if let Some(range) = data_range {
                    return Ok(Some(range));
                }
                if n == 0 || self.done {
                    return Ok(None);
                }
            },
        }
    }

    async fn fill(&mut self) -> Result<(), UpstreamError> {
        if self.pos == self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.drain(..self.pos);
        }
        self.pos = 0;
        let conn = self.conn.as_mut().ok_or(UpstreamError::Closed)?;
        let owned = std::mem::take(&mut self.buf);
        let piece_deadline = self
            .piece_timeout
            .as_ref()
            .map(|(t, _)| Instant::now() + *t);
        let deadline = piece_deadline.map_or(self.deadline, |p| p.min(self.deadline));
        let (res, owned) =
            match timeout_at(deadline.into(), read_append(conn, owned, READ_SPARE)).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(match (&self.piece_timeout, piece_deadline) {
                        (Some((_, e)), Some(p)) if p < self.deadline => e.same_kind(),
                        _ => UpstreamError::TotalTimeout,
                    });
                }
            };
        self.buf = owned;
        match res {
            Ok(0) if self.framing == Framing::UntilClose => {
                self.reusable = false;
                self.finish();
                Ok(())
            }
            Ok(0) => Err(UpstreamError::Closed),
            Ok(_) => Ok(()),
            Err(e) => Err(UpstreamError::Io(e)),
        }
    }

    /// The body is complete: a clean connection goes back to the pool.
    fn finish(&mut self) {
        self.done = true;
        if !(self.reusable && self.pos == self.buf.len()) {
            self.conn = None;
        }
    }
}

/// A complete body gives its connection back to this core's pool, with its
/// read buffer, once the last piece is no longer borrowed; an incomplete one
/// (the client left, an error) closes it instead of pooling it half-read.
impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if self.done
            && let Some(conn) = self.conn.take()
        {
            pool::checkin(
                &self.origin,
                conn,
                std::mem::take(&mut self.buf),
                self.max_idle,
            );
        }
    }
}
