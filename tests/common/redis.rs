//! A real `redis-server` for tests, on a free 127.0.0.1 port with its own
//! data dir: plain, with a password, or TLS (a private CA made with rcgen).
//! `kill` and `restart` (same port, same dir) play "Redis went away and came
//! back"; `pause` and `resume` play "Redis hangs". Dropping it kills it.
//! The binary is `redis-server` on the PATH, or `$REDIS_SERVER`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// Attempts at finding a port nobody else grabs between our probe and
/// Redis's bind.
const PORT_ATTEMPTS: usize = 5;
const READY: &str = "Ready to accept connections";

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// Data dir; also holds the server's log.
    dir: TempDir,
    /// Arguments beyond the common ones and the port.
    extra: Vec<String>,
    password: Option<String>,
    tls: bool,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::launch(Vec::new(), None, false).unwrap_or_else(|e| panic!("redis-server: {e}"))
    }

    /// A server that refuses every command until `AUTH password`.
    pub fn start_with_password(password: &str) -> RedisServer {
        let extra = vec!["--requirepass".to_string(), password.to_string()];
        Self::launch(extra, Some(password.to_string()), false)
            .unwrap_or_else(|e| panic!("redis-server: {e}"))
    }

    /// A TLS-only server whose certificate (for `127.0.0.1` and `localhost`)
    /// a fresh CA signed; writes the CA, certificate and key into `dir` and
    /// returns the CA's PEM path for the client to trust.
    pub fn start_tls(dir: &Path) -> (RedisServer, PathBuf) {
        Self::try_start_tls(dir).unwrap_or_else(|e| panic!("redis-server with TLS: {e}"))
    }

    /// As `start_tls`, but `Err` (with the server's log) when this
    /// redis-server cannot serve TLS, so a test can say it skipped.
    pub fn try_start_tls(dir: &Path) -> Result<(RedisServer, PathBuf), String> {
        let ca = write_certs(dir)?;
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let extra = vec![
            "--tls-cert-file".to_string(),
            path("redis.crt"),
            "--tls-key-file".to_string(),
            path("redis.key"),
            "--tls-ca-cert-file".to_string(),
            path("ca.pem"),
            "--tls-auth-clients".to_string(),
            "no".to_string(),
        ];
        Ok((Self::launch(extra, None, true)?, ca))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:P`, with the password if any; `rediss://` for TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let auth = match &self.password {
            Some(p) => format!(":{}@", percent_encode(p)),
            None => String::new(),
        };
        format!("{scheme}://{auth}127.0.0.1:{}", self.port)
    }

    /// SIGKILL, and waits until it is gone (its port is free again).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data dir (killing it first if
    /// it is still running).
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.spawn() {
            panic!("redis-server did not restart on port {}: {e}", self.port);
        }
    }

    /// SIGSTOP: connections are accepted by the kernel but nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after `pause`.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// What the server has logged (and printed to stderr) so far.
    pub fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path.join(name)).unwrap_or_default();
        read("redis.log") + &read("redis.stderr")
    }

    fn launch(
        extra: Vec<String>,
        password: Option<String>,
        tls: bool,
    ) -> Result<RedisServer, String> {
        let mut server = RedisServer {
            child: None,
            port: 0,
            dir: TempDir::new(),
            extra,
            password,
            tls,
        };
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(log) if log.contains("Address already in use") => last = log,
                Err(log) => return Err(log),
            }
        }
        Err(last)
    }

    /// Starts the process and waits (bounded) for it to say it is ready.
    fn spawn(&mut self) -> Result<(), String> {
        let log = self.dir.path.join("redis.log");
        let seen = std::fs::metadata(&log)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let stderr = std::fs::File::create(self.dir.path.join("redis.stderr"))
            .map_err(|e| format!("cannot create its stderr file: {e}"))?;
        let port = self.port.to_string();
        let listen: &[&str] = if self.tls {
            &["--port", "0", "--tls-port", &port]
        } else {
            &["--port", &port]
        };
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string());
        let mut child = Command::new(&binary)
            .args(listen)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir.path)
            .arg("--logfile")
            .arg(&log)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run `{binary}`: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read(&log).unwrap_or_default();
            if String::from_utf8_lossy(text.get(seen..).unwrap_or_default()).contains(READY) {
                self.child = Some(child);
                return Ok(());
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let why = if exited {
                    "exited"
                } else {
                    "was not ready in 10 s"
                };
                return Err(format!("{why}; its log:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn signal(&self, which: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let status = Command::new("kill")
            .args([which, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {which} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Writes `ca.pem`, `redis.crt` and `redis.key` into `dir`; returns the CA's path.
fn write_certs(dir: &Path) -> Result<PathBuf, String> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let err = |e: rcgen::Error| e.to_string();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tollgate test CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, "redis");
    let cert = params.signed_by(&key, &ca).map_err(err)?;
    let write = |name: &str, pem: String| {
        std::fs::write(dir.join(name), pem).map_err(|e| format!("cannot write {name}: {e}"))
    };
    write("ca.pem", ca.pem())?;
    write("redis.crt", cert.pem())?;
    write("redis.key", key.serialize_pem())?;
    Ok(dir.join("ca.pem"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
