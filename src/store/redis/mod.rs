//! The Redis tier: a blocking RESP2 client over our own sockets (plain or
//! rustls) and the gateway's operations on it (`ops`: leases, spend, shared
//! records). It runs on one background thread per process, never on a
//! request's path, so blocking I/O with short deadlines is the right shape.
//!
//! The client connects lazily; after any connection-level error it drops the
//! connection and the next call connects afresh. A server error reply (to
//! one command) leaves the connection in place.

mod conn;
pub mod ops;
pub mod resp;
mod target;

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use resp::Limits;
use rustls::ClientConfig;
use thiserror::Error;

use conn::Stream;
pub use ops::{Lease, SpendBatch, Tier};
pub use resp::{RespError, Value};
pub use target::{DEFAULT_TIMEOUT, RedisTarget};

/// The most one read takes in: a reply's big bulk string arrives in
/// pieces this size.
const READ: usize = 16 << 10;

/// What went wrong talking to Redis. No variant ever carries a password.
#[derive(Debug, Error)]
pub enum RedisError {
    #[error("cannot connect to redis at {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("redis did not answer within {0} ms")]
    Timeout(u64),
    #[error("redis closed the connection")]
    Closed,
    #[error("redis connection failed: {0}")]
    Io(io::Error),
    #[error("TLS with redis failed: {0}")]
    Tls(String),
    #[error("redis refused the credentials: {0}")]
    Auth(String),
    #[error("redis sent a malformed reply: {0}")]
    Protocol(#[from] RespError),
    /// An error reply to one command; the connection stays usable.
    #[error("redis error: {0}")]
    Server(String),
    /// A reply of a shape the operation did not expect.
    #[error("unexpected redis reply: {0}")]
    Unexpected(String),
    /// A compare-and-set lost to other writers every time it tried.
    #[error("{0} kept changing under other writers")]
    Contended(String),
    /// A request refused before it was sent.
    #[error("invalid redis request: {0}")]
    Invalid(String),
}

impl RedisError {
    /// Whether Redis is unusable right now (down, unreachable, refusing our
    /// credentials, loading, or stuck in a script), as opposed to refusing
    /// one request: the signal to fail open or closed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RedisError::Server(m) => ["LOADING", "BUSY", "MASTERDOWN"]
                .iter()
                .any(|c| m.starts_with(c)),
            RedisError::Unexpected(_) | RedisError::Contended(_) | RedisError::Invalid(_) => false,
            _ => true,
        }
    }

    fn from_reply(message: String) -> RedisError {
        if message.starts_with("NOAUTH") || message.starts_with("WRONGPASS") {
            RedisError::Auth(message)
        } else {
            RedisError::Server(message)
        }
    }
}

/// A Lua script sent by its SHA-1 (`EVALSHA`), and whole only when the
/// server has not seen it (after a restart or `SCRIPT FLUSH`).
pub struct Script {
    source: &'static str,
    sha: String,
}

impl Script {
    pub fn new(source: &'static str) -> Script {
        let digest =
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, source.as_bytes());
        let sha = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Script { source, sha }
    }
}

/// One client for one owner thread: it connects on first use, reconnects
/// after a failure, and counts its round trips.
pub struct Redis {
    target: RedisTarget,
    stream: Option<Stream>,
    tls: Option<Arc<ClientConfig>>,
    /// Bytes read; those from `inpos` on are not decoded yet. An offset
    /// rather than draining each reply, so a long pipeline's replies are
    /// not shifted down the buffer one by one.
    inbuf: Vec<u8>,
    inpos: usize,
    /// What each read lands in before its bytes join `inbuf`: zeroed once,
    /// so a read does not zero its whole size first (replies are small).
    scratch: Box<[u8]>,
    out: Vec<u8>,
    round_trips: u64,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("target", &self.target)
            .field("connected", &self.stream.is_some())
            .field("round_trips", &self.round_trips)
            .finish()
    }
}

impl Redis {
    /// Does no I/O: the first command connects.
    pub fn new(target: RedisTarget) -> Redis {
        Redis {
            target,
            stream: None,
            tls: None,
            inbuf: Vec::new(),
            inpos: 0,
            scratch: Box::default(),
            out: Vec::new(),
            round_trips: 0,
        }
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Requests written and answered so far, connection set-up (`AUTH`,
    /// `SELECT`) included: a pipeline counts once, an `EVALSHA` that had
    /// to fall back to `EVAL` twice.
    pub fn round_trips(&self) -> u64 {
        self.round_trips
    }

    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// One command, one round trip. An error reply is `Err(Server)`
    /// (`Err(Auth)` for `NOAUTH` / `WRONGPASS`).
    pub fn cmd(&mut self, args: &[&[u8]]) -> Result<Value, RedisError> {
        if args.is_empty() {
            return Err(RedisError::Invalid("an empty command".into()));
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        resp::encode(&mut out, args);
        let replies = self.exchange(&out, 1);
        self.out = out;
        match replies?.pop() {
            Some(Value::Error(message)) => Err(RedisError::from_reply(message)),
            Some(value) => Ok(value),
            None => Err(RedisError::Unexpected("a command (no reply)".into())),
        }
    }

    /// Every command in one write, every reply in one read pass: one round
    /// trip. Error replies stay in place as `Value::Error`.
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Value>, RedisError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        if cmds.iter().any(Vec::is_empty) {
            // Redis answers nothing to an empty command: we would wait out the timeout.
            return Err(RedisError::Invalid("an empty command".into()));
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        for cmd in cmds {
            resp::encode(&mut out, cmd);
        }
        let replies = self.exchange(&out, cmds.len());
        self.out = out;
        replies
    }

    /// Runs `script` by `EVALSHA`, sending its source (`EVAL`, which also
    /// caches it) only when Redis answers `NOSCRIPT`.
    pub fn eval(
        &mut self,
        script: &Script,
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> Result<Value, RedisError> {
        let numkeys = keys.len().to_string();
        let mut cmd: Vec<&[u8]> = Vec::with_capacity(3 + keys.len() + args.len());
        cmd.extend([&b"EVALSHA"[..], script.sha.as_bytes(), numkeys.as_bytes()]);
        cmd.extend_from_slice(keys);
        cmd.extend_from_slice(args);
        match self.cmd(&cmd) {
            Err(RedisError::Server(m)) if m.starts_with("NOSCRIPT") => {
                cmd[0] = b"EVAL";
                cmd[1] = script.source.as_bytes();
                self.cmd(&cmd)
            }
            result => result,
        }
    }

    /// Sends `out` (holding `count` commands) and reads `count` replies,
    /// connecting first if needed; any failure drops the connection.
    fn exchange(&mut self, out: &[u8], count: usize) -> Result<Vec<Value>, RedisError> {
        let result = self.ensure_connected().and_then(|()| {
            let deadline = Instant::now() + self.target.timeout;
            self.round_trip(out, count, deadline)
        });
        if result.is_err() {
            self.stream = None;
            self.inbuf.clear();
            self.inpos = 0;
        }
        result
    }

    fn ensure_connected(&mut self) -> Result<(), RedisError> {
        if let Some(stream) = &self.stream {
            // Bytes left over after the last reply mean we are out of step.
            if self.inbuf.is_empty() && !stream.is_stale() {
                return Ok(());
            }
            self.stream = None;
            self.inbuf.clear();
            self.inpos = 0;
        }
        let deadline = Instant::now() + self.target.timeout;
        let tls = match (&self.tls, self.target.tls) {
            (_, false) => None,
            (Some(config), true) => Some(config.clone()),
            (None, true) => {
                let config = conn::tls_config(self.target.ca_file.as_deref())?;
                self.tls = Some(config.clone());
                Some(config)
            }
        };
        self.stream = Some(Stream::connect(&self.target, tls, deadline)?);
        self.introduce(deadline)
    }

    /// `AUTH` and `SELECT` as one pipeline, when the target needs them.
    fn introduce(&mut self, deadline: Instant) -> Result<(), RedisError> {
        let mut out = Vec::new();
        let mut count = 0;
        if let Some(password) = &self.target.password {
            match &self.target.username {
                Some(user) => resp::encode(
                    &mut out,
                    &[&b"AUTH"[..], user.as_bytes(), password.as_bytes()],
                ),
                None => resp::encode(&mut out, &[&b"AUTH"[..], password.as_bytes()]),
            }
            count += 1;
        }
        if self.target.db != 0 {
            resp::encode(
                &mut out,
                &[&b"SELECT"[..], self.target.db.to_string().as_bytes()],
            );
            count += 1;
        }
        if count == 0 {
            return Ok(());
        }
        let replies = self.round_trip(&out, count, deadline)?;
        for (i, reply) in replies.into_iter().enumerate() {
            let Value::Error(message) = reply else {
                continue;
            };
            let authenticating = i == 0 && self.target.password.is_some();
            return Err(if authenticating {
                RedisError::Auth(self.without_password(message))
            } else {
                RedisError::Server(format!("SELECT {}: {message}", self.target.db))
            });
        }
        Ok(())
    }

    /// A server that does not know `AUTH` may quote its arguments back.
    fn without_password(&self, message: String) -> String {
        match &self.target.password {
            Some(p) if message.contains(p.as_str()) => message.replace(p.as_str(), "<redacted>"),
            _ => message,
        }
    }

    fn round_trip(
        &mut self,
        out: &[u8],
        count: usize,
        deadline: Instant,
    ) -> Result<Vec<Value>, RedisError> {
        let timeout = self.target.timeout;
        let stream = self.stream.as_mut().ok_or(RedisError::Closed)?;
        stream.bound(deadline, timeout)?;
        stream
            .write_all(out)
            .and_then(|()| stream.flush())
            .map_err(|e| io_error(e, timeout))?;
        self.round_trips += 1;
        let mut replies = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            replies.push(self.read_reply(deadline)?);
        }
        Ok(replies)
    }

    /// Reads until one whole reply is decoded; the decoder's hints say how
    /// much must arrive before it is worth decoding again.
    fn read_reply(&mut self, deadline: Instant) -> Result<Value, RedisError> {
        let timeout = self.target.timeout;
        let mut decoder = resp::Decoder::new(Limits::default());
        let mut need = 1;
        loop {
            if self.inbuf.len() - self.inpos >= need {
                let (used, step) = decoder.decode(&self.inbuf[self.inpos..])?;
                self.inpos += used;
                if self.inpos == self.inbuf.len() {
                    self.inbuf.clear();
                    self.inpos = 0;
                }
                match step {
                    resp::Step::Done(value) => return Ok(value),
                    resp::Step::More(n) => need = n,
                }
            }
            self.inbuf.drain(..self.inpos);
            self.inpos = 0;
            let stream = self.stream.as_mut().ok_or(RedisError::Closed)?;
            stream.bound(deadline, timeout)?;
            if self.scratch.is_empty() {
                self.scratch = vec![0; READ].into_boxed_slice();
            }
            let read = stream.read(&mut self.scratch);
            match read {
                Ok(0) => return Err(RedisError::Closed),
                Ok(n) => self.inbuf.extend_from_slice(&self.scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e, timeout)),
            }
        }
    }
}

fn io_error(e: io::Error, timeout: std::time::Duration) -> RedisError {
    if conn::timed_out(&e) {
        RedisError::Timeout(conn::millis(timeout))
    } else {
        RedisError::Io(e)
    }
}
