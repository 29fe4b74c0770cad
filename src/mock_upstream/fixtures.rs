//! Recorded provider answers served by name (`x-mock-fixture: text_stream`)
//! from `tests/fixtures/<provider>/`, the same files the golden tests read:
//! `<name>.json` for a body, `<name>.sse` for a raw event stream, and
//! `error_<status>*.json` answered with that status.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

static ROOT: OnceLock<PathBuf> = OnceLock::new();

/// Sets the fixtures folder (default: this crate's `tests/fixtures`).
pub fn set_root(dir: PathBuf) {
    let _ = ROOT.set(dir);
}

fn root() -> &'static PathBuf {
    ROOT.get_or_init(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")))
}

pub enum Fixture {
    Body {
        status: u16,
        body: Vec<u8>,
    },
    /// Events exactly as recorded, separators included.
    Stream(Vec<Vec<u8>>),
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Option<std::rc::Rc<Vec<u8>>>>> = RefCell::new(HashMap::new());
}

fn read(path: String) -> Option<std::rc::Rc<Vec<u8>>> {
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(path.clone())
            .or_insert_with(|| std::fs::read(&path).ok().map(std::rc::Rc::new))
            .clone()
    })
}

/// Looks a fixture up; a stream request prefers `<name>.sse`.
pub fn load(provider: &str, name: &str, stream: bool) -> Option<Fixture> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let base = root().join(provider).join(name);
    let base = base.to_str()?;
    if stream && let Some(raw) = read(format!("{base}.sse")) {
        return Some(Fixture::Stream(split_events(&raw)));
    }
    let body = read(format!("{base}.json"))?;
    let status = name
        .strip_prefix("error_")
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    Some(Fixture::Body {
        status,
        body: body.to_vec(),
    })
}

/// Splits a raw SSE file into events, each keeping its blank-line separator
/// exactly as recorded, so a file that ends mid-event is served cut.
pub fn split_events(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < raw.len() {
        let sep = if raw[i..].starts_with(b"\r\n\r\n") {
            4
        } else if raw[i..].starts_with(b"\n\n") {
            2
        } else {
            0
        };
        if sep > 0 {
            events.push(raw[start..i + sep].to_vec());
            i += sep;
            start = i;
        } else {
            i += 1;
        }
    }
    if start < raw.len() && !raw[start..].iter().all(|b| b.is_ascii_whitespace()) {
        events.push(raw[start..].to_vec());
    }
    events
}

#[cfg(test)]
mod tests {
    use super::split_events;

    #[test]
    fn keeps_separators_and_a_cut_tail() {
        let events = split_events(b"data: a\n\ndata: b\r\n\r\ndata: {\"par");
        assert_eq!(
            events,
            [&b"data: a\n\n"[..], b"data: b\r\n\r\n", b"data: {\"par"]
        );
    }
}
