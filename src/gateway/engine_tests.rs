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
        charge_losers: false,
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

#[path = "engine_fakes.rs"]
mod fakes;

use fakes::{FakeClock, Script, drive, e429, e500, fail, launched, ok, plan, refused};

fn outcomes(trail: &Trail) -> Vec<(&str, &str)> {
    trail
        .log
        .iter()
        .map(|r| (r.deployment.as_str(), r.outcome.as_str()))
        .collect()
}

#[test]
fn failures_fall_back_in_plan_order_without_waiting() {
    let (snapshot, targets) = plan("max_attempts = 3");
    let clock = FakeClock::default();
    let script = Script::new(&clock, [fail(10, e500()), fail(10, refused()), ok(10)]);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets, false, None),
    );
    let Outcome::Won(answer, trail) = outcome else {
        panic!("the last fallback answers")
    };
    assert_eq!(answer.model, "three");
    assert_eq!(
        script.launches(),
        [
            launched("one", 0, 0),
            launched("two", 0, 10),
            launched("three", 0, 20)
        ]
    );
    assert!(clock.asked.borrow().is_empty(), "moving on needs no wait");
    assert_eq!(
        outcomes(&trail),
        [("p/one", "500"), ("q/two", "connect"), ("q/three", "ok")]
    );
    assert_eq!(trail.attempts, 3);
}

#[test]
fn retries_of_one_deployment_back_off_within_base_and_max() {
    let (snapshot, targets) = plan("max_attempts = 5\nbase_backoff_ms = 100\nmax_backoff_ms = 250");
    let clock = FakeClock::default();
    let script = Script::new(&clock, (0..5).map(|_| fail(0, e500())));
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets[..1], false, None),
    );
    let Outcome::Lost(Failure::Status { status: 500, .. }, provider, trail) = outcome else {
        panic!("every attempt failed")
    };
    assert_eq!(provider, "p");
    assert_eq!(trail.attempts, 5);
    let asked = clock.asked.borrow().clone();
    assert_eq!(asked.len(), 4, "a wait before each retry");
    for (wait, ceiling) in asked.iter().zip([100, 200, 250, 250]) {
        assert!(
            *wait <= ceiling,
            "{asked:?}: full jitter under base·2^n, capped"
        );
    }
    // Each retry starts when its wait ends, on the same key.
    let mut at = 0;
    let mut expected = vec![launched("one", 0, 0)];
    for wait in &asked {
        at += wait;
        expected.push(launched("one", 0, at));
    }
    assert_eq!(script.launches(), expected);
    assert_eq!(trail.waited_ms, at);
}

#[test]
fn a_retry_after_is_waited_for_in_full() {
    let (snapshot, targets) = plan("base_backoff_ms = 100\nmax_backoff_ms = 250");
    let clock = FakeClock::default();
    let script = Script::new(&clock, [fail(5, e429(700)), ok(5)]);
    let targets = &targets[1..2]; // one deployment, one key
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, targets, false, None),
    );
    assert!(matches!(outcome, Outcome::Won(..)));
    assert_eq!(*clock.asked.borrow(), [700]);
    assert_eq!(
        script.launches(),
        [launched("two", 0, 0), launched("two", 0, 705)]
    );
}

#[test]
fn a_retry_after_beyond_the_limit_ends_the_request() {
    let (snapshot, targets) = plan("max_attempts = 5\nmax_retry_after_ms = 1000");
    let targets = &targets[1..2];
    let clock = FakeClock::default();
    let script = Script::new(&clock, [fail(0, e429(5_000))]);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, targets, false, None),
    );
    let Outcome::Lost(failure, _, trail) = outcome else {
        panic!("not waited for")
    };
    assert_eq!(
        retry_after(&failure),
        Some(5_000),
        "its Retry-After goes out"
    );
    assert_eq!(trail.attempts, 1);
    assert!(clock.asked.borrow().is_empty());

    // Nor do several shorter ones add up past it.
    let clock = FakeClock::default();
    let script = Script::new(&clock, [fail(0, e429(600)), fail(0, e429(600))]);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, targets, false, None),
    );
    assert!(matches!(outcome, Outcome::Lost(..)));
    assert_eq!(*clock.asked.borrow(), [600]);
    assert_eq!(script.launches().len(), 2);
}

#[test]
fn a_429_rotates_through_the_providers_keys_before_falling_back() {
    let (snapshot, targets) = plan("max_attempts = 5");
    let clock = FakeClock::default();
    let script = Script::new(
        &clock,
        [fail(1, e429(0)), fail(1, e429(0)), fail(1, e429(0)), ok(1)],
    );
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets, false, None),
    );
    let Outcome::Won(answer, _) = outcome else {
        panic!("the fallback answers")
    };
    assert_eq!(answer.model, "two");
    assert_eq!(
        script.launches(),
        [
            launched("one", 0, 0),
            launched("one", 1, 1),
            launched("one", 2, 2),
            launched("two", 0, 3)
        ]
    );
    assert!(clock.asked.borrow().is_empty(), "another key needs no wait");
    // The core's cursor moved with each rotation: the next request starts
    // from the last key tried, not the one that was refused first.
    assert_eq!(health::key_index(&targets[0].provider), 2);
}

#[test]
fn a_hedge_starts_after_its_delay_and_the_loser_is_cancelled() {
    let (snapshot, targets) = plan("");
    let hedge = HedgeConfig {
        after_ms: Some(100),
        min_after_ms: 50,
        max_extra: 1,
        charge_losers: false,
    };
    let clock = FakeClock::default();
    let script = Script::new(&clock, [ok(500), ok(150)]);
    let run = run_with(&script, &clock, &snapshot, &targets, false, Some(&hedge));
    let Outcome::Won(answer, trail) = drive(&clock, run) else {
        panic!("the hedge answers")
    };
    assert_eq!(answer.model, "two", "the first to answer wins");
    assert_eq!(clock.now(), 250);
    assert_eq!(clock.asked.borrow()[0], 100);
    assert_eq!(
        script.launches(),
        [launched("one", 0, 0), launched("two", 0, 100)]
    );
    assert!(trail.hedged);
    assert_eq!(script.cancelled.get(), 1, "the loser is dropped unfinished");
    assert_eq!(outcomes(&trail), [("q/two", "ok"), ("p/one", "cancelled")]);
}

#[test]
fn a_first_answer_before_the_hedge_delay_launches_no_hedge() {
    let (snapshot, targets) = plan("");
    let hedge = HedgeConfig {
        after_ms: Some(100),
        min_after_ms: 50,
        max_extra: 1,
        charge_losers: false,
    };
    let clock = FakeClock::default();
    let script = Script::new(&clock, [ok(99)]);
    let run = run_with(&script, &clock, &snapshot, &targets, false, Some(&hedge));
    let Outcome::Won(answer, trail) = drive(&clock, run) else {
        panic!("the first answers")
    };
    assert_eq!(answer.model, "one");
    assert!(!trail.hedged);
    assert_eq!(script.launches().len(), 1);
    assert_eq!(script.cancelled.get(), 0);
}

#[test]
fn max_attempts_bounds_the_walk() {
    let (snapshot, targets) = plan("max_attempts = 2");
    let clock = FakeClock::default();
    let script = Script::new(&clock, [fail(0, e500()), fail(0, e500()), ok(0)]);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets, false, None),
    );
    let Outcome::Lost(_, provider, trail) = outcome else {
        panic!("out of attempts before the third target")
    };
    assert_eq!(provider, "q", "the last failure is the answer");
    assert_eq!(trail.attempts, 2);
    assert_eq!(script.launches().len(), 2);
}

#[test]
fn a_panic_plan_probes_an_open_breaker_and_says_so() {
    let (snapshot, targets) = plan("");
    let clock = FakeClock::default();
    let script = Script::new(&clock, [ok(0)]);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets, true, None),
    );
    let Outcome::Won(answer, _) = outcome else {
        panic!("answers")
    };
    assert!(!answer.probe, "a closed breaker admits without a probe");

    for _ in 0..2 {
        health::record_failure(&targets[0], false, &e500());
    }
    assert_eq!(health::admit(&targets[0]), Admission::Rejected);
    let script = Script::new(&clock, [ok(0)]);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets, true, None),
    );
    let Outcome::Won(answer, _) = outcome else {
        panic!("answers")
    };
    assert_eq!(answer.model, "one");
    assert!(answer.probe, "the delivery's outcome decides the breaker");
}

#[test]
fn a_client_that_leaves_cancels_the_attempts_and_the_backoff() {
    let (snapshot, targets) = plan("base_backoff_ms = 100\nmax_backoff_ms = 100");
    let clock = FakeClock::default();
    let mut script = Script::new(&clock, [ok(500)]);
    script.client_leaves_at = Some(100);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets, false, None),
    );
    assert!(matches!(outcome, Outcome::Abandoned));
    assert_eq!(
        script.cancelled.get(),
        1,
        "the attempt is dropped unfinished"
    );
    assert_eq!(clock.now(), 100);

    // Gone while waiting to retry: no second attempt.
    let clock = FakeClock::default();
    let mut script = Script::new(&clock, [fail(0, e429(900)), ok(0)]);
    script.client_leaves_at = Some(100);
    let outcome = drive(
        &clock,
        run_with(&script, &clock, &snapshot, &targets[1..2], false, None),
    );
    assert!(matches!(outcome, Outcome::Abandoned));
    assert_eq!(script.launches().len(), 1);
    assert_eq!(*clock.asked.borrow(), [900]);
}
