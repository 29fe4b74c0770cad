//! One immutable view of the routing config: providers with their secrets and
//! addresses resolved, and models keyed by the name clients send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::api::body_edit::BodyEdits;
use crate::api::error::push_json_str;
use crate::config::{Config, ProviderConfig, ProviderKind, Secret};
use crate::upstream::{BaseUrl, Origin};

/// Whether a provider can serve, and if not, why (said to clients as is:
/// it names the variable, never a value).
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
    pub api_key: Option<Secret>,
    pub state: ProviderState,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub total_timeout: Duration,
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
        let base = self.base.as_ref().map_or("", |b| b.path.as_str());
        let mut target =
            String::with_capacity(base.len() + self.chat_path.len() + model.len() + 32);
        target.push_str(base);
        // Gemini names the method in the path: one for whole answers, one for SSE.
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        target.push_str(
            &self
                .chat_path
                .replace("{model}", model)
                .replace("{method}", method),
        );
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

#[derive(Debug)]
pub struct ModelRoute {
    pub name: String,
    pub upstream_model: String,
    pub provider: Arc<Provider>,
    pub default_max_tokens: u32,
    pub native_structured_output: bool,
}

#[derive(Debug)]
pub struct Snapshot {
    /// The config this was built from, kept so DNS refreshes can rebuild it.
    pub config: Arc<Config>,
    pub models: HashMap<String, Arc<ModelRoute>>,
    /// The `GET /v1/models` body, rendered once per snapshot.
    pub models_json: Vec<u8>,
    pub generation: u64,
}

impl Snapshot {
    /// Builds from a validated config. Secrets are read and host names resolved
    /// here, on the control thread, never on the request path.
    pub fn build(config: Arc<Config>, generation: u64) -> Snapshot {
        let providers: HashMap<&str, Arc<Provider>> = config
            .providers
            .iter()
            .map(|p| (p.name.as_str(), Arc::new(build_provider(p))))
            .collect();
        let mut models = HashMap::new();
        let mut listed = Vec::new();
        for m in &config.models {
            let provider = providers[m.provider.as_str()].clone();
            if provider.state == ProviderState::Enabled {
                listed.push((m.name.as_str(), m.provider.as_str()));
            }
            let route = ModelRoute {
                name: m.name.clone(),
                upstream_model: m.upstream_model.clone().unwrap_or_else(|| m.name.clone()),
                provider,
                default_max_tokens: m.default_max_tokens.unwrap_or(4096),
                native_structured_output: m.native_structured_output,
            };
            models.insert(m.name.clone(), Arc::new(route));
        }
        Snapshot {
            models_json: render_models(&listed),
            models,
            generation,
            config,
        }
    }

    /// Whether two snapshots reach the same addresses for every provider.
    pub fn same_addresses(&self, other: &Snapshot) -> bool {
        let addrs = |s: &Snapshot| {
            let mut v: Vec<(String, Vec<SocketAddr>)> = s
                .models
                .values()
                .map(|m| (m.provider.name.clone(), m.provider.addrs.clone()))
                .collect();
            v.sort();
            v
        };
        addrs(self) == addrs(other)
    }

    pub fn model(&self, name: &str) -> Option<&Arc<ModelRoute>> {
        self.models.get(name)
    }
}

fn build_provider(p: &ProviderConfig) -> Provider {
    let base = p
        .base_url
        .as_deref()
        .and_then(|u| Origin::parse_base_url(u).ok());
    let (api_key, mut state) = match p.api_key.as_deref() {
        None => (None, ProviderState::Enabled),
        Some(reference) => match read_secret(reference) {
            Ok(secret) => (Some(secret), ProviderState::Enabled),
            Err(why) => (None, ProviderState::Disabled(why)),
        },
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
    let (default_header, default_scheme, default_path) = match p.kind {
        ProviderKind::Azure => (
            "api-key",
            "",
            "/openai/deployments/{model}/chat/completions",
        ),
        ProviderKind::Anthropic => ("x-api-key", "", "/messages"),
        ProviderKind::Gemini => ("x-goog-api-key", "", "/models/{model}:{method}"),
        _ => ("authorization", "Bearer ", "/chat/completions"),
    };
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
    if p.kind == ProviderKind::Anthropic
        && !p
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("anthropic-version"))
    {
        static_headers.extend_from_slice(b"anthropic-version: 2023-06-01\r\n");
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
        api_key,
        state,
        connect_timeout: Duration::from_millis(p.connect_timeout_ms),
        first_byte_timeout: Duration::from_millis(p.first_byte_timeout_ms),
        total_timeout: Duration::from_millis(p.total_timeout_ms),
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

fn read_secret(reference: &str) -> Result<Secret, String> {
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

fn render_models(listed: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::from("{\"object\":\"list\",\"data\":[");
    for (i, (model, provider)) in listed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        push_json_str(&mut out, model);
        out.push_str(",\"object\":\"model\",\"created\":0,\"owned_by\":");
        push_json_str(&mut out, provider);
        out.push('}');
    }
    out.push_str("]}");
    out.into_bytes()
}
