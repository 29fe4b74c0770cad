//! Resilience primitives for the request path: circuit breakers, retry
//! backoff, latency tracking, candidate ordering and prompt complexity.
//! Everything here is pure (no I/O, no async, no threads); time comes in as
//! milliseconds from a `Clock` and randomness as numbers passed in.

mod backoff;
mod breaker;
mod clock;
mod complexity;
mod deadline;
mod latency;
mod rng;
mod select;

pub use backoff::{RetryWait, backoff_ms, parse_retry_after, parse_retry_after_ms, retry_wait};
pub use breaker::{Admission, Breaker, BreakerParams, BreakerState};
pub use clock::{Clock, ManualClock, MonotonicClock, unix_millis, unix_secs};
pub use complexity::{ComplexitySignals, ComplexityWeights, complexity_score, count_keywords};
pub use deadline::{TimeoutSettings, Timeouts};
pub use latency::LatencyStats;
pub use rng::FastRng;
pub use select::{p2c_order, p2c_pick, weighted_order, weighted_pick};
