//! Answering one mock request: faults first, then echoes of the request,
//! then a fixture, the test's tool calls or the echo model in the requested
//! wire format.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::echo::EchoPlan;
use super::extras;
use super::faults::FaultPlan;
use super::fixtures::{self, Fixture};
use super::formats::{self, Format};
use super::stats;
use super::text_cut::TextCut;
use super::tool_call::ToolAnswer;
use crate::api::ApiError;
use crate::api::error::push_json_str;
use crate::server::{Request, Responder};

const JSON: (&str, &[u8]) = ("content-type", b"application/json");

pub async fn answer(
    req: &Request,
    format: Format,
    path: &str,
    plan: &FaultPlan,
    id: &str,
    resp: &mut Responder<'_>,
) {
    if plan.hang {
        // Hang until the caller gives up and closes (or ten minutes pass).
        monoio::select! {
            _ = monoio::time::sleep(Duration::from_secs(600)) => {},
            _ = resp.client_input_ended() => {},
        }
        resp.abort();
        return;
    }
    if let Some(latency) = plan.latency {
        // A caller that gives up (a cancelled hedge) is seen at once.
        let gone = monoio::select! {
            _ = monoio::time::sleep(latency) => false,
            _ = resp.client_input_ended() => true,
        };
        if gone {
            resp.abort();
            return;
        }
    }
    if plan.context_length {
        // OpenAI's own wording and code for a prompt over the context window.
        let err = ApiError::coded(
            400,
            "invalid_request_error",
            "context_length_exceeded",
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        )
        .with_param("messages");
        let _ = resp.send_error(&err, &[]).await;
        return;
    }
    if let Some(status) = plan.failing_status() {
        let retry = plan.retry_after.map(|s| s.to_string());
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(2);
        headers.extend(retry.iter().map(|r| ("retry-after", r.as_bytes())));
        if status == 429 {
            headers.push(("x-ratelimit-remaining-requests", b"0"));
        }
        let body = match super::presented_key(req) {
            _ if plan.detail_body => {
                format!("{{\"detail\":\"Injected fault: status {status}.\"}}").into_bytes()
            }
            Some(key) if plan.echo_key => {
                fault_body(format, status, &super::faults::echoed_key_message(key))
            }
            _ => fault_body(format, status, &format!("Injected fault: status {status}.")),
        };
        let _ = resp.send_json(status, &headers, &body).await;
        return;
    }
    if plan.hang_body {
        let headers: [(&str, &[u8]); 1] = [("content-type", b"text/event-stream")];
        if resp.start_stream(200, &headers, true).await.is_ok() {
            monoio::select! {
                _ = monoio::time::sleep(Duration::from_secs(600)) => {},
                _ = resp.client_input_ended() => {},
            }
        }
        resp.abort();
        return;
    }
    if req.header("x-mock-echo-request").is_some() {
        let _ = resp.send_json(200, &[], &echo_request(req)).await;
        return;
    }
    if req.header("x-mock-echo-body").is_some() {
        // The raw request body back, byte for byte: lets tests see exactly what arrived.
        let _ = resp.send_json(200, &[], &req.body).await;
        return;
    }
    let Some(mut echo) = formats::plan_for(format, &req.body, path) else {
        let err = ApiError::invalid_request("invalid_json", "The mock could not read the request.");
        let _ = resp.send_error(&err, &[]).await;
        return;
    };
    if plan.no_usage {
        echo.include_usage = false;
    }
    let pacing = Pacing {
        delay: req
            .header_str("x-mock-chunk-delay-ms")
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis),
        cut_after: plan.cut_after,
        headers: extras::headers(format, extras::requested(req)),
    };
    if let Some(name) = req.header_str("x-mock-fixture") {
        match fixtures::load(format.fixture_dir(), name, echo.stream) {
            Some(Fixture::Stream(mut events)) => {
                if plan.drop_last {
                    events.pop();
                }
                stream_events(&events, false, &pacing, resp).await
            }
            Some(Fixture::Body { status, body }) => send_body(status, &body, &pacing, resp).await,
            None => {
                let err =
                    ApiError::invalid_request("unknown_fixture", format!("No fixture `{name}`."));
                let _ = resp.send_error(&err, &[]).await;
            }
        }
        return;
    }
    match generate(req, format, &mut echo, id) {
        Ok(Generated::Stream(mut events)) => {
            if plan.echo_key_stream {
                let key = super::presented_key(req).unwrap_or_default();
                events.truncate(1);
                events.push(super::faults::echoed_key_event(format, key));
            }
            if plan.drop_last {
                events.pop();
            }
            stream_events(&events, true, &pacing, resp).await;
        }
        Ok(Generated::Body(body)) => send_body(200, &body, &pacing, resp).await,
        Err(message) => {
            let err = ApiError::invalid_request("bad_mock_header", message);
            let _ = resp.send_error(&err, &[]).await;
        }
    }
}

/// A generated answer: whole, or the stream's events (unframed).
enum Generated {
    Body(Vec<u8>),
    Stream(Vec<Vec<u8>>),
}

/// The answer the test's headers ask for: tool calls (`x-mock-tool-call`),
/// the text of `x-mock-text`, or the echo; streamed text cut as `TextCut` says.
fn generate(
    req: &Request,
    format: Format,
    echo: &mut EchoPlan,
    id: &str,
) -> Result<Generated, String> {
    let extras = extras::requested(req);
    if let Some(text) = req.header("x-mock-text") {
        echo.text = std::str::from_utf8(text)
            .map_err(|_| "x-mock-text is not UTF-8".to_string())?
            .to_string();
    }
    let cut = TextCut::from_headers(
        req.header_str("x-mock-chunks"),
        req.header_str("x-mock-split-at"),
    )?;
    if let Some(tools) = ToolAnswer::from_request(req)? {
        return if echo.stream {
            let pieces = cut.cut(&tools.text)?;
            tools
                .events(format, echo, id, &pieces, extras)
                .map(Generated::Stream)
        } else {
            tools.body(format, echo, id, extras).map(Generated::Body)
        };
    }
    if !echo.stream {
        return Ok(Generated::Body(match format {
            Format::OpenAi => echo.completion_json_with(id, extras::openai_body_tail(extras)),
            Format::Anthropic => formats::anthropic_message(echo, id),
            Format::Gemini { .. } => formats::gemini_body(echo, id),
        }));
    }
    let pieces = cut.cut(&echo.text)?;
    Ok(Generated::Stream(match format {
        Format::OpenAi => echo.stream_events_of(id, &pieces, extras::openai_chunk_tail(extras)),
        Format::Anthropic => formats::anthropic_events_of(echo, id, &pieces),
        Format::Gemini { .. } => formats::gemini_events(echo, id, &pieces),
    }))
}

struct Pacing {
    delay: Option<Duration>,
    cut_after: Option<usize>,
    /// Sent with every successful answer (the provider extras, when asked).
    headers: &'static [(&'static str, &'static [u8])],
}

/// An error body in the provider's own shape.
pub(super) fn fault_body(format: Format, status: u16, message: &str) -> Vec<u8> {
    match format {
        Format::OpenAi => ApiError::coded(status, "server_error", "mock_fault", message).to_json(),
        Format::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            let mut out =
                format!("{{\"type\":\"error\",\"error\":{{\"type\":\"{kind}\",\"message\":");
            push_json_str(&mut out, message);
            out.push_str("}}");
            out.into_bytes()
        }
        Format::Gemini { .. } => {
            let grpc = match status {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                504 => "DEADLINE_EXCEEDED",
                _ => "INTERNAL",
            };
            let mut out = format!("{{\"error\":{{\"code\":{status},\"message\":");
            push_json_str(&mut out, message);
            out.push_str(&format!(",\"status\":\"{grpc}\"}}}}"));
            out.into_bytes()
        }
    }
}

async fn send_body(status: u16, body: &[u8], pacing: &Pacing, resp: &mut Responder<'_>) {
    if pacing.cut_after.is_some() {
        // Promise the whole body, deliver half, hang up.
        let mut headers = vec![JSON];
        headers.extend_from_slice(pacing.headers);
        let _ = resp.start_sized(status, &headers, body.len() as u64).await;
        let _ = resp.send_raw(&body[..body.len() / 2]).await;
        resp.abort();
        return;
    }
    let _ = resp.send_json(status, pacing.headers, body).await;
}

/// Streams events; `frame` adds the blank line generated events lack.
async fn stream_events(events: &[Vec<u8>], frame: bool, pacing: &Pacing, resp: &mut Responder<'_>) {
    let s = stats();
    s.streams_started.fetch_add(1, Ordering::SeqCst);
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("content-type", b"text/event-stream"),
        ("cache-control", b"no-cache"),
    ];
    headers.extend_from_slice(pacing.headers);
    if resp.start_stream(200, &headers, true).await.is_err() {
        s.streams_aborted.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let mut framed = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if pacing.cut_after == Some(i) {
            resp.abort();
            s.streams_aborted.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if i > 0
            && let Some(d) = pacing.delay
        {
            monoio::time::sleep(d).await;
        }
        framed.clear();
        framed.extend_from_slice(event);
        if frame && !framed.ends_with(b"\n\n") {
            framed.extend_from_slice(b"\n\n");
        }
        if resp.send_chunk(&framed).await.is_err() {
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

/// What arrived, as JSON: method, target (path and query), headers, body text.
fn echo_request(req: &Request) -> Vec<u8> {
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
