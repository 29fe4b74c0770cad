//! A worker thread: pin to a core, build the runtime for the chosen driver,
//! accept until shutdown, then drain in-flight requests within a deadline.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monoio::io::Canceller;
use monoio::net::TcpListener;

use super::fds::{AcceptBackoff, is_resource_exhaustion};
use super::lifecycle;
use crate::config::DriverChoice;
use crate::server::{Limits, Service, WorkerGauge, serve_connection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Epoll,
}

impl Driver {
    /// `auto` means io_uring when this kernel allows it.
    pub fn choose(choice: DriverChoice) -> Driver {
        match choice {
            DriverChoice::IoUring => Driver::IoUring,
            DriverChoice::Epoll => Driver::Epoll,
            DriverChoice::Auto if monoio::utils::detect_uring() => Driver::IoUring,
            DriverChoice::Auto => Driver::Epoll,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Driver::IoUring => "io_uring",
            Driver::Epoll => "epoll",
        }
    }
}

pub struct WorkerSet {
    handles: Vec<JoinHandle<()>>,
}

impl WorkerSet {
    pub fn join(self) {
        for h in self.handles {
            let _ = h.join();
        }
    }
}

/// Starts one worker per listener. `make_service` runs on each worker thread.
pub fn spawn_workers<S, F>(
    first_id: usize,
    listeners: Vec<std::net::TcpListener>,
    driver: Driver,
    limits: Limits,
    drain_timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    make_service: F,
) -> std::io::Result<WorkerSet>
where
    S: Service,
    F: Fn(usize) -> S + Send + Sync + 'static,
{
    let make_service = Arc::new(make_service);
    let cpus = super::allowed_cpus();
    lifecycle()
        .workers_total
        .fetch_add(listeners.len(), Ordering::SeqCst);
    let mut handles = Vec::new();
    for (i, std_listener) in listeners.into_iter().enumerate() {
        let id = first_id + i;
        let make_service = make_service.clone();
        let limits = limits.clone();
        let tls = tls.clone();
        let cpus = cpus.clone();
        let handle = std::thread::Builder::new()
            .name(format!("tollgate-w{id}"))
            .spawn(move || {
                // Pinning is best effort: a restricted cpuset must not stop the worker.
                let _ = monoio::utils::bind_to_cpu_set([cpus[id % cpus.len()]]);
                let task = worker_main(id, std_listener, limits, drain_timeout, tls, make_service);
                let result = match driver {
                    Driver::IoUring => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                        .with_entries(4096)
                        .enable_timer()
                        .build()
                        .map(|mut rt| rt.block_on(task)),
                    Driver::Epoll => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                        .enable_timer()
                        .build()
                        .map(|mut rt| rt.block_on(task)),
                };
                if let Err(e) = result {
                    eprintln!(
                        "tollgate: worker {id} could not start the {} runtime: {e}",
                        driver.name()
                    );
                    std::process::exit(1);
                }
            })?;
        handles.push(handle);
    }
    Ok(WorkerSet { handles })
}

async fn worker_main<S, F>(
    id: usize,
    std_listener: std::net::TcpListener,
    limits: Limits,
    drain_timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    make_service: Arc<F>,
) where
    S: Service,
    F: Fn(usize) -> S,
{
    let listener = match std_listener
        .set_nonblocking(true)
        .and_then(|_| TcpListener::from_std(std_listener))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tollgate: worker {id} cannot use its listener: {e}");
            std::process::exit(1);
        }
    };
    let acceptor = tls.map(monoio_rustls::TlsAcceptor::from);
    let service = Rc::new(make_service(id));
    let limits = Rc::new(limits);
    let gauge = Rc::new(WorkerGauge::default());
    let canceller = Canceller::new();
    let handle = canceller.handle();

    // The shutdown flag is set by the signal thread; a worker looks at it often
    // enough to stop accepting promptly, without cross-thread wake-ups.
    monoio::spawn(async move {
        while !lifecycle().is_shutting_down() {
            monoio::time::sleep(Duration::from_millis(25)).await;
        }
        canceller.cancel();
    });

    monoio::spawn(super::memory::collect_after_bursts(gauge.clone()));
    lifecycle().workers_up.fetch_add(1, Ordering::SeqCst);
    let mut backoff = AcceptBackoff::default();
    loop {
        match listener.cancelable_accept(handle.clone()).await {
            Ok((stream, _peer)) => {
                backoff.succeeded();
                let conn = serve_connection(
                    stream,
                    acceptor.clone(),
                    service.clone(),
                    limits.clone(),
                    gauge.clone(),
                );
                monoio::spawn(super::contain::Contained(conn));
            }
            Err(_) if lifecycle().is_shutting_down() => break,
            Err(e) => {
                // Out of descriptors, the listener fails the same way until a
                // connection closes: stop accepting a while (pending clients
                // wait in the backlog) and log once per interval.
                let (mut wait, log) = backoff.failed(Instant::now());
                if !is_resource_exhaustion(&e) {
                    wait = Duration::ZERO;
                }
                if let Some(count) = log {
                    eprintln!(
                        "tollgate: worker {id} accept failed ({count} since last report): {e}; \
                         pausing accepts for {} ms",
                        wait.as_millis()
                    );
                }
                if !wait.is_zero() {
                    monoio::time::sleep(wait).await;
                }
            }
        }
    }
    drop(listener);
    gauge.draining.set(true);
    let deadline = Instant::now() + drain_timeout;
    while gauge.in_flight.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
    if gauge.in_flight.get() > 0 {
        eprintln!(
            "tollgate: worker {id} drain timeout with {} requests in flight",
            gauge.in_flight.get()
        );
    }
}
