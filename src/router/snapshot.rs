//! One immutable view of the routing config: providers, the model catalog
//! (deployments behind each public name, pinned versions, fallbacks, hedge
//! settings), rules and client keys — swapped whole on reload.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::provider::{Provider, ProviderState, build_provider};
use crate::api::error::push_json_str;
use crate::config::{Config, HedgeConfig};

/// One way to serve a model: a provider, its name for the model, and the
/// attributes rules and selection look at.
#[derive(Debug)]
pub struct Deployment {
    /// Dense index across the snapshot, for per-core health arrays.
    pub index: usize,
    pub provider: Arc<Provider>,
    pub upstream_model: String,
    pub region: Option<String>,
    pub weight: u32,
    pub tier: Option<String>,
    pub tags: Vec<String>,
    pub default_max_tokens: u32,
    pub native_structured_output: bool,
    /// The provider's timeouts with this model's settings over them.
    pub timeouts: crate::resilience::Timeouts,
    /// Request targets (path and query), rendered once: whole and streamed.
    pub target_whole: String,
    pub target_stream: String,
    /// `provider/upstream_model`, as records and headers name it.
    pub label: Arc<str>,
    /// The catalog's figures for the upstream model (window, tokenizer,
    /// prices); `None` for a model the catalog does not know: no fitting.
    pub spec: Option<Arc<crate::context_window::catalog::ModelSpec>>,
    /// How requests are fitted into this deployment's window (its model's
    /// `context` over `[context]`).
    pub fit: Arc<crate::config::ContextConfig>,
}

impl Deployment {
    pub fn chat_target(&self, stream: bool) -> &str {
        if stream {
            &self.target_stream
        } else {
            &self.target_whole
        }
    }

    /// The breaker and latency key: stable across reloads.
    pub fn health_key(&self) -> (String, String) {
        (self.provider.name.clone(), self.upstream_model.clone())
    }

    pub fn is_enabled(&self) -> bool {
        self.provider.state == ProviderState::Enabled
    }
}

/// A public model name and everything behind it.
#[derive(Debug)]
pub struct ModelRoute {
    /// Shared: each request's ledger row holds it without a copy.
    pub name: Arc<str>,
    pub deployments: Vec<Arc<Deployment>>,
    pub fallbacks: Vec<String>,
    pub hedge: Option<HedgeConfig>,
    /// A pinned version (`gpt-4o-2024-08-06`): only deployments of exactly
    /// that upstream model serve it.
    pub pinned: bool,
    /// The route's own guards (`[models.guards]`).
    pub guards: crate::config::RouteGuardsConfig,
}

impl ModelRoute {
    /// Why a route cannot serve at all, if every deployment is disabled, in
    /// words fit for a client: which providers are misconfigured, never which
    /// variable or file (that is in the operator's log).
    pub fn disabled_reason(&self) -> Option<String> {
        if self.deployments.iter().any(|d| d.is_enabled()) {
            return None;
        }
        let mut names: Vec<&str> = self
            .deployments
            .iter()
            .map(|d| d.provider.name.as_str())
            .collect();
        names.dedup();
        let why: Vec<String> = names
            .iter()
            .map(|n| format!("provider `{n}` is misconfigured"))
            .collect();
        Some(why.join("; "))
    }
}

/// A client key, as governance resolved it (record, team, buckets).
pub type ClientKey = crate::governance::state::Key;

#[derive(Debug)]
pub struct Snapshot {
    /// The config this was built from, kept so DNS refreshes can rebuild it.
    pub config: Arc<Config>,
    pub models: FxHashMap<String, Arc<ModelRoute>>,
    /// Every deployment, by `Deployment::index`.
    pub deployments: Vec<Arc<Deployment>>,
    /// The `GET /v1/models` body, rendered once per snapshot.
    pub models_json: Vec<u8>,
    /// Complexity keywords, lower-cased once.
    pub keywords_lower: Vec<String>,
    /// Whether any rule looks at the complexity score (else it is not computed).
    pub uses_complexity: bool,
    pub generation: u64,
    /// The policy stages every request passes, in order.
    pub stages: Vec<Box<dyn crate::gateway::PolicyStage>>,
    /// What `[guards]` built (also the first of `stages`), when configured.
    pub guards: Option<Arc<crate::gateway::Guards>>,
    /// Why this config cannot serve any request, for `/readyz`.
    pub unready: Option<&'static str>,
    /// Providers that cannot serve, with the operator's reason, in config order.
    pub disabled: Vec<(String, String)>,
}

impl Snapshot {
    /// Builds from a validated config. Secrets are read and host names resolved
    /// here, on the control thread, never on the request path.
    pub fn build(config: Arc<Config>, generation: u64) -> Snapshot {
        let built: Vec<Arc<Provider>> = config
            .providers
            .iter()
            .map(|p| Arc::new(build_provider(p)))
            .collect();
        let disabled = built
            .iter()
            .filter_map(|p| match &p.state {
                ProviderState::Disabled(why) => Some((p.name.clone(), why.clone())),
                ProviderState::Enabled => None,
            })
            .collect();
        let providers: HashMap<&str, Arc<Provider>> =
            built.iter().map(|p| (p.name.as_str(), p.clone())).collect();
        let mut deployments: Vec<Arc<Deployment>> = Vec::new();
        let mut models = FxHashMap::default();
        let mut pinned_guards: HashMap<String, crate::config::RouteGuardsConfig> = HashMap::new();
        let mut listed = Vec::new();
        let catalog = crate::context_window::catalog::ResolvedCatalog::resolve(&config);
        catalog.log_unknown_configured();
        for m in &config.models {
            let fit = Arc::new(config.context.for_model(m.context.as_ref()));
            let specs: Vec<crate::config::DeploymentConfig> = if m.deployments.is_empty() {
                vec![crate::config::DeploymentConfig {
                    provider: m.provider.clone().unwrap_or_default(),
                    upstream_model: m.upstream_model.clone(),
                    region: m.region.clone(),
                    weight: 1,
                    tier: m.tier.clone(),
                    tags: m.tags.clone(),
                }]
            } else {
                m.deployments.clone()
            };
            let mut mine = Vec::with_capacity(specs.len());
            for spec in specs {
                let provider = providers[spec.provider.as_str()].clone();
                let upstream_model = spec.upstream_model.unwrap_or_else(|| m.name.clone());
                let deployment = Arc::new(Deployment {
                    index: deployments.len(),
                    timeouts: provider.timeouts.overridden(&m.timeout_settings()),
                    target_whole: provider.chat_target(&upstream_model, false),
                    target_stream: provider.chat_target(&upstream_model, true),
                    label: format!("{}/{}", provider.name, upstream_model).into(),
                    spec: catalog.get(&upstream_model).cloned().map(Arc::new),
                    fit: fit.clone(),
                    provider,
                    upstream_model,
                    region: spec.region,
                    weight: spec.weight,
                    tier: spec.tier,
                    tags: spec.tags,
                    default_max_tokens: m.default_max_tokens.unwrap_or(4096),
                    native_structured_output: m.native_structured_output,
                });
                deployments.push(deployment.clone());
                mine.push(deployment);
            }
            if let Some(d) = mine.iter().find(|d| d.is_enabled()) {
                listed.push((m.name.clone(), d.provider.name.clone()));
            }
            let route = ModelRoute {
                name: m.name.as_str().into(),
                deployments: mine,
                fallbacks: with_bigger_model(&m.fallbacks, &fit),
                hedge: m.hedge.clone(),
                pinned: false,
                guards: m.guards.clone(),
            };
            for d in &route.deployments {
                pinned_guards
                    .entry(d.upstream_model.clone())
                    .or_insert_with(|| m.guards.clone());
            }
            models.insert(m.name.clone(), Arc::new(route));
        }
        // Pinned versions: an upstream model name nobody configured as a public
        // name routes to exactly the deployments of that version.
        let mut pinned: HashMap<String, Vec<Arc<Deployment>>> = HashMap::new();
        for d in &deployments {
            if !models.contains_key(&d.upstream_model) {
                pinned
                    .entry(d.upstream_model.clone())
                    .or_default()
                    .push(d.clone());
            }
        }
        for (name, ds) in pinned {
            let route = ModelRoute {
                name: name.as_str().into(),
                deployments: ds,
                fallbacks: Vec::new(),
                hedge: None,
                pinned: true,
                // A pinned version is guarded like the route it came from.
                guards: pinned_guards.remove(&name).unwrap_or_default(),
            };
            models.insert(name, Arc::new(route));
        }
        let guards = match crate::gateway::Guards::build(&config) {
            Ok(g) => g.map(Arc::new),
            // Validation compiled the same guards before this config was accepted.
            Err(e) => {
                eprintln!("tollgate: guards not built: {e}");
                None
            }
        };
        let unready = if config.models.is_empty() {
            Some("no model is configured")
        } else if listed.is_empty() {
            Some("no configured model has an enabled provider (see the gateway's log)")
        } else {
            None
        };
        let listed: Vec<(&str, &str)> = listed
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        Snapshot {
            keywords_lower: config
                .routing
                .complexity
                .keywords
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            uses_complexity: config
                .rules
                .iter()
                .any(|r| r.when.min_complexity.is_some() || r.when.max_complexity.is_some()),
            models_json: render_models(&listed),
            models,
            deployments,
            generation,
            stages: crate::gateway::stages_for(&config, guards.as_ref()),
            guards,
            unready,
            disabled,
            config,
        }
    }

    pub fn model(&self, name: &str) -> Option<&Arc<ModelRoute>> {
        self.models.get(name)
    }

    /// Whether two snapshots reach the same addresses for every provider.
    pub fn same_addresses(&self, other: &Snapshot) -> bool {
        let addrs = |s: &Snapshot| {
            let mut v: Vec<(String, Vec<SocketAddr>)> = s
                .deployments
                .iter()
                .map(|d| (d.provider.name.clone(), d.provider.addrs.clone()))
                .collect();
            v.sort();
            v
        };
        addrs(self) == addrs(other)
    }
}

fn render_models(listed: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::from("{\"object\":\"list\",\"data\":[");
    for (i, (model, provider)) in listed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        push_json_str(&mut out, model);
        out.push_str(",\"object\":\"model\",\"created\":0,\"owned_by\":");
        push_json_str(&mut out, provider);
        out.push('}');
    }
    out.push_str("]}");
    out.into_bytes()
}

/// A model whose fitting may skip to `bigger_model` has it in its chain: last,
/// unless the fallbacks already name it.
fn with_bigger_model(fallbacks: &[String], fit: &crate::config::ContextConfig) -> Vec<String> {
    let mut out = fallbacks.to_vec();
    if fit.enabled
        && fit
            .strategies
            .contains(&crate::config::FitStrategyName::BiggerModel)
        && let Some(bigger) = &fit.bigger_model
        && !out.contains(bigger)
    {
        out.push(bigger.clone());
    }
    out
}
