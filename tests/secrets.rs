//! Secrets stay secret, and a config that cannot serve says so: upstream
//! errors that echo our key, keys pasted into references, config errors on
//! key lines, empty configs at `check`, start and SIGHUP, and `/readyz`.

mod common;

use std::process::Command;

use common::*;

/// A provider key that matches no key-shaped pattern, so only the gateway's
/// knowledge of what it sent can hide it.
fn fresh_key(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("tgk-{tag}-{:08x}{n:04x}-QxWv", std::process::id())
}

/// Two keys in files, and a one-model config for a provider of `kind`.
fn provider_config(dir: &TempDir, mock: std::net::SocketAddr, kind: &str) -> (String, [String; 2]) {
    let keys = [fresh_key("a"), fresh_key("b")];
    let mut refs = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let path = dir.path.join(format!("key{i}"));
        std::fs::write(&path, key).unwrap();
        refs.push(format!("\"file:{}\"", path.display()));
    }
    let base = if kind == "gemini" { "v1beta" } else { "v1" };
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1

[[providers]]
name = "up"
kind = "{kind}"
base_url = "http://{mock}/{base}"
api_keys = [{}]
forward_headers = ["x-mock-*"]

[[models]]
name = "m"
provider = "up"
"#,
        refs.join(", ")
    );
    (config, keys)
}

fn assert_hidden(what: &str, text: &str, keys: &[String]) {
    for key in keys {
        assert!(!text.contains(key.as_str()), "{what} leaks {key}: {text}");
    }
}

fn upstream_errors_that_echo_the_key_never_reach_client_or_log(driver: &str) {
    let mock = start_mock(driver);
    for kind in ["openai_compatible", "anthropic", "gemini"] {
        let dir = TempDir::new();
        let (config, keys) = provider_config(&dir, mock.addr, kind);
        let gw = start_gateway(&config, driver);
        for (fault, stream) in [
            ("echo-key", false),
            ("echo-key;status=400", false),
            ("echo-key", true),
            ("echo-key-stream", true),
        ] {
            let r = post_chat(
                gw.addr,
                &[("x-mock-fault", fault)],
                &chat_body("m", "hi", stream),
            );
            let what = format!("{kind} {fault} stream={stream}");
            assert_hidden(&what, &r.text(), &keys);
            if fault == "echo-key-stream" {
                assert_eq!(r.status, 200, "{what}");
                assert!(r.text().contains("[redacted]"), "{what}: {}", r.text());
            } else {
                assert!(r.status >= 400, "{what}: {}", r.status);
                r.error_code();
                assert!(r.text().contains("[redacted]"), "{what}: {}", r.text());
            }
        }
        assert_hidden(&format!("{kind} stderr"), &gw.log().join("\n"), &keys);
    }
}

fn a_config_serving_nothing_is_refused_on_sighup_and_the_gateway_keeps_serving(driver: &str) {
    let mock = start_mock(driver);
    let config = mock_config(mock.addr, "", "");
    let gw = start_gateway(&config, driver);
    assert_eq!(get(gw.addr, "/readyz").status, 200);
    for text in ["", "[server]\nworkers = 1\n"] {
        gw.rewrite_config(text);
        let seen = gw.log().len();
        gw.signal("HUP");
        let line = gw.wait_log(seen, "reload rejected");
        assert!(line.contains("allow_no_models"), "{line}");
        let r = post_chat(gw.addr, &[], &chat_body("fast", "x", false));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(get(gw.addr, "/readyz").status, 200);
    }
    // A key line with a syntax error: the reload log has the line, not the key.
    let key = "sk-live-Reload0123456789abcdef";
    gw.rewrite_config(&format!(
        "[[providers]]\nname = \"p\"\nkind = \"openai\"\napi_key = \"{key}\n"
    ));
    let seen = gw.log().len();
    gw.signal("HUP");
    let line = gw.wait_log(seen, "reload rejected");
    assert!(line.contains("line 4"), "{line}");
    assert_hidden("reload log", &gw.log().join("\n"), &[key.to_string()]);
}

fn readyz_is_503_when_no_model_has_an_enabled_provider(driver: &str) {
    let mock = start_mock(driver);
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1

[[providers]]
name = "up"
kind = "openai_compatible"
base_url = "http://{}/v1"
api_key = "env:TOLLGATE_TEST_KEY_NEVER_SET"

[[providers]]
name = "other"
kind = "anthropic"
base_url = "http://{}/v1"
api_key = "file:/nonexistent/tollgate-secret-dir/key"

[[models]]
name = "m"
provider = "up"

[[models]]
name = "n"
provider = "other"
"#,
        mock.addr, mock.addr
    );
    let gw = start_gateway(&config, driver);
    let r = get(gw.addr, "/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("reason"), "{}", r.text());
    // The operator learns which variable and which file; clients learn neither.
    let log = gw.log().join("\n");
    assert!(log.contains("TOLLGATE_TEST_KEY_NEVER_SET"), "{log}");
    assert!(log.contains("tollgate-secret-dir"), "{log}");
    for model in ["m", "n"] {
        let r = post_chat(gw.addr, &[], &chat_body(model, "x", false));
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(r.text().contains("misconfigured"), "{}", r.text());
        for hidden in [
            "TOLLGATE_TEST_KEY_NEVER_SET",
            "tollgate-secret-dir",
            "env:",
            "file:",
        ] {
            assert!(!r.text().contains(hidden), "{hidden}: {}", r.text());
        }
    }
    for hidden in ["TOLLGATE_TEST_KEY_NEVER_SET", "tollgate-secret-dir"] {
        assert!(!r.text().contains(hidden), "{}", r.text());
    }
}

on_both_drivers!(
    upstream_errors_that_echo_the_key_never_reach_client_or_log,
    a_config_serving_nothing_is_refused_on_sighup_and_the_gateway_keeps_serving,
    readyz_is_503_when_no_model_has_an_enabled_provider,
);

fn check(text: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let path = dir.path.join("t.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(bin())
        .args(["check", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), all)
}

#[test]
fn check_refuses_a_config_that_serves_no_model() {
    for text in [
        "",
        "# nothing\n",
        "[[providers]]\nname = \"local\"\nkind = \"mock\"\n",
    ] {
        let (code, out) = check(text);
        assert_eq!(code, Some(1), "{text:?}: {out}");
        assert!(out.contains("no model"), "{out}");
        assert!(out.contains("allow_no_models"), "{out}");
    }
    let (code, out) = check("[server]\nallow_no_models = true\n");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_gateway_refuses_to_start_on_a_config_serving_nothing() {
    let dir = TempDir::new();
    let path = dir.path.join("empty.toml");
    std::fs::write(&path, "").unwrap();
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status = status.expect("the gateway started on an empty config");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("allow_no_models"), "{err}");
}

#[test]
fn a_key_pasted_into_a_reference_is_refused_without_printing_it() {
    let key = "sk-proj-Pasted0123456789abcdefXYZ";
    let google = "AIzaSyPasted0123456789abcdefghijklmn";
    for text in [
        format!(
            "[[providers]]\nname='p'\nkind='openai'\nbase_url='http://h/v1'\napi_key='env:{key}'\n[[models]]\nname='m'\nprovider='p'\n"
        ),
        format!(
            "[[providers]]\nname='p'\nkind='gemini'\nbase_url='http://h/v1'\napi_keys=['env:{google}']\n[[models]]\nname='m'\nprovider='p'\n"
        ),
        format!(
            "[[providers]]\nname='p'\nkind='openai'\nbase_url='http://h/v1'\napi_key='file:{key}'\n[[models]]\nname='m'\nprovider='p'\n"
        ),
        format!(
            "[[providers]]\nname='p'\nkind='mock'\n[[models]]\nname='m'\nprovider='p'\n[[keys]]\nid='k'\nkey='env:{key}'\n"
        ),
        "[[providers]]\nname='p'\nkind='openai'\nbase_url='http://h/v1'\napi_key='env:NOT A NAME'\n[[models]]\nname='m'\nprovider='p'\n"
            .to_string(),
    ] {
        let (code, out) = check(&text);
        assert_eq!(code, Some(1), "{text}: {out}");
        assert!(
            out.contains("api_key") || out.contains("keys[0].key"),
            "{out}"
        );
        assert_hidden(
            "check",
            &out,
            &[key.into(), google.into(), "NOT A NAME".into()],
        );
    }
}

#[test]
fn config_errors_on_key_lines_name_the_line_not_the_key() {
    let key = "sk-live-Syntax0123456789abcdefgh";
    let head = "[[providers]]\nname = \"p\"\nkind = \"openai\"\n";
    for (text, expect) in [
        // Unterminated string.
        (format!("{head}api_key = \"{key}\n"), "line 4"),
        // Not a quoted string at all.
        (format!("{head}api_key = {key}\n"), "line 4"),
        // A string where a list belongs.
        (format!("{head}api_keys = \"{key}\"\n"), "api_keys"),
        // A list where a string belongs, and a key as a table key.
        (format!("{head}api_key = [\"{key}\"]\n"), "api_key"),
        (
            format!("[[keys]]\nid = \"k\"\nkey = {{ \"{key}\" = 1 }}\n"),
            "keys[0].key",
        ),
    ] {
        let (code, out) = check(&text);
        assert_eq!(code, Some(1), "{text}: {out}");
        assert!(out.contains(expect), "{expect}: {out}");
        assert_hidden("check", &out, &[key.into()]);
    }
}
