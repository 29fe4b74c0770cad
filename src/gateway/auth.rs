//! Client keys: which presented credential (Bearer, `x-api-key`, `api-key`)
//! matches a configured `[[keys]]` entry, compared in constant time. Checked
//! from the head alone, so a request without a key never gets its body read.

use crate::api::ApiError;
use crate::router::{ClientKey, Snapshot};
use crate::server::Request;

/// Whether this route serves only requests that carry a client key.
pub(super) fn needs_key(req: &Request) -> bool {
    matches!(
        req.path(),
        "/v1/chat/completions"
            | "/v1/chat/completions/count_tokens"
            | "/v1/messages"
            | "/v1/messages/count_tokens"
            | "/v1/models"
    )
}

/// With `[[keys]]` configured, every request must carry one of them.
pub(super) fn authenticate<'s>(
    snapshot: &'s Snapshot,
    req: &Request,
) -> Result<Option<&'s ClientKey>, ApiError> {
    if snapshot.keys.is_empty() {
        return Ok(None);
    }
    let presented = req
        .header("authorization")
        .and_then(|v| {
            v.strip_prefix(b"Bearer ")
                .or_else(|| v.strip_prefix(b"bearer "))
        })
        .or_else(|| req.header("x-api-key"))
        .or_else(|| req.header("api-key"))
        .map(<[u8]>::trim_ascii);
    let found = presented.and_then(|p| {
        snapshot.keys.iter().find(|k| {
            k.secret
                .as_ref()
                .is_some_and(|s| constant_time_eq(s.expose().as_bytes(), p))
        })
    });
    match found {
        Some(k) => Ok(Some(k)),
        None => Err(ApiError::coded(
            401,
            "invalid_request_error",
            "invalid_api_key",
            "Missing or unknown API key. Send `Authorization: Bearer <key>`.",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
