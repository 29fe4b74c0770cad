//! `tollgate-faults`: the fault suite. Runs the release gateway and mock
//! upstreams as real processes on 127.0.0.1 and puts each through one fault
//! (a failing, hanging or cutting upstream, a SIGHUP storm, hostile
//! clients, a mixed soak), printing its figures and a PASS/FAIL against
//! the expectation of issue 10. Exits non-zero if any scenario fails.

mod clients;
mod gauge;
mod hostile;
mod load;
mod procs;
mod reload;
mod soak;
mod upstream;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use upstream::Fault;

pub struct Plan {
    pub quick: bool,
    pub soak_secs: u64,
    /// The suite's own soft fd limit, after raising it.
    pub own_nofile: u64,
}

impl Plan {
    /// A scenario's length: `full` seconds, or `quick` with `--quick`.
    pub fn secs(&self, full: u64, quick: u64) -> Duration {
        Duration::from_secs(if self.quick { quick } else { full })
    }
}

pub struct Outcome {
    pub figures: String,
    pub pass: bool,
    pub expect: &'static str,
}

impl Outcome {
    pub fn new(figures: String, pass: bool, expect: &'static str) -> Outcome {
        Outcome {
            figures,
            pass,
            expect,
        }
    }
}

const SCENARIOS: [&str; 12] = [
    "half-errors-fallback",
    "half-errors-alone",
    "hang",
    "hang-body",
    "cut-body",
    "cut-stream",
    "sighup-storm",
    "slowloris",
    "idle-flood",
    "non-reading-streams",
    "keyless-bodies",
    "soak",
];

fn run(name: &str, env: &procs::Env, plan: &Plan) -> Outcome {
    match name {
        "half-errors-fallback" => upstream::half_errors(env, plan, true),
        "half-errors-alone" => upstream::half_errors(env, plan, false),
        "hang" => upstream::fault_with_fallback(env, plan, Fault::Hang),
        "hang-body" => upstream::fault_with_fallback(env, plan, Fault::HangBody),
        "cut-body" => upstream::fault_with_fallback(env, plan, Fault::CutBody),
        "cut-stream" => upstream::fault_with_fallback(env, plan, Fault::CutStream),
        "sighup-storm" => reload::sighup_storm(env, plan),
        "slowloris" => clients::slowloris(env, plan),
        "idle-flood" => clients::idle_flood(env, plan, plan.own_nofile),
        "non-reading-streams" => clients::non_reading_streams(env, plan),
        "keyless-bodies" => clients::keyless_bodies(env, plan),
        _ => soak::soak(env, plan),
    }
}

const USAGE: &str =
    "usage: tollgate-faults [--scenario NAME|all] [--quick] [--soak-secs N] [--bin PATH]";

struct Args {
    scenario: String,
    quick: bool,
    soak_secs: Option<u64>,
    bin: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        scenario: "all".into(),
        quick: false,
        soak_secs: None,
        bin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--scenario" => args.scenario = value()?,
            "--quick" => args.quick = true,
            "--soak-secs" => {
                let v = value()?;
                args.soak_secs = Some(v.parse().map_err(|_| format!("bad --soak-secs {v}"))?);
            }
            "--bin" => args.bin = Some(value()?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.scenario != "all" && !SCENARIOS.contains(&args.scenario.as_str()) {
        return Err(format!(
            "unknown scenario {}; one of: all, {}",
            args.scenario,
            SCENARIOS.join(", ")
        ));
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("tollgate-faults: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let (nofile_before, own_nofile) = procs::raise_nofile();
    let bin = args.bin.unwrap_or_else(|| {
        let me = std::env::current_exe().expect("own path");
        me.with_file_name("tollgate")
    });
    if !bin.exists() {
        eprintln!(
            "tollgate-faults: no gateway binary at {} (give --bin)",
            bin.display()
        );
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("tollgate-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The gateway starts with the limit a login shell gives, so raising it is its job.
    let env = procs::Env {
        bin,
        dir: dir.clone(),
        gateway_nofile: nofile_before.min(1024),
    };
    let plan = Plan {
        quick: args.quick,
        soak_secs: args.soak_secs.unwrap_or(if args.quick { 30 } else { 600 }),
        own_nofile,
    };
    println!(
        "# tollgate-faults: {} mode, gateway {}, gateway fd soft limit {}, suite fd limit {}",
        if plan.quick { "quick" } else { "full" },
        env.bin.display(),
        env.gateway_nofile,
        own_nofile
    );
    let chosen: Vec<&str> = match args.scenario.as_str() {
        "all" => SCENARIOS.to_vec(),
        one => vec![SCENARIOS.iter().copied().find(|s| *s == one).unwrap()],
    };
    let mut failed = 0;
    let total = chosen.len();
    for name in chosen {
        let t0 = Instant::now();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(name, &env, &plan)))
                .unwrap_or_else(|_| {
                    Outcome::new(
                        "the scenario itself failed (see stderr)".into(),
                        false,
                        "runs",
                    )
                });
        let verdict = if outcome.pass { "PASS" } else { "FAIL" };
        failed += usize::from(!outcome.pass);
        println!(
            "{name:<21} {verdict} [{}] {} ({:.0} s)",
            outcome.expect,
            outcome.figures,
            t0.elapsed().as_secs_f64()
        );
    }
    println!("# {} of {total} scenarios passed", total - failed);
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(i32::from(failed > 0));
}
