//! Scenario 8: a mixed soak — normal keyed traffic against a primary that
//! fails a fifth of its answers, while the hostile clients and valid
//! reloads take turns; the normal clients must see no error, and fds and
//! memory must come back.

use std::time::{Duration, Instant};

use crate::clients::{FD_SLACK, stage};
use crate::gauge::Gauge;
use crate::hostile;
use crate::load::{Load, LoadRun, Req};
use crate::procs::{CLIENT_KEY, Env};
use crate::{Outcome, Plan};

pub fn soak(env: &Env, plan: &Plan) -> Outcome {
    const PEAK_MIB: f64 = 128.0;
    const KEPT_MIB: f64 = 32.0;
    let s = stage(env, true, "error-rate=0.2");
    let gauge = Gauge::start(s.gw.pid());
    let fds_start = s.client_fds();
    let duration = Duration::from_secs(plan.soak_secs);
    let load = Load {
        threads: 4,
        duration,
        max_requests: u64::MAX,
        fresh_conns: false,
        timeout: Duration::from_secs(60),
    };
    let run = LoadRun::start(s.gw.addr, &load, |n| Req {
        key: Some(CLIENT_KEY),
        ..Req::chat("main", n % 3 == 0)
    });
    let deadline = Instant::now() + duration;
    let path = env.config_path("clients.toml");
    let mut rounds = [0u32; 6];
    let mut keyless = std::collections::BTreeMap::new();
    let addr = s.gw.addr;
    let turn = Duration::from_secs(3);
    let mut i = 0;
    while Instant::now() + turn < deadline {
        let key = Some(CLIENT_KEY);
        match i % 6 {
            0 => drop(hostile::slowloris(addr, 50, turn)),
            1 => drop(hostile::idle(addr, 300, turn)),
            2 => drop(hostile::non_reading_streams(addr, 20, 128 << 10, turn, key)),
            3 => {
                for (k, v) in hostile::keyless_bodies(addr, 10) {
                    *keyless.entry(k).or_insert(0) += v;
                }
            }
            4 => {
                let model = format!("\"model-a{i}\"");
                env.write_config(&path, &s.config.replace("\"model-a\"", &model));
                s.gw.sighup();
                std::thread::sleep(turn);
            }
            _ => std::thread::sleep(turn),
        }
        rounds[i % 6] += 1;
        i += 1;
    }
    let tally = run.wait();
    let fds_end = s.settle(fds_start);
    let fig = gauge.stop();
    let figures = format!(
        "secs={} requests={} client_errors={} ({}) p99_ms={} hostile_rounds(slowloris/idle/nonreading/keyless/reload)={}/{}/{}/{}/{} keyless_ends={} client_fds={fds_start}/{fds_end} rss_growth_mib={:.1} rss_kept_mib={:.1} {}",
        plan.soak_secs,
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        tally.latency_ms(0.99),
        rounds[0],
        rounds[1],
        rounds[2],
        rounds[3],
        rounds[4],
        hostile::render(&keyless),
        fig.rss_growth_mib(),
        fig.rss_kept_mib(),
        fig.render()
    );
    let pass = tally.total() > 0
        && tally.failed() == 0
        && fds_end <= fds_start + FD_SLACK
        && fig.rss_growth_mib() <= PEAK_MIB
        && fig.rss_kept_mib() <= KEPT_MIB;
    let expect = "0 client errors, fds back, RSS growth <= 128 MiB, <= 32 MiB kept";
    Outcome::new(figures, pass, expect)
}
