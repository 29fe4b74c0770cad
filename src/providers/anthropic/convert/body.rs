//! Writes the Messages request body straight into bytes, in exactly the
//! layout serde's derive gives the wire types (field order, skipped empties,
//! `type` tag first), without serde's per-field dispatch.
//!
//! The wire types keep their `Serialize` derive as the reference: the test
//! below holds this writer to it byte for byte.

use crate::canonical::json::{write_f64, write_list, write_str, write_u64};
use crate::providers::anthropic::wire::{
    Block, ImageSource, MessagesRequest, SystemPrompt, Tool, ToolChoice, Turn,
};

/// Appends the JSON body for `req`.
pub(super) fn write_request(req: &MessagesRequest<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"model\":");
    write_str(out, req.model);
    out.extend_from_slice(b",\"max_tokens\":");
    write_u64(out, u64::from(req.max_tokens));
    match &req.system {
        None => {}
        Some(SystemPrompt::Text(text)) => {
            out.extend_from_slice(b",\"system\":");
            write_str(out, text);
        }
        Some(SystemPrompt::Blocks(blocks)) => {
            out.extend_from_slice(b",\"system\":");
            write_list(out, blocks, |out, block| {
                out.extend_from_slice(b"{\"type\":");
                write_str(out, block.kind);
                out.extend_from_slice(b",\"text\":");
                write_str(out, block.text);
                out.push(b'}');
            });
        }
    }
    out.extend_from_slice(b",\"messages\":");
    write_list(out, &req.messages, write_turn);
    if !req.tools.is_empty() {
        out.extend_from_slice(b",\"tools\":");
        write_list(out, &req.tools, write_tool);
    }
    if let Some(choice) = &req.tool_choice {
        out.extend_from_slice(b",\"tool_choice\":");
        write_tool_choice(out, choice);
    }
    if let Some(thinking) = &req.thinking {
        out.extend_from_slice(b",\"thinking\":{\"type\":");
        write_str(out, thinking.kind);
        out.extend_from_slice(b",\"budget_tokens\":");
        write_u64(out, u64::from(thinking.budget_tokens));
        out.push(b'}');
    }
    if let Some(config) = &req.output_config {
        out.extend_from_slice(b",\"output_config\":{\"format\":{\"type\":");
        write_str(out, config.format.kind);
        out.extend_from_slice(b",\"schema\":");
        out.extend_from_slice(config.format.schema.as_str().as_bytes());
        out.extend_from_slice(b"}}");
    }
    if let Some(t) = req.temperature {
        out.extend_from_slice(b",\"temperature\":");
        write_f64(out, t);
    }
    if let Some(p) = req.top_p {
        out.extend_from_slice(b",\"top_p\":");
        write_f64(out, p);
    }
    if !req.stop_sequences.is_empty() {
        out.extend_from_slice(b",\"stop_sequences\":");
        write_list(out, req.stop_sequences, |out, s| write_str(out, s));
    }
    if let Some(metadata) = &req.metadata {
        out.extend_from_slice(b",\"metadata\":{\"user_id\":");
        write_str(out, metadata.user_id);
        out.push(b'}');
    }
    if req.stream {
        out.extend_from_slice(b",\"stream\":true");
    }
    out.push(b'}');
}

fn write_turn(out: &mut Vec<u8>, turn: &Turn<'_>) {
    out.extend_from_slice(b"{\"role\":");
    write_str(out, turn.role);
    out.extend_from_slice(b",\"content\":");
    write_list(out, &turn.content, write_block);
    out.push(b'}');
}

fn write_block(out: &mut Vec<u8>, block: &Block<'_>) {
    match block {
        Block::Text { text } => {
            out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
            write_str(out, text);
        }
        Block::Image { source } => {
            out.extend_from_slice(b"{\"type\":\"image\",\"source\":");
            match source {
                ImageSource::Base64 { media_type, data } => {
                    out.extend_from_slice(b"{\"type\":\"base64\",\"media_type\":");
                    write_str(out, media_type);
                    out.extend_from_slice(b",\"data\":");
                    write_str(out, data);
                }
                ImageSource::Url { url } => {
                    out.extend_from_slice(b"{\"type\":\"url\",\"url\":");
                    write_str(out, url);
                }
            }
            out.push(b'}');
        }
        Block::ToolUse { id, name, input } => {
            out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
            write_str(out, id);
            out.extend_from_slice(b",\"name\":");
            write_str(out, name);
            out.extend_from_slice(b",\"input\":");
            out.extend_from_slice(input.as_str().as_bytes());
        }
        Block::ToolResult {
            tool_use_id,
            content,
        } => {
            out.extend_from_slice(b"{\"type\":\"tool_result\",\"tool_use_id\":");
            write_str(out, tool_use_id);
            if !content.is_empty() {
                out.extend_from_slice(b",\"content\":");
                write_list(out, content, write_block);
            }
        }
        Block::Thinking {
            thinking,
            signature,
        } => {
            out.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
            write_str(out, thinking);
            out.extend_from_slice(b",\"signature\":");
            write_str(out, signature);
        }
        Block::RedactedThinking { data } => {
            out.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
            write_str(out, data);
        }
    }
    out.push(b'}');
}

fn write_tool(out: &mut Vec<u8>, tool: &Tool<'_>) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, tool.name);
    if let Some(description) = tool.description {
        out.extend_from_slice(b",\"description\":");
        write_str(out, description);
    }
    out.extend_from_slice(b",\"input_schema\":");
    out.extend_from_slice(tool.input_schema.as_str().as_bytes());
    if let Some(strict) = tool.strict {
        out.extend_from_slice(if strict {
            b",\"strict\":true"
        } else {
            b",\"strict\":false"
        });
    }
    out.push(b'}');
}

fn write_tool_choice(out: &mut Vec<u8>, choice: &ToolChoice<'_>) {
    let no_parallel = match choice {
        ToolChoice::Auto {
            disable_parallel_tool_use,
        } => {
            out.extend_from_slice(b"{\"type\":\"auto\"");
            *disable_parallel_tool_use
        }
        ToolChoice::Any {
            disable_parallel_tool_use,
        } => {
            out.extend_from_slice(b"{\"type\":\"any\"");
            *disable_parallel_tool_use
        }
        ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        } => {
            out.extend_from_slice(b"{\"type\":\"tool\",\"name\":");
            write_str(out, name);
            *disable_parallel_tool_use
        }
        ToolChoice::None => {
            out.extend_from_slice(b"{\"type\":\"none\"");
            false
        }
    };
    if no_parallel {
        out.extend_from_slice(b",\"disable_parallel_tool_use\":true");
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::write_request;
    use crate::canonical::openai::parse_openai_request;
    use crate::providers::anthropic::AnthropicOptions;
    use crate::providers::anthropic::convert::request::build_wire;

    /// Every request fixture, both structured-output modes and a tiny
    /// default budget: the writer's bytes are serde's bytes.
    #[test]
    fn writes_what_serde_writes() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/requests"
        );
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".openai.json") {
                continue;
            }
            let req = parse_openai_request(&std::fs::read(&path).unwrap()).unwrap();
            for native_structured_output in [true, false] {
                for default_max_tokens in [4096, 2000] {
                    let opts = AnthropicOptions {
                        default_max_tokens,
                        native_structured_output,
                    };
                    let Ok(wire) = build_wire(&req, "claude-x", &opts) else {
                        continue;
                    };
                    let mut ours = Vec::new();
                    write_request(&wire, &mut ours);
                    let serde = simd_json::to_vec(&wire).unwrap();
                    assert_eq!(
                        String::from_utf8(ours).unwrap(),
                        String::from_utf8(serde).unwrap(),
                        "{}",
                        path.display()
                    );
                    seen += 1;
                }
            }
        }
        assert!(seen >= 40, "only {seen} cases");
    }
}
