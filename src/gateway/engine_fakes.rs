//! Stand-ins for the attempt engine's time and attempts: a virtual clock
//! that moves only to the next deadline when nothing else can run, and
//! attempts that play a script on it; and the plan and failures they use.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::config::{ProviderKind, load_str};
use crate::gateway::attempt::Failure;
use crate::gateway::engine::{Attempts, Committed, Timer};
use crate::router::{Deployment, Snapshot, health};
use crate::upstream::UpstreamError;

/// Virtual milliseconds. Sleeps are recorded as the engine asks for them.
#[derive(Default)]
pub struct FakeClock {
    now: Cell<u64>,
    deadlines: RefCell<Vec<u64>>,
    /// Every wait the engine asked for (hedge delays and backoffs), in ms.
    pub asked: RefCell<Vec<u64>>,
}

impl FakeClock {
    pub fn now(&self) -> u64 {
        self.now.get()
    }

    /// Resolves once virtual time reaches `at`.
    async fn until(&self, at: u64) {
        self.deadlines.borrow_mut().push(at);
        poll_fn(|_| {
            if self.now.get() >= at {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Moves time to the earliest deadline still ahead; false if there is none.
    fn advance(&self) -> bool {
        let now = self.now.get();
        let next = self
            .deadlines
            .borrow()
            .iter()
            .copied()
            .filter(|&at| at > now)
            .min();
        self.deadlines.borrow_mut().retain(|&at| at > now);
        next.map(|at| self.now.set(at)).is_some()
    }
}

impl Timer for FakeClock {
    // The deadline is taken when first polled: `select!` builds disabled
    // branches' futures without polling them, and those must not count.
    async fn sleep(&self, d: Duration) {
        let ms = d.as_millis() as u64;
        self.asked.borrow_mut().push(ms);
        self.until(self.now.get() + ms).await
    }
}

/// Runs `fut` on a monoio runtime, moving virtual time forward whenever it
/// cannot progress. Bounded: a stuck engine fails the test.
pub fn drive<F: Future>(clock: &FakeClock, fut: F) -> F::Output {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .expect("test runtime");
    rt.block_on(async {
        let mut fut = pin!(fut);
        for _ in 0..1_000 {
            if let Poll::Ready(out) = poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
                return out;
            }
            assert!(clock.advance(), "the engine waits on nothing");
        }
        panic!("the engine did not finish in 1000 steps")
    })
}

/// What a scripted attempt does: after `after_ms` of virtual time, answer
/// or fail.
pub struct Step {
    pub after_ms: u64,
    pub result: Result<(), Failure>,
}

pub fn ok(after_ms: u64) -> Step {
    Step {
        after_ms,
        result: Ok(()),
    }
}

pub fn fail(after_ms: u64, failure: Failure) -> Step {
    Step {
        after_ms,
        result: Err(failure),
    }
}

/// An attempt as launched: upstream model, key index, virtual start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub model: String,
    pub key: usize,
    pub at: u64,
}

/// The scripted winner.
#[derive(Debug)]
pub struct Answer {
    pub model: String,
    pub probe: bool,
    ttfb_ms: u64,
}

impl Committed for Answer {
    fn set_probe(&mut self, probe: bool) {
        self.probe = probe;
    }
    fn ttfb_ms(&self) -> u64 {
        self.ttfb_ms
    }
}

/// Attempts that play `steps` in launch order, for a client that stays
/// unless told when to leave.
pub struct Script<'c> {
    clock: &'c FakeClock,
    pub client_leaves_at: Option<u64>,
    steps: RefCell<VecDeque<Step>>,
    pub launched: RefCell<Vec<Launch>>,
    /// Attempts dropped before they finished.
    pub cancelled: Rc<Cell<u32>>,
}

impl<'c> Script<'c> {
    pub fn new(clock: &'c FakeClock, steps: impl IntoIterator<Item = Step>) -> Self {
        Script {
            clock,
            client_leaves_at: None,
            steps: RefCell::new(steps.into_iter().collect()),
            launched: RefCell::default(),
            cancelled: Rc::default(),
        }
    }

    pub fn launches(&self) -> Vec<(String, usize, u64)> {
        let launched = self.launched.borrow();
        launched
            .iter()
            .map(|l| (l.model.clone(), l.key, l.at))
            .collect()
    }
}

/// Counts the attempt as cancelled if dropped while still armed.
struct Unfinished(Option<Rc<Cell<u32>>>);

impl Unfinished {
    fn finish(&mut self) {
        self.0 = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(count) = self.0.take() {
            count.set(count.get() + 1);
        }
    }
}

impl Attempts for Script<'_> {
    type Won = Answer;

    fn attempt(
        &self,
        d: Arc<Deployment>,
        key: usize,
    ) -> impl Future<Output = Result<Answer, Failure>> {
        let step = self
            .steps
            .borrow_mut()
            .pop_front()
            .expect("more attempts than scripted");
        let at = self.clock.now();
        self.launched.borrow_mut().push(Launch {
            model: d.upstream_model.clone(),
            key,
            at,
        });
        let mut guard = Unfinished(Some(self.cancelled.clone()));
        async move {
            self.clock.until(at + step.after_ms).await;
            guard.finish();
            step.result.map(|()| Answer {
                model: d.upstream_model.clone(),
                probe: false,
                ttfb_ms: step.after_ms,
            })
        }
    }

    async fn client_gone(&self) {
        match self.client_leaves_at {
            Some(at) => self.clock.until(at).await,
            None => std::future::pending().await,
        }
    }

    fn client_closed(&self) -> impl Future<Output = ()> {
        self.client_gone()
    }
}

/// Models `a` (provider p: three keys) falling back to `b` then `c` (provider
/// q), each its own upstream model, with the given `[routing.retry]` lines.
pub fn plan(retry: &str) -> (Snapshot, Vec<Arc<Deployment>>) {
    let config = load_str(&format!(
        r#"
[routing.retry]
{retry}

[routing.breaker]
min_requests = 2
open_ms = 60000

[[providers]]
name = "p"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"
api_keys = ["env:PATH", "file:Cargo.toml", "file:Cargo.lock"]

[[providers]]
name = "q"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "a"
provider = "p"
upstream_model = "one"
fallbacks = ["b", "c"]

[[models]]
name = "b"
provider = "q"
upstream_model = "two"

[[models]]
name = "c"
provider = "q"
upstream_model = "three"
"#
    ))
    .expect("valid config");
    let snapshot = Snapshot::build(Arc::new(config), 1);
    health::sync(&snapshot);
    let targets = ["a", "b", "c"]
        .iter()
        .map(|m| snapshot.model(m).unwrap().deployments[0].clone())
        .collect();
    (snapshot, targets)
}

pub fn e500() -> Failure {
    Failure::Status {
        status: 500,
        retry_after_ms: None,
        body: b"{}".to_vec(),
        kind: ProviderKind::OpenaiCompatible,
        headers: Vec::new(),
    }
}

pub fn e429(retry_after_ms: u64) -> Failure {
    Failure::Status {
        status: 429,
        retry_after_ms: Some(retry_after_ms),
        body: b"{}".to_vec(),
        kind: ProviderKind::OpenaiCompatible,
        headers: Vec::new(),
    }
}

pub fn refused() -> Failure {
    Failure::Transport(UpstreamError::Connect(
        std::io::ErrorKind::ConnectionRefused.into(),
    ))
}

pub fn launched(model: &str, key: usize, at: u64) -> (String, usize, u64) {
    (model.to_string(), key, at)
}
