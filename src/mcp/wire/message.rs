//! One JSON-RPC message read without re-serializing it: its kind, id, method
//! and the spans of `params`, `result` and `error`; then the members of
//! `params` the gateway acts on, and the two edits it makes to them.

use std::borrow::Cow;
use std::ops::Range;

use super::json::{self, Member, Shape};
use super::reply::code;
use crate::canonical::json::write_str;

/// Why a message cannot be served: a JSON-RPC error code and a fixed
/// message (never quoting the body, so it is safe to log and to send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    pub code: i32,
    pub message: &'static str,
}

impl WireError {
    const fn new(code: i32, message: &'static str) -> Self {
        WireError { code, message }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    Response,
    Error,
}

/// A parsed message; spans are offsets into the body it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: Kind,
    /// The id's raw JSON token (a number or a string, quotes included);
    /// `None` for a notification, and for an error answering no id (`null`).
    pub id: Option<&'a [u8]>,
    pub method: Option<Cow<'a, str>>,
    /// Always an object when present.
    pub params: Option<Range<usize>>,
    pub result: Option<Range<usize>>,
    pub error: Option<Range<usize>>,
}

const NOT_JSON: WireError = WireError::new(code::PARSE_ERROR, "Parse error");
const BATCH: WireError = WireError::new(
    code::INVALID_REQUEST,
    "Body must be a single JSON-RPC message, not a batch",
);
const NOT_OBJECT: WireError = WireError::new(
    code::INVALID_REQUEST,
    "Body must be a JSON-RPC message object",
);
const REPEATED: WireError = WireError::new(
    code::INVALID_REQUEST,
    "A key appears more than once in the message",
);
const VERSION: WireError = WireError::new(code::INVALID_REQUEST, "jsonrpc must be \"2.0\"");
const BAD_ID: WireError =
    WireError::new(code::INVALID_REQUEST, "id must be a string or an integer");
const BAD_METHOD: WireError = WireError::new(code::INVALID_REQUEST, "method must be a string");
const BAD_PARAMS: WireError = WireError::new(code::INVALID_REQUEST, "params must be an object");
const BAD_SHAPE: WireError = WireError::new(
    code::INVALID_REQUEST,
    "Not a JSON-RPC request, notification or response",
);

/// Reads one JSON-RPC message. A repeated key at the top level or anywhere
/// inside `params` is refused: parsers disagree on which copy wins, and the
/// gateway's checks must read what the upstream will.
pub fn parse(body: &[u8]) -> Result<Message<'_>, WireError> {
    validate(body)?;
    let members = json::members(body, 0..body.len()).ok_or(NOT_OBJECT)?;
    let field = |key| json::find(&members, key).map(|m| m.value.clone());
    let jsonrpc = field("jsonrpc").and_then(|v| json::string(body, v));
    if jsonrpc.as_deref() != Some("2.0") {
        return Err(VERSION);
    }
    let id = field("id")
        .map(|v| id_token(body, v))
        .transpose()?
        .flatten();
    let method = match field("method") {
        Some(v) => Some(json::string(body, v).ok_or(BAD_METHOD)?),
        None => None,
    };
    let params = field("params");
    if let Some(p) = &params
        && json::shape(body, p) != Shape::Object
    {
        return Err(BAD_PARAMS);
    }
    let (result, error) = (field("result"), field("error"));
    let has_id = field("id").is_some();
    if method.is_some() && has_id && id.is_none() {
        return Err(BAD_ID);
    }
    let kind = match (&method, has_id, &result, &error) {
        (Some(_), true, None, None) if id.is_some() => Kind::Request,
        (Some(_), false, None, None) => Kind::Notification,
        (None, true, Some(_), None) if id.is_some() && params.is_none() => Kind::Response,
        (None, _, None, Some(e)) if params.is_none() && json::shape(body, e) == Shape::Object => {
            Kind::Error
        }
        _ => return Err(BAD_SHAPE),
    };
    Ok(Message {
        kind,
        id,
        method,
        params,
        result,
        error,
    })
}

/// Valid JSON, one object (not a batch), no repeated key at the top level
/// or within `params`.
fn validate(body: &[u8]) -> Result<(), WireError> {
    crate::canonical::tape::with_tape(body, |tape, _| {
        let root = tape.map_err(|_| NOT_JSON)?.as_value();
        if root.is_array() {
            return Err(BATCH);
        }
        let obj = root.as_object().ok_or(NOT_OBJECT)?;
        let mut keys: Vec<&str> = obj.keys().collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(REPEATED);
        }
        match obj.get("params") {
            Some(params) if json::repeats_anywhere(params) => Err(REPEATED),
            _ => Ok(()),
        }
    })
}

/// The raw id token: a string, or an integer (MCP forbids fractions and
/// exponents); `Ok(None)` for `null`, which only an error may carry.
fn id_token(body: &[u8], span: Range<usize>) -> Result<Option<&[u8]>, WireError> {
    let raw = &body[span.clone()];
    match json::shape(body, &span) {
        Shape::String => Ok(Some(raw)),
        Shape::Null => Ok(None),
        Shape::Number if is_integer(raw) => Ok(Some(raw)),
        _ => Err(BAD_ID),
    }
}

fn is_integer(raw: &[u8]) -> bool {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// The members of `params` the gateway reads; spans are offsets into the
/// body, strings are unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a> {
    /// The whole `params` object.
    pub span: Range<usize>,
    pub name: Option<Cow<'a, str>>,
    /// Where `name`'s value (the string token) sits in the body.
    pub name_span: Option<Range<usize>>,
    pub uri: Option<Cow<'a, str>>,
    /// Always an object when present.
    pub arguments: Option<Range<usize>>,
    pub cursor: Option<Cow<'a, str>>,
    /// Always an object when present.
    pub meta: Option<Range<usize>>,
    /// `io.modelcontextprotocol/protocolVersion`.
    pub protocol_version: Option<Cow<'a, str>>,
    /// `io.modelcontextprotocol/clientCapabilities`.
    pub client_capabilities: Option<Range<usize>>,
    /// `io.modelcontextprotocol/clientInfo`.
    pub client_info: Option<Range<usize>>,
    /// `progressToken`: a string or a number, raw.
    pub progress_token: Option<Range<usize>>,
    /// `tollgate/approval`: the approval a retried call cites.
    pub approval: Option<Cow<'a, str>>,
    /// `io.modelcontextprotocol/logLevel`.
    pub log_level: Option<Cow<'a, str>>,
    /// `requestState` (a multi-round-trip retry): the raw string token.
    pub request_state: Option<Range<usize>>,
}

pub const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
pub const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";
pub const APPROVAL_KEY: &str = "tollgate/approval";
/// The `_meta` prefix of the protocol's own per-request keys.
const PROTOCOL_PREFIX: &str = "io.modelcontextprotocol/";

const fn invalid(message: &'static str) -> WireError {
    WireError::new(code::INVALID_PARAMS, message)
}

/// Reads `params` (the span [`parse`] found) of a message parsed from
/// `body`. A member of the wrong type is -32602.
pub fn params(body: &[u8], params: Range<usize>) -> Result<Params<'_>, WireError> {
    let members = json::members(body, params.clone()).ok_or(BAD_PARAMS)?;
    let mut out = Params {
        span: params,
        ..Params::default()
    };
    out.name = string_member(body, &members, "name", "params.name must be a string")?;
    out.name_span = out
        .name
        .as_ref()
        .and_then(|_| json::find(&members, "name"))
        .map(|m| m.value.clone());
    out.uri = string_member(body, &members, "uri", "params.uri must be a string")?;
    out.cursor = string_member(body, &members, "cursor", "params.cursor must be a string")?;
    out.arguments = object_member(
        body,
        &members,
        "arguments",
        "params.arguments must be an object",
    )?;
    out.request_state = match json::find(&members, "requestState") {
        Some(m) if json::shape(body, &m.value) == Shape::String => Some(m.value.clone()),
        Some(_) => return Err(invalid("params.requestState must be a string")),
        None => None,
    };
    out.meta = object_member(body, &members, "_meta", "params._meta must be an object")?;
    if let Some(meta) = out.meta.clone() {
        read_meta(body, meta, &mut out)?;
    }
    Ok(out)
}

fn read_meta<'a>(
    body: &'a [u8],
    meta: Range<usize>,
    out: &mut Params<'a>,
) -> Result<(), WireError> {
    let members = json::members(body, meta).ok_or(invalid("params._meta must be an object"))?;
    out.protocol_version = string_member(
        body,
        &members,
        PROTOCOL_VERSION_KEY,
        "the protocol version in params._meta must be a string",
    )?;
    out.client_capabilities = object_member(
        body,
        &members,
        CLIENT_CAPABILITIES_KEY,
        "the client capabilities in params._meta must be an object",
    )?;
    out.client_info = object_member(
        body,
        &members,
        CLIENT_INFO_KEY,
        "the client info in params._meta must be an object",
    )?;
    out.log_level = string_member(
        body,
        &members,
        LOG_LEVEL_KEY,
        "the log level in params._meta must be a string",
    )?;
    out.approval = string_member(
        body,
        &members,
        APPROVAL_KEY,
        "tollgate/approval must be a string",
    )?;
    out.progress_token = match json::find(&members, "progressToken") {
        Some(m) if matches!(json::shape(body, &m.value), Shape::String | Shape::Number) => {
            Some(m.value.clone())
        }
        Some(_) => return Err(invalid("progressToken must be a string or a number")),
        None => None,
    };
    Ok(())
}

fn string_member<'a>(
    body: &'a [u8],
    members: &[Member<'_>],
    key: &str,
    message: &'static str,
) -> Result<Option<Cow<'a, str>>, WireError> {
    match json::find(members, key) {
        Some(m) => json::string(body, m.value.clone())
            .map(Some)
            .ok_or(invalid(message)),
        None => Ok(None),
    }
}

fn object_member(
    body: &[u8],
    members: &[Member<'_>],
    key: &str,
    message: &'static str,
) -> Result<Option<Range<usize>>, WireError> {
    match json::find(members, key) {
        Some(m) if json::shape(body, &m.value) == Shape::Object => Ok(Some(m.value.clone())),
        Some(_) => Err(invalid(message)),
        None => Ok(None),
    }
}

/// The `_meta` object without the protocol's own keys
/// (`io.modelcontextprotocol/…`), every other member byte-exact: what a
/// client's request carries on to an upstream that gets its own. `{}` when
/// `meta_json` is not an object.
pub fn meta_without_protocol_keys(meta_json: &[u8]) -> Vec<u8> {
    let members = json::members(meta_json, 0..meta_json.len()).unwrap_or_default();
    let mut out = Vec::with_capacity(meta_json.len());
    out.push(b'{');
    for m in members
        .iter()
        .filter(|m| !m.key.starts_with(PROTOCOL_PREFIX))
    {
        push_member(&mut out, meta_json, m);
    }
    out.push(b'}');
    out
}

/// The `params` object's bytes with `name` set to `new_name` (`None` keeps
/// it), every other member (`arguments` above all) byte-exact.
pub fn rewrite_params(body: &[u8], params: &Params<'_>, new_name: Option<&str>) -> Vec<u8> {
    match (new_name, params.name_span.clone()) {
        // The usual case: the name's token replaced where it stands, the
        // bytes around it copied whole (no walk over the members).
        (Some(name), Some(at)) => {
            let span = params.span.clone();
            let mut out = Vec::with_capacity(span.len() + name.len() + 2);
            out.extend_from_slice(&body[span.start..at.start]);
            write_str(&mut out, name);
            out.extend_from_slice(&body[at.end..span.end]);
            out
        }
        (Some(name), None) => edit_params(body, params, &[("name", Some(&quoted(name)))]),
        (None, _) => body[params.span.clone()].to_vec(),
    }
}

/// [`rewrite_params`], and `_meta` replaced by `meta` (an object's bytes);
/// `meta: None` drops `_meta`.
pub fn rewrite_params_with_meta(
    body: &[u8],
    params: &Params<'_>,
    new_name: Option<&str>,
    meta: Option<&[u8]>,
) -> Vec<u8> {
    let name = new_name.map(quoted);
    let mut edits: Vec<Edit<'_>> = Vec::with_capacity(2);
    if let Some(n) = &name {
        edits.push(("name", Some(n)));
    }
    edits.push(("_meta", meta));
    edit_params(body, params, &edits)
}

/// One change to `params`: member `key` set to `value` (raw JSON) where it
/// stands (appended when absent), or dropped when `value` is `None`.
pub type Edit<'e> = (&'e str, Option<&'e [u8]>);

/// The `params` object's bytes with `edits` made, every other member
/// byte-exact.
pub fn edit_params(body: &[u8], params: &Params<'_>, edits: &[Edit<'_>]) -> Vec<u8> {
    let members = json::members(body, params.span.clone()).unwrap_or_default();
    let extra: usize = edits
        .iter()
        .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len) + 4)
        .sum();
    let mut out = Vec::with_capacity(params.span.len() + extra);
    out.push(b'{');
    let mut done = vec![false; edits.len()];
    for m in &members {
        match edits.iter().position(|(k, _)| *k == m.key.as_ref()) {
            Some(i) if !done[i] => {
                if let Some(value) = edits[i].1 {
                    push_key(&mut out, edits[i].0);
                    out.extend_from_slice(value);
                }
                done[i] = true;
            }
            Some(_) => {}
            None => push_member(&mut out, body, m),
        }
    }
    for (i, (key, value)) in edits.iter().enumerate() {
        if let (false, Some(value)) = (done[i], value) {
            push_key(&mut out, key);
            out.extend_from_slice(value);
        }
    }
    out.push(b'}');
    out
}

fn quoted(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// Appends `"key":` after a comma when a member precedes it.
fn push_key(out: &mut Vec<u8>, key: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    write_str(out, key);
    out.push(b':');
}

fn push_member(out: &mut Vec<u8>, json: &[u8], m: &Member<'_>) {
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(&json[m.key_span.clone()]);
    out.push(b':');
    out.extend_from_slice(&json[m.value.clone()]);
}

#[cfg(test)]
mod tests;
