//! The guard stage: what `[guards]` asks of a request before it goes
//! upstream, and what it attaches for the answer. Injection scoring over
//! user text and (indirect injection) tool results; PII masked, refused or
//! logged; declared tools checked against the key's, team's or route's
//! tool policy (stripped or refused, pinned definitions compared); and,
//! for the response side, the policy every emitted tool call answers to and
//! the text rules answers pass through.
//!
//! The raw body is looked at first: a request no scanner can match, with no
//! tools and no answer-side rule, is not parsed at all, so guards cost a
//! request without anything to guard a scan of its bytes.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::policy::{PolicyStage, StageRequest};
use crate::api::ApiError;
use crate::canonical::json_scan::declares_tools;
use crate::canonical::{ContentPart, Role};
use crate::config::{Config, RouteGuardsConfig};
use crate::guard::external::{Decision, ExternalCheck, Source};
use crate::guard::injection::{self, Scanner};
use crate::guard::seen::{Memo, Resume};
use crate::guard::strings::Strings;
use crate::guard::text::{PiiAction, PiiScanner, TextPolicy};
use crate::guard::tools::{DefinitionCheck, ToolPolicy, Undeclared};
use crate::server::Request;

/// Everything `[guards]` built, once per snapshot.
pub struct Guards {
    /// This build's number: the per-core memo of benign texts is per build.
    build: u64,
    injection: Option<Scanner>,
    /// PII (requests and answers), keys, canaries and system-prompt echoes.
    text: Option<Arc<TextPolicy>>,
    /// Answers pass the text rules (PII in answers, or `[guards.leak]`).
    text_answers: bool,
    policies: FxHashMap<String, Arc<ToolPolicy>>,
    default_policy: Option<String>,
    pub external: Vec<ExternalCheck>,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field("injection", &self.injection.is_some())
            .field("text", &self.text.is_some())
            .field("policies", &self.policies.keys().collect::<Vec<_>>())
            .field("external", &self.external.len())
            .finish()
    }
}

impl Guards {
    /// `None` when the config asks for no guard. Errors name the config path.
    pub fn build(config: &Config) -> Result<Option<Guards>, String> {
        let g = &config.guards;
        let routes_sanitize = config
            .models
            .iter()
            .any(|m| m.guards.sanitize || m.guards.tool_policy.is_some());
        if !g.any() && !routes_sanitize {
            return Ok(None);
        }
        let injection = match &g.injection {
            Some(c) => Some(Scanner::new(c).map_err(|e| format!("guards.injection: {e}"))?),
            None => None,
        };
        let text = if g.pii.is_some() || g.leak.is_some() {
            let mut leak = g.leak.clone();
            if let Some(l) = leak.as_mut() {
                // A canary may be a secret reference like any other secret.
                for (i, c) in l.canaries.iter_mut().enumerate() {
                    if c.starts_with("env:") || c.starts_with("file:") {
                        *c = crate::router::read_secret(c)
                            .map_err(|e| format!("guards.leak.canaries[{i}]: {e}"))?
                            .expose()
                            .to_owned();
                    }
                }
            }
            let policy =
                TextPolicy::new(g.pii.as_ref(), leak.as_ref()).map_err(|e| e.to_string())?;
            Some(Arc::new(policy))
        } else {
            None
        };
        let mut policies = FxHashMap::default();
        for (name, c) in &g.tool_policies {
            let p = ToolPolicy::compile(name, c)
                .map_err(|e| format!("guards.tool_policies.{name}: {e}"))?;
            policies.insert(name.clone(), Arc::new(p));
        }
        let named = |n: &str, path: String| {
            if policies.contains_key(n) {
                Ok(())
            } else {
                Err(format!("{path}: no [guards.tool_policies.{n}]"))
            }
        };
        if let Some(n) = &g.default_tool_policy {
            named(n, "guards.default_tool_policy".into())?;
        }
        for m in &config.models {
            if let Some(n) = &m.guards.tool_policy {
                named(n, format!("models.{}.guards.tool_policy", m.name))?;
            }
        }
        for k in &config.keys {
            if let Some(n) = &k.tool_policy {
                named(n, format!("keys.{}.tool_policy", k.id))?;
            }
        }
        let mut external = Vec::with_capacity(g.external.len());
        for (i, c) in g.external.iter().enumerate() {
            let key = match &c.api_key {
                Some(r) => Some(
                    crate::router::read_secret(r)
                        .map_err(|e| format!("guards.external[{i}].api_key: {e}"))?,
                ),
                None => None,
            };
            external.push(
                ExternalCheck::new(c, key).map_err(|e| format!("guards.external[{i}]: {e}"))?,
            );
        }
        static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Some(Guards {
            build: BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            injection,
            text_answers: g.leak.is_some() || g.pii.as_ref().is_some_and(|c| c.answers),
            text,
            policies,
            default_policy: g.default_tool_policy.clone(),
            external,
        }))
    }

    /// The tool policy a request answers to: its key's, its team's, its
    /// route's, or the default.
    /// A policy named (by an admin-made key, say) but not configured is an
    /// error, never a request without a policy.
    /// A configured tool policy by name (the MCP gateway resolves its own).
    pub fn tool_policy(&self, name: &str) -> Option<&Arc<ToolPolicy>> {
        self.policies.get(name)
    }

    /// The injection scanner, when `[guards.injection]` is configured.
    pub fn injection(&self) -> Option<&Scanner> {
        self.injection.as_ref()
    }

    pub fn policy_for(
        &self,
        key_policy: Option<&str>,
        team_policy: Option<&str>,
        route: &RouteGuardsConfig,
    ) -> Result<Option<&Arc<ToolPolicy>>, ApiError> {
        let Some(name) = key_policy
            .or(team_policy)
            .or(route.tool_policy.as_deref())
            .or(self.default_policy.as_deref())
        else {
            return Ok(None);
        };
        match self.policies.get(name) {
            Some(p) => Ok(Some(p)),
            None => Err(ApiError::coded(
                403,
                "permission_error",
                "unknown_tool_policy",
                format!("The tool policy `{name}` this key answers to is not configured."),
            )),
        }
    }

    /// Whether the request must be parsed for these guards: it declares
    /// tools under a policy, its answer needs the canonical model, an
    /// external check reads it, or one of its JSON string values could
    /// match a scanner. Values this core already found benign (the
    /// conversation so far, resent every turn) are not looked at again.
    fn needs_parse(&self, body: &[u8], route: &RouteGuardsConfig) -> bool {
        if self.answers_need_canonical(route) || !self.external.is_empty() {
            return true;
        }
        let pii = self.pii();
        if self.injection.is_none() && pii.is_none() {
            return !self.policies.is_empty() && declares_tools(body);
        }
        // Past what this core already cleared (a new turn: the tail; the
        // same body again: nothing), the values it has not yet found benign.
        crate::guard::seen::with(self.build, |memo, strings| {
            let mut resume = memo.resume(body);
            if resume.at == body.len() {
                return false;
            }
            strings.walk(body, resume.at);
            if strings.tools && resume.at > 0 {
                // Cleared bodies declare no tools: their values were judged
                // without a tool mention's weight. Judge this one whole.
                resume = Resume::default();
                strings.walk(body, 0);
            }
            // A next turn's new messages are remembered with the body; the
            // texts are for bodies no remembered body continues.
            let texts = !resume.next_turn();
            let needs = self.any_value_may_match(memo, texts, body, strings, pii);
            if !needs && !strings.tools {
                memo.remember_body(resume, body, &strings.values);
            }
            needs
        })
    }

    /// Whether a value `strings` found in `body`, not known benign, may
    /// match a scanner (then the body is parsed and scanned); with `texts`,
    /// the values that cannot are remembered. Tools under a policy, or a
    /// body cut off inside a string (the parse refuses it), always need the
    /// parse.
    fn any_value_may_match(
        &self,
        memo: &mut Memo,
        texts: bool,
        body: &[u8],
        strings: &Strings,
        pii: Option<(&PiiScanner, PiiAction)>,
    ) -> bool {
        if strings.tools && !self.policies.is_empty() {
            return true;
        }
        let look = pii.map(|(p, _)| p.look()).unwrap_or_default();
        for &(start, end) in &strings.values {
            let (start, end) = (start as usize, end as usize);
            let literal = &body[start..end];
            let hash = if texts {
                let hash = crate::guard::seen::hash(literal);
                if memo.known(hash, literal) {
                    continue;
                }
                Some(hash)
            } else {
                None
            };
            // One pass answers for both prefilters when injection is on.
            let maybe = match (&self.injection, pii) {
                (Some(s), _) => {
                    s.may_match_literal(&body[start..], end - start, strings.tools, look)
                }
                (None, Some((p, _))) => p.may_contain(literal),
                (None, None) => false,
            };
            if maybe {
                return true;
            }
            if let Some(hash) = hash {
                memo.remember(hash, literal);
            }
        }
        strings.broken
    }

    /// Whether scanning a body's raw text is all these guards need: no
    /// tools under a policy, no answer rule, no external check. (Then a
    /// body the canonical model cannot hold can still be guarded.)
    pub fn raw_scan_suffices(&self, http: &Request, route: &RouteGuardsConfig) -> bool {
        !self.answers_need_canonical(route)
            && self.external.is_empty()
            && (self.policies.is_empty() || !declares_tools(&http.body))
    }

    /// Every JSON string value of `body`, decoded, through the injection
    /// scanner (as a document: its role is unknown here) and the PII
    /// detectors. PII cannot be masked in a body that is relayed as it
    /// came, so a `mask` policy refuses it as `block` does.
    pub fn scan_raw(
        &self,
        body: &[u8],
        events: &mut Vec<String>,
        flags: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let mut strings = Strings::default();
        strings.walk(body, 0);
        for literal in strings.value_literals(body) {
            let mut literal = literal.to_vec();
            let Ok(text) = simd_json::from_slice::<String>(&mut literal) else {
                continue;
            };
            if let Some(scanner) = &self.injection {
                let verdict = scanner.scan(&text, injection::Source::Document, &[]);
                if verdict.score >= scanner.threshold() {
                    let rule = verdict.top_rule().unwrap_or("injection").to_string();
                    injection_outcome(scanner.action(), &rule, verdict.score, events, flags)?;
                }
            }
            if let Some((scanner, action)) = self.pii()
                && let Some(found) = scanner.find(&text).first()
            {
                let kind = pii_name(found.kind);
                if action == PiiAction::Log {
                    events.push(format!("pii:log:{kind}"));
                    continue;
                }
                events.push(format!("pii:block:{kind}"));
                return Err(ApiError::coded(
                    400,
                    "invalid_request_error",
                    "pii_detected",
                    format!(
                        "The request was refused by the PII guard: it holds {kind}, which cannot be masked in this request."
                    ),
                ));
            }
        }
        Ok(())
    }

    fn answers_need_canonical(&self, route: &RouteGuardsConfig) -> bool {
        route.sanitize || self.text_answers
    }

    fn pii(&self) -> Option<(&PiiScanner, PiiAction)> {
        self.text.as_ref().and_then(|t| t.pii())
    }

    /// The external checks that look at requests.
    pub fn request_checks(&self) -> impl Iterator<Item = (usize, &ExternalCheck)> {
        self.external
            .iter()
            .enumerate()
            .filter(|(_, c)| c.applies_to(Source::Request))
    }
}

/// The stage in the snapshot's list.
#[derive(Debug)]
pub struct GuardStage(pub Arc<Guards>);

impl PolicyStage for GuardStage {
    fn name(&self) -> &'static str {
        "guards"
    }

    fn needed(&self, http: &Request, route: &RouteGuardsConfig) -> bool {
        self.0.needs_parse(&http.body, route)
    }

    fn apply(&self, req: &mut StageRequest<'_>) -> Result<(), ApiError> {
        let g = &*self.0;
        let route = &req.decision.model.guards;
        if let Some(scanner) = &g.injection {
            scan_injection(scanner, req)?;
        }
        if let Some((scanner, action)) = g.pii() {
            guard_pii(scanner, action, req)?;
        }
        let key_policy = req.key.and_then(|k| k.record.tool_policy.as_deref());
        if let Some(policy) = g.policy_for(key_policy, req.team_policy, route)? {
            check_definitions(policy, req)?;
            if !req.canonical.tools.is_empty() {
                req.obligations.tool_policy = Some(policy.clone());
            }
        }
        req.obligations.sanitize = route.sanitize;
        if let Some(text) = g.text.as_ref().filter(|_| g.text_answers) {
            let system = system_prompt(req.canonical);
            let rules = text.for_request(Some(system.as_str()).filter(|s| !s.is_empty()));
            req.obligations.text = Some(Arc::new(rules));
        }
        Ok(())
    }
}

/// The request's system instructions, joined: what a leak is measured against.
fn system_prompt(req: &crate::canonical::ChatRequest) -> String {
    let mut out = String::new();
    for m in req
        .messages
        .iter()
        .filter(|m| matches!(m.role, Role::System | Role::Developer))
    {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&m.joined_text());
    }
    out
}

fn source_of(role: Role) -> injection::Source {
    match role {
        Role::User => injection::Source::User,
        Role::Tool => injection::Source::ToolResult,
        Role::System | Role::Developer => injection::Source::System,
        Role::Assistant => injection::Source::Assistant,
    }
}

fn scan_injection(scanner: &Scanner, req: &mut StageRequest<'_>) -> Result<(), ApiError> {
    let action = scanner.action();
    let names: Vec<&str> = req
        .canonical
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut worst: Option<(f32, String)> = None;
    for m in &req.canonical.messages {
        for part in &m.content {
            let ContentPart::Text(text) = part else {
                continue;
            };
            let verdict = scanner.scan(text, source_of(m.role), &names);
            if verdict.score >= scanner.threshold()
                && worst.as_ref().is_none_or(|(s, _)| verdict.score > *s)
            {
                let rule = verdict.top_rule().unwrap_or("injection").to_string();
                worst = Some((verdict.score, rule));
            }
        }
    }
    let Some((score, rule)) = worst else {
        return Ok(());
    };
    injection_outcome(action, &rule, score, req.events, req.flags)
}

/// What an injection finding does under `action`.
fn injection_outcome(
    action: injection::Action,
    rule: &str,
    score: f32,
    events: &mut Vec<String>,
    flags: &mut Vec<String>,
) -> Result<(), ApiError> {
    let what = match action {
        injection::Action::Block => "block",
        injection::Action::Flag => "flag",
        injection::Action::Log => "log",
    };
    events.push(format!("injection:{what}:{rule}"));
    match action {
        injection::Action::Block => Err(ApiError::coded(
            400,
            "invalid_request_error",
            "prompt_injection_detected",
            format!(
                "The request was refused by the prompt-injection guard (rule `{rule}`, score {score:.2})."
            ),
        )),
        injection::Action::Flag => {
            flags.push(format!("injection:{rule}"));
            Ok(())
        }
        injection::Action::Log => Ok(()),
    }
}

fn guard_pii(
    scanner: &PiiScanner,
    action: PiiAction,
    req: &mut StageRequest<'_>,
) -> Result<(), ApiError> {
    let mut kinds: Vec<&'static str> = Vec::new();
    for m in req.canonical.messages.iter_mut() {
        for part in m.content.iter_mut() {
            let ContentPart::Text(text) = part else {
                continue;
            };
            let found = scanner.find(text);
            if found.is_empty() {
                continue;
            }
            for f in &found {
                let kind = pii_name(f.kind);
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            if action == PiiAction::Mask {
                let masked = scanner.mask(text).into_owned();
                *text = masked;
            }
        }
    }
    if kinds.is_empty() {
        return Ok(());
    }
    let list = kinds.join(",");
    let what = match action {
        PiiAction::Mask => "mask",
        PiiAction::Block => "block",
        PiiAction::Log => "log",
    };
    req.events.push(format!("pii:{what}:{list}"));
    match action {
        PiiAction::Block => Err(ApiError::coded(
            400,
            "invalid_request_error",
            "pii_detected",
            format!("The request was refused by the PII guard: it holds {list}."),
        )),
        PiiAction::Mask => {
            req.rewritten = true;
            req.flags.push(format!("pii:{list}"));
            Ok(())
        }
        PiiAction::Log => Ok(()),
    }
}

/// A PII kind as guard events and headers name it (`email`, `card`…).
pub fn pii_name(kind: crate::guard::text::PiiKind) -> &'static str {
    kind.mask().trim_start_matches('[').trim_end_matches(']')
}

fn check_definitions(policy: &ToolPolicy, req: &mut StageRequest<'_>) -> Result<(), ApiError> {
    let mut stripped = Vec::new();
    let mut keep = Vec::with_capacity(req.canonical.tools.len());
    for tool in std::mem::take(&mut req.canonical.tools) {
        let params = tool.parameters.as_ref().map(|p| p.as_str());
        match policy.check_definition(&tool.name, tool.description.as_deref(), params) {
            DefinitionCheck::Allowed => keep.push(tool),
            DefinitionCheck::NotListed if policy.undeclared() == Undeclared::Strip => {
                stripped.push(tool.name);
            }
            DefinitionCheck::NotListed => {
                req.events
                    .push(format!("tool:refused:{}:not_allowed", tool.name));
                return Err(ApiError::coded(
                    403,
                    "permission_error",
                    "tool_not_allowed",
                    format!(
                        "The tool `{}` is not allowed by tool policy `{}`.",
                        tool.name,
                        policy.name()
                    ),
                ));
            }
            DefinitionCheck::Malformed { reason } => {
                req.events
                    .push(format!("tool:refused:{}:malformed", tool.name));
                return Err(ApiError::coded(
                    400,
                    "invalid_request_error",
                    "invalid_tool_definition",
                    format!(
                        "The definition of tool `{}` cannot be checked: {reason}.",
                        tool.name
                    ),
                ));
            }
            DefinitionCheck::PinMismatch { expected, actual } => {
                req.events
                    .push(format!("tool:refused:{}:pin_mismatch", tool.name));
                return Err(ApiError::coded(
                    403,
                    "permission_error",
                    "tool_definition_changed",
                    format!(
                        "The definition of tool `{}` does not match the one pinned by tool policy `{}` (pinned {expected}, got {actual}).",
                        tool.name,
                        policy.name()
                    ),
                ));
            }
        }
    }
    req.canonical.tools = keep;
    if !stripped.is_empty() {
        req.events
            .push(format!("tool:stripped:{}", stripped.join(",")));
        req.flags
            .push(format!("tools_stripped:{}", stripped.join(",")));
        req.rewritten = true;
    }
    Ok(())
}

/// The external checks' verdicts on the request's text, or the refusal owed.
pub async fn external_checks(
    guards: &Guards,
    text: &str,
    events: &mut Vec<String>,
) -> Result<(), ApiError> {
    for (i, check) in guards.request_checks() {
        let decision = check.check(text, Source::Request).await;
        if let Decision::Error { error, allowed } = &decision {
            events.push(format!(
                "external[{i}]:error:{error}:{}",
                if *allowed { "allowed" } else { "refused" }
            ));
        }
        if decision.allows() {
            continue;
        }
        let why = match decision {
            Decision::Block { reason } => {
                events.push(format!("external[{i}]:block"));
                reason
            }
            _ => "the check could not be made and its policy is fail_closed".to_owned(),
        };
        return Err(ApiError::coded(
            400,
            "invalid_request_error",
            "refused_by_guardrail",
            format!("The request was refused by external check {i}: {why}."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_approvers_webhook_it_cannot_reach_is_a_config_error() {
        let config = |url: &str| {
            format!(
                "[[providers]]\nname = \"local\"\nkind = \"mock\"\n\n[[models]]\nname = \"m\"\nprovider = \"local\"\n\n[guards.approvals]\nwebhook = \"{url}\"\n"
            )
        };
        assert!(crate::config::load_str(&config("http://127.0.0.1:9/notify")).is_ok());
        let err = crate::config::load_str(&config("notify-me-somewhere"))
            .expect_err("a webhook that is no URL")
            .to_string();
        assert!(err.contains("guards.approvals.webhook"), "{err}");
    }
}
