//! Fast behavioural versions of the fault suite (`tollgate-faults`): a
//! SIGHUP storm with broken and empty files under light load, an idle flood,
//! and stream clients that never read — through the real gateway.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Replaces the config file in one step, as a deploy tool would, so a reload
/// never reads a half-written file.
fn replace_config(gw: &Gateway, text: &str) {
    let tmp = gw.config.with_extension("next");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &gw.config).unwrap();
}

/// Two clients in a loop until `stop`, bounded; every answer that is not a
/// complete 200 is kept.
fn light_load(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<String>>> {
    (0..2)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut bad = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                for i in 0..5_000 {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let text = format!("t{t}i{i}");
                    let r = post_chat(addr, &[], &chat_body("fast", &text, i % 3 == 0));
                    if r.status != 200 || !r.text().contains(&text) {
                        bad.push(format!("{} {}", r.status, r.text()));
                    }
                }
                bad
            })
        })
        .collect()
}

fn sighup_storm_answers_every_request(driver: &str) {
    let mock = start_mock(driver);
    let valid = mock_config(mock.addr, "", "");
    let gw = start_gateway(&valid, driver);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = light_load(gw.addr, stop.clone());
    for i in 0..20 {
        let text = match i % 4 {
            0 => valid.replace("mock-fast", &format!("mock-v{i}")),
            1 => "[[models]\nname = = \"broken\"\n".to_string(),
            2 => valid.replace("provider = \"mockup\"", "provider = \"missing\""),
            _ => String::new(),
        };
        replace_config(&gw, &text);
        let seen = gw.log().len();
        gw.signal("HUP");
        gw.wait_log(seen, "reload");
    }
    stop.store(true, Ordering::SeqCst);
    let bad: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        bad.is_empty(),
        "{} failed requests, e.g. {:?}",
        bad.len(),
        bad.first()
    );
    // Still on the last valid file (the 17th), and ready.
    let r = post_chat(gw.addr, &[], &chat_body("fast", "x", false));
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("mock-v16"),
        "{}",
        r.text()
    );
    assert_eq!(get(gw.addr, "/readyz").status, 200);
}

fn idle_flood_still_serves_and_returns_fds(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    // One request first, so its pooled upstream connection is in the start count.
    assert_eq!(
        post_chat(gw.addr, &[], &chat_body("fast", "warm", false)).status,
        200
    );
    let start = fds(gw.pid());
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(gw.addr).unwrap())
        .collect();
    // Nearly all: the warm-up's own connection may still be counted in `start`.
    eventually("the gateway holds the idle connections", || {
        fds(gw.pid()) >= start + 190
    });
    let r = post_chat(gw.addr, &[], &chat_body("fast", "still served", false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("still served"));
    drop(idle);
    eventually("the gateway's fds come back", || fds(gw.pid()) <= start + 2);
}

fn non_reading_stream_clients_do_not_stop_others(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let long = "lorem ipsum ".repeat(8_000);
    let mut stuck = Vec::new();
    for _ in 0..20 {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&gw.addr.into()).unwrap();
        let mut s: TcpStream = sock.into();
        let body = chat_body("fast", &long, true);
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\nx-mock-chunks: 400\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        stuck.push(s);
    }
    eventually("the stuck streams reached the upstream", || {
        stat(mock.addr, "streams_started") >= 20
    });
    for i in 0..6 {
        let text = format!("served{i}");
        let r = post_chat(gw.addr, &[], &chat_body("fast", &text, i % 2 == 0));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains(&text), "{}", r.text());
    }
    drop(stuck);
    // The clients have gone: every upstream stream they held ends.
    eventually("upstream streams released", || {
        let started = stat(mock.addr, "streams_started");
        started == stat(mock.addr, "streams_completed") + stat(mock.addr, "streams_aborted")
    });
    let r = post_chat(gw.addr, &[], &chat_body("fast", "after", true));
    assert_eq!(r.status, 200);
}

on_both_drivers!(
    sighup_storm_answers_every_request,
    idle_flood_still_serves_and_returns_fds,
    non_reading_stream_clients_do_not_stop_others,
);
