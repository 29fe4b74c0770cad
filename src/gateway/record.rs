//! The delivery record: one per request, whatever its outcome — the single
//! account of what was asked, what was tried and what was served, from
//! which metrics (and, in later issues, spend, audit and histograms) are
//! derived. Nothing else re-derives what was served.

use std::time::Instant;

use super::dialect::Inbound;
use super::engine::AttemptRecord;
use crate::canonical::Usage;
use crate::observe::metrics::{SeriesKey, count, status_class};

/// How the request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// An answer went out whole.
    Answered,
    /// Refused before any upstream was tried (bad request, key, routing).
    Refused,
    /// Every attempt failed, or the answer broke after the commit point.
    UpstreamFailed,
    /// The client left before the answer was whole.
    ClientGone,
}

#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub request_id: String,
    pub inbound: Inbound,
    pub key_id: Option<String>,
    /// The model the client asked for (empty when the body had none).
    pub requested_model: String,
    pub attempts: Vec<AttemptRecord>,
    /// `(provider, upstream model)` that served the answer.
    pub served: Option<(String, String)>,
    pub status: u16,
    pub stream: bool,
    /// The answer's usage, canonical: prompt tokens include cached ones.
    pub usage: Option<Usage>,
    pub ttfb_ms: Option<u64>,
    pub total_ms: u64,
    pub ending: Ending,
    started: Instant,
}

impl DeliveryRecord {
    pub fn new(request_id: &str, inbound: Inbound) -> Self {
        DeliveryRecord {
            request_id: request_id.to_owned(),
            inbound,
            key_id: None,
            requested_model: String::new(),
            attempts: Vec::new(),
            served: None,
            status: 0,
            stream: false,
            usage: None,
            ttfb_ms: None,
            total_ms: 0,
            ending: Ending::Refused,
            started: Instant::now(),
        }
    }

    /// Closes the record: the total time is taken now.
    pub fn close(&mut self) {
        self.total_ms = self.started.elapsed().as_millis() as u64;
    }
}

/// The one sink every request's record goes to: today the per-core
/// counters that `/metrics` merges over all workers.
pub fn record(rec: &DeliveryRecord) {
    let usage = rec.usage.unwrap_or_default();
    count(
        SeriesKey {
            inbound: rec.inbound.name(),
            model: rec.requested_model.clone(),
            provider: rec
                .served
                .as_ref()
                .map_or_else(|| "none".to_owned(), |(p, _)| p.clone()),
            class: status_class(rec.status),
        },
        usage.prompt_tokens,
        usage.completion_tokens,
    );
}
