//! A provider as the request path sees it: resolved key, addresses, TLS
//! config, auth header, paths and body quirks — built once per snapshot.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::api::body_edit::BodyEdits;
use crate::api::error::push_json_str;
use crate::config::{ProviderConfig, ProviderKind, Secret};
use crate::resilience::Timeouts;
use crate::upstream::{BaseUrl, Origin};

/// Whether a provider can serve, and if not, why. The reason is for the
/// operator's log (it names the variable or key file, never a value);
/// clients are only told that the provider is misconfigured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderState {
    Enabled,
    Disabled(String),
}

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub base: Option<BaseUrl>,
    pub addrs: Vec<SocketAddr>,
    /// Resolved keys, in rotation order; empty for keyless providers.
    pub api_keys: Vec<Secret>,
    pub state: ProviderState,
    pub connect_timeout: Duration,
    /// The provider's own timeouts; each deployment's may differ by model.
    pub timeouts: Timeouts,
    pub pool_max_idle: usize,
    /// Lower-cased; a trailing `*` marks a prefix.
    pub forward_headers: Vec<String>,
    /// Pre-rendered `name: value\r\n` lines added to every upstream request.
    pub static_headers: Vec<u8>,
    pub tls: Arc<rustls::ClientConfig>,
    /// Lower-cased header name and the prefix written before the key.
    pub auth_header: String,
    pub auth_scheme: String,
    /// Chat path under the base path; `{model}` marks the upstream model.
    pub chat_path: String,
    /// Query string appended to every request path (no `?`).
    pub query: Option<String>,
    pub body_edits: BodyEdits,
}

impl Provider {
    /// The request target for a chat call to `model`: base path, chat path, query.
    pub fn chat_target(&self, model: &str, stream: bool) -> String {
        // Gemini names the method in the path: one for whole answers, one for SSE.
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        self.target(&self.chat_path.replace("{method}", method), model)
    }

    /// A request target: `path` (with `{model}` marking the upstream model)
    /// under the base path, and the provider's query string.
    pub fn target(&self, path: &str, model: &str) -> String {
        let base = self.base.as_ref().map_or("", |b| b.path.as_str());
        let mut target = String::with_capacity(base.len() + path.len() + model.len() + 32);
        target.push_str(base);
        target.push_str(&path.replace("{model}", model));
        if let Some(q) = &self.query {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(q);
        }
        target
    }
}

/// A TOML value as JSON text; `None` for datetimes, which JSON cannot hold.
pub fn toml_to_json(v: &toml::Value) -> Option<Vec<u8>> {
    fn write(v: &toml::Value, out: &mut String) -> Option<()> {
        match v {
            toml::Value::String(s) => push_json_str(out, s),
            toml::Value::Integer(i) => out.push_str(&i.to_string()),
            toml::Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
            toml::Value::Float(_) => return None,
            toml::Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            toml::Value::Datetime(_) => return None,
            toml::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out)?;
                }
                out.push(']');
            }
            toml::Value::Table(t) => {
                out.push('{');
                for (i, (k, item)) in t.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_json_str(out, k);
                    out.push(':');
                    write(item, out)?;
                }
                out.push('}');
            }
        }
        Some(())
    }
    let mut out = String::new();
    write(v, &mut out)?;
    Some(out.into_bytes())
}

pub(super) fn build_provider(p: &ProviderConfig) -> Provider {
    let base = p
        .base_url
        .as_deref()
        .and_then(|u| Origin::parse_base_url(u).ok());
    // Unresolvable keys are skipped; the provider is disabled only when it
    // has key references and none resolves.
    let refs: Vec<&String> = p.api_key.iter().chain(p.api_keys.iter()).collect();
    let mut api_keys = Vec::new();
    let mut why = None;
    for reference in &refs {
        match read_secret(reference) {
            Ok(secret) => api_keys.push(secret),
            Err(e) => why = why.or(Some(e)),
        }
    }
    let mut state = match (refs.is_empty(), api_keys.is_empty(), why) {
        (false, true, Some(why)) => ProviderState::Disabled(why),
        _ => ProviderState::Enabled,
    };
    let mut addrs = Vec::new();
    if let (Some(base), ProviderState::Enabled) = (&base, &state) {
        match base.origin.resolve() {
            Ok(a) if !a.is_empty() => addrs = a,
            _ => {
                state = ProviderState::Disabled(format!("cannot resolve `{}`", base.origin.host));
            }
        }
    }
    let tls = match p.ca_file.as_deref().map(crate::tls::client_config_with_ca) {
        Some(Ok(config)) => config,
        Some(Err(e)) => {
            state = ProviderState::Disabled(e);
            crate::tls::client_config()
        }
        None => crate::tls::client_config(),
    };
    let adapter = crate::providers::adapter::adapter(p.kind);
    let (default_header, default_scheme, default_path) =
        (adapter.auth_header, adapter.auth_scheme, adapter.chat_path);
    let auth_header = p
        .auth_header
        .clone()
        .unwrap_or_else(|| default_header.into())
        .to_ascii_lowercase();
    let auth_scheme = match &p.auth_scheme {
        Some(s) => s.clone(),
        None if auth_header == "authorization" => "Bearer ".into(),
        None => default_scheme.into(),
    };
    let query = p.api_version.as_ref().map(|v| format!("api-version={v}"));
    let body_edits = BodyEdits {
        drop: p.drop_fields.clone(),
        rename: p
            .rename_fields
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect(),
        set: p
            .set_fields
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), toml_to_json(v)?)))
            .collect(),
    };
    let mut static_headers = Vec::new();
    for (name, value) in adapter.default_headers {
        if !p.headers.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            static_headers.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    for (k, v) in &p.headers {
        static_headers.extend_from_slice(k.as_bytes());
        static_headers.extend_from_slice(b": ");
        static_headers.extend_from_slice(v.as_bytes());
        static_headers.extend_from_slice(b"\r\n");
    }
    Provider {
        name: p.name.clone(),
        kind: p.kind,
        base,
        addrs,
        api_keys,
        state,
        connect_timeout: Duration::from_millis(p.connect_timeout_ms),
        timeouts: Timeouts::DEFAULT.overridden(&p.timeout_settings()),
        pool_max_idle: p.pool_max_idle,
        forward_headers: p
            .forward_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        static_headers,
        tls,
        auth_header,
        auth_scheme,
        chat_path: p.chat_path.clone().unwrap_or_else(|| default_path.into()),
        query,
        body_edits,
    }
}

pub fn read_secret(reference: &str) -> Result<Secret, String> {
    if let Some(var) = reference.strip_prefix("env:") {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().to_string())),
            _ => Err(format!("the environment variable `{var}` is not set")),
        }
    } else if let Some(path) = reference.strip_prefix("file:") {
        match std::fs::read_to_string(path) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().to_string())),
            _ => Err(format!("the key file `{path}` cannot be read")),
        }
    } else {
        Err("the key reference is not `env:` or `file:`".into())
    }
}
