//! Counters for `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bridge's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events journaled and published.
    pub events: AtomicU64,
    /// Call records stored.
    pub call_records: AtomicU64,
    /// HTTP requests served.
    pub http_requests: AtomicU64,
    /// Requests refused for a missing or bad token.
    pub unauthorized: AtomicU64,
    /// Requests refused as out of scope.
    pub forbidden: AtomicU64,
    /// Commands executed successfully.
    pub commands_ok: AtomicU64,
    /// Commands that failed.
    pub commands_failed: AtomicU64,
    /// Event stream clients connected now.
    pub stream_clients: AtomicU64,
    /// Event stream clients disconnected for being too slow.
    pub slow_clients: AtomicU64,
    /// Webhook deliveries that succeeded.
    pub webhooks_delivered: AtomicU64,
    /// Webhook attempts that failed.
    pub webhooks_failed: AtomicU64,
    /// Journal write errors.
    pub journal_errors: AtomicU64,
}

/// One gauge or counter line with labels, for the parts that are not plain counters.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The metric name.
    pub name: &'static str,
    /// Label pairs.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: u64,
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Adds one to `c`.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of the counters and `extra` gauges.
    pub fn render(&self, extra: &[Sample]) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64, &str); 12] = [
            (
                "hookflash_events_total",
                "Normalized events journaled.",
                &self.events,
                "counter",
            ),
            (
                "hookflash_call_records_total",
                "Call records stored.",
                &self.call_records,
                "counter",
            ),
            (
                "hookflash_http_requests_total",
                "HTTP requests served.",
                &self.http_requests,
                "counter",
            ),
            (
                "hookflash_http_unauthorized_total",
                "Requests refused for a missing or bad token.",
                &self.unauthorized,
                "counter",
            ),
            (
                "hookflash_http_forbidden_total",
                "Requests refused as out of scope.",
                &self.forbidden,
                "counter",
            ),
            (
                "hookflash_commands_ok_total",
                "Commands executed.",
                &self.commands_ok,
                "counter",
            ),
            (
                "hookflash_commands_failed_total",
                "Commands that failed.",
                &self.commands_failed,
                "counter",
            ),
            (
                "hookflash_stream_clients",
                "Event stream clients connected.",
                &self.stream_clients,
                "gauge",
            ),
            (
                "hookflash_stream_slow_clients_total",
                "Stream clients dropped for being too slow.",
                &self.slow_clients,
                "counter",
            ),
            (
                "hookflash_webhooks_delivered_total",
                "Webhook deliveries that succeeded.",
                &self.webhooks_delivered,
                "counter",
            ),
            (
                "hookflash_webhooks_failed_total",
                "Webhook attempts that failed.",
                &self.webhooks_failed,
                "counter",
            ),
            (
                "hookflash_journal_errors_total",
                "Journal write errors.",
                &self.journal_errors,
                "counter",
            ),
        ];
        for (name, help, v, kind) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let mut last = "";
        for s in extra {
            if s.name != last {
                let _ = writeln!(out, "# TYPE {} gauge", s.name);
                last = s.name;
            }
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            if labels.is_empty() {
                let _ = writeln!(out, "{} {}", s.name, s.value);
            } else {
                let _ = writeln!(out, "{}{{{}}} {}", s.name, labels.join(","), s.value);
            }
        }
        out
    }
}
