//! The records governance keeps: keys, teams, end users, the spend ledger
//! and the admin audit trail. Shared by the embedded store, the Redis tier
//! and the gateway; they carry no behaviour beyond naming and encoding.
//!
//! Money is integer nano-USD (`1e-9` USD): catalog prices are USD per
//! million tokens, so one token at `$p/M` costs `p * 1000` nanos, exact for
//! every price in the catalog, and budgets fit the per-core buckets' `i64`.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Nano-USD per USD.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

pub fn usd_to_nanos(usd: f64) -> i64 {
    (usd * NANOS_PER_USD as f64).round() as i64
}

pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

/// Which traffic may use the last of a limit: batch traffic stops first,
/// critical traffic last.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Batch,
    #[default]
    Standard,
    Critical,
}

impl Priority {
    pub fn name(self) -> &'static str {
        match self {
            Priority::Batch => "batch",
            Priority::Standard => "standard",
            Priority::Critical => "critical",
        }
    }

    pub fn from_name(s: &str) -> Option<Priority> {
        match s {
            "batch" => Some(Priority::Batch),
            "standard" => Some(Priority::Standard),
            "critical" => Some(Priority::Critical),
            _ => None,
        }
    }
}

/// Requests and tokens per minute; `None` = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
}

impl RateLimits {
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none()
    }
}

/// Budgets in USD per UTC day, per UTC calendar month, and in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_usd: Option<f64>,
}

impl Budgets {
    pub fn is_empty(&self) -> bool {
        self.daily_usd.is_none() && self.monthly_usd.is_none() && self.total_usd.is_none()
    }
}

/// The period a budget counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
    Total,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Day, Period::Month, Period::Total];

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    /// The period's id containing `day` (days since the Unix epoch, UTC):
    /// `2026-12-02`, `2026-12`, or `total`.
    pub fn id(self, day: i64) -> String {
        let (y, m, d) = civil_from_days(day);
        match self {
            Period::Day => format!("{y:04}-{m:02}-{d:02}"),
            Period::Month => format!("{y:04}-{m:02}"),
            Period::Total => "total".to_owned(),
        }
    }

    /// The first day (since the epoch) of the period containing `day`.
    pub fn start(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
            Period::Total => i64::MIN / 4,
        }
    }

    /// The first day after the period containing `day` (`None` for total).
    pub fn end(self, day: i64) -> Option<i64> {
        match self {
            Period::Day => Some(day + 1),
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Some(days_from_civil(y, m, 1))
            }
            Period::Total => None,
        }
    }

    pub fn limit(self, b: &Budgets) -> Option<f64> {
        match self {
            Period::Day => b.daily_usd,
            Period::Month => b.monthly_usd,
            Period::Total => b.total_usd,
        }
    }
}

/// `(year, month, day)` of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d))
}

/// Where a key came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// `[[keys]]` in the config file (not stored; re-read on reload).
    Config,
    /// Created through the admin API (stored; survives restarts).
    #[default]
    Admin,
}

/// A gateway key. The secret itself is never kept: only its SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Public id, named in logs, the ledger and the admin API.
    pub id: String,
    /// Lower-case hex SHA-256 of the secret.
    pub hash: String,
    /// The secret's first characters (`tg-AbC1…`), to recognise it by.
    #[serde(default)]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Models this key may use (client-facing names); empty = every model.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub limits: RateLimits,
    #[serde(default)]
    pub budgets: Budgets,
    #[serde(default)]
    pub priority: Priority,
    /// May choose its priority per request with `x-tollgate-priority`
    /// (never above `priority`).
    #[serde(default)]
    pub allow_priority_header: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// May lower its deadlines with `x-tollgate-timeout-ms`.
    #[serde(default)]
    pub allow_timeout_header: bool,
    /// Unix seconds after which the key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The `[guards.tool_policies.<name>]` its requests' tools answer to
    /// (before its team's and the route's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_policy: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// The admin token that created it, or `config`.
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub source: KeySource,
}

/// A team: budgets and limits its keys share.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRecord {
    pub id: String,
    #[serde(default)]
    pub limits: RateLimits,
    #[serde(default)]
    pub budgets: Budgets,
    /// Models the team's keys may use; empty = every model.
    #[serde(default)]
    pub models: Vec<String>,
    /// The tool policy its keys' requests answer to, unless a key names its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_policy: Option<String>,
}

/// Budgets for one end user (the client's `user` / `metadata.user_id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUserRecord {
    pub id: String,
    #[serde(default)]
    pub budgets: Budgets,
}

/// One request's line in the spend ledger. Tokens are summed over every
/// attempt that produced tokens; `provider_nanos` is what the providers
/// will bill for all of them, `charge_nanos` what the key is charged,
/// `gateway_nanos` what the gateway bears (hedge losers, unless the route
/// charges them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    /// Unix milliseconds when the request ended.
    pub ts_ms: u64,
    pub request_id: String,
    /// Shared with the key's snapshot: a batch's rows hold the same few.
    pub key_id: Option<Arc<str>>,
    pub team: Option<Arc<str>>,
    pub end_user: Option<String>,
    /// The model the client asked for (shared with its route's name).
    pub model: Arc<str>,
    /// `provider/upstream_model` that served, when one did (the
    /// deployment's own label, shared).
    pub served_by: Option<Arc<str>>,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub provider_nanos: i64,
    pub charge_nanos: i64,
    pub gateway_nanos: i64,
    /// False when a price the tokens needed is missing from the catalog.
    pub priced: bool,
}

/// Equal strings; the same one (a key's id, which its rows share) without
/// reading it.
pub fn same_str(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
        (None, None) => true,
        _ => false,
    }
}

impl LedgerRow {
    /// The UTC day (since the epoch) the row counts in.
    pub fn day(&self) -> i64 {
        (self.ts_ms / 86_400_000) as i64
    }
}

/// The dimensions spend is rolled up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Key,
    Team,
    EndUser,
    Model,
    /// Everything, one row per day.
    Day,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Key,
        Dimension::Team,
        Dimension::EndUser,
        Dimension::Model,
        Dimension::Day,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Key => "key",
            Dimension::Team => "team",
            Dimension::EndUser => "end_user",
            Dimension::Model => "model",
            Dimension::Day => "day",
        }
    }

    pub fn from_name(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.name() == s)
    }

    /// The row's id in this dimension (`None`: the row has none, e.g. no team).
    pub fn of(self, row: &LedgerRow) -> Option<String> {
        match self {
            Dimension::Key => row.key_id.as_deref().map(str::to_owned),
            Dimension::Team => row.team.as_deref().map(str::to_owned),
            Dimension::EndUser => row.end_user.clone(),
            Dimension::Model => Some(String::from(&*row.model)),
            Dimension::Day => Some(Period::Day.id(row.day())),
        }
    }
}

/// One rolled-up line: a dimension's id on one day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    pub id: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub provider_nanos: i64,
    pub charge_nanos: i64,
    pub gateway_nanos: i64,
}

/// One admin action, recorded with the token that made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub ts_ms: u64,
    /// The admin token's name.
    pub actor: String,
    /// `key.create`, `key.rotate`, `key.revoke`, …
    pub action: String,
    /// The object acted on (a key id, a team id).
    pub target: String,
    /// What changed, never a secret.
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for day in [-1, 0, 59, 365, 11_016, 20_789, 20_818, 40_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(Period::Day.id(20_424), "2025-12-02");
        assert_eq!(parse_day("2026-12-02"), Some(20_789));
        assert_eq!(Period::Month.id(20_789), "2026-12");
        assert_eq!(Period::Month.end(20_789), Some(days_from_civil(2027, 1, 1)));
        assert_eq!(Period::Month.start(20_789), days_from_civil(2026, 12, 1));
    }

    #[test]
    fn money_is_integer_nanos() {
        assert_eq!(usd_to_nanos(0.5), 500_000_000);
        assert_eq!(nanos_to_usd(1_500_000_000), 1.5);
    }
}
