//! Scenarios 1 and 2: a failing upstream under load (half its answers are
//! errors), and an upstream that hangs, goes silent after its head, or cuts
//! a body or a stream short, each with a healthy fallback behind it.

use std::time::Duration;

use crate::gauge::Gauge;
use crate::load::{Load, LoadRun, Req, Tally};
use crate::procs::{Env, SERVER, mock_stat, models, provider};
use crate::{Outcome, Plan};

/// Scenario 1: `error-rate=0.5` on the primary, with or without a fallback.
pub fn half_errors(env: &Env, plan: &Plan, fallback: bool) -> Outcome {
    let (a, b) = (env.mock(), env.mock());
    let config = format!(
        "{SERVER}{}{}{}",
        provider("a", a.addr, "error-rate=0.5"),
        provider("b", b.addr, ""),
        models(fallback)
    );
    let gw = env.gateway("half-errors", &config);
    let gauge = Gauge::start(gw.pid());
    let load = Load {
        threads: 8,
        duration: plan.secs(30, 5),
        max_requests: u64::MAX,
        fresh_conns: false,
        timeout: Duration::from_secs(30),
    };
    let tally = LoadRun::start(gw.addr, &load, |n| Req::chat("main", n % 4 == 3)).wait();
    let fig = gauge.stop();
    let figures = format!(
        "requests={} client_errors={} ({}) error_rate={:.3} p50_ms={} p99_ms={} upstream_a={} upstream_b={} {}",
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        tally.error_rate(),
        tally.latency_ms(0.5),
        tally.latency_ms(0.99),
        mock_stat(a.addr, "requests"),
        mock_stat(b.addr, "requests"),
        fig.render()
    );
    if fallback {
        Outcome::new(
            figures,
            tally.total() > 0 && tally.failed() == 0,
            "0 client errors",
        )
    } else {
        // Three attempts at 50 % leave about 12.5 %; 0.35 says retries help
        // (well under the upstream's 0.5) with room for noise. A breaker that
        // refuses a lone deployment for 15 s shows as far more.
        let pass = tally.total() > 0 && tally.error_rate() <= 0.35;
        Outcome::new(figures, pass, "error rate after retries <= 0.35")
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Fault {
    Hang,
    HangBody,
    CutBody,
    CutStream,
}

/// Scenario 2: one fault on the primary, a healthy fallback, default timeouts.
pub fn fault_with_fallback(env: &Env, plan: &Plan, fault: Fault) -> Outcome {
    let spec = match fault {
        Fault::Hang => "hang",
        Fault::HangBody => "hang-body",
        Fault::CutBody => "cut-after=1",
        Fault::CutStream => "cut-after=2",
    };
    let (a, b) = (env.mock(), env.mock());
    let config = format!(
        "{SERVER}{}{}{}",
        provider("a", a.addr, spec),
        provider("b", b.addr, ""),
        models(true)
    );
    let gw = env.gateway("upstream-fault", &config);
    let gauge = Gauge::start(gw.pid());
    let outcome = match fault {
        Fault::Hang | Fault::HangBody => stuck(gw.addr, plan),
        Fault::CutBody | Fault::CutStream => cut(gw.addr, plan, fault == Fault::CutStream),
    };
    let fig = gauge.stop();
    let seen = format!(
        " upstream_a={} upstream_b={} {}",
        mock_stat(a.addr, "requests"),
        mock_stat(b.addr, "requests"),
        fig.render()
    );
    Outcome {
        figures: outcome.figures + &seen,
        ..outcome
    }
}

/// Hang or head-then-silence: every request waits for the fallback. Half
/// non-stream (`max_tokens` 64, so a deadline scaled to it is short), half
/// stream. 45 s is "seconds, not minutes" with room for a 30 s first-token
/// default; today's defaults are 120 s and 600 s.
fn stuck(addr: std::net::SocketAddr, plan: &Plan) -> Outcome {
    const WITHIN: u32 = 45_000;
    let n = if plan.quick { 4 } else { 10 };
    let load = Load {
        threads: n,
        duration: plan.secs(300, 90),
        max_requests: n as u64,
        fresh_conns: true,
        timeout: plan.secs(150, 60),
    };
    let tally = LoadRun::start(addr, &load, |n| Req::chat("main", n % 2 == 1)).wait();
    let answered: Vec<u32> = tally
        .records
        .iter()
        .filter(|r| r.ok)
        .map(|r| r.latency_ms)
        .collect();
    let worst = answered.iter().copied().max().unwrap_or(u32::MAX);
    let waited = match answered.len() {
        0 => format!("none (clients gave up after {} s)", load.timeout.as_secs()),
        _ => format!("max:{worst}"),
    };
    let figures = format!(
        "requests={} client_errors={} ({}) time_to_fallback_ms={waited} answered_by_fallback={}",
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        tally.records.iter().filter(|r| r.by_fallback).count()
    );
    let pass = tally.failed() == 0 && tally.total() == n as u64 && worst <= WITHIN;
    Outcome::new(
        figures,
        pass,
        "every request answered by the fallback within 45 s",
    )
}

/// A cut body or stream on every primary answer: cut non-stream answers are
/// retried or fall back; cut streams (past the commit point) end in an error
/// event, but count for the breaker, so traffic moves to the fallback.
fn cut(addr: std::net::SocketAddr, plan: &Plan, stream: bool) -> Outcome {
    let n = if plan.quick { 60 } else { 200 };
    let load = Load {
        threads: 4,
        duration: plan.secs(120, 45),
        max_requests: n,
        fresh_conns: false,
        timeout: Duration::from_secs(30),
    };
    let tally = LoadRun::start(addr, &load, move |_| Req::chat("main", stream)).wait();
    let moved = moved_to_fallback(&tally, 10);
    let figures = format!(
        "requests={} client_errors={} ({}) time_to_fallback_ms={} last_10_on_fallback={}",
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        tally
            .first_fallback_ms()
            .map_or("never".into(), |t| t.to_string()),
        moved
    );
    if stream {
        let pass = moved;
        Outcome::new(
            figures,
            pass,
            "breaker counts cut streams: traffic moves to the fallback",
        )
    } else {
        let pass = tally.failed() == 0 && moved;
        Outcome::new(
            figures,
            pass,
            "0 client errors, traffic moves to the fallback",
        )
    }
}

fn moved_to_fallback(t: &Tally, last: usize) -> bool {
    t.records.len() >= last
        && t.records[t.records.len() - last..]
            .iter()
            .all(|r| r.ok && r.by_fallback)
}
