//! The MCP upstream client against servers built with the official Python
//! SDK (mcp 2.3.0, `tests/mcp_upstream/*.py`): era probes on a dual-era and
//! a legacy-only HTTP server, lists, calls, progress before the answer,
//! timeouts, change streams, stdio processes per owner with their progress
//! tokens kept apart. Skipped, saying so, where the SDK's venv is absent.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use simd_json::OwnedValue;
use simd_json::prelude::*;
use tollgate::config::McpServerConfig;
use tollgate::mcp::upstream::{Client, Era, Event, McpUpstreamError, UpstreamSpec};

const CALL: Duration = Duration::from_secs(20);

/// The Python with `mcp==2.3.0`: `TOLLGATE_TEST_PYTHON` (scripts/test.sh
/// sets it, and then a missing one fails the test), else the suite's
/// `.venv-tests`; without either the tests say they are skipped.
fn python() -> Option<&'static str> {
    static PYTHON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Ok(p) = std::env::var("TOLLGATE_TEST_PYTHON") {
                assert!(Path::new(&p).exists(), "TOLLGATE_TEST_PYTHON={p} does not exist");
                return Some(p);
            }
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin/python");
            if venv.exists() {
                return Some(venv.display().to_string());
            }
            eprintln!("SKIPPED: no Python with mcp==2.3.0 (run scripts/test.sh, or set TOLLGATE_TEST_PYTHON)");
            None
        })
        .as_deref()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mcp_upstream")
        .join(name)
}

/// A Python server on a local port, stopped when dropped.
struct HttpServer {
    child: Child,
    port: u16,
}

impl HttpServer {
    fn start(python: &str, legacy: bool) -> HttpServer {
        HttpServer::start_on(python, legacy, free_port())
    }

    fn start_on(python: &str, legacy: bool, port: u16) -> HttpServer {
        let mut cmd = Command::new(python);
        cmd.arg(script("http_server.py")).arg(port.to_string());
        if legacy {
            cmd.arg("--legacy");
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python starts");
        let server = HttpServer { child, port };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let until = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < until, "the SDK server never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn spec(&self) -> Arc<UpstreamSpec> {
        spec(&format!(
            "name = \"alpha\"\nurl = \"http://127.0.0.1:{}/mcp\"\nheaders = {{ X-Team = \"blue\" }}",
            self.port
        ))
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spec(toml_text: &str) -> Arc<UpstreamSpec> {
    let config: McpServerConfig = toml::from_str(toml_text).expect("server config");
    Arc::new(UpstreamSpec::from_config(&config, 20_000).expect("spec"))
}

fn stdio_spec(python: &str, name: &str, idle_secs: u64) -> Arc<UpstreamSpec> {
    spec(&format!(
        "name = \"{name}\"\ncommand = \"{python}\"\nargs = [\"{}\"]\nidle_secs = {idle_secs}\nenv = {{ GAMMA_TOKEN = \"g-123\" }}",
        script("stdio_server.py").display()
    ))
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn json(bytes: &[u8]) -> OwnedValue {
    simd_json::to_owned_value(&mut bytes.to_vec()).expect("JSON")
}

/// Every event of one call: its messages, then its answer (parsed).
async fn call(client: &Client, method: &str, params: &str) -> (Vec<OwnedValue>, OwnedValue) {
    let mut exchange = client
        .call(method, params.as_bytes(), &[], CALL)
        .await
        .expect("call sent");
    let mut messages = Vec::new();
    loop {
        match exchange.next().await.expect("an event") {
            Event::Message(m) => messages.push(json(&m)),
            Event::Final(f) => {
                let answer = json(&f);
                assert_eq!(answer.get_u64("id"), Some(exchange.upstream_id()));
                return (messages, answer);
            }
        }
    }
}

async fn tool_text(client: &Client, tool: &str, arguments: &str) -> String {
    let params = format!("{{\"name\":\"{tool}\",\"arguments\":{arguments}}}");
    let (_, answer) = call(client, "tools/call", &params).await;
    let text = answer["result"]["content"][0].get_str("text");
    text.unwrap_or_else(|| panic!("no text in {answer:?}"))
        .to_string()
}

fn tool_names(answer: &OwnedValue) -> Vec<String> {
    let tools = answer["result"]["tools"].as_array().expect("tools");
    tools
        .iter()
        .filter_map(|t| t.get_str("name").map(str::to_string))
        .collect()
}

/// Progress notifications seen, as (token, progress, total).
fn progress(messages: &[OwnedValue]) -> Vec<(String, u64, u64)> {
    messages
        .iter()
        .filter(|m| m.get_str("method") == Some("notifications/progress"))
        .map(|m| {
            let p = &m["params"];
            (
                p.get("progressToken")
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                p.get("progress").and_then(|v| v.cast_f64()).unwrap_or(-1.0) as u64,
                p.get("total").and_then(|v| v.cast_f64()).unwrap_or(-1.0) as u64,
            )
        })
        .collect()
}

async fn serves_tools(client: &Client) {
    let (_, list) = call(client, "tools/list", "{}").await;
    let names = tool_names(&list);
    for want in ["echo", "progress", "slow", "fail"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert_eq!(
        tool_text(client, "echo", r#"{"text":"héllo"}"#).await,
        "héllo"
    );
    let (_, failed) = call(client, "tools/call", r#"{"name":"fail","arguments":{}}"#).await;
    assert_eq!(
        failed["result"].get_bool("isError"),
        Some(true),
        "{failed:?}"
    );
    let (events, done) = call(
        client,
        "tools/call",
        r#"{"name":"progress","arguments":{"steps":3},"_meta":{"progressToken":"p-1"}}"#,
    )
    .await;
    assert_eq!(
        progress(&events),
        [1, 2, 3].map(|i| ("p-1".to_string(), i, 3)),
        "progress before the answer"
    );
    assert_eq!(done["result"]["content"][0].get_str("text"), Some("done"));
}

#[test]
fn a_dual_era_http_server_is_spoken_to_in_the_modern_era() {
    let Some(python) = python() else { return };
    let server = HttpServer::start(python, false);
    let client = Client::new(server.spec(), None);
    run(async {
        assert_eq!(client.ready().await, Ok(Era::Modern("2026-07-28")));
        let info = json(&client.server_info().expect("discover result"));
        assert!(info["supportedVersions"].as_array().is_some(), "{info:?}");
        serves_tools(&client).await;
    });
}

#[test]
fn a_legacy_http_server_is_initialized_and_keeps_its_session() {
    let Some(python) = python() else { return };
    let server = HttpServer::start(python, true);
    let client = Client::new(server.spec(), None);
    run(async {
        assert_eq!(client.ready().await, Ok(Era::Legacy("2025-11-25")));
        let info = json(&client.server_info().expect("initialize result"));
        assert_eq!(
            info["serverInfo"].get_str("name"),
            Some("upstream-test-legacy")
        );
        serves_tools(&client).await;
        // A session ended by us: the next call starts another.
        client.close().await.expect("session ended");
        assert_eq!(
            tool_text(&client, "echo", r#"{"text":"again"}"#).await,
            "again"
        );
    });
    // A session the server forgot (it restarted): 404, one re-initialize,
    // the same call once more.
    let port = server.port;
    drop(server);
    let _restarted = HttpServer::start_on(python, true, port);
    run(async {
        assert_eq!(
            tool_text(&client, "echo", r#"{"text":"renewed"}"#).await,
            "renewed"
        );
    });
}

#[test]
fn http_calls_time_out_and_the_client_goes_on() {
    let Some(python) = python() else { return };
    let server = HttpServer::start(python, false);
    let client = Client::new(server.spec(), None);
    run(async {
        client.ready().await.expect("ready");
        let params = br#"{"name":"slow","arguments":{"ms":5000}}"#;
        let outcome = match client
            .call("tools/call", params, &[], Duration::from_millis(300))
            .await
        {
            Ok(mut exchange) => exchange.next().await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert_eq!(outcome, Err(McpUpstreamError::Timeout));
        assert_eq!(
            tool_text(&client, "echo", r#"{"text":"after"}"#).await,
            "after"
        );
    });
}

#[test]
fn modern_change_notifications_arrive_on_the_listen_stream() {
    let Some(python) = python() else { return };
    let server = HttpServer::start(python, false);
    let client = Client::new(server.spec(), None);
    run(async {
        let mut listener = client.listen().await.expect("listening");
        assert_eq!(tool_text(&client, "change", "{}").await, "changed");
        let note = monoio::time::timeout(CALL, listener.next())
            .await
            .expect("a notification in time")
            .expect("a notification");
        assert_eq!(
            json(&note).get_str("method"),
            Some("notifications/tools/list_changed")
        );
    });
}

#[test]
fn unreachable_servers_fail_to_connect() {
    let port = free_port();
    let spec = spec(&format!(
        "name = \"dead\"\nurl = \"http://127.0.0.1:{port}/mcp\""
    ));
    let client = Client::new(spec, None);
    run(async {
        assert!(matches!(
            client.ready().await,
            Err(McpUpstreamError::Connect(_))
        ));
    });
}

#[test]
fn stdio_processes_are_one_per_owner() {
    let Some(python) = python() else { return };
    let spec = stdio_spec(python, "gamma_owners", 600);
    let (k1, k1_again, k2) = (
        Client::new(spec.clone(), Some("k1")),
        Client::new(spec.clone(), Some("k1")),
        Client::new(spec, Some("k2")),
    );
    run(async {
        assert_eq!(k1.ready().await, Ok(Era::Modern("2026-07-28")));
        let pid1 = tool_text(&k1, "pid", "{}").await;
        let pid1_again = tool_text(&k1_again, "pid", "{}").await;
        let pid2 = tool_text(&k2, "pid", "{}").await;
        assert_eq!(pid1, pid1_again, "one process per owner");
        assert_ne!(pid1, pid2, "never shared across owners");
        assert_eq!(k1.pid().map(|p| p.to_string()), Some(pid1));
        // The spec's env is passed, the gateway's own is not.
        assert_eq!(
            tool_text(&k1, "env", r#"{"name":"GAMMA_TOKEN"}"#).await,
            "g-123"
        );
        assert_eq!(
            tool_text(&k1, "env", r#"{"name":"CARGO_PKG_NAME"}"#).await,
            "<unset>"
        );
        serves_tools(&k2).await;
    });
}

#[test]
fn stdio_progress_reaches_the_request_it_belongs_to() {
    let Some(python) = python() else { return };
    let spec = stdio_spec(python, "gamma_progress", 600);
    let (a, b) = (
        Client::new(spec.clone(), Some("k1")),
        Client::new(spec, Some("k1")),
    );
    run(async {
        // Both callers chose the same token, on one shared stdout.
        let params = |steps: u32| {
            format!(
                r#"{{"name":"progress","arguments":{{"steps":{steps}}},"_meta":{{"progressToken":"same"}}}}"#
            )
        };
        let (pa, pb) = (params(2), params(4));
        let ((ea, _), (eb, _)) =
            monoio::join!(call(&a, "tools/call", &pa), call(&b, "tools/call", &pb));
        let token = "same".to_string();
        assert_eq!(progress(&ea), [1, 2].map(|i| (token.clone(), i, 2)));
        assert_eq!(progress(&eb), [1, 2, 3, 4].map(|i| (token.clone(), i, 4)));
    });
}

#[test]
fn stdio_calls_time_out_cancel_and_the_process_serves_on() {
    let Some(python) = python() else { return };
    let client = Client::new(stdio_spec(python, "gamma_timeout", 600), Some("k1"));
    run(async {
        client.ready().await.expect("ready");
        let params = br#"{"name":"slow","arguments":{"ms":5000}}"#;
        let mut exchange = client
            .call("tools/call", params, &[], Duration::from_millis(300))
            .await
            .expect("sent");
        assert_eq!(exchange.next().await, Err(McpUpstreamError::Timeout));
        drop(exchange);
        assert_eq!(
            tool_text(&client, "echo", r#"{"text":"after"}"#).await,
            "after"
        );
    });
}

#[test]
fn idle_stdio_processes_stop_and_the_next_call_starts_another() {
    let Some(python) = python() else { return };
    let client = Client::new(stdio_spec(python, "gamma_idle", 1), Some("k1"));
    run(async {
        let first = tool_text(&client, "pid", "{}").await;
        let until = Instant::now() + Duration::from_secs(30);
        while client.pid().is_some() {
            assert!(Instant::now() < until, "the idle process was never stopped");
            monoio::time::sleep(Duration::from_millis(100)).await;
        }
        let second = tool_text(&client, "pid", "{}").await;
        assert_ne!(first, second);
    });
}
