//! Scenarios 4 to 7: slowloris, an idle flood, stream clients that never
//! read, and keyless 16 MiB bodies — other clients still served, and the
//! gateway's fds and memory back where they started afterwards.

use std::time::{Duration, Instant};

use crate::gauge::Gauge;
use crate::hostile::{self, probes};
use crate::load::{Load, LoadRun, Req};
use crate::procs::{CLIENT_KEY, Env, KEYS, Proc, SERVER, mock_stat, models, provider};
use crate::{Outcome, Plan};

/// Slack for fds: pooled upstream connections the probes left open.
pub const FD_SLACK: u64 = 4;
pub const SETTLE: Duration = Duration::from_secs(15);

/// A gateway with `main` on mock `a` (with `fault_a`) falling back to mock `b`.
pub struct Stage {
    pub gw: Proc,
    pub a: Proc,
    _b: Proc,
    pub config: String,
}

pub fn stage(env: &Env, keyed: bool, fault_a: &str) -> Stage {
    let (a, b) = (env.mock(), env.mock());
    let keys = if keyed { KEYS } else { "" };
    let config = format!(
        "{SERVER}{keys}{}{}{}",
        provider("a", a.addr, fault_a),
        provider("b", b.addr, ""),
        models(true)
    );
    let gw = env.gateway("clients", &config);
    // Fill the upstream pool first, so the start figures include it.
    let warm = Load {
        threads: 2,
        duration: Duration::from_secs(1),
        max_requests: 50,
        fresh_conns: false,
        timeout: Duration::from_secs(10),
    };
    let key = keyed.then_some(CLIENT_KEY);
    LoadRun::start(gw.addr, &warm, move |_| Req {
        key,
        ..Req::chat("main", false)
    })
    .wait();
    Stage {
        gw,
        a,
        _b: b,
        config,
    }
}

pub fn slowloris(env: &Env, plan: &Plan) -> Outcome {
    let s = stage(env, false, "");
    let gauge = Gauge::start(s.gw.pid());
    let hold = plan.secs(30, 6);
    let run = probes(s.gw.addr, hold + Duration::from_secs(1), None);
    let (opened, cut) = hostile::slowloris(s.gw.addr, if plan.quick { 150 } else { 400 }, hold);
    let tally = run.wait();
    let fig = gauge.finish(FD_SLACK, SETTLE);
    let figures = format!(
        "slow_conns={opened} cut_by_server={cut} probe_requests={} client_errors={} ({}) {}",
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        fig.render()
    );
    let pass = tally.total() > 0 && tally.failed() == 0 && fig.fd_end <= fig.fd_start + FD_SLACK;
    Outcome::new(figures, pass, "others served, fds back to start")
}

pub fn idle_flood(env: &Env, plan: &Plan, own_nofile: u64) -> Outcome {
    let s = stage(env, false, "");
    let gauge = Gauge::start(s.gw.pid());
    let want = if plan.quick { 1_500 } else { 3_000 };
    let n = want.min(own_nofile.saturating_sub(500) as usize);
    let hold = plan.secs(20, 5);
    let logged = s.gw.log_count();
    let addr = s.gw.addr;
    let flood = std::thread::spawn(move || hostile::idle(addr, n, hold));
    std::thread::sleep(Duration::from_millis(500));
    let run = probes(
        s.gw.addr,
        hold.saturating_sub(Duration::from_millis(500)),
        None,
    );
    let tally = run.wait();
    let opened = flood.join().unwrap_or(0);
    let log_lines = s.gw.log_count() - logged;
    let fig = gauge.finish(FD_SLACK, SETTLE);
    let figures = format!(
        "idle_conns={opened}/{n} gateway_nofile_at_spawn={} probe_requests={} client_errors={} ({}) log_lines={log_lines} {}",
        env.gateway_nofile,
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        fig.render()
    );
    // Logging EMFILE once per interval is a few lines, not hundreds a second.
    let quiet = log_lines <= 10 + hold.as_secs();
    let pass =
        tally.total() > 0 && tally.failed() == 0 && quiet && fig.fd_end <= fig.fd_start + FD_SLACK;
    Outcome::new(figures, pass, "others served, log quiet, fds back to start")
}

pub fn non_reading_streams(env: &Env, plan: &Plan) -> Outcome {
    const RSS_BOUND_MIB: f64 = 64.0;
    let s = stage(env, false, "");
    let gauge = Gauge::start(s.gw.pid());
    let (n, text) = if plan.quick {
        (50, 256 << 10)
    } else {
        (200, 1 << 20)
    };
    let hold = plan.secs(20, 5);
    let run = probes(s.gw.addr, hold, None);
    let held = hostile::non_reading_streams(s.gw.addr, n, text, hold, None);
    let tally = run.wait();
    let fig = gauge.finish(FD_SLACK, SETTLE);
    let open_streams = || {
        let started = mock_stat(s.a.addr, "streams_started");
        let ended =
            mock_stat(s.a.addr, "streams_completed") + mock_stat(s.a.addr, "streams_aborted");
        started.saturating_sub(ended)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while open_streams() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let still_open = open_streams();
    let figures = format!(
        "stream_clients={held} text_kib={} probe_requests={} client_errors={} ({}) upstream_streams_still_open={still_open} rss_growth_mib={:.1} {}",
        text >> 10,
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        fig.rss_growth_mib(),
        fig.render()
    );
    let pass = tally.total() > 0
        && tally.failed() == 0
        && still_open == 0
        && fig.rss_growth_mib() <= RSS_BOUND_MIB;
    Outcome::new(
        figures,
        pass,
        "others served, RSS growth <= 64 MiB, upstream streams released",
    )
}

pub fn keyless_bodies(env: &Env, plan: &Plan) -> Outcome {
    const PEAK_MIB: f64 = 128.0;
    const KEPT_MIB: f64 = 32.0;
    let s = stage(env, true, "");
    let gauge = Gauge::start(s.gw.pid());
    let n = if plan.quick { 40 } else { 100 };
    let ends = hostile::keyless_bodies(s.gw.addr, n);
    let fig = gauge.finish(FD_SLACK, SETTLE);
    let refused = |k: &str| {
        matches!(
            k,
            "401" | "403" | "413" | "429" | "503" | "closed" | "reset"
        )
    };
    let all_refused = ends.keys().all(|k| refused(k));
    let figures = format!(
        "clients={n} body_mib=16 ends={} rss_growth_mib={:.1} rss_kept_mib={:.1} {}",
        hostile::render(&ends),
        fig.rss_growth_mib(),
        fig.rss_kept_mib(),
        fig.render()
    );
    let pass = all_refused && fig.rss_growth_mib() <= PEAK_MIB && fig.rss_kept_mib() <= KEPT_MIB;
    Outcome::new(
        figures,
        pass,
        "all refused, RSS growth <= 128 MiB, <= 32 MiB kept",
    )
}
