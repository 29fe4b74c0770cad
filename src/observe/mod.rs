//! What the gateway served, counted: per-core request and token counters fed
//! by the delivery record, published off the request path and merged over
//! every worker when `/metrics` is scraped.

pub mod metrics;
