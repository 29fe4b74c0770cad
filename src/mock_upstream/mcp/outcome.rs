//! What `/mcp` answers, as a value, and the one place that sends it: a
//! JSON-RPC message as JSON, a bare status, or one of the streams.

use super::answer::{Answer, INVALID_REQUEST, PARSE_ERROR, RpcError, write_error, write_response};
use super::message::Malformed;
use super::methods::{Filter, SlowPlan};
use super::session::{SessionId, StreamClaim};
use super::state::Era;
use super::stats;
use super::stream;
use crate::server::{Request, Responder};

pub enum Outcome<'b> {
    /// A result or an error for request `id`, as `application/json`.
    Json {
        status: u16,
        id: &'b [u8],
        era: Era,
        reply: Result<Answer<'b>, RpcError<'b>>,
    },
    /// A status with no body: 202 for a notification, 200 for DELETE, 405.
    Bare {
        status: u16,
        allow: Option<&'static str>,
    },
    Slow {
        id: &'b [u8],
        era: Era,
        plan: SlowPlan<'b>,
    },
    Listen {
        id: &'b [u8],
        filter: Filter,
    },
    GetStream(StreamClaim),
}

impl<'b> Outcome<'b> {
    /// An error that belongs to no request (`"id": null`); an error is
    /// written the same in both eras.
    pub fn rejected(status: u16, code: i32, message: &'static str) -> Self {
        Outcome::Json {
            status,
            id: b"null",
            era: Era::Legacy,
            reply: Err(RpcError::new(code, message)),
        }
    }
}

/// Sends `outcome`; a legacy answer names its session.
pub async fn send(outcome: Outcome<'_>, session: Option<SessionId>, resp: &mut Responder<'_>) {
    let hex = session.map(|s| s.hex());
    let session_header = hex.as_ref().map(|h| ("mcp-session-id", &h[..]));
    let extra = session_header.as_slice();
    match outcome {
        Outcome::Json {
            status,
            id,
            era,
            reply,
        } => {
            let _ = resp
                .send_json_written(status, extra, |out| match &reply {
                    Ok(answer) => write_response(out, id, era, answer),
                    Err(err) => write_error(out, id, err),
                })
                .await;
        }
        Outcome::Bare { status, allow } => {
            let allow = allow.map(|a| ("allow", a.as_bytes()));
            let mut headers = [("", &b""[..]); 2];
            let mut n = 0;
            for header in [session_header, allow].into_iter().flatten() {
                headers[n] = header;
                n += 1;
            }
            let _ = resp.send(status, &headers[..n], b"").await;
        }
        Outcome::Slow { id, era, plan } => stream::slow(resp, extra, id, era, plan).await,
        Outcome::Listen { id, filter } => stream::listen(resp, id, filter).await,
        Outcome::GetStream(claim) => stream::get(resp, claim).await,
    }
}

/// Whether the `Accept` header lists `media` (or a wildcard that covers it).
pub fn accepts(req: &Request, media: &str) -> bool {
    let Some(accept) = req.header_str("accept") else {
        return false;
    };
    // The exact media type, as clients write it, without the parse.
    if accept.contains(media) {
        return true;
    }
    let kind = media.split('/').next().unwrap_or(media);
    accept.split(',').any(|item| {
        let range = item.split(';').next().unwrap_or("").trim();
        range.eq_ignore_ascii_case(media)
            || range == "*/*"
            || range
                .strip_suffix("/*")
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    })
}

/// 406 unless a POST's `Accept` lists both JSON and SSE, as both eras require.
pub fn check_post_accept(req: &Request) -> Result<(), Outcome<'static>> {
    if accepts(req, "application/json") && accepts(req, "text/event-stream") {
        Ok(())
    } else {
        Err(Outcome::rejected(
            406,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        ))
    }
}

/// The answer to a body that is no JSON-RPC message.
pub fn malformed(e: Malformed) -> Outcome<'static> {
    stats::rejected();
    match e {
        Malformed::Parse => Outcome::rejected(400, PARSE_ERROR, "Parse error"),
        Malformed::Invalid => Outcome::rejected(400, INVALID_REQUEST, "Invalid Request"),
    }
}
