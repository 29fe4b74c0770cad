//! The router's decisions without a gateway: which rule wins, how regions
//! agree, and which deployments a plan holds, in what order, and why the
//! others were left out.

use std::sync::Arc;

use super::decide::{Decision, RequestFacts, decide, model_chain};
use super::plan::plan;
use super::{ClientKey, Snapshot, health};
use crate::config::load_str;

/// `chat` (three deployments: eu/flagship, us/cheap, and one whose provider
/// has no key) falls back to `backup` (eu) and `last` (us); `backup` falls
/// back to `cheap`, `last` to `chat` again.
fn snapshot() -> Snapshot {
    let config = load_str(
        r#"
[routing.breaker]
min_requests = 2
open_ms = 60000

[[providers]]
name = "p"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"

[[providers]]
name = "q"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"

[[providers]]
name = "off"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"
api_key = "env:TOLLGATE_ROUTER_TEST_NEVER_SET"

[[models]]
name = "chat"
fallbacks = ["backup", "last"]

[[models.deployments]]
provider = "p"
upstream_model = "chat-eu"
region = "eu"
tier = "flagship"

[[models.deployments]]
provider = "q"
upstream_model = "chat-us"
region = "us"
tier = "cheap"

[[models.deployments]]
provider = "off"
upstream_model = "chat-off"

[[models]]
name = "backup"
provider = "q"
upstream_model = "backup-eu"
region = "eu"
fallbacks = ["cheap"]

[[models]]
name = "last"
provider = "p"
upstream_model = "last-us"
region = "us"
fallbacks = ["chat"]

[[models]]
name = "cheap"
provider = "q"
upstream_model = "cheap"

[[rules]]
name = "first"
match = { tags = ["batch"] }
route_to = "cheap"

[[rules]]
name = "second"
match = { tags = ["batch"] }
route_to = "backup"

[[rules]]
name = "frugal"
match = { models = ["chat"], tags = ["frugal"] }
tier = "cheap"

[[rules]]
name = "hard"
match = { models = ["chat"], min_complexity = 0.5 }
route_to = "backup"

[[rules]]
name = "residency"
match = { tags = ["gdpr"] }
region = "eu"
"#,
    )
    .expect("valid config");
    let snapshot = Snapshot::build(Arc::new(config), 1);
    health::sync(&snapshot);
    snapshot
}

fn facts<'a>(model: &'a str, tags: &[&str]) -> RequestFacts<'a> {
    RequestFacts {
        model,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..RequestFacts::default()
    }
}

fn key(region: &str) -> ClientKey {
    ClientKey {
        record: crate::governance::types::KeyRecord {
            id: "k".into(),
            region: Some(region.into()),
            ..Default::default()
        },
        id_shared: "k".into(),
        team_shared: None,
        team: None,
        rates: Default::default(),
        budgets: Default::default(),
    }
}

fn upstream_models(s: &Snapshot, decision: &Decision) -> Vec<String> {
    let p = plan(s, decision);
    p.targets.iter().map(|d| d.upstream_model.clone()).collect()
}

#[test]
fn rules_apply_in_config_order_and_the_first_match_wins() {
    let s = snapshot();
    let d = decide(&s, &facts("chat", &["batch"])).unwrap();
    assert_eq!(d.model.name.as_ref(), "cheap");
    assert!(
        d.reason.starts_with("model=cheap; rule=first"),
        "{}",
        d.reason
    );
}

#[test]
fn every_condition_of_a_rule_must_hold() {
    let s = snapshot();
    // `frugal` names only `chat`.
    let d = decide(&s, &facts("backup", &["frugal"])).unwrap();
    assert_eq!((d.model.name.as_ref(), d.tier), ("backup", None));
    assert!(!d.reason.contains("rule="), "{}", d.reason);
    let d = decide(&s, &facts("chat", &["frugal"])).unwrap();
    assert_eq!(d.tier.as_deref(), Some("cheap"));
    // Complexity thresholds are inclusive and compared per request.
    let mut f = facts("chat", &[]);
    f.complexity = 0.5;
    assert_eq!(decide(&s, &f).unwrap().model.name.as_ref(), "backup");
    f.complexity = 0.49;
    let d = decide(&s, &f).unwrap();
    assert_eq!(d.model.name.as_ref(), "chat");
    assert!(d.reason.ends_with("complexity=0.49"), "{}", d.reason);
}

#[test]
fn an_unknown_model_is_a_404_naming_it() {
    let s = snapshot();
    let e = decide(&s, &facts("nope", &[])).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_deref()),
        (404, Some("model_not_found"))
    );
    assert!(e.message.contains("`nope`"));
}

#[test]
fn the_key_the_request_and_the_rule_must_agree_on_a_region() {
    let s = snapshot();
    let k = key("eu");
    let mut f = facts("chat", &["gdpr"]);
    f.key = Some(&k);
    f.region = Some("eu".into());
    let d = decide(&s, &f).unwrap();
    assert_eq!(d.region.as_deref(), Some("eu"));
    assert!(d.reason.contains("region=eu"));

    f.region = Some("us".into());
    let e = decide(&s, &f).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_deref()),
        (403, Some("region_conflict"))
    );

    let k = key("us");
    let mut f = facts("chat", &["gdpr"]);
    f.key = Some(&k);
    let e = decide(&s, &f).unwrap_err();
    assert!(
        e.message.contains("rule requires region `eu`"),
        "{}",
        e.message
    );
}

#[test]
fn the_fallback_chain_is_breadth_first_with_each_model_once() {
    let s = snapshot();
    let chain = model_chain(&s, s.model("chat").unwrap());
    let names: Vec<_> = chain.iter().map(|m| &*m.name).collect();
    assert_eq!(names, ["chat", "backup", "last", "cheap"], "cycles are cut");
}

#[test]
fn a_plan_holds_the_model_then_its_fallbacks_in_order() {
    let s = snapshot();
    let d = decide(&s, &facts("chat", &[])).unwrap();
    let p = plan(&s, &d);
    let models: Vec<_> = p
        .targets
        .iter()
        .map(|d| d.upstream_model.as_str())
        .collect();
    assert_eq!(models.len(), 5, "{models:?}");
    let mut first_two = models[..2].to_vec();
    first_two.sort();
    assert_eq!(
        first_two,
        ["chat-eu", "chat-us"],
        "the model's own, in selection order"
    );
    assert_eq!(models[2..], ["backup-eu", "last-us", "cheap"]);
    assert_eq!(p.excluded, ["off/chat-off: provider disabled"]);
    assert!(!p.panic);
}

#[test]
fn region_and_tier_filter_every_model_of_the_chain() {
    let s = snapshot();
    let d = decide(&s, &facts("chat", &["gdpr"])).unwrap();
    assert_eq!(upstream_models(&s, &d), ["chat-eu", "backup-eu"]);
    let p = plan(&s, &d);
    assert!(
        p.excluded
            .contains(&"q/chat-us: outside region".to_string())
    );
    assert!(
        p.excluded
            .contains(&"p/last-us: outside region".to_string())
    );

    let d = decide(&s, &facts("chat", &["frugal"])).unwrap();
    assert_eq!(upstream_models(&s, &d), ["chat-us"]);
    let p = plan(&s, &d);
    assert!(p.excluded.contains(&"q/backup-eu: other tier".to_string()));
}

#[test]
fn an_open_breaker_is_left_out_until_nothing_else_is_left() {
    let s = snapshot();
    let eu = decide(&s, &facts("chat", &["gdpr"])).unwrap();
    let [chat_eu, backup_eu] = &plan(&s, &eu).targets[..] else {
        panic!("two eu deployments")
    };
    let (chat_eu, backup_eu) = (chat_eu.clone(), backup_eu.clone());
    let failure = crate::gateway::Failure::Transport(crate::upstream::UpstreamError::Stalled);
    for _ in 0..2 {
        health::record_failure(&backup_eu, false, &failure);
    }
    assert_eq!(upstream_models(&s, &eu), ["chat-eu"]);
    assert!(
        plan(&s, &eu)
            .excluded
            .contains(&"q/backup-eu: breaker open".to_string())
    );

    // Opened later, so it reopens later: the panic plan picks the other.
    std::thread::sleep(std::time::Duration::from_millis(5));
    for _ in 0..2 {
        health::record_failure(&chat_eu, false, &failure);
    }
    let p = plan(&s, &eu);
    assert!(p.panic, "every candidate is open");
    let models: Vec<_> = p
        .targets
        .iter()
        .map(|d| d.upstream_model.as_str())
        .collect();
    assert_eq!(models, ["backup-eu"], "the first to reopen, alone");

    // Elsewhere the open ones are simply skipped.
    let all = decide(&s, &facts("chat", &[])).unwrap();
    let p = plan(&s, &all);
    assert!(!p.panic);
    assert_eq!(upstream_models(&s, &all), ["chat-us", "last-us", "cheap"]);
}
