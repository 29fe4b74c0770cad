//! Tollgate as an OAuth 2.1 resource server for MCP clients: it publishes
//! RFC 9728 metadata, challenges with `WWW-Authenticate`, and accepts only
//! JWTs its authorization servers issued for it (`aud` = this resource).
//! A token is checked here and never forwarded: upstreams get their own
//! credentials. Nothing here logs or echoes a token.
//!
//! `token` takes a compact JWS apart, `keys` holds the verification keys
//! and picks one, `resource` renders the metadata and the challenge.

mod keys;
mod resource;
#[cfg(test)]
mod tests;
mod token;

use std::fmt;

use crate::config::McpOAuthConfig;
use keys::KeySet;
use resource::{ResourceUrl, header_safe};

/// A configured resource server: its identity, the issuers it trusts and
/// their keys. Built once per config snapshot; read-only afterwards.
pub struct OAuth {
    resource: String,
    issuers: Vec<String>,
    /// Every one must be granted (`required_scope`, space-separated).
    required_scopes: Vec<String>,
    leeway_secs: u64,
    keys: KeySet,
    metadata_path: String,
    metadata_url: String,
    metadata_json: Vec<u8>,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`, else the client's id (client-credentials tokens).
    pub subject: String,
    /// `client_id`, else `azp`.
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    pub expires_s: u64,
    pub issuer: String,
}

/// Why a token was refused. The messages are fixed text: nothing from the
/// token reaches a response or a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a compact JWS, over the size cap, a claim of the wrong type, a
    /// critical header extension, or no `exp`.
    Malformed,
    /// The signature does not verify, or no key matches its `kid`.
    BadSignature,
    Expired,
    /// `nbf` or `iat` lies in the future (beyond the leeway).
    NotYetValid,
    WrongIssuer,
    /// Issued for another resource (RFC 8707): accepting it would make
    /// this gateway a token-passthrough hop.
    WrongAudience,
    InsufficientScope,
    /// `alg` is `none`, unknown, or one this gateway holds no key for.
    UnsupportedAlg,
}

impl TokenError {
    /// 403 when the token is good but lacks a scope, else 401 (RFC 6750 §3.1).
    pub fn status(&self) -> u16 {
        match self {
            TokenError::InsufficientScope => 403,
            _ => 401,
        }
    }

    /// The RFC 6750 error code for `WWW-Authenticate`.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InsufficientScope => "insufficient_scope",
            _ => "invalid_token",
        }
    }

    /// A short explanation safe to show the client.
    pub fn description(&self) -> &'static str {
        match self {
            TokenError::Malformed => "the token is not a well-formed JWT access token",
            TokenError::BadSignature => "the token signature does not verify",
            TokenError::Expired => "the token has expired",
            TokenError::NotYetValid => "the token is not valid yet",
            TokenError::WrongIssuer => "the token was issued by an untrusted authorization server",
            TokenError::WrongAudience => "the token was not issued for this resource",
            TokenError::InsufficientScope => "the token lacks a required scope",
            TokenError::UnsupportedAlg => "the token signature algorithm is not accepted",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("resource", &self.resource)
            .field("issuers", &self.issuers)
            .field("keys", &self.keys.count())
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// Loads the JWKS file or resolves the HS256 secret reference. Errors
    /// name the setting and the file or variable, never key material.
    pub fn from_config(c: &McpOAuthConfig) -> Result<OAuth, String> {
        let keys = match (&c.jwks_file, &c.hs256_secret) {
            (Some(path), None) => KeySet::jwks_file(path)?,
            (None, Some(reference)) => {
                let secret = crate::router::read_secret(reference)
                    .map_err(|e| format!("mcp.oauth.hs256_secret: {e}"))?;
                KeySet::hs256(secret.expose().as_bytes())
                    .map_err(|e| format!("mcp.oauth.hs256_secret: {e}"))?
            }
            _ => {
                return Err("mcp.oauth: give exactly one of `jwks_file` and `hs256_secret`".into());
            }
        };
        OAuth::with_keys(c, keys)
    }

    fn with_keys(c: &McpOAuthConfig, keys: KeySet) -> Result<OAuth, String> {
        let url =
            ResourceUrl::parse(&c.resource).map_err(|e| format!("mcp.oauth.resource: {e}"))?;
        if c.authorization_servers.is_empty()
            || !c.authorization_servers.iter().all(|s| header_safe(s))
        {
            return Err("mcp.oauth.authorization_servers: name at least one issuer URL".into());
        }
        let required_scopes: Vec<String> = c
            .required_scope
            .iter()
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !c
            .scopes_supported
            .iter()
            .chain(&required_scopes)
            .all(|s| header_safe(s))
        {
            return Err(
                "mcp.oauth: a scope must be printable ASCII without spaces, quotes or backslashes"
                    .into(),
            );
        }
        Ok(OAuth {
            metadata_json: resource::metadata_json(
                &c.resource,
                &c.authorization_servers,
                &c.scopes_supported,
            ),
            metadata_path: url.metadata_path(),
            metadata_url: url.metadata_url(),
            resource: c.resource.clone(),
            issuers: c.authorization_servers.clone(),
            required_scopes,
            leeway_secs: c.leeway_secs,
            keys,
        })
    }

    /// Where the metadata document is served, e.g.
    /// `/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1).
    pub fn metadata_path(&self) -> String {
        self.metadata_path.clone()
    }

    /// The RFC 9728 metadata document.
    pub fn metadata_json(&self) -> Vec<u8> {
        self.metadata_json.clone()
    }

    /// The `WWW-Authenticate` value for a 401 (no token, or `err`) or a 403
    /// (`InsufficientScope`). The required scope is always named so the
    /// client asks for it on (re)authorization.
    pub fn challenge(&self, err: Option<&TokenError>) -> String {
        let scope = (!self.required_scopes.is_empty()).then(|| self.required_scopes.join(" "));
        resource::challenge(
            &self.metadata_url,
            err.map(|e| (e.code(), e.description())),
            scope.as_deref(),
        )
    }

    /// Verifies `token` and its claims at `now_s` (seconds since the epoch).
    /// The signature is checked before any claim is read.
    pub fn validate(&self, token: &str, now_s: u64) -> Result<Claims, TokenError> {
        if token.len() > token::MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let parts = token::split(token).ok_or(TokenError::Malformed)?;
        let header = token::read_header(parts.header).ok_or(TokenError::Malformed)?;
        if header.crit {
            return Err(TokenError::Malformed);
        }
        let alg = header.alg.ok_or(TokenError::UnsupportedAlg)?;
        let signature = token::decode(parts.signature).ok_or(TokenError::Malformed)?;
        self.keys
            .verify(alg, header.kid.as_deref(), parts.signing_input, &signature)?;
        let claims = token::read_claims(parts.payload).ok_or(TokenError::Malformed)?;
        self.check(claims, now_s)
    }

    /// The claims' meaning: issuer, audience, lifetime, scopes — in that
    /// order, so a token for someone else is refused as such whatever its age.
    fn check(&self, c: token::TokenClaims, now: u64) -> Result<Claims, TokenError> {
        let issuer = c
            .iss
            .filter(|iss| self.issuers.contains(iss))
            .ok_or(TokenError::WrongIssuer)?;
        if !c.aud.contains(&self.resource) {
            return Err(TokenError::WrongAudience);
        }
        let expires_s = c.exp.ok_or(TokenError::Malformed)?;
        // Valid strictly before `exp` (RFC 7519 §4.1.4), plus the leeway.
        if now >= expires_s.saturating_add(self.leeway_secs) {
            return Err(TokenError::Expired);
        }
        let horizon = now.saturating_add(self.leeway_secs);
        if c.nbf.is_some_and(|t| t > horizon) || c.iat.is_some_and(|t| t > horizon) {
            return Err(TokenError::NotYetValid);
        }
        if !self.required_scopes.iter().all(|s| c.scopes.contains(s)) {
            return Err(TokenError::InsufficientScope);
        }
        let subject = c
            .sub
            .or_else(|| c.client_id.clone())
            .ok_or(TokenError::Malformed)?;
        Ok(Claims {
            subject,
            client_id: c.client_id,
            scopes: c.scopes,
            expires_s,
            issuer,
        })
    }
}

/// Whether a bearer value is a JWT (three base64url segments whose header
/// is JSON with an `alg`) rather than a gateway key, so each kind of
/// credential is only ever checked as what it is. Looks at the header only.
pub fn looks_like_jwt(token: &str) -> bool {
    token::split(token)
        .and_then(|parts| token::read_header(parts.header))
        .is_some()
}
