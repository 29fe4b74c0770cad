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
    pub key_id: Option<std::sync::Arc<str>>,
    pub team: Option<std::sync::Arc<str>>,
    /// The end user the client named (header, `user`, `metadata.user_id`).
    pub end_user: Option<String>,
    /// The model the client asked for (empty when the body had none).
    pub requested_model: String,
    /// The config serves `requested_model` (else metrics do not name it:
    /// a client must not be able to grow the series without bound).
    pub model_configured: bool,
    /// The name of the route that served, shared (when governance keeps a
    /// ledger row of the request: its model, when it is the one asked for).
    pub route_name: Option<std::sync::Arc<str>>,
    pub attempts: Vec<AttemptRecord>,
    /// The deployment (provider and upstream model) that served the answer.
    pub served: Option<std::sync::Arc<crate::router::Deployment>>,
    pub status: u16,
    pub stream: bool,
    /// The answer's usage, canonical: prompt tokens include cached ones.
    pub usage: Option<Usage>,
    /// The provider reported none: `usage` is the gateway's own count.
    pub usage_counted: bool,
    pub ttfb_ms: Option<u64>,
    pub total_ms: u64,
    pub ending: Ending,
    /// What the guards did, in order (`injection:flag:rule`,
    /// `tool:refused:name`, `approval:pending:id:tool`, …).
    pub guard: Vec<String>,
    started: Instant,
}

impl DeliveryRecord {
    pub fn new(request_id: &str, inbound: Inbound) -> Self {
        DeliveryRecord {
            request_id: request_id.to_owned(),
            inbound,
            key_id: None,
            team: None,
            end_user: None,
            requested_model: String::new(),
            model_configured: false,
            route_name: None,
            attempts: Vec::new(),
            served: None,
            status: 0,
            stream: false,
            usage: None,
            usage_counted: false,
            ttfb_ms: None,
            total_ms: 0,
            ending: Ending::Refused,
            guard: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Closes the record: the total time is taken now.
    pub fn close(&mut self) {
        self.total_ms = self.started.elapsed().as_millis() as u64;
    }
}

/// The one sink every request's record goes to: the per-core counters
/// that `/metrics` merges over all workers, and the access log when on.
pub fn record(rec: &DeliveryRecord, access_log: bool) {
    let usage = rec.usage.unwrap_or_default();
    let model = match (rec.model_configured, rec.requested_model.is_empty()) {
        (true, _) => rec.requested_model.clone(),
        (false, true) => "none".to_owned(),
        (false, false) => "unknown".to_owned(),
    };
    count(
        SeriesKey {
            inbound: rec.inbound.name(),
            model,
            provider: rec
                .served
                .as_ref()
                .map_or_else(|| "none".to_owned(), |d| d.provider.name.clone()),
            class: status_class(rec.status),
        },
        usage.prompt_tokens,
        usage.completion_tokens,
    );
    if access_log {
        use std::io::Write;
        let mut line = rec.to_json();
        line.push('\n');
        // One write per line, so lines from different workers never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

impl DeliveryRecord {
    /// The record as one JSON object (the access log's line).
    pub fn to_json(&self) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(512);
        let s = |out: &mut String, v: &str| crate::api::error::push_json_str(out, v);
        out.push_str("{\"request_id\":");
        s(&mut out, &self.request_id);
        out.push_str(",\"inbound\":");
        s(&mut out, self.inbound.name());
        out.push_str(",\"key_id\":");
        match &self.key_id {
            Some(k) => s(&mut out, k),
            None => out.push_str("null"),
        }
        out.push_str(",\"model\":");
        s(&mut out, &self.requested_model);
        out.push_str(",\"attempts\":[");
        for (i, a) in self.attempts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"deployment\":");
            s(&mut out, &a.deployment);
            out.push_str(",\"outcome\":");
            s(&mut out, &a.outcome);
            out.push_str(",\"ttfb_ms\":");
            push_opt(&mut out, a.ttfb_ms);
            out.push_str(",\"usage\":");
            push_usage(&mut out, a.usage.as_ref());
            out.push('}');
        }
        out.push_str("],\"served\":");
        match &self.served {
            Some(d) => {
                out.push_str("{\"provider\":");
                s(&mut out, &d.provider.name);
                out.push_str(",\"model\":");
                s(&mut out, &d.upstream_model);
                out.push('}');
            }
            None => out.push_str("null"),
        }
        let _ = write!(
            out,
            ",\"status\":{},\"stream\":{},\"ending\":\"{}\",\"usage\":",
            self.status,
            self.stream,
            self.ending.name()
        );
        push_usage(&mut out, self.usage.as_ref());
        if self.usage_counted {
            out.push_str(",\"usage_counted_by_gateway\":true");
        }
        if !self.guard.is_empty() {
            out.push_str(",\"guard\":[");
            for (i, g) in self.guard.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                s(&mut out, g);
            }
            out.push(']');
        }
        out.push_str(",\"ttfb_ms\":");
        push_opt(&mut out, self.ttfb_ms);
        let _ = write!(out, ",\"total_ms\":{}}}", self.total_ms);
        out
    }
}

impl Ending {
    pub fn name(self) -> &'static str {
        match self {
            Ending::Answered => "answered",
            Ending::Refused => "refused",
            Ending::UpstreamFailed => "upstream_failed",
            Ending::ClientGone => "client_gone",
        }
    }
}

fn push_opt(out: &mut String, v: Option<u64>) {
    use std::fmt::Write;
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("null"),
    }
}

/// Usage with one meaning whatever the provider: `prompt_tokens` includes
/// cached and cache-written input (OpenAI's rule).
fn push_usage(out: &mut String, u: Option<&Usage>) {
    use std::fmt::Write;
    let Some(u) = u else {
        out.push_str("null");
        return;
    };
    let _ = write!(
        out,
        "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"cached_prompt_tokens\":{},\"cache_creation_tokens\":{},\"reasoning_tokens\":{}}}",
        u.prompt_tokens,
        u.completion_tokens,
        u.cached_prompt_tokens,
        u.cache_creation_tokens,
        u.reasoning_tokens
    );
}
