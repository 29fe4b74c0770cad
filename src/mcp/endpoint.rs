//! `/mcp`: one Streamable HTTP endpoint for both eras of the protocol.
//!
//! A request carrying `io.modelcontextprotocol/protocolVersion` in its
//! `_meta` (2026-07-28) is stateless: its headers are checked against its
//! body, and it needs no session. Anything else is the legacy era
//! (2025-03-26 … 2025-11-25): `initialize` opens a signed session bound to
//! the key, and every later request must name it. GET is the legacy
//! server stream, DELETE ends a session. Methods are served by `lists`
//! (lists, discover, initialize), `call` (tools/call, prompts/get,
//! resources/read) and `listen` (change notifications).

use std::borrow::Cow;
use std::sync::Arc;

use super::call;
use super::catalog::{self, Catalog};
use super::listen;
use super::lists;
use super::record::{McpRecord, record};
use super::rounds;
use super::sessions::{self, Refused};
use super::wire::headers::check_modern;
use super::wire::message::{self, Kind, Message, Params};
use super::wire::reply::{self, code};
use super::wire::session::{Claims, caps};
use super::wire::version;
use crate::guard::tools::ToolPolicy;
use crate::server::{Request, Responder};

/// Who is calling, as the gateway authenticated them.
pub struct Identity {
    /// What sessions and stdio processes are bound to: the key's id, the
    /// OAuth subject (`oauth:<issuer>#<sub>`), or `anonymous` when keys are off.
    pub who: String,
    pub key_id: Option<String>,
    /// The tool policy that applies (key, team, OAuth, then `[mcp]`), by name.
    pub policy: Option<String>,
}

/// The era a request is served in, with its protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEra {
    Legacy(&'static str),
    Modern(&'static str),
}

impl ClientEra {
    pub fn version(self) -> &'static str {
        match self {
            ClientEra::Legacy(v) | ClientEra::Modern(v) => v,
        }
    }

    pub fn modern(self) -> bool {
        matches!(self, ClientEra::Modern(_))
    }
}

/// Everything a method handler needs about its request.
pub struct Ctx<'r> {
    pub req: &'r Request,
    pub body: &'r [u8],
    /// Where the request's `params` object sits in `body`.
    pub params_range: Option<std::ops::Range<usize>>,
    pub who: &'r Identity,
    pub era: ClientEra,
    /// A legacy session's client capabilities ([`caps`] bits): what the
    /// gateway may ask it mid-call. Nothing for a modern client, which
    /// answers `input_required` results itself.
    pub client_caps: u8,
    pub accepts_sse: bool,
    pub policy: Option<Arc<ToolPolicy>>,
    pub catalog: Arc<Catalog>,
    pub snapshot: std::rc::Rc<crate::router::CoreSnapshot>,
    pub record: McpRecord,
}

/// A method's answer: a whole JSON-RPC message with an HTTP status, or
/// nothing more to send (the handler streamed it).
pub enum Answer {
    Json(u16, Vec<u8>),
    Sent,
}

pub async fn serve(req: Request, resp: &mut Responder<'_>, who: Identity, request_id: String) {
    let snapshot = crate::router::current();
    if let Err(status) = check_origin(&req, &snapshot.config.mcp.allowed_origins) {
        let body = reply::error(None, code::INVALID_REQUEST, "Origin not allowed", None);
        let _ = resp.send_json(status, &[], &body).await;
        return;
    }
    let modern_header = req
        .header_str("mcp-protocol-version")
        .is_some_and(|v| version::MODERN.contains(&v));
    match req.method() {
        "POST" => post(&req, resp, &who, request_id, snapshot).await,
        // 2026-07-28 has no server stream and no sessions to end.
        "GET" | "DELETE" if modern_header => {
            let body = reply::error(
                None,
                code::INVALID_REQUEST,
                "Method not allowed in protocol version 2026-07-28",
                None,
            );
            let _ = resp.send_json(405, &[("allow", b"POST")], &body).await;
        }
        "GET" => listen::legacy_stream(&req, resp, &who).await,
        "DELETE" => delete(&req, resp, &who).await,
        _ => {
            let body = reply::error(None, code::INVALID_REQUEST, "Method not allowed", None);
            let _ = resp
                .send_json(405, &[("allow", b"GET, POST, DELETE")], &body)
                .await;
        }
    }
}

async fn post(
    req: &Request,
    resp: &mut Responder<'_>,
    who: &Identity,
    request_id: String,
    snapshot: std::rc::Rc<crate::router::CoreSnapshot>,
) {
    let body = req.body.as_slice();
    let msg = match message::parse(body) {
        Ok(m) => m,
        Err(e) => {
            let out = reply::error(None, e.code, e.message, None);
            let _ = resp.send_json(400, &[], &out).await;
            return;
        }
    };
    let params = match msg
        .params
        .clone()
        .map(|r| message::params(body, r))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            let out = reply::error(msg.id, e.code, e.message, None);
            let _ = resp.send_json(400, &[], &out).await;
            return;
        }
    };
    let (era, client_caps) = match era_of(req, body, &msg, params.as_ref(), who) {
        Ok(era) => era,
        Err(Refusal {
            status,
            message: body,
            session,
        }) => {
            let headers: Vec<(&str, &[u8])> = match &session {
                Some(id) => vec![("mcp-session-id", id.as_bytes())],
                None => Vec::new(),
            };
            if body.is_empty() {
                let _ = resp.send(status, &headers, b"").await;
            } else {
                let _ = resp.send_json(status, &headers, &body).await;
            }
            return;
        }
    };
    // Notifications and responses are accepted with 202 and nothing else.
    if !matches!(msg.kind, Kind::Request) {
        if msg.method.as_deref() == Some("notifications/cancelled") {
            call::cancel_from_client(body, msg.params.clone(), who);
        }
        rounds::answer_from_client(body, &msg, who);
        let _ = resp.send(202, &[], b"").await;
        return;
    }
    let method = msg.method.as_deref().unwrap_or("");
    first_round(&snapshot.config.mcp).await;
    let policy = match resolve_policy(&snapshot, who) {
        Ok(p) => p,
        Err(text) => {
            let out = reply::error(msg.id, code::INVALID_REQUEST, &text, None);
            let _ = resp.send_json(403, &[], &out).await;
            return;
        }
    };
    let mut ctx = Ctx {
        req,
        body,
        params_range: msg.params.clone(),
        who,
        era,
        client_caps,
        accepts_sse: accepts(req, "text/event-stream"),
        policy,
        catalog: catalog::current(),
        snapshot: snapshot.clone(),
        record: McpRecord::new(
            request_id.clone(),
            who.key_id.clone(),
            method,
            era.version(),
        ),
    };
    let id = msg.id.unwrap_or(b"null");
    let answer = dispatch(&mut ctx, method, id, body, params.as_ref(), resp).await;
    let session_header = match (method, &ctx.era) {
        ("initialize", ClientEra::Legacy(v)) => {
            let caps = msg
                .params
                .clone()
                .and_then(|r| super::json::members(body, r, [b"capabilities"])[0].clone())
                .map_or(0, |c| caps::of(&body[c]));
            sessions::get().open(&who.who, v, caps, crate::resilience::unix_secs())
        }
        _ => None,
    };
    match answer {
        Answer::Json(status, out) => {
            if status >= 400 || out.windows(9).any(|w| w == b"\"error\":{") {
                ctx.record.outcome = ctx.record.outcome.replace("ok", "error");
            }
            let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(2);
            if let Some(s) = &session_header {
                headers.push(("mcp-session-id", s.as_bytes()));
            }
            let _ = resp.send_json(status, &headers, &out).await;
        }
        Answer::Sent => {}
    }
    record(&ctx.record, snapshot.config.server.access_log);
}

async fn dispatch(
    ctx: &mut Ctx<'_>,
    method: &str,
    id: &[u8],
    body: &[u8],
    params: Option<&Params<'_>>,
    resp: &mut Responder<'_>,
) -> Answer {
    match (method, ctx.era) {
        ("initialize", ClientEra::Legacy(_)) => lists::initialize(ctx, id),
        ("ping", _) => Answer::Json(200, reply::result(id, b"{}")),
        ("logging/setLevel", ClientEra::Legacy(_)) => Answer::Json(200, reply::result(id, b"{}")),
        ("server/discover", _) => lists::discover(ctx, id),
        ("tools/list", _) => lists::tools(ctx, id, params),
        ("prompts/list", _) => lists::prompts(ctx, id, params),
        ("resources/list", _) => lists::resources(ctx, id, params, false),
        ("resources/templates/list", _) => lists::resources(ctx, id, params, true),
        ("tools/call", _) => call::tool(ctx, id, body, params, resp).await,
        ("prompts/get", _) => call::prompt(ctx, id, body, params, resp).await,
        ("resources/read", _) => call::resource(ctx, id, body, params, resp).await,
        ("subscriptions/listen", ClientEra::Modern(_)) => {
            listen::modern_stream(ctx, id, resp).await
        }
        _ => {
            let text = format!("Method not found: {}", clip(method));
            let out = reply::error(Some(id), code::METHOD_NOT_FOUND, &text, None);
            // 2026-07-28: an unknown method is a 404 with the JSON-RPC error.
            let status = if ctx.era.modern() { 404 } else { 200 };
            Answer::Json(status, out)
        }
    }
}

/// Until the supervisor's first round of probes (bounded by the probe
/// timeout), the catalog is empty: a request waits for it rather than
/// being told there are no tools (which clients would cache).
async fn first_round(mcp: &crate::config::McpConfig) {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(mcp.probe_timeout_ms);
    while catalog::current().servers.is_empty() && std::time::Instant::now() < deadline {
        monoio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Why a request cannot be served in any era; `session` echoes nothing
/// but is kept for symmetry with initialize.
struct Refusal {
    status: u16,
    message: Vec<u8>,
    session: Option<String>,
}

fn refuse(status: u16, id: Option<&[u8]>, code: i32, text: &str) -> Refusal {
    Refusal {
        status,
        message: reply::error(id, code, text, None),
        session: None,
    }
}

/// The era the request speaks, its version checked and (legacy) its session.
fn era_of(
    req: &Request,
    body: &[u8],
    msg: &Message<'_>,
    params: Option<&Params<'_>>,
    who: &Identity,
) -> Result<(ClientEra, u8), Refusal> {
    let in_meta = params.and_then(|p| p.protocol_version.as_deref());
    if let Some(requested) = in_meta {
        let Some(v) = version::supported(requested).filter(|v| version::MODERN.contains(v)) else {
            return Err(Refusal {
                status: 400,
                message: reply::unsupported_version(msg.id, requested),
                session: None,
            });
        };
        check_modern(|h| req.header(h), msg, params)
            .map_err(|text| refuse(400, msg.id, code::HEADER_MISMATCH, &text))?;
        return Ok((ClientEra::Modern(v), 0));
    }
    if msg.method.as_deref() == Some("initialize") {
        let asked = msg
            .params
            .clone()
            .and_then(|r| super::json::string_member(body, r, b"protocolVersion"));
        let asked = asked.as_deref().unwrap_or("2025-03-26");
        return Ok((ClientEra::Legacy(version::negotiate_legacy(asked)), 0));
    }
    let Some(session) = req.header_str("mcp-session-id") else {
        return Err(refuse(
            400,
            msg.id,
            code::INVALID_REQUEST,
            "Bad Request: Mcp-Session-Id header is required (send initialize first, or `io.modelcontextprotocol/protocolVersion` in `_meta`)",
        ));
    };
    let claims = sessions::get()
        .check(session, &who.who, crate::resilience::unix_secs())
        .map_err(|r| refuse(404, msg.id, code::INVALID_REQUEST, refusal_text(r)))?;
    if let Some(v) = req.header_str("mcp-protocol-version")
        && v != claims.version
    {
        let text = format!(
            "Bad Request: MCP-Protocol-Version `{}` is not this session's `{}`",
            clip(v),
            claims.version
        );
        return Err(refuse(400, msg.id, code::INVALID_REQUEST, &text));
    }
    Ok((ClientEra::Legacy(claims.version), claims.caps))
}

fn refusal_text(r: Refused) -> &'static str {
    match r {
        Refused::Ended => "Session not found: it was ended",
        Refused::Expired => "Session not found: it expired",
        Refused::Unknown | Refused::OtherKey => "Session not found",
    }
}

/// The headers every SSE answer of `/mcp` starts with.
pub(super) const SSE_HEADERS: [(&str, &[u8]); 3] = [
    ("content-type", b"text/event-stream"),
    ("cache-control", b"no-cache"),
    ("x-accel-buffering", b"no"),
];

/// The legacy session a GET or DELETE names, or the answer refusing it:
/// 400 without one, 404 for one that is unknown, ended, expired or another key's.
pub(super) fn named_session(
    req: &Request,
    who: &Identity,
    now_s: u64,
) -> Result<Claims, (u16, Vec<u8>)> {
    let Some(session) = req.header_str("mcp-session-id") else {
        let text = "Bad Request: Mcp-Session-Id header is required";
        return Err((400, reply::error(None, code::INVALID_REQUEST, text, None)));
    };
    sessions::get()
        .check(session, &who.who, now_s)
        .map_err(|r| {
            (
                404,
                reply::error(None, code::INVALID_REQUEST, refusal_text(r), None),
            )
        })
}

async fn delete(req: &Request, resp: &mut Responder<'_>, who: &Identity) {
    let now = crate::resilience::unix_secs();
    match named_session(req, who, now) {
        Ok(claims) => {
            sessions::get().end(&claims, now);
            let _ = resp.send(200, &[], b"").await;
        }
        Err((status, body)) => {
            let _ = resp.send_json(status, &[], &body).await;
        }
    }
}

/// The tool policy the caller answers to; an unknown name refuses rather
/// than reading as "no policy".
fn resolve_policy(
    snapshot: &crate::router::Snapshot,
    who: &Identity,
) -> Result<Option<Arc<ToolPolicy>>, String> {
    let Some(name) = &who.policy else {
        return Ok(None);
    };
    snapshot
        .guards
        .as_ref()
        .and_then(|g| g.tool_policy(name))
        .cloned()
        .map(Some)
        .ok_or_else(|| {
            format!(
                "The tool policy `{}` this key answers to is not configured.",
                clip(name)
            )
        })
}

/// DNS rebinding: an `Origin` must be one configured, or, with none
/// configured, name the same host the request was sent to.
fn check_origin(req: &Request, allowed: &[String]) -> Result<(), u16> {
    let Some(origin) = req.header_str("origin") else {
        return Ok(());
    };
    if allowed.iter().any(|a| a == origin) {
        return Ok(());
    }
    if !allowed.is_empty() {
        return Err(403);
    }
    let host = origin.split("://").nth(1).unwrap_or("");
    match req.header_str("host") {
        Some(h) if h.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(403),
    }
}

pub fn accepts(req: &Request, media: &str) -> bool {
    req.header_str("accept").is_some_and(|a| {
        a.split(',')
            .any(|m| m.trim().split(';').next() == Some(media))
    })
}

pub fn clip(s: &str) -> Cow<'_, str> {
    if s.len() <= 64 {
        Cow::Borrowed(s)
    } else {
        let mut end = 64;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Cow::Owned(format!("{}…", &s[..end]))
    }
}
