//! Per-core counters by (inbound API, model, provider, status class). Each
//! worker counts into its own thread-local table — no lock, no atomic on the
//! request path — and publishes a copy every few hundred milliseconds; the
//! scrape merges the copies of all workers, whichever worker answers it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// One series' labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub inbound: &'static str,
    pub model: String,
    /// The provider that served, or `none`.
    pub provider: String,
    /// `2xx`, `4xx`, `5xx`…
    pub class: &'static str,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesCounts {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

type Table = BTreeMap<SeriesKey, SeriesCounts>;

thread_local! {
    static CORE: RefCell<Table> = const { RefCell::new(Table::new()) };
}

/// Each worker's last published table, by worker index.
static PUBLISHED: Mutex<Vec<Table>> = Mutex::new(Vec::new());

pub fn status_class(status: u16) -> &'static str {
    match status {
        0..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Counts one request on this core.
pub fn count(key: SeriesKey, prompt_tokens: u64, completion_tokens: u64) {
    CORE.with(|t| {
        let mut t = t.borrow_mut();
        let c = t.entry(key).or_default();
        c.requests += 1;
        c.prompt_tokens += prompt_tokens;
        c.completion_tokens += completion_tokens;
    });
}

/// Publishes this core's counters (off the request path, on a timer).
pub fn publish(worker: usize) {
    let copy = CORE.with(|t| t.borrow().clone());
    let mut all = PUBLISHED.lock().unwrap_or_else(|e| e.into_inner());
    if all.len() <= worker {
        all.resize_with(worker + 1, Table::new);
    }
    all[worker] = copy;
}

/// All workers' counters, summed per series.
pub fn merged() -> Table {
    let all = PUBLISHED.lock().unwrap_or_else(|e| e.into_inner());
    let mut sum = Table::new();
    for table in all.iter() {
        for (k, c) in table {
            let s = sum.entry(k.clone()).or_default();
            s.requests += c.requests;
            s.prompt_tokens += c.prompt_tokens;
            s.completion_tokens += c.completion_tokens;
        }
    }
    sum
}

/// The Prometheus text of the merged counters.
pub fn metrics_text() -> String {
    let sum = merged();
    let mut out = String::new();
    let series = |out: &mut String, name: &str, value: fn(&SeriesCounts) -> u64| {
        let _ = writeln!(out, "# TYPE {name} counter");
        for (k, c) in &sum {
            let _ = writeln!(
                out,
                "{name}{{api=\"{}\",model=\"{}\",provider=\"{}\",status=\"{}\"}} {}",
                k.inbound,
                label(&k.model),
                label(&k.provider),
                k.class,
                value(c)
            );
        }
    };
    series(&mut out, "tollgate_requests_total", |c| c.requests);
    series(&mut out, "tollgate_prompt_tokens_total", |c| {
        c.prompt_tokens
    });
    series(&mut out, "tollgate_completion_tokens_total", |c| {
        c.completion_tokens
    });
    out
}

/// A label value as Prometheus' text format wants it escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_across_workers() {
        let key = |class| SeriesKey {
            inbound: "openai",
            model: "m\"x".into(),
            provider: "p".into(),
            class,
        };
        std::thread::scope(|s| {
            for worker in [7, 8] {
                s.spawn(move || {
                    count(key("2xx"), 10, 2);
                    count(key("2xx"), 5, 1);
                    count(key("5xx"), 0, 0);
                    publish(worker);
                });
            }
        });
        let sum = merged();
        assert_eq!(
            sum[&key("2xx")],
            SeriesCounts {
                requests: 4,
                prompt_tokens: 30,
                completion_tokens: 6
            }
        );
        assert_eq!(sum[&key("5xx")].requests, 2);
        let text = metrics_text();
        assert!(text.contains(
            "tollgate_requests_total{api=\"openai\",model=\"m\\\"x\",provider=\"p\",status=\"2xx\"} 4"
        ));
    }
}
