//! Where the Redis tier connects and as whom: `redis://` / `rediss://` URLs.
//! The password lives here and nowhere else; neither `Debug` nor a parse
//! error ever shows it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The default for connect, read and write: long enough for a loaded Redis
/// on a LAN, short enough that a dead one never stalls the ledger thread.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

const DEFAULT_PORT: u16 = 6379;

#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM CA certificates to trust instead of the public roots (TLS only).
    pub ca_file: Option<PathBuf>,
    /// Bounds each of: connecting (TCP, TLS, AUTH), and one round trip.
    pub timeout: Duration,
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db", &self.db)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisTarget {
    /// `redis://[user[:password]@]host[:port][/db]`; `rediss://` for TLS.
    /// User and password may be percent-encoded (`%40` for `@`). Errors
    /// name the part that is wrong, never its text.
    pub fn parse_url(url: &str) -> Result<RedisTarget, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("rediss://") {
            (true, rest)
        } else {
            return Err("a Redis URL starts with redis:// or rediss://".into());
        };
        if rest.contains(['?', '#']) {
            return Err("a Redis URL takes no query or fragment".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        // The password may hold `@` only percent-encoded, so the last `@`
        // ends the user info.
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = percent_decode(user).ok_or("the user name is badly percent-encoded")?;
                let pass = match pass {
                    None => None,
                    Some(p) => {
                        Some(percent_decode(p).ok_or("the password is badly percent-encoded")?)
                    }
                };
                let nonempty = |s: String| (!s.is_empty()).then_some(s);
                (nonempty(user), pass.and_then(nonempty))
            }
        };
        if username.is_some() && password.is_none() {
            return Err("the Redis URL names a user but no password".into());
        }
        let (host, port) = split_host_port(hostport)?;
        let db = match path {
            "" => 0,
            db => db
                .parse::<u32>()
                .map_err(|_| "the database after `/` is not a number".to_string())?,
        };
        Ok(RedisTarget {
            host,
            port,
            db,
            tls,
            username,
            password,
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// `host:port` as shown in errors (no credentials).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 host is missing its `]`")?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or("junk after the IPv6 host")?),
            ),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("the Redis URL has no host".into());
    }
    if host.contains(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '@')) {
        return Err("the host holds characters a host name cannot".into());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or("the port is not a number from 1 to 65535")?,
    };
    Ok((host.to_owned(), port))
}

/// `%XX` escapes decoded; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_url_forms() {
        let t = RedisTarget::parse_url("redis://127.0.0.1:6380").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.db, t.tls),
            ("127.0.0.1", 6380, 0, false)
        );
        assert_eq!((t.username, t.password), (None, None));
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);

        let t = RedisTarget::parse_url("rediss://ops:p%40ss%3Aw0rd@cache.internal/3").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.db, t.tls),
            ("cache.internal", 6379, 3, true)
        );
        assert_eq!(t.username.as_deref(), Some("ops"));
        assert_eq!(t.password.as_deref(), Some("p@ss:w0rd"));

        let t = RedisTarget::parse_url("redis://:secret@[::1]:7000/").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("::1", 7000, 0));
        assert_eq!(
            (t.username.as_deref(), t.password.as_deref()),
            (None, Some("secret"))
        );
        assert_eq!(t.address(), "[::1]:7000");

        // A raw `@` in the password: the last `@` ends the user info.
        let t = RedisTarget::parse_url("redis://u:a@b@h:1").unwrap();
        assert_eq!((t.password.as_deref(), t.host.as_str()), (Some("a@b"), "h"));
    }

    #[test]
    fn refuses_bad_urls_without_echoing_them() {
        for url in [
            "http://h:1",
            "h:1",
            "redis://",
            "redis://h:0",
            "redis://h:hunter2",
            "redis://h:70000",
            "redis://h:1/x",
            "redis://h:1?timeout=3",
            "redis://user@h:1",
            "redis://u:%zzhunter2@h",
            "redis://[::1",
            "redis://[::1]x",
        ] {
            let err = RedisTarget::parse_url(url).expect_err(url);
            assert!(!err.contains("hunter2") && !err.contains(url), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let t = RedisTarget::parse_url("redis://admin:hunter2@h:1").unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("admin"),
            "{shown}"
        );
    }
}
