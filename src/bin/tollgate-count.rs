//! `tollgate-count`: Tollgate's token counts for every tokenizer family, so
//! tests can compare them with independent reference tokenizers.
//!
//! ```text
//! tollgate-count text    [FAMILY…]  < text          → {"o200k": 12, …}
//! tollgate-count texts   [FAMILY…]  < {"name": "text", …}
//!                                                   → {"name": {"o200k": 12, …}, …}
//! tollgate-count request [FAMILY…]  < OpenAI chat request JSON
//!                                   → {"o200k": {"total", "per_message", "tools", "bound"}, …}
//! ```
//! With no FAMILY, every family is counted. Output is one line of JSON.

use std::io::{Read, Write};
use std::process::ExitCode;

use simd_json::prelude::*;
use tollgate::api::openai::parse_openai_request;
use tollgate::canonical::json::write_str;
use tollgate::context_window::TokenizerFamily;
use tollgate::context_window::count::{Counter, count_request, request_upper_bound};

const FAMILIES: [(&str, TokenizerFamily); 10] = [
    ("o200k", TokenizerFamily::O200k),
    ("cl100k", TokenizerFamily::Cl100k),
    ("claude", TokenizerFamily::Claude),
    ("gemini", TokenizerFamily::Gemini),
    ("mistral_tekken", TokenizerFamily::MistralTekken),
    ("qwen", TokenizerFamily::Qwen),
    ("llama3", TokenizerFamily::Llama3),
    ("deepseek", TokenizerFamily::DeepSeek),
    ("grok", TokenizerFamily::Grok),
    ("unknown", TokenizerFamily::Unknown),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, names)) = args.split_first() else {
        return usage("missing mode");
    };
    let mut families = Vec::new();
    for name in names {
        match FAMILIES.iter().find(|(n, _)| n == name) {
            Some(&entry) => families.push(entry),
            None => return usage(&format!("unknown family {name}")),
        }
    }
    if families.is_empty() {
        families = FAMILIES.to_vec();
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return fail(&format!("reading stdin: {e}"));
    }
    let mut out = Vec::new();
    let written = match mode.as_str() {
        "text" => match std::str::from_utf8(&input) {
            Ok(text) => {
                text_counts(&mut out, &families, text);
                Ok(())
            }
            Err(e) => Err(format!("stdin is not UTF-8: {e}")),
        },
        "texts" => texts(&mut out, &families, &mut input),
        "request" => request(&mut out, &families, &input),
        other => return usage(&format!("unknown mode {other}")),
    };
    if let Err(e) = written {
        return fail(&e);
    }
    out.push(b'\n');
    match std::io::stdout().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("writing stdout: {e}")),
    }
}

fn text_counts(out: &mut Vec<u8>, families: &[(&str, TokenizerFamily)], text: &str) {
    out.push(b'{');
    for (i, (name, family)) in families.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        let n = Counter::new(*family).text(text);
        out.extend_from_slice(format!(":{n}").as_bytes());
    }
    out.push(b'}');
}

fn texts(
    out: &mut Vec<u8>,
    families: &[(&str, TokenizerFamily)],
    input: &mut [u8],
) -> Result<(), String> {
    let value = simd_json::to_owned_value(input).map_err(|e| format!("stdin JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or("stdin must be an object of texts")?;
    out.push(b'{');
    for (i, (key, text)) in object.iter().enumerate() {
        let text = text
            .as_str()
            .ok_or_else(|| format!("{key} is not a string"))?;
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        text_counts(out, families, text);
    }
    out.push(b'}');
    Ok(())
}

fn request(
    out: &mut Vec<u8>,
    families: &[(&str, TokenizerFamily)],
    input: &[u8],
) -> Result<(), String> {
    let request = parse_openai_request(input).map_err(|e| format!("request: {e:?}"))?;
    out.push(b'{');
    for (i, (name, family)) in families.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let count = count_request(&Counter::new(*family), &request);
        let per_message: Vec<String> = count.per_message.iter().map(u32::to_string).collect();
        write_str(out, name);
        out.extend_from_slice(
            format!(
                r#":{{"total":{},"per_message":[{}],"tools":{},"bound":{}}}"#,
                count.total,
                per_message.join(","),
                count.tools,
                request_upper_bound(*family, &request)
            )
            .as_bytes(),
        );
    }
    out.push(b'}');
    Ok(())
}

fn usage(why: &str) -> ExitCode {
    let names: Vec<&str> = FAMILIES.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "tollgate-count: {why}\nusage: tollgate-count text|texts|request [FAMILY…]\nfamilies: {}",
        names.join(" ")
    );
    ExitCode::from(2)
}

fn fail(why: &str) -> ExitCode {
    eprintln!("tollgate-count: {why}");
    ExitCode::FAILURE
}
