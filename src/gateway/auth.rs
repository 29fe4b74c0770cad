//! Client keys: the presented credential (Bearer, `x-api-key`, `api-key`)
//! hashed and looked up among the keys governance holds, so only digests
//! are ever compared or stored. Checked from the head alone, so a request
//! without a key never gets its body read.

use crate::api::ApiError;
use crate::governance::keys::{Digest, digest_of};
use crate::governance::state::{GovSnapshot, Key};
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
            | "/key/info"
    )
}

/// The credential a request presents, whichever header carries it.
pub(crate) fn presented(req: &Request) -> Option<&[u8]> {
    req.credential()
}

/// When keys are required, the request's key, or why it has none.
pub(super) fn authenticate<'g>(
    gov: &'g GovSnapshot,
    req: &Request,
) -> Result<Option<&'g Key>, ApiError> {
    if !gov.required {
        return Ok(None);
    }
    match key_by_digest(gov, req.credential_digest(digest_of))? {
        Some(key) => Ok(Some(key)),
        None => Err(ApiError::coded(
            401,
            "invalid_request_error",
            "invalid_api_key",
            "Missing or unknown API key. Send `Authorization: Bearer <key>` (or `x-api-key`).",
        )),
    }
}

/// The key a presented credential names: `Ok(None)` when it names none
/// (nothing presented, or no such key: the caller knows whether one is
/// required), an error when it has expired.
pub(crate) fn key_of<'g>(
    gov: &'g GovSnapshot,
    presented: Option<&[u8]>,
) -> Result<Option<&'g Key>, ApiError> {
    key_by_digest(gov, presented.map(digest_of))
}

/// [`key_of`] for a credential already hashed.
fn key_by_digest(gov: &GovSnapshot, digest: Option<Digest>) -> Result<Option<&Key>, ApiError> {
    let Some(key) = digest.and_then(|d| gov.by_digest(&d)) else {
        return Ok(None);
    };
    if let Some(at) = key.expires_at
        && at <= crate::resilience::unix_secs()
    {
        return Err(ApiError::coded(
            401,
            "invalid_request_error",
            "expired_api_key",
            "This API key has expired.",
        ));
    }
    Ok(Some(key))
}
