//! Configuration: the TOML schema, loading with path-named errors, validation,
//! and the embedded default that makes a fresh checkout serve `mock/echo`.

mod catalog;
mod context;
mod governance;
mod guards;
mod load;
mod mcp;
mod routing;
mod routing_checks;
mod schema;
mod secret;

pub use catalog::{CatalogOverride, PriceFields, TierFields};
pub use context::{ContextConfig, FitStrategyName, ModelContextConfig};
pub use governance::{
    AdminConfig, AdminScope, AdminTokenConfig, FailPolicy, GovernanceConfig, RedisConfig,
    ReserveConfig, keys_required, parse_hash,
};
pub use guards::{ApprovalMode, ApprovalsConfig, GuardsConfig, RouteGuardsConfig};
pub use load::{ConfigError, ConfigErrors, ConfigSource, load_file, load_str, resolve_source};
pub use mcp::{McpConfig, McpOAuthConfig, McpServerConfig, ResultInjection};
pub use routing::{
    BreakerConfig, ComplexityConfig, DeploymentConfig, HedgeConfig, KeyConfig, RetryConfig,
    RoutingConfig, RuleConfig, RuleMatch, SelectionStrategy,
};
pub use schema::{
    Config, DriverChoice, ModelConfig, ProbeStageConfig, ProviderConfig, ProviderKind,
    ServerConfig, TestingConfig,
};
pub use secret::Secret;

/// The committed default config, compiled in so the binary serves without any file.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/tollgate.toml");
