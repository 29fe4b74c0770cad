//! An upstream tool server as the client needs it, built once per snapshot
//! from `[[mcp.servers]]`: where it is (resolved addresses, or the command
//! to start), its secrets resolved from their references, its limits.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{McpServerConfig, Secret};
use crate::upstream::{BaseUrl, Origin};

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSpec {
    pub name: String,
    pub target: Target,
    /// A call's default bound, the probe's too.
    pub timeout: Duration,
    /// Calls in flight at once, for the gateway to share out over the cores.
    pub max_concurrency: usize,
    /// A stdio process idle this long is stopped.
    pub idle: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Http {
        base: BaseUrl,
        addrs: Vec<SocketAddr>,
        /// Sent on every request; credentials resolved from references.
        headers: Vec<(String, Secret)>,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        /// Added to `PATH`, `HOME` and `LANG`, nothing else of ours.
        env: Vec<(String, Secret)>,
    },
}

impl UpstreamSpec {
    /// Resolves `env:`/`file:` references and the host's addresses (DNS
    /// blocks: build specs off the request path). Errors name the server and
    /// the field, never a value.
    pub fn from_config(
        c: &McpServerConfig,
        default_timeout_ms: u64,
    ) -> Result<UpstreamSpec, String> {
        let at = |what: String| format!("MCP server `{}`: {what}", c.name);
        let target = match (&c.url, &c.command) {
            (Some(url), None) => http_target(url, c).map_err(at)?,
            (None, Some(command)) => Target::Stdio {
                command: command.clone(),
                args: c.args.clone(),
                env: c
                    .env
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), resolve(v).map_err(|e| format!("env.{k}: {e}"))?)))
                    .collect::<Result<_, String>>()
                    .map_err(at)?,
            },
            _ => return Err(at("give exactly one of `url` and `command`".into())),
        };
        Ok(UpstreamSpec {
            name: c.name.clone(),
            target,
            timeout: Duration::from_millis(c.timeout_ms.unwrap_or(default_timeout_ms).max(1)),
            max_concurrency: c.max_concurrency.max(1),
            idle: Duration::from_secs(c.idle_secs.max(1)),
        })
    }
}

fn http_target(url: &str, c: &McpServerConfig) -> Result<Target, String> {
    let base = Origin::parse_base_url(url)?;
    let addrs = base
        .origin
        .resolve()
        .map_err(|e| format!("cannot resolve `{}`: {e}", base.origin.host))?;
    let mut headers = Vec::with_capacity(c.headers.len());
    for (name, value) in &c.headers {
        let secret = resolve(value).map_err(|e| format!("headers.{name}: {e}"))?;
        let clean = secret
            .expose()
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        if !clean || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("headers.{name}: not something a header can carry"));
        }
        headers.push((name.clone(), secret));
    }
    Ok(Target::Http {
        base,
        addrs,
        headers,
    })
}

/// A reference's secret, or a literal value as it is.
fn resolve(value: &str) -> Result<Secret, String> {
    if value.starts_with("env:") || value.starts_with("file:") {
        crate::router::read_secret(value)
    } else {
        Ok(Secret::new(value.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(toml_text: &str) -> McpServerConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn http_servers_resolve_header_references() {
        let path = std::env::temp_dir().join(format!("tollgate-mcp-spec-{}", std::process::id()));
        std::fs::write(&path, "Bearer s3cret\n").unwrap();
        let c = server(&format!(
            r#"name = "alpha"
url = "http://127.0.0.1:9/mcp"
timeout_ms = 1500
headers = {{ Authorization = "file:{}", X-Team = "blue" }}"#,
            path.display()
        ));
        let spec = UpstreamSpec::from_config(&c, 60_000).unwrap();
        assert_eq!(spec.timeout, Duration::from_millis(1500));
        let Target::Http {
            base,
            addrs,
            headers,
        } = &spec.target
        else {
            panic!("not http");
        };
        assert_eq!(base.path, "/mcp");
        assert_eq!(addrs, &["127.0.0.1:9".parse::<SocketAddr>().unwrap()]);
        assert_eq!(headers[0].1.expose(), "Bearer s3cret");
        assert_eq!(headers[1].1.expose(), "blue");
        assert!(!format!("{spec:?}").contains("s3cret"));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn missing_secrets_are_named_not_shown() {
        let c = server(
            r#"name = "gamma"
command = "/bin/true"
env = { TOKEN = "env:TOLLGATE_MCP_SPEC_TEST_UNSET" }"#,
        );
        let err = UpstreamSpec::from_config(&c, 1000).unwrap_err();
        assert!(
            err.contains("gamma") && err.contains("TOLLGATE_MCP_SPEC_TEST_UNSET"),
            "{err}"
        );
        let c = server("name = \"x\"\nurl = \"http://127.0.0.1:9\"\nheaders = { X = \"a\\nb\" }");
        let err = UpstreamSpec::from_config(&c, 1000).unwrap_err();
        assert!(err.contains("headers.X") && !err.contains("a\nb"), "{err}");
    }

    #[test]
    fn stdio_servers_keep_their_command() {
        let c = server(
            "name = \"g\"\ncommand = \"python3\"\nargs = [\"s.py\"]\nenv = { A = \"1\" }\nidle_secs = 5",
        );
        let spec = UpstreamSpec::from_config(&c, 2000).unwrap();
        assert_eq!(spec.idle, Duration::from_secs(5));
        assert_eq!(spec.timeout, Duration::from_millis(2000));
        match spec.target {
            Target::Stdio { command, args, env } => {
                assert_eq!(
                    (command.as_str(), args),
                    ("python3", vec!["s.py".to_string()])
                );
                assert_eq!(env[0].1.expose(), "1");
            }
            Target::Http { .. } => panic!("not stdio"),
        }
    }
}
