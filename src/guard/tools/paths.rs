//! Path arguments confined to a root, resolved lexically (no filesystem
//! access): the tool or MCP server on the other side may resolve `..`,
//! `%2e%2e`, `\` or `~` its own way, so anything that could read as a way
//! out is refused rather than interpreted. Containment is by whole path
//! components, so `/srv/data-evil` is not inside `/srv/data`.

/// A configured root, as its components (`/` is the empty list).
#[derive(Debug, Clone, PartialEq)]
pub struct PathRoot {
    components: Vec<String>,
}

/// Why a path argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    Empty,
    ControlCharacter,
    Backslash,
    PercentEncoded,
    HomeDirectory,
    /// A `..` would climb above the root.
    Escapes,
    /// An absolute path that does not start with the root's components.
    OutsideRoot,
}

impl PathRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            PathRefusal::Empty => "path is empty",
            PathRefusal::ControlCharacter => "path contains a NUL or control character",
            PathRefusal::Backslash => "path contains a backslash",
            PathRefusal::PercentEncoded => {
                "path contains a percent-encoded dot, slash, backslash, percent or NUL"
            }
            PathRefusal::HomeDirectory => "path starts with `~`",
            PathRefusal::Escapes => "`..` climbs above the root",
            PathRefusal::OutsideRoot => "path is outside the root",
        }
    }
}

impl PathRoot {
    /// A root must be absolute and already normal: no `..`, `~`, `\`,
    /// control characters or percent escapes (`.` and repeated `/` are dropped).
    pub fn new(root: &str) -> Result<PathRoot, String> {
        if !root.starts_with('/') {
            return Err(format!("root `{root}` must be an absolute path"));
        }
        if let Err(refusal) = screen(root) {
            return Err(format!("root `{root}`: {}", refusal.reason()));
        }
        let mut components = Vec::new();
        for part in root.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(format!("root `{root}` must not contain `..`")),
                _ => components.push(part.to_string()),
            }
        }
        Ok(PathRoot { components })
    }

    /// The absolute, normal form of `raw` if it lies within the root (the
    /// root itself included); a relative path is taken from the root.
    pub fn resolve(&self, raw: &str) -> Result<String, PathRefusal> {
        screen(raw)?;
        let mut parts = raw.split('/').filter(|p| !p.is_empty() && *p != ".");
        if raw.starts_with('/') {
            for expected in &self.components {
                match parts.next() {
                    Some(part) if part == expected => {}
                    _ => return Err(PathRefusal::OutsideRoot),
                }
            }
        }
        let mut below: Vec<&str> = Vec::new();
        for part in parts {
            if part == ".." {
                below.pop().ok_or(PathRefusal::Escapes)?;
            } else {
                below.push(part);
            }
        }
        Ok(self.join(&below))
    }

    fn join(&self, below: &[&str]) -> String {
        let mut out = String::new();
        for part in self
            .components
            .iter()
            .map(String::as_str)
            .chain(below.iter().copied())
        {
            out.push('/');
            out.push_str(part);
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

/// Refusals that do not depend on the root.
fn screen(raw: &str) -> Result<(), PathRefusal> {
    if raw.is_empty() {
        return Err(PathRefusal::Empty);
    }
    if raw.chars().any(char::is_control) {
        return Err(PathRefusal::ControlCharacter);
    }
    if raw.contains('\\') {
        return Err(PathRefusal::Backslash);
    }
    if raw.starts_with('~') {
        return Err(PathRefusal::HomeDirectory);
    }
    if has_dangerous_escape(raw) {
        return Err(PathRefusal::PercentEncoded);
    }
    Ok(())
}

/// `%2e` `.`, `%2f` `/`, `%5c` `\`, `%25` `%` (double encoding), `%00`, any case.
fn has_dangerous_escape(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                [w[1].to_ascii_lowercase(), w[2].to_ascii_lowercase()],
                [b'2', b'e'] | [b'2', b'f'] | [b'5', b'c'] | [b'2', b'5'] | [b'0', b'0']
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_inside_the_root() {
        let root = PathRoot::new("/srv/data/").unwrap();
        let cases = [
            ("/srv/data", "/srv/data"),
            ("/srv/data/", "/srv/data"),
            ("/srv/data/reports/q3.txt", "/srv/data/reports/q3.txt"),
            ("//srv/./data//reports/./q3.txt", "/srv/data/reports/q3.txt"),
            ("reports/q3.txt", "/srv/data/reports/q3.txt"),
            ("./reports/../q3.txt", "/srv/data/q3.txt"),
            ("a/b/../../c", "/srv/data/c"),
            (".", "/srv/data"),
            ("notes~old.txt", "/srv/data/notes~old.txt"),
            ("100%.txt", "/srv/data/100%.txt"),
            ("file%20name", "/srv/data/file%20name"),
            ("..foo", "/srv/data/..foo"),
        ];
        for (raw, want) in cases {
            assert_eq!(root.resolve(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refuses_every_way_out() {
        let root = PathRoot::new("/srv/data").unwrap();
        let cases = [
            ("", PathRefusal::Empty),
            ("/srv/data/../etc/passwd", PathRefusal::Escapes),
            ("/srv/data/..", PathRefusal::Escapes),
            ("..", PathRefusal::Escapes),
            ("reports/../../x", PathRefusal::Escapes),
            ("/etc/passwd", PathRefusal::OutsideRoot),
            ("/srv/data-evil/x", PathRefusal::OutsideRoot),
            ("/srv/database", PathRefusal::OutsideRoot),
            ("/srv", PathRefusal::OutsideRoot),
            ("/", PathRefusal::OutsideRoot),
            ("/srv/other/../data/x", PathRefusal::OutsideRoot),
            ("/srv/data/x\0.txt", PathRefusal::ControlCharacter),
            ("/srv/data/x\n", PathRefusal::ControlCharacter),
            ("..\\..\\etc", PathRefusal::Backslash),
            ("/srv/data\\..\\x", PathRefusal::Backslash),
            ("..%2f..%2fetc", PathRefusal::PercentEncoded),
            ("%2e%2e/etc", PathRefusal::PercentEncoded),
            ("%2E%2E%2Fetc", PathRefusal::PercentEncoded),
            ("%252e%252e/etc", PathRefusal::PercentEncoded),
            ("..%5c..", PathRefusal::PercentEncoded),
            ("x%00.txt", PathRefusal::PercentEncoded),
            ("~", PathRefusal::HomeDirectory),
            ("~root/.ssh/id_rsa", PathRefusal::HomeDirectory),
        ];
        for (raw, want) in cases {
            assert_eq!(root.resolve(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn the_filesystem_root_contains_every_absolute_path() {
        let root = PathRoot::new("/").unwrap();
        assert_eq!(root.resolve("/etc/hosts").as_deref(), Ok("/etc/hosts"));
        assert_eq!(root.resolve("/").as_deref(), Ok("/"));
        assert_eq!(root.resolve("/.."), Err(PathRefusal::Escapes));
    }

    #[test]
    fn roots_must_be_absolute_and_normal() {
        for bad in [
            "srv/data",
            "",
            "/srv/../etc",
            "/srv/~x\\y",
            "~/data",
            "/srv/%2e%2e",
        ] {
            assert!(PathRoot::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PathRoot::new("/srv//./data/").unwrap(),
            PathRoot::new("/srv/data").unwrap()
        );
    }
}
