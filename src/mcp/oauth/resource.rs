//! What Tollgate tells OAuth clients about itself as a protected resource:
//! the RFC 9728 metadata document, where it is served, and the
//! `WWW-Authenticate` challenge (RFC 6750 §3) that points clients at it.

use crate::canonical::json::{write_list, write_str};

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// `resource` split into the origin (`scheme://authority`) and its path,
/// checked to be safe inside a quoted header parameter.
pub struct ResourceUrl {
    origin: String,
    path: String,
}

impl ResourceUrl {
    pub fn parse(url: &str) -> Result<ResourceUrl, String> {
        if !header_safe(url) {
            return Err("must be printable ASCII without spaces, quotes or backslashes".into());
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or("must be an http(s) URL")?;
        if url.contains('#') {
            return Err("must not have a fragment (RFC 9728 §2)".into());
        }
        let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        if authority.is_empty() || authority.contains('@') {
            return Err("must name a host (and no user)".into());
        }
        let after = &rest[authority_len..];
        let path = &after[..after.find('?').unwrap_or(after.len())];
        Ok(ResourceUrl {
            origin: url[..url.len() - rest.len() + authority_len].to_owned(),
            path: path.to_owned(),
        })
    }

    /// RFC 9728 §3.1: the well-known name inserted between the host and the
    /// resource's path (`/mcp` → `/.well-known/oauth-protected-resource/mcp`).
    pub fn metadata_path(&self) -> String {
        let path = if self.path == "/" { "" } else { &self.path };
        format!("{WELL_KNOWN}{path}")
    }

    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.origin, self.metadata_path())
    }
}

/// Printable ASCII with no space, `"` or `\`: a value that can go inside a
/// quoted header parameter as it is, and can never split a header.
pub fn header_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// The metadata document; `scopes_supported` only when there are some
/// (clients read an empty list as "request no scope").
pub fn metadata_json(resource: &str, issuers: &[String], scopes: &[String]) -> Vec<u8> {
    let write_string = |out: &mut Vec<u8>, s: &String| write_str(out, s);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"resource\":");
    write_str(&mut out, resource);
    out.extend_from_slice(b",\"authorization_servers\":");
    write_list(&mut out, issuers, write_string);
    if !scopes.is_empty() {
        out.extend_from_slice(b",\"scopes_supported\":");
        write_list(&mut out, scopes, write_string);
    }
    out.extend_from_slice(b",\"bearer_methods_supported\":[\"header\"]}");
    out
}

/// One `WWW-Authenticate` value. `error` is the RFC 6750 code and a fixed
/// description (never anything from the token); `scope` the scopes the
/// request needs, so the client knows what to ask for.
pub fn challenge(metadata_url: &str, error: Option<(&str, &str)>, scope: Option<&str>) -> String {
    let mut out = format!("Bearer resource_metadata=\"{metadata_url}\"");
    if let Some((code, _)) = error {
        out.push_str(&format!(", error=\"{code}\""));
    }
    if let Some(scope) = scope {
        out.push_str(&format!(", scope=\"{scope}\""));
    }
    if let Some((_, description)) = error {
        out.push_str(&format!(", error_description=\"{description}\""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lives_under_the_resource_path() {
        let cases = [
            (
                "https://gw.example.com/mcp",
                "/.well-known/oauth-protected-resource/mcp",
                "https://gw.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "http://127.0.0.1:8080/public/mcp?x=1",
                "/.well-known/oauth-protected-resource/public/mcp",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/public/mcp",
            ),
            (
                "https://gw.example.com/",
                "/.well-known/oauth-protected-resource",
                "https://gw.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://gw.example.com",
                "/.well-known/oauth-protected-resource",
                "https://gw.example.com/.well-known/oauth-protected-resource",
            ),
        ];
        for (resource, path, url) in cases {
            let r = ResourceUrl::parse(resource).unwrap();
            assert_eq!(r.metadata_path(), path, "{resource}");
            assert_eq!(r.metadata_url(), url, "{resource}");
        }
    }

    #[test]
    fn resource_urls_that_cannot_be_served_are_refused() {
        for bad in [
            "ftp://x/mcp",
            "https:///mcp",
            "https://u@x/mcp",
            "https://x/mcp#top",
            "https://x/m cp",
            "https://x/mcp\r\nSet-Cookie: a",
            "https://x/\"mcp",
            "",
        ] {
            assert!(ResourceUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn challenge_orders_its_parameters() {
        let url = "https://gw/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            challenge(url, None, None),
            format!("Bearer resource_metadata=\"{url}\"")
        );
        assert_eq!(
            challenge(url, Some(("insufficient_scope", "why")), Some("mcp:tools")),
            format!(
                "Bearer resource_metadata=\"{url}\", error=\"insufficient_scope\", \
                 scope=\"mcp:tools\", error_description=\"why\""
            )
        );
    }
}
