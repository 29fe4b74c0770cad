//! Hostile clients, each bounded in count and time: slowloris dribblers,
//! idle connections, stream clients that never read, and keyless clients
//! sending 16 MiB bodies. Used by their own scenarios and by the soak.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::load::{Load, LoadRun, Req};

const CONNECT: Duration = Duration::from_secs(2);
pub const BIG_BODY: usize = 16 * 1024 * 1024;

/// Normal clients on fresh connections (so accepting is tested too) while
/// something hostile runs: these must all be served, each within 5 s (the
/// mock answers in microseconds; a client kept waiting longer has given up).
pub fn probes(addr: SocketAddr, limit: Duration, key: Option<&'static str>) -> LoadRun {
    let load = Load {
        threads: 2,
        duration: limit,
        max_requests: u64::MAX,
        fresh_conns: true,
        timeout: Duration::from_secs(5),
    };
    LoadRun::start(addr, &load, move |n| Req {
        key,
        ..Req::chat("main", n % 4 == 3)
    })
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, CONNECT).ok()?;
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    Some(s)
}

/// `n` connections dribbling a request head that never ends, a byte per
/// connection every 100 ms, for `hold`; a connection the server closes is
/// replaced. Returns (connections opened, closed by the server).
pub fn slowloris(addr: SocketAddr, n: usize, hold: Duration) -> (usize, usize) {
    const HEAD: &[u8] = b"POST /v1/chat/completions HTTP/1.1\r\nhost: faults\r\nx-pad: ";
    let deadline = Instant::now() + hold;
    let mut conns: Vec<(Option<TcpStream>, usize)> = (0..n).map(|_| (connect(addr), 0)).collect();
    let (mut opened, mut cut) = (conns.iter().filter(|c| c.0.is_some()).count(), 0);
    while Instant::now() < deadline {
        for (conn, sent) in conns.iter_mut() {
            let Some(s) = conn else { continue };
            let byte = HEAD.get(*sent).copied().unwrap_or(b'a');
            if s.write_all(&[byte]).is_ok() {
                *sent += 1;
                continue;
            }
            cut += 1;
            *conn = connect(addr);
            *sent = 0;
            opened += usize::from(conn.is_some());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (opened, cut)
}

/// `n` connections that send nothing, held for `hold`. Returns how many opened.
pub fn idle(addr: SocketAddr, n: usize, hold: Duration) -> usize {
    let deadline = Instant::now() + hold;
    let conns: Vec<TcpStream> = (0..n)
        .map_while(|_| (Instant::now() < deadline).then(|| connect(addr)))
        .flatten()
        .collect();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    conns.len()
}

/// `n` clients with a 4 KiB receive buffer that start a stream of about
/// `answer_len` bytes and never read, held for `hold`. The request stays
/// small (the echo sends one event, about 170 bytes, per byte of a short
/// text), so what the gateway holds is the answer, not request bodies.
pub fn non_reading_streams(
    addr: SocketAddr,
    n: usize,
    answer_len: usize,
    hold: Duration,
    key: Option<&'static str>,
) -> usize {
    let deadline = Instant::now() + hold;
    let text_len = (answer_len / 170).max(1);
    let text: String = "lorem ipsum ".repeat(text_len / 12 + 1)[..text_len].to_string();
    let req = Req {
        text,
        key,
        headers: vec![("x-mock-chunks", text_len.to_string())],
        ..Req::chat("main", true)
    }
    .bytes();
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None);
        let Ok(sock) = sock else { continue };
        let _ = sock.set_recv_buffer_size(4096);
        if sock.connect_timeout(&addr.into(), CONNECT).is_err() {
            continue;
        }
        let mut s: TcpStream = sock.into();
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        if s.write_all(&req).is_ok() {
            held.push(s);
        }
    }
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    held.len()
}

/// `n` clients at once, each sending a 16 MiB body with no key; how each
/// ended (`401`, `closed`, `timeout`, ...).
pub fn keyless_bodies(addr: SocketAddr, n: usize) -> BTreeMap<String, u64> {
    let threads: Vec<_> = (0..n)
        .map(|_| std::thread::spawn(move || keyless_body(addr)))
        .collect();
    let mut out = BTreeMap::new();
    for t in threads {
        let k = t.join().unwrap_or_else(|_| "panic".into());
        *out.entry(k).or_default() += 1;
    }
    out
}

fn keyless_body(addr: SocketAddr) -> String {
    let Some(mut s) = connect(addr) else {
        return "connect".into();
    };
    let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: faults\r\ncontent-type: application/json\r\ncontent-length: {BIG_BODY}\r\n\r\n"
    );
    let piece = vec![b' '; 64 * 1024];
    let mut ok = s.write_all(head.as_bytes()).is_ok();
    let mut sent = 0;
    while ok && sent < BIG_BODY {
        ok = s.write_all(&piece).is_ok();
        sent += piece.len();
    }
    let mut buf = [0u8; 512];
    match s.read(&mut buf) {
        Ok(n) if n > 12 => String::from_utf8_lossy(&buf[9..12]).into_owned(),
        Ok(_) => "closed".into(),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => "timeout".into(),
        Err(_) => "reset".into(),
    }
}

/// A `BTreeMap` of outcomes as `k:v,k:v`.
pub fn render(m: &BTreeMap<String, u64>) -> String {
    let parts: Vec<_> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    parts.join(",")
}
