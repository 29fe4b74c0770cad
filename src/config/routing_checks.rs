//! Validation of models, deployments, fallbacks, hedging, rules, keys and
//! the routing knobs: every reference must resolve, every number make sense.

use std::collections::HashSet;

use super::load::Report;
use super::schema::Config;

pub(super) fn validate(config: &Config, providers: &HashSet<&str>, err: &mut Report<'_>) {
    let models: HashSet<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    let mut seen = HashSet::new();
    for (i, m) in config.models.iter().enumerate() {
        let at = |field: &str| format!("models[{i}].{field}");
        if m.name.is_empty() {
            err(at("name"), "must not be empty".into());
        } else if !seen.insert(m.name.as_str()) {
            err(at("name"), format!("duplicate model `{}`", m.name));
        }
        match (&m.provider, m.deployments.is_empty()) {
            (Some(_), false) => err(
                at("deployments"),
                "give either `provider` or `deployments`, not both".into(),
            ),
            (None, true) => err(at("provider"), "required (or give `deployments`)".into()),
            (Some(p), true) if !providers.contains(p.as_str()) => {
                err(at("provider"), format!("no provider named `{p}`"));
            }
            _ => {}
        }
        if m.upstream_model.as_deref() == Some("") {
            err(at("upstream_model"), "must not be empty".into());
        }
        for field in super::schema::zero_timeouts(&m.timeout_settings()) {
            err(at(field), "must be greater than 0".into());
        }
        for (j, d) in m.deployments.iter().enumerate() {
            let at = |field: &str| format!("models[{i}].deployments[{j}].{field}");
            if !providers.contains(d.provider.as_str()) {
                err(
                    at("provider"),
                    format!("no provider named `{}`", d.provider),
                );
            }
            if d.weight == 0 {
                err(at("weight"), "must be at least 1".into());
            }
            if d.upstream_model.as_deref() == Some("") {
                err(at("upstream_model"), "must not be empty".into());
            }
        }
        for (j, f) in m.fallbacks.iter().enumerate() {
            if f == &m.name {
                err(
                    format!("models[{i}].fallbacks[{j}]"),
                    "a model cannot fall back to itself".into(),
                );
            } else if !models.contains(f.as_str()) {
                err(
                    format!("models[{i}].fallbacks[{j}]"),
                    format!("no model named `{f}`"),
                );
            }
        }
        if let Some(h) = &m.hedge
            && h.max_extra == 0
        {
            err(
                at("hedge.max_extra"),
                "must be at least 1 (or remove `hedge`)".into(),
            );
        }
    }

    let r = &config.routing;
    if r.retry.max_attempts == 0 {
        err(
            "routing.retry.max_attempts".into(),
            "must be at least 1".into(),
        );
    }
    if r.retry.base_backoff_ms > r.retry.max_backoff_ms {
        err(
            "routing.retry.base_backoff_ms".into(),
            "must not exceed max_backoff_ms".into(),
        );
    }
    let b = &r.breaker;
    if !(b.error_rate > 0.0 && b.error_rate <= 1.0) {
        err(
            "routing.breaker.error_rate".into(),
            "must be in (0, 1]".into(),
        );
    }
    if b.window_ms == 0 || b.open_ms == 0 {
        err(
            "routing.breaker.window_ms".into(),
            "window_ms and open_ms must be greater than 0".into(),
        );
    }
    if b.min_requests == 0 || b.half_open_probes == 0 {
        err(
            "routing.breaker.min_requests".into(),
            "min_requests and half_open_probes must be at least 1".into(),
        );
    }
    let c = &r.complexity;
    if c.long_prompt_chars == 0 {
        err(
            "routing.complexity.long_prompt_chars".into(),
            "must be greater than 0".into(),
        );
    }
    for (name, w) in [
        ("prompt_weight", c.prompt_weight),
        ("tools_weight", c.tools_weight),
        ("reasoning_weight", c.reasoning_weight),
        ("keyword_weight", c.keyword_weight),
    ] {
        if !(0.0..=1.0).contains(&w) {
            err(
                format!("routing.complexity.{name}"),
                "must be in [0, 1]".into(),
            );
        }
    }

    let key_ids: HashSet<&str> = config.keys.iter().map(|k| k.id.as_str()).collect();
    for (i, rule) in config.rules.iter().enumerate() {
        let at = |field: &str| format!("rules[{i}].{field}");
        if let Some(to) = &rule.route_to
            && !models.contains(to.as_str())
        {
            err(at("route_to"), format!("no model named `{to}`"));
        }
        for (j, m) in rule.when.models.iter().enumerate() {
            if !models.contains(m.as_str()) {
                err(
                    format!("rules[{i}].match.models[{j}]"),
                    format!("no model named `{m}`"),
                );
            }
        }
        for (j, k) in rule.when.keys.iter().enumerate() {
            if !key_ids.contains(k.as_str()) {
                err(
                    format!("rules[{i}].match.keys[{j}]"),
                    format!("no key with id `{k}`"),
                );
            }
        }
        for (field, v) in [
            ("min_complexity", rule.when.min_complexity),
            ("max_complexity", rule.when.max_complexity),
        ] {
            if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                err(
                    format!("rules[{i}].match.{field}"),
                    "must be in [0, 1]".into(),
                );
            }
        }
        if rule.route_to.is_none() && rule.region.is_none() && rule.tier.is_none() {
            err(
                at("route_to"),
                "a rule must set `route_to`, `region` or `tier`".into(),
            );
        }
    }
    let mut ids = HashSet::new();
    for (i, k) in config.keys.iter().enumerate() {
        if k.id.is_empty() || !ids.insert(k.id.as_str()) {
            err(format!("keys[{i}].id"), "must be present and unique".into());
        }
    }
}
