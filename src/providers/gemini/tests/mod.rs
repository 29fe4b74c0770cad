//! Golden tests for the Gemini adapter: fixtures in `tests/fixtures/gemini/`
//! through the pure translation functions, compared with the expected
//! OpenAI (or Gemini) side. `GEMINI_BLESS=1` rewrites the expected outputs.

mod damaged;
mod property;
mod request_golden;
mod response_golden;
mod round_trip;
mod stream_golden;

use std::path::PathBuf;

use simd_json::OwnedValue;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gemini")
        .join(name)
}

pub fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn blessing() -> bool {
    std::env::var_os("GEMINI_BLESS").is_some()
}

pub fn json(bytes: &[u8]) -> OwnedValue {
    let mut buf = bytes.to_vec();
    simd_json::to_owned_value(&mut buf)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}
