//! The processes under test: a `tollgate` gateway and its mock upstreams,
//! spawned from the release binary on 127.0.0.1 with configs written to a
//! temp dir, their stderr kept, and their memory and fds read from /proc.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client key every scenario with `[[keys]]` uses (a test value, not a secret).
pub const CLIENT_KEY: &str = "faults-suite-client-key";
const LOG_KEEP: usize = 2_000;

pub struct Proc {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    total: u64,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn sighup(&self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGHUP) };
    }

    /// Lines logged so far (the total, not only those kept).
    pub fn log_count(&self) -> u64 {
        self.log.lock().unwrap().total
    }

    /// Kept lines containing `needle`.
    pub fn log_matching(&self, needle: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.lines.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (bounded) for a line containing one of `needles` after line `from`.
    pub fn wait_log(&self, from: u64, needles: &[&str], limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            {
                let log = self.log.lock().unwrap();
                let skip = log.lines.len().saturating_sub((log.total - from) as usize);
                if let Some(l) = log.lines[skip..]
                    .iter()
                    .find(|l| needles.iter().any(|n| l.contains(n)))
                {
                    return Some(l.clone());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn fds(&self) -> u64 {
        fd_count(self.pid())
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

pub fn fd_count(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// Where the binaries are and where the configs go.
pub struct Env {
    pub bin: PathBuf,
    pub dir: PathBuf,
    /// The soft fd limit the gateway starts with (what a shell would give it).
    pub gateway_nofile: u64,
}

impl Env {
    pub fn config_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a config by rename, as an operator's deploy tool would.
    pub fn write_config(&self, path: &Path, text: &str) {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, path).expect("rename config");
    }

    pub fn mock(&self) -> Proc {
        let args = ["mock-upstream", "--listen", "127.0.0.1:0", "--workers", "1"];
        spawn(&self.bin, &args, None)
    }

    pub fn gateway(&self, name: &str, config: &str) -> Proc {
        let path = self.config_path(&format!("{name}.toml"));
        self.write_config(&path, config);
        self.gateway_at(&path)
    }

    pub fn gateway_at(&self, path: &Path) -> Proc {
        let args = ["serve", "--config", path.to_str().unwrap()];
        spawn(&self.bin, &args, Some(self.gateway_nofile))
    }
}

fn spawn(bin: &Path, args: &[&str], nofile: Option<u64>) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("TOLLGATE_CONFIG")
        .env("FAULTS_CLIENT_KEY", CLIENT_KEY);
    // SAFETY: only prctl(2) and getrlimit/setrlimit(2), async-signal-safe,
    // between fork and exec. The children die with the suite (spawned from
    // its main thread), however it ends.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if let Some(soft) = nofile {
                let mut lim = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                lim.rlim_cur = soft.min(lim.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn tollgate");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut log = sink.lock().unwrap();
            log.total += 1;
            if log.lines.len() >= LOG_KEEP {
                log.lines.remove(0);
            }
            log.lines.push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        let found = log.lock().unwrap().lines.iter().find_map(|l| {
            let rest = l.split("listening on ").nth(1)?;
            rest.split_whitespace().next()?.parse::<SocketAddr>().ok()
        });
        if let Some(a) = found {
            break a;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "tollgate exited ({status}): {:?}",
                log.lock().unwrap().lines
            );
        }
        assert!(Instant::now() < deadline, "tollgate did not start");
        std::thread::sleep(Duration::from_millis(10));
    };
    Proc { child, addr, log }
}

/// Raises this process's soft fd limit to its hard limit; returns (before, after).
pub fn raise_nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let before = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        (before, lim.rlim_cur)
    }
}

/// One `GET` on a fresh connection: the status and body, if any came.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nhost: faults\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    Some((status, body.unwrap_or_default()))
}

/// A numeric field of the mock's `/mock/stats`.
pub fn mock_stat(mock: SocketAddr, key: &str) -> u64 {
    let Some((_, body)) = get(mock, "/mock/stats") else {
        return 0;
    };
    let pat = format!("\"{key}\":");
    body.split(&pat)
        .nth(1)
        .and_then(|r| {
            r.split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A provider at the mock, with faults from a `/fault/<spec>/` prefix.
pub fn provider(name: &str, mock: SocketAddr, fault: &str) -> String {
    let path = if fault.is_empty() {
        "/v1".to_string()
    } else {
        format!("/fault/{fault}/v1")
    };
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"openai_compatible\"\nbase_url = \"http://{mock}{path}\"\nforward_headers = [\"x-mock-*\"]\n\n"
    )
}

/// `[server]` on an ephemeral port with one worker; every other value default.
pub const SERVER: &str = "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n\n";

/// The `[[keys]]` block the keyed scenarios use.
pub const KEYS: &str = "[[keys]]\nid = \"suite\"\nkey = \"env:FAULTS_CLIENT_KEY\"\n\n";

/// `main` on provider `a`, falling back (if `fallback`) to `backup` on `b`.
pub fn models(fallback: bool) -> String {
    let fb = if fallback {
        "fallbacks = [\"backup\"]\n"
    } else {
        ""
    };
    format!(
        "[[models]]\nname = \"main\"\nprovider = \"a\"\nupstream_model = \"model-a\"\n{fb}\n[[models]]\nname = \"backup\"\nprovider = \"b\"\nupstream_model = \"model-b\"\n"
    )
}
