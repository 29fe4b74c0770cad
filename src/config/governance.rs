//! `[governance]`, `[admin]`, `[[teams]]` and `[[end_users]]`: where keys,
//! spend and limits are kept, who may administer them, and the Redis tier.

use serde::Deserialize;

use crate::governance::types::Budgets;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceConfig {
    /// The embedded database (SQLite) holding admin-made keys, teams, end
    /// users, the spend ledger and the admin audit trail. Relative paths are
    /// taken from the working directory. Opened only when governance is in
    /// use (keys, admin tokens, budgets or limits configured).
    pub store: String,
    /// Serve with no key required on a non-loopback address. Off: such a
    /// config refuses to start, since it would open the providers' keys to
    /// anyone who can reach the port.
    pub allow_unauthenticated: bool,
    /// Require a key even when the config declares none (keys then come only
    /// from the admin API). On by itself when admin tokens are configured.
    pub require_keys: bool,
    /// The header naming the end user, beside OpenAI's `user` and
    /// Anthropic's `metadata.user_id`.
    pub end_user_header: String,
    /// Record every request's spend in the ledger.
    pub ledger: bool,
    /// Shares of each limit only higher priority classes may use.
    pub reserve: ReserveConfig,
    /// How often the aggregator rebalances per-core shares (and leases from Redis).
    pub aggregator_interval_ms: u64,
    pub redis: Option<RedisConfig>,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        GovernanceConfig {
            store: "tollgate.db".into(),
            allow_unauthenticated: false,
            require_keys: false,
            end_user_header: "x-tollgate-end-user".into(),
            ledger: true,
            reserve: ReserveConfig::default(),
            aggregator_interval_ms: 2,
            redis: None,
        }
    }
}

/// The last `critical` share of every limit is for critical traffic only;
/// the `standard` share above it is closed to batch traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReserveConfig {
    pub critical: f64,
    pub standard: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailPolicy {
    /// Each instance keeps serving within its fair share of every limit.
    #[default]
    FailOpen,
    /// Requests under a Redis-held limit or budget are refused (503).
    FailClosed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db` or `rediss://` (TLS); no password in it.
    pub url: String,
    /// `env:VAR` or `file:PATH`.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// Extra CA (PEM) trusted for `rediss://`.
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub on_unavailable: FailPolicy,
    /// How many instances share the limits, for each one's fair share when
    /// Redis is away; default: the number last seen alive in Redis.
    #[serde(default)]
    pub instances: Option<u32>,
    #[serde(default = "default_redis_timeout_ms")]
    pub timeout_ms: u64,
    /// Prefix of every key Tollgate writes.
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
    /// Ledger rows the Redis stream keeps (the oldest batches go first).
    #[serde(default = "default_ledger_stream_rows")]
    pub ledger_stream_rows: u64,
}

fn default_ledger_stream_rows() -> u64 {
    1_000_000
}

fn default_redis_timeout_ms() -> u64 {
    500
}

fn default_redis_prefix() -> String {
    "tg:".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve `/admin/*` on this address only (never on the API listener).
    pub listen: Option<String>,
    pub tokens: Vec<AdminTokenConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenConfig {
    /// Recorded with every action the token takes.
    pub name: String,
    /// `env:VAR` or `file:PATH`; or give `hash`.
    #[serde(default)]
    pub token: Option<String>,
    /// `sha256:<hex>` of the token.
    #[serde(default)]
    pub hash: Option<String>,
    pub scopes: Vec<AdminScope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminScope {
    /// Read keys (never their secrets), teams, spend and the audit trail.
    Read,
    /// Create, rotate and revoke keys; manage teams and end users.
    Keys,
    /// Decide pending tool-call approvals (the guards issue).
    Approvals,
}

impl AdminScope {
    pub fn name(self) -> &'static str {
        match self {
            AdminScope::Read => "read",
            AdminScope::Keys => "keys",
            AdminScope::Approvals => "approvals",
        }
    }
}

/// Whether requests must carry a gateway key under this config.
pub fn keys_required(config: &super::Config) -> bool {
    !config.keys.is_empty() || !config.admin.tokens.is_empty() || config.governance.require_keys
}

/// `sha256:<64 hex>` → the lower-case hex digest.
pub fn parse_hash(s: &str) -> Option<String> {
    let hex = s.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

pub(super) fn validate(config: &super::Config, err: &mut dyn FnMut(String, String)) {
    use std::collections::HashSet;
    let g = &config.governance;
    let listen_public = config
        .server
        .listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| !a.ip().is_loopback());
    let admin_public = config
        .admin
        .listen
        .as_deref()
        .and_then(|l| l.parse::<std::net::SocketAddr>().ok())
        .is_some_and(|a| !a.ip().is_loopback());
    if listen_public && !keys_required(config) && !g.allow_unauthenticated {
        err(
            "server.listen".into(),
            "a non-loopback address with no key configured would let anyone use the providers' keys: add [[keys]] or [[admin.tokens]], or set `[governance] allow_unauthenticated = true` if that is intended".into(),
        );
    }
    if admin_public && config.admin.tokens.is_empty() {
        err(
            "admin.listen".into(),
            "a non-loopback admin listener needs [[admin.tokens]]".into(),
        );
    }
    if let Some(l) = &config.admin.listen
        && l.parse::<std::net::SocketAddr>().is_err()
    {
        err(
            "admin.listen".into(),
            format!("`{l}` is not an address like 127.0.0.1:9090"),
        );
    }
    if g.aggregator_interval_ms == 0 || g.aggregator_interval_ms > 1000 {
        err(
            "governance.aggregator_interval_ms".into(),
            "must be between 1 and 1000".into(),
        );
    }
    if g.end_user_header.is_empty()
        || http::HeaderName::from_bytes(g.end_user_header.as_bytes()).is_err()
    {
        err(
            "governance.end_user_header".into(),
            "not a header name".into(),
        );
    }
    let r = g.reserve;
    if !(0.0..1.0).contains(&r.critical)
        || !(0.0..1.0).contains(&r.standard)
        || r.critical + r.standard >= 1.0
    {
        err(
            "governance.reserve".into(),
            "critical and standard are shares in [0, 1) that together stay below 1".into(),
        );
    }
    if let Some(redis) = &g.redis {
        if !(redis.url.starts_with("redis://") || redis.url.starts_with("rediss://")) {
            err(
                "governance.redis.url".into(),
                "must start with redis:// or rediss://".into(),
            );
        } else if redis.url.contains('@') {
            err(
                "governance.redis.url".into(),
                "carries credentials: give `password = \"env:VAR\"` (and `username`) instead"
                    .into(),
            );
        }
        if let Some(p) = &redis.password
            && let Err(why) = super::secret::check_reference(p)
        {
            err("governance.redis.password".into(), why.into());
        }
        if redis.timeout_ms == 0 {
            err(
                "governance.redis.timeout_ms".into(),
                "must be greater than 0".into(),
            );
        }
    }
    let mut names = HashSet::new();
    for (i, t) in config.admin.tokens.iter().enumerate() {
        let at = |f: &str| format!("admin.tokens[{i}].{f}");
        if t.name.is_empty() || !names.insert(t.name.as_str()) {
            err(at("name"), "must be present and unique".into());
        }
        secret_or_hash(t.token.as_deref(), t.hash.as_deref(), "token", &at, err);
        if t.scopes.is_empty() {
            err(
                at("scopes"),
                "give at least one of read, keys, approvals".into(),
            );
        }
    }
    let models: HashSet<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    let mut teams = HashSet::new();
    for (i, t) in config.teams.iter().enumerate() {
        if t.id.is_empty() || !teams.insert(t.id.as_str()) {
            err(
                format!("teams[{i}].id"),
                "must be present and unique".into(),
            );
        }
        check_models(&t.models, &models, &format!("teams[{i}].models"), err);
        check_budgets(&t.budgets, &format!("teams[{i}].budgets"), err);
    }
    let mut users = HashSet::new();
    for (i, u) in config.end_users.iter().enumerate() {
        if u.id.is_empty() || u.id.len() > 256 || !users.insert(u.id.as_str()) {
            err(
                format!("end_users[{i}].id"),
                "must be present, unique and at most 256 bytes".into(),
            );
        }
        check_budgets(&u.budgets, &format!("end_users[{i}].budgets"), err);
    }
    for (i, k) in config.keys.iter().enumerate() {
        let at = |f: &str| format!("keys[{i}].{f}");
        secret_or_hash(k.key.as_deref(), k.hash.as_deref(), "key", &at, err);
        if let Some(team) = &k.team
            && !teams.contains(team.as_str())
        {
            err(at("team"), format!("no [[teams]] entry has id `{team}`"));
        }
        check_models(&k.models, &models, &at("models"), err);
        check_budgets(&k.budgets, &at("budgets"), err);
        if let Some(day) = &k.expires
            && crate::governance::types::parse_day(day).is_none()
        {
            err(
                at("expires"),
                format!("`{day}` is not a date like 2027-01-31"),
            );
        }
    }
}

fn secret_or_hash(
    secret: Option<&str>,
    hash: Option<&str>,
    field: &str,
    at: &dyn Fn(&str) -> String,
    err: &mut dyn FnMut(String, String),
) {
    match (secret, hash) {
        (Some(s), None) => {
            if let Err(why) = super::secret::check_reference(s) {
                err(at(field), why.into());
            }
        }
        (None, Some(h)) => {
            if parse_hash(h).is_none() {
                err(at("hash"), "must be `sha256:` and 64 hex digits".into());
            }
        }
        _ => err(
            at(field),
            format!("give exactly one of `{field}` (env: or file: reference) and `hash`"),
        ),
    }
}

fn check_models(
    listed: &[String],
    models: &std::collections::HashSet<&str>,
    path: &str,
    err: &mut dyn FnMut(String, String),
) {
    for (j, m) in listed.iter().enumerate() {
        if !models.contains(m.as_str()) {
            err(
                format!("{path}[{j}]"),
                format!("no [[models]] entry is named `{m}`"),
            );
        }
    }
}

fn check_budgets(b: &Budgets, path: &str, err: &mut dyn FnMut(String, String)) {
    for (name, v) in [
        ("daily_usd", b.daily_usd),
        ("monthly_usd", b.monthly_usd),
        ("total_usd", b.total_usd),
    ] {
        if v.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            err(
                format!("{path}.{name}"),
                "must be a non-negative amount".into(),
            );
        }
    }
}
