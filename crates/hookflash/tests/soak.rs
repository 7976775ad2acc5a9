//! Soak: a compressed contact-centre day of a million calls through the simulated PBX, a CSTA
//! BER link, the CSTA driver and the core (`Cti`), with a subscriber reading every normalized
//! event, sampling every few seconds the process's resident memory (RSS) and, beside it, the
//! live heap (bytes and blocks allocated and not yet freed, counted by this binary's global
//! allocator) — RSS minus live heap is what the allocator keeps.
//!
//! The warm-up lasts until every bounded table of the core is at its cap: the tombstones of
//! ended calls (`max_tombstones`, one per call alias, so full once the core has ended that many
//! calls) and the ended calls kept for queries (`max_ended`); the other tables hold what is in
//! progress. It is also at least the first fifth of the calls. After it, RSS and the live heap
//! must stay within 10 % of their values at its end, the subscriber must see every sequence
//! number once and in order, the link must stay up (one connection all day) and no call may be
//! left live that the PBX ended.
//!
//! Ignored in the normal suite (it runs for minutes); `scripts/soak.sh` runs it in a release
//! build. `SOAK_CALLS` (default 1,000,000), `SOAK_SAMPLE_SECS` (default 5), `SOAK_SCALE` (PBX
//! time per real time, default 25: 500 calls/s) and `SOAK_TOMBSTONES` (the core's
//! `max_tombstones`, default the core's default, 200,000) change it. `SOAK_EXIT_LIVE=1` ends
//! the process after the last sample without freeing anything, for a heap profiler
//! (`heaptrack`) to report what was live then, by allocation site.
//!
//! The PBX keeps its own clock, as a real one does, and drops a client whose output queue
//! overflows (100,000 frames) as a slow consumer. So the offered rate must be one the process
//! sustains with the CPU it gets: at 2,000 calls/s (`SOAK_SCALE=100`) on the 2-core
//! development machine beside other builds the client fell behind and was dropped (see
//! `docs/RELIABILITY.md`).

#![cfg(feature = "csta")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hookflash::Cti;
use hookflash::Filter;
use hookflash::drivers::csta::CstaDriver;
use hookflash::spi::Driver;
use hookflash_core::engine::Config as EngineConfig;
use hookflash_core::event::EventKind;
use hookflash_core::model::{DeviceId, LinkState};
use hookflash_csta::framing::Framing;
use hookflash_link::url::LinkUrl;
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCATIONS, Counting, LIVE_BLOCKS, LIVE_BYTES};

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
async fn a_compressed_day_of_a_million_calls_keeps_memory_flat() {
    let target = env_u64("SOAK_CALLS", 1_000_000);
    let engine_cfg = EngineConfig {
        max_tombstones: env_u64(
            "SOAK_TOMBSTONES",
            EngineConfig::default().max_tombstones as u64,
        ) as usize,
        ..EngineConfig::default()
    };
    let table_caps = engine_cfg.max_tombstones.max(engine_cfg.max_ended) as u64;
    let sample = Duration::from_secs(env_u64("SOAK_SAMPLE_SECS", 5));
    let (agents, extensions) = (60u32, 40u32);
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
    let mut server_cfg = SimServerConfig::new(FaceProtocol::CstaBer(Framing::Len2), sim_cfg);
    server_cfg.time_scale = env_u64("SOAK_SCALE", 25) as f64;
    server_cfg.face.poll_answer_timeout_ms = 3_600_000;
    let sim = SimServer::start(server_cfg)
        .await
        .expect("the simulated PBX");
    let url: LinkUrl = format!(
        "csta-ber+tcp://{}?framing=len2",
        sim.local_addr().expect("tcp")
    )
    .parse()
    .expect("url");
    let driver: Box<dyn Driver> = Box::new(CstaDriver::new("sim".into(), &url).expect("driver"));
    let cti = Arc::new(
        Cti::builder()
            .driver(driver)
            .engine_config(engine_cfg)
            .build()
            .expect("cti"),
    );
    let t_up = Instant::now();
    while cti.link_state("sim") != LinkState::Up {
        assert!(t_up.elapsed() < Duration::from_secs(20), "link not up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut devs: Vec<DeviceId> = (0..agents)
        .map(|i| DeviceId::from((300_000 + i).to_string()))
        .collect();
    devs.extend((0..extensions).map(|i| DeviceId::from((200_000 + i).to_string())));
    devs.extend([DeviceId::from("6000"), DeviceId::from("6001")]);
    let results = cti.monitor_on("sim", &devs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // The subscriber: every sequence number once, in order; it counts the calls the core ended
    // (each leaves at least one tombstone) and the times the link went down.
    let events = Arc::new(AtomicU64::new(0));
    let gaps = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let link_changes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut sub = cti.subscribe(Filter::all());
    let reader = {
        let (events, gaps, stop) = (events.clone(), gaps.clone(), stop.clone());
        let (ended, link_changes) = (ended.clone(), link_changes.clone());
        tokio::spawn(async move {
            let mut last: Option<u64> = None;
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_secs(1), sub.recv()).await {
                    Err(_) => {}
                    Ok(Ok(e)) => {
                        if let Some(l) = last
                            && e.seq != l + 1
                        {
                            gaps.fetch_add(1, Ordering::Relaxed);
                        }
                        last = Some(e.seq);
                        events.fetch_add(1, Ordering::Relaxed);
                        match &e.kind {
                            EventKind::CallEnded { .. } => {
                                ended.fetch_add(1, Ordering::Relaxed);
                            }
                            EventKind::LinkStateChanged { state } => {
                                eprintln!("subscriber: at {:?} the link is {state:?}", e.at);
                                if *state == LinkState::Down {
                                    link_changes.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            _ => {}
                        }
                    }
                    Ok(Err(e)) => {
                        eprintln!("subscriber: {e}");
                        gaps.fetch_add(1, Ordering::Relaxed);
                        if matches!(e, hookflash::RecvError::Closed) {
                            return;
                        }
                    }
                }
            }
        })
    };

    let t0 = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    // The warm-up ends at the first sample where the core has ended as many calls as its
    // largest bounded table holds, and the PBX a fifth of the day's calls.
    let mut warm: Option<usize> = None;
    println!(
        "seconds,calls_ended,core_calls_ended,events_received,live_calls,devices,rss_kib,heap_live_kib,heap_blocks,allocations,connections,late_ms"
    );
    let mut next = t0 + sample;
    loop {
        tokio::time::sleep_until(next.into()).await;
        // How late the sampler woke: a starved or blocked runtime shows here.
        let late_ms = Instant::now().saturating_duration_since(next).as_millis();
        next = Instant::now().max(next) + sample;
        let stats = sim.control().stats().await;
        let calls = stats.engine.calls_ended;
        let rss = rss_kib();
        let heap_kib = LIVE_BYTES.load(Ordering::Relaxed) / 1024;
        let secs = t0.elapsed().as_secs_f64();
        let core_ended = ended.load(Ordering::Relaxed);
        samples.push(Sample {
            secs,
            calls,
            rss_kib: rss,
            heap_kib,
        });
        if warm.is_none() && core_ended >= table_caps && calls >= target / 5 {
            warm = Some(samples.len() - 1);
            println!("# warm-up ends here: every bounded table of the core is at its cap");
        }
        println!(
            "{secs:.0},{calls},{core_ended},{},{},{},{rss},{heap_kib},{},{},{},{late_ms}",
            events.load(Ordering::Relaxed),
            cti.calls().len(),
            cti.devices().len(),
            LIVE_BLOCKS.load(Ordering::Relaxed),
            ALLOCATIONS.load(Ordering::Relaxed),
            stats.connections_accepted,
        );
        if calls >= target {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3 * 3600),
            "the soak takes too long"
        );
    }
    // Why connections ended, as the PBX saw it.
    let end_stats = sim.control().stats().await;
    println!(
        "# PBX: {} connections accepted, {} dropped as slow consumers, {} closed by the client, face closes {:?}",
        end_stats.connections_accepted,
        end_stats.slow_consumer_drops,
        end_stats.peer_closes,
        end_stats.face_closes
    );
    let link_state = cti.link_state("sim");
    if std::env::var_os("SOAK_EXIT_LIVE").is_some() {
        // For a heap profiler: end the process with everything still allocated, so what is
        // live now is reported as not freed, by allocation site.
        std::process::exit(0);
    }
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
    let live_calls = cti.calls();
    let live = live_calls.len();
    if std::env::var_os("SOAK_DEBUG").is_some() {
        for c in live_calls.iter().take(15) {
            println!(
                "live: ani {:?} dnis {:?} legs {:?} cause {:?} busy {:?} answered_by {:?}",
                c.data.ani.as_ref().map(|n| &n.raw),
                c.data.dnis.as_ref().map(|n| &n.raw),
                c.legs,
                c.last_cause,
                c.failed_busy,
                c.answered_by
            );
        }
    }
    println!(
        "soak: {calls} calls in {secs:.0} s ({:.0} calls/s), {} events to the subscriber, {} gaps, {live} calls live at the end; \
         warm-up until {} calls; after it RSS first {base} KiB, min {min} KiB, max {max} KiB ({:+.1} %), \
         live heap first {heap_base} KiB, min {heap_min} KiB, max {heap_max} KiB ({:+.1} %)",
        calls as f64 / secs,
        events.load(Ordering::Relaxed),
        gaps.load(Ordering::Relaxed),
        samples[warm].calls,
        (max as f64 / base as f64 - 1.0) * 100.0,
        (heap_max as f64 / heap_base as f64 - 1.0) * 100.0
    );
    assert_eq!(gaps.load(Ordering::Relaxed), 0, "the subscriber saw a gap");
    // The link stayed up all day (a slow consumer would have been dropped by the PBX).
    assert_eq!(link_state, LinkState::Up);
    assert_eq!(
        end_stats.connections_accepted, 1,
        "the link was re-established"
    );
    assert_eq!(
        link_changes.load(Ordering::Relaxed),
        0,
        "the link went down"
    );
    // No more live calls than the PBX can hold at once (trunks plus internal calls).
    assert!(live <= 500, "{live} calls live: ended calls left behind");
    assert!(
        max as f64 <= base as f64 * 1.10,
        "memory grew after the warm-up: {base} KiB → {max} KiB"
    );
    assert!(
        heap_max as f64 <= heap_base as f64 * 1.10,
        "the live heap grew after the warm-up: {heap_base} KiB → {heap_max} KiB"
    );
    drop(cti);
    sim.shutdown().await;
}
