//! One stdio server process and its two threads. The writer probes the
//! era first (`server/discover`, then `initialize`), then writes queued
//! lines and stops the process once idle; the reader routes each stdout
//! line. stderr goes to /dev/null: it may hold secrets, and is never logged.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::channel::{Inbox, Once, Received};
use super::routes::{Routed, Routes};
use crate::mcp::upstream::answer::MAX_MESSAGE;
use crate::mcp::upstream::message::{self, MODERN_VERSION};
use crate::mcp::upstream::probe::{self, Discovered};
use crate::mcp::upstream::{Era, McpUpstreamError, Target, UpstreamSpec};

/// The longest wait for `server/discover`: a legacy server may stay silent.
const DISCOVER_WAIT: Duration = Duration::from_secs(10);
/// How often the writer looks at idleness and death when nothing is queued.
const TICK: Duration = Duration::from_millis(250);
/// How long a process asked to stop (stdin closed) has to exit before a kill.
const GRACE: Duration = Duration::from_millis(500);

pub(in crate::mcp::upstream) struct Process {
    pid: u32,
    to_stdin: Sender<Vec<u8>>,
    routes: Mutex<Routes>,
    ready: Once<Result<Era, McpUpstreamError>>,
    info: Mutex<Option<Vec<u8>>>,
    next_id: AtomicU64,
    dead: AtomicBool,
    last_used: Mutex<Instant>,
    idle: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Process {
    /// Starts `spec`'s command with a clean environment (`PATH`, `HOME`,
    /// `LANG` and the spec's own) and its two threads.
    pub fn spawn(spec: &UpstreamSpec) -> Result<Arc<Process>, McpUpstreamError> {
        let Target::Stdio { command, args, env } = &spec.target else {
            return Err(McpUpstreamError::Connect("not a stdio server".into()));
        };
        let mut cmd = Command::new(command);
        cmd.args(args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for name in ["PATH", "HOME", "LANG"] {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
        for (name, value) in env {
            cmd.env(name, value.expose());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| McpUpstreamError::Connect(format!("cannot start `{command}`: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(McpUpstreamError::Connect("no pipes to the process".into()));
        };
        let (to_stdin, queued) = channel();
        let process = Arc::new(Process {
            pid: child.id(),
            to_stdin,
            routes: Mutex::new(Routes::default()),
            ready: Once::new(),
            info: Mutex::new(None),
            next_id: AtomicU64::new(1),
            dead: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
            idle: spec.idle,
        });
        let child = Arc::new(Mutex::new(child));
        let started = start_threads(
            &process,
            &spec.name,
            stdin,
            stdout,
            queued,
            &child,
            spec.timeout,
        );
        if let Err(e) = started {
            process.die();
            stop(&child, Duration::ZERO);
            return Err(McpUpstreamError::Connect(format!(
                "cannot start its threads: {e}"
            )));
        }
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// The era, once the writer's probe has settled it.
    pub async fn ready(&self) -> Result<Era, McpUpstreamError> {
        self.ready.get().await
    }

    pub fn server_info(&self) -> Option<Vec<u8>> {
        lock(&self.info).clone()
    }

    /// Opens request `id`'s inbox; `Closed` if the process is gone.
    pub fn open(&self, id: u64, token: Option<Vec<u8>>) -> Result<Inbox<Routed>, McpUpstreamError> {
        let mut routes = lock(&self.routes);
        if self.is_dead() {
            return Err(McpUpstreamError::Closed);
        }
        routes.open(id, token).map_err(no_channel)
    }

    /// Forgets request `id`; if it was still waiting, tells the server
    /// (`notifications/cancelled`, the stdio way).
    pub fn cancel(&self, id: u64) {
        if lock(&self.routes).close(id) {
            let mut params = b"{\"requestId\":".to_vec();
            crate::canonical::json::write_u64(&mut params, id);
            params.extend_from_slice(b",\"reason\":\"abandoned by the gateway\"}");
            let _ = self.send(message::notification("notifications/cancelled", &params));
        }
    }

    pub fn open_listener(&self, key: u64) -> Result<Inbox<Routed>, McpUpstreamError> {
        let mut routes = lock(&self.routes);
        if self.is_dead() {
            return Err(McpUpstreamError::Closed);
        }
        routes.open_listener(key).map_err(no_channel)
    }

    pub fn close_listener(&self, key: u64) {
        lock(&self.routes).close_listener(key);
    }

    /// Queues one line for stdin.
    pub fn send(&self, line: Vec<u8>) -> Result<(), McpUpstreamError> {
        if self.is_dead() {
            return Err(McpUpstreamError::Closed);
        }
        *lock(&self.last_used) = Instant::now();
        self.to_stdin
            .send(line)
            .map_err(|_| McpUpstreamError::Closed)
    }

    /// Marks the process gone: waiting requests see `Closed`, the writer stops it.
    pub fn die(&self) {
        let mut routes = lock(&self.routes);
        self.dead.store(true, Ordering::Release);
        routes.close_all();
        drop(routes);
        self.ready.set(Err(McpUpstreamError::Closed));
        // Wakes the writer if it waits for a line.
        let _ = self.to_stdin.send(Vec::new());
    }

    /// Dies if idle long enough with nothing waiting; whether it did.
    fn retire_if_idle(&self) -> bool {
        let routes = lock(&self.routes);
        if routes.busy() || lock(&self.last_used).elapsed() < self.idle {
            return false;
        }
        drop(routes);
        self.die();
        true
    }

    fn dispatch(&self, line: &[u8]) {
        let reply = lock(&self.routes).dispatch(line);
        if let Some(reply) = reply {
            let _ = self.to_stdin.send(reply);
        }
    }

    /// Sends a request from the writer thread and waits for its answer;
    /// `None` when none came within `wait`.
    fn ask(
        &self,
        stdin: &mut ChildStdin,
        method: &str,
        params: &[u8],
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, McpUpstreamError> {
        let id = self.next_id();
        let inbox = self.open(id, None)?;
        write_line(stdin, &message::request(id, method, params))?;
        let deadline = Instant::now() + wait;
        loop {
            match inbox.recv_blocking(deadline.saturating_duration_since(Instant::now())) {
                Received::Value(Routed::Final(msg)) => return Ok(Some(msg)),
                Received::Value(Routed::Message(_)) => {}
                Received::Closed => return Err(McpUpstreamError::Closed),
                Received::TimedOut => {
                    lock(&self.routes).close(id);
                    return Ok(None);
                }
            }
        }
    }

    /// The era probe, as over HTTP: a modern answer to `server/discover`, or
    /// the `initialize` handshake after any other answer or none.
    fn probe(&self, stdin: &mut ChildStdin, timeout: Duration) -> Result<Era, McpUpstreamError> {
        let discover = probe::discover_params();
        if let Some(msg) = self.ask(
            stdin,
            "server/discover",
            &discover,
            timeout.min(DISCOVER_WAIT),
        )? {
            match probe::discovered(&msg) {
                Discovered::Modern(info) => {
                    *lock(&self.info) = Some(info);
                    return Ok(Era::Modern(MODERN_VERSION));
                }
                Discovered::Incompatible(why) => return Err(McpUpstreamError::Protocol(why)),
                Discovered::Legacy => {}
            }
        }
        let msg = self
            .ask(stdin, "initialize", &probe::initialize_params(), timeout)?
            .ok_or(McpUpstreamError::Timeout)?;
        let (version, info) = probe::initialized(&msg).map_err(McpUpstreamError::Protocol)?;
        *lock(&self.info) = Some(info);
        write_line(
            stdin,
            &message::notification("notifications/initialized", b""),
        )?;
        Ok(Era::Legacy(version))
    }
}

fn no_channel(e: std::io::Error) -> McpUpstreamError {
    McpUpstreamError::Connect(format!("cannot open a channel to the process: {e}"))
}

fn start_threads(
    process: &Arc<Process>,
    name: &str,
    stdin: ChildStdin,
    stdout: ChildStdout,
    queued: Receiver<Vec<u8>>,
    child: &Arc<Mutex<Child>>,
    timeout: Duration,
) -> std::io::Result<()> {
    let (p, c) = (process.clone(), child.clone());
    std::thread::Builder::new()
        .name(format!("mcp-{name}-out"))
        .spawn(move || read_loop(&p, stdout, &c))?;
    let (p, c) = (process.clone(), child.clone());
    std::thread::Builder::new()
        .name(format!("mcp-{name}-in"))
        .spawn(move || write_loop(&p, stdin, &queued, &c, timeout))?;
    Ok(())
}

fn read_loop(process: &Process, stdout: ChildStdout, child: &Mutex<Child>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    while let Ok(true) = read_line(&mut reader, &mut line) {
        let msg = line.trim_ascii();
        if !msg.is_empty() {
            process.dispatch(msg);
        }
        line.clear();
    }
    process.die();
    stop(child, Duration::ZERO);
}

fn write_loop(
    process: &Process,
    mut stdin: ChildStdin,
    queued: &Receiver<Vec<u8>>,
    child: &Mutex<Child>,
    timeout: Duration,
) {
    let verdict = process.probe(&mut stdin, timeout);
    let failed = verdict.is_err();
    process.ready.set(verdict);
    if !failed {
        let tick = process.idle.min(TICK);
        while !process.is_dead() {
            match queued.recv_timeout(tick) {
                Ok(line) if line.is_empty() => {}
                Ok(line) => {
                    if write_line(&mut stdin, &line).is_err() {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if process.retire_if_idle() {
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    process.die();
    // A closed stdin is the graceful stop; a kill follows a server that lingers.
    drop(stdin);
    stop(child, GRACE);
}

/// Waits up to `grace` for the process to exit, then kills it; reaps it.
fn stop(child: &Mutex<Child>, grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = lock(child).try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = lock(child);
    let _ = child.kill();
    let _ = child.wait();
}

fn write_line(stdin: &mut ChildStdin, line: &[u8]) -> Result<(), McpUpstreamError> {
    stdin
        .write_all(line)
        .and_then(|()| stdin.write_all(b"\n"))
        .and_then(|()| stdin.flush())
        .map_err(|_| McpUpstreamError::Closed)
}

/// One line into `out` (without its `\n`); `false` at the end of the
/// stream. A line longer than a message may be ends the stream.
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(!out.is_empty());
        }
        if let Some(i) = memchr::memchr(b'\n', buf) {
            out.extend_from_slice(&buf[..i]);
            reader.consume(i + 1);
            return Ok(true);
        }
        let n = buf.len();
        out.extend_from_slice(buf);
        reader.consume(n);
        if out.len() > MAX_MESSAGE {
            return Err(std::io::Error::other("a line longer than any message"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_newlines_whatever_the_reads() {
        let input: &[u8] = b"{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}";
        let mut reader = BufReader::with_capacity(3, input);
        let mut lines = Vec::new();
        let mut line = Vec::new();
        while read_line(&mut reader, &mut line).unwrap() {
            lines.push(String::from_utf8(line.trim_ascii().to_vec()).unwrap());
            line.clear();
        }
        assert_eq!(lines, ["{\"a\":1}", "", "{\"b\":2}", "{\"c\":3}"]);
    }
}
