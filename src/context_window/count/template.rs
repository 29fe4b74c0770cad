//! What each family's chat format adds around the text: control tokens per
//! message, reply priming, the tool preamble, and how tool calls and
//! results are wrapped — read off each family's published chat template,
//! counted in that family's tokens. OpenAI's own rule lives in `openai.rs`.
//!
//! The text inside is counted by the family's tokenizer (exactly where one
//! ships); these overheads are the template's, so a count is exact only as
//! far as the provider serves that template unchanged. Numbers were rounded
//! up where a template varies between model versions.

use super::image::ImageRule;
use crate::context_window::TokenizerFamily;

/// The overheads of one family's chat format.
#[derive(Debug)]
pub struct Template {
    /// Control tokens around every message, its role marker included.
    pub per_message: u32,
    /// Whether the role's name is written as text (ChatML, Llama headers).
    pub role_as_text: bool,
    /// Extra tokens when a message carries a participant name.
    pub per_name: u32,
    /// Beginning-of-sequence plus the reply's priming.
    pub reply: u32,
    /// Text the template adds once when tools are declared, counted with
    /// the family's tokenizer.
    pub tools_preamble: &'static str,
    /// Tokens the provider adds once when tools are declared, beyond any
    /// preamble text (Anthropic's tool-use system prompt).
    pub tools_fixed: u32,
    /// Wrapping around each tool's JSON schema.
    pub per_tool: u32,
    /// Wrapping around each tool call, beyond its name and arguments.
    pub per_tool_call: u32,
    /// Wrapping around a tool result, beyond its content.
    pub per_tool_result: u32,
    /// Whether replayed reasoning text is part of the prompt: only the
    /// Anthropic and Gemini adapters send it back; the OpenAI-compatible
    /// one leaves it out (`providers/openai/request.rs`). Unknown models
    /// count it, to err high.
    pub counts_reasoning: bool,
    pub image: ImageRule,
}

/// The template of a non-OpenAI family (OpenAI's families get the
/// cookbook rule instead and never reach here).
pub fn template(family: TokenizerFamily) -> &'static Template {
    use TokenizerFamily as F;
    match family {
        F::Claude => &CLAUDE,
        F::Gemini => &GEMINI,
        F::MistralTekken => &MISTRAL,
        F::Qwen => &QWEN,
        F::Llama3 => &LLAMA3,
        F::DeepSeek => &DEEPSEEK,
        F::Grok | F::Unknown | F::O200k | F::Cl100k => &GENERIC,
    }
}

/// Anthropic Messages. Tools: the tool-use system prompt Anthropic adds is
/// 346 tokens for `tool_choice` auto/none on Claude 4.x, 3.7 and 3.5
/// Sonnet (313 for any/tool; the tool-use guide's pricing table), the
/// largest of the current models. Turns: Anthropic publishes no per-turn
/// figure; 4 covers the legacy "\n\nHuman: " turn marker and matches its
/// published 14-token example.
static CLAUDE: Template = Template {
    per_message: 4,
    role_as_text: false,
    per_name: 0,
    reply: 4,
    tools_preamble: "",
    tools_fixed: 346,
    per_tool: 8,
    per_tool_call: 8,
    per_tool_result: 6,
    counts_reasoning: true,
    image: ImageRule::AnthropicPixels,
};

/// Gemini: Gemma's template (`<start_of_turn>role\n … <end_of_turn>\n`),
/// which Gemini's turns mirror; no published tool preamble, so a stated
/// guess of 32 tokens for the function-declarations wrapper.
static GEMINI: Template = Template {
    per_message: 5,
    role_as_text: false,
    per_name: 0,
    reply: 3,
    tools_preamble: "",
    tools_fixed: 32,
    per_tool: 6,
    per_tool_call: 6,
    per_tool_result: 6,
    counts_reasoning: true,
    image: ImageRule::GeminiTiles,
};

/// Mistral's tekken instruct format (mistral-common, v7–v13): `<s>`, then
/// `[INST] … [/INST]`, `[SYSTEM_PROMPT] … [/SYSTEM_PROMPT]`, an answer
/// ends in `</s>`; tools in `[AVAILABLE_TOOLS] [ … ] [/AVAILABLE_TOOLS]`
/// as `{"type": "function", "function": {…}}`; calls as
/// `[TOOL_CALLS]name[ARGS]{…}`; results in `[TOOL_RESULTS] … [/TOOL_RESULTS]`.
/// Images: Pixtral's 16-px patches, 1024-px side, a break token per row.
static MISTRAL: Template = Template {
    per_message: 2,
    role_as_text: false,
    per_name: 0,
    reply: 1,
    tools_preamble: "",
    tools_fixed: 4,
    per_tool: 10,
    per_tool_call: 3,
    per_tool_result: 2,
    counts_reasoning: false,
    image: ImageRule::Patches {
        patch: 16,
        max_side: 1024,
    },
};

/// Qwen 2.5 / 3 ChatML: `<|im_start|>role\n … <|im_end|>\n`; tools in the
/// system turn under the template's preamble, one JSON per line inside
/// `<tools></tools>`; calls as `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`;
/// results as `<tool_response>\n … \n</tool_response>`. Images: Qwen-VL's
/// 28-px merged patches.
static QWEN: Template = Template {
    per_message: 4,
    role_as_text: true,
    per_name: 0,
    reply: 3,
    tools_preamble: "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    tools_fixed: 0,
    per_tool: 10,
    per_tool_call: 14,
    per_tool_result: 6,
    counts_reasoning: false,
    image: ImageRule::Patches {
        patch: 28,
        max_side: 2048,
    },
};

/// Llama 3.1+ (Meta's prompt format): `<|begin_of_text|>`, each message
/// `<|start_header_id|>role<|end_header_id|>\n\n … <|eot_id|>`; JSON tool
/// calling with its published instruction text; tool results under the
/// `ipython` role.
static LLAMA3: Template = Template {
    per_message: 4,
    role_as_text: true,
    per_name: 0,
    reply: 5,
    tools_preamble: "Environment: ipython\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n",
    tools_fixed: 0,
    per_tool: 3,
    per_tool_call: 10,
    per_tool_result: 2,
    counts_reasoning: false,
    image: ImageRule::Patches {
        patch: 28,
        max_side: 2048,
    },
};

/// DeepSeek V3 / R1 (`tokenizer_config.json` chat template): `<｜begin▁of▁sentence｜>`,
/// `<｜User｜>`, `<｜Assistant｜>` … `<｜end▁of▁sentence｜>`; reply primed with
/// `<｜Assistant｜>` and, for R1, `<think>\n`; calls between
/// `<｜tool▁calls▁begin｜>` markers with the arguments in a json fence.
static DEEPSEEK: Template = Template {
    per_message: 2,
    role_as_text: false,
    per_name: 0,
    reply: 4,
    tools_preamble: "\n\n## Tools\n\nYou have access to the following tools:\n\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>tool_call_name<｜tool▁sep｜>tool_call_arguments<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n",
    tools_fixed: 0,
    per_tool: 12,
    per_tool_call: 14,
    per_tool_result: 4,
    counts_reasoning: false,
    image: ImageRule::Patches {
        patch: 28,
        max_side: 2048,
    },
};

/// Grok and unknown models: nothing published; ChatML-sized overheads
/// and a generic patch rule, as stated guesses.
static GENERIC: Template = Template {
    per_message: 5,
    role_as_text: false,
    per_name: 1,
    reply: 4,
    tools_preamble: "",
    tools_fixed: 64,
    per_tool: 10,
    per_tool_call: 10,
    per_tool_result: 6,
    counts_reasoning: true,
    image: ImageRule::Patches {
        patch: 28,
        max_side: 2048,
    },
};
