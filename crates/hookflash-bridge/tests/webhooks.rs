//! Webhooks: signed JSON POSTs from the durable outbox, retried with backoff, and still
//! delivered after a bridge restart.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use common::*;
use hookflash_bridge::Bridge;
use serde_json::Value;

#[derive(Debug, Clone)]
struct Hit {
    delivery: String,
    kind: String,
    timestamp: u64,
    signature: String,
    body: String,
    accepted: bool,
}

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    accept: Arc<AtomicBool>,
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let st = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let st = st.clone();
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let accepted = st.accept.load(Ordering::SeqCst);
                st.hits.lock().unwrap().push(Hit {
                    delivery: h("x-hookflash-delivery"),
                    kind: h("x-hookflash-event"),
                    timestamp: h("x-hookflash-timestamp").parse().unwrap_or(0),
                    signature: h("x-hookflash-signature"),
                    body,
                    accepted,
                });
                if accepted {
                    axum::http::StatusCode::NO_CONTENT
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_survive_a_restart() {
    let (rx, url) = receiver().await;
    let dir = std::env::temp_dir().join(format!("hf-bridge-hooks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let extra = format!(
        "[storage]\npath = \"{}\"\n[[webhooks]]\nurl = \"{url}\"\nsecret = \"s3cret\"\nretry_initial_ms = 100\n",
        dir.join("j.sqlite").display()
    );

    // The CRM is down: the bridge tries, fails, and keeps the deliveries.
    {
        let fake = Fake::new();
        let b = Bridge::start(&config(&extra), fake.clone()).await.unwrap();
        fake.ring(1, "+498912345", "300000", Some("A300000")).await;
        fake.answer(1, "300000", Some("A300000")).await;
        fake.end(1).await;
        let hits = rx.hits.clone();
        until(|| {
            let h = hits.lock().unwrap();
            h.iter().filter(|x| x.kind == "callRecord").count() >= 2
                && h.iter().filter(|x| x.kind == "screenPop").count() >= 2
        })
        .await;
        b.shutdown().await;
    }
    let failed: Vec<Hit> = rx.hits.lock().unwrap().clone();
    assert!(failed.iter().all(|h| !h.accepted));

    // The CRM is back; a new bridge process over the same journal delivers what is pending.
    rx.accept.store(true, Ordering::SeqCst);
    let fake = Fake::new();
    let b = Bridge::start(&config(&extra), fake.clone()).await.unwrap();
    let hits = rx.hits.clone();
    until(|| hits.lock().unwrap().iter().filter(|h| h.accepted).count() == 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let all = rx.hits.lock().unwrap().clone();
    let ok: Vec<&Hit> = all.iter().filter(|h| h.accepted).collect();
    assert_eq!(
        ok.len(),
        2,
        "each delivery succeeds once and is not repeated"
    );
    for h in &ok {
        assert!(
            hookflash_bridge::webhook::verify("s3cret", h.timestamp, &h.body, &h.signature),
            "{h:?}"
        );
        assert!(!hookflash_bridge::webhook::verify(
            "other",
            h.timestamp,
            &h.body,
            &h.signature
        ));
        // The same delivery that failed before.
        assert!(
            failed
                .iter()
                .any(|f| f.delivery == h.delivery && f.body == h.body)
        );
    }
    let pop: Value =
        serde_json::from_str(&ok.iter().find(|h| h.kind == "screenPop").unwrap().body).unwrap();
    assert_eq!(pop["type"], "screenPop");
    assert_eq!(pop["customer"]["name"], "Example GmbH");
    let rec: Value =
        serde_json::from_str(&ok.iter().find(|h| h.kind == "callRecord").unwrap().body).unwrap();
    assert_eq!(rec["type"], "callRecord");
    assert_eq!(rec["record"]["calling"], "+498912345");
    assert_eq!(rec["record"]["answered_by"], "300000");
    assert_eq!(rec["record"]["outcome"], "answered");

    // The outbox shows them delivered.
    let base = format!("http://{}", b.local_addr());
    let (_, m) = get(&base, "/metrics", None).await;
    assert!(
        m.as_str()
            .unwrap()
            .contains("hookflash_webhook_outbox{state=\"delivered\"} 2"),
        "{m}"
    );
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
