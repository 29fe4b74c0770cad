//! `[mcp]`: the MCP gateway at `/mcp` — the tool servers it federates
//! (`[[mcp.servers]]`, Streamable HTTP or stdio), how long sessions live,
//! how often upstreams are probed, which tool policy applies by default,
//! and OAuth for clients that cannot hold a static key (`[mcp.oauth]`).
//! Off (no `/mcp`) until a server is declared.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    pub servers: Vec<McpServerConfig>,
    /// A legacy-era session unused this long is forgotten.
    pub session_ttl_secs: u64,
    /// Signs session ids (`env:`/`file:`), so any core — and any instance
    /// sharing it — can check one; a random per-process secret otherwise
    /// (with the Redis tier on, the tier's shared one).
    pub session_secret: Option<String>,
    /// How often each upstream is asked for its lists (isolation and recovery).
    pub probe_interval_ms: u64,
    /// A probe slower than this counts as a failure.
    pub probe_timeout_ms: u64,
    /// Consecutive failures (probes or calls) that isolate a server.
    pub isolate_after: u32,
    /// The default per-call timeout; a server may set its own.
    pub call_timeout_ms: u64,
    /// Items per page of a federated list.
    pub page_size: usize,
    /// `ttlMs` on list results (2026-07-28 clients).
    pub list_ttl_ms: u64,
    /// The tool policy for keys and teams that name none (by name, from
    /// `[guards.tool_policies]`); without one every tool is visible and callable.
    pub tool_policy: Option<String>,
    /// What an injection found in a tool's result does: `block` (the result
    /// becomes an `isError` result naming the rule), `flag`, `log`, `off`.
    pub result_injection: ResultInjection,
    /// `Origin` values accepted (DNS rebinding); a request without one is accepted.
    pub allowed_origins: Vec<String>,
    pub oauth: Option<McpOAuthConfig>,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            servers: Vec::new(),
            session_ttl_secs: 24 * 3600,
            session_secret: None,
            probe_interval_ms: 1000,
            probe_timeout_ms: 2000,
            isolate_after: 1,
            call_timeout_ms: 60_000,
            page_size: 100,
            list_ttl_ms: 60_000,
            tool_policy: None,
            result_injection: ResultInjection::Block,
            allowed_origins: Vec::new(),
            oauth: None,
        }
    }
}

impl McpConfig {
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultInjection {
    Block,
    Flag,
    Log,
    Off,
}

/// One upstream tool server: `url` (Streamable HTTP) or `command` (stdio).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    pub name: String,
    /// Federated names are `<prefix>-<tool>`; the server's name by default.
    pub prefix: Option<String>,
    pub url: Option<String>,
    /// Headers sent upstream (credentials as `env:`/`file:` references);
    /// the client's own token is never forwarded.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The stdio process's environment: literal values, or `env:`/`file:`
    /// references for secrets. Nothing else of the gateway's environment
    /// is passed but `PATH`, `HOME` and `LANG`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Calls in flight to this server at once (shared out over the cores).
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    pub timeout_ms: Option<u64>,
    /// A stdio process idle this long is stopped (one per key).
    #[serde(default = "default_idle")]
    pub idle_secs: u64,
}

fn default_concurrency() -> usize {
    64
}

fn default_idle() -> u64 {
    600
}

impl McpServerConfig {
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or(&self.name)
    }
}

/// Tollgate as an OAuth resource server (RFC 9728): it publishes its
/// metadata, answers 401 with `WWW-Authenticate`, and accepts JWTs the
/// named authorization server issued for it — never passing them upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpOAuthConfig {
    /// This resource's identifier, e.g. `https://gw.example.com/mcp`;
    /// tokens must name it in `aud`.
    pub resource: String,
    /// The authorization servers clients are sent to (the `iss` accepted).
    pub authorization_servers: Vec<String>,
    /// Verification keys: a JWKS file (RS256, ES256), or a shared secret
    /// reference for HS256.
    pub jwks_file: Option<String>,
    pub hs256_secret: Option<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// A scope every token must carry, if set.
    pub required_scope: Option<String>,
    /// The team OAuth clients belong to (its tool policy and limits).
    pub team: Option<String>,
    /// The tool policy for OAuth clients (else the team's, else `[mcp] tool_policy`).
    pub tool_policy: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_leeway() -> u64 {
    30
}

/// A federated name must fit MCP's 64 characters; a server's prefix leaves room.
const MAX_PREFIX: usize = 32;

pub(super) fn validate(config: &super::Config, err: &mut impl FnMut(String, String)) {
    let mcp = &config.mcp;
    let mut seen_names = std::collections::BTreeSet::new();
    let mut seen_prefixes = std::collections::BTreeSet::new();
    for (i, s) in mcp.servers.iter().enumerate() {
        let at = |f: &str| format!("mcp.servers[{i}].{f}");
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= MAX_PREFIX
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !name_ok(&s.name) {
            err(
                at("name"),
                format!("must be 1–{MAX_PREFIX} characters of [A-Za-z0-9_.]"),
            );
        }
        if !seen_names.insert(s.name.clone()) {
            err(at("name"), "another server has this name".into());
        }
        if !name_ok(s.prefix()) {
            err(
                at("prefix"),
                format!(
                    "must be 1–{MAX_PREFIX} characters of [A-Za-z0-9_.] (`-` separates it from the tool's name)"
                ),
            );
        }
        if !seen_prefixes.insert(s.prefix().to_owned()) {
            err(at("prefix"), "another server has this prefix".into());
        }
        match (&s.url, &s.command) {
            (Some(_), Some(_)) | (None, None) => err(
                at("url"),
                "give exactly one of `url` (Streamable HTTP) and `command` (stdio)".into(),
            ),
            (Some(url), None) => {
                if let Err(e) = crate::upstream::Origin::parse_base_url(url) {
                    err(at("url"), e);
                }
                if !s.args.is_empty() || !s.env.is_empty() {
                    err(at("args"), "`args` and `env` are for stdio servers".into());
                }
            }
            (None, Some(cmd)) => {
                if cmd.is_empty() {
                    err(at("command"), "is empty".into());
                }
                if !s.headers.is_empty() {
                    err(at("headers"), "`headers` are for HTTP servers".into());
                }
            }
        }
        for (k, v) in &s.headers {
            if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                || crate::upstream::is_reserved_header(k)
                || k.eq_ignore_ascii_case("mcp-session-id")
                || k.eq_ignore_ascii_case("mcp-protocol-version")
            {
                err(
                    at(&format!("headers.{k}")),
                    "not a header the gateway can send".into(),
                );
            }
            if looks_secret_header(k)
                && let Err(e) = super::secret::check_reference(v)
            {
                err(at(&format!("headers.{k}")), e.into());
            }
        }
        for (k, v) in &s.env {
            if (v.starts_with("env:") || v.starts_with("file:"))
                && let Err(e) = super::secret::check_reference(v)
            {
                err(at(&format!("env.{k}")), e.into());
            }
        }
        if s.max_concurrency == 0 {
            err(at("max_concurrency"), "must be at least 1".into());
        }
    }
    if !mcp.enabled() {
        return;
    }
    if let Some(name) = &mcp.tool_policy
        && !config.guards.tool_policies.contains_key(name)
    {
        err(
            "mcp.tool_policy".into(),
            format!("no tool policy `{name}` in [guards.tool_policies]"),
        );
    }
    if let Some(secret) = &mcp.session_secret
        && let Err(e) = super::secret::check_reference(secret)
    {
        err("mcp.session_secret".into(), e.into());
    }
    if mcp.page_size == 0 || mcp.page_size > 1000 {
        err("mcp.page_size".into(), "must be 1–1000".into());
    }
    if mcp.probe_interval_ms < 50 {
        err("mcp.probe_interval_ms".into(), "must be at least 50".into());
    }
    if mcp.isolate_after == 0 {
        err("mcp.isolate_after".into(), "must be at least 1".into());
    }
    if let Some(o) = &mcp.oauth {
        validate_oauth(config, o, err);
    }
}

fn validate_oauth(
    config: &super::Config,
    o: &McpOAuthConfig,
    err: &mut impl FnMut(String, String),
) {
    if !(o.resource.starts_with("https://") || o.resource.starts_with("http://")) {
        err("mcp.oauth.resource".into(), "must be an http(s) URL".into());
    }
    if o.authorization_servers.is_empty() {
        err(
            "mcp.oauth.authorization_servers".into(),
            "name at least one issuer".into(),
        );
    }
    match (&o.jwks_file, &o.hs256_secret) {
        (None, None) | (Some(_), Some(_)) => err(
            "mcp.oauth".into(),
            "give exactly one of `jwks_file` and `hs256_secret`".into(),
        ),
        (None, Some(secret)) => {
            if let Err(e) = super::secret::check_reference(secret) {
                err("mcp.oauth.hs256_secret".into(), e.into());
            }
        }
        (Some(_), None) => {}
    }
    if let Some(name) = &o.tool_policy
        && !config.guards.tool_policies.contains_key(name)
    {
        err(
            "mcp.oauth.tool_policy".into(),
            format!("no tool policy `{name}` in [guards.tool_policies]"),
        );
    }
    if let Some(team) = &o.team
        && !config.teams.iter().any(|t| &t.id == team)
    {
        err("mcp.oauth.team".into(), format!("no team `{team}`"));
    }
}

/// Headers whose values are credentials, so only references are accepted.
fn looks_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization" || n.contains("key") || n.contains("token") || n.contains("secret")
}
