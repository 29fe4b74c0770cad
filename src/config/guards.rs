//! `[guards]`: prompt-injection scoring, PII, answer-side leak and key
//! redaction, tool policies, human approvals and external checks — and,
//! per model (route), `[models.guards]`: which tool policy applies and
//! whether answers are sanitized. Each section is off until it is written.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::guard::external::ExternalCheckConfig;
use crate::guard::injection::InjectionConfig;
use crate::guard::text::{LeakConfig, PiiConfig};
use crate::guard::tools::ToolPolicyConfig;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardsConfig {
    pub injection: Option<InjectionConfig>,
    pub pii: Option<PiiConfig>,
    /// System-prompt and canary leaks, and key-shaped text, in answers.
    pub leak: Option<LeakConfig>,
    /// Named tool policies; keys, teams and routes pick one by name.
    pub tool_policies: BTreeMap<String, ToolPolicyConfig>,
    /// The policy for requests whose key, team and route name none.
    pub default_tool_policy: Option<String>,
    pub approvals: ApprovalsConfig,
    /// Checks by a guardrail service the team already runs.
    pub external: Vec<ExternalCheckConfig>,
}

impl GuardsConfig {
    /// Whether any guard is configured (else requests skip the stage).
    pub fn any(&self) -> bool {
        self.injection.is_some()
            || self.pii.is_some()
            || self.leak.is_some()
            || !self.tool_policies.is_empty()
            || !self.external.is_empty()
    }
}

/// How a call to an `approval = "required"` tool is held.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    pub mode: ApprovalMode,
    /// How long a pending approval can be decided, and a decided one released.
    pub ttl_ms: u64,
    /// Blocking mode: how long the client's request waits for a decision.
    pub wait_ms: u64,
    /// Blocking streams: a keep-alive event this often while waiting.
    pub keepalive_ms: u64,
    /// Approvers are told of each pending approval here (`http://…`).
    pub webhook: Option<String>,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            mode: ApprovalMode::Blocking,
            ttl_ms: 15 * 60 * 1000,
            wait_ms: 60_000,
            keepalive_ms: 10_000,
            webhook: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// The request waits (bounded) and resumes with the call released or refused.
    #[default]
    Blocking,
    /// The answer returns at once with a pending marker; the client
    /// resubmits with the approval id and gets the held answer.
    NonBlocking,
}

/// `[models.guards]`: guards that depend on the route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteGuardsConfig {
    /// The tool policy of requests to this model whose key and team name none.
    pub tool_policy: Option<String>,
    /// Strip provider-specific fields and headers from answers (provider
    /// ids, organization headers, fingerprints): the answer is rewritten
    /// from the canonical model even when the provider speaks the client's
    /// dialect. Off: a same-dialect answer is relayed byte for byte.
    pub sanitize: bool,
}

/// The guards compile (patterns, schemas), every policy a key, team or
/// route names exists, and the approvers' webhook is a URL we can post to.
pub(super) fn validate(config: &super::Config, err: &mut dyn FnMut(String, String)) {
    for t in &config.teams {
        if let Some(p) = &t.tool_policy
            && !config.guards.tool_policies.contains_key(p)
        {
            err(
                format!("teams.{}.tool_policy", t.id),
                format!("no [guards.tool_policies.{p}]"),
            );
        }
    }
    if let Some(url) = &config.guards.approvals.webhook
        && let Err(e) = crate::upstream::Origin::parse_base_url(url)
    {
        err("guards.approvals.webhook".into(), e);
    }
    if let Err(e) = crate::gateway::Guards::build(config) {
        let (path, message) = e.split_once(": ").unwrap_or(("guards", e.as_str()));
        err(path.to_owned(), message.to_owned());
    }
}
