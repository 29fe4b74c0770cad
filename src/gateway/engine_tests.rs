//! The attempt engine's pure decisions: which target comes next, what a
//! failure allows, which error goes out as it came, when a hedge fires.

use std::sync::Arc;

use super::*;
use crate::config::{ProviderKind, load_str};
use crate::gateway::dialect::Inbound;
use crate::router::Snapshot;
use crate::upstream::UpstreamError;

/// `m`'s deployments in plan order: a, then the fallbacks b and c (c serves
/// the same upstream model as a).
fn targets() -> Vec<Arc<Deployment>> {
    let config = load_str(
        r#"
[[providers]]
name = "p"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "m"
provider = "p"
upstream_model = "one"
fallbacks = ["n", "o"]

[[models]]
name = "n"
provider = "p"
upstream_model = "two"

[[models]]
name = "o"
provider = "p"
upstream_model = "one"
"#,
    )
    .expect("valid config");
    let snapshot = Snapshot::build(Arc::new(config), 1);
    ["m", "n", "o"]
        .iter()
        .map(|m| snapshot.model(m).unwrap().deployments[0].clone())
        .collect()
}

fn status(status: u16, body: &str, kind: ProviderKind) -> Failure {
    Failure::Status {
        status,
        retry_after_ms: None,
        body: body.as_bytes().to_vec(),
        kind,
        headers: Vec::new(),
    }
}

#[test]
fn targets_come_in_plan_order_and_wrap_around_for_retries() {
    let t = targets();
    let mut next = 1;
    let picks: Vec<_> = (0..4).map(|_| pick_next(&t, &mut next, None)).collect();
    assert_eq!(picks, [Some(1), Some(2), Some(0), Some(1)]);
}

#[test]
fn a_model_that_cannot_take_the_request_is_skipped_everywhere() {
    let t = targets();
    let mut next = 1;
    let picks: Vec<_> = (0..3)
        .map(|_| pick_next(&t, &mut next, Some("one")))
        .collect();
    assert_eq!(picks, [Some(1), Some(1), Some(1)]);
    let only_one = &t[..1];
    assert_eq!(pick_next(only_one, &mut 0, Some("one")), None);
}

#[test]
fn failures_decide_what_comes_next() {
    let kind = ProviderKind::OpenaiCompatible;
    for (code, next) in [
        (429, Next::RotateKey),
        (401, Next::RotateKey),
        (403, Next::RotateKey),
        (408, Next::Retry),
        (409, Next::Retry),
        (500, Next::Retry),
        (529, Next::Retry),
        (400, Next::Final),
        (404, Next::Final),
        (422, Next::Final),
    ] {
        assert_eq!(status(code, "{}", kind).next(), next, "{code}");
    }
    let too_long =
        r#"{"error":{"code":"context_length_exceeded","message":"maximum context length"}}"#;
    assert_eq!(status(400, too_long, kind).next(), Next::OtherModel);
    assert_eq!(
        Failure::Transport(UpstreamError::Stalled).next(),
        Next::Retry
    );
    let invalid = Failure::Invalid(crate::api::ApiError::invalid_request("x", "y"));
    assert_eq!(invalid.next(), Next::OtherModel);
}

#[test]
fn only_a_same_dialect_error_in_the_clients_shape_is_relayed_as_it_came() {
    let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
    let f = status(529, anthropic, ProviderKind::Anthropic);
    assert!(f.raw_answer(Inbound::Anthropic).is_some());
    assert!(
        f.raw_answer(Inbound::OpenAi).is_none(),
        "other dialect: wrapped"
    );
    let detail = status(503, r#"{"detail":"x"}"#, ProviderKind::Anthropic);
    assert!(
        detail.raw_answer(Inbound::Anthropic).is_none(),
        "not its shape: wrapped"
    );
    let openai = r#"{"error":{"message":"m","type":"t","param":null,"code":null}}"#;
    let f = status(500, openai, ProviderKind::OpenaiCompatible);
    assert!(f.raw_answer(Inbound::OpenAi).is_some());
    assert!(f.raw_answer(Inbound::Anthropic).is_none());
}

#[test]
fn retry_after_is_read_only_from_status_failures() {
    let mut f = status(429, "{}", ProviderKind::OpenaiCompatible);
    if let Failure::Status { retry_after_ms, .. } = &mut f {
        *retry_after_ms = Some(2_000);
    }
    assert_eq!(retry_after(&f), Some(2_000));
    assert_eq!(
        retry_after(&Failure::Transport(UpstreamError::Stalled)),
        None
    );
    assert_eq!(short(&f), "429");
    assert_eq!(
        short(&Failure::Transport(UpstreamError::Stalled)),
        "stalled"
    );
}

#[test]
fn a_hedge_never_fires_before_its_floor() {
    let t = targets();
    let h = |after_ms, min_after_ms| HedgeConfig {
        after_ms,
        min_after_ms,
        max_extra: 1,
    };
    assert_eq!(
        hedge_delay(&h(Some(300), 50), &t[0]),
        Duration::from_millis(300)
    );
    assert_eq!(
        hedge_delay(&h(Some(10), 50), &t[0]),
        Duration::from_millis(50)
    );
    // No setting and no latency seen yet: a second.
    assert_eq!(
        hedge_delay(&h(None, 50), &t[0]),
        Duration::from_millis(1000)
    );
}
