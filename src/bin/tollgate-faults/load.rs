//! The suite's load generator: std threads on blocking keep-alive sockets,
//! bounded in request count and in time, each answer judged as a client
//! would (a 200 with its whole body, a stream that reaches `[DONE]`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tollgate::http1::ChunkedDecoder;

/// One chat request as the load sends it.
#[derive(Clone, Debug)]
pub struct Req {
    pub model: &'static str,
    pub stream: bool,
    pub text: String,
    pub key: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
}

impl Req {
    pub fn chat(model: &'static str, stream: bool) -> Req {
        Req {
            model,
            stream,
            text: "the quick brown fox jumps over the lazy dog".into(),
            key: None,
            headers: Vec::new(),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let body = format!(
            r#"{{"model":"{}","messages":[{{"role":"user","content":"{}"}}],"stream":{},"max_tokens":64}}"#,
            self.model, self.text, self.stream
        );
        let mut head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: faults\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        if let Some(k) = self.key {
            head.push_str(&format!("authorization: Bearer {k}\r\n"));
        }
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

type Headers = Vec<(String, String)>;

pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub close: bool,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }
}

/// A keep-alive client connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Conn, &'static str> {
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|_| "connect")?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one request and reads its whole answer, within `limit`.
    pub fn exchange(&mut self, req: &[u8], limit: Duration) -> Result<Answer, &'static str> {
        self.stream.write_all(req).map_err(|_| "reset")?;
        let deadline = Instant::now() + limit;
        let (status, headers) = self.read_head(deadline)?;
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let body = if let Some(len) = get("content-length") {
            let len: usize = len.parse().map_err(|_| "bad-length")?;
            while self.buf.len() < len {
                self.fill(deadline)
                    .map_err(|e| if e == "eof" { "truncated" } else { e })?;
            }
            self.buf.drain(..len).collect()
        } else if get("transfer-encoding").is_some() {
            self.read_chunked(deadline)?
        } else {
            close = true;
            while self.fill(deadline).is_ok() {}
            std::mem::take(&mut self.buf)
        };
        Ok(Answer {
            status,
            headers,
            body,
            close,
        })
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), &'static str> {
        if Instant::now() > deadline {
            return Err("timeout");
        }
        let mut tmp = [0u8; 16384];
        match self.stream.read(&mut tmp) {
            Ok(0) => Err("eof"),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err("timeout")
            }
            Err(_) => Err("reset"),
        }
    }

    fn read_head(&mut self, deadline: Instant) -> Result<(u16, Headers), &'static str> {
        loop {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut hs);
            let parsed = resp.parse(&self.buf).map_err(|_| "bad-head")?;
            if let httparse::Status::Complete(n) = parsed {
                let status = resp.code.unwrap_or(0);
                let headers = resp
                    .headers
                    .iter()
                    .map(|h| {
                        let v = String::from_utf8_lossy(h.value).into_owned();
                        (h.name.to_ascii_lowercase(), v)
                    })
                    .collect();
                self.buf.drain(..n);
                if status != 100 {
                    return Ok((status, headers));
                }
                continue;
            }
            self.fill(deadline)
                .map_err(|e| if e == "eof" { "closed" } else { e })?;
        }
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, &'static str> {
        let mut dec = ChunkedDecoder::new();
        let mut body = Vec::new();
        loop {
            let (n, data) = dec.decode(&self.buf).map_err(|_| "bad-chunk")?;
            body.extend_from_slice(data);
            self.buf.drain(..n);
            if dec.is_done() {
                return Ok(body);
            }
            if n == 0 {
                self.fill(deadline)
                    .map_err(|e| if e == "eof" { "truncated" } else { e })?;
            }
        }
    }
}

/// How one request ended, as the client sees it.
pub fn judge(stream: bool, a: &Result<Answer, &'static str>) -> Result<(), String> {
    let a = a.as_ref().map_err(|e| e.to_string())?;
    if a.status != 200 {
        return Err(a.status.to_string());
    }
    let text = String::from_utf8_lossy(&a.body);
    let complete = if stream {
        text.contains("[DONE]") && !text.contains("\"error\"")
    } else {
        text.contains("\"choices\"")
    };
    if complete {
        Ok(())
    } else {
        Err(if stream { "interrupted" } else { "incomplete" }.into())
    }
}

#[derive(Clone, Copy)]
pub struct Record {
    /// Completion time since the load began.
    pub at_ms: u32,
    pub latency_ms: u32,
    pub ok: bool,
    /// Answered by provider `b` (the fallback in every scenario).
    pub by_fallback: bool,
}

#[derive(Default)]
pub struct Tally {
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub records: Vec<Record>,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.ok + self.failed()
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error_rate(&self) -> f64 {
        self.failed() as f64 / self.total().max(1) as f64
    }

    /// `none`, or `status-or-kind:count` pairs.
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "none".into();
        }
        let parts: Vec<_> = self
            .errors
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        parts.join(",")
    }

    pub fn first_fallback_ms(&self) -> Option<u32> {
        let fb = self.records.iter().filter(|r| r.ok && r.by_fallback);
        fb.map(|r| r.at_ms).min()
    }

    pub fn latency_ms(&self, quantile: f64) -> u32 {
        let mut l: Vec<u32> = self.records.iter().map(|r| r.latency_ms).collect();
        l.sort_unstable();
        let i = ((l.len() as f64 - 1.0) * quantile).round() as usize;
        l.get(i).copied().unwrap_or(0)
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.records.extend(other.records);
    }
}

pub struct Load {
    pub threads: usize,
    pub duration: Duration,
    pub max_requests: u64,
    /// A new connection per request (tests accept, not just keep-alive).
    pub fresh_conns: bool,
    /// Longest a client waits for one whole answer.
    pub timeout: Duration,
}

pub struct LoadRun {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
}

impl LoadRun {
    pub fn start(
        addr: SocketAddr,
        load: &Load,
        make: impl Fn(u64) -> Req + Send + Sync + 'static,
    ) -> LoadRun {
        let stop = Arc::new(AtomicBool::new(false));
        let seq = Arc::new(AtomicU64::new(0));
        let make = Arc::new(make);
        let began = Instant::now();
        let deadline = began + load.duration;
        let (max, fresh, timeout) = (load.max_requests, load.fresh_conns, load.timeout);
        let threads = (0..load.threads)
            .map(|_| {
                let (stop, seq, make) = (stop.clone(), seq.clone(), make.clone());
                std::thread::spawn(move || {
                    let mut tally = Tally::default();
                    let mut conn: Option<Conn> = None;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let n = seq.fetch_add(1, Ordering::Relaxed);
                        if n >= max {
                            break;
                        }
                        let req = make(n);
                        let t0 = Instant::now();
                        let answer = match conn.take() {
                            Some(c) => Ok(c),
                            None => Conn::connect(addr, timeout),
                        }
                        .and_then(|mut c| {
                            let a = c.exchange(&req.bytes(), timeout)?;
                            if !a.close && !fresh {
                                conn = Some(c);
                            }
                            Ok(a)
                        });
                        let verdict = judge(req.stream, &answer);
                        let by_fallback = answer
                            .as_ref()
                            .is_ok_and(|a| a.header("x-tollgate-provider") == Some("b"));
                        tally.records.push(Record {
                            at_ms: began.elapsed().as_millis() as u32,
                            latency_ms: t0.elapsed().as_millis() as u32,
                            ok: verdict.is_ok(),
                            by_fallback,
                        });
                        match verdict {
                            Ok(()) => tally.ok += 1,
                            Err(kind) => *tally.errors.entry(kind).or_default() += 1,
                        }
                    }
                    tally
                })
            })
            .collect();
        LoadRun { stop, threads }
    }

    /// Runs to its own end (count or deadline).
    pub fn wait(self) -> Tally {
        self.join()
    }

    /// Stops at once (each thread finishes its current request).
    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        self.join()
    }

    fn join(mut self) -> Tally {
        let mut all = Tally::default();
        for t in self.threads.drain(..) {
            all.merge(t.join().expect("load thread"));
        }
        all.records.sort_by_key(|r| r.at_ms);
        all
    }
}
