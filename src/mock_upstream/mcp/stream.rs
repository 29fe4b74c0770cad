//! The SSE answers: `slow`'s progress events before its result, and the
//! long-lived notification streams (a legacy session's GET stream, a modern
//! `subscriptions/listen`). A stream polls the definitions' generation each
//! tick (a mutation may come in on any worker) and sends `list_changed`
//! when it moved; it ends when the client goes, the session ends, the
//! mock shuts down (a modern listen gets its closing result first) or an
//! outage starts (cut, as a dying server would).

use std::time::Duration;

use super::answer::{Answer, ToolResult, write_response};
use super::methods::{Filter, SlowPlan};
use super::session::{self, StreamClaim};
use super::state::{self, Era};
use super::stats::ListenerGuard;
use crate::canonical::json::write_u64;
use crate::server::Responder;

const TICK: Duration = Duration::from_millis(10);
/// Ticks of silence before a keep-alive comment (15 s).
const KEEPALIVE_TICKS: u32 = 1500;

type Headers<'a> = &'a [(&'a str, &'a [u8])];

/// Sends the SSE head with `extra` (a legacy session's id) after the fixed headers.
async fn start(resp: &mut Responder<'_>, extra: Headers<'_>, flush: bool) -> bool {
    let mut headers = [
        ("content-type", &b"text/event-stream"[..]),
        ("cache-control", b"no-cache"),
        ("x-accel-buffering", b"no"),
        ("", b""),
    ];
    let mut n = 3;
    if let Some(&session) = extra.first() {
        headers[3] = session;
        n = 4;
    }
    resp.start_stream(200, &headers[..n], flush).await.is_ok()
}

/// Waits `delay`; `false` when the client left first.
async fn wait(resp: &Responder<'_>, delay: Duration) -> bool {
    monoio::select! {
        _ = monoio::time::sleep(delay) => true,
        _ = resp.client_input_ended() => false,
    }
}

/// `event: message` carrying the JSON `write` makes.
fn event(buf: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    buf.clear();
    buf.extend_from_slice(b"event: message\ndata: ");
    write(buf);
    buf.extend_from_slice(b"\n\n");
}

pub async fn slow(
    resp: &mut Responder<'_>,
    extra: Headers<'_>,
    id: &[u8],
    era: Era,
    plan: SlowPlan<'_>,
) {
    let done = Answer::Tool(ToolResult::SlowDone(plan.steps));
    let Some(token) = plan.token else {
        let total = plan
            .delay
            .saturating_mul(u32::try_from(plan.steps).unwrap_or(u32::MAX));
        if !wait(resp, total).await {
            resp.abort();
            return;
        }
        let _ = resp
            .send_json_written(200, extra, |out| write_response(out, id, era, &done))
            .await;
        return;
    };
    if !start(resp, extra, true).await {
        return;
    }
    let mut buf = Vec::with_capacity(256);
    for step in 1..=plan.steps {
        if !wait(resp, plan.delay).await {
            resp.abort();
            return;
        }
        event(&mut buf, |out| write_progress(out, token, step, plan.steps));
        if resp.send_chunk(&buf).await.is_err() {
            return;
        }
    }
    event(&mut buf, |out| write_response(out, id, era, &done));
    if resp.send_chunk(&buf).await.is_ok() {
        let _ = resp.end_stream().await;
    }
}

fn write_progress(out: &mut Vec<u8>, token: &[u8], step: u64, steps: u64) {
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"#,
    );
    out.extend_from_slice(token);
    out.extend_from_slice(br#","progress":"#);
    write_u64(out, step);
    out.extend_from_slice(br#","total":"#);
    write_u64(out, steps);
    out.extend_from_slice(br#","message":"step "#);
    write_u64(out, step);
    out.extend_from_slice(b" of ");
    write_u64(out, steps);
    out.extend_from_slice(b"\"}}");
}

/// Why a notification stream stops.
enum End {
    /// The client left, or an outage cut the stream.
    Cut,
    /// The server ends it (shutdown, or the session was deleted).
    Closed,
}

/// Runs a notification stream: `notify` is called with the buffer on each
/// definitions change; `open` says whether the stream's reason to exist
/// (its session) still holds.
async fn notify_loop(
    resp: &mut Responder<'_>,
    mut seen: u64,
    mut notify: impl FnMut(&mut Vec<u8>) -> bool,
    open: impl Fn() -> bool,
) -> End {
    let mut buf = Vec::with_capacity(256);
    let mut quiet = 0u32;
    loop {
        if !wait(resp, TICK).await || state::failing() {
            return End::Cut;
        }
        if crate::runtime::lifecycle().is_shutting_down() || !open() {
            return End::Closed;
        }
        let generation = state::generation();
        quiet += 1;
        buf.clear();
        if generation != seen {
            seen = generation;
            if notify(&mut buf) {
                quiet = 0;
            }
        }
        if quiet >= KEEPALIVE_TICKS {
            buf.extend_from_slice(b":\n\n");
            quiet = 0;
        }
        if !buf.is_empty() && resp.send_chunk(&buf).await.is_err() {
            return End::Cut;
        }
    }
}

/// A legacy session's GET stream: `notifications/tools/list_changed` on
/// each mutation, until the session ends.
pub async fn get(resp: &mut Responder<'_>, claim: StreamClaim) {
    let _open = ListenerGuard::open();
    let seen = state::generation();
    let session = claim.session();
    let hex = session.hex();
    if !start(resp, &[("mcp-session-id", &hex[..])], true).await {
        return;
    }
    let notify = |buf: &mut Vec<u8>| {
        event(buf, |out| {
            out.extend_from_slice(
                br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
            )
        });
        true
    };
    match notify_loop(resp, seen, notify, || session::is_open(session)).await {
        End::Cut => resp.abort(),
        End::Closed => {
            let _ = resp.end_stream().await;
        }
    }
}

/// A modern `subscriptions/listen` stream: the acknowledgement first, then
/// `notifications/tools/list_changed` on each mutation when asked for,
/// each tagged with the subscription (the request's id); at shutdown, the
/// request's closing result.
pub async fn listen(resp: &mut Responder<'_>, id: &[u8], filter: Filter) {
    let _open = ListenerGuard::open();
    let seen = state::generation();
    if !start(resp, &[], false).await {
        return;
    }
    let mut buf = Vec::with_capacity(256);
    event(&mut buf, |out| write_acknowledged(out, id, filter));
    if resp.send_chunk(&buf).await.is_err() {
        return;
    }
    let notify = |buf: &mut Vec<u8>| {
        if filter.tools {
            event(buf, |out| write_list_changed(out, id));
        }
        filter.tools
    };
    match notify_loop(resp, seen, notify, || true).await {
        End::Cut => resp.abort(),
        End::Closed => {
            event(&mut buf, |out| write_closing(out, id));
            if resp.send_chunk(&buf).await.is_ok() {
                let _ = resp.end_stream().await;
            }
        }
    }
}

const SUBSCRIPTION_META: &[u8] = br#"{"io.modelcontextprotocol/subscriptionId":"#;

fn write_acknowledged(out: &mut Vec<u8>, id: &[u8], filter: Filter) {
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":"#,
    );
    out.extend_from_slice(SUBSCRIPTION_META);
    out.extend_from_slice(id);
    out.extend_from_slice(br#"},"notifications":{"#);
    let asked = [
        (filter.tools, "toolsListChanged"),
        (filter.prompts, "promptsListChanged"),
        (filter.resources, "resourcesListChanged"),
    ];
    let mut first = true;
    for (_, name) in asked.iter().filter(|(on, _)| *on) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":true");
    }
    out.extend_from_slice(b"}}}");
}

fn write_list_changed(out: &mut Vec<u8>, id: &[u8]) {
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":"#,
    );
    out.extend_from_slice(SUBSCRIPTION_META);
    out.extend_from_slice(id);
    out.extend_from_slice(b"}}}");
}

/// The listen request's own result: the subscription ended gracefully.
fn write_closing(out: &mut Vec<u8>, id: &[u8]) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id);
    out.extend_from_slice(br#","result":{"resultType":"complete","_meta":"#);
    out.extend_from_slice(SUBSCRIPTION_META);
    out.extend_from_slice(id);
    out.extend_from_slice(b"}}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        simd_json::to_owned_value(&mut out).unwrap_or_else(|e| panic!("{e}: {text}"));
        text
    }

    #[test]
    fn stream_messages_are_json_tagged_with_the_subscription() {
        let all = Filter {
            tools: true,
            prompts: true,
            resources: false,
        };
        assert_eq!(
            json(|o| write_acknowledged(o, b"\"l-1\"", all)),
            r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"l-1"},"notifications":{"toolsListChanged":true,"promptsListChanged":true}}}"#
        );
        assert!(
            json(|o| write_acknowledged(o, b"7", Filter::default()))
                .ends_with(r#""notifications":{}}}"#)
        );
        assert_eq!(
            json(|o| write_list_changed(o, b"7")),
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
        );
        assert_eq!(
            json(|o| write_closing(o, b"7")),
            r#"{"jsonrpc":"2.0","id":7,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
        );
        assert_eq!(
            json(|o| write_progress(o, b"\"t\"", 2, 3)),
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":2,"total":3,"message":"step 2 of 3"}}"#
        );
    }
}
