//! Size limits on what clients send, each enforced at its configured value: request bodies
//! (`http.max_body_bytes`, 413 beyond it), WebSocket messages (`http.max_message_bytes`, the
//! stream is closed beyond it), query strings (4 KiB, 400), and the configured values clamped to
//! a sane range.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use hookflash_bridge::Bridge;
use hookflash_bridge::config::Config;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

fn config(http: &str) -> Config {
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n{http}\n\
         [[tokens]]\nname = \"admin\"\ntoken = \"{ADMIN}\"\nscope = \"admin\"\n"
    );
    Config::parse("limits.toml".as_ref(), &text, &|_| None).unwrap()
}

async fn start(http: &str) -> (Bridge, String) {
    let b = Bridge::start(&config(http), Fake::new()).await.unwrap();
    let base = format!("http://{}", b.local_addr());
    (b, base)
}

/// A valid make-call body of about `len` bytes.
fn body(len: usize) -> serde_json::Value {
    json!({"from": "300000", "to": "200000", "note": "x".repeat(len.saturating_sub(40))})
}

async fn post_status(base: &str, len: usize) -> u16 {
    send(reqwest::Method::POST, base, "/v1/calls", ADMIN, body(len))
        .await
        .0
}

#[tokio::test]
async fn request_bodies_are_limited_at_the_configured_size() {
    let (_b, base) = start("max_body_bytes = 4096").await;
    assert_eq!(post_status(&base, 3_000).await, 201);
    assert_eq!(post_status(&base, 5_000).await, 413);
    // The default is 64 KiB.
    let (_b, base) = start("").await;
    assert_eq!(post_status(&base, 5_000).await, 201);
    assert_eq!(post_status(&base, 60_000).await, 201);
    assert_eq!(post_status(&base, 70_000).await, 413);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(base: &str) -> Ws {
    let url = format!(
        "{}/v1/events?token={ADMIN}",
        base.replace("http://", "ws://")
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Whether the server closes the stream within `wait` after the client sends `len` bytes.
async fn closes_after(ws: &mut Ws, len: usize, wait: Duration) -> bool {
    let _ = ws.send(Message::Text("x".repeat(len).into())).await;
    tokio::time::timeout(wait, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

#[tokio::test]
async fn websocket_messages_are_limited_at_the_configured_size() {
    let (_b, base) = start("max_message_bytes = 2048").await;
    let mut c = ws(&base).await;
    assert!(!closes_after(&mut c, 1_500, Duration::from_millis(300)).await);
    assert!(closes_after(&mut c, 3_000, Duration::from_secs(5)).await);
    // The same 3 000 bytes pass under the default of 64 KiB.
    let (_b, base) = start("").await;
    let mut c = ws(&base).await;
    assert!(!closes_after(&mut c, 3_000, Duration::from_millis(300)).await);
    // Fifteen times the server's 4 KiB read buffer: read in pieces, accepted.
    assert!(!closes_after(&mut c, 60_000, Duration::from_millis(300)).await);
    assert!(closes_after(&mut c, 70_000, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn overlong_query_strings_are_refused() {
    let (_b, base) = start("").await;
    let (s, e) = get(
        &base,
        &format!("/v1/call-records?x={}", "a".repeat(5_000)),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(
        get(&base, "/v1/call-records?since=0", Some(ADMIN)).await.0,
        200
    );
}

#[test]
fn configured_limits_are_clamped_to_a_sane_range() {
    let c = config("max_body_bytes = 1\nmax_message_bytes = 99999999999");
    assert_eq!(c.http.max_body_bytes, 1024);
    assert_eq!(c.http.max_message_bytes, 16 * 1024 * 1024);
    let c = config("");
    assert_eq!(
        (c.http.max_body_bytes, c.http.max_message_bytes),
        (64 * 1024, 64 * 1024)
    );
}
