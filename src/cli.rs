//! The command line: `serve` (the default), `check`, `models`, `mock-upstream`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::{self, Config, ConfigSource, DriverChoice};
use crate::runtime::{self, Driver};
use crate::server::Limits;

const USAGE: &str = "\
usage:
  tollgate [serve] [--config PATH] [--listen ADDR] [--workers N] [--driver auto|io_uring|epoll]
  tollgate check --config PATH
  tollgate models [--config PATH] [--all]
  tollgate mock-upstream --listen ADDR [--workers N] [--driver auto|io_uring|epoll] [--tls-cert PEM --tls-key PEM] [--fixtures DIR] [--mcp-era legacy|modern|both] [--mcp-page-size N] [--mcp-ttl-ms N]";

#[derive(Debug, Default)]
struct Flags {
    config: Option<String>,
    listen: Option<String>,
    workers: Option<usize>,
    driver: Option<DriverChoice>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    fixtures: Option<String>,
    /// `models`: the whole built-in catalog as well.
    all: bool,
}

fn parse_flags(args: &[String]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        match name {
            "--config" | "-c" => flags.config = Some(value()?),
            "--all" if inline.is_none() => flags.all = true,
            "--listen" => flags.listen = Some(value()?),
            "--tls-cert" => flags.tls_cert = Some(value()?),
            "--tls-key" => flags.tls_key = Some(value()?),
            "--fixtures" => flags.fixtures = Some(value()?),
            "--workers" => {
                flags.workers = Some(value()?.parse().map_err(|_| "--workers takes a number")?)
            }
            "--driver" => {
                flags.driver = Some(match value()?.as_str() {
                    "auto" => DriverChoice::Auto,
                    "io_uring" | "io-uring" | "uring" => DriverChoice::IoUring,
                    "epoll" | "legacy" => DriverChoice::Epoll,
                    other => return Err(format!("unknown driver `{other}`")),
                })
            }
            n if n.starts_with("--mcp-") => crate::mock_upstream::mcp::set_option(n, &value()?)?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(flags)
}

pub fn run(args: &[String]) -> ExitCode {
    let (command, rest) = match args.first().map(String::as_str) {
        Some("serve") => ("serve", &args[1..]),
        Some("check") => ("check", &args[1..]),
        Some("models") => ("models", &args[1..]),
        Some("mock-upstream") => ("mock-upstream", &args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("--version" | "-V") => {
            println!("tollgate {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => ("serve", args),
    };
    let flags = match parse_flags(rest) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tollgate: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        "check" => check(&flags),
        "models" => models(&flags),
        "mock-upstream" => mock_upstream(&flags),
        _ => serve(&flags),
    }
}

fn check(flags: &Flags) -> ExitCode {
    let Some(path) = &flags.config else {
        eprintln!("tollgate: check needs --config PATH\n{USAGE}");
        return ExitCode::from(2);
    };
    match config::load_file(&ConfigSource::File(path.into())) {
        Ok(c) => {
            println!(
                "{path}: ok ({} providers, {} models)",
                c.providers.len(),
                c.models.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                println!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Prints the model catalog as this config resolves it: each configured
/// deployment's upstream model, and with `--all` every built-in entry.
fn models(flags: &Flags) -> ExitCode {
    use crate::context_window::catalog::{self, Catalog, ResolvedCatalog};
    let Some((source, config)) = load_reporting(flags) else {
        return ExitCode::FAILURE;
    };
    let resolved = ResolvedCatalog::resolve(&config);
    println!("# models configured in {source}");
    print!("{}", catalog::render_configured(&config, &resolved));
    if flags.all {
        println!("\n# built-in catalog");
        print!("{}", catalog::render_builtin(Catalog::builtin()));
    }
    ExitCode::SUCCESS
}

struct Startup {
    addr: SocketAddr,
    workers: usize,
    driver: Driver,
    listeners: Vec<std::net::TcpListener>,
}

fn bind(listen: &str, workers: usize, driver: DriverChoice) -> Result<Startup, String> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| format!("`{listen}` is not an address like 127.0.0.1:8080"))?;
    let workers = if workers == 0 {
        runtime::available_cores()
    } else {
        workers
    };
    let driver = Driver::choose(driver);
    let (addr, listeners) = runtime::bind_listeners(addr, workers)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(Startup {
        addr,
        workers,
        driver,
        listeners,
    })
}

/// The inbound TLS config, when a certificate and key are given (both or neither).
fn server_tls(
    cert: &Option<String>,
    key: &Option<String>,
) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => crate::tls::server_config(cert, key).map(Some),
        (None, None) => Ok(None),
        _ => Err("a TLS certificate and key go together".into()),
    }
}

/// Everything a server command needs to start its workers.
struct Launch<'a> {
    /// The first worker's index (an admin listener's worker follows the API's).
    first_id: usize,
    listen: &'a str,
    workers: usize,
    driver: DriverChoice,
    limits: Limits,
    drain: Duration,
    tls_cert: &'a Option<String>,
    tls_key: &'a Option<String>,
}

/// Binds the listeners, loads the TLS config and starts the workers.
/// Binds and starts the workers; a failure is reported on stderr and
/// becomes the exit code.
fn launch<S, F>(l: Launch<'_>, make_service: F) -> Result<(Startup, runtime::WorkerSet), ExitCode>
where
    S: crate::server::Service,
    F: Fn(usize) -> S + Send + Sync + 'static,
{
    try_launch(l, make_service).map_err(|e| {
        eprintln!("tollgate: {e}");
        ExitCode::FAILURE
    })
}

fn try_launch<S, F>(l: Launch<'_>, make_service: F) -> Result<(Startup, runtime::WorkerSet), String>
where
    S: crate::server::Service,
    F: Fn(usize) -> S + Send + Sync + 'static,
{
    let mut start = bind(l.listen, l.workers, l.driver)?;
    let tls = server_tls(l.tls_cert, l.tls_key)?;
    let listeners = std::mem::take(&mut start.listeners);
    let workers = runtime::spawn_workers(
        l.first_id,
        listeners,
        start.driver,
        l.limits,
        l.drain,
        tls,
        make_service,
    )
    .map_err(|e| format!("cannot start workers: {e}"))?;
    Ok((start, workers))
}

/// The config `--config` (or the usual places) names, with every error
/// printed under its path when it is invalid.
fn load_reporting(flags: &Flags) -> Option<(config::ConfigSource, config::Config)> {
    let source = config::resolve_source(flags.config.as_deref());
    match config::load_file(&source) {
        Ok(c) => Some((source, c)),
        Err(errors) => {
            eprintln!("tollgate: config {source} is invalid:");
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            None
        }
    }
}

fn serve(flags: &Flags) -> ExitCode {
    let Some((source, mut config)) = load_reporting(flags) else {
        return ExitCode::FAILURE;
    };
    if let Some(l) = &flags.listen {
        config.server.listen = l.clone();
    }
    if let Some(w) = flags.workers {
        config.server.workers = w;
    }
    if let Some(d) = flags.driver {
        config.server.driver = d;
    }
    // Before any socket: reported once the listening line is out.
    let nofile = runtime::raise_nofile_limit();
    let mut generation = 1;
    if let Err(e) = check_exposure(&config) {
        eprintln!("tollgate: {e}");
        return ExitCode::FAILURE;
    }
    let first = crate::router::Snapshot::build(std::sync::Arc::new(config.clone()), generation);
    let startup_notes = snapshot_notes(&first);
    crate::router::publish(first);
    let worker_count = match config.server.workers {
        0 => runtime::available_cores(),
        n => n,
    };
    if let Err(e) = crate::governance::runtime::start(&config, worker_count + 1) {
        eprintln!("tollgate: governance: {e}");
        return ExitCode::FAILURE;
    }
    spawn_dns_refresher();
    if config.mcp.enabled() {
        crate::mcp::init_sessions(&config);
        crate::mcp::supervisor::start();
    }

    let signals = match Signals::new([SIGHUP, SIGTERM, SIGINT]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = &config.server;
    let launched = launch(
        Launch {
            first_id: 0,
            listen: &server.listen,
            workers: server.workers,
            driver: server.driver,
            limits: Limits::from_config(server),
            drain: Duration::from_millis(server.drain_timeout_ms),
            tls_cert: &server.tls_cert,
            tls_key: &server.tls_key,
        },
        crate::gateway::Gateway::new,
    );
    let (start, workers) = match launched {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!(
        "tollgate: listening on {} with {} workers (driver {}), config {source}, {} models",
        start.addr,
        start.workers,
        start.driver.name(),
        config.models.len()
    );
    let admin_workers = match &config.admin.listen {
        Some(listen) => {
            let launched = launch(
                Launch {
                    first_id: start.workers,
                    listen,
                    workers: 1,
                    driver: server.driver,
                    limits: Limits::from_config(server),
                    drain: Duration::from_millis(server.drain_timeout_ms),
                    tls_cert: &server.tls_cert,
                    tls_key: &server.tls_key,
                },
                crate::gateway::Gateway::admin,
            );
            match launched {
                Ok((admin, set)) => {
                    eprintln!("tollgate: admin API listening on {}", admin.addr);
                    Some(set)
                }
                Err(code) => return code,
            }
        }
        None => None,
    };
    match nofile {
        Ok((before, after)) if before != after => {
            eprintln!("tollgate: open files limit {after} (raised from {before})");
        }
        Ok((_, after)) => eprintln!("tollgate: open files limit {after}"),
        Err(e) => eprintln!("tollgate: cannot read the open files limit: {e}"),
    }
    for note in startup_notes {
        eprintln!("tollgate: {note}");
    }
    wait_for_signals(signals, |reload| {
        if reload {
            generation += 1;
            reload_config(&source, &config, generation);
        }
    });
    eprintln!("tollgate: shutting down: draining in-flight requests");
    runtime::lifecycle().begin_shutdown();
    workers.join();
    if let Some(set) = admin_workers {
        set.join();
    }
    eprintln!("tollgate: stopped");
    ExitCode::SUCCESS
}

/// A gateway reachable from other hosts must ask for keys, unless the
/// operator says otherwise: it spends the providers' keys for whoever calls.
fn check_exposure(config: &Config) -> Result<(), String> {
    let public = config
        .server
        .listen
        .parse::<SocketAddr>()
        .is_ok_and(|a| !a.ip().is_loopback());
    if public && !config::keys_required(config) && !config.governance.allow_unauthenticated {
        return Err(format!(
            "refusing to serve {} with no key configured: anyone who reaches it could spend the providers' keys. Add [[keys]] or [[admin.tokens]], or set `[governance] allow_unauthenticated = true`",
            config.server.listen
        ));
    }
    Ok(())
}

/// Provider addresses are resolved off the request path; this keeps them
/// current when DNS changes (cloud endpoints move).
fn spawn_dns_refresher() {
    let _ = std::thread::Builder::new()
        .name("tollgate-dns".into())
        .spawn(|| {
            loop {
                std::thread::sleep(Duration::from_secs(30));
                if crate::router::refresh_addresses() {
                    eprintln!("tollgate: provider addresses changed: routing snapshot refreshed");
                }
            }
        });
}

/// Blocks on signals: SIGHUP calls `on_signal(true)`; SIGTERM/SIGINT return.
fn wait_for_signals(mut signals: Signals, mut on_signal: impl FnMut(bool)) {
    for signal in signals.forever() {
        match signal {
            SIGHUP => on_signal(true),
            _ => return,
        }
    }
}

fn reload_config(source: &ConfigSource, running: &Config, generation: u64) {
    match config::load_file(source) {
        Ok(new) => {
            if format!("{:?}", new.server) != format!("{:?}", running.server) {
                eprintln!("tollgate: reload: [server] changes take effect on restart only");
            }
            publish_logged(crate::router::Snapshot::build(
                std::sync::Arc::new(new.clone()),
                generation,
            ));
            crate::governance::runtime::reconfigure(&new);
            if new.mcp.enabled() {
                crate::mcp::supervisor::start();
            }
            eprintln!(
                "tollgate: reload: config {source} applied (generation {generation}, {} models)",
                new.models.len()
            );
        }
        Err(errors) => {
            eprintln!("tollgate: reload rejected, keeping the running config: {errors}");
        }
    }
}

/// What the operator (never a client) should know about a snapshot: which
/// providers cannot serve and why — the variable or file, never a value —
/// and whether the config can serve at all.
fn snapshot_notes(snapshot: &crate::router::Snapshot) -> Vec<String> {
    let mut notes: Vec<String> = snapshot
        .disabled
        .iter()
        .map(|(name, why)| format!("provider `{name}` is disabled: {why}"))
        .collect();
    if let Some(why) = snapshot.unready {
        notes.push(format!("not ready: {why}"));
    }
    notes
}

/// Publishes a reloaded snapshot, logging its notes first.
fn publish_logged(snapshot: crate::router::Snapshot) {
    for note in snapshot_notes(&snapshot) {
        eprintln!("tollgate: reload: {note}");
    }
    crate::router::publish(snapshot);
}

fn mock_upstream(flags: &Flags) -> ExitCode {
    let listen = flags.listen.as_deref().unwrap_or("127.0.0.1:9090");
    if let Some(dir) = &flags.fixtures {
        crate::mock_upstream::fixtures::set_root(dir.into());
    }
    let signals = match Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut limits = Limits::from_config(&config::ServerConfig::default());
    limits.max_body_bytes = 64 * 1024 * 1024;
    let launched = launch(
        Launch {
            first_id: 0,
            listen,
            workers: flags.workers.unwrap_or(0),
            driver: flags.driver.unwrap_or(DriverChoice::Auto),
            limits,
            drain: Duration::from_millis(100),
            tls_cert: &flags.tls_cert,
            tls_key: &flags.tls_key,
        },
        crate::mock_upstream::MockUpstream::new,
    );
    let (start, workers) = match launched {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!(
        "tollgate mock-upstream: listening on {} with {} workers (driver {})",
        start.addr,
        start.workers,
        start.driver.name()
    );
    wait_for_signals(signals, |_| {});
    runtime::lifecycle().begin_shutdown();
    workers.join();
    ExitCode::SUCCESS
}
