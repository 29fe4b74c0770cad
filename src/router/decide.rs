//! Per-request routing decisions: which rule applies, which model serves,
//! which regions and tiers are allowed, and why — the reason goes back to the
//! client in `x-tollgate-route`.

use std::sync::Arc;

use super::{ClientKey, ModelRoute, Snapshot};
use crate::api::ApiError;
use crate::config::RuleConfig;

/// What rules look at, gathered once per request.
#[derive(Debug, Default)]
pub struct RequestFacts<'a> {
    pub model: &'a str,
    pub tags: Vec<String>,
    pub key: Option<&'a ClientKey>,
    /// Asked for by the client (`x-tollgate-region`).
    pub region: Option<String>,
    pub complexity: f64,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub model: Arc<ModelRoute>,
    /// Only deployments in this region may serve, fallbacks included.
    pub region: Option<String>,
    pub tier: Option<String>,
    /// `model=…; rule=…; region=…` — for the `x-tollgate-route` header.
    pub reason: String,
}

pub fn decide(snapshot: &Snapshot, facts: &RequestFacts<'_>) -> Result<Decision, ApiError> {
    let requested = snapshot
        .model(facts.model)
        .ok_or_else(|| ApiError::model_not_found(facts.model))?;
    let rule = snapshot.config.rules.iter().find(|r| matches(r, facts));
    let model = match rule.and_then(|r| r.route_to.as_deref()) {
        Some(to) => snapshot
            .model(to)
            .ok_or_else(|| ApiError::model_not_found(to))?,
        None => requested,
    }
    .clone();

    // Residency: every source that names a region must agree.
    let mut region: Option<(&str, &str)> = None;
    let sources = [
        (facts.key.and_then(|k| k.region.as_deref()), "key"),
        (facts.region.as_deref(), "request"),
        (rule.and_then(|r| r.region.as_deref()), "rule"),
    ];
    for (wanted, source) in sources {
        let Some(wanted) = wanted else { continue };
        match region {
            Some((have, by)) if have != wanted => {
                return Err(ApiError::coded(
                    403,
                    "permission_error",
                    "region_conflict",
                    format!(
                        "The {source} requires region `{wanted}` but the {by} requires `{have}`."
                    ),
                ));
            }
            _ => region = Some((wanted, source)),
        }
    }
    let mut reason = format!("model={}", model.name);
    if let Some(r) = rule {
        reason.push_str("; rule=");
        reason.push_str(&r.name);
    }
    if let Some((r, _)) = region {
        reason.push_str("; region=");
        reason.push_str(r);
    }
    let tier = rule.and_then(|r| r.tier.clone());
    if let Some(t) = &tier {
        reason.push_str("; tier=");
        reason.push_str(t);
    }
    if snapshot
        .config
        .rules
        .iter()
        .any(|r| r.when.min_complexity.is_some() || r.when.max_complexity.is_some())
    {
        reason.push_str(&format!("; complexity={:.2}", facts.complexity));
    }
    Ok(Decision {
        model,
        region: region.map(|(r, _)| r.to_string()),
        tier,
        reason,
    })
}

fn matches(rule: &RuleConfig, facts: &RequestFacts<'_>) -> bool {
    let m = &rule.when;
    (m.models.is_empty() || m.models.iter().any(|x| x == facts.model))
        && m.tags
            .iter()
            .all(|t| facts.tags.iter().any(|have| have == t))
        && (m.keys.is_empty() || facts.key.is_some_and(|k| m.keys.contains(&k.id)))
        && m.min_complexity.is_none_or(|min| facts.complexity >= min)
        && m.max_complexity.is_none_or(|max| facts.complexity <= max)
}

/// The ordered chain of models to try: the decided model, then its fallbacks
/// (breadth first, each once, at most `MAX_CHAIN`). A pinned version has none.
pub fn model_chain(snapshot: &Snapshot, first: &Arc<ModelRoute>) -> Vec<Arc<ModelRoute>> {
    const MAX_CHAIN: usize = 8;
    let mut chain = vec![first.clone()];
    let mut i = 0;
    while i < chain.len() && chain.len() < MAX_CHAIN {
        let fallbacks = chain[i].fallbacks.clone();
        for f in fallbacks {
            if chain.len() >= MAX_CHAIN {
                break;
            }
            if let Some(m) = snapshot.model(&f)
                && !chain.iter().any(|c| c.name == m.name)
            {
                chain.push(m.clone());
            }
        }
        i += 1;
    }
    chain
}
