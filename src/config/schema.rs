//! The config file's shape. Unknown fields are errors everywhere.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::resilience::TimeoutSettings;

use super::catalog::CatalogOverride;
use super::routing::{DeploymentConfig, HedgeConfig, KeyConfig, RoutingConfig, RuleConfig};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    /// Retries, breakers, selection and complexity scoring.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// Evaluated in order per request; the first that matches decides.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Client keys (identity for rules and residency); empty = no key checks.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    /// Hooks for testing the gateway itself; nothing here is for production.
    #[serde(default)]
    pub testing: TestingConfig,
    /// Fitting requests into each target's context window (defaults).
    #[serde(default)]
    pub context: super::ContextConfig,
    /// Per-model figures over the built-in model catalog, by upstream model name.
    #[serde(default)]
    pub catalog: BTreeMap<String, CatalogOverride>,
    /// Where keys, spend and limits are kept; the Redis tier.
    #[serde(default)]
    pub governance: super::governance::GovernanceConfig,
    /// The admin API's credentials and listener.
    #[serde(default)]
    pub admin: super::governance::AdminConfig,
    /// Teams: budgets, limits and allowed models their keys share.
    #[serde(default)]
    pub teams: Vec<crate::governance::types::TeamRecord>,
    /// Budgets for end users the clients name.
    #[serde(default)]
    pub end_users: Vec<crate::governance::types::EndUserRecord>,
    /// Injection, PII, leak and tool-call guards, approvals, external checks.
    #[serde(default)]
    pub guards: super::GuardsConfig,
    /// The MCP gateway at `/mcp`: federated tool servers, sessions, OAuth.
    #[serde(default)]
    pub mcp: super::McpConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingConfig {
    /// A policy stage that exercises the request pipeline's seam.
    #[serde(default)]
    pub probe_stage: Option<ProbeStageConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeStageConfig {
    /// Rewrite every request's `temperature` to this value.
    #[serde(default)]
    pub set_temperature: Option<f64>,
    /// Refuse (403) requests that carry this header.
    #[serde(default)]
    pub refuse_header: Option<String>,
    /// Hold each streamed tool call until it is complete.
    #[serde(default)]
    pub hold_tool_calls: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverChoice {
    /// io_uring when the kernel allows it, epoll otherwise.
    Auto,
    IoUring,
    Epoll,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// 0 = one worker per available core.
    pub workers: usize,
    pub driver: DriverChoice,
    /// Whole request head (request line + headers).
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
    /// Connections one worker serves at once; past it a new one gets a 503
    /// with `retry-after` (the fd limit is the other bound).
    pub max_connections: usize,
    /// Bytes the request bodies on one worker may hold at once; a request
    /// that would go past it gets a 503 with `retry-after` before its body is read.
    pub max_body_memory_bytes: usize,
    /// From the first byte of a request to the end of its headers.
    pub header_timeout_ms: u64,
    /// Reading a request body, start to end.
    pub body_timeout_ms: u64,
    /// A keep-alive connection with no request in progress is closed after this.
    pub idle_timeout_ms: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub drain_timeout_ms: u64,
    /// Serve HTTPS with this certificate chain and key (PEM); both or neither.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Accept a config with no `[[models]]` (every request then gets 404 and
    /// `/readyz` 503); off by default, since an empty file is usually a mistake.
    pub allow_no_models: bool,
    /// Write each request's delivery record as one JSON line on stderr:
    /// ids, model, every attempt (deployment, outcome, time to first byte,
    /// usage), what served, status and timings. Never a key or a body.
    pub access_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            workers: 0,
            driver: DriverChoice::Auto,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 16 * 1024 * 1024,
            max_connections: 4096,
            max_body_memory_bytes: 128 * 1024 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            drain_timeout_ms: 30_000,
            tls_cert: None,
            tls_key: None,
            allow_no_models: false,
            access_log: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Openai,
    OpenaiCompatible,
    Azure,
    Anthropic,
    Gemini,
    /// The in-process echo model: no network, no key.
    Mock,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::OpenaiCompatible => "openai_compatible",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Mock => "mock",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    /// `env:VAR` or `file:/path`; never a literal key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Several keys, rotated when one is rate-limited or refused (429/401/403).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Streams: from sending the request to the first body byte (the first
    /// token), default 30 s. Whole answers: from the response head to the
    /// first body byte. A miss tries the next deployment.
    #[serde(default)]
    pub ttft_timeout_ms: Option<u64>,
    /// Longest silence between two body pieces once output has begun
    /// (default 30 s); mid-stream, a miss ends the stream with an error event.
    #[serde(default)]
    pub stall_timeout_ms: Option<u64>,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// A fixed cap on the wait for the response head; by default the head
    /// is bounded by the first-token or whole-answer deadline instead.
    #[serde(default)]
    pub first_byte_timeout_ms: Option<u64>,
    /// A whole (non-stream) answer's deadline is this base (default 20 s)…
    #[serde(default)]
    pub answer_timeout_ms: Option<u64>,
    /// …plus this per token the request allows (`max_tokens`, else the
    /// model's `default_max_tokens`; default 30 ms), capped by the total.
    #[serde(default)]
    pub answer_ms_per_token: Option<u64>,
    /// The whole exchange, body included (default 600 s).
    #[serde(default)]
    pub total_timeout_ms: Option<u64>,
    /// Idle upstream connections kept per core for this provider's origin.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle: usize,
    /// Client request headers (exact names, or prefixes ending in `*`) passed upstream.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Static headers added to every upstream request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Extra CA certificates (PEM) trusted for this provider, e.g. a private CA.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The header carrying the key (default per kind: `authorization` with
    /// `Bearer `, Azure `api-key`, Anthropic `x-api-key`, Gemini `x-goog-api-key`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Written before the key in `auth_header` (default `Bearer ` for `authorization`).
    #[serde(default)]
    pub auth_scheme: Option<String>,
    /// The chat path under `base_url`; `{model}` is replaced by the upstream
    /// model (Azure default: `/openai/deployments/{model}/chat/completions`).
    #[serde(default)]
    pub chat_path: Option<String>,
    /// Azure's `api-version` (required for `kind = "azure"`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// Top-level request fields removed before sending (e.g. `stream_options`).
    #[serde(default)]
    pub drop_fields: Vec<String>,
    /// Top-level request fields renamed before sending (e.g. `max_completion_tokens = "max_tokens"`).
    #[serde(default)]
    pub rename_fields: BTreeMap<String, String>,
    /// Top-level request fields always sent with this value (e.g. `enable_thinking = false`).
    #[serde(default)]
    pub set_fields: BTreeMap<String, toml::Value>,
    /// This provider endpoint's own limits (requests and tokens per minute,
    /// over every model it serves): past them its deployments are skipped.
    #[serde(default)]
    pub limits: crate::governance::types::RateLimits,
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_pool_max_idle() -> usize {
    256
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// What clients send as `model`.
    pub name: String,
    /// The single deployment's provider; or give `deployments` instead.
    #[serde(default)]
    pub provider: Option<String>,
    /// The provider's own model name; defaults to `name`.
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// `max_tokens` sent when the client set none and the provider requires
    /// one (Anthropic); default 4096.
    #[serde(default)]
    pub default_max_tokens: Option<u32>,
    /// The model takes a JSON schema natively (Anthropic `output_config`);
    /// otherwise `json_schema` is served through a forced tool.
    #[serde(default)]
    pub native_structured_output: bool,
    /// Region of the single deployment (e.g. `eu`), for residency rules.
    #[serde(default)]
    pub region: Option<String>,
    /// Price tier of the single deployment (e.g. `cheap`, `flagship`).
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Several deployments behind this name, chosen per request.
    #[serde(default)]
    pub deployments: Vec<DeploymentConfig>,
    /// Other model names tried in order when every deployment here fails.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// Race a second deployment when the first is slow to produce output.
    #[serde(default)]
    pub hedge: Option<HedgeConfig>,
    /// The provider's timeouts, overridden for this model's deployments.
    #[serde(default)]
    pub ttft_timeout_ms: Option<u64>,
    #[serde(default)]
    pub stall_timeout_ms: Option<u64>,
    #[serde(default)]
    pub first_byte_timeout_ms: Option<u64>,
    #[serde(default)]
    pub answer_timeout_ms: Option<u64>,
    #[serde(default)]
    pub answer_ms_per_token: Option<u64>,
    #[serde(default)]
    pub total_timeout_ms: Option<u64>,
    /// This model's context fitting, over `[context]`.
    #[serde(default)]
    pub context: Option<super::ModelContextConfig>,
    /// Requests and tokens per minute over every client of this model.
    #[serde(default)]
    pub limits: crate::governance::types::RateLimits,
    /// This route's guards: its tool policy, and whether answers are sanitized.
    #[serde(default)]
    pub guards: super::RouteGuardsConfig,
}

/// The timeout fields that providers and models share, as one value.
macro_rules! timeout_settings {
    ($t:ty) => {
        impl $t {
            pub fn timeout_settings(&self) -> TimeoutSettings {
                TimeoutSettings {
                    first_byte_ms: self.first_byte_timeout_ms,
                    ttft_ms: self.ttft_timeout_ms,
                    stall_ms: self.stall_timeout_ms,
                    answer_ms: self.answer_timeout_ms,
                    answer_ms_per_token: self.answer_ms_per_token,
                    total_ms: self.total_timeout_ms,
                }
            }
        }
    };
}
timeout_settings!(ProviderConfig);
timeout_settings!(ModelConfig);

/// Every timeout setting but the per-token allowance must be above zero.
pub fn zero_timeouts(s: &TimeoutSettings) -> impl Iterator<Item = &'static str> {
    [
        ("first_byte_timeout_ms", s.first_byte_ms),
        ("ttft_timeout_ms", s.ttft_ms),
        ("stall_timeout_ms", s.stall_ms),
        ("answer_timeout_ms", s.answer_ms),
        ("total_timeout_ms", s.total_ms),
    ]
    .into_iter()
    .filter(|(_, v)| *v == Some(0))
    .map(|(name, _)| name)
}
