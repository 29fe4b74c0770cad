//! `/mcp` in the modern era (2026-07-28): stateless POSTs only (GET and
//! DELETE 405), each request checked by the spec's ladder before its method
//! runs — `_meta` carries the protocol version and client capabilities
//! (-32602), the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers
//! match the body (-32020), the version is one the mock serves (-32022).

use std::borrow::Cow;

use super::answer::{
    ErrorData, HEADER_MISMATCH, INVALID_PARAMS, RpcError, UNSUPPORTED_PROTOCOL_VERSION,
};
use super::message::{Kind, Message, Meta, Param, json_str};
use super::methods::{self, Reply};
use super::outcome::{Outcome, check_post_accept, malformed};
use super::state::{self, Era, EraChoice, MODERN_VERSION};
use super::stats;
use crate::mcp::wire::headers::decode_value;
use crate::server::Request;

const ROUTING_HEADERS: [&str; 3] = ["mcp-protocol-version", "mcp-method", "mcp-name"];

pub fn handle(req: &Request) -> Outcome<'_> {
    if req.method() != "POST" {
        return Outcome::Bare {
            status: 405,
            allow: Some("POST"),
        };
    }
    if let Err(refused) = check_post_accept(req) {
        return refused;
    }
    let msg = match Message::parse(&req.body) {
        Ok(msg) => msg,
        Err(e) => return malformed(e),
    };
    stats::method_seen(&msg.method, Era::Modern);
    if msg.kind != Kind::Request {
        return Outcome::Bare {
            status: 202,
            allow: None,
        };
    }
    if let Err(err) = check(req, &msg) {
        stats::rejected();
        return json(msg.id, Err(err));
    }
    match methods::dispatch(&msg, Era::Modern) {
        Reply::Done(reply) => json(msg.id, reply),
        Reply::Slow(plan) => Outcome::Slow {
            id: msg.id,
            era: Era::Modern,
            plan,
        },
        Reply::Listen(filter) => Outcome::Listen { id: msg.id, filter },
    }
}

fn json<'b>(id: &'b [u8], reply: Result<super::answer::Answer<'b>, RpcError<'b>>) -> Outcome<'b> {
    let status = reply.as_ref().err().map_or(200, RpcError::modern_status);
    Outcome::Json {
        status,
        id,
        era: Era::Modern,
        reply,
    }
}

/// The request ladder, first failure wins (the reference SDK's order).
fn check<'b>(req: &Request, msg: &Message<'b>) -> Result<(), RpcError<'b>> {
    if msg.method == "initialize" && state::era_choice() == EraChoice::Modern {
        // A legacy client's handshake: name the versions served, the one
        // diagnostic such a client can show.
        let requested = msg.param_str(Param::ProtocolVersion).unwrap_or_default();
        return Err(unsupported(requested));
    }
    let version = msg.meta(Meta::ProtocolVersion);
    if !msg.has_meta_object() || version.is_none() || msg.meta(Meta::ClientCapabilities).is_none() {
        return Err(RpcError::new(
            INVALID_PARAMS,
            "params._meta must carry io.modelcontextprotocol/protocolVersion and io.modelcontextprotocol/clientCapabilities",
        ));
    }
    let version = version.and_then(json_str);
    check_headers(req, msg, version.as_deref())?;
    match version {
        Some(v) if v == MODERN_VERSION => Ok(()),
        Some(v) => Err(unsupported(v)),
        None => Err(RpcError::new(
            INVALID_PARAMS,
            "the protocol version must be a string",
        )),
    }
}

fn unsupported(requested: Cow<'_, str>) -> RpcError<'_> {
    RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
        .with(ErrorData::Unsupported(requested))
}

/// The routing headers: each once, each equal to the body's value.
fn check_headers<'b>(
    req: &Request,
    msg: &Message<'b>,
    version: Option<&str>,
) -> Result<(), RpcError<'b>> {
    let mismatch = |what: &'static str| Err(RpcError::new(HEADER_MISMATCH, what));
    let mut seen = [0u8; 3];
    for (name, _) in req.headers() {
        if let Some(i) = ROUTING_HEADERS
            .iter()
            .position(|h| name.eq_ignore_ascii_case(h))
        {
            seen[i] += 1;
        }
    }
    if seen.iter().any(|&n| n > 1) {
        return mismatch("Header mismatch: a routing header appears more than once");
    }
    let header_version = req.header("mcp-protocol-version");
    if header_version.is_none() || header_version != version.map(str::as_bytes) {
        return mismatch("Header mismatch: MCP-Protocol-Version does not match params._meta");
    }
    if req.header("mcp-method") != Some(msg.method.as_bytes()) {
        return mismatch("Header mismatch: Mcp-Method does not match the method");
    }
    let key = match &*msg.method {
        "tools/call" | "prompts/get" => Param::Name,
        "resources/read" => Param::Uri,
        _ => return Ok(()),
    };
    let Some(body_value) = msg.param_str(key) else {
        return Ok(());
    };
    let header = req.header("mcp-name").and_then(decode_value);
    if header.as_deref() != Some(&*body_value) {
        return mismatch("Header mismatch: Mcp-Name does not match the request's name");
    }
    Ok(())
}
