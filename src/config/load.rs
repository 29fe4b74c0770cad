//! Loading a config: TOML parse with path-named errors, then validation that
//! collects every problem instead of stopping at the first.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::schema::{Config, ProviderKind};
use crate::api::scrub::{REDACTED, scrub_text};

/// Collects one error per problem: (path, message).
pub(super) type Report<'a> = dyn FnMut(String, String) + 'a;
use crate::upstream::Origin;

/// One problem, named by its path in the file (`providers[2].base_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Where the running config came from; reload reads the same place again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Embedded,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(p) => write!(f, "{}", p.display()),
            ConfigSource::Embedded => f.write_str("<embedded default>"),
        }
    }
}

const DEFAULT_PATH: &str = "config/tollgate.toml";

/// `--config` wins, then `$TOLLGATE_CONFIG`, then `config/tollgate.toml` when it
/// exists, then the default compiled into the binary.
pub fn resolve_source(flag: Option<&str>) -> ConfigSource {
    if let Some(p) = flag {
        return ConfigSource::File(PathBuf::from(p));
    }
    if let Ok(p) = std::env::var("TOLLGATE_CONFIG")
        && !p.is_empty()
    {
        return ConfigSource::File(PathBuf::from(p));
    }
    if Path::new(DEFAULT_PATH).is_file() {
        return ConfigSource::File(PathBuf::from(DEFAULT_PATH));
    }
    ConfigSource::Embedded
}

pub fn load_file(source: &ConfigSource) -> Result<Config, ConfigErrors> {
    match source {
        ConfigSource::Embedded => load_str(super::EMBEDDED_DEFAULT),
        ConfigSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigErrors(vec![ConfigError {
                    path: String::new(),
                    message: format!("cannot read {}: {e}", path.display()),
                }])
            })?;
            load_str(&text)
        }
    }
}

pub fn load_str(text: &str) -> Result<Config, ConfigErrors> {
    let de =
        toml::Deserializer::parse(text).map_err(|e| one_error(String::new(), text, &e, false))?;
    let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let secret = is_secret_path(&path);
        one_error(path, text, e.inner(), secret)
    })?;
    let mut errors = validate(&config);
    if errors.is_empty() {
        return Ok(config);
    }
    for e in &mut errors {
        // A value echoed back (`server.listen`, a header) may be a pasted key.
        e.message = scrub_text(&e.message, &[]).into_owned();
    }
    Err(ConfigErrors(errors))
}

/// Fields that hold secrets (or references to them): their values are never
/// quoted in an error, whatever they look like.
fn is_secret_path(path: &str) -> bool {
    path.split('.').any(|part| {
        let name = part.split('[').next().unwrap_or(part);
        matches!(
            name,
            "api_key" | "api_keys" | "key" | "token" | "password" | "hash"
        )
    })
}

/// One parse or type error as `line L, column C: reason`. toml's own text
/// carries an excerpt of the source line, which may hold a key: it is
/// dropped, and quoted values are hidden when the field is a secret.
fn one_error(path: String, text: &str, e: &toml::de::Error, secret: bool) -> ConfigErrors {
    let path = if path == "." { String::new() } else { path };
    let reason = e.message().trim();
    let reason = if secret {
        hide_quoted(reason)
    } else {
        reason.to_string()
    };
    let reason = scrub_text(&reason, &[]).into_owned();
    let message = match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("line {line}, column {column}: {reason}")
        }
        None => reason,
    };
    ConfigErrors(vec![ConfigError { path, message }])
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// serde quotes the offending value (`invalid type: string "sk-…"`): on a
/// secret field, every quoted piece becomes `[redacted]`.
fn hide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[open] as char;
        let Some(len) = rest[open + 1..].find(quote) else {
            break;
        };
        out.push_str(&rest[..=open]);
        out.push_str(REDACTED);
        out.push(quote);
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    out
}

fn validate(config: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: String| errors.push(ConfigError { path, message });
    let s = &config.server;
    if s.listen.parse::<SocketAddr>().is_err() {
        err(
            "server.listen".into(),
            format!("`{}` is not an address like 127.0.0.1:8080", s.listen),
        );
    }
    for (name, value) in [
        ("max_header_bytes", s.max_header_bytes as u64),
        ("max_headers", s.max_headers as u64),
        ("max_body_bytes", s.max_body_bytes as u64),
        ("header_timeout_ms", s.header_timeout_ms),
        ("body_timeout_ms", s.body_timeout_ms),
        ("idle_timeout_ms", s.idle_timeout_ms),
        ("max_connections", s.max_connections as u64),
        ("max_body_memory_bytes", s.max_body_memory_bytes as u64),
    ] {
        if value == 0 {
            err(format!("server.{name}"), "must be greater than 0".into());
        }
    }
    if s.max_body_memory_bytes < s.max_body_bytes {
        err(
            "server.max_body_memory_bytes".into(),
            format!(
                "must be at least max_body_bytes ({}), or no request of the largest size could be read",
                s.max_body_bytes
            ),
        );
    }

    match (&s.tls_cert, &s.tls_key) {
        (Some(cert), Some(key)) => {
            if let Err(e) = crate::tls::server_config(cert, key) {
                err("server.tls_cert".into(), e);
            }
        }
        (None, None) => {}
        _ => err(
            "server.tls_cert".into(),
            "tls_cert and tls_key go together".into(),
        ),
    }

    let mut provider_names = HashSet::new();
    for (i, p) in config.providers.iter().enumerate() {
        let at = |field: &str| format!("providers[{i}].{field}");
        if p.name.is_empty() {
            err(at("name"), "must not be empty".into());
        } else if !provider_names.insert(p.name.as_str()) {
            err(at("name"), format!("duplicate provider `{}`", p.name));
        }
        match (&p.base_url, p.kind) {
            (None, ProviderKind::Mock) => {}
            (None, _) => err(at("base_url"), "required for this kind".into()),
            (Some(url), _) => {
                if let Err(e) = Origin::parse_base_url(url) {
                    err(at("base_url"), e);
                }
            }
        }
        let key_refs = p.api_key.iter().map(|k| ("api_key".to_string(), k));
        let more = p
            .api_keys
            .iter()
            .enumerate()
            .map(|(j, k)| (format!("api_keys[{j}]"), k));
        for (field, key) in key_refs.chain(more) {
            if let Err(why) = super::secret::check_reference(key) {
                err(at(&field), why.into());
            }
        }
        if p.connect_timeout_ms == 0 {
            err(at("connect_timeout_ms"), "must be greater than 0".into());
        }
        for field in super::schema::zero_timeouts(&p.timeout_settings()) {
            err(at(field), "must be greater than 0".into());
        }
        if p.kind == ProviderKind::Azure && p.api_version.is_none() {
            err(
                at("api_version"),
                "required for kind `azure` (e.g. \"2024-10-21\")".into(),
            );
        }
        if let Some(path) = &p.chat_path
            && (!path.starts_with('/') || path.contains(['?', '#', ' ']))
        {
            err(
                at("chat_path"),
                "must start with `/` and carry no query".into(),
            );
        }
        if let Some(h) = &p.auth_header
            && http::HeaderName::from_bytes(h.as_bytes()).is_err()
        {
            err(at("auth_header"), format!("`{h}` is not a header name"));
        }
        for (k, v) in &p.set_fields {
            if crate::router::toml_to_json(v).is_none() {
                err(
                    format!("providers[{i}].set_fields.{k}"),
                    "dates cannot be sent as JSON".into(),
                );
            }
        }
        if let Some(ca) = &p.ca_file
            && let Err(e) = crate::tls::client_config_with_ca(ca)
        {
            err(at("ca_file"), e);
        }
        for (j, h) in p.forward_headers.iter().enumerate() {
            let name = h.strip_suffix('*').unwrap_or(h);
            if name.is_empty() || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                err(
                    format!("providers[{i}].forward_headers[{j}]"),
                    format!("`{h}` is not a header name"),
                );
            }
        }
        for (k, v) in &p.headers {
            let bad_name = http::HeaderName::from_bytes(k.as_bytes()).is_err()
                || crate::upstream::is_reserved_header(k);
            if bad_name || http::HeaderValue::from_str(v).is_err() {
                err(
                    format!("providers[{i}].headers.{k}"),
                    "not a header the gateway can send".into(),
                );
            }
        }
    }

    if config.models.is_empty() && !s.allow_no_models {
        err(
            "models".into(),
            "the config serves no model (no [[models]] entry): add one, or set `[server] allow_no_models = true` if that is intended".into(),
        );
    }
    super::routing_checks::validate(config, &provider_names, &mut err);
    context_checks(config, &mut err);
    super::governance::validate(config, &mut err);
    super::guards::validate(config, &mut err);
    super::mcp::validate(config, &mut err);
    errors.extend(crate::context_window::catalog::check_overrides(
        &config.catalog,
    ));
    errors
}

/// `[context]` and each model's `context`: the models they name exist,
/// `summarize` has a model to ask, the ratio is a share of the window.
fn context_checks(config: &Config, err: &mut impl FnMut(String, String)) {
    use super::FitStrategyName;
    let known = |name: &str| config.models.iter().any(|m| m.name == name);
    let mut check = |path: &str, c: &super::ContextConfig| {
        for (field, name) in [
            ("summarize_model", &c.summarize_model),
            ("bigger_model", &c.bigger_model),
        ] {
            if let Some(name) = name
                && !known(name)
            {
                err(
                    format!("{path}.{field}"),
                    format!("no model is named `{name}`"),
                );
            }
        }
        if c.strategies.contains(&FitStrategyName::Summarize) && c.summarize_model.is_none() {
            err(
                format!("{path}.strategies"),
                "`summarize` needs `summarize_model`".into(),
            );
        }
        if !(c.target_ratio > 0.0 && c.target_ratio <= 1.0) {
            err(
                format!("{path}.target_ratio"),
                "must be above 0 and at most 1".into(),
            );
        }
    };
    check("context", &config.context);
    for (i, m) in config.models.iter().enumerate() {
        if m.context.is_some() {
            check(
                &format!("models[{i}].context"),
                &config.context.for_model(m.context.as_ref()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        load_str(super::super::EMBEDDED_DEFAULT).unwrap();
    }

    #[test]
    fn errors_name_their_path() {
        let text = r#"
[[providers]]
name = "a"
kind = "openai"
base_url = "ftp://x"

[[providers]]
name = "b"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
api_key = "sk-literal"

[[models]]
name = "m"
provider = "nope"
"#;
        let errs = load_str(text).unwrap_err().0;
        let paths: Vec<_> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "providers[0].base_url",
                "providers[1].api_key",
                "models[0].provider"
            ]
        );
        assert!(!errs[1].message.contains("sk-literal"));
    }

    #[test]
    fn unknown_field_is_named() {
        let errs = load_str("[[providers]]\nname='a'\nkind='mock'\nbogus=1\n")
            .unwrap_err()
            .0;
        assert_eq!(errs[0].path, "providers[0].bogus");
        assert!(errs[0].message.contains("bogus"), "{}", errs[0].message);
    }

    #[test]
    fn a_config_with_no_model_needs_the_flag() {
        let errs = load_str("").unwrap_err().0;
        assert_eq!(errs[0].path, "models");
        assert!(errs[0].message.contains("allow_no_models"));
        load_str("[server]\nallow_no_models = true\n").unwrap();
    }

    #[test]
    fn parse_errors_give_the_place_and_hide_secret_values() {
        assert_eq!(line_column("a\nbc\nd", 4), (2, 3));
        assert_eq!(
            hide_quoted("invalid type: string \"sk-x\", expected `a` or"),
            "invalid type: string \"[redacted]\", expected `[redacted]` or"
        );
        let errs = load_str("[[keys]]\nid = \"k\"\nkey = [\"hunter2-password\"]\n")
            .unwrap_err()
            .0;
        assert_eq!(errs[0].path, "keys[0].key");
        assert!(
            errs[0].message.starts_with("line 3, column 7: "),
            "{}",
            errs[0].message
        );
        assert!(!errs[0].message.contains("hunter2"), "{}", errs[0].message);
    }
}
