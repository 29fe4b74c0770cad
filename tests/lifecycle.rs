//! The process around the requests: SIGHUP reload, client disconnects,
//! graceful shutdown, `check`, and the embedded default config.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;

fn sighup_reload_changes_routing_and_rejects_a_broken_file(driver: &str) {
    let mock = start_mock(driver);
    let config = mock_config(mock.addr, "", "");
    let gw = start_gateway(&config, driver);
    let model_of = || post_chat(gw.addr, &[], &chat_body("fast", "x", false));
    assert_eq!(model_of().header("x-tollgate-model"), Some("mock-fast"));

    gw.rewrite_config(&config.replace(
        "upstream_model = \"mock-fast\"",
        "upstream_model = \"mock-renamed\"",
    ));
    let seen = gw.log().len();
    gw.signal("HUP");
    gw.wait_log(seen, "reload: config");
    assert_eq!(model_of().header("x-tollgate-model"), Some("mock-renamed"));

    // A broken file: rejected, logged with its path, old routing kept.
    gw.rewrite_config(&config.replace("provider = \"mockup\"", "provider = \"missing\""));
    let seen = gw.log().len();
    gw.signal("HUP");
    let line = gw.wait_log(seen, "reload rejected");
    assert!(line.contains("models[0].provider"), "{line}");
    assert_eq!(model_of().header("x-tollgate-model"), Some("mock-renamed"));
    gw.rewrite_config("this is = = not toml");
    let seen = gw.log().len();
    gw.signal("HUP");
    gw.wait_log(seen, "reload rejected");
    assert_eq!(model_of().status, 200);
    assert!(
        get(gw.addr, "/metrics")
            .text()
            .contains("tollgate_config_generation 2\n")
    );
}

fn a_thousand_requests_across_reloads_all_succeed(driver: &str) {
    let mock = start_mock(driver);
    let config = mock_config(mock.addr, "", "").replace("workers = 1", "workers = 2");
    let gw = start_gateway(&config, driver);
    let addr = gw.addr;
    let ok = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    // The load starts once a reload has, and goes on (bounded) until a
    // second one has: on a busy machine the requests alone may be quicker.
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let ok = ok.clone();
            let sent = sent.clone();
            std::thread::spawn(move || {
                eventually("a first reload", || sent.load(Ordering::SeqCst) >= 1);
                let mut c = Client::connect(addr);
                let mut i = 0;
                while i < 250 || (sent.load(Ordering::SeqCst) < 2 && i < 2000) {
                    // Mix keep-alive with fresh connections and streams.
                    if i % 50 == 0 {
                        c = Client::connect(addr);
                    }
                    c.post(
                        "/v1/chat/completions",
                        &[],
                        &chat_body("fast", &format!("t{t}i{i}"), i % 3 == 0),
                    );
                    let r = c.read_response().expect("response");
                    assert_eq!(r.status, 200, "{}", r.text());
                    assert!(r.text().contains(&format!("t{t}i{i}")));
                    ok.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
                i
            })
        })
        .collect();
    let reloader = {
        let done = done.clone();
        let sent = sent.clone();
        let config = config.clone();
        let path = gw.config.clone();
        let pid = gw.pid();
        std::thread::spawn(move || {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) && n < 200 {
                let upstream = if n % 2 == 0 { "mock-a" } else { "mock-b" };
                std::fs::write(&path, config.replace("mock-fast", upstream)).unwrap();
                Command::new("kill")
                    .args(["-s", "HUP", &pid.to_string()])
                    .status()
                    .unwrap();
                n += 1;
                sent.store(n, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            n
        })
    };
    let mut made = 0;
    for c in clients {
        made += c.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let reloads = reloader.join().unwrap();
    assert!(made >= 1000, "{made}");
    assert_eq!(ok.load(Ordering::SeqCst), made);
    assert!(reloads >= 2, "reloads happened during the load: {reloads}");
}

fn client_disconnect_mid_stream_frees_the_upstream(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    c.post(
        "/v1/chat/completions",
        &[("x-mock-chunks", "50"), ("x-mock-chunk-delay-ms", "50")],
        &chat_body(
            "fast",
            "a long answer that the client will not wait for",
            true,
        ),
    );
    assert_eq!(c.read_head().unwrap().0, 200);
    assert!(c.read_chunk_piece().is_some());
    drop(c);
    // The gateway closes its upstream connection instead of pooling it.
    eventually("upstream stream aborted", || {
        stat(mock.addr, "streams_aborted") == 1
    });
    // Only this stats call's own connection remains open at the mock.
    eventually("upstream connection closed", || {
        stat(mock.addr, "connections_open") == 1
    });
    assert_eq!(stat(mock.addr, "streams_completed"), 0);
    assert_eq!(
        post_chat(gw.addr, &[], &chat_body("fast", "x", false)).status,
        200
    );
}

fn client_disconnect_while_upstream_thinks_cancels_it(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    c.post(
        "/v1/chat/completions",
        &[("x-mock-fault", "hang")],
        &chat_body("fast", "x", false),
    );
    eventually("request reached the mock", || {
        stat(mock.addr, "requests") == 1
    });
    // A client that has gone resets; a FIN alone may be a half-close, which is answered.
    socket2::SockRef::from(&c.stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(c);
    // Long before any timeout, the gateway drops its upstream connection.
    eventually("upstream connection closed", || {
        stat(mock.addr, "connections_open") == 1
    });
    assert_eq!(
        post_chat(gw.addr, &[], &chat_body("fast", "x", false)).status,
        200
    );
}

fn graceful_shutdown_finishes_in_flight_streams(driver: &str) {
    let mock = start_mock(driver);
    let mut gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    c.post(
        "/v1/chat/completions",
        &[("x-mock-chunks", "5"), ("x-mock-chunk-delay-ms", "200")],
        &chat_body("fast", "finish me please now", true),
    );
    assert_eq!(c.read_head().unwrap().0, 200);
    let mut body = c.read_chunk_piece().unwrap();
    gw.signal("TERM");
    gw.wait_log(0, "shutting down");
    // New connections are refused once the listener is gone.
    eventually("listener closed", || {
        std::net::TcpStream::connect(gw.addr).is_err()
    });
    while let Some(p) = c.read_chunk_piece() {
        body.extend_from_slice(&p);
    }
    assert!(String::from_utf8_lossy(&body).ends_with("data: [DONE]\n\n"));
    assert_eq!(gw.wait_exit(), Some(0));
}

on_both_drivers!(
    sighup_reload_changes_routing_and_rejects_a_broken_file,
    a_thousand_requests_across_reloads_all_succeed,
    client_disconnect_mid_stream_frees_the_upstream,
    client_disconnect_while_upstream_thinks_cancels_it,
    graceful_shutdown_finishes_in_flight_streams,
);

#[test]
fn check_names_bad_fields_by_path() {
    let dir = TempDir::new();
    let good = dir.path.join("good.toml");
    std::fs::write(&good, tollgate::config::EMBEDDED_DEFAULT).unwrap();
    let out = Command::new(bin())
        .args(["check", "--config", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bad = dir.path.join("bad.toml");
    std::fs::write(
        &bad,
        "[[providers]]\nname='a'\nkind='openai'\nbase_url='ftp://x'\n[[providers]]\nname='b'\nkind='openai'\nbase_url='http://h/v1'\napi_key='sk-live-123'\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["check", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("providers[0].base_url: "), "{text}");
    assert!(text.contains("providers[1].api_key: "), "{text}");
    assert!(
        !text.contains("sk-live-123"),
        "a pasted key is never echoed"
    );
    let unknown = dir.path.join("unknown.toml");
    std::fs::write(&unknown, "[server]\nlisten='127.0.0.1:1'\ncolour='blue'\n").unwrap();
    let out = Command::new(bin())
        .args(["check", "--config", unknown.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("server.colour"));
}

#[test]
fn shipped_example_configs_are_valid() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples")).unwrap()
    {
        let path = entry.unwrap().path();
        let out = Command::new(bin())
            .args(["check", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn embedded_default_serves_mock_echo_with_no_file_and_no_keys() {
    let dir = TempDir::new();
    let gw = spawn(
        &["--listen", "127.0.0.1:0", "--workers", "1"],
        Some(&dir.path),
    );
    assert!(gw.log()[0].contains("<embedded default>"), "{:?}", gw.log());
    let r = post_chat(
        gw.addr,
        &[],
        br#"{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"content\":\"hi\""));
    let r = post_chat(gw.addr, &[], &chat_body("mock/echo", "streamed hi", true));
    assert!(sse_data(&r.body).concat().contains("streamed "));
    // Real providers stay off without their keys: the client hears that the
    // provider is misconfigured, the operator's log names the variable.
    let r = post_chat(gw.addr, &[], &chat_body("gpt-4o", "x", false));
    assert_eq!(r.status, 503);
    assert!(r.text().contains("misconfigured"), "{}", r.text());
    assert!(!r.text().contains("OPENAI_API_KEY"), "{}", r.text());
    gw.wait_log(0, "OPENAI_API_KEY");
    let models = get(gw.addr, "/v1/models").text();
    assert!(
        models.contains("mock/echo") && !models.contains("gpt-4o"),
        "{models}"
    );
}
