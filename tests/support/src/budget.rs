//! How long the differential fuzzers against memcached run: DIFF_SECONDS
//! per target (default 3 s in `make test`) or DIFF_COMMANDS commands per
//! target; with both set, whichever comes first.

use std::time::Duration;

/// (time, commands) per target.
pub fn diff_budget() -> (Duration, u64) {
    let secs = std::env::var("DIFF_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok());
    let commands = std::env::var("DIFF_COMMANDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    match (secs, commands) {
        (None, None) => (Duration::from_secs(3), u64::MAX),
        (s, c) => (
            Duration::from_secs_f64(s.unwrap_or(1e9)),
            c.unwrap_or(u64::MAX),
        ),
    }
}
