//! Soak: a compressed contact-centre day of a million calls through the simulated PBX, a CSTA
//! BER link, the CSTA driver and the core (`Cti`), with a subscriber reading every normalized
//! event, sampling the process's resident memory every few seconds. Memory must stay flat
//! (within 10 %) after the warm-up (the first fifth of the calls), the subscriber must see every
//! sequence number once and in order, and no call may be left live that the PBX ended.
//!
//! Ignored in the normal suite (it runs for minutes); `scripts/soak.sh` runs it in a release
//! build. `SOAK_CALLS` (default 1,000,000), `SOAK_SAMPLE_SECS` (default 5) and `SOAK_SCALE`
//! (PBX time per real time, default 100: 2,000 calls/s) change it.

#![cfg(feature = "csta")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hookflash::Cti;
use hookflash::Filter;
use hookflash::drivers::csta::CstaDriver;
use hookflash::spi::Driver;
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
    server_cfg.time_scale = env_u64("SOAK_SCALE", 100) as f64;
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
    let cti = Arc::new(Cti::builder().driver(driver).build().expect("cti"));
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

    // The subscriber: every sequence number once, in order.
    let events = Arc::new(AtomicU64::new(0));
    let gaps = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut sub = cti.subscribe(Filter::all());
    let reader = {
        let (events, gaps, stop) = (events.clone(), gaps.clone(), stop.clone());
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
    let mut samples: Vec<(f64, u64, u64)> = Vec::new(); // (seconds, calls ended, RSS KiB)
    println!("seconds,calls_ended,events_received,live_calls,rss_kib");
    let mut next = t0 + sample;
    loop {
        tokio::time::sleep_until(next.into()).await;
        next += sample;
        let stats = sim.control().stats().await;
        let calls = stats.engine.calls_ended;
        let rss = rss_kib();
        let secs = t0.elapsed().as_secs_f64();
        samples.push((secs, calls, rss));
        println!(
            "{secs:.0},{calls},{},{},{rss}",
            events.load(Ordering::Relaxed),
            cti.calls().len()
        );
        if calls >= target {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3 * 3600),
            "the soak takes too long"
        );
    }
    // The link stayed up all day (a slow consumer would have been dropped by the PBX).
    assert_eq!(cti.link_state("sim"), LinkState::Up);
    assert_eq!(sim.control().stats().await.connections_accepted, 1);
    stop.store(true, Ordering::Relaxed);
    let _ = reader.await;
    let (secs, calls, _) = *samples.last().unwrap();
    let warm = samples
        .iter()
        .position(|s| s.1 >= target / 5)
        .expect("samples after the warm-up");
    let base = samples[warm].2;
    let after = &samples[warm..];
    let max = after.iter().map(|s| s.2).max().unwrap();
    let min = after.iter().map(|s| s.2).min().unwrap();
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
         RSS after warm-up: first {base} KiB, min {min} KiB, max {max} KiB ({:+.1} %)",
        calls as f64 / secs,
        events.load(Ordering::Relaxed),
        gaps.load(Ordering::Relaxed),
        (max as f64 / base as f64 - 1.0) * 100.0
    );
    assert_eq!(gaps.load(Ordering::Relaxed), 0, "the subscriber saw a gap");
    // No more live calls than the PBX can hold at once (trunks plus internal calls).
    assert!(live <= 500, "{live} calls live: ended calls left behind");
    assert!(
        max as f64 <= base as f64 * 1.10,
        "memory grew after the warm-up: {base} KiB → {max} KiB"
    );
    drop(cti);
    sim.shutdown().await;
}
