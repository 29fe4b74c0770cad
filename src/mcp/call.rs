//! Forwarded methods: `tools/call` (policy, approvals, then the owning
//! server with the arguments byte-exact), `prompts/get` and
//! `resources/read`. Progress and other notifications the server sends
//! before its answer reach an SSE-accepting client as they arrive; the
//! answer's `id` is the client's again; a tool result that reads as a
//! prompt injection is withheld or flagged; cancellation goes upstream
//! (closing the stream, or `notifications/cancelled` to a legacy server).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::core;
use super::endpoint::{Answer, Ctx, Identity, SSE_HEADERS, clip};
use super::held;
use super::json::{items, members, quoted, string_member};
use super::lists::visible;
use super::rounds::{self, Asked, CallRef, Carried};
use super::supervisor::report_failure;
use super::upstream::{Era, Event, McpUpstreamError};
use super::wire::headers::{check_param_headers, param_headers};
use super::wire::message::{Edit, Params, edit_params, rewrite_params};
use super::wire::reply::{self, code};
use crate::config::{ApprovalMode, ResultInjection};
use crate::gateway::{ApprovalPoll, Opened, open_approval, poll_approval};
use crate::guard::approvals::Binding;
use crate::server::Responder;

/// JSON-RPC's code for a request the client cancelled.
const REQUEST_CANCELLED: i32 = -32800;

pub async fn tool(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    body: &[u8],
    params: Option<&Params<'_>>,
    resp: &mut Responder<'_>,
) -> Answer {
    let Some(p) = params else {
        return invalid(ctx, id, "missing params");
    };
    let Some(name) = p.name.as_deref() else {
        return invalid(ctx, id, "missing tool name");
    };
    ctx.record.tool = Some(name.to_owned());
    let catalog = ctx.catalog.clone();
    let Some(tool) = catalog.tool(name).filter(|t| visible(ctx, t)) else {
        ctx.record.outcome = "refused:unknown_tool".into();
        let text = format!("Unknown tool: {}", clip(name));
        return Answer::Json(
            200,
            reply::error(Some(id), code::INVALID_PARAMS, &text, None),
        );
    };
    let args: &[u8] = p.arguments.clone().map_or(b"{}", |r| &body[r]);
    if ctx.era.modern()
        && let Err(text) = check_param_headers(&tool.header_params, args, |h| ctx.req.header(h))
    {
        ctx.record.outcome = "refused:header_mismatch".into();
        return Answer::Json(
            400,
            reply::error(Some(id), code::HEADER_MISMATCH, &text, None),
        );
    }
    let call = CallRef {
        method: "tools/call",
        target: name,
        args,
    };
    let carried = match rounds::open_state(ctx, call, p) {
        Ok(c) => c,
        Err(text) => return refused_state(ctx, id, text),
    };
    let mut approved = carried.as_ref().is_some_and(|c| c.approved);
    if let Some(hold) = carried.as_ref().and_then(Carried::hold) {
        let timeout = server_timeout(ctx, tool.server);
        return resume_held(ctx, id, call, approved, hold, p, timeout).await;
    }
    let mut stream = Stream::default();
    if let Some(policy) = ctx.policy.clone() {
        let text = std::str::from_utf8(args).unwrap_or("");
        let checked = match policy.check_call(name, text) {
            Ok(c) => c,
            Err(refusal) => {
                ctx.record.outcome = format!("refused:{}", refusal.rule);
                let text = format!(
                    "Tool call refused by policy ({}): {}",
                    refusal.rule, refusal.message
                );
                return Answer::Json(
                    200,
                    reply::error(Some(id), code::INVALID_PARAMS, &text, None),
                );
            }
        };
        if checked.approval_required && !approved {
            let binding = Binding {
                key_id: Some(ctx.who.who.clone()),
                tool: name.to_owned(),
                args_digest: checked.args_digest,
                policy_version: policy.version().to_owned(),
            };
            if let Some(answer) = approve(ctx, id, p, &binding, text, &mut stream, resp).await {
                return answer;
            }
            approved = true;
        }
    }
    let server = &catalog.servers[tool.server];
    let extra = param_headers(&tool.header_params, args);
    let fwd = Forward {
        call,
        approved,
        params: upstream_params(body, p, Some(&tool.original), carried),
        server: tool.server,
        extra: &extra,
        meta: p.meta.clone(),
        meta_ready: meta_ready(ctx, p),
    };
    forward(ctx, id, fwd, stream, resp)
        .await
        .unwrap_or_else(|| server_down(ctx, id, &server.name))
}

pub async fn prompt(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    body: &[u8],
    params: Option<&Params<'_>>,
    resp: &mut Responder<'_>,
) -> Answer {
    let Some(p) = params else {
        return invalid(ctx, id, "missing params");
    };
    let name = p.name.as_deref().unwrap_or("");
    let catalog = ctx.catalog.clone();
    let Some(prompt) = catalog.prompt(name) else {
        let text = format!("Unknown prompt: {}", clip(name));
        return Answer::Json(
            200,
            reply::error(Some(id), code::INVALID_PARAMS, &text, None),
        );
    };
    let call = CallRef {
        method: "prompts/get",
        target: name,
        args: p.arguments.clone().map_or(b"{}", |r| &body[r]),
    };
    let original = Some(prompt.original.as_str());
    pass_through(ctx, id, body, p, call, (prompt.server, original), resp).await
}

pub async fn resource(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    body: &[u8],
    params: Option<&Params<'_>>,
    resp: &mut Responder<'_>,
) -> Answer {
    let Some(p) = params else {
        return invalid(ctx, id, "missing params");
    };
    let uri = p.uri.as_deref().unwrap_or("");
    let Some(server) = ctx.catalog.resource_server(uri) else {
        let text = format!("Resource not found: {}", clip(uri));
        return Answer::Json(
            200,
            reply::error(Some(id), code::INVALID_PARAMS, &text, None),
        );
    };
    let call = CallRef {
        method: "resources/read",
        target: uri,
        args: b"",
    };
    pass_through(ctx, id, body, p, call, (server, None), resp).await
}

/// A prompt or resource read: no policy, straight to `to` (the server and
/// its own name for the prompt), a retry's state opened on the way.
async fn pass_through(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    body: &[u8],
    p: &Params<'_>,
    call: CallRef<'_>,
    to: (usize, Option<&str>),
    resp: &mut Responder<'_>,
) -> Answer {
    let carried = match rounds::open_state(ctx, call, p) {
        Ok(c) => c,
        Err(text) => return refused_state(ctx, id, text),
    };
    let (server, original) = to;
    if let Some(hold) = carried.as_ref().and_then(Carried::hold) {
        let timeout = server_timeout(ctx, server);
        return resume_held(ctx, id, call, false, hold, p, timeout).await;
    }
    let fwd = Forward {
        call,
        approved: false,
        params: upstream_params(body, p, original, carried),
        server,
        extra: &[],
        meta: p.meta.clone(),
        meta_ready: meta_ready(ctx, p),
    };
    let name = ctx.catalog.servers.get(server).map(|s| s.name.clone());
    forward(ctx, id, fwd, Stream::default(), resp)
        .await
        .unwrap_or_else(|| server_down(ctx, id, name.as_deref().unwrap_or("?")))
}

/// A 2026-07-28 client's `_meta` names its version, capabilities and
/// info: the upstream client need not splice its own in.
fn meta_ready(ctx: &Ctx<'_>, p: &Params<'_>) -> Option<&'static str> {
    let complete =
        p.protocol_version.is_some() && p.client_capabilities.is_some() && p.client_info.is_some();
    (ctx.era.modern() && complete).then(|| ctx.era.version())
}

/// The params that go upstream: the server's own name for the tool or
/// prompt, and on a retry the server's own `requestState` (or none) in
/// place of the sealed one; every other member byte-exact.
fn upstream_params(
    body: &[u8],
    p: &Params<'_>,
    original: Option<&str>,
    carried: Option<Carried>,
) -> Vec<u8> {
    let Some(carried) = carried else {
        return rewrite_params(body, p, original);
    };
    let name = original.map(quoted);
    let mut edits: Vec<Edit<'_>> = vec![("requestState", carried.upstream.as_deref())];
    if let Some(n) = &name {
        edits.push(("name", Some(n)));
    }
    edit_params(body, p, &edits)
}

/// A server's call timeout (the default when it is gone from the config).
fn server_timeout(ctx: &Ctx<'_>, server: usize) -> Duration {
    ctx.catalog
        .servers
        .get(server)
        .and_then(|s| s.spec.as_ref())
        .map_or(
            Duration::from_millis(ctx.snapshot.config.mcp.call_timeout_ms),
            |s| s.timeout,
        )
}

/// The retry of a held call: its answer to the server, then what the
/// server does next — another request (another round), or its result.
async fn resume_held(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    call: CallRef<'_>,
    approved: bool,
    hold: u64,
    p: &Params<'_>,
    timeout: Duration,
) -> Answer {
    ctx.record.events.push("held:resumed".into());
    let [responses] = members(ctx.body, p.span.clone(), [b"inputResponses"]);
    let responses = responses.map(|r| &ctx.body[r]);
    match held::resume(hold, &ctx.who.who, responses, timeout).await {
        held::Next::Ask(ask) => {
            ctx.record.outcome = "input_required".into();
            let result = held::input_required(&ask);
            let state = held::state_bytes(hold);
            let sealed = rounds::sealed_with(ctx, call, approved, &result, Some(&state));
            Answer::Json(200, reply::result(id, &sealed))
        }
        held::Next::Final(m) => Answer::Json(200, answer(ctx, id, call, approved, &m)),
        held::Next::Failed(text) => {
            ctx.record.outcome = "error:held".into();
            Answer::Json(
                200,
                reply::error(Some(id), code::INTERNAL_ERROR, &text, None),
            )
        }
    }
}

fn refused_state(ctx: &mut Ctx<'_>, id: &[u8], text: &str) -> Answer {
    ctx.record.outcome = "refused:request_state".into();
    Answer::Json(
        200,
        reply::error(Some(id), code::INVALID_PARAMS, text, None),
    )
}

fn invalid(ctx: &mut Ctx<'_>, id: &[u8], what: &str) -> Answer {
    ctx.record.outcome = "error:invalid_params".into();
    Answer::Json(
        200,
        reply::error(
            Some(id),
            code::INVALID_PARAMS,
            &format!("Invalid params: {what}"),
            None,
        ),
    )
}

fn server_down(ctx: &mut Ctx<'_>, id: &[u8], server: &str) -> Answer {
    ctx.record.outcome = "error:server_unavailable".into();
    let text = format!(
        "Server `{server}` is unavailable: it is isolated after failing, and its tools return when it recovers."
    );
    Answer::Json(
        200,
        reply::error(Some(id), code::INTERNAL_ERROR, &text, None),
    )
}

/// Whether the response is already an SSE stream (keep-alives sent while
/// an approval was awaited, or a notification relayed).
#[derive(Default)]
struct Stream {
    started: bool,
}

impl Stream {
    async fn start(&mut self, resp: &mut Responder<'_>) -> bool {
        if !self.started {
            self.started = resp.start_stream(200, &SSE_HEADERS, true).await.is_ok();
            return self.started;
        }
        true
    }
}

/// Holds a call for a human's approval. `None` lets it go ahead (released);
/// `Some` is the answer instead (pending marker, denial, expiry, refusal).
async fn approve(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    p: &Params<'_>,
    binding: &Binding,
    args: &str,
    stream: &mut Stream,
    resp: &mut Responder<'_>,
) -> Option<Answer> {
    let cfg = ctx.snapshot.config.guards.approvals.clone();
    let canonical = crate::guard::tools::canonicalize(args).unwrap_or_default();
    let presented = p.approval.as_deref();
    let opened = open_approval(
        presented,
        &cfg,
        binding,
        canonical,
        None,
        &mut ctx.record.events,
    );
    let aid = match opened {
        Ok(Opened::Released) => return None,
        Ok(Opened::Pending(aid)) => aid,
        Err(e) => {
            return Some(tool_error(ctx, id, "refused:approval", &e.message, stream, resp).await);
        }
    };
    if cfg.mode == ApprovalMode::NonBlocking {
        ctx.record.outcome = "approval_pending".into();
        let text = format!(
            "[tollgate] The call to tool `{}` is waiting for approval `{aid}`. Once it is approved, call the tool again with the same arguments and `_meta: {{\"tollgate/approval\": \"{aid}\"}}`.",
            binding.tool
        );
        let mut result = b"{\"content\":[{\"type\":\"text\",\"text\":".to_vec();
        result.extend_from_slice(&quoted(&text));
        result.extend_from_slice(b"}],\"isError\":true,\"_meta\":{\"tollgate/approval\":{\"id\":");
        result.extend_from_slice(&quoted(&aid));
        result.extend_from_slice(b",\"state\":\"pending\"}}");
        complete(ctx, &mut result);
        result.push(b'}');
        return Some(Answer::Json(200, reply::result(id, &result)));
    }
    // Blocking: poll the book, with SSE comments as keep-alives.
    let deadline = Instant::now() + Duration::from_millis(cfg.wait_ms);
    let every = Duration::from_millis(cfg.keepalive_ms.max(1));
    let mut next_ping = Instant::now() + every;
    loop {
        match poll_approval(&aid, binding, &mut ctx.record.events) {
            ApprovalPoll::Released => return None,
            ApprovalPoll::Refused(e) => {
                return Some(
                    tool_error(ctx, id, "refused:approval", &e.message, stream, resp).await,
                );
            }
            ApprovalPoll::Waiting if Instant::now() >= deadline => {
                ctx.record.events.push(format!("approval:timeout:{aid}"));
                let e = crate::gateway::approval_expired(&aid, &binding.tool);
                return Some(
                    tool_error(
                        ctx,
                        id,
                        "refused:approval_expired",
                        &e.message,
                        stream,
                        resp,
                    )
                    .await,
                );
            }
            ApprovalPoll::Waiting => {
                if ctx.accepts_sse && Instant::now() >= next_ping {
                    if !stream.start(resp).await
                        || resp
                            .send_chunk(b": waiting for approval\n\n")
                            .await
                            .is_err()
                    {
                        ctx.record.outcome = "cancelled".into();
                        return Some(Answer::Sent);
                    }
                    next_ping = Instant::now() + every;
                }
                monoio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
}

/// A result with `isError` and `text`, on the stream if one is open.
async fn tool_error(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    outcome: &str,
    text: &str,
    stream: &mut Stream,
    resp: &mut Responder<'_>,
) -> Answer {
    ctx.record.outcome = outcome.to_owned();
    let mut result = b"{\"content\":[{\"type\":\"text\",\"text\":".to_vec();
    result.extend_from_slice(&quoted(text));
    result.extend_from_slice(b"}],\"isError\":true");
    complete(ctx, &mut result);
    result.push(b'}');
    let msg = reply::result(id, &result);
    finish(msg, stream, resp).await
}

/// The modern era's `resultType`, for a result the gateway writes.
fn complete(ctx: &Ctx<'_>, result: &mut Vec<u8>) {
    if ctx.era.modern() {
        result.extend_from_slice(b",\"resultType\":\"complete\"");
    }
}

async fn finish(msg: Vec<u8>, stream: &mut Stream, resp: &mut Responder<'_>) -> Answer {
    if !stream.started {
        return Answer::Json(200, msg);
    }
    let mut event = Vec::with_capacity(msg.len() + 24);
    reply::sse_event(&msg, &mut event);
    let _ = resp.send_chunk(&event).await;
    let _ = resp.end_stream().await;
    Answer::Sent
}

/// One request on its way to its server.
struct Forward<'a> {
    call: CallRef<'a>,
    /// An approval released the call (in this round or an earlier one).
    approved: bool,
    /// The params as they go upstream.
    params: Vec<u8>,
    server: usize,
    extra: &'a [(String, String)],
    /// The client's `_meta`, where it sits in the body.
    meta: Option<Range<usize>>,
    /// The protocol version the params' `_meta` already names with the
    /// client's capabilities and info (a 2026-07-28 client's own).
    meta_ready: Option<&'static str>,
}

/// Sends one request to its server and relays what comes back; for a
/// legacy client, answers the server's `input_required` rounds by asking
/// the client. `None` when the server is isolated (or gone from the config).
async fn forward(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    mut fwd: Forward<'_>,
    mut stream: Stream,
    resp: &mut Responder<'_>,
) -> Option<Answer> {
    let state = ctx.catalog.servers.get(fwd.server).filter(|s| s.up)?;
    let spec = state.spec.clone()?;
    let name = state.name.clone();
    ctx.record.server = Some(name.clone());
    let (client, slots) = core::client(&spec, Some(&ctx.who.who));
    let timeout = spec.timeout;
    let Ok(permit) = monoio::time::timeout(timeout, slots.acquire()).await else {
        let text = format!("Server `{name}` is at its concurrency bound; try again.");
        ctx.record.outcome = "error:busy".into();
        return Some(
            finish(
                reply::error(Some(id), code::INTERNAL_ERROR, &text, None),
                &mut stream,
                resp,
            )
            .await,
        );
    };
    let legacy_client = !ctx.era.modern();
    if legacy_client && ctx.client_caps != 0 && matches!(client.ready().await, Ok(Era::Modern(_))) {
        // A modern server asks only what the client declared it can answer.
        let meta = rounds::meta_with_capabilities(ctx, fwd.meta.clone());
        fwd.params = edit_params(&fwd.params, &whole(&fwd.params), &[("_meta", Some(&meta))]);
    }
    // Registered before the request goes: a legacy server that answers
    // only when done has not sent its head while the client cancels.
    let cancel = legacy_client.then(|| Cancels::register(&ctx.who.who, id));
    let mut round = 0;
    let outcome = loop {
        let reserved = client.reserve_id();
        let relayed = relay(
            ctx,
            &client,
            reserved,
            &fwd,
            timeout,
            cancel.as_ref(),
            &mut stream,
            resp,
        )
        .await;
        let Relayed::Done(m) = &relayed else {
            break relayed;
        };
        let asking = legacy_client
            .then(|| members(m, 0..m.len(), [b"result"])[0].clone())
            .flatten()
            .and_then(|r| rounds::input_required(&m[r]));
        let Some(ir) = asking else {
            break relayed;
        };
        round += 1;
        ctx.record.events.push(format!("input_required:{round}"));
        if round > rounds::MAX_ROUNDS {
            let text = format!(
                "The server still needed input after {} rounds; the call was abandoned.",
                rounds::MAX_ROUNDS
            );
            break Relayed::Refused(text);
        }
        let asking = Asking {
            timeout,
            cancel: cancel.as_ref(),
        };
        match ask_client(ctx, &ir, asking, &mut stream, resp).await {
            Ok(responses) => {
                let state = ir.state.as_deref();
                let edits = [
                    ("inputResponses", Some(&responses[..])),
                    ("requestState", state),
                ];
                fwd.params = edit_params(&fwd.params, &whole(&fwd.params), &edits);
            }
            Err(end) => break end,
        }
    };
    if let Some(c) = &cancel {
        c.unregister();
    }
    match outcome {
        Relayed::Failed(e) => Some(failed(ctx, id, &name, &e, &mut stream, resp).await),
        Relayed::Done(m) => {
            let out = answer(ctx, id, fwd.call, fwd.approved, &m);
            Some(finish(out, &mut stream, resp).await)
        }
        Relayed::Refused(text) => {
            Some(tool_error(ctx, id, "refused:input_required", &text, &mut stream, resp).await)
        }
        Relayed::Held(exchange, ask) => {
            let hold = held::hold(
                &ctx.who.who,
                *exchange,
                client.clone(),
                permit,
                &ask,
                timeout,
            );
            ctx.record.outcome = "input_required".into();
            ctx.record.events.push("held".into());
            let result = held::input_required(&ask);
            let state = held::state_bytes(hold);
            let sealed = rounds::sealed_with(ctx, fwd.call, fwd.approved, &result, Some(&state));
            Some(finish(reply::result(id, &sealed), &mut stream, resp).await)
        }
        Relayed::Cancelled(upstream_id) => {
            ctx.record.outcome = "cancelled".into();
            // A modern server learns of it from the closed stream; a legacy
            // one is told (a stdio process is told by the dropped exchange).
            if let (Some(upstream_id), Ok(Era::Legacy(_))) = (upstream_id, client.ready().await) {
                let params =
                    format!(r#"{{"requestId":{upstream_id},"reason":"cancelled by the client"}}"#);
                let _ = client
                    .notify("notifications/cancelled", params.as_bytes())
                    .await;
            }
            let text = "Request cancelled";
            Some(
                finish(
                    reply::error(Some(id), REQUEST_CANCELLED, text, None),
                    &mut stream,
                    resp,
                )
                .await,
            )
        }
    }
}

/// `Params` spanning all of `params` (an object the gateway wrote).
fn whole(params: &[u8]) -> Params<'static> {
    Params {
        span: 0..params.len(),
        ..Params::default()
    }
}

/// How a forwarded request ended.
enum Relayed {
    Done(Vec<u8>),
    Failed(McpUpstreamError),
    /// By the client; the id to name in `notifications/cancelled` to an
    /// HTTP server (a stdio process is told by the dropped exchange).
    Cancelled(Option<u64>),
    /// The server's questions could not be put to the client: why.
    Refused(String),
    /// A 2025-era server asked a 2026-07-28 client mid-call (the request
    /// here): the call is to be held for the client's retry.
    Held(Box<super::upstream::Exchange>, Vec<u8>),
}

/// Sends the request and relays the server's notifications until its
/// answer, the client's cancellation, or the client leaving. A request of
/// the server's own (a 2025-era server eliciting mid-call) is put to a
/// legacy client that can answer it, and its answer goes back; otherwise
/// the server is told the client cannot answer.
#[allow(clippy::too_many_arguments)]
async fn relay(
    ctx: &mut Ctx<'_>,
    client: &super::upstream::Client,
    reserved: Option<u64>,
    fwd: &Forward<'_>,
    timeout: Duration,
    cancel: Option<&CancelEntry>,
    stream: &mut Stream,
    resp: &mut Responder<'_>,
) -> Relayed {
    let method = fwd.call.method;
    let sent = monoio::select! {
        r = client.call_with(reserved, method, &fwd.params, fwd.extra, timeout, fwd.meta_ready) => r,
        _ = cancelled(cancel) => return Relayed::Cancelled(reserved),
        _ = resp.client_closed() => return Relayed::Cancelled(reserved),
    };
    let mut exchange = match sent {
        Ok(x) => x,
        Err(e) => return Relayed::Failed(e),
    };
    loop {
        // Only ever raced against what ends the relay: reading the stream
        // is not cancel-safe.
        let event = monoio::select! {
            ev = exchange.next() => ev,
            _ = cancelled(cancel) => return Relayed::Cancelled(reserved),
            _ = resp.client_closed() => return Relayed::Cancelled(reserved),
        };
        match event {
            Ok(Event::Message(m)) if is_request(&m) && holdable(ctx, fwd, &m) => {
                return Relayed::Held(Box::new(exchange), m);
            }
            Ok(Event::Message(m)) if is_request(&m) => {
                let asked = Asking { timeout, cancel };
                if !server_request(ctx, client, &m, asked, stream, resp).await {
                    return Relayed::Cancelled(reserved);
                }
            }
            Ok(Event::Message(m)) => {
                if ctx.accepts_sse && is_notification(&m) && stream.start(resp).await {
                    if !send_event(&m, resp).await {
                        return Relayed::Cancelled(reserved);
                    }
                } else {
                    ctx.record.events.push("dropped_server_message".into());
                }
            }
            Ok(Event::Final(m)) => return Relayed::Done(m),
            Err(e) => return Relayed::Failed(e),
        }
    }
}

/// Whether a server's request mid-call is put to a 2026-07-28 client by
/// holding the call: one it declared it can answer.
fn holdable(ctx: &Ctx<'_>, fwd: &Forward<'_>, request: &[u8]) -> bool {
    ctx.era.modern()
        && rounds::needed_capability(request)
            .is_some_and(|cap| rounds::declared(ctx.body, fwd.meta.clone()) & cap != 0)
}

async fn send_event(msg: &[u8], resp: &mut Responder<'_>) -> bool {
    let mut event = Vec::with_capacity(msg.len() + 24);
    reply::sse_event(msg, &mut event);
    resp.send_chunk(&event).await.is_ok()
}

/// How long a request put to the client may wait, and what ends it early.
#[derive(Clone, Copy)]
struct Asking<'a> {
    timeout: Duration,
    cancel: Option<&'a CancelEntry>,
}

/// A server's own request mid-call, answered before the relay reads on
/// (the server waits for it too): `false` when the client is gone.
async fn server_request(
    ctx: &mut Ctx<'_>,
    client: &super::upstream::Client,
    m: &[u8],
    asking: Asking<'_>,
    stream: &mut Stream,
    resp: &mut Responder<'_>,
) -> bool {
    let [id, method] = members(m, 0..m.len(), [b"id", b"method"]);
    let Some(upstream_id) = id.map(|r| &m[r]) else {
        return true;
    };
    let method = method
        .and_then(|r| super::json::string(m, r))
        .unwrap_or_default()
        .into_owned();
    if method == "ping" {
        let _ = client.respond(&reply::result(upstream_id, b"{}")).await;
        return true;
    }
    let refusal = match rounds::needed_capability(m) {
        _ if ctx.era.modern() => {
            Some("The client did not declare this capability in its request's _meta")
        }
        None => Some("The gateway does not put this request to clients"),
        Some(cap) if ctx.client_caps & cap == 0 => {
            Some("The client did not declare this capability at initialize")
        }
        Some(_) if !ctx.accepts_sse => Some(
            "The client's request does not accept text/event-stream, the only way to ask it mid-call",
        ),
        Some(_) => None,
    };
    if let Some(text) = refusal {
        ctx.record
            .events
            .push(format!("refused_server_request:{method}"));
        let _ = client
            .respond(&rounds::refusal(upstream_id, code::METHOD_NOT_FOUND, text))
            .await;
        return true;
    }
    ctx.record.events.push(format!("asked_client:{method}"));
    let asked = Asked::open(ctx.who);
    if !stream.start(resp).await || !send_event(&asked.message(m), resp).await {
        return false;
    }
    let answer = match wait_for(&asked, asking, resp).await {
        Waited::Answer(a) => rounds::reanswer(&a, upstream_id),
        Waited::TimedOut => rounds::refusal(
            upstream_id,
            code::INTERNAL_ERROR,
            "The client did not answer in time",
        ),
        Waited::Gone => return false,
    };
    let _ = client.respond(&answer).await;
    true
}

enum Waited {
    Answer(Vec<u8>),
    TimedOut,
    Gone,
}

/// Waits for the client's answer to `asked`, polled: it may arrive on
/// another core.
async fn wait_for(asked: &Asked, asking: Asking<'_>, resp: &mut Responder<'_>) -> Waited {
    let deadline = Instant::now() + asking.timeout;
    loop {
        if let Some(answer) = asked.take() {
            return Waited::Answer(answer);
        }
        if Instant::now() >= deadline {
            return Waited::TimedOut;
        }
        let gone = monoio::select! {
            _ = monoio::time::sleep(Duration::from_millis(10)) => false,
            _ = cancelled(asking.cancel) => true,
            _ = resp.client_closed() => true,
        };
        if gone {
            return Waited::Gone;
        }
    }
}

/// Puts an `input_required` result's requests to a legacy client on the
/// call's SSE stream and waits for every answer: the `inputResponses`
/// object the retry carries.
async fn ask_client(
    ctx: &mut Ctx<'_>,
    ir: &rounds::InputRequired,
    asking: Asking<'_>,
    stream: &mut Stream,
    resp: &mut Responder<'_>,
) -> Result<Vec<u8>, Relayed> {
    if !ctx.accepts_sse {
        return Err(Relayed::Refused(
            "The server needs input from the client, which can only be asked on a text/event-stream response; this request does not accept one.".into(),
        ));
    }
    for (_, request) in &ir.requests {
        let cap = rounds::needed_capability(request);
        if cap.is_none_or(|c| ctx.client_caps & c == 0) {
            return Err(Relayed::Refused(
                "The server needs input of a kind this client did not declare it can give at initialize.".into(),
            ));
        }
    }
    let mut asked = Vec::with_capacity(ir.requests.len());
    for (_, request) in &ir.requests {
        let a = Asked::open(ctx.who);
        if !stream.start(resp).await || !send_event(&a.message(request), resp).await {
            return Err(Relayed::Cancelled(None));
        }
        asked.push(a);
    }
    let mut out = b"{".to_vec();
    for (i, ((key, _), a)) in ir.requests.iter().zip(&asked).enumerate() {
        let answer = match wait_for(a, asking, resp).await {
            Waited::Answer(answer) => answer,
            Waited::TimedOut => {
                return Err(Relayed::Refused(
                    "The client did not answer the server's request for input in time.".into(),
                ));
            }
            Waited::Gone => return Err(Relayed::Cancelled(None)),
        };
        let result = rounds::outcome(&answer).map_err(|e| {
            Relayed::Refused(format!(
                "The client answered the server's request for input with an error: {}",
                clip(&e)
            ))
        })?;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&quoted(key));
        out.push(b':');
        out.extend_from_slice(&answer[result]);
    }
    out.push(b'}');
    Ok(out)
}

async fn failed(
    ctx: &mut Ctx<'_>,
    id: &[u8],
    server: &str,
    e: &McpUpstreamError,
    stream: &mut Stream,
    resp: &mut Responder<'_>,
) -> Answer {
    let transport = match e {
        McpUpstreamError::Status(s) => *s >= 500,
        McpUpstreamError::Protocol(_) | McpUpstreamError::Unsupported => false,
        _ => true,
    };
    if transport {
        report_failure(server);
    }
    ctx.record.outcome = "error:upstream".into();
    let text = format!("Server `{server}` failed: {e}");
    finish(
        reply::error(Some(id), code::INTERNAL_ERROR, &text, None),
        stream,
        resp,
    )
    .await
}

fn is_notification(m: &[u8]) -> bool {
    let [method, id] = members(m, 0..m.len(), [b"method", b"id"]);
    method.is_some() && id.is_none()
}

fn is_request(m: &[u8]) -> bool {
    let [method, id] = members(m, 0..m.len(), [b"method", b"id"]);
    method.is_some() && id.is_some()
}

/// The client's answer from the server's final message: the client's id,
/// the result (checked for injected instructions; an `input_required`
/// one with its state sealed) or the error as sent.
fn answer(ctx: &mut Ctx<'_>, id: &[u8], call: CallRef<'_>, approved: bool, m: &[u8]) -> Vec<u8> {
    let method = call.method;
    let [result, error] = members(m, 0..m.len(), [b"result", b"error"]);
    match (result, error) {
        (Some(r), _) => {
            let mut result = m[r].to_vec();
            let [result_type, is_error] =
                members(&result, 0..result.len(), [b"resultType", b"isError"]);
            let result_type = result_type.map(|t| &result[t]);
            if ctx.era.modern() && result_type == Some(b"\"input_required\"") {
                ctx.record.outcome = "input_required".into();
                return reply::result(id, &rounds::sealed(ctx, call, approved, &result));
            }
            let mut typed = result_type.is_some();
            if method == "tools/call" && is_error.is_some_and(|r| &result[r] == b"true") {
                ctx.record.outcome = "tool_error".into();
            }
            if let Some(withheld) = check_injection(ctx, method, &result) {
                result = withheld;
                typed = false;
            }
            if ctx.era.modern() && !typed {
                result = super::json::with_member(
                    &result,
                    0..result.len(),
                    "resultType",
                    b"\"complete\"",
                );
            }
            reply::result(id, &result)
        }
        (None, Some(e)) => {
            ctx.record.outcome = "error:server".into();
            let mut out = b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec();
            out.extend_from_slice(id);
            out.extend_from_slice(b",\"error\":");
            out.extend_from_slice(&m[e]);
            out.push(b'}');
            out
        }
        _ => {
            ctx.record.outcome = "error:upstream".into();
            reply::error(
                Some(id),
                code::INTERNAL_ERROR,
                "The server sent a response with neither result nor error",
                None,
            )
        }
    }
}

/// Scans a tool result's (or resource's) text for injected instructions;
/// `Some` is the result that replaces it when the policy blocks.
fn check_injection(ctx: &mut Ctx<'_>, method: &str, result: &[u8]) -> Option<Vec<u8>> {
    let action = ctx.snapshot.config.mcp.result_injection;
    if action == ResultInjection::Off {
        return None;
    }
    let guards = ctx.snapshot.guards.clone()?;
    let scanner = guards.injection()?;
    let source = crate::guard::injection::Source::ToolResult;
    if !scanner.scans(source) || !scanner.may_match(result) {
        return None;
    }
    let key: &[u8] = if method == "resources/read" {
        b"contents"
    } else {
        b"content"
    };
    let [list] = members(result, 0..result.len(), [key]);
    let rule = items(result, list?)?
        .into_iter()
        .filter_map(|item: Range<usize>| string_member(result, item, b"text"))
        .map(|text| scanner.scan(&text, source, &[]))
        .find(|v| v.score >= scanner.threshold())?
        .top_rule()
        .unwrap_or("prompt_injection")
        .to_owned();
    ctx.record.events.push(format!("injection:{rule}"));
    if action != ResultInjection::Block {
        return None;
    }
    ctx.record.outcome = format!("refused:prompt_injection:{rule}");
    let text = format!(
        "[tollgate] The result was withheld: it reads as a prompt injection (rule `{rule}`)."
    );
    let mut out = b"{\"content\":[{\"type\":\"text\",\"text\":".to_vec();
    out.extend_from_slice(&quoted(&text));
    out.extend_from_slice(b"}],\"isError\":true}");
    Some(out)
}

/// Legacy clients cancel with `notifications/cancelled`, which may land on
/// another core than the call: in-flight calls are registered process-wide
/// (only legacy-era calls, and only while they wait on the server), and
/// the waiting call looks at its flag.
struct Cancels;

struct CancelEntry {
    key: (String, Vec<u8>),
    flag: Arc<AtomicBool>,
}

type Registry = Mutex<FxHashMap<(String, Vec<u8>), Arc<AtomicBool>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

impl Cancels {
    fn register(who: &str, id: &[u8]) -> CancelEntry {
        let key = (who.to_owned(), id.to_vec());
        let flag = Arc::new(AtomicBool::new(false));
        registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), flag.clone());
        CancelEntry { key, flag }
    }
}

impl CancelEntry {
    fn unregister(&self) {
        let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
        if r.get(&self.key).is_some_and(|f| Arc::ptr_eq(f, &self.flag)) {
            r.remove(&self.key);
        }
    }
}

/// Resolves when the call was cancelled (never, without an entry). Polled
/// on a timer: the flag is set from another core's thread.
async fn cancelled(entry: Option<&CancelEntry>) {
    let Some(entry) = entry else {
        return std::future::pending().await;
    };
    while !entry.flag.load(Ordering::Acquire) {
        monoio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A legacy client's `notifications/cancelled` for one of its calls.
pub fn cancel_from_client(body: &[u8], params: Option<Range<usize>>, who: &Identity) {
    let Some(range) = params else { return };
    let [request_id] = members(body, range, [b"requestId"]);
    let Some(r) = request_id else { return };
    let key = (who.who.clone(), body[r].to_vec());
    if let Some(flag) = registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        flag.store(true, Ordering::Release);
    }
}
