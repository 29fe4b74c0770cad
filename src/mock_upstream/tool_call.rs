//! Answers made of tool calls the test chooses. Each
//! `x-mock-tool-call: <name> <arguments>` header is one call (the first space
//! ends the name; no space means arguments `{}`); repeat the header for
//! several calls, answered in header order. `x-mock-tool-text: <text>` is
//! assistant text sent before the calls. Streams cut each call's arguments
//! into `x-mock-chunks` pieces (default 3, same rule as text pieces).
//!
//! Arguments are kept byte-exact: OpenAI carries them as a string, so invalid
//! JSON or duplicate keys pass through; Anthropic and Gemini carry an object,
//! so the raw text is spliced in as that object (duplicate keys survive) and
//! must be a JSON object — except in an Anthropic stream, whose
//! `partial_json` pieces are strings again. Ids are `call_<i>` / `toolu_<i>`,
//! `i` the call's 0-based position in the answer.

mod anthropic;
mod gemini;
mod openai;

use super::echo::EchoPlan;
use super::formats::Format;
use crate::canonical::tape::with_tape;
use crate::server::Request;

/// Argument pieces per call on a stream when `x-mock-chunks` is absent.
const DEFAULT_ARG_PIECES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub name: String,
    /// Exactly as the test wrote them, valid JSON or not.
    pub arguments: String,
}

/// A tool-call answer: optional text, then the calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolAnswer {
    pub text: String,
    pub calls: Vec<ToolCall>,
    /// How many pieces each call's arguments are cut into on a stream.
    pub arg_pieces: usize,
}

impl ToolAnswer {
    /// The answer a request asks for; `None` when it carries no `x-mock-tool-call`.
    pub fn from_request(req: &Request) -> Result<Option<ToolAnswer>, String> {
        let calls = req
            .headers()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-mock-tool-call"))
            .map(|(_, value)| ToolCall::parse(value))
            .collect::<Result<Vec<_>, _>>()?;
        if calls.is_empty() {
            return Ok(None);
        }
        let text = match req.header("x-mock-tool-text") {
            Some(v) => std::str::from_utf8(v)
                .map_err(|_| "x-mock-tool-text is not UTF-8".to_string())?
                .to_string(),
            None => String::new(),
        };
        let arg_pieces = req
            .header_str("x-mock-chunks")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_ARG_PIECES);
        Ok(Some(ToolAnswer {
            text,
            calls,
            arg_pieces,
        }))
    }

    /// Output tokens, approximated like the echo's (4 bytes each).
    fn completion_tokens(&self) -> u64 {
        let bytes: usize = self.text.len()
            + self
                .calls
                .iter()
                .map(|c| c.name.len() + c.arguments.len())
                .sum::<usize>();
        (bytes as u64).div_ceil(4).max(1)
    }

    /// The whole answer in `format`.
    pub fn body(
        &self,
        format: Format,
        plan: &EchoPlan,
        id: &str,
        extras: bool,
    ) -> Result<Vec<u8>, String> {
        Ok(match format {
            Format::OpenAi => openai::body(self, plan, id, extras),
            Format::Anthropic => anthropic::body(self, plan, id)?,
            Format::Gemini { .. } => gemini::body(self, plan, id)?,
        })
    }

    /// The answer as `format`'s stream events, its text cut into `text_pieces`.
    pub fn events(
        &self,
        format: Format,
        plan: &EchoPlan,
        id: &str,
        text_pieces: &[&str],
        extras: bool,
    ) -> Result<Vec<Vec<u8>>, String> {
        Ok(match format {
            Format::OpenAi => openai::events(self, plan, id, text_pieces, extras),
            Format::Anthropic => anthropic::events(self, plan, id, text_pieces),
            Format::Gemini { .. } => gemini::events(self, plan, id, text_pieces)?,
        })
    }
}

impl ToolCall {
    fn parse(value: &[u8]) -> Result<ToolCall, String> {
        let value =
            std::str::from_utf8(value).map_err(|_| "x-mock-tool-call is not UTF-8".to_string())?;
        let (name, arguments) = value.split_once(' ').unwrap_or((value, "{}"));
        if name.is_empty() {
            return Err("x-mock-tool-call needs `<name> <arguments-json>`".into());
        }
        Ok(ToolCall {
            name: name.to_string(),
            arguments: arguments.to_string(),
        })
    }

    /// The raw arguments, for a format that carries them as a JSON object.
    fn object(&self) -> Result<&str, String> {
        let is_object = with_tape(self.arguments.as_bytes(), |tape, _| {
            tape.ok()
                .is_some_and(|t| t.as_value().as_object().is_some())
        });
        if is_object {
            Ok(&self.arguments)
        } else {
            Err(format!(
                "x-mock-tool-call `{}`: this format carries arguments as a JSON object",
                self.name
            ))
        }
    }
}

#[cfg(test)]
mod tests;
