//! Fault injection on the northbound side: a WebSocket subscriber that stops reading must not
//! hold up the others nor make the bridge buffer without bound; it is cut off, counted, and
//! resumes from its last sequence number without a gap.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use hookflash_bridge::Bridge;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(base: &str, query: &str) -> Ws {
    let url = format!("{}/v1/events?{query}", base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads sequence numbers until `want` arrived, the stream ends, or `quiet` passes without
/// one.
async fn read_seqs(ws: &mut Ws, want: u64, quiet: Duration) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        match tokio::time::timeout(quiet, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                let s = v["seq"].as_u64().unwrap();
                seqs.push(s);
                if s >= want {
                    return seqs;
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => return seqs,
        }
    }
}

fn contiguous(seqs: &[u64]) -> bool {
    seqs.windows(2).all(|w| w[1] == w[0] + 1)
}

/// The value of a counter in the Prometheus text.
async fn metric(base: &str, name: &str) -> u64 {
    let (_, text) = get(base, "/metrics", Some(ADMIN)).await;
    text.as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_holds_up_nobody_and_resumes_without_a_gap() {
    let fake = Fake::new();
    let bridge = Bridge::start(&config(""), fake.clone()).await.unwrap();
    let base = format!("http://{}", bridge.local_addr());
    // The slow one connects and never reads; the other reads everything.
    let mut slow = ws(&base, &format!("token={ADMIN}")).await;
    let mut fast = ws(&base, &format!("token={ADMIN}")).await;
    // Enough events (about 20 MB of JSON) to fill every socket buffer between the bridge and
    // the slow client many times over.
    let calls = 12_000u64;
    let emitter = {
        let fake = fake.clone();
        tokio::spawn(async move {
            for id in 1..=calls {
                fake.ring(id, "+498912345", "300000", Some("A300000")).await;
                fake.answer(id, "300000", Some("A300000")).await;
                fake.end(id).await;
            }
        })
    };
    let t0 = Instant::now();
    emitter.await.unwrap();
    let emitted = fake.st.lock().unwrap().seq;
    let got = read_seqs(&mut fast, u64::MAX, Duration::from_secs(3)).await;
    let took = t0.elapsed() - Duration::from_secs(3);
    assert_eq!(
        got.len() as u64,
        emitted,
        "the reading client got every event"
    );
    assert_eq!(got.first(), Some(&1));
    assert!(contiguous(&got), "and in order, without a gap");
    let total = *got.last().unwrap();
    println!("{total} events to the reading client in {took:?} while the other did not read");
    // The bridge gives the stuck client up (a send blocked for its timeout) and counts it;
    // it does not queue the backlog for it.
    let t_cut = Instant::now();
    while metric(&base, "hookflash_stream_slow_clients_total").await < 1 {
        assert!(
            t_cut.elapsed() < Duration::from_secs(20),
            "the stuck client was not given up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "stuck client given up {:?} after the last event",
        t_cut.elapsed()
    );
    assert_eq!(metric(&base, "hookflash_stream_clients").await, 1);
    // What reached the stuck client before the cut is contiguous from the start…
    let had = read_seqs(&mut slow, total, Duration::from_secs(2)).await;
    assert!(
        !had.is_empty() && had[0] == 1 && contiguous(&had),
        "{:?}",
        &had[..had.len().min(5)]
    );
    assert!(
        (had.len() as u64) < total,
        "the stuck client was cut off before the end"
    );
    let last = *had.last().unwrap();
    // …and resuming from its last sequence number gives the rest, no gap, nothing twice.
    let mut resumed = ws(&base, &format!("token={ADMIN}&since={last}")).await;
    let rest = read_seqs(&mut resumed, total, Duration::from_secs(10)).await;
    assert_eq!(rest.first(), Some(&(last + 1)));
    assert_eq!(rest.last(), Some(&total));
    assert!(contiguous(&rest));
    println!(
        "the stuck client had {} events; resumed with since={last}, it got the other {}",
        had.len(),
        rest.len()
    );
    bridge.shutdown().await;
}
