//! Scenarios 4 to 7: slowloris, an idle flood, stream clients that never
//! read, and keyless 16 MiB bodies — other clients still served, and the
//! gateway's fds and memory back where they started afterwards.

use std::time::{Duration, Instant};

use crate::gauge::Gauge;
use crate::hostile::{self, probes};
use crate::load::{Load, LoadRun, Req};
use crate::procs::{CLIENT_KEY, Env, KEYS, Proc, SERVER, mock_stat, models, provider};
use crate::{Outcome, Plan};

/// Slack for client fds: connections of the last probes not yet closed.
pub const FD_SLACK: i64 = 4;
/// The hostile clients stay this much longer than the probes run, so a
/// probe stuck behind them gives up (5 s) rather than be freed when they go.
const OUTLAST: Duration = Duration::from_secs(6);
pub const SETTLE: Duration = Duration::from_secs(15);

/// A gateway with `main` on mock `a` (with `fault_a`) falling back to mock `b`.
pub struct Stage {
    pub gw: Proc,
    pub a: Proc,
    pub b: Proc,
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
    Stage { gw, a, b, config }
}

impl Stage {
    /// The gateway's fds less the upstream connections the mocks see open
    /// (its pool may keep those): what clients hold, plus a constant.
    pub fn client_fds(&self) -> i64 {
        let upstream =
            mock_stat(self.a.addr, "connections_open") + mock_stat(self.b.addr, "connections_open");
        self.gw.fds() as i64 - upstream as i64
    }

    /// Waits (bounded) for the client fds to come back near `start`; the last count.
    pub fn settle(&self, start: i64) -> i64 {
        let deadline = Instant::now() + SETTLE;
        loop {
            let now = self.client_fds();
            if now <= start + FD_SLACK || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

pub fn slowloris(env: &Env, plan: &Plan) -> Outcome {
    let s = stage(env, false, "");
    let gauge = Gauge::start(s.gw.pid());
    let fds_start = s.client_fds();
    let hold = plan.secs(30, 6);
    let run = probes(s.gw.addr, hold, None);
    let n = if plan.quick { 150 } else { 400 };
    let (opened, cut) = hostile::slowloris(s.gw.addr, n, hold + OUTLAST);
    let tally = run.wait();
    let fds_end = s.settle(fds_start);
    let fig = gauge.stop();
    let figures = format!(
        "slow_conns={opened} cut_by_server={cut} probe_requests={} client_errors={} ({}) client_fds={fds_start}/{fds_end} {}",
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        fig.render()
    );
    let pass = tally.total() > 0 && tally.failed() == 0 && fds_end <= fds_start + FD_SLACK;
    Outcome::new(figures, pass, "others served, fds back to start")
}

pub fn idle_flood(env: &Env, plan: &Plan, own_nofile: u64) -> Outcome {
    let s = stage(env, false, "");
    let gauge = Gauge::start(s.gw.pid());
    let fds_start = s.client_fds();
    let want = if plan.quick { 1_500 } else { 3_000 };
    let n = want.min(own_nofile.saturating_sub(500) as usize);
    let hold = plan.secs(20, 5);
    let logged = s.gw.log_count();
    let addr = s.gw.addr;
    let flood = std::thread::spawn(move || hostile::idle(addr, n, hold + OUTLAST));
    std::thread::sleep(Duration::from_millis(500));
    let run = probes(
        s.gw.addr,
        hold.saturating_sub(Duration::from_millis(500)),
        None,
    );
    let tally = run.wait();
    let opened = flood.join().unwrap_or(0);
    let log_lines = s.gw.log_count() - logged;
    let fds_end = s.settle(fds_start);
    let fig = gauge.stop();
    let figures = format!(
        "idle_conns={opened}/{n} gateway_nofile_at_spawn={} probe_requests={} client_errors={} ({}) log_lines={log_lines} client_fds={fds_start}/{fds_end} {}",
        env.gateway_nofile,
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        fig.render()
    );
    // Logging EMFILE once per interval is a few lines, not hundreds a second.
    let quiet = log_lines <= 10 + hold.as_secs();
    let pass = tally.total() > 0 && tally.failed() == 0 && quiet && fds_end <= fds_start + FD_SLACK;
    Outcome::new(figures, pass, "others served, log quiet, fds back to start")
}

pub fn non_reading_streams(env: &Env, plan: &Plan) -> Outcome {
    const RSS_BOUND_MIB: f64 = 64.0;
    let s = stage(env, false, "");
    let gauge = Gauge::start(s.gw.pid());
    let fds_start = s.client_fds();
    let (n, answer) = if plan.quick {
        (50, 256 << 10)
    } else {
        (200, 1 << 20)
    };
    let hold = plan.secs(20, 5);
    let run = probes(s.gw.addr, hold, None);
    let held = hostile::non_reading_streams(s.gw.addr, n, answer, hold + OUTLAST, None);
    let tally = run.wait();
    let fds_end = s.settle(fds_start);
    let fig = gauge.stop();
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
        "stream_clients={held} answer_kib={} probe_requests={} client_errors={} ({}) upstream_streams_still_open={still_open} upstream_conns_open={} client_fds={fds_start}/{fds_end} rss_growth_mib={:.1} {}",
        answer >> 10,
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        mock_stat(s.a.addr, "connections_open"),
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
    let fds_start = s.client_fds();
    let n = if plan.quick { 40 } else { 100 };
    let ends = hostile::keyless_bodies(s.gw.addr, n);
    let fds_end = s.settle(fds_start);
    let fig = gauge.stop();
    let refused = |k: &str| {
        matches!(
            k,
            "401" | "403" | "413" | "429" | "503" | "closed" | "reset"
        )
    };
    let all_refused = ends.keys().all(|k| refused(k));
    let figures = format!(
        "clients={n} body_mib=16 ends={} client_fds={fds_start}/{fds_end} rss_growth_mib={:.1} rss_kept_mib={:.1} {}",
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
