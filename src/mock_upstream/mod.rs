//! `tollgate mock-upstream`: a fast fake provider for tests and benchmarks,
//! speaking OpenAI chat completions, Anthropic Messages and Gemini
//! generateContent (chosen by path) — the echo model or recorded fixtures
//! (`x-mock-fixture`), non-stream and SSE answers, chunk count and pacing
//! (`x-mock-chunks`, `x-mock-chunk-delay-ms`), fault injection per request
//! (see `faults`), the raw request body echoed back (`x-mock-echo-body`) or
//! the whole request as JSON (`x-mock-echo-request`), Anthropic's and
//! Gemini's count endpoints (a deterministic count, see `count`),
//! tool calls the test names (`x-mock-tool-call`, see `tool_call`), a text
//! chosen and cut by the test (`x-mock-text`, `x-mock-split-at`, see
//! `text_cut`), provider-specific fields and headers a gateway should strip
//! (`x-mock-provider-extras: 1`, see `extras`), counters at `GET /mock/stats`,
//! and an MCP server at `/mcp` in both protocol eras (see `mcp`).

mod answer;
mod count;
pub mod echo;
mod extras;
pub mod faults;
pub mod fixtures;
pub mod formats;
pub mod mcp;
mod text_cut;
mod tool_call;

use faults::FaultPlan;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::ApiError;
use crate::server::{Request, Responder, Service};

/// What the mock has seen, across all its workers.
#[derive(Default)]
pub struct MockStats {
    pub requests: AtomicU64,
    pub connections_opened: AtomicU64,
    pub connections_open: AtomicU64,
    pub streams_started: AtomicU64,
    pub streams_completed: AtomicU64,
    pub streams_aborted: AtomicU64,
}

/// The body of the last request that carried `x-mock-record`, for tests
/// that check exactly what a provider was sent (`GET /mock/last-request`).
fn last_request() -> &'static std::sync::Mutex<Vec<u8>> {
    static LAST: std::sync::OnceLock<std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    LAST.get_or_init(Default::default)
}

pub fn stats() -> &'static MockStats {
    static STATS: std::sync::OnceLock<MockStats> = std::sync::OnceLock::new();
    STATS.get_or_init(MockStats::default)
}

impl MockStats {
    fn to_json(&self) -> Vec<u8> {
        let g = |a: &AtomicU64| a.load(Ordering::SeqCst);
        format!(
            "{{\"requests\":{},\"connections_opened\":{},\"connections_open\":{},\"streams_started\":{},\"streams_completed\":{},\"streams_aborted\":{}}}",
            g(&self.requests),
            g(&self.connections_opened),
            g(&self.connections_open),
            g(&self.streams_started),
            g(&self.streams_completed),
            g(&self.streams_aborted)
        )
        .into_bytes()
    }
}

/// The key a request presents, whichever provider header carries it.
fn presented_key(req: &Request) -> Option<&str> {
    req.header_str("authorization")
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
        .or_else(|| req.header_str("x-api-key"))
        .or_else(|| req.header_str("api-key"))
        .or_else(|| req.header_str("x-goog-api-key"))
}

pub struct MockUpstream {
    worker: usize,
    counter: std::cell::Cell<u64>,
}

impl MockUpstream {
    pub fn new(worker: usize) -> Self {
        Self {
            worker,
            counter: std::cell::Cell::new(0),
        }
    }

    fn next_id(&self, format: formats::Format) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let prefix = match format {
            formats::Format::OpenAi => "chatcmpl-mock",
            formats::Format::Anthropic => "msg_mock",
            formats::Format::Gemini { .. } => "gem-mock",
        };
        format!("{prefix}{:02x}{n:010x}", self.worker)
    }
}

impl Service for MockUpstream {
    fn on_connect(&self) {
        let s = stats();
        s.connections_opened.fetch_add(1, Ordering::SeqCst);
        s.connections_open.fetch_add(1, Ordering::SeqCst);
    }

    fn on_disconnect(&self) {
        stats().connections_open.fetch_sub(1, Ordering::SeqCst);
    }

    async fn call(&self, req: Request, resp: &mut Responder<'_>) {
        if mcp::owns(req.path()) {
            return mcp::serve(&req, resp).await;
        }
        let (spec, path) = match faults::strip_fault_prefix(req.path()) {
            Some((spec, rest)) => (Some(spec.to_string()), rest.to_string()),
            None => (
                req.header_str("x-mock-fault").map(str::to_string),
                req.path().to_string(),
            ),
        };
        if req.method() == "GET" && path == "/mock/last-request" {
            let last = last_request().lock().map(|l| l.clone()).unwrap_or_default();
            let _ = resp.send_json(200, &[], &last).await;
            return;
        }
        if req.header("x-mock-record").is_some()
            && let Ok(mut last) = last_request().lock()
        {
            *last = req.body.clone();
        }
        if req.method() == "GET" && path == "/mock/stats" {
            let _ = resp.send_json(200, &[], &stats().to_json()).await;
            return;
        }
        stats().requests.fetch_add(1, Ordering::SeqCst);
        if let Some(format) = count::count_format(req.method(), &path) {
            let (status, body) = count::answer(format, spec.as_deref(), &req.body, &path);
            let _ = resp.send_json(status, &[], &body).await;
            return;
        }
        let format = match formats::Format::from_path(&path) {
            Some(f) if req.method() == "POST" => f,
            _ => {
                let _ = resp.send_error(&ApiError::not_found(&path), &[]).await;
                return;
            }
        };
        let plan = match spec.as_deref().map(FaultPlan::parse).transpose() {
            Ok(Some(p))
                if faults::applies(&p, spec.as_deref().unwrap_or(""), presented_key(&req)) =>
            {
                p
            }
            Ok(_) => FaultPlan::default(),
            Err(e) => {
                let _ = resp
                    .send_error(&ApiError::invalid_request("bad_fault", e), &[])
                    .await;
                return;
            }
        };
        let id = self.next_id(format);
        answer::answer(&req, format, &path, &plan, &id, resp).await;
    }
}
