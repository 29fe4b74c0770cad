//! Unit tests of the OpenAI-format adapter: the request round trip, whole
//! answers and errors, the stream translator, and the passthrough readers.

mod passthrough;
mod property;
mod request;
mod response;
mod stream;

use crate::sse::{SseEvent, SseParser};

/// Every recorded stream under `tests/fixtures/*/` whose name ends in
/// `suffix`, as (name, text), sorted by name.
fn fixture_files(suffix: &str) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(root).expect("tests/fixtures") {
        let dir = dir.expect("a fixture folder").path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("a fixture folder") {
            let path = file.expect("a fixture").path();
            let name = path.display().to_string();
            if name.ends_with(suffix) {
                files.push((name, std::fs::read_to_string(&path).expect("UTF-8 fixture")));
            }
        }
    }
    files.sort();
    files
}

/// The events of a whole stream, as the gateway's SSE parser yields them.
fn events(body: &str) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    parser.feed(body.as_bytes());
    std::iter::from_fn(|| parser.next_event()).collect()
}
