//! The fuzz runner: `tollgate-fuzz [--target NAME|all] [--inputs N] [--seed S]
//! [--root DIR] [--no-secret-oracle] [--no-save] [--replay]`. Prints one
//! report per target; exits 1 if any input broke an oracle or panicked.

use std::path::PathBuf;
use std::process::ExitCode;

use tollgate::fuzz::{self, Options, RunConfig};

#[global_allocator]
static ALLOC: fuzz::alloc::CountingAlloc = fuzz::alloc::CountingAlloc;

const USAGE: &str = "usage: tollgate-fuzz [--target NAME|all] [--inputs N] [--seed S] [--root DIR] [--no-secret-oracle] [--no-save] [--replay]";

fn main() -> ExitCode {
    let mut cfg = RunConfig {
        inputs: 100_000,
        seed: 1,
        root: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        options: Options::default(),
        save: true,
    };
    let mut target = "all".to_string();
    let mut replay = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--target" => target = value(),
            "--inputs" => cfg.inputs = value().parse().unwrap_or(cfg.inputs),
            "--seed" => cfg.seed = value().parse().unwrap_or(cfg.seed),
            "--root" => cfg.root = PathBuf::from(value()),
            "--no-secret-oracle" => cfg.options.secret_oracle = false,
            "--no-save" => cfg.save = false,
            "--replay" => replay = true,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let targets: Vec<_> = fuzz::targets()
        .into_iter()
        .filter(|t| target == "all" || t.name() == target)
        .collect();
    if targets.is_empty() {
        let names: Vec<_> = fuzz::targets().iter().map(|t| t.name()).collect();
        eprintln!("unknown target `{target}`; targets: {}", names.join(", "));
        return ExitCode::from(2);
    }
    // The fuzzed code runs on a worker-sized stack, as in the gateway.
    let failed = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut failed = false;
            println!(
                "# tollgate-fuzz: seed {}, {} inputs per target\n",
                cfg.seed, cfg.inputs
            );
            for t in targets {
                if replay {
                    let broken = fuzz::replay(t, &cfg.root, &cfg.options);
                    println!("## {}: {} corpus files still break", t.name(), broken.len());
                    for (path, why) in &broken {
                        println!("- {}: {why}", path.display());
                    }
                    failed |= !broken.is_empty();
                } else {
                    let report = fuzz::run(t, &cfg);
                    println!("{report}");
                    failed |= report.failures > 0;
                }
            }
            failed
        })
        .expect("spawn the fuzz thread")
        .join()
        .unwrap_or(true);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
