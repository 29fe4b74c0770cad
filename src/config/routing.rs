//! The routing and resilience parts of the config: deployments behind a
//! model name, fallbacks, hedging, retries, breakers, selection, complexity
//! scoring, rules and client keys.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    pub provider: String,
    /// Defaults to the model's name.
    #[serde(default)]
    pub upstream_model: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Relative share of traffic among healthy deployments.
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HedgeConfig {
    /// Send the hedge after this long without output; when absent, after the
    /// first deployment's observed p95 time to first token.
    #[serde(default)]
    pub after_ms: Option<u64>,
    /// Hedges never fire sooner than this, whatever the p95 says.
    #[serde(default = "default_hedge_floor_ms")]
    pub min_after_ms: u64,
    /// Cap on extra cost: at most this many hedge attempts per request.
    #[serde(default = "one")]
    pub max_extra: u32,
    /// Charge what a losing hedge cost to the key; otherwise the gateway
    /// bears it (its own column in the spend ledger).
    #[serde(default)]
    pub charge_losers: bool,
}

fn default_hedge_floor_ms() -> u64 {
    50
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SelectionStrategy {
    /// Weighted random among healthy deployments.
    #[default]
    Weighted,
    /// Power of two choices over each core's EWMA of time to first byte.
    Latency,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    pub selection: SelectionStrategy,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    pub complexity: ComplexityConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per request across deployments and fallbacks, first included.
    pub max_attempts: u32,
    /// Full-jitter exponential backoff: random in [0, min(max, base·2^n)].
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// A `Retry-After` longer than this is not waited for: the next target is tried.
    pub max_retry_after_ms: u64,
    /// A whole (non-stream) answer is read up to this size before anything
    /// reaches the client, so a cut one can still be retried or fall back;
    /// a larger one is relayed as it comes once this much has arrived.
    pub hold_answer_bytes: usize,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_backoff_ms: 50,
            max_backoff_ms: 2_000,
            max_retry_after_ms: 10_000,
            hold_answer_bytes: 4 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub enabled: bool,
    /// Sliding window the error rate is measured over.
    pub window_ms: u64,
    /// Open at or above this error fraction…
    pub error_rate: f64,
    /// …once the window holds at least this many requests.
    pub min_requests: u32,
    /// How long an open breaker stays open before probing.
    pub open_ms: u64,
    /// Probes let through while half-open; all must succeed to close.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_ms: 30_000,
            error_rate: 0.5,
            min_requests: 10,
            open_ms: 15_000,
            half_open_probes: 3,
        }
    }
}

/// A request's complexity score in [0, 1]: the weighted sum of its signals,
/// capped at 1. Rules compare it against thresholds.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ComplexityConfig {
    /// Prompt size (characters) that counts as fully long.
    pub long_prompt_chars: u64,
    pub prompt_weight: f64,
    pub tools_weight: f64,
    pub reasoning_weight: f64,
    pub keyword_weight: f64,
    /// Words that mark a hard request (matched case-insensitively in user text).
    pub keywords: Vec<String>,
}

impl Default for ComplexityConfig {
    fn default() -> Self {
        Self {
            long_prompt_chars: 8_000,
            prompt_weight: 0.4,
            tools_weight: 0.2,
            reasoning_weight: 0.3,
            keyword_weight: 0.3,
            keywords: [
                "prove",
                "analyze",
                "analyse",
                "step by step",
                "refactor",
                "architecture",
                "debug",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    #[serde(default, rename = "match")]
    pub when: RuleMatch,
    /// Serve the request with this model instead of the one asked for.
    #[serde(default)]
    pub route_to: Option<String>,
    /// Only deployments in this region may serve it (fallbacks included).
    #[serde(default)]
    pub region: Option<String>,
    /// Only deployments of this tier may serve it.
    #[serde(default)]
    pub tier: Option<String>,
}

/// Every condition given must hold; an empty match matches all requests.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// The requested model is one of these.
    #[serde(default)]
    pub models: Vec<String>,
    /// The request carries all of these tags (`x-tollgate-tags` or `metadata.tags`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The client key is one of these ids.
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub min_complexity: Option<f64>,
    #[serde(default)]
    pub max_complexity: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Named in rules and logs; never the secret itself.
    pub id: String,
    /// `env:VAR` or `file:/path`, like provider keys; or give `hash`.
    #[serde(default)]
    pub key: Option<String>,
    /// `sha256:<hex>` of the key, so the config need not hold it at all.
    #[serde(default)]
    pub hash: Option<String>,
    /// Requests with this key only ever reach deployments in this region.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// May lower its requests' deadlines with `x-tollgate-timeout-ms`
    /// (otherwise the header is ignored).
    #[serde(default)]
    pub allow_timeout_header: bool,
    #[serde(default)]
    pub team: Option<String>,
    /// Models this key may use (client-facing names); empty = every model.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub limits: crate::governance::types::RateLimits,
    #[serde(default)]
    pub budgets: crate::governance::types::Budgets,
    #[serde(default)]
    pub priority: crate::governance::types::Priority,
    /// May pick a lower priority per request with `x-tollgate-priority`.
    #[serde(default)]
    pub allow_priority_header: bool,
    /// `YYYY-MM-DD` (UTC): refused from that day on.
    #[serde(default)]
    pub expires: Option<String>,
    /// The `[guards.tool_policies.<name>]` this key's requests answer to.
    #[serde(default)]
    pub tool_policy: Option<String>,
}
