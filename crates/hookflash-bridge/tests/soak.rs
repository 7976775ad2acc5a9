//! Soak: a compressed contact-centre day through the whole stack — the simulated PBX on a CSTA
//! XML link, the CSTA driver, the core, the bridge's hub and SQLite journal, one WebSocket
//! client reading every event — sampling every few seconds the process's resident memory (RSS)
//! and the live heap of Rust allocations (counted by this binary's global allocator; SQLite
//! allocates through the C library directly, so its page cache is in RSS only).
//!
//! The warm-up lasts until every bounded table is at its cap: the core's tombstones of ended
//! calls (`max_tombstones`, one per call alias, so full once the core has ended that many
//! calls), the journal's `max_events` (held while appending; SQLite's page cache is bounded at
//! its default 2 MiB) and the hub's live broadcast (16,384 events). It is also at least the
//! first fifth of the calls. After it, RSS and the live heap must stay within 10 % of their
//! values at its end, the journal's write-ahead log must not outgrow its size then by more than
//! the checkpointer's restart threshold (the database file itself grows by the call records,
//! which retention removes by age, not by count), the client must see every sequence number
//! once and in order, and the link must stay up.
//!
//! Ignored in the normal suite (it runs for minutes); `scripts/soak.sh bridge` runs it in a
//! release build. `SOAK_CALLS` (default 1,000,000) sets the number of calls, `SOAK_SAMPLE_SECS`
//! (default 5) the sampling period, `SOAK_SCALE` (default 25: 500 calls/s, what the whole stack
//! keeps up with on a 2-core machine that also runs the simulator and the client, with a core
//! to spare) the PBX time per real time, `SOAK_TOMBSTONES` the core's `max_tombstones` (default the core's, 200,000).
//! The million-call day through the core is `crates/hookflash/tests/soak.rs`.

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

// The same counting allocator as the core soak's.
#[path = "../../hookflash/tests/common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{Counting, LIVE_BLOCKS, LIVE_BYTES};

#[global_allocator]
static ALLOC: Counting = Counting;

/// One sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    secs: f64,
    calls: u64,
    rss_kib: u64,
    heap_kib: u64,
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
    let target = env_u64("SOAK_CALLS", 1_000_000);
    let default_tombstones = hookflash_core::engine::Config::default().max_tombstones as u64;
    let tombstones = env_u64("SOAK_TOMBSTONES", default_tombstones) as usize;
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
    let scale = env_u64("SOAK_SCALE", 25).max(1);
    server_cfg.time_scale = scale as f64;
    server_cfg.face.poll_answer_timeout_ms = 3_600_000;
    // The PBX times the ECMA-354 session on its own clock, `scale` times faster than the
    // client's, which resets the timer at half the session in real time: with a session of an
    // hour the PBX ended it after 3,600 / 15 = 240 s and the link was re-established. The
    // session is timed in real time on both sides.
    server_cfg.face.session_clock_factor = scale;
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
    // The bridge's own builder, with the tombstone cap of the run.
    let builder = hookflash_bridge::cti_builder(&cfg)
        .expect("builder")
        .engine_config(hookflash_core::engine::Config {
            dial_plan: cfg.dial_plan.clone(),
            service_level_ms: cfg.service_level_ms,
            max_tombstones: tombstones,
            ..Default::default()
        });
    let backend = hookflash_bridge::open_links_with(&cfg, builder).expect("links");
    let bridge = Bridge::start(&cfg, Arc::new(backend))
        .await
        .expect("bridge");
    let ws_url = format!("ws://{}/v1/events?token={TOKEN}", bridge.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket");
    // The client reads every event and checks the sequence numbers: once each, in order.
    // It also counts the calls the core ended (each leaves at least one tombstone) and the
    // times the link went down.
    let events = Arc::new(AtomicU64::new(0));
    let gaps = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let link_changes = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (events, gaps, stop, dropped) =
            (events.clone(), gaps.clone(), stop.clone(), dropped.clone());
        let (ended, link_changes) = (ended.clone(), link_changes.clone());
        tokio::spawn(async move {
            let mut last: Option<u64> = None;
            // The link's first `down` is the state it starts in (the client may subscribe
            // before the link first comes up); only a `down` after an `up` is a lost link.
            let mut was_up = false;
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
                    match v["type"].as_str() {
                        Some("callEnded") => {
                            ended.fetch_add(1, Ordering::Relaxed);
                        }
                        Some("linkStateChanged") => {
                            eprintln!("client: {t}");
                            if v["state"] == "up" {
                                was_up = true;
                            } else if v["state"] == "down" && was_up {
                                link_changes.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {}
                    }
                }
            }
        })
    };

    let t0 = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut warm: Option<usize> = None;
    let file_mib = |suffix: &str| {
        std::fs::metadata(dir.join(format!("journal.sqlite{suffix}"))).map_or(0, |m| m.len() >> 20)
    };
    let mut wal_at_warm = 0u64;
    let mut wal_max = 0u64;
    println!(
        "seconds,calls_ended,core_calls_ended,events_received,rss_kib,heap_live_kib,heap_blocks,journal_mib,wal_mib,connections"
    );
    loop {
        tokio::time::sleep(sample).await;
        let stats = sim.control().stats().await;
        let calls = stats.engine.calls_ended;
        let rss = rss_kib();
        let heap_kib = LIVE_BYTES.load(Ordering::Relaxed) / 1024;
        let secs = t0.elapsed().as_secs_f64();
        let core_ended = ended.load(Ordering::Relaxed);
        let received = events.load(Ordering::Relaxed);
        samples.push(Sample {
            secs,
            calls,
            rss_kib: rss,
            heap_kib,
        });
        // Every bounded table at its cap: the core's tombstones, the journal's events (and the
        // hub's live broadcast, smaller), and a fifth of the day.
        if warm.is_none()
            && core_ended >= tombstones as u64
            && received >= 200_000
            && calls >= target / 5
        {
            warm = Some(samples.len() - 1);
            wal_at_warm = file_mib("-wal");
            println!("# warm-up ends here: every bounded table is at its cap");
        }
        let wal = file_mib("-wal");
        if warm.is_some() {
            wal_max = wal_max.max(wal);
        }
        println!(
            "{secs:.0},{calls},{core_ended},{received},{rss},{heap_kib},{},{},{wal},{}",
            LIVE_BLOCKS.load(Ordering::Relaxed),
            file_mib(""),
            stats.connections_accepted
        );
        // A log that grows without bound fills the disk: stop early rather than at the end.
        assert!(
            wal < 4096,
            "the journal's write-ahead log reached {wal} MiB"
        );
        if calls >= target {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3 * 3600),
            "the soak takes too long"
        );
    }
    let end_stats = sim.control().stats().await;
    println!(
        "# PBX: {} connections accepted, {} dropped as slow consumers, {} closed by the client, face closes {:?}",
        end_stats.connections_accepted,
        end_stats.slow_consumer_drops,
        end_stats.peer_closes,
        end_stats.face_closes
    );
    stop.store(true, Ordering::Relaxed);
    let _ = reader.await;
    let last = *samples.last().unwrap();
    let (secs, calls) = (last.secs, last.calls);
    let warm = warm.expect("the run ends before every bounded table is full: more calls");
    let base = samples[warm].rss_kib;
    let after = &samples[warm..];
    let max = after.iter().map(|s| s.rss_kib).max().unwrap();
    let min = after.iter().map(|s| s.rss_kib).min().unwrap();
    let heap_base = samples[warm].heap_kib;
    let heap_max = after.iter().map(|s| s.heap_kib).max().unwrap();
    let heap_min = after.iter().map(|s| s.heap_kib).min().unwrap();
    println!(
        "soak: {calls} calls in {secs:.0} s ({:.0} calls/s), {} events to the client, {} gaps; \
         warm-up until {} calls; after it RSS first {base} KiB, min {min} KiB, max {max} KiB ({:+.1} %), \
         live heap first {heap_base} KiB, min {heap_min} KiB, max {heap_max} KiB ({:+.1} %), \
         write-ahead log {wal_at_warm} MiB at the end of the warm-up, at most {wal_max} MiB after",
        calls as f64 / secs,
        events.load(Ordering::Relaxed),
        gaps.load(Ordering::Relaxed),
        samples[warm].calls,
        (max as f64 / base as f64 - 1.0) * 100.0,
        (heap_max as f64 / heap_base as f64 - 1.0) * 100.0
    );
    assert_eq!(gaps.load(Ordering::Relaxed), 0, "the client saw a gap");
    assert!(!dropped.load(Ordering::Relaxed), "the client was dropped");
    assert_eq!(
        end_stats.connections_accepted, 1,
        "the link was re-established"
    );
    assert_eq!(
        link_changes.load(Ordering::Relaxed),
        0,
        "the link went down"
    );
    assert!(
        heap_max as f64 <= heap_base as f64 * 1.10,
        "the live heap grew after the warm-up: {heap_base} KiB → {heap_max} KiB"
    );
    assert!(
        max as f64 <= base as f64 * 1.10,
        "memory grew after the warm-up: {base} KiB → {max} KiB"
    );
    // The checkpointer starts the log again once it holds 64 MiB; a round's worth more is
    // allowed.
    assert!(
        wal_max <= wal_at_warm.max(64) + 64,
        "the journal's write-ahead log grew after the warm-up: {wal_at_warm} MiB → {wal_max} MiB"
    );
    bridge.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
