//! Requests that need the client's input mid-call, in both eras.
//!
//! 2026-07-28 (multi-round-trip requests): a server answers `tools/call`,
//! `prompts/get` or `resources/read` with `resultType: "input_required"`,
//! the client answers the embedded requests and retries with
//! `inputResponses` and the `requestState` it was given. A modern client
//! gets the result as the server wrote it, except the state: the gateway
//! seals it (`wire::state`) to the caller, the call and a short expiry,
//! and opens it on the retry, so a state cannot be replayed by another
//! key or on another call, and a call an approval released stays released
//! across its rounds.
//!
//! A 2025-era client cannot read `input_required`: the gateway asks it
//! each embedded request itself, as a server-to-client request on the
//! call's SSE stream (what such clients expect), collects the answers the
//! client POSTs back (on any core), and retries upstream. A 2025-era
//! server's own mid-call requests reach a 2025-era client the same way.
//! Answers are matched by a registry keyed by caller and a gateway id.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashMap;

use super::endpoint::{Ctx, Identity};
use super::json::{members, quoted, with_member};
use super::sessions;
use super::wire::message::{Kind, Message, Params};
use super::wire::session::{caps, subject_of};
use super::wire::state::{StateClaims, call_digest};

/// Rounds of `input_required` the gateway drives for a legacy client
/// before giving up (a server that keeps asking).
pub const MAX_ROUNDS: usize = 8;

/// How long a sealed `requestState` is accepted.
const STATE_TTL_S: u64 = 600;

/// One call as a sealed state binds it.
#[derive(Clone, Copy)]
pub struct CallRef<'a> {
    pub method: &'a str,
    /// The tool or prompt name, or the resource URI, the client named.
    pub target: &'a str,
    pub args: &'a [u8],
}

impl CallRef<'_> {
    /// Over the arguments' canonical form (RFC 8785): a client that
    /// re-serializes them on its retry still names the same call.
    fn digest(&self) -> [u8; 16] {
        let canonical = std::str::from_utf8(self.args)
            .ok()
            .and_then(|a| crate::guard::tools::canonicalize(a).ok());
        let args = canonical.as_ref().map_or(self.args, |c| c.as_bytes());
        call_digest(self.method, self.target, args)
    }
}

/// What a retry's `requestState` carries in.
#[derive(Debug, Default)]
pub struct Carried {
    /// The call was released by an approval in an earlier round.
    pub approved: bool,
    /// The upstream's own state, a raw JSON string token (`None`: it gave
    /// none, and the retry goes without one).
    pub upstream: Option<Vec<u8>>,
}

impl Carried {
    /// The held call the state names (a 2025-era server's request put to
    /// a 2026-07-28 client), if it names one.
    pub fn hold(&self) -> Option<u64> {
        self.upstream.as_deref().and_then(super::held::held_id)
    }
}

/// Opens the `requestState` of a retry; `Ok(None)` when there is none.
/// `Err` is the text of the refusal (another key's, another call's,
/// expired, or not one the gateway sealed).
pub fn open_state(
    ctx: &Ctx<'_>,
    call: CallRef<'_>,
    params: &Params<'_>,
) -> Result<Option<Carried>, &'static str> {
    let Some(range) = params.request_state.clone() else {
        return Ok(None);
    };
    const BAD: &str = "Invalid params: requestState is not one this gateway issued for this call (it was changed, has expired, or belongs to another caller or call)";
    let token = super::json::string(ctx.body, range).ok_or(BAD)?;
    let (claims, upstream) = sessions::get().states().open(&token).ok_or(BAD)?;
    let now = crate::resilience::unix_secs();
    if claims.subject != subject_of(&ctx.who.who)
        || claims.call != call.digest()
        || claims.expires_s < now
    {
        return Err(BAD);
    }
    Ok(Some(Carried {
        approved: claims.approved,
        upstream,
    }))
}

/// Whether a result is an `input_required` one.
fn is_input_required(result: &[u8]) -> bool {
    let [t] = members(result, 0..result.len(), [b"resultType"]);
    t.is_some_and(|r| &result[r] == b"\"input_required\"")
}

/// An `input_required` result for a modern client: the server's, with
/// its `requestState` (or none) sealed to this caller and call.
pub fn sealed(ctx: &Ctx<'_>, call: CallRef<'_>, approved: bool, result: &[u8]) -> Vec<u8> {
    let [state] = members(result, 0..result.len(), [b"requestState"]);
    sealed_with(ctx, call, approved, result, state.map(|r| &result[r]))
}

/// `result` with a `requestState` sealing `upstream` (the server's own
/// state token, or what names a held call) to this caller and call.
pub fn sealed_with(
    ctx: &Ctx<'_>,
    call: CallRef<'_>,
    approved: bool,
    result: &[u8],
    upstream: Option<&[u8]>,
) -> Vec<u8> {
    let claims = StateClaims {
        subject: subject_of(&ctx.who.who),
        call: call.digest(),
        expires_s: crate::resilience::unix_secs() + STATE_TTL_S,
        approved,
    };
    let token = sessions::get().states().seal(&claims, upstream);
    with_member(result, 0..result.len(), "requestState", &quoted(&token))
}

/// The capabilities a 2026-07-28 client declares in its request's
/// `_meta` (at `meta`), as [`caps`] bits.
pub fn declared(body: &[u8], meta: Option<Range<usize>>) -> u8 {
    let key = super::wire::message::CLIENT_CAPABILITIES_KEY.as_bytes();
    meta.and_then(|m| members(body, m, [key])[0].clone())
        .map_or(0, |c| caps::of(&body[c]))
}

/// The server-to-client requests of an `input_required` result, each as
/// its key and the request object; and the server's `requestState`.
pub struct InputRequired {
    pub requests: Vec<(String, Vec<u8>)>,
    pub state: Option<Vec<u8>>,
}

/// Reads an `input_required` result; `None` for any other result, or
/// one whose `inputRequests` is not an object of objects.
pub fn input_required(result: &[u8]) -> Option<InputRequired> {
    use simd_json::prelude::*;
    if !is_input_required(result) {
        return None;
    }
    let [requests, state] = members(result, 0..result.len(), [b"inputRequests", b"requestState"]);
    let mut out = InputRequired {
        requests: Vec::new(),
        state: state.map(|r| result[r].to_vec()),
    };
    if let Some(r) = requests {
        let mut copy = result[r].to_vec();
        let value = simd_json::to_owned_value(&mut copy).ok()?;
        for (key, request) in value.as_object()? {
            if !request.is_object() {
                return None;
            }
            out.requests
                .push((key.to_string(), simd_json::to_vec(request).ok()?));
        }
    }
    Some(out)
}

/// The capability a client must have declared to be asked `request` (a
/// request object, or a whole message): `None` for a method the gateway
/// does not put to clients.
pub fn needed_capability(request: &[u8]) -> Option<u8> {
    let r = 0..request.len();
    let [method, params] = members(request, r, [b"method", b"params"]);
    match &request[method?] {
        b"\"elicitation/create\"" => {
            let url = params.is_some_and(|p| {
                super::json::string_member(request, p, b"mode").as_deref() == Some("url")
            });
            Some(if url {
                caps::ELICITATION_URL
            } else {
                caps::ELICITATION_FORM
            })
        }
        b"\"sampling/createMessage\"" => Some(caps::SAMPLING),
        b"\"roots/list\"" => Some(caps::ROOTS),
        _ => None,
    }
}

/// The `_meta` a legacy client's request carries to a modern server:
/// its own (a progress token, say) with the capabilities it declared at
/// `initialize`, so the server knows what it may ask.
pub fn meta_with_capabilities(ctx: &Ctx<'_>, meta: Option<Range<usize>>) -> Vec<u8> {
    let caps_json = caps::json(ctx.client_caps);
    let meta: &[u8] = meta.map_or(b"{}", |r| &ctx.body[r]);
    with_member(
        meta,
        0..meta.len(),
        super::wire::message::CLIENT_CAPABILITIES_KEY,
        &caps_json,
    )
}

/// A request the gateway put to a client, until its answer is taken or
/// it is dropped. Any core may receive the answer.
pub struct Asked {
    key: (String, String),
}

/// (caller, gateway id) → the client's answer once it came.
type Pending = FxHashMap<(String, String), Option<Vec<u8>>>;
type Registry = Mutex<Pending>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, Pending> {
    registry().lock().unwrap_or_else(|p| p.into_inner())
}

/// The prefix of every id the gateway gives a request of its own: a
/// client's answer with any other id is not one of these.
const ID_PREFIX: &str = "tollgate-";

impl Asked {
    /// Registers a request to `who`'s client under a fresh id.
    pub fn open(who: &Identity) -> Asked {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        static SALT: OnceLock<u64> = OnceLock::new();
        let salt = *SALT.get_or_init(crate::router::health::random_u64);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let key = (who.who.clone(), format!("{ID_PREFIX}{salt:x}-{n}"));
        lock().insert(key.clone(), None);
        Asked { key }
    }

    /// The message that puts `request` (an object with `method` and
    /// `params`) to the client under this id.
    pub fn message(&self, request: &[u8]) -> Vec<u8> {
        let mut out = b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec();
        out.extend_from_slice(&quoted(&self.key.1));
        out.push(b',');
        push_method_and_params(&mut out, request);
        out.push(b'}');
        out
    }

    /// The client's answer (the whole message), once it came.
    pub fn take(&self) -> Option<Vec<u8>> {
        lock().get_mut(&self.key).and_then(Option::take)
    }
}

impl Drop for Asked {
    fn drop(&mut self) {
        lock().remove(&self.key);
    }
}

/// A client's answer (a response or an error message) to a request the
/// gateway put to it; `true` when it was one (and is now delivered).
pub fn answer_from_client(body: &[u8], msg: &Message<'_>, who: &Identity) -> bool {
    if !matches!(msg.kind, Kind::Response | Kind::Error) {
        return false;
    }
    let Some(id) = msg
        .id
        .and_then(|raw| super::json::string(raw, 0..raw.len()))
    else {
        return false;
    };
    if !id.starts_with(ID_PREFIX) {
        return false;
    }
    match lock().get_mut(&(who.who.clone(), id.into_owned())) {
        Some(slot) => {
            *slot = Some(body.to_vec());
            true
        }
        None => false,
    }
}

/// `"method":…,"params":…` of `request` (a request object, or a whole
/// message), as it wrote them.
pub fn push_method_and_params(out: &mut Vec<u8>, request: &[u8]) {
    let r = 0..request.len();
    let [method, params] = members(request, r, [b"method", b"params"]);
    out.extend_from_slice(b"\"method\":");
    out.extend_from_slice(method.map_or(&b"null"[..], |m| &request[m]));
    if let Some(p) = params {
        out.extend_from_slice(b",\"params\":");
        out.extend_from_slice(&request[p]);
    }
}

/// An answer's `result`, or the message of its `error`.
pub fn outcome(answer: &[u8]) -> Result<Range<usize>, String> {
    let r = 0..answer.len();
    let [result, error] = members(answer, r, [b"result", b"error"]);
    match (result, error) {
        (Some(r), _) => Ok(r),
        (None, Some(e)) => Err(super::json::string_member(answer, e, b"message")
            .map_or_else(|| "an error".to_owned(), |m| m.into_owned())),
        (None, None) => Err("neither a result nor an error".to_owned()),
    }
}

/// `message` (a server's request) answered under `id` instead: what goes
/// back to the server, with the client's `result` or `error`.
pub fn reanswer(answer: &[u8], upstream_id: &[u8]) -> Vec<u8> {
    let r = 0..answer.len();
    let [result, error] = members(answer, r, [b"result", b"error"]);
    let mut out = b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec();
    out.extend_from_slice(upstream_id);
    match (result, error) {
        (Some(r), _) => {
            out.extend_from_slice(b",\"result\":");
            out.extend_from_slice(&answer[r]);
        }
        (None, Some(e)) => {
            out.extend_from_slice(b",\"error\":");
            out.extend_from_slice(&answer[e]);
        }
        (None, None) => {
            out.extend_from_slice(br#","error":{"code":-32603,"message":"The client's answer had neither result nor error"}"#);
        }
    }
    out.push(b'}');
    out
}

/// An error answer to a server's request `id`.
pub fn refusal(upstream_id: &[u8], code: i32, text: &str) -> Vec<u8> {
    super::wire::reply::error(Some(upstream_id), code, text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_required_result_is_read_request_by_request() {
        let r = br#"{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"ok?"}},"b":{"method":"roots/list"}},"requestState":"s\"1"}"#;
        let ir = input_required(r).unwrap();
        assert_eq!(ir.state.as_deref(), Some(&br#""s\"1""#[..]));
        let keys: Vec<_> = ir.requests.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(
            needed_capability(&ir.requests[0].1),
            Some(caps::ELICITATION_FORM)
        );
        assert_eq!(needed_capability(&ir.requests[1].1), Some(caps::ROOTS));
        assert!(input_required(br#"{"resultType":"complete","content":[]}"#).is_none());
        assert!(
            input_required(br#"{"resultType":"input_required","inputRequests":{"a":1}}"#).is_none()
        );
        let bare =
            input_required(br#"{"resultType":"input_required","requestState":"x"}"#).unwrap();
        assert!(bare.requests.is_empty());
    }

    #[test]
    fn capabilities_by_method() {
        let url = br#"{"method":"elicitation/create","params":{"mode":"url","url":"https://x"}}"#;
        assert_eq!(needed_capability(url), Some(caps::ELICITATION_URL));
        let sampling = br#"{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{}}"#;
        assert_eq!(needed_capability(sampling), Some(caps::SAMPLING));
        assert_eq!(needed_capability(br#"{"method":"ping"}"#), None);
    }

    #[test]
    fn answers_go_back_under_the_servers_id() {
        let ok = br#"{"jsonrpc":"2.0","id":"tollgate-1-2","result":{"action":"accept"}}"#;
        assert_eq!(
            reanswer(ok, b"7"),
            br#"{"jsonrpc":"2.0","id":7,"result":{"action":"accept"}}"#
        );
        let err = br#"{"jsonrpc":"2.0","id":"tollgate-1-2","error":{"code":-1,"message":"no"}}"#;
        assert_eq!(
            reanswer(err, br#""s-1""#),
            br#"{"jsonrpc":"2.0","id":"s-1","error":{"code":-1,"message":"no"}}"#
        );
        assert_eq!(outcome(err).unwrap_err(), "no");
    }
}
