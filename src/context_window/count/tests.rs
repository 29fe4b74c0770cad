//! Counter tests: the published counts each rule was checked against,
//! images by size, and the cheap bound never below the count.

use super::image::{ImageRule, base64_image_size};
use super::*;
use crate::api::openai::parse_openai_request;
use crate::canonical::{Image, ImageSource};

fn request(json: &str) -> ChatRequest {
    match parse_openai_request(json.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("fixture does not parse: {e:?}"),
    }
}

/// The cookbook's six-message example (system messages with names).
const COOKBOOK_MESSAGES: &str = r#"{"model":"m","messages":[
 {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
 {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
 {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
 {"role":"system","name":"example_user","content":"Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
 {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
 {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]}"#;

/// The cookbook's weather-tool example.
const COOKBOOK_TOOLS: &str = r#"{"model":"m","messages":[
 {"role":"system","content":"You are a helpful assistant that can answer to questions about the weather."},
 {"role":"user","content":"What's the weather like in San Francisco?"}],
 "tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},"required":["location"]}}}]}"#;

#[test]
fn openai_counts_match_the_api_counts_the_cookbook_published() {
    let o200k = Counter::new(TokenizerFamily::O200k);
    let cl100k = Counter::new(TokenizerFamily::Cl100k);
    assert_eq!(
        count_request(&o200k, &request(COOKBOOK_MESSAGES)).total,
        124
    );
    assert_eq!(
        count_request(&cl100k, &request(COOKBOOK_MESSAGES)).total,
        129
    );
    assert_eq!(count_request(&o200k, &request(COOKBOOK_TOOLS)).total, 101);
    assert_eq!(count_request(&cl100k, &request(COOKBOOK_TOOLS)).total, 105);
}

#[test]
fn claude_estimate_is_at_least_anthropics_published_counts() {
    // Anthropic's token-counting guide: 14 and 403 input tokens.
    let claude = Counter::new(TokenizerFamily::Claude);
    let hello = request(
        r#"{"model":"m","messages":[{"role":"system","content":"You are a scientist"},{"role":"user","content":"Hello, Claude"}]}"#,
    );
    let weather = request(
        r#"{"model":"m","messages":[{"role":"user","content":"What's the weather like in San Francisco?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}}}]}"#,
    );
    let hello = count_request(&claude, &hello).total;
    let weather = count_request(&claude, &weather).total;
    assert!((14..=14 * 2).contains(&hello), "{hello}");
    assert!((403..=403 * 3 / 2).contains(&weather), "{weather}");
}

#[test]
fn request_count_adds_up_its_parts() {
    let counter = Counter::new(TokenizerFamily::O200k);
    let count = count_request(&counter, &request(COOKBOOK_TOOLS));
    let sum: u32 = count.per_message.iter().sum();
    assert_eq!(count.per_message.len(), 2);
    assert_eq!(count.total, sum + count.tools + 3);
    assert!(count.tools > 0);
}

/// A base64 PNG header of `w`×`h` (enough bytes for the sniffer).
fn png(w: u32, h: u32) -> String {
    use base64::Engine;
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn jpeg(w: u16, h: u16) -> String {
    use base64::Engine;
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
    b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend_from_slice(&[0xff, 0xc0, 0, 17, 8]);
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn inline(data: String, detail: Option<&str>) -> Image {
    Image {
        source: ImageSource::Base64 {
            media_type: "image/png".into(),
            data,
        },
        detail: detail.map(str::to_owned),
    }
}

#[test]
fn image_sizes_are_read_from_headers() {
    assert_eq!(base64_image_size(&png(1024, 768)), Some((1024, 768)));
    assert_eq!(base64_image_size(&jpeg(640, 480)), Some((640, 480)));
    assert_eq!(
        base64_image_size("R0lGODlhAgADAIAAAP///wAAACwAAAAAAgADAAAC"),
        Some((2, 3))
    );
    assert_eq!(base64_image_size("bm90IGFuIGltYWdl"), None);
    assert_eq!(base64_image_size("!!!"), None);
}

#[test]
fn openai_images_cost_tiles() {
    let rule = ImageRule::OpenAiTiles;
    // The vision guide's examples: 1024² high is 765, 2048×4096 is 1105.
    assert_eq!(rule.tokens(&inline(png(1024, 1024), Some("high"))), 765);
    assert_eq!(rule.tokens(&inline(png(2048, 4096), None)), 1105);
    assert_eq!(rule.tokens(&inline(png(4096, 4096), Some("low"))), 85);
    let url = Image {
        source: ImageSource::Url("https://example.com/cat.png".into()),
        detail: None,
    };
    assert_eq!(rule.tokens(&url), rule.largest());
}

#[test]
fn anthropic_and_gemini_images_follow_their_rules() {
    // Anthropic's table: 1092×1092 is about 1590 tokens.
    assert_eq!(ImageRule::AnthropicPixels.tokens_for((1092, 1092)), 1590);
    assert_eq!(ImageRule::AnthropicPixels.tokens_for((200, 200)), 54);
    assert_eq!(ImageRule::AnthropicPixels.tokens_for((8000, 8000)), 1600);
    assert_eq!(ImageRule::GeminiTiles.tokens_for((384, 200)), 258);
    assert_eq!(ImageRule::GeminiTiles.tokens_for((1000, 700)), 258 * 2);
}

#[test]
fn loading_nothing_until_a_count_is_asked_for() {
    // The bound and is_exact answer from lengths and names only.
    let req = request(COOKBOOK_TOOLS);
    for family in ALL {
        assert!(request_upper_bound(family, &req) > 0);
    }
    assert!(Counter::new(TokenizerFamily::Qwen).is_exact());
    assert!(!Counter::new(TokenizerFamily::Llama3).is_exact());
}

const ALL: [TokenizerFamily; 10] = [
    TokenizerFamily::O200k,
    TokenizerFamily::Cl100k,
    TokenizerFamily::Claude,
    TokenizerFamily::Gemini,
    TokenizerFamily::MistralTekken,
    TokenizerFamily::Qwen,
    TokenizerFamily::Llama3,
    TokenizerFamily::DeepSeek,
    TokenizerFamily::Grok,
    TokenizerFamily::Unknown,
];

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PIECES: [&str; 14] = [
    "hello",
    " world",
    "ß",
    "今天",
    "🎉",
    "\n",
    "    ",
    "1234",
    "{\"a\":1}",
    "é",
    "\"",
    "\\",
    "\u{1}",
    "नमस्ते",
];

fn random_text(rng: &mut Rng) -> String {
    (0..rng.next() % 12).map(|_| rng.pick(&PIECES)).collect()
}

fn random_request(rng: &mut Rng) -> String {
    use crate::canonical::json::write_str;
    let mut out = Vec::new();
    out.extend_from_slice(br#"{"model":"m","messages":["#);
    for i in 0..1 + rng.next() % 4 {
        if i > 0 {
            out.push(b',');
        }
        let role = ["system", "user", "assistant"][(rng.next() % 3) as usize];
        out.extend_from_slice(format!(r#"{{"role":"{role}","content":"#).as_bytes());
        write_str(&mut out, &format!("x{}", random_text(rng)));
        if rng.next().is_multiple_of(3) {
            out.extend_from_slice(br#","name":"#);
            write_str(&mut out, &random_text(rng).replace(['"', '\\'], ""));
        }
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"tools":["#);
    for i in 0..rng.next() % 3 {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"type":"function","function":{"name":"f","description":"#);
        write_str(&mut out, &random_text(rng));
        out.extend_from_slice(br#","parameters":{"type":"object","properties":{"p":{"type":"integer","enum":[1,2,3,4,5,6,7]},"q":{"type":"object","properties":{"r":{"type":"string","description":"#);
        write_str(&mut out, &random_text(rng));
        out.extend_from_slice(b"}}}}}}}");
    }
    out.extend_from_slice(b"]}");
    String::from_utf8(out).unwrap_or_default()
}

#[test]
fn cheap_bound_is_never_below_the_count() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..150 {
        let json = random_request(&mut rng);
        let req = request(&json);
        for family in ALL {
            let count = count_request(&Counter::new(family), &req).total;
            let bound = request_upper_bound(family, &req);
            assert!(
                bound >= count,
                "{family:?}: bound {bound} < count {count} for {json}"
            );
        }
    }
}

#[test]
fn hostile_text_is_counted_without_panicking() {
    // A run of 2M spaces makes tiktoken-rs's own encoder panic (its regex
    // engine runs out of backtracking stack), and its exported merge is
    // quadratic; these runs take the heap merge, the panic-free splitter.
    let texts = [
        format!("{}x", " ".repeat(300_000)),
        " \t".repeat(100_000),
        "\n".repeat(100_000),
    ];
    for family in [
        TokenizerFamily::O200k,
        TokenizerFamily::Qwen,
        TokenizerFamily::DeepSeek,
    ] {
        for text in &texts {
            let n = Counter::new(family).text(text);
            assert!(n > 0 && n as usize <= text.len(), "{family:?}: {n}");
        }
    }
}
