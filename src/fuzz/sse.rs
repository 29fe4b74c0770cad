//! Target `sse`: the event-stream parser. Oracles: the events (and whether a
//! cut event is pending) do not depend on how the bytes were split, and every
//! event written back by the SSE writer parses to itself.

use std::path::Path;

use super::mutate::{Rng, feed_split, hash, split_points};
use super::streams::{fixture_streams, mutate_stream};
use super::{Options, Reached, Target};
use crate::sse::{SseEvent, SseParser, write_event};

pub struct Sse;

const STAGES: &[&str] = &["line read", "event", "3+ events", "ended between events"];

impl Target for Sse {
    fn name(&self) -> &'static str {
        "sse"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, root: &Path) -> Vec<Vec<u8>> {
        let mut seeds = fixture_streams(root, "anthropic");
        seeds.extend(fixture_streams(root, "gemini"));
        seeds.push(b"\xEF\xBB\xBF: c\r\nevent: a\rdata: 1\r\ndata\nid: 7\nretry: 5\n\n".to_vec());
        seeds.push(b"data: x\r\r\ndata: y\n\ndata: cut".to_vec());
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        mutate_stream(rng, input, pool);
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        let whole = parse(input, &[input.len()]);
        if input.iter().any(|&b| b == b'\n' || b == b'\r') {
            reached.hit(0);
        }
        if !whole.0.is_empty() {
            reached.hit(1);
        }
        if whole.0.len() >= 3 {
            reached.hit(2);
        }
        if !whole.1 {
            reached.hit(3);
        }
        let mut rng = Rng::new(hash(input));
        let cuts = split_points(&mut rng, input.len());
        let split = parse(input, &cuts);
        if split != whole {
            return Err(format!(
                "split parse differs: {} events (partial {}) vs {} whole (partial {})",
                split.0.len(),
                split.1,
                whole.0.len(),
                whole.1
            ));
        }
        for ev in &whole.0 {
            let mut out = Vec::new();
            let name = (!ev.event.is_empty()).then_some(ev.event.as_str());
            write_event(&mut out, name, &ev.data);
            let (back, partial) = parse(&out, &[out.len()]);
            let want = SseEvent {
                id: None,
                ..ev.clone()
            };
            if back != [want] || partial {
                return Err(format!(
                    "written event does not parse back: {ev:?} -> {back:?}"
                ));
            }
        }
        Ok(())
    }
}

fn parse(input: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, bool) {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    feed_split(input, cuts, |piece| {
        p.feed(piece);
        while let Some(ev) = p.next_event() {
            events.push(ev);
        }
    });
    (events, p.has_partial_event())
}
