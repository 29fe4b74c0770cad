//! One blocking connection to Redis, plain TCP or rustls over TCP, whose
//! every wait is bounded by a deadline, and the check that tells a live idle
//! connection from one the server has closed.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::{RedisError, RedisTarget};

/// Handshake flights to wait for: TLS 1.2 and 1.3 both finish in a few.
const MAX_HANDSHAKE_ROUNDS: usize = 16;

pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// Connects (and, for TLS, completes the handshake) before `deadline`.
    pub(super) fn connect(
        target: &RedisTarget,
        tls: Option<Arc<ClientConfig>>,
        deadline: Instant,
    ) -> Result<Stream, RedisError> {
        let tcp = connect_tcp(target, deadline)?;
        tcp.set_nodelay(true).map_err(RedisError::Io)?;
        let Some(config) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| RedisError::Tls("the host is not a valid TLS server name".into()))?;
        let conn =
            ClientConnection::new(config, name).map_err(|e| RedisError::Tls(e.to_string()))?;
        let mut tls = StreamOwned::new(conn, tcp);
        let mut rounds = 0;
        while tls.conn.is_handshaking() {
            rounds += 1;
            if rounds > MAX_HANDSHAKE_ROUNDS {
                return Err(RedisError::Tls("the handshake did not finish".into()));
            }
            bound(&tls.sock, deadline, target.timeout)?;
            tls.conn.complete_io(&mut tls.sock).map_err(|e| {
                if timed_out(&e) {
                    RedisError::Timeout(millis(target.timeout))
                } else {
                    RedisError::Tls(e.to_string())
                }
            })?;
        }
        Ok(Stream::Tls(Box::new(tls)))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Bounds the next read or write by `deadline`.
    pub(super) fn bound(&self, deadline: Instant, timeout: Duration) -> Result<(), RedisError> {
        bound(self.tcp(), deadline, timeout)
    }

    /// Whether the server closed the connection (or wrote to it unasked)
    /// while it sat idle. Checked before reuse, so a command is never sent
    /// down a connection the server already dropped — a Redis restarted
    /// between two calls costs no error. Any pending byte counts: between
    /// replies a RESP2 server has nothing to say (over TLS, a close_notify;
    /// a rare post-handshake record costs one needless reconnect).
    pub(super) fn is_stale(&self) -> bool {
        let mut probe = [MaybeUninit::<u8>::uninit(); 1];
        let peeked = socket2::SockRef::from(self.tcp())
            .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT);
        !matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Roots for `rediss://`: the CA file's certificates when one is named
/// (a private CA), else the public web PKI.
pub(super) fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, RedisError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| RedisError::Tls(format!("cannot read `{shown}`: {e}")))?;
            for cert in certs {
                let cert = cert
                    .map_err(|e| RedisError::Tls(format!("bad certificate in `{shown}`: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| RedisError::Tls(format!("bad certificate in `{shown}`: {e}")))?;
            }
            if roots.is_empty() {
                return Err(RedisError::Tls(format!("no certificate in `{shown}`")));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RedisError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn connect_tcp(target: &RedisTarget, deadline: Instant) -> Result<TcpStream, RedisError> {
    let failed = |source| RedisError::Connect {
        addr: target.address(),
        source,
    };
    let addrs = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(failed)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for addr in addrs {
        let Some(left) = remaining(deadline) else {
            last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
            break;
        };
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = e,
        }
    }
    Err(failed(last))
}

fn bound(tcp: &TcpStream, deadline: Instant, timeout: Duration) -> Result<(), RedisError> {
    let left = remaining(deadline).ok_or(RedisError::Timeout(millis(timeout)))?;
    tcp.set_read_timeout(Some(left))
        .and_then(|()| tcp.set_write_timeout(Some(left)))
        .map_err(RedisError::Io)
}

/// Time left before `deadline`; `None` once it has passed (a zero socket
/// timeout would mean "wait forever").
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

pub(super) fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub(super) fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}
