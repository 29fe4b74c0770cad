//! `tollgate mock-upstream`: a fast fake OpenAI-compatible provider for tests
//! and benchmarks — non-stream and SSE answers, chunk count and pacing
//! (`x-mock-chunks`, `x-mock-chunk-delay-ms`), fault injection per request
//! (see `faults`), the raw request body echoed back (`x-mock-echo-body`) or
//! the whole request as JSON (`x-mock-echo-request`),
//! and counters at `GET /mock/stats`.

pub mod echo;
pub mod faults;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use echo::EchoPlan;
use faults::FaultPlan;

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

    fn next_id(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("chatcmpl-mock{:02x}{n:010x}", self.worker)
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
        let (spec, path) = match faults::strip_fault_prefix(req.path()) {
            Some((spec, rest)) => (Some(spec.to_string()), rest.to_string()),
            None => (
                req.header_str("x-mock-fault").map(str::to_string),
                req.path().to_string(),
            ),
        };
        if req.method() == "GET" && path == "/mock/stats" {
            let _ = resp
                .send(
                    200,
                    &[("content-type", b"application/json")],
                    &stats().to_json(),
                )
                .await;
            return;
        }
        stats().requests.fetch_add(1, Ordering::SeqCst);
        if req.method() != "POST" || !path.ends_with("/chat/completions") {
            let _ = resp.send_error(&ApiError::not_found(&path), &[]).await;
            return;
        }
        let plan = match spec.as_deref().map(FaultPlan::parse).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                let _ = resp
                    .send_error(&ApiError::invalid_request("bad_fault", e), &[])
                    .await;
                return;
            }
        };
        self.answer(&req, &plan, resp).await;
    }
}

impl MockUpstream {
    async fn answer(&self, req: &Request, plan: &FaultPlan, resp: &mut Responder<'_>) {
        if plan.hang {
            // Hang until the caller gives up and closes (or ten minutes pass).
            monoio::select! {
                _ = monoio::time::sleep(Duration::from_secs(600)) => {},
                _ = resp.client_closed() => {},
            }
            resp.abort();
            return;
        }
        if let Some(latency) = plan.latency {
            monoio::time::sleep(latency).await;
        }
        if let Some(status) = plan.failing_status() {
            let err = ApiError::new(
                status,
                "server_error",
                "mock_fault",
                format!("Injected fault: status {status}."),
            );
            let retry = plan.retry_after.map(|s| s.to_string());
            let extra: Vec<(&str, &[u8])> = retry
                .iter()
                .map(|r| ("retry-after", r.as_bytes()))
                .collect();
            let _ = resp.send_error(&err, &extra).await;
            return;
        }
        if req.header("x-mock-echo-request").is_some() {
            let _ = resp
                .send(
                    200,
                    &[("content-type", b"application/json")],
                    &echo_request(req),
                )
                .await;
            return;
        }
        if req.header("x-mock-echo-body").is_some() {
            // The raw request body back, byte for byte: lets tests see exactly what arrived.
            let _ = resp
                .send(200, &[("content-type", b"application/json")], &req.body)
                .await;
            return;
        }
        let Some(echo) = EchoPlan::from_request(&req.body) else {
            let err =
                ApiError::invalid_request("invalid_json", "The mock could not read the request.");
            let _ = resp.send_error(&err, &[]).await;
            return;
        };
        let id = self.next_id();
        if echo.stream {
            let pieces = req.header_str("x-mock-chunks").and_then(|v| v.parse().ok());
            let delay = req
                .header_str("x-mock-chunk-delay-ms")
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis);
            stream_answer(&echo, &id, pieces, delay, plan.cut_after, resp).await;
        } else {
            let body = echo.completion_json(&id);
            if let Some(_cut) = plan.cut_after {
                let _ = resp
                    .start_sized(
                        200,
                        &[("content-type", b"application/json")],
                        body.len() as u64,
                    )
                    .await;
                let _ = resp.send_raw(&body[..body.len() / 2]).await;
                resp.abort();
                return;
            }
            let _ = resp
                .send(200, &[("content-type", b"application/json")], &body)
                .await;
        }
    }
}

/// What arrived, as JSON: method, target (path and query), headers, body text.
fn echo_request(req: &Request) -> Vec<u8> {
    use crate::api::error::push_json_str;
    let mut out = String::from("{\"method\":");
    push_json_str(&mut out, req.method());
    out.push_str(",\"target\":");
    let target = match req.query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_string(),
    };
    push_json_str(&mut out, &target);
    out.push_str(",\"headers\":{");
    for (i, (name, value)) in req.headers().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, &name.to_ascii_lowercase());
        out.push(':');
        push_json_str(&mut out, &String::from_utf8_lossy(value));
    }
    out.push_str("},\"body\":");
    push_json_str(&mut out, &String::from_utf8_lossy(&req.body));
    out.push('}');
    out.into_bytes()
}

async fn stream_answer(
    echo: &EchoPlan,
    id: &str,
    pieces: Option<usize>,
    delay: Option<Duration>,
    cut_after: Option<usize>,
    resp: &mut Responder<'_>,
) {
    let s = stats();
    s.streams_started.fetch_add(1, Ordering::SeqCst);
    let headers: [(&str, &[u8]); 2] = [
        ("content-type", b"text/event-stream"),
        ("cache-control", b"no-cache"),
    ];
    if resp.start_stream(200, &headers, true).await.is_err() {
        s.streams_aborted.fetch_add(1, Ordering::SeqCst);
        return;
    }
    for (i, event) in echo.stream_events(id, pieces).iter().enumerate() {
        if cut_after == Some(i) {
            resp.abort();
            s.streams_aborted.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if i > 0
            && let Some(d) = delay
        {
            monoio::time::sleep(d).await;
        }
        if resp.send_chunk(event).await.is_err() {
            s.streams_aborted.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
    if resp.end_stream().await.is_ok() {
        s.streams_completed.fetch_add(1, Ordering::SeqCst);
    } else {
        s.streams_aborted.fetch_add(1, Ordering::SeqCst);
    }
}
