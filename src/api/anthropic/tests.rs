//! Tests of the Anthropic dialect: request shapes from the Messages API
//! docs through the canonical model and back out of the Anthropic provider
//! writer (nothing lost), refusals that name their field, answers and the
//! recorded provider streams written back in Anthropic's grammar, errors.

mod errors;
mod request;
mod stream;

use simd_json::OwnedValue;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(bytes: &[u8]) -> OwnedValue {
    simd_json::to_owned_value(&mut bytes.to_vec())
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}
