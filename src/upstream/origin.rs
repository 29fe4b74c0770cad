//! Where an upstream lives: scheme, host and port (the pool key), plus the
//! base path requests are built under.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub tls: bool,
    pub host: Arc<str>,
    pub port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// A parsed `base_url`: the origin, the `Host` header value and the path prefix
/// (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub origin: Origin,
    pub host_header: String,
    pub path: String,
}

impl Origin {
    pub fn parse_base_url(url: &str) -> Result<BaseUrl, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("`{url}` must start with http:// or https://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("`{url}` has no valid host"));
        }
        if path.contains(['?', '#', ' ']) {
            return Err(format!("`{url}` must not carry a query or fragment"));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| format!("`{url}` has a bad IPv6 host"))?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => parse_port(p.strip_prefix(':').unwrap_or("x"), url)?,
            };
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p, url)?),
                None => (authority, default_port),
            }
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        {
            return Err(format!("`{url}` has no valid host"));
        }
        Ok(BaseUrl {
            origin: Origin {
                tls,
                host: host.into(),
                port,
            },
            host_header: if port == default_port {
                authority_host(host)
            } else {
                format!("{}:{port}", authority_host(host))
            },
            path: path.trim_end_matches('/').to_string(),
        })
    }

    /// Resolves the origin. IP literals need no lookup; names go through the
    /// system resolver, which blocks, so callers do this off the request path.
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        Ok((&*self.host, self.port).to_socket_addrs()?.collect())
    }
}

fn authority_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn parse_port(p: &str, url: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("`{url}` has a bad port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base_urls() {
        let b = Origin::parse_base_url("https://api.openai.com/v1/").unwrap();
        assert!(b.origin.tls);
        assert_eq!(b.origin.port, 443);
        assert_eq!(b.host_header, "api.openai.com");
        assert_eq!(b.path, "/v1");
        let b = Origin::parse_base_url("http://127.0.0.1:9000").unwrap();
        assert_eq!((b.origin.port, b.path.as_str()), (9000, ""));
        assert_eq!(b.host_header, "127.0.0.1:9000");
        let b = Origin::parse_base_url("http://[::1]:81/x").unwrap();
        assert_eq!(&*b.origin.host, "::1");
        assert_eq!(b.host_header, "[::1]:81");
        for bad in [
            "ftp://x",
            "http://",
            "http://a:0",
            "http://a:x",
            "http://u@h",
            "http://h/p?q",
        ] {
            assert!(Origin::parse_base_url(bad).is_err(), "{bad}");
        }
    }
}
