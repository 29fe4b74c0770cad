//! The built-in rule set: each rule a case-insensitive ASCII regex over the
//! normalized text, a weight, and the anchor words the prefilter looks for
//! in the raw body. Weights and patterns were tuned on the corpus's dev half
//! (`data/guard/injection/dev.jsonl`) only; the held-out half measures them.

/// One built-in regex rule.
pub(crate) struct BuiltinRule {
    pub id: &'static str,
    pub weight: f32,
    pub pattern: &'static str,
    /// Every match of `pattern` contains one of these (ASCII, any case) at
    /// the start of a word, so a body without any of them cannot fire it.
    pub anchors: &'static [&'static str],
}

/// Rules that are not a regex: counted or decoded in `mod.rs`.
pub(crate) const ZERO_WIDTH_TEXT: &str = "zero_width_text";
pub(crate) const HOMOGLYPH_MIXED_SCRIPT: &str = "homoglyph_mixed_script";
pub(crate) const BASE64_INSTRUCTION: &str = "base64_instruction";
pub(crate) const URL_ENCODED_INSTRUCTION: &str = "url_encoded_instruction";
pub(crate) const ENCODED_TEXT: &str = "encoded_text";
pub(crate) const TOOL_NAME_MENTION: &str = "tool_name_mention";

pub(crate) const SPECIAL_IDS: [&str; 6] = [
    ZERO_WIDTH_TEXT,
    HOMOGLYPH_MIXED_SCRIPT,
    BASE64_INSTRUCTION,
    URL_ENCODED_INSTRUCTION,
    ENCODED_TEXT,
    TOOL_NAME_MENTION,
];

/// A tool's name in user text or a document: weak alone, it tips a text
/// that already carries other cues.
pub(crate) const TOOL_NAME_WEIGHT: f32 = 0.4;
/// An encoded run that decodes to readable text, or to an instruction.
pub(crate) const ENCODED_TEXT_WEIGHT: f32 = 1.0;
pub(crate) const SHORT_ENCODED_TEXT_WEIGHT: f32 = 0.5;
pub(crate) const ENCODED_INSTRUCTION_WEIGHT: f32 = 1.0;

/// Anchors that are also JSON structure (`"role":"user"`, Anthropic's
/// `"system":`): a match that is a whole quoted string is structure, and
/// no rule fires on a text that is only that word.
pub(crate) const STRUCTURAL: [&str; 4] = ["system", "user", "assistant", "developer"];

pub(crate) const BUILTIN: &[BuiltinRule] = &[
    BuiltinRule {
        id: "ignore_previous",
        weight: 1.0,
        pattern: r"\b(ignore|disregard|forget|skip|override|bypass|abandon|neglect|overlook|discard|set\s+aside)\b[^.\n]{0,40}?\b(previous|prior|above|earlier|preceding|initial|original|former|old|all|any|other|following|everything|rest)\b[^.\n]{0,40}?\b(instructions?|directions?|prompts?|rules|guidelines|commands?|content|data|text|context|messages?|directives?|orders|guidance|programming|restrictions|policies|constraints|information|info|said|told|documents?)\b|\b(ignore|disregard|forget)\s+(the\s+)?(above|previous|prior|everything|all|instructions|directions)\b",
        anchors: &[
            "ignore",
            "disregard",
            "forget",
            "skip",
            "override",
            "bypass",
            "abandon",
            "neglect",
            "overlook",
            "discard",
            "aside",
        ],
    },
    BuiltinRule {
        id: "new_instructions",
        weight: 0.8,
        pattern: r"\bnew\s+(important\s+)?(instructions?|directives?|task|rules|orders)\b|\byour\s+new\s+(task|goal|role|directive|instructions?)\b|\bfrom\s+now\s+on,?\s+(you|your)\b|\bfocus\s+(only|exclusively|solely)\s+on\b|\binstead,?\s+(just\s+)?(print|say|output|respond|reply|write)\b|\boverrid(e|ing)\s+(what|all|the|any|previous|your)\b",
        anchors: &["new", "now", "focus", "instead", "overrid"],
    },
    BuiltinRule {
        id: "jailbreak_persona",
        weight: 0.6,
        pattern: r"(?-i:\b(DAN|AIM|STAN|DUDE|AntiGPT|BetterDAN|DevMode)\b)|\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bgod\s*mode\b|\b(evil|unrestricted|uncensored|unfiltered|amoral)\s+(ai|assistant|chatbot|model|version|mode|confidant)\b|\bopposite\s+mode\b",
        anchors: &[
            "dan",
            "aim",
            "stan",
            "dude",
            "antigpt",
            "betterdan",
            "devmode",
            "anything",
            "developer",
            "god",
            "evil",
            "unrestricted",
            "uncensored",
            "unfiltered",
            "amoral",
            "opposite",
        ],
    },
    BuiltinRule {
        id: "jailbreak_word",
        weight: 0.4,
        pattern: r"\bjailbr(eak|oken)\b",
        anchors: &["jailbr"],
    },
    BuiltinRule {
        id: "persona_do_anything",
        weight: 0.6,
        pattern: r"\bdo\s+anything\b",
        anchors: &["anything"],
    },
    BuiltinRule {
        id: "roleplay_jailbreak",
        weight: 1.0,
        pattern: r"\b(no|without\s+any|free\s+(of|from)(\s+(any|all))?)\s+(ethical|moral|content)\s+(guidelines|restrictions|boundaries|limits|filters|constraints|policies|considerations)\b|\bstay\s+in\s+character\b|\b(doesn'?t|does\s+not|don'?t|do\s+not|never|won'?t|will\s+not)\s+(have|follow|care\s+about|abide\s+by|adhere\s+to)\s+(any\s+)?(rules|restrictions|ethics|morals|guidelines|policies|filters)\b|\b(openai|anthropic|content)\s+(content\s+)?polic(y|ies)\b|\bbroken\s+free\b|\bnot\s+bound\s+by\b|\b(unfiltered|uncensored)\s+(response|answer|reply|output)s?\b",
        anchors: &[
            "guideline",
            "restriction",
            "boundar",
            "limits",
            "filter",
            "constraint",
            "consideration",
            "character",
            "rules",
            "ethic",
            "moral",
            "polic",
            "broken",
            "bound",
            "uncensored",
            "unfiltered",
        ],
    },
    BuiltinRule {
        id: "roleplay_setup",
        weight: 0.6,
        pattern: r"\b(act|pretend|roleplay|role-play|behave)\s+(to\s+be\s+|as\s+(if\s+you\s+(are|were)\s+)?)(an?\s+|my\s+)?\w+|\byou\s+are\s+(now|going\s+to\s+(act|pretend|be))\b|\bhypothetical\s+(story|scenario|response)\b|\bsimulat(e|ion)\s+(of\s+)?(an?\s+)?(ai|chatbot|model)",
        anchors: &[
            "act",
            "pretend",
            "roleplay",
            "role-play",
            "behave",
            "now",
            "going",
            "hypothetical",
            "simulat",
        ],
    },
    BuiltinRule {
        id: "unrestricted_persona",
        weight: 0.5,
        pattern: r"\b(amoral|unfiltered|unfiltred|uncensored|uncesnsored|unrestricted|unethical|immoral|unbound)\b",
        anchors: &[
            "amoral",
            "unfilt",
            "uncens",
            "uncesn",
            "unrestricted",
            "unethical",
            "immoral",
            "unbound",
        ],
    },
    BuiltinRule {
        id: "refusal_suppression",
        weight: 0.8,
        pattern: r"\bno\s+matter\s+(how|if|what)\b[^.\n]{0,60}\b(illegal|immoral|unethical|dangerous|harmful|inappropriate|offensive|explicit)|\b(never|not|don'?t|do\s+not|won'?t|will\s+not|cannot|can'?t)\s+(refuse|decline|apologi[sz]e|censor)\b|\b(no|without|not\s+(need\s+to\s+)?(issue|include|add|give|use)\s+any|never\s+(include|add|give|use))\s+(warnings?|disclaimers?|caveats?)\b",
        anchors: &[
            "matter",
            "refuse",
            "decline",
            "apologi",
            "censor",
            "warning",
            "disclaimer",
            "caveat",
        ],
    },
    BuiltinRule {
        id: "system_prompt_extraction",
        weight: 1.0,
        pattern: r"\b(show|reveal|print|display|repeat|output|dump|tell\s+me|give\s+me|what\s+(are|were|is|was)|share|disclose|leak|write\s+out|recite|list|provide)\b(\s+[\w']+){0,4}?\s+(system\s+(prompt|message|instructions?|configuration|config|settings)|initial\s+(prompt|instructions?|message)|original\s+(prompt|instructions?)|hidden\s+(prompt|instructions?)|(your|the)\s+instructions|(the\s+)?(text|words|everything)\s+above|previous\s+messages|initialization|pre-?prompt)\b",
        anchors: &[
            "system",
            "initial",
            "original",
            "hidden",
            "instruction",
            "above",
            "previous",
            "prompt",
            "preprompt",
            "pre-prompt",
        ],
    },
    BuiltinRule {
        id: "system_prompt_reference",
        weight: 0.6,
        pattern: r"\byour\s+(system\s+(prompt|message|instructions?)|initial\s+(prompt|instructions?)|hidden\s+instructions?|original\s+instructions?)\b|\b(entire|whole)\s+conversation\s+(back|above|verbatim)|\bword\s+for\s+word\b",
        anchors: &[
            "system",
            "initial",
            "hidden",
            "original",
            "conversation",
            "word",
        ],
    },
    BuiltinRule {
        id: "fake_role_marker",
        weight: 0.6,
        pattern: r"(^|\n)\s*(system|assistant|user|admin|developer):|<\|?system\|?>|\[(system|admin|instruction)s?\b|</?(system|instruction)>|###|\bsystem (message|override|chain of thought|malfunction)\b",
        anchors: &[
            "system:",
            "assistant:",
            "user:",
            "admin:",
            "developer:",
            "<system",
            "<|system",
            "[system",
            "[admin",
            "[instruction",
            "</system",
            "<instruction",
            "</instruction",
            "###",
            "system message",
            "system override",
            "system chain",
            "system malfunction",
        ],
    },
    BuiltinRule {
        id: "chat_template_token",
        weight: 0.6,
        pattern: r"<\|?\s*(im_start|im_end|endoftext|end\s+of\s+(session|turn|conversation))\s*\|?>|\[/?INST\]",
        anchors: &[
            "im_start",
            "im_end",
            "endoftext",
            "session",
            "turn",
            "conversation",
            "inst",
        ],
    },
    BuiltinRule {
        id: "markdown_image_beacon",
        weight: 1.0,
        pattern: r"!\[[^\]\n]*\]\(\s*(https?:)?//[^)\s]*[?=\[{$][^)\s]*\)|!\[[^\]\n]*\]\[[^\]\n]*\]",
        anchors: &["!["],
    },
    BuiltinRule {
        id: "exfiltration_url",
        weight: 1.0,
        pattern: r#"\bhttps?://[^\s)"'>]*(\[[A-Za-z_ ]+\]|\{[A-Za-z_]+\}|=\[|QUERY|%s|\$\{)|\breplace\s+\[[A-Za-z_ ]+\]\s+with\b|\bconcatenate\s+these\s+strings\b"#,
        anchors: &["http", "replace", "concatenate"],
    },
    BuiltinRule {
        id: "html_script_injection",
        weight: 1.0,
        pattern: r"<\s*script\b|javascript\s*:|\bon(error|load|mouseover|focus|click)\s*=|<\s*iframe\b|<\s*svg[\s/]|\bdocument\.cookie\b|\balert\s*\(|\bexpression\s*\(",
        anchors: &[
            "script",
            "javascript",
            "onerror",
            "onload",
            "onmouseover",
            "onfocus",
            "onclick",
            "iframe",
            "svg",
            "cookie",
            "alert",
            "expression",
        ],
    },
    BuiltinRule {
        id: "output_forcing",
        weight: 0.5,
        pattern: r#"\b(just|only|simply)\s+(print|say|output|respond\s+with|reply\s+with|repeat|write)\b|\b(print|say|output|respond\s+with|reply\s+with|repeat)\s+(exactly\s+)?(["'<]|\xE2\x80\x9C)|\binclude\s+(in\s+your\s+(response|output|answer)\s+)?the\s+following\s+(string|text|link)|\bin\s+your\s+(response|output)\b[^.\n]{0,30}\b(include|print|add)\b"#,
        anchors: &[
            "print", "say", "output", "respond", "response", "reply", "repeat", "write", "include",
        ],
    },
    BuiltinRule {
        id: "decode_request",
        weight: 1.0,
        pattern: r"\b(encoded|decoded)(\s+string)?\s*:|\bdecode\s+the\s+following\b|\b(base64|base32|base16|hex|rot13|rot-13|mime|uuencode|quoted-printable|ascii85|morse|braille|leetspeak)\s+(encoded|decoded)\s+(string|text|message)\b",
        anchors: &["decode", "encoded"],
    },
    BuiltinRule {
        id: "urgent_authority",
        weight: 0.4,
        pattern: r"\b(this\s+is\s+(really|extremely|very|super)\s+important|it\s+is\s+(crucial|critical|imperative|vital|essential)\s+(that\s+)?you|you\s+(must|may)\s+not\s+deviate|critical\s+to\s+my\s+career|pre-?verified|override\s+manual|or\s+i\s+will\s+(get|be)\s+(punish|fired))",
        anchors: &[
            "important",
            "crucial",
            "critical",
            "imperative",
            "vital",
            "essential",
            "deviate",
            "preverified",
            "pre-verified",
            "override",
            "punish",
            "fired",
        ],
    },
    BuiltinRule {
        id: "hidden_instruction_marker",
        weight: 0.8,
        pattern: r"\bnote\s+(by|to|from)\s+(a\s+)?(trustworthy|automated|the\s+ai|ai)\b|\bhidden\s+(competency|instructions?|text|message)\b|\bwhite-?text\b|\binvisible\s+to\s+humans\b|\b(automated|ai)\s+(screening|analysis)\s+(software|systems?)\b|\bif\s+(the\s+)?user\s+asks\b|\bif\s+(asked|questioned)\b[^.\n]{0,40}\b(respond|reply|report|say)\b|\bignore\s+(all\s+)?negative\b",
        anchors: &[
            "note",
            "hidden",
            "white",
            "invisible",
            "screening",
            "analysis",
            "asks",
            "asked",
            "questioned",
            "negative",
        ],
    },
    BuiltinRule {
        id: "harmful_payload_request",
        weight: 1.0,
        pattern: r"\bwrite\s+(one|a|an)\s+(toxic|discriminatory|offensive|harmful|negative|unfriendly|hateful|racist)\s+(sentence|statement|joke|comment)\b",
        anchors: &[
            "toxic",
            "discriminatory",
            "offensive",
            "harmful",
            "negative",
            "unfriendly",
            "hateful",
            "racist",
        ],
    },
    BuiltinRule {
        id: "prompt_hijack_marker",
        weight: 0.8,
        pattern: r"-{6,}\s*\n\s*-{6,}|\*{3}\s*(new|important|disregard|ignore)|\bhas\s+been\s+(so\s+thoroughly\s+)?hijacked\b|\bhaha\s+pwned\b",
        anchors: &["------", "***", "hijacked", "pwned"],
    },
];
