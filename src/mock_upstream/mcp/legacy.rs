//! `/mcp` in the legacy eras (2025-03-26 … 2025-11-25), as the reference
//! SDK's stateful server answers: `initialize` mints a session; every other
//! request must name it (400 without, 404 unknown) and carry a legacy
//! `MCP-Protocol-Version` if any; notifications get 202; GET opens the
//! session's stream of server notifications; DELETE ends the session.
//! A modern probe (`server/discover` without a session) is thus refused
//! with a 400 whose body is no modern error: clients fall back to
//! `initialize`, as the 2026-07-28 backward-compatibility rules say.

use super::answer::{INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, RpcError};
use super::message::{Kind, Message};
use super::methods::{self, Reply};
use super::outcome::{Outcome, accepts, check_post_accept, malformed};
use super::session::{self, SessionError, SessionId, StreamClaim};
use super::state::{Era, LEGACY_VERSIONS};
use super::stats;
use crate::server::Request;

/// What to send, and the session to name in the response.
pub fn handle(req: &Request) -> (Outcome<'_>, Option<SessionId>) {
    match req.method() {
        "POST" => post(req),
        "GET" => (get(req), None),
        "DELETE" => (delete(req), None),
        _ => (
            Outcome::Bare {
                status: 405,
                allow: Some("GET, POST, DELETE"),
            },
            None,
        ),
    }
}

fn post(req: &Request) -> (Outcome<'_>, Option<SessionId>) {
    if let Err(refused) = check_post_accept(req) {
        return (refused, None);
    }
    let msg = match Message::parse(&req.body) {
        Ok(msg) => msg,
        Err(e) => return (malformed(e), None),
    };
    stats::method_seen(&msg.method, Era::Legacy);
    if msg.kind == Kind::Request && msg.method == "initialize" {
        return initialize(msg);
    }
    let session = match check_session(req) {
        Ok(s) => s,
        Err(refused) => return (refused, None),
    };
    if msg.kind != Kind::Request {
        return (
            Outcome::Bare {
                status: 202,
                allow: None,
            },
            Some(session),
        );
    }
    let outcome = match methods::dispatch(&msg, Era::Legacy) {
        Reply::Done(reply) => Outcome::Json {
            status: 200,
            id: msg.id,
            era: Era::Legacy,
            reply,
        },
        Reply::Slow(plan) => Outcome::Slow {
            id: msg.id,
            era: Era::Legacy,
            plan,
        },
        // A legacy request never opens a listen stream.
        Reply::Listen(_) => Outcome::Json {
            status: 200,
            id: msg.id,
            era: Era::Legacy,
            reply: Err(RpcError::new(METHOD_NOT_FOUND, "Method not found")),
        },
    };
    (outcome, Some(session))
}

fn initialize(msg: Message<'_>) -> (Outcome<'_>, Option<SessionId>) {
    let Some(session) = session::open() else {
        stats::rejected();
        return (
            Outcome::rejected(503, INTERNAL_ERROR, "Too many open sessions"),
            None,
        );
    };
    let Reply::Done(reply) = methods::dispatch(&msg, Era::Legacy) else {
        return (
            Outcome::rejected(500, INTERNAL_ERROR, "initialize did not answer"),
            None,
        );
    };
    let outcome = Outcome::Json {
        status: 200,
        id: msg.id,
        era: Era::Legacy,
        reply,
    };
    (outcome, Some(session))
}

/// The session named, with a legacy protocol version (or none: 2025-03-26).
fn check_session(req: &Request) -> Result<SessionId, Outcome<'static>> {
    let refused = |status, message| {
        stats::rejected();
        Outcome::rejected(status, INVALID_REQUEST, message)
    };
    let session = match session::check(req.header("mcp-session-id")) {
        Ok(s) => s,
        Err(SessionError::Missing) => return Err(refused(400, "Bad Request: Missing session ID")),
        Err(SessionError::Unknown) => return Err(refused(404, "Session not found")),
    };
    match req.header_str("mcp-protocol-version") {
        Some(v) if !LEGACY_VERSIONS.contains(&v) => {
            Err(refused(400, "Bad Request: Unsupported protocol version"))
        }
        _ => Ok(session),
    }
}

fn get(req: &Request) -> Outcome<'_> {
    if !accepts(req, "text/event-stream") {
        return Outcome::rejected(
            406,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept text/event-stream",
        );
    }
    let session = match check_session(req) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    match StreamClaim::take(session) {
        Some(claim) => Outcome::GetStream(claim),
        None => Outcome::rejected(
            409,
            INVALID_REQUEST,
            "Conflict: Only one SSE stream is allowed per session",
        ),
    }
}

fn delete(req: &Request) -> Outcome<'_> {
    match check_session(req) {
        Ok(session) => {
            session::close(session);
            Outcome::Bare {
                status: 200,
                allow: None,
            }
        }
        Err(refused) => refused,
    }
}
