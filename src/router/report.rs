//! Breaker states merged across cores for `/metrics`: each worker publishes
//! its own view a few times a second from a background task, so the request
//! path never touches shared state.

use std::sync::{Mutex, OnceLock};

use crate::resilience::BreakerState;

/// (provider, upstream model, state, successes, failures) per breaker.
pub type CoreReport = Vec<(String, String, BreakerState, u32, u32)>;

fn reports() -> &'static Mutex<Vec<CoreReport>> {
    static REPORTS: OnceLock<Mutex<Vec<CoreReport>>> = OnceLock::new();
    REPORTS.get_or_init(Default::default)
}

pub fn publish(worker: usize, report: CoreReport) {
    let mut all = reports().lock().unwrap_or_else(|e| e.into_inner());
    if all.len() <= worker {
        all.resize_with(worker + 1, Vec::new);
    }
    all[worker] = report;
}

/// Prometheus lines: per worker state (0 closed, 1 half-open, 2 open) and counts.
pub fn metrics_text() -> String {
    let all = reports().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::from(
        "# TYPE tollgate_breaker_state gauge\n# HELP tollgate_breaker_state 0 closed, 1 half-open, 2 open\n",
    );
    for (worker, report) in all.iter().enumerate() {
        for (provider, model, state, ok, bad) in report {
            let code = match state {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open { .. } => 2,
            };
            let labels = format!("worker=\"{worker}\",provider=\"{provider}\",model=\"{model}\"");
            out.push_str(&format!("tollgate_breaker_state{{{labels}}} {code}\n"));
            out.push_str(&format!(
                "tollgate_breaker_window_successes{{{labels}}} {ok}\n"
            ));
            out.push_str(&format!(
                "tollgate_breaker_window_failures{{{labels}}} {bad}\n"
            ));
        }
    }
    out
}
