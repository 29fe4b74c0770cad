//! The attempt engine's seams: its time and its attempts, real in
//! production (monoio's timer, `prepare` against a real client) and
//! scripted in the tests. Generic, so the request path pays no dispatch.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::gateway::attempt::{Failure, Prepared, RequestCtx, prepare};
use crate::router::Deployment;
use crate::server::Responder;

/// The engine's time. Production sleeps on monoio's timer; the tests on a
/// virtual clock they move, so waits are checked without being waited.
pub trait Timer {
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

pub struct MonoioTimer;

impl Timer for MonoioTimer {
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        monoio::time::sleep(d)
    }
}

/// What an attempt that reached the commit point tells the engine.
pub trait Committed {
    fn set_probe(&mut self, probe: bool);
    fn ttfb_ms(&self) -> u64;
}

impl Committed for Prepared {
    fn set_probe(&mut self, probe: bool) {
        self.probe = probe;
    }
    fn ttfb_ms(&self) -> u64 {
        self.ttfb_ms
    }
}

/// Starts attempts and watches the client: `Live` in production, scripted
/// in the tests.
pub trait Attempts {
    type Won: Committed;
    fn attempt(
        &self,
        d: Arc<Deployment>,
        key: usize,
    ) -> impl Future<Output = Result<Self::Won, Failure>>;
    /// Resolves when the client has gone, checked while attempts run
    /// (production arms it after a grace period).
    fn client_gone(&self) -> impl Future<Output = ()>;
    /// Resolves when the client has gone, checked during a backoff.
    fn client_closed(&self) -> impl Future<Output = ()>;
}

/// Real attempts (`prepare`) for a real client.
pub struct Live<'a, 'r> {
    pub ctx: &'a RequestCtx<'a>,
    pub resp: &'a Responder<'r>,
}

impl Attempts for Live<'_, '_> {
    type Won = Prepared;
    fn attempt(
        &self,
        d: Arc<Deployment>,
        key: usize,
    ) -> impl Future<Output = Result<Prepared, Failure>> {
        prepare(self.ctx, d, key)
    }
    fn client_gone(&self) -> impl Future<Output = ()> {
        watch_client(self.resp)
    }
    fn client_closed(&self) -> impl Future<Output = ()> {
        self.resp.client_closed()
    }
}

/// Resolves when the client has gone away. Armed only after a short grace
/// period: most answers come sooner, and an unarmed watch costs no I/O.
async fn watch_client(resp: &Responder<'_>) {
    monoio::time::sleep(Duration::from_millis(20)).await;
    resp.client_closed().await
}
