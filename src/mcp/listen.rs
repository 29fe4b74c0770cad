//! Change notifications: the legacy era's GET stream and the 2026-07-28
//! `subscriptions/listen` stream. Both watch the catalog's per-kind
//! generations, so a client hears `notifications/tools/list_changed`
//! whenever its tools may have changed — an upstream changed its list, a
//! server was isolated or came back, a pinned tool was flagged.

use std::time::{Duration, Instant};

use super::catalog::{self, Catalog};
use super::endpoint::{Answer, Ctx, Identity, SSE_HEADERS, accepts};
use super::json::members;
use super::wire::reply::{self, code};
use crate::server::{Request, Responder};

/// How often an open stream looks at the catalog.
const WATCH: Duration = Duration::from_millis(100);
/// An SSE comment this often keeps idle intermediaries from closing the stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Which lists a stream reports.
#[derive(Clone, Copy)]
struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
}

/// GET `/mcp` in the legacy era: the session's server-to-client stream.
pub async fn legacy_stream(req: &Request, resp: &mut Responder<'_>, who: &Identity) {
    if !accepts(req, "text/event-stream") {
        let body = reply::error(
            None,
            code::INVALID_REQUEST,
            "Not Acceptable: GET must accept text/event-stream",
            None,
        );
        let _ = resp.send_json(406, &[], &body).await;
        return;
    }
    if let Err((status, body)) =
        super::endpoint::named_session(req, who, crate::resilience::unix_secs())
    {
        let _ = resp.send_json(status, &[], &body).await;
        return;
    }
    if resp.start_stream(200, &SSE_HEADERS, true).await.is_err() {
        return;
    }
    let all = Filter {
        tools: true,
        prompts: true,
        resources: true,
    };
    watch(resp, all, None).await;
}

/// `subscriptions/listen` (2026-07-28): acknowledged with the subset the
/// gateway honours, then each change tagged with the subscription's id.
pub async fn modern_stream(ctx: &mut Ctx<'_>, id: &[u8], resp: &mut Responder<'_>) -> Answer {
    if !ctx.accepts_sse {
        let out = reply::error(
            Some(id),
            code::INVALID_REQUEST,
            "subscriptions/listen needs an SSE response: accept text/event-stream",
            None,
        );
        return Answer::Json(406, out);
    }
    let body = ctx.body;
    let wants = |key: &[u8]| {
        let Some(range) = ctx.params_range.clone() else {
            return false;
        };
        let [filter] = members(body, range, [b"notifications"]);
        filter.is_some_and(|f| {
            let [flag] = members(body, f, [key]);
            flag.is_some_and(|v| &body[v] == b"true")
        })
    };
    let filter = Filter {
        tools: wants(b"toolsListChanged"),
        prompts: wants(b"promptsListChanged"),
        resources: wants(b"resourcesListChanged"),
    };
    if resp.start_stream(200, &SSE_HEADERS, false).await.is_err() {
        return Answer::Sent;
    }
    let mut agreed = Vec::new();
    for (on, name) in [
        (filter.tools, "\"toolsListChanged\":true"),
        (filter.prompts, "\"promptsListChanged\":true"),
        (filter.resources, "\"resourcesListChanged\":true"),
    ] {
        if on {
            agreed.push(name);
        }
    }
    let ack = format!(
        "{{\"_meta\":{{\"io.modelcontextprotocol/subscriptionId\":{}}},\"notifications\":{{{}}}}}",
        String::from_utf8_lossy(id),
        agreed.join(",")
    );
    let mut event = Vec::new();
    reply::sse_event(
        &reply::notification(
            "notifications/subscriptions/acknowledged",
            Some(ack.as_bytes()),
        ),
        &mut event,
    );
    if resp.send_chunk(&event).await.is_err() {
        return Answer::Sent;
    }
    watch(resp, filter, Some(id)).await;
    ctx.record.outcome = "closed".into();
    Answer::Sent
}

/// Sends a notification for each kind whose generation moves, until the
/// client goes.
async fn watch(resp: &mut Responder<'_>, filter: Filter, subscription: Option<&[u8]>) {
    let mut seen = catalog::current();
    let mut next_ping = Instant::now() + KEEPALIVE;
    loop {
        monoio::select! {
            _ = monoio::time::sleep(WATCH) => {},
            _ = resp.client_closed() => return,
        }
        let now = catalog::current();
        let mut out = Vec::new();
        for method in changes(&seen, &now, filter) {
            let params = match subscription {
                Some(id) => format!(
                    "{{\"_meta\":{{\"io.modelcontextprotocol/subscriptionId\":{}}}}}",
                    String::from_utf8_lossy(id)
                ),
                None => "{}".to_owned(),
            };
            reply::sse_event(
                &reply::notification(method, Some(params.as_bytes())),
                &mut out,
            );
        }
        seen = now;
        if out.is_empty() && Instant::now() >= next_ping {
            out.extend_from_slice(b": keep-alive\n\n");
        }
        if !out.is_empty() {
            if resp.send_chunk(&out).await.is_err() {
                return;
            }
            next_ping = Instant::now() + KEEPALIVE;
        }
    }
}

fn changes(old: &Catalog, new: &Catalog, filter: Filter) -> Vec<&'static str> {
    let mut out = Vec::new();
    if filter.tools && new.tools_gen != old.tools_gen {
        out.push("notifications/tools/list_changed");
    }
    if filter.prompts && new.prompts_gen != old.prompts_gen {
        out.push("notifications/prompts/list_changed");
    }
    if filter.resources && new.resources_gen != old.resources_gen {
        out.push("notifications/resources/list_changed");
    }
    out
}
