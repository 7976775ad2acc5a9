//! Soak: a compressed contact-centre day through the whole stack — the simulated PBX on a CSTA
//! XML link, the CSTA driver, the core, the bridge's hub and SQLite journal, one WebSocket
//! client reading every event — sampling the process's resident memory every few seconds.
//! Memory must stay flat (within 10 %) after the warm-up, the client must see every sequence
//! number once and in order.
//!
//! Ignored in the normal suite (it runs for minutes); `scripts/soak.sh bridge` runs it in a
//! release build. `SOAK_CALLS` (default 200,000) sets the number of calls, `SOAK_SAMPLE_SECS`
//! (default 5) the sampling period, `SOAK_SCALE` (default 15: 300 calls/s, what the whole stack
//! keeps up with on a 2-core machine that also runs the simulator and the client) the PBX time
//! per real time. The million-call day through the core is `crates/hookflash/tests/soak.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use hookflash_bridge::Bridge;
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "soak-admin-token-0123456789";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: scripts/soak.sh runs it in a release build"]
async fn a_compressed_day_keeps_memory_flat() {
    let target = env_u64("SOAK_CALLS", 200_000);
    let sample = Duration::from_secs(env_u64("SOAK_SAMPLE_SECS", 5));
    let agents = 60u32;
    let extensions = 40u32;
    let sim_cfg = SimConfig {
        seed: 2026,
        agents,
        queues: 2,
        extensions,
        trunks: 400,
        calls_per_minute: 1_200.0,
        ring_ms: 800,
        no_answer_ms: 4_000,
        talk_ms: 3_000,
        hold_ms: 500,
        acw_ms: 500,
        patience_ms: 6_000,
        overflow_ms: 10_000,
        poll_interval_ms: 20_000,
        truth: false,
        ..SimConfig::default()
    };
    let mut server_cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim_cfg);
    server_cfg.time_scale = env_u64("SOAK_SCALE", 15) as f64;
    server_cfg.face.poll_answer_timeout_ms = 3_600_000;
    let sim = SimServer::start(server_cfg)
        .await
        .expect("the simulated PBX");
    let pbx = sim.local_addr().unwrap();
    let mut monitor: Vec<String> = (0..agents).map(|i| (300_000 + i).to_string()).collect();
    monitor.extend((0..extensions).map(|i| (200_000 + i).to_string()));
    monitor.extend(["6000".to_string(), "6001".to_string()]);
    let monitor = monitor
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let dir = std::env::temp_dir().join(format!("hookflash-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal.sqlite");
    let text = format!(
        r#"
[http]
listen = "127.0.0.1:0"
[storage]
path = "{}"
max_events = 200000
[[links]]
name = "pbx"
url = "csta-xml+tcp://{pbx}?session_duration=3600"
monitor = [{monitor}]
[[tokens]]
name = "admin"
token = "{TOKEN}"
scope = "admin"
"#,
        journal.display()
    );
    let cfg = hookflash_bridge::config::Config::parse("soak.toml".as_ref(), &text, &|_| None)
        .expect("config");
    let backend = hookflash_bridge::open_links(&cfg).expect("links");
    let bridge = Bridge::start(&cfg, Arc::new(backend))
        .await
        .expect("bridge");
    let ws_url = format!("ws://{}/v1/events?token={TOKEN}", bridge.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket");
    // The client reads every event and checks the sequence numbers: once each, in order.
    let events = Arc::new(AtomicU64::new(0));
    let gaps = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (events, gaps, stop, dropped) =
            (events.clone(), gaps.clone(), stop.clone(), dropped.clone());
        tokio::spawn(async move {
            let mut last: Option<u64> = None;
            while !stop.load(Ordering::Relaxed) {
                let msg = match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
                    Err(_) => continue,
                    Ok(Some(Ok(msg))) => msg,
                    Ok(_) => {
                        dropped.store(true, Ordering::Relaxed);
                        return;
                    }
                };
                if let Message::Text(t) = msg {
                    let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                    let seq = v["seq"].as_u64().expect("seq");
                    if let Some(l) = last
                        && seq != l + 1
                    {
                        gaps.fetch_add(1, Ordering::Relaxed);
                        eprintln!("sequence jumps from {l} to {seq}");
                    }
                    last = Some(seq);
                    events.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let t0 = Instant::now();
    let mut samples: Vec<(f64, u64, u64)> = Vec::new(); // (seconds, calls ended, RSS KiB)
    println!("seconds,calls_ended,events_received,rss_kib");
    loop {
        tokio::time::sleep(sample).await;
        let stats = sim.control().stats().await;
        let calls = stats.engine.calls_ended;
        let rss = rss_kib();
        let secs = t0.elapsed().as_secs_f64();
        samples.push((secs, calls, rss));
        println!("{secs:.0},{calls},{},{rss}", events.load(Ordering::Relaxed));
        if calls >= target {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3 * 3600),
            "the soak takes too long"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reader.await;
    let (secs, calls, _) = *samples.last().unwrap();
    // Warm-up: the first fifth of the calls (tables, buffers and SQLite's cache grow to
    // their working size). After it, every sample is within 10 % of the first one.
    let warm = samples
        .iter()
        .position(|s| s.1 >= target / 5)
        .expect("samples after the warm-up");
    let base = samples[warm].2;
    let after = &samples[warm..];
    let max = after.iter().map(|s| s.2).max().unwrap();
    let min = after.iter().map(|s| s.2).min().unwrap();
    println!(
        "soak: {calls} calls in {secs:.0} s ({:.0} calls/s), {} events to the client, {} gaps; \
         RSS after warm-up: first {base} KiB, min {min} KiB, max {max} KiB ({:+.1} %)",
        calls as f64 / secs,
        events.load(Ordering::Relaxed),
        gaps.load(Ordering::Relaxed),
        (max as f64 / base as f64 - 1.0) * 100.0
    );
    assert_eq!(gaps.load(Ordering::Relaxed), 0, "the client saw a gap");
    assert!(!dropped.load(Ordering::Relaxed), "the client was dropped");
    assert!(
        max as f64 <= base as f64 * 1.10,
        "memory grew after the warm-up: {base} KiB → {max} KiB"
    );
    bridge.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
