//! Upstream TLS: the gateway reaches an HTTPS provider through rustls, trusts
//! a private CA only when the provider's `ca_file` names it, and streams over it.

mod common;

use common::*;

struct Certs {
    dir: TempDir,
}

impl Certs {
    fn new() -> Certs {
        let dir = TempDir::new();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        std::fs::write(dir.path.join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.path.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path.join(name).to_str().unwrap().to_string()
    }
}

fn tls_config(port: u16, ca: Option<&str>) -> String {
    let ca_line = ca.map(|c| format!("ca_file = \"{c}\"")).unwrap_or_default();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1

[[providers]]
name = "secure"
kind = "openai_compatible"
base_url = "https://localhost:{port}/v1"
forward_headers = ["x-mock-*"]
{ca_line}

[[models]]
name = "secure-model"
provider = "secure"
"#
    )
}

fn https_upstream_with_private_ca(driver: &str) {
    let certs = Certs::new();
    let mock = start_mock_with(
        driver,
        &[
            "--tls-cert",
            &certs.path("cert.pem"),
            "--tls-key",
            &certs.path("key.pem"),
        ],
    );
    let gw = start_gateway(
        &tls_config(mock.addr.port(), Some(&certs.path("cert.pem"))),
        driver,
    );
    let mut c = Client::connect(gw.addr);
    for i in 0..3 {
        c.post(
            "/v1/chat/completions",
            &[],
            &chat_body("secure-model", &format!("over tls {i}"), false),
        );
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains(&format!("over tls {i}")));
    }
    c.post(
        "/v1/chat/completions",
        &[("x-mock-chunks", "4")],
        &chat_body("secure-model", "streamed over tls", true),
    );
    let r = c.read_response().unwrap();
    assert_eq!(sse_data(&r.body).last().map(String::as_str), Some("[DONE]"));
    // One TLS connection carried all four exchanges.
    let metrics = get(gw.addr, "/metrics").text();
    assert!(
        metrics.contains("tollgate_upstream_connections_opened_total{worker=\"0\"} 1\n"),
        "{metrics}"
    );

    // Without the CA the certificate is not trusted: a clean 502, nothing sent.
    let untrusting = start_gateway(&tls_config(mock.addr.port(), None), driver);
    let r = post_chat(untrusting.addr, &[], &chat_body("secure-model", "x", false));
    assert_eq!(r.status, 502);
    assert_eq!(r.error_code(), "upstream_connect_error");
}

on_both_drivers!(https_upstream_with_private_ca);
