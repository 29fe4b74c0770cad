//! What an image costs in input tokens, by each provider's published size
//! rule, and the image's size read from the header of its inline bytes.
//!
//! Only the header is decoded: base64 maps every 3 bytes to 4 characters,
//! so any byte range can be decoded on its own from the quartets that hold
//! it. PNG, GIF and WebP give their size in the first 30 bytes; JPEG's is
//! in a start-of-frame segment found by hopping from segment length to
//! segment length.
//!
//! An image whose size cannot be known (a URL the provider fetches itself,
//! bytes in a format we do not read) is assumed to be as costly as the rule
//! allows: the largest count the provider's resizing can produce.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::canonical::{Image, ImageSource};

/// A provider's rule for turning an image's size into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRule {
    /// OpenAI (vision guide, GPT-4o / 4.1 / o-series tile models): `low`
    /// detail is 85 tokens; otherwise the image is fit into 2048×2048, its
    /// shorter side scaled down to 768, and each 512-px tile costs 170 on
    /// top of the 85 base. `auto` is counted as `high`. Largest: 1,445.
    OpenAiTiles,
    /// Anthropic (vision guide): images are resized to a long edge of at
    /// most 1568 px and about 1.15 megapixels, then cost width×height/750;
    /// at most about 1,600.
    AnthropicPixels,
    /// Gemini 2.x (image understanding guide): 258 tokens when both sides
    /// are at most 384 px, otherwise 258 per 768×768 tile of the image
    /// scaled into 3072×3072 (so at most 16 tiles, 4,128).
    GeminiTiles,
    /// Patch-based vision encoders (Pixtral, Qwen-VL): one token per
    /// `patch`-px square of the image fit into `max_side`, plus one per row
    /// (Pixtral's `[IMG_BREAK]`). Used as a stated guess for families
    /// without a published rule.
    Patches { patch: u32, max_side: u32 },
}

/// Width and height in pixels.
pub type Size = (u32, u32);

impl ImageRule {
    /// Tokens for `image`.
    pub fn tokens(self, image: &Image) -> u32 {
        let low = image.detail.as_deref() == Some("low");
        if low && self == ImageRule::OpenAiTiles {
            return 85;
        }
        match &image.source {
            ImageSource::Base64 { data, .. } => match base64_image_size(data) {
                Some(size) => self.tokens_for(size),
                None => self.largest(),
            },
            ImageSource::Url(url) => match url.strip_prefix("data:") {
                Some(rest) => match rest.split_once(";base64,") {
                    Some((_, data)) => match base64_image_size(data) {
                        Some(size) => self.tokens_for(size),
                        None => self.largest(),
                    },
                    None => self.largest(),
                },
                None => self.largest(),
            },
        }
    }

    /// Tokens for an image of `size`.
    pub fn tokens_for(self, (w, h): Size) -> u32 {
        let (w, h) = (u64::from(w.max(1)), u64::from(h.max(1)));
        let tokens = match self {
            ImageRule::OpenAiTiles => {
                let (w, h) = fit(w, h, 2048, 2048);
                let short = w.min(h);
                let (w, h) = if short > 768 {
                    (w * 768 / short, h * 768 / short)
                } else {
                    (w, h)
                };
                85 + 170 * w.div_ceil(512) * h.div_ceil(512)
            }
            ImageRule::AnthropicPixels => {
                let (w, h) = fit(w, h, 1568, 1568);
                let pixels = w * h;
                let pixels = pixels.min(1_200_000);
                pixels.div_ceil(750).min(1600)
            }
            ImageRule::GeminiTiles => {
                if w <= 384 && h <= 384 {
                    258
                } else {
                    let (w, h) = fit(w, h, 3072, 3072);
                    258 * w.div_ceil(768) * h.div_ceil(768)
                }
            }
            ImageRule::Patches { patch, max_side } => {
                let (patch, max) = (u64::from(patch.max(1)), u64::from(max_side));
                let (w, h) = fit(w, h, max, max);
                let rows = h.div_ceil(patch);
                rows * w.div_ceil(patch) + rows
            }
        };
        u32::try_from(tokens).unwrap_or(u32::MAX)
    }

    /// The most one image can cost under this rule.
    pub fn largest(self) -> u32 {
        match self {
            ImageRule::OpenAiTiles => 85 + 170 * 8,
            ImageRule::AnthropicPixels => 1600,
            ImageRule::GeminiTiles => 258 * 16,
            ImageRule::Patches { .. } => self.tokens_for((u32::MAX, u32::MAX)),
        }
    }
}

/// Scales `(w, h)` down, keeping the aspect ratio, to fit `max_w × max_h`.
fn fit(w: u64, h: u64, max_w: u64, max_h: u64) -> (u64, u64) {
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    // Scale by the tighter of the two limits; round down, at least 1 px.
    if w * max_h >= h * max_w {
        (max_w, (h * max_w / w).max(1))
    } else {
        ((w * max_h / h).max(1), max_h)
    }
}

/// The size of a base64-encoded PNG, GIF, WebP or JPEG, from its header.
pub fn base64_image_size(data: &str) -> Option<Size> {
    let bytes = Base64Window(data.as_bytes());
    let head = bytes.range(0, 30)?;
    if head.starts_with(b"\x89PNG\r\n\x1a\n") && &head[12..16] == b"IHDR" {
        return Some((be32(&head[16..20]), be32(&head[20..24])));
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some((le16(&head[6..8]), le16(&head[8..10])));
    }
    if head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return webp_size(&head);
    }
    if head.starts_with(b"\xff\xd8") {
        return jpeg_size(&bytes);
    }
    None
}

fn webp_size(head: &[u8]) -> Option<Size> {
    match &head[12..16] {
        b"VP8 " => Some((le16(&head[26..28]) & 0x3fff, le16(&head[28..30]) & 0x3fff)),
        b"VP8L" => {
            let b = &head[21..25];
            let w = 1 + (u32::from(b[0]) | (u32::from(b[1] & 0x3f) << 8));
            let h = 1
                + ((u32::from(b[1]) >> 6)
                    | (u32::from(b[2]) << 2)
                    | (u32::from(b[3] & 0x0f) << 10));
            Some((w, h))
        }
        b"VP8X" => {
            let le24 = |b: &[u8]| u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
            Some((1 + le24(&head[24..27]), 1 + le24(&head[27..30])))
        }
        _ => None,
    }
}

/// Walks JPEG segments to the first start-of-frame (SOF0–SOF15 but DHT,
/// JPG and DAC), reading at most 64 segments.
fn jpeg_size(bytes: &Base64Window<'_>) -> Option<Size> {
    let mut at = 2;
    for _ in 0..64 {
        let head = bytes.range(at, 4)?;
        if head[0] != 0xff {
            return None;
        }
        let marker = head[1];
        if marker == 0xff {
            at += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let is_sof = (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker);
        if is_sof {
            let frame = bytes.range(at + 5, 4)?;
            let h = u32::from(u16::from_be_bytes([frame[0], frame[1]]));
            let w = u32::from(u16::from_be_bytes([frame[2], frame[3]]));
            return Some((w, h));
        }
        if len < 2 {
            return None;
        }
        at += 2 + len;
    }
    None
}

/// Base64 text read as the bytes it encodes, a range at a time.
struct Base64Window<'a>(&'a [u8]);

impl Base64Window<'_> {
    /// Bytes `at..at + len`, decoding only the quartets that hold them.
    fn range(&self, at: usize, len: usize) -> Option<Vec<u8>> {
        let first = at / 3;
        let last = (at + len).div_ceil(3);
        let chars = self.0.get(first * 4..(last * 4).min(self.0.len()))?;
        let decoded = STANDARD.decode(chars).ok()?;
        let skip = at - first * 3;
        let out = decoded.get(skip..skip + len)?;
        Some(out.to_vec())
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn le16(b: &[u8]) -> u32 {
    u32::from(u16::from_le_bytes([b[0], b[1]]))
}
