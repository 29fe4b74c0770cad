//! The inbound server under hostile and unusual clients (issue 10): strict
//! framing, keyless large bodies, fd exhaustion, HTTP/1.0, half-closed clients.

mod common;

use std::net::Shutdown;

use common::*;

fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    c.send(bytes);
    c.read_response().expect("an answer, not a silent close")
}

const CHAT: &str = "POST /v1/chat/completions";

fn lenient_framing_is_refused(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let body = chat_body("mock/echo", "hi", false);
    let chunked = |sep: &str, end: &str| {
        let mut r = format!("{CHAT} HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
            .into_bytes();
        r.extend_from_slice(format!("{:x}{sep}", body.len()).as_bytes());
        r.extend_from_slice(&body);
        r.extend_from_slice(format!("{end}0\r\n\r\n").as_bytes());
        r
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no host",
            b"GET /healthz HTTP/1.1\r\n\r\n".to_vec(),
            "missing_host",
        ),
        (
            "two hosts",
            b"GET /healthz HTTP/1.1\r\nhost: a\r\nhost: a\r\n\r\n".to_vec(),
            "duplicate_host",
        ),
        (
            "TE on 1.0",
            format!("{CHAT} HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").into_bytes(),
            "bad_transfer_encoding",
        ),
        (
            "bare LF after chunk size",
            chunked("\n", "\r\n"),
            "bad_chunked_body",
        ),
        (
            "bare LF after chunk data",
            chunked("\r\n", "\n"),
            "bad_chunked_body",
        ),
    ];
    for (name, bytes, code) in cases {
        let r = raw(gw.addr, &bytes);
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert_eq!(r.error_code(), code, "{name}");
        assert!(
            r.closed,
            "{name}: the connection closes after a framing error"
        );
    }
    // The same body with CRLF everywhere, and an HTTP/1.0 request without Host, are served.
    assert_eq!(raw(gw.addr, &chunked("\r\n", "\r\n")).status, 200);
    assert_eq!(raw(gw.addr, b"GET /healthz HTTP/1.0\r\n\r\n").status, 200);
}

/// A gateway whose chat route needs the key in `secret` (a `file:` reference).
fn keyed_gateway(driver: &str, mock: &Proc, dir: &TempDir, server: &str) -> Gateway {
    let key_file = dir.path.join("client.key");
    std::fs::write(&key_file, "sk-client-secret").unwrap();
    let config = mock_config(mock.addr, server, "")
        + &format!(
            "\n[[keys]]\nid = \"team\"\nkey = \"file:{}\"\n",
            key_file.display()
        );
    start_gateway(&config, driver)
}

fn keyless_request_is_refused_from_its_head(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let gw = keyed_gateway(driver, &mock, &dir, "body_timeout_ms = 3000");
    // A 16 MiB announcement, and not one byte of it sent: the answer comes anyway.
    for expect in ["", "expect: 100-continue\r\n"] {
        let head =
            format!("{CHAT} HTTP/1.1\r\nhost: t\r\n{expect}content-length: 16000000\r\n\r\n");
        let mut c = Client::connect(gw.addr);
        c.send(head.as_bytes());
        let r = c.read_response().expect("an answer before any body");
        assert_eq!(r.status, 401, "{expect}{}", r.text());
        assert_eq!(r.error_code(), "invalid_api_key");
        assert!(r.closed);
        assert!(!r.text().contains("sk-client-secret"));
    }
    // A wrong key is refused the same way; the right one is served.
    let body = chat_body("mock/echo", "hi", false);
    let wrong = post_chat(gw.addr, &[("authorization", "Bearer sk-nope")], &body);
    assert_eq!(wrong.status, 401);
    let right = post_chat(gw.addr, &[("x-api-key", "sk-client-secret")], &body);
    assert_eq!(right.status, 200, "{}", right.text());
    assert_eq!(get(gw.addr, "/healthz").status, 200);
}

fn body_memory_is_capped_per_worker(driver: &str) {
    let mock = start_mock(driver);
    let server = "max_body_bytes = 65536\nmax_body_memory_bytes = 100000";
    let gw = start_gateway(&mock_config(mock.addr, server, ""), driver);
    let body = chat_body("mock/echo", &"x".repeat(59_000), false);
    let head = format!(
        "{CHAT} HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // A holds a lease for its whole body while it trickles in.
    let mut a = Client::connect(gw.addr);
    a.send(head.as_bytes());
    a.send(&body[..10]);
    let whole = |c: &mut Client| {
        c.send(head.as_bytes());
        c.send(&body);
        c.read_response().expect("an answer")
    };
    let mut refused = None;
    eventually(
        "a second large body is refused while the first holds the budget",
        || {
            let r = whole(&mut Client::connect(gw.addr));
            let busy = r.status == 503;
            refused = Some(r);
            busy
        },
    );
    let refused = refused.unwrap();
    assert_eq!(refused.error_code(), "server_busy");
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Small requests still pass, and the budget comes back when A ends.
    assert_eq!(get(gw.addr, "/healthz").status, 200);
    a.send(&body[10..]);
    assert_eq!(a.read_response().unwrap().status, 200);
    for _ in 0..3 {
        assert_eq!(whole(&mut Client::connect(gw.addr)).status, 200);
    }
}

fn connections_are_capped_per_worker(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "max_connections = 3", ""), driver);
    let mut held: Vec<Client> = (0..3)
        .map(|_| {
            let mut c = Client::connect(gw.addr);
            c.get("/healthz");
            assert_eq!(c.read_response().unwrap().status, 200);
            c
        })
        .collect();
    let mut c = Client::connect(gw.addr);
    c.get("/healthz");
    let r = c.read_response().expect("a refusal, not a silent close");
    assert_eq!(r.status, 503);
    assert_eq!(r.error_code(), "server_busy");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.closed);
    // The kept connections still work; one closing makes room.
    held[0].get("/healthz");
    assert_eq!(held[0].read_response().unwrap().status, 200);
    held.pop();
    eventually("a freed slot serves a new client", || {
        let mut c = Client::connect(gw.addr);
        c.get("/healthz");
        c.read_response().is_some_and(|r| r.status == 200)
    });
}

fn http10_streams_are_close_delimited(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    for model in ["mock/echo", "fast"] {
        for connection in ["", "connection: keep-alive\r\n"] {
            let body = chat_body(model, "stream to an old client", true);
            let mut c = Client::connect(gw.addr);
            c.send(
                format!(
                    "{CHAT} HTTP/1.0\r\n{connection}content-length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            c.send(&body);
            let r = c.read_response().unwrap();
            let what = format!("{model} {connection:?}");
            assert_eq!(r.status, 200, "{what}");
            assert_eq!(r.header("transfer-encoding"), None, "{what}");
            assert_eq!(r.header("content-length"), None, "{what}");
            assert_eq!(r.header("connection"), Some("close"), "{what}");
            let events = sse_data(&r.body);
            assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{what}");
            assert!(events.len() > 2, "{what}: {}", r.text());
        }
    }
}

fn http10_keep_alive_only_when_asked(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    for _ in 0..2 {
        c.send(b"GET /healthz HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

fn half_closed_clients_get_their_answer(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let cases = [
        ("latency-ms=300", 200),
        ("latency-ms=300,status=500", 0),
        ("status=500", 0),
    ];
    for (fault, status) in cases {
        let mut c = Client::connect(gw.addr);
        c.post(
            "/v1/chat/completions",
            &[("x-mock-fault", fault)],
            &chat_body("fast", "half closed", false),
        );
        c.stream.shutdown(Shutdown::Write).unwrap();
        let r = c
            .read_response()
            .unwrap_or_else(|| panic!("{fault}: no answer to a half-closed client"));
        if status == 0 {
            assert!(r.status >= 500, "{fault}: {}", r.status);
            assert!(!r.error_code().is_empty(), "{fault}");
        } else {
            assert_eq!(r.status, status, "{fault}: {}", r.text());
        }
    }
    // A stream to a half-closed client runs to its end too.
    let mut c = Client::connect(gw.addr);
    c.post(
        "/v1/chat/completions",
        &[("x-mock-fault", "latency-ms=300")],
        &chat_body("fast", "half closed stream", true),
    );
    c.stream.shutdown(Shutdown::Write).unwrap();
    let r = c.read_response().expect("a streamed answer");
    assert_eq!(sse_data(&r.body).last().map(String::as_str), Some("[DONE]"));
}

on_both_drivers!(
    lenient_framing_is_refused,
    keyless_request_is_refused_from_its_head,
    body_memory_is_capped_per_worker,
    connections_are_capped_per_worker,
    http10_streams_are_close_delimited,
    http10_keep_alive_only_when_asked,
    half_closed_clients_get_their_answer,
    memory_is_given_back_after_a_burst,
);

/// The gateway started under `prlimit --nofile=N:N`, its stderr collected.
struct Limited {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_limited(nofile: u32, config: &str, driver: &str) -> Limited {
    use std::io::BufRead;
    let dir = TempDir::new();
    let path = dir.path.join("tollgate.toml");
    std::fs::write(&path, config).unwrap();
    let limit = format!("--nofile={nofile}:{nofile}");
    let mut child = std::process::Command::new("prlimit")
        .arg(&limit)
        .arg(bin())
        .args([
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--driver",
            driver,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("prlimit runs the gateway");
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    let mut addr = None;
    eventually("the limited gateway listens", || {
        addr = log.lock().unwrap().iter().find_map(|l: &String| {
            let rest = l.split("listening on ").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        });
        addr.is_some()
    });
    Limited {
        child,
        addr: addr.unwrap(),
        log,
        _dir: dir,
    }
}

fn out_of_descriptors_backs_off_and_recovers(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_limited(64, &mock_config(mock.addr, "", ""), driver);
    eventually("the open files limit is logged", || {
        let log = gw.log.lock().unwrap();
        log.iter().any(|l| l.contains("open files limit 64"))
    });
    // More connections than descriptors, held open: the gateway runs out.
    let held: Vec<Client> = (0..100).map(|_| Client::connect(gw.addr)).collect();
    eventually("the gateway reports running out", || {
        gw.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("accept failed"))
    });
    // Long enough for a retry-every-10-ms loop to log a hundred lines.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let accept_lines = |log: &[String]| log.iter().filter(|l| l.contains("accept failed")).count();
    let during = accept_lines(&gw.log.lock().unwrap());
    assert!(
        during <= 3,
        "{during} accept lines: {:?}",
        gw.log.lock().unwrap()
    );
    drop(held);
    eventually("new clients are served once descriptors free up", || {
        let mut c = Client::connect(gw.addr);
        c.get("/healthz");
        c.read_response().is_some_and(|r| r.status == 200)
    });
}

on_both_drivers!(out_of_descriptors_backs_off_and_recovers);

fn memory_is_given_back_after_a_burst(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    assert_eq!(get(gw.addr, "/healthz").status, 200);
    let before = proc_kib(gw.pid(), "VmRSS");
    let body = chat_body("mock/echo", &"x".repeat(4 << 20), false);
    let uploads: Vec<_> = (0..4)
        .map(|_| {
            let (addr, body) = (gw.addr, body.clone());
            std::thread::spawn(move || post_chat(addr, &[], &body).status)
        })
        .collect();
    for u in uploads {
        assert_eq!(u.join().unwrap(), 200);
    }
    // Four 4 MiB bodies, their parses and their echoed answers come to well
    // over 50 MiB at once; what stays is a small fraction of one of them.
    let mut now = 0;
    eventually("the burst's memory is returned", || {
        now = proc_kib(gw.pid(), "VmRSS");
        now < before + 16 * 1024
    });
}
