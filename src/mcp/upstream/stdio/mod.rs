//! stdio upstreams: one process per (server, owner key), shared by every
//! thread's `Client` for that pair and never across owners, started on
//! first use and again after it died or idled out. Requests are routed back
//! by our ids, progress by our tokens (the caller's put back).

mod channel;
mod process;
mod routes;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monoio::time::timeout_at;

use super::message;
use super::{Era, Event, McpUpstreamError, UpstreamSpec};
use channel::Inbox;
use process::Process;
use routes::Routed;

/// The running processes by (server name, owner), with the spec each runs.
type Running = HashMap<(String, String), (Arc<UpstreamSpec>, Arc<Process>)>;

/// Every live process.
static PROCESSES: Mutex<Option<Running>> = Mutex::new(None);

/// The live process for (`spec`, `owner`), started if there is none or the
/// server's command changed (the old one is stopped).
fn acquire(spec: &Arc<UpstreamSpec>, owner: &str) -> Result<Arc<Process>, McpUpstreamError> {
    let mut all = PROCESSES.lock().unwrap_or_else(|e| e.into_inner());
    let all = all.get_or_insert_with(HashMap::new);
    all.retain(|_, (_, p)| !p.is_dead());
    let key = (spec.name.clone(), owner.to_string());
    if let Some((running, p)) = all.get(&key) {
        if running.target == spec.target {
            return Ok(p.clone());
        }
        p.die();
    }
    let process = Process::spawn(spec)?;
    all.insert(key, (spec.clone(), process.clone()));
    Ok(process)
}

pub(super) struct StdioClient {
    spec: Arc<UpstreamSpec>,
    owner: String,
    process: RefCell<Option<Arc<Process>>>,
}

impl StdioClient {
    pub(super) fn new(spec: Arc<UpstreamSpec>, owner: Option<&str>) -> StdioClient {
        StdioClient {
            spec,
            owner: owner.unwrap_or_default().to_string(),
            process: RefCell::new(None),
        }
    }

    fn process(&self) -> Result<Arc<Process>, McpUpstreamError> {
        if let Some(p) = self.process.borrow().as_ref().filter(|p| !p.is_dead()) {
            return Ok(p.clone());
        }
        let p = acquire(&self.spec, &self.owner)?;
        *self.process.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    /// The process's id, once one runs (for tests and diagnostics).
    pub(super) fn pid(&self) -> Option<u32> {
        self.process
            .borrow()
            .as_ref()
            .filter(|p| !p.is_dead())
            .map(|p| p.pid())
    }

    pub(super) fn server_info(&self) -> Option<Vec<u8>> {
        self.process.borrow().as_ref()?.server_info()
    }

    /// Starts the process if needed and waits for its probe.
    pub(super) async fn ready(
        &self,
        deadline: Instant,
    ) -> Result<(Arc<Process>, Era), McpUpstreamError> {
        let p = self.process()?;
        let era = timeout_at(deadline.into(), p.ready())
            .await
            .map_err(|_| McpUpstreamError::Timeout)??;
        Ok((p, era))
    }

    pub(super) async fn call(
        &self,
        method: &str,
        params: &[u8],
        timeout: Duration,
        meta_ready: Option<&str>,
    ) -> Result<(u64, StdioExchange), McpUpstreamError> {
        let deadline = Instant::now() + timeout;
        // A process may die between the lookup and the send: the next one
        // gets the request.
        let mut attempts = 2;
        loop {
            attempts -= 1;
            let (p, era) = self.ready(deadline).await?;
            let id = p.next_id();
            let params = match era {
                Era::Modern(v) => message::modern_params(params, meta_ready == Some(v))
                    .map_err(McpUpstreamError::Protocol)?
                    .into_owned(),
                Era::Legacy(_) => params.to_vec(),
            };
            let (params, token) =
                match message::swap_progress_token(&params, &message::progress_token(id)) {
                    Some((swapped, token)) => (swapped, Some(token)),
                    None => (params, None),
                };
            let inbox = match p.open(id, token) {
                Ok(inbox) => inbox,
                Err(_) if attempts > 0 => continue,
                Err(e) => return Err(e),
            };
            let exchange = StdioExchange {
                process: p.clone(),
                id,
                inbox,
                deadline,
                done: false,
            };
            p.send(message::request(id, method, &params))?;
            return Ok((id, exchange));
        }
    }

    pub(super) async fn notify(&self, method: &str, params: &[u8]) -> Result<(), McpUpstreamError> {
        let (p, _) = self.ready(Instant::now() + self.spec.timeout).await?;
        p.send(message::notification(method, params))
    }

    /// Writes a message that is not a request (an answer to the
    /// server's own request).
    pub(super) async fn respond(&self, message: &[u8]) -> Result<(), McpUpstreamError> {
        let (p, _) = self.ready(Instant::now() + self.spec.timeout).await?;
        p.send(message.to_vec())
    }

    /// Legacy: every notification no request claims. Modern: a
    /// `subscriptions/listen` opted in to every list change.
    pub(super) async fn listen(&self) -> Result<StdioListener, McpUpstreamError> {
        let (p, era) = self.ready(Instant::now() + self.spec.timeout).await?;
        let id = p.next_id();
        match era {
            Era::Legacy(_) => Ok(StdioListener {
                inbox: p.open_listener(id)?,
                process: p,
                id,
                subscription: false,
            }),
            Era::Modern(_) => {
                let params = message::with_modern_meta(
                    br#"{"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true}}"#,
                )
                .map_err(McpUpstreamError::Protocol)?;
                let listener = StdioListener {
                    inbox: p.open(id, None)?,
                    process: p.clone(),
                    id,
                    subscription: true,
                };
                p.send(message::request(id, "subscriptions/listen", &params))?;
                Ok(listener)
            }
        }
    }
}

pub(super) struct StdioExchange {
    process: Arc<Process>,
    id: u64,
    inbox: Inbox<Routed>,
    deadline: Instant,
    done: bool,
}

impl StdioExchange {
    pub(super) async fn next(&mut self) -> Result<Event, McpUpstreamError> {
        if self.done {
            return Err(McpUpstreamError::Closed);
        }
        match timeout_at(self.deadline.into(), self.inbox.recv()).await {
            Err(_) => Err(McpUpstreamError::Timeout),
            Ok(Some(Routed::Message(msg))) => Ok(Event::Message(msg)),
            Ok(Some(Routed::Final(msg))) => {
                self.done = true;
                Ok(Event::Final(msg))
            }
            Ok(None) => {
                self.done = true;
                Err(McpUpstreamError::Closed)
            }
        }
    }
}

/// An exchange dropped before its answer cancels the request upstream.
impl Drop for StdioExchange {
    fn drop(&mut self) {
        if !self.done {
            self.process.cancel(self.id);
        }
    }
}

pub(super) struct StdioListener {
    process: Arc<Process>,
    inbox: Inbox<Routed>,
    id: u64,
    subscription: bool,
}

impl StdioListener {
    pub(super) async fn next(&mut self) -> Result<Vec<u8>, McpUpstreamError> {
        loop {
            match self.inbox.recv().await {
                Some(Routed::Message(msg))
                    if !message::is_notification(
                        &msg,
                        "notifications/subscriptions/acknowledged",
                    ) =>
                {
                    return Ok(msg);
                }
                Some(Routed::Message(_)) => {}
                Some(Routed::Final(_)) | None => return Err(McpUpstreamError::Closed),
            }
        }
    }
}

impl Drop for StdioListener {
    fn drop(&mut self) {
        if self.subscription {
            self.process.cancel(self.id);
        } else {
            self.process.close_listener(self.id);
        }
    }
}
