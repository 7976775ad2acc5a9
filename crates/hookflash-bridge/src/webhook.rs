//! Webhook delivery from the durable outbox: JSON POSTs signed with HMAC-SHA256, retried with
//! exponential backoff; pending deliveries survive a restart because they live in the journal.
//!
//! Each request carries `X-Hookflash-Delivery` (the outbox id, stable across retries),
//! `X-Hookflash-Timestamp` (ms since the epoch) and
//! `X-Hookflash-Signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY))`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::config::Webhook;
use crate::journal::{Journal, OutboxItem};
use crate::metrics::Metrics;
use crate::redact::log;

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: u64, body: &str) -> String {
    // HMAC takes keys of any length; the error case cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature` is the right one for `body` at `timestamp` (for receivers and tests).
pub fn verify(secret: &str, timestamp: u64, body: &str, signature: &str) -> bool {
    let want = sign(secret, timestamp, body);
    want.len() == signature.len()
        && want
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

/// The delay before attempt `attempts + 1`: `initial` doubled per attempt, at most ten minutes.
pub fn backoff(initial_ms: u64, attempts: u32) -> u64 {
    let shift = attempts.min(20);
    initial_ms.saturating_mul(1 << shift).min(600_000)
}

/// Delivers the outbox until the task is aborted.
pub async fn run(
    journal: Journal,
    hooks: Vec<Webhook>,
    notify: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            log(&format!("webhooks disabled: no HTTP client: {e}"));
            return;
        }
    };
    loop {
        let now = hookflash::spi::now().0;
        let j = journal.clone();
        let due = tokio::task::spawn_blocking(move || j.outbox_due(now, 32))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let sends = due.into_iter().map(|item| {
            let client = client.clone();
            let hook = hooks.iter().find(|h| h.url == item.url).cloned();
            let journal = journal.clone();
            let metrics = metrics.clone();
            async move { deliver(&client, hook.as_ref(), item, &journal, &metrics).await }
        });
        let n = futures_util::future::join_all(sends).await.len();
        if n > 0 {
            continue;
        }
        let j = journal.clone();
        let next = tokio::task::spawn_blocking(move || j.outbox_next_due())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let now = hookflash::spi::now().0;
        let wait = next
            .map_or(60_000, |t| t.saturating_sub(now))
            .clamp(10, 60_000);
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }
}

async fn deliver(
    client: &reqwest::Client,
    hook: Option<&Webhook>,
    item: OutboxItem,
    journal: &Journal,
    metrics: &Metrics,
) {
    let Some(hook) = hook else {
        // The webhook is no longer configured: give the delivery up.
        let _ = journal.outbox_failed(item.id, None, "webhook no longer configured");
        return;
    };
    let ts = hookflash::spi::now().0;
    let result = client
        .post(&item.url)
        .timeout(Duration::from_millis(hook.timeout_ms))
        .header("content-type", "application/json")
        .header("x-hookflash-delivery", item.id.to_string())
        .header("x-hookflash-event", item.kind.as_str())
        .header("x-hookflash-timestamp", ts.to_string())
        .header("x-hookflash-signature", sign(&hook.secret, ts, &item.body))
        .body(item.body.clone())
        .send()
        .await;
    let error = match result {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Some("timeout".to_string()),
        Err(_) => Some("connection failed".to_string()),
    };
    match error {
        None => {
            Metrics::inc(&metrics.webhooks_delivered);
            let _ = journal.outbox_delivered(item.id);
        }
        Some(err) => {
            Metrics::inc(&metrics.webhooks_failed);
            let attempts = item.attempts + 1;
            let next = (attempts < hook.max_attempts)
                .then(|| hookflash::spi::now().0 + backoff(hook.retry_initial_ms, item.attempts));
            if next.is_none() {
                log(&format!(
                    "webhook delivery {} given up after {attempts} attempts: {err}",
                    item.id
                ));
            }
            let _ = journal.outbox_failed(item.id, next, &err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_detect_changes() {
        let s = sign("k", 1700, "{\"a\":1}");
        assert!(s.starts_with("sha256="));
        assert_eq!(s.len(), 7 + 64);
        assert!(verify("k", 1700, "{\"a\":1}", &s));
        assert!(!verify("k", 1701, "{\"a\":1}", &s));
        assert!(!verify("k2", 1700, "{\"a\":1}", &s));
        assert!(!verify("k", 1700, "{\"a\":2}", &s));
    }

    #[test]
    fn known_hmac_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1000, 0), 1000);
        assert_eq!(backoff(1000, 3), 8000);
        assert_eq!(backoff(1000, 40), 600_000);
    }
}
