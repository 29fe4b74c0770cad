//! Reading a request body (sized or chunked) within the worker's budget for
//! body memory: every byte a body holds is leased first, and handed back
//! when the request ends, so a burst of large uploads cannot grow a worker
//! without bound.

use std::time::Instant;

use super::conn::{ReadFail, read_request_bytes, reject};
use super::parse::too_large;
use super::{ClientIo, WorkerGauge};
use crate::api::ApiError;
use crate::http1::ChunkedDecoder;

/// Bytes that reach one read of a body; larger bodies are read in pieces.
const BODY_READ_MAX: usize = 1 << 20;
pub(super) const READ_SPARE: usize = 8 * 1024;

/// Body bytes held against the worker's `max_body_memory_bytes`; returned on drop.
pub(super) struct BodyLease<'g> {
    gauge: &'g WorkerGauge,
    budget: usize,
    held: usize,
}

impl<'g> BodyLease<'g> {
    pub(super) fn new(gauge: &'g WorkerGauge, budget: usize) -> Self {
        Self {
            gauge,
            budget,
            held: 0,
        }
    }

    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Raises the lease to `total` bytes, or refuses when the worker's bodies
    /// would then hold more than the budget.
    pub(super) fn grow_to(&mut self, total: usize) -> Result<(), ReadFail> {
        if total <= self.held {
            return Ok(());
        }
        let in_use = self.gauge.body_bytes.get();
        let extra = total - self.held;
        if in_use + extra > self.budget {
            return Err(ReadFail::Reject(busy()));
        }
        self.gauge.body_bytes.set(in_use + extra);
        self.held = total;
        Ok(())
    }
}

impl Drop for BodyLease<'_> {
    fn drop(&mut self) {
        let g = &self.gauge.body_bytes;
        g.set(g.get() - self.held);
    }
}

/// The answer when the worker is at a cap: try again shortly.
pub(super) fn busy() -> ApiError {
    ApiError::coded(
        503,
        "server_error",
        "server_busy",
        "The gateway is at capacity; retry shortly.",
    )
}

pub(super) async fn read_sized_body(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    len: usize,
    deadline: Instant,
) -> Result<Vec<u8>, ReadFail> {
    if buf.capacity() < len {
        // One allocation of the announced size: growth by doubling would
        // hold up to twice the leased bytes.
        buf.reserve_exact(len - buf.len());
    }
    while buf.len() < len {
        // The buffer already has room for the whole body: ask for no more.
        let want = (len - buf.len()).min(BODY_READ_MAX);
        read_request_bytes(stream, buf, deadline, want, "body").await?;
    }
    let rest = buf.split_off(len);
    Ok(std::mem::replace(buf, rest))
}

pub(super) async fn read_chunked_body(
    stream: &mut ClientIo,
    buf: &mut Vec<u8>,
    max: usize,
    lease: &mut BodyLease<'_>,
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
            let need = body.len() + data.len();
            if need > max {
                return Err(ReadFail::Reject(too_large(max)));
            }
            if need > body.capacity() {
                let cap = need.max(body.capacity() * 2).min(max);
                lease.grow_to(cap)?;
                body.reserve_exact(cap - body.len());
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
