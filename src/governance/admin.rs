//! The admin API (`/admin/*`) and a key holder's own view (`/key/info`).
//! Admin requests carry an admin token (`Authorization: Bearer`), named and
//! scoped in `[[admin.tokens]]`: `read` sees, `keys` changes keys, teams and
//! end users, `approvals` decides tool-call approvals and nothing else.
//! Every change is stored, published to every core at once, and recorded in
//! the audit trail under the token's name. Secrets are shown once, when a
//! key is created or rotated, and never stored.

use serde::{Deserialize, Serialize};

use super::keys::{Digest, constant_time_eq, digest_of, mint, new_id, prefix_of};
use super::runtime::{self, Runtime};
use super::state::GovSnapshot;
use super::types::{
    AuditEntry, Budgets, Dimension, EndUserRecord, KeyRecord, KeySource, Period, Priority,
    RateLimits, SpendRow, TeamRecord, nanos_to_usd, parse_day,
};
use crate::config::AdminScope;

/// An answer: status and JSON body.
pub type Answer = (u16, Vec<u8>);

/// A configured admin token: its name, digest and scopes.
#[derive(Debug, Clone)]
pub struct AdminToken {
    pub name: String,
    pub digest: Digest,
    pub scopes: Vec<AdminScope>,
}

/// An error in the OpenAI shape every gateway error has.
fn error(status: u16, code: &str, message: &str) -> Answer {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        503 => "service_unavailable_error",
        _ => "invalid_request_error",
    };
    (
        status,
        crate::api::ApiError::coded(status, kind, code, message).to_json(),
    )
}

fn json<T: Serialize>(status: u16, value: &T) -> Answer {
    match simd_json::serde::to_vec(value) {
        Ok(body) => (status, body),
        Err(_) => error(500, "internal_error", "The answer could not be written."),
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a mut [u8]) -> Result<T, Answer> {
    if body.is_empty() {
        return Err(error(400, "invalid_json", "The request needs a JSON body."));
    }
    simd_json::serde::from_slice(body).map_err(|e| {
        error(
            400,
            "invalid_json",
            &format!("The body is not what this route takes: {e}"),
        )
    })
}

/// Which admin token a request presents, if any.
fn admin_of<'t>(tokens: &'t [AdminToken], presented: Option<&[u8]>) -> Option<&'t AdminToken> {
    let d = digest_of(presented?);
    tokens.iter().find(|t| constant_time_eq(&t.digest, &d))
}

/// Serves one `/admin/*` request.
pub fn handle(
    method: &str,
    path: &str,
    query: Option<&str>,
    presented: Option<&[u8]>,
    body: &mut [u8],
) -> Answer {
    let Some(rt) = runtime::get() else {
        return error(503, "governance_off", "Governance is not running.");
    };
    let tokens = rt.admin_tokens();
    let Some(token) = admin_of(&tokens, presented) else {
        return error(
            401,
            "invalid_admin_token",
            "Missing or unknown admin token. Send `Authorization: Bearer <admin token>`.",
        );
    };
    let need = if method == "GET" {
        AdminScope::Read
    } else {
        AdminScope::Keys
    };
    let route: Vec<&str> = path.trim_start_matches("/admin/").split('/').collect();
    let need = if route.first() == Some(&"approvals") {
        AdminScope::Approvals
    } else {
        need
    };
    if !token.scopes.contains(&need) {
        return error(
            403,
            "insufficient_scope",
            &format!(
                "The admin token `{}` lacks the `{}` scope this needs.",
                token.name,
                need.name()
            ),
        );
    }
    let actor = token.name.as_str();
    match (method, route.as_slice()) {
        ("GET", ["keys"]) => list_keys(rt),
        ("POST", ["keys"]) => create_key(rt, actor, body),
        ("GET", ["keys", id]) => get_key(rt, id),
        ("PATCH", ["keys", id]) | ("POST", ["keys", id]) => update_key(rt, actor, id, body),
        ("POST", ["keys", id, "rotate"]) => rotate_key(rt, actor, id),
        ("POST", ["keys", id, "revoke"]) | ("DELETE", ["keys", id]) => revoke_key(rt, actor, id),
        ("GET", ["teams"]) => json(
            200,
            &Listed {
                data: rt.records().teams,
            },
        ),
        ("POST", ["teams"]) => put_team(rt, actor, body),
        ("DELETE", ["teams", id]) => delete(rt, actor, "team", id),
        ("GET", ["end_users"]) => json(
            200,
            &Listed {
                data: rt.records().end_users,
            },
        ),
        ("POST", ["end_users"]) => put_end_user(rt, actor, body),
        ("DELETE", ["end_users", id]) => delete(rt, actor, "end_user", id),
        ("GET", ["spend"]) => spend(rt, query),
        ("GET", ["audit"]) => audit(rt, query),
        ("GET", ["limits"]) => limits(),
        (_, ["approvals", rest @ ..]) => crate::guard::approvals::routes::serve(
            crate::guard::approvals::book(),
            method,
            rest,
            query,
            actor,
            body,
            &mut |action, target, detail| rt.audit(actor, action, target, detail),
        ),
        _ => error(
            404,
            "not_found",
            &format!("No admin route {method} {path}."),
        ),
    }
}

#[derive(Serialize)]
struct Listed<T> {
    data: Vec<T>,
}

/// A key as the admin API shows it: never its hash or secret.
#[derive(Serialize)]
struct KeyView<'a> {
    id: &'a str,
    prefix: &'a str,
    name: Option<&'a str>,
    team: Option<&'a str>,
    models: &'a [String],
    limits: RateLimits,
    budgets: Budgets,
    priority: Priority,
    allow_priority_header: bool,
    region: Option<&'a str>,
    tags: &'a [String],
    expires_at: Option<u64>,
    tool_policy: Option<&'a str>,
    created_at: u64,
    created_by: &'a str,
    revoked_at: Option<u64>,
    source: KeySource,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

fn view<'a>(k: &'a KeyRecord, secret: Option<&'a str>) -> KeyView<'a> {
    KeyView {
        id: &k.id,
        prefix: &k.prefix,
        name: k.name.as_deref(),
        team: k.team.as_deref(),
        models: &k.models,
        limits: k.limits,
        budgets: k.budgets,
        priority: k.priority,
        allow_priority_header: k.allow_priority_header,
        region: k.region.as_deref(),
        tags: &k.tags,
        expires_at: k.expires_at,
        tool_policy: k.tool_policy.as_deref(),
        created_at: k.created_at,
        created_by: &k.created_by,
        revoked_at: k.revoked_at,
        source: k.source,
        key: secret,
    }
}

fn all_keys(rt: &Runtime) -> Vec<KeyRecord> {
    let mut keys = super::keys::from_config(&rt.config());
    let stored = rt.records().keys;
    keys.extend(stored.into_iter().filter(|s| s.source != KeySource::Config));
    keys
}

fn list_keys(rt: &Runtime) -> Answer {
    let keys = all_keys(rt);
    json(
        200,
        &Listed {
            data: keys.iter().map(|k| view(k, None)).collect(),
        },
    )
}

fn get_key(rt: &Runtime, id: &str) -> Answer {
    match all_keys(rt).iter().find(|k| k.id == id) {
        Some(k) => json(200, &view(k, None)),
        None => error(404, "key_not_found", &format!("No key `{id}`.")),
    }
}

/// What a key is created or updated with.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct KeyFields {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    models: Option<Vec<String>>,
    #[serde(default)]
    limits: Option<RateLimits>,
    #[serde(default)]
    budgets: Option<Budgets>,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    allow_priority_header: Option<bool>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    allow_timeout_header: Option<bool>,
    /// `YYYY-MM-DD` (UTC), or Unix seconds in `expires_at`.
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    tool_policy: Option<String>,
}

impl KeyFields {
    fn apply(self, k: &mut KeyRecord) -> Result<(), Answer> {
        if let Some(v) = self.name {
            k.name = Some(v);
        }
        if let Some(v) = self.team {
            k.team = Some(v).filter(|t| !t.is_empty());
        }
        if let Some(v) = self.models {
            k.models = v;
        }
        if let Some(v) = self.limits {
            k.limits = v;
        }
        if let Some(v) = self.budgets {
            k.budgets = v;
        }
        if let Some(v) = self.priority {
            k.priority = v;
        }
        if let Some(v) = self.allow_priority_header {
            k.allow_priority_header = v;
        }
        if let Some(v) = self.region {
            k.region = Some(v).filter(|r| !r.is_empty());
        }
        if let Some(v) = self.tags {
            k.tags = v;
        }
        if let Some(v) = self.allow_timeout_header {
            k.allow_timeout_header = v;
        }
        if let Some(day) = self.expires {
            let Some(d) = parse_day(&day) else {
                return Err(error(
                    400,
                    "invalid_expires",
                    "`expires` must be a date like 2027-01-31.",
                ));
            };
            k.expires_at = Some((d * 86_400) as u64);
        }
        if let Some(at) = self.expires_at {
            k.expires_at = Some(at);
        }
        if let Some(p) = self.tool_policy {
            k.tool_policy = Some(p).filter(|p| !p.is_empty());
        }
        Ok(())
    }
}

fn check_key(rt: &Runtime, k: &KeyRecord) -> Result<(), Answer> {
    let config = rt.config();
    let records = rt.records();
    if let Some(team) = &k.team
        && !config.teams.iter().any(|t| &t.id == team)
        && !records.teams.iter().any(|t| &t.id == team)
    {
        return Err(error(400, "unknown_team", &format!("No team `{team}`.")));
    }
    for m in &k.models {
        if !config.models.iter().any(|c| &c.name == m) {
            return Err(error(
                400,
                "unknown_model",
                &format!("No model `{m}` is configured."),
            ));
        }
    }
    let b = k.budgets;
    if [b.daily_usd, b.monthly_usd, b.total_usd]
        .into_iter()
        .flatten()
        .any(|v| !(v.is_finite() && v >= 0.0))
    {
        return Err(error(
            400,
            "invalid_budget",
            "Budgets are non-negative amounts in USD.",
        ));
    }
    if k.id.is_empty()
        || k.id.len() > 128
        || !k
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(error(
            400,
            "invalid_id",
            "A key id is 1 to 128 characters of A-Z a-z 0-9 - _ .",
        ));
    }
    Ok(())
}

fn create_key(rt: &Runtime, actor: &str, body: &mut [u8]) -> Answer {
    let fields: KeyFields = match parse(body) {
        Ok(f) => f,
        Err(a) => return a,
    };
    let id = fields.id.clone().unwrap_or_else(new_id);
    if all_keys(rt).iter().any(|k| k.id == id) {
        return error(409, "key_exists", &format!("A key `{id}` exists already."));
    }
    let (secret, hash) = mint();
    let mut k = KeyRecord {
        id,
        hash,
        prefix: prefix_of(&secret),
        name: None,
        team: None,
        models: Vec::new(),
        limits: RateLimits::default(),
        budgets: Budgets::default(),
        priority: Priority::Standard,
        allow_priority_header: false,
        region: None,
        tags: Vec::new(),
        allow_timeout_header: false,
        expires_at: None,
        tool_policy: None,
        created_at: crate::resilience::unix_secs(),
        revoked_at: None,
        created_by: actor.to_owned(),
        source: KeySource::Admin,
    };
    if let Err(a) = fields.apply(&mut k).and_then(|_| check_key(rt, &k)) {
        return a;
    }
    if let Err(e) = rt.put_key(&k, actor, "key.create") {
        return error(503, "store_unavailable", &e);
    }
    json(201, &view(&k, Some(&secret)))
}

fn stored_key(rt: &Runtime, id: &str) -> Result<KeyRecord, Answer> {
    if rt.config().keys.iter().any(|k| k.id == id) {
        return Err(error(
            409,
            "config_key",
            &format!("Key `{id}` is declared in the config file: change it there."),
        ));
    }
    rt.records()
        .keys
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| error(404, "key_not_found", &format!("No key `{id}`.")))
}

fn update_key(rt: &Runtime, actor: &str, id: &str, body: &mut [u8]) -> Answer {
    let mut k = match stored_key(rt, id) {
        Ok(k) => k,
        Err(a) => return a,
    };
    let fields: KeyFields = match parse(body) {
        Ok(f) => f,
        Err(a) => return a,
    };
    if fields.id.as_deref().is_some_and(|new| new != id) {
        return error(400, "invalid_id", "A key's id cannot change.");
    }
    if let Err(a) = fields.apply(&mut k).and_then(|_| check_key(rt, &k)) {
        return a;
    }
    if let Err(e) = rt.put_key(&k, actor, "key.update") {
        return error(503, "store_unavailable", &e);
    }
    json(200, &view(&k, None))
}

fn rotate_key(rt: &Runtime, actor: &str, id: &str) -> Answer {
    let mut k = match stored_key(rt, id) {
        Ok(k) => k,
        Err(a) => return a,
    };
    if k.revoked_at.is_some() {
        return error(409, "key_revoked", &format!("Key `{id}` is revoked."));
    }
    let (secret, hash) = mint();
    k.hash = hash;
    k.prefix = prefix_of(&secret);
    if let Err(e) = rt.put_key(&k, actor, "key.rotate") {
        return error(503, "store_unavailable", &e);
    }
    json(200, &view(&k, Some(&secret)))
}

fn revoke_key(rt: &Runtime, actor: &str, id: &str) -> Answer {
    let mut k = match stored_key(rt, id) {
        Ok(k) => k,
        Err(a) => return a,
    };
    if k.revoked_at.is_none() {
        k.revoked_at = Some(crate::resilience::unix_secs());
        if let Err(e) = rt.put_key(&k, actor, "key.revoke") {
            return error(503, "store_unavailable", &e);
        }
    }
    json(200, &view(&k, None))
}

fn put_team(rt: &Runtime, actor: &str, body: &mut [u8]) -> Answer {
    let t: TeamRecord = match parse(body) {
        Ok(t) => t,
        Err(a) => return a,
    };
    if t.id.is_empty() || t.id.len() > 128 {
        return error(400, "invalid_id", "A team id is 1 to 128 bytes.");
    }
    if let Err(e) = rt.put_team(&t, actor) {
        return error(503, "store_unavailable", &e);
    }
    json(200, &t)
}

fn put_end_user(rt: &Runtime, actor: &str, body: &mut [u8]) -> Answer {
    let u: EndUserRecord = match parse(body) {
        Ok(u) => u,
        Err(a) => return a,
    };
    if u.id.is_empty() || u.id.len() > 256 {
        return error(400, "invalid_id", "An end-user id is 1 to 256 bytes.");
    }
    if let Err(e) = rt.put_end_user(&u, actor) {
        return error(503, "store_unavailable", &e);
    }
    json(200, &u)
}

fn delete(rt: &Runtime, actor: &str, what: &str, id: &str) -> Answer {
    match rt.delete_record(what, id, actor) {
        Ok(true) => json(200, &Deleted { id, deleted: true }),
        Ok(false) => error(
            404,
            "not_found",
            &format!("No {what} `{id}` (config-declared ones are changed in the config)."),
        ),
        Err(e) => error(503, "store_unavailable", &e),
    }
}

#[derive(Serialize)]
struct Deleted<'a> {
    id: &'a str,
    deleted: bool,
}

fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[derive(Serialize)]
struct SpendView {
    by: &'static str,
    from: String,
    to: String,
    data: Vec<SpendLine>,
}

#[derive(Serialize)]
struct SpendLine {
    id: String,
    day: String,
    requests: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    provider_cost_usd: f64,
    charge_usd: f64,
    gateway_cost_usd: f64,
}

impl From<SpendRow> for SpendLine {
    fn from(r: SpendRow) -> Self {
        SpendLine {
            id: r.id,
            day: r.day,
            requests: r.requests,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            provider_cost_usd: nanos_to_usd(r.provider_nanos),
            charge_usd: nanos_to_usd(r.charge_nanos),
            gateway_cost_usd: nanos_to_usd(r.gateway_nanos),
        }
    }
}

fn today() -> i64 {
    (crate::resilience::unix_secs() / 86_400) as i64
}

fn spend(rt: &Runtime, query: Option<&str>) -> Answer {
    let by = query_value(query, "by").unwrap_or("key");
    let Some(dim) = Dimension::from_name(by) else {
        return error(
            400,
            "invalid_dimension",
            "`by` is one of key, team, end_user, model, day.",
        );
    };
    let day = |name: &str, default: i64| match query_value(query, name) {
        None => Ok(default),
        Some(v) => parse_day(v).ok_or_else(|| {
            error(
                400,
                "invalid_day",
                &format!("`{name}` must be a date like 2026-12-01."),
            )
        }),
    };
    let (from, to) = match (day("from", today() - 30), day("to", today())) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let id = query_value(query, "id");
    match rt.spend(dim, id, from, to) {
        Ok(rows) => json(
            200,
            &SpendView {
                by: dim.name(),
                from: Period::Day.id(from),
                to: Period::Day.id(to),
                data: rows.into_iter().map(SpendLine::from).collect(),
            },
        ),
        Err(e) => error(503, "store_unavailable", &e),
    }
}

fn audit(rt: &Runtime, query: Option<&str>) -> Answer {
    let limit = query_value(query, "limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize)
        .min(10_000);
    match rt.audit_log(limit) {
        Ok(entries) => json(200, &Listed::<AuditEntry> { data: entries }),
        Err(e) => error(503, "store_unavailable", &e),
    }
}

#[derive(Serialize)]
struct LimitView {
    id: String,
    limit: i64,
    remaining: i64,
    reset_ms: u64,
}

fn limits() -> Answer {
    let Some(gov) = super::state::shared() else {
        return json(200, &Listed::<LimitView> { data: Vec::new() });
    };
    let data = gov
        .buckets
        .iter()
        .map(|b| {
            let s = b.status();
            LimitView {
                id: b.spec_id().to_owned(),
                limit: s.limit,
                remaining: s.remaining,
                reset_ms: s.reset_ms,
            }
        })
        .collect();
    json(200, &Listed { data })
}

/// `/key/info`: what the presenting key may do, has spent and has left.
pub fn key_info(gov: &GovSnapshot, key: Option<&super::state::Key>) -> Answer {
    let Some(key) = key else {
        return error(400, "no_key", "No keys are configured on this gateway.");
    };
    #[derive(Serialize)]
    struct Budget {
        period: &'static str,
        limit_usd: f64,
        remaining_usd: f64,
        reset_ms: u64,
    }
    #[derive(Serialize)]
    struct Rate {
        limit: i64,
        remaining: i64,
        reset_ms: u64,
    }
    #[derive(Serialize)]
    struct Spent {
        day_usd: f64,
        month_usd: f64,
        total_usd: f64,
    }
    #[derive(Serialize)]
    struct Info<'a> {
        key: KeyView<'a>,
        rpm: Option<Rate>,
        tpm: Option<Rate>,
        budgets: Vec<Budget>,
        team_budgets: Vec<Budget>,
        spend: Option<Spent>,
    }
    let rate = |i: Option<u32>| {
        i.map(|i| {
            let s = gov.bucket(i).status();
            Rate {
                limit: s.limit,
                remaining: s.remaining,
                reset_ms: s.reset_ms,
            }
        })
    };
    let budgets = |b: &super::state::BudgetBuckets| {
        b.0.iter()
            .zip(Period::ALL)
            .filter_map(|(i, p)| {
                let s = gov.bucket((*i)?).status();
                Some(Budget {
                    period: p.name(),
                    limit_usd: nanos_to_usd(s.limit),
                    remaining_usd: nanos_to_usd(s.remaining.max(0)),
                    reset_ms: s.reset_ms,
                })
            })
            .collect::<Vec<_>>()
    };
    let spend = runtime::get().and_then(|rt| {
        let day = today();
        let get = |p: Period| {
            rt.charged(Dimension::Key, &key.id, p, day)
                .map(nanos_to_usd)
        };
        Some(Spent {
            day_usd: get(Period::Day).ok()?,
            month_usd: get(Period::Month).ok()?,
            total_usd: get(Period::Total).ok()?,
        })
    });
    json(
        200,
        &Info {
            key: view(&key.record, None),
            rpm: rate(key.rates.rpm),
            tpm: rate(key.rates.tpm),
            budgets: budgets(&key.budgets),
            team_budgets: gov
                .team_of(key)
                .map(|t| budgets(&t.budgets))
                .unwrap_or_default(),
            spend,
        },
    )
}
