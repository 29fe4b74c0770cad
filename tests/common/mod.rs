//! The test harness: real gateway and mock-upstream processes on ephemeral
//! 127.0.0.1 ports, and a small raw HTTP/1.1 client that shows the bytes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tollgate::http1::ChunkedDecoder;

pub mod redis;

pub const DRIVERS: [&str; 2] = ["io_uring", "epoll"];

/// Runs a test body once per driver, as two named tests.
#[macro_export]
macro_rules! on_both_drivers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn io_uring() {
                    // A kernel without io_uring cannot run this half; say so loudly.
                    if !monoio::utils::detect_uring() {
                        eprintln!("io_uring unavailable on this kernel: skipped");
                        return;
                    }
                    super::$name("io_uring");
                }
                #[test]
                fn epoll() {
                    super::$name("epoll");
                }
            }
        )*
    };
}

pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until a stderr line contains `needle`, counting from line `from`.
    pub fn wait_log(&self, from: usize, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(l) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}: {:?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to exit by itself (bounded); returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tollgate"))
}

/// Spawns a tollgate command and waits for its "listening on ADDR" line.
pub fn spawn(args: &[&str], cwd: Option<&std::path::Path>) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd.env_remove("TOLLGATE_CONFIG");
    for var in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"] {
        cmd.env_remove(var);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().expect("spawn tollgate");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    // Under scripts/test.sh every line is also kept on disk, for the audit
    // that greps the whole suite's logs for the secrets it used.
    let mut file = std::env::var_os("TOLLGATE_TEST_LOG_DIR").and_then(|dir| {
        let _ = std::fs::create_dir_all(&dir);
        let path = std::path::Path::new(&dir).join(format!("rust-{}.log", child.id()));
        std::fs::File::create(path).ok()
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(f) = file.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let addr = loop {
        let found = log.lock().unwrap().iter().find_map(|l: &String| {
            let rest = l.split("listening on ").nth(1)?;
            rest.split_whitespace().next()?.parse::<SocketAddr>().ok()
        });
        if let Some(a) = found {
            break a;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "tollgate exited early ({status}): {:?}",
                log.lock().unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "tollgate did not start: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    Proc { child, addr, log }
}

pub fn start_mock(driver: &str) -> Proc {
    start_mock_with(driver, &[])
}

/// A one-worker mock upstream on a free port, with `extra` flags.
pub fn start_mock_with(driver: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "mock-upstream",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--driver",
        driver,
    ];
    args.extend_from_slice(extra);
    spawn(&args, None)
}

pub struct Gateway {
    pub proc: Proc,
    pub config: PathBuf,
    _dir: TempDir,
}

impl std::ops::Deref for Gateway {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl std::ops::DerefMut for Gateway {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

impl Gateway {
    pub fn rewrite_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }
}

/// A config routing `fast` (upstream `mock-fast`) and `same` (no rewrite) to the mock.
pub fn mock_config(mock: SocketAddr, extra_server: &str, extra_provider: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1
{extra_server}

[[providers]]
name = "mockup"
kind = "openai_compatible"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]
{extra_provider}

[[models]]
name = "fast"
provider = "mockup"
upstream_model = "mock-fast"

[[models]]
name = "same"
provider = "mockup"

[[providers]]
name = "local"
kind = "mock"

[[models]]
name = "mock/echo"
provider = "local"
"#
    )
}

pub fn start_gateway(config: &str, driver: &str) -> Gateway {
    let dir = TempDir::new();
    let path = dir.path.join("tollgate.toml");
    std::fs::write(&path, config).unwrap();
    // In its own directory: a config without `[governance] store` keeps
    // its embedded store (`tollgate.db`) there, not in the checkout.
    let proc = spawn(
        &[
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--driver",
            driver,
        ],
        Some(&dir.path),
    );
    Gateway {
        proc,
        config: path,
        _dir: dir,
    }
}

pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("tollgate-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server said it will close, or did.
    pub closed: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> simd_json::OwnedValue {
        let mut b = self.body.clone();
        simd_json::to_owned_value(&mut b)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `error.code` of an OpenAI-shaped error body.
    pub fn error_code(&self) -> String {
        use simd_json::prelude::*;
        let v = self.json();
        let err = v
            .get("error")
            .unwrap_or_else(|| panic!("no error object: {}", self.text()));
        assert!(
            err.get("message").and_then(|m| m.as_str()).is_some(),
            "{}",
            self.text()
        );
        assert!(
            err.get("type").and_then(|m| m.as_str()).is_some(),
            "{}",
            self.text()
        );
        err.get("code")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_string()
    }
}

/// A raw client connection: write any bytes, read responses as they come.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    decoder: Option<ChunkedDecoder>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
            decoder: None,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn post(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes);
    }

    pub fn get(&mut self, path: &str) {
        self.send(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes());
    }

    fn fill(&mut self) -> usize {
        let mut tmp = [0u8; 16384];
        match self.stream.read(&mut tmp) {
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                n
            }
            // A read with a timeout sees EINTR when task work (an io_uring probe's teardown) runs.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.fill(),
            Err(_) => 0,
        }
    }

    /// Reads a response head; `None` if the connection closed first.
    pub fn read_head(&mut self) -> Option<(u16, Vec<(String, String)>)> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) =
                resp.parse(&self.buf).expect("valid response head")
            {
                let status = resp.code.unwrap();
                let hs = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                self.buf.drain(..n);
                if status == 100 {
                    continue;
                }
                return Some((status, hs));
            }
            if self.fill() == 0 {
                return None;
            }
        }
    }

    /// Reads one whole response (Content-Length, chunked, or until close).
    pub fn read_response(&mut self) -> Option<Response> {
        let (status, headers) = self.read_head()?;
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut closed = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let body = if let Some(len) = get("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                if self.fill() == 0 {
                    closed = true;
                    break;
                }
            }
            let take = len.min(self.buf.len());
            self.buf.drain(..take).collect()
        } else if get("transfer-encoding").is_some() {
            let mut body = Vec::new();
            while let Some(piece) = self.read_chunk_piece() {
                body.extend_from_slice(&piece);
            }
            body
        } else {
            while self.fill() > 0 {}
            closed = true;
            std::mem::take(&mut self.buf)
        };
        Some(Response {
            status,
            headers,
            body,
            closed,
        })
    }

    /// With a chunked body in progress: the next decoded piece, `None` at its end.
    pub fn read_chunk_piece(&mut self) -> Option<Vec<u8>> {
        let mut dec = self.decoder.take().unwrap_or_default();
        loop {
            let (n, data) = dec.decode(&self.buf).expect("valid chunked framing");
            let data = data.to_vec();
            self.buf.drain(..n);
            if dec.is_done() {
                return if data.is_empty() { None } else { Some(data) };
            }
            if !data.is_empty() {
                self.decoder = Some(dec);
                return Some(data);
            }
            if n == 0 && self.fill() == 0 {
                return None;
            }
        }
    }

    /// Whether the server has closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut tmp = [0u8; 1];
        matches!(self.stream.read(&mut tmp), Ok(0) | Err(_))
    }
}

/// One request on a fresh connection.
pub fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    c.post(path, headers, body);
    c.read_response().expect("a response")
}

/// `POST /v1/chat/completions` on a fresh connection.
pub fn post_chat(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> Response {
    post(addr, "/v1/chat/completions", headers, body)
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    let mut c = Client::connect(addr);
    c.get(path);
    c.read_response().expect("a response")
}

pub fn chat_body(model: &str, text: &str, stream: bool) -> Vec<u8> {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"{text}"}}],"stream":{stream}}}"#
    )
    .into_bytes()
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_string)
        })
        .collect()
}

pub fn mock_stats(mock: SocketAddr) -> simd_json::OwnedValue {
    get(mock, "/mock/stats").json()
}

/// A `/proc/<pid>/status` memory figure in KiB (`VmRSS`, `RssAnon`…).
pub fn proc_kib(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

pub fn stat(mock: SocketAddr, key: &str) -> u64 {
    use simd_json::prelude::*;
    mock_stats(mock).get(key).and_then(|v| v.as_u64()).unwrap()
}

/// Polls (bounded) until `f` holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
