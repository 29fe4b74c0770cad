//! A key resolved from its reference (`env:VAR`, `file:PATH`), which never
//! prints itself, and the check that a reference is one and not a pasted key.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why `reference` is not a usable `env:VAR` or `file:PATH` reference, if it
/// is not. The message never quotes the reference: it may be a pasted key.
pub fn check_reference(reference: &str) -> Result<(), &'static str> {
    let looks_like_key = crate::api::scrub::looks_like_key;
    if let Some(var) = reference.strip_prefix("env:") {
        let mut bytes = var.bytes();
        let name_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok || looks_like_key(var) {
            return Err(
                "`env:` must name an environment variable ([A-Za-z_][A-Za-z0-9_]*), and this looks like a key or is not a name: put the key in the variable, and its name here",
            );
        }
        Ok(())
    } else if let Some(path) = reference.strip_prefix("file:") {
        if path.is_empty() || looks_like_key(path) && !path.contains('/') {
            return Err(
                "`file:` must give the path of a file holding the key, and this looks like a key",
            );
        }
        Ok(())
    } else {
        Err("must be a reference like `env:OPENAI_API_KEY` or `file:/path`, never a literal key")
    }
}

#[cfg(test)]
mod tests {
    use super::check_reference;

    #[test]
    fn references_are_names_or_paths_never_keys() {
        for ok in [
            "env:OPENAI_API_KEY",
            "env:_X1",
            "file:/run/secrets/openai",
            "file:key.txt",
        ] {
            assert_eq!(check_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "env:",
            "env:sk-proj-abc123",
            "env:1ABC",
            "env:A B",
            "env:AIzaSyA0123456789abcdefghijklmnopqrstu",
            "env:d41d8cd98f00b204e9800998ecf8427e",
            "file:",
            "file:sk-ant-api03-abcdefghijklmnop",
            "sk-literal",
        ] {
            assert!(check_reference(bad).is_err(), "{bad}");
        }
    }
}
