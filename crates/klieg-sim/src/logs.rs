//! `pods/log` for the simulator: believable application log lines per container, with
//! `tailLines`, `timestamps`, `sinceSeconds`, `previous` and `follow` (a new line about every
//! second until the client goes away). Runs on the simulator's runtime.

use super::generator::Rng;

const MESSAGES: [&str; 8] = [
    "GET /api/v1/items 200 12ms",
    "GET /healthz 200 1ms",
    "POST /api/v1/orders 201 48ms",
    "cache hit ratio=0.93 entries=18231",
    "GET /api/v1/items/42 404 3ms",
    "background sync finished in 214ms",
    "slow query detected duration=1.2s table=orders",
    "connection pool size=20 idle=14",
];

/// The `index`th log line of a container, at `unix_secs`.
pub fn line(container_key: &str, index: u64, unix_secs: i64, timestamps: bool) -> String {
    let mut rng = Rng::new(
        container_key.bytes().fold(index.wrapping_mul(31) + 7, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b))),
    );
    let message = MESSAGES[rng.below(MESSAGES.len())];
    let level = if message.contains("slow") || message.contains(" 404 ") { "WARN" } else { "INFO" };
    let time = jiff::Timestamp::from_second(unix_secs).map(super::store::rfc3339).unwrap_or_default();
    let text = format!("{level} [{container_key}] #{index} {message}");
    if timestamps { format!("{time} {text}\n") } else { format!("{text}\n") }
}

/// Options of a log request.
#[derive(Debug, Default, Clone)]
pub struct LogOptions {
    pub tail_lines: Option<u64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
    pub previous: bool,
    pub follow: bool,
}

/// Lines already written when the request arrives: one every 2 s since the pod started,
/// at most 5,000. The previous container instance has its own, older history.
pub fn history(container_key: &str, started_unix_secs: i64, now_unix_secs: i64, options: &LogOptions) -> Vec<String> {
    let key = if options.previous { format!("{container_key}@previous") } else { container_key.to_string() };
    let total = ((now_unix_secs - started_unix_secs).max(0) / 2).clamp(1, 5_000) as u64;
    let mut first = 0;
    if let Some(since) = options.since_seconds {
        first = total.saturating_sub((since.max(0) / 2) as u64);
    }
    if let Some(tail) = options.tail_lines {
        first = first.max(total.saturating_sub(tail));
    }
    (first..total).map(|i| line(&key, i, started_unix_secs + (i as i64) * 2, options.timestamps)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_honours_tail_and_timestamps() {
        let options = LogOptions { tail_lines: Some(3), timestamps: true, ..LogOptions::default() };
        let lines = history("shop/web-1/web", 1_000, 1_100, &options);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].starts_with("1970-01-01T00:"), "{}", lines[2]);
        assert!(lines[2].contains("#49"), "{}", lines[2]);
        let previous = history("shop/web-1/web", 1_000, 1_100, &LogOptions { previous: true, ..LogOptions::default() });
        assert_ne!(previous, history("shop/web-1/web", 1_000, 1_100, &LogOptions::default()));
    }
}
