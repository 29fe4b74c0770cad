//! Scenario 3: a SIGHUP storm under load, cycling valid, broken and empty
//! config files; the clients must not notice and the gateway must end on
//! the last valid file.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::gauge::Gauge;
use crate::load::{Conn, Load, LoadRun, Req};
use crate::procs::{Env, SERVER, get, models, provider};
use crate::{Outcome, Plan};

pub fn sighup_storm(env: &Env, plan: &Plan) -> Outcome {
    let (a, b) = (env.mock(), env.mock());
    let valid = |upstream: &str| {
        format!(
            "{SERVER}{}{}{}",
            provider("a", a.addr, ""),
            provider("b", b.addr, ""),
            models(true)
        )
        .replace("\"model-a\"", &format!("\"{upstream}\""))
    };
    let path = env.config_path("storm.toml");
    env.write_config(&path, &valid("model-a"));
    let gw = env.gateway_at(&path);
    let gauge = Gauge::start(gw.pid());
    let load = Load {
        threads: 4,
        duration: Duration::from_secs(300),
        max_requests: u64::MAX,
        fresh_conns: false,
        timeout: Duration::from_secs(30),
    };
    let run = LoadRun::start(gw.addr, &load, |n| Req::chat("main", n % 3 == 0));
    let reloads = if plan.quick { 30 } else { 100 };
    for i in 0..reloads {
        let text = match i % 6 {
            0 | 2 | 4 => valid(&format!("model-v{i}")),
            1 => "[[models]\nname = = \"broken\"\n".to_string(),
            3 => String::new(),
            _ => valid("x").replace("provider = \"a\"", "provider = \"nowhere\""),
        };
        env.write_config(&path, &text);
        gw.sighup();
        std::thread::sleep(Duration::from_millis(40));
    }
    // End on a known valid file, then an empty one that must be refused.
    std::thread::sleep(Duration::from_millis(500));
    env.write_config(&path, &valid("model-last"));
    gw.sighup();
    let on_last = until(Duration::from_secs(10), || {
        upstream_model(gw.addr).as_deref() == Some("model-last")
    });
    let before_empty = gw.log_count();
    env.write_config(&path, "");
    gw.sighup();
    let empty_seen = gw
        .wait_log(
            before_empty,
            &["applied", "rejected"],
            Duration::from_secs(10),
        )
        .is_some();
    std::thread::sleep(Duration::from_millis(300));
    let tally = run.finish();
    let final_model = upstream_model(gw.addr).unwrap_or_else(|| "none".into());
    let ready = get(gw.addr, "/readyz").map_or(0, |(s, _)| s);
    let fig = gauge.stop();
    let applied = gw.log_matching("reload: config");
    let rejected = gw.log_matching("reload rejected");
    let figures = format!(
        "sighups={} applied={applied} rejected={rejected} requests={} client_errors={} ({}) final_model={final_model} last_valid_applied={on_last} empty_reload_logged={empty_seen} readyz={ready} {}",
        reloads + 2,
        tally.total(),
        tally.failed(),
        tally.errors_text(),
        fig.render()
    );
    let pass =
        tally.total() > 0 && tally.failed() == 0 && final_model == "model-last" && ready == 200;
    Outcome::new(
        figures,
        pass,
        "0 client errors, still on the last valid config, ready",
    )
}

/// The upstream model the gateway sends `main` to now (`x-tollgate-model`).
fn upstream_model(addr: SocketAddr) -> Option<String> {
    let mut c = Conn::connect(addr, Duration::from_secs(5)).ok()?;
    let a = c
        .exchange(&Req::chat("main", false).bytes(), Duration::from_secs(10))
        .ok()?;
    if a.status != 200 {
        return Some(format!("status-{}", a.status));
    }
    a.header("x-tollgate-model").map(str::to_string)
}

fn until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
