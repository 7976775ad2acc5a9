//! `hookflash bench monitors`: memory of many monitored devices through the CSTA driver, and
//! the time to re-monitor and re-snapshot devices after a reconnect.
//!
//! Memory: the simulated PBX runs as a child process (`hookflash sim`), so this process holds
//! only what an application that links `hookflash` holds (the `Cti`, its engine, the CSTA
//! driver); the figure is this process's resident set after every monitor is answered, less
//! the resident set before the `Cti` was built. Reconnect: a second, in-process simulator
//! drops the link; the time runs from the drop until the driver has re-monitored and
//! re-snapshotted every device (its `LinkUp` after the resync).

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hookflash::Cti;
use hookflash_core::driver::DriverEvent;
use hookflash_core::model::DeviceId;
use hookflash_csta::framing::Framing;
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};
use serde_json::json;

use crate::bench_e2e::proc_status_bytes;

/// Arguments of `hookflash bench monitors`.
#[derive(Debug, Args)]
pub(crate) struct BenchMonitorsArgs {
    /// Devices monitored for the memory figure (at most 100,000: the simulator's extensions).
    #[arg(long, default_value_t = 100_000)]
    devices: u32,
    /// Devices re-monitored and re-snapshotted after a reconnect.
    #[arg(long, default_value_t = 10_000)]
    resync: u32,
}

/// Kills the child simulator when dropped.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<SocketAddr, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map_err(|e| e.to_string())
}

fn devices(n: u32) -> Vec<DeviceId> {
    (0..n)
        .map(|i| DeviceId::from((200_000 + i).to_string()))
        .collect()
}

/// Runs the bench and prints its JSON object.
pub(crate) fn monitors(a: &BenchMonitorsArgs) -> Result<bool, String> {
    let n = a.devices.clamp(1, 100_000);
    let r = a.resync.clamp(1, 100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let doc = rt.block_on(async {
        let (mem, took) = memory(n).await?;
        let resync = reconnect(r).await?;
        Ok::<_, String>(json!({
            "devices": n,
            "rss_bytes": mem.0,
            "rss_before_bytes": mem.1,
            "bytes_per_device": (mem.0.saturating_sub(mem.1)) as f64 / f64::from(n),
            "monitor_seconds": took,
            "resync_devices": r,
            "resync_seconds": resync.0,
            "first_monitor_seconds": resync.1,
        }))
    })?;
    println!("{doc}");
    Ok(true)
}

/// Monitors `n` devices on a child simulator through a `Cti`: ((rss after, rss before), s).
async fn memory(n: u32) -> Result<((u64, u64), f64), String> {
    let addr = free_port()?;
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let child = Command::new(exe)
        .args(["sim", "--protocol", "csta-ber", "--framing", "len2"])
        .args(["--listen", &addr.to_string()])
        .args(["--agents", "0", "--queues", "1", "--rate", "0"])
        .args(["--extensions", &n.to_string()])
        .args(["--monitor-limit", &(n + 10).to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let _kill = Kill(child);
    let before = proc_status_bytes("self", "VmRSS");
    let url = format!("csta-ber+tcp://{addr}?framing=len2");
    let cti = Cti::builder()
        .request_timeout(Duration::from_secs(120))
        .link("pbx", &url)
        .and_then(hookflash::CtiBuilder::build)
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    loop {
        if cti.wait_up(Duration::from_secs(1)).await.is_ok() {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err("the simulator's link did not come up within 30 s".into());
        }
    }
    let devs = devices(n);
    let t = Instant::now();
    let results = cti.monitor_on("pbx", &devs).await;
    let took = t.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        return Err(format!("{failed} of {n} monitors failed"));
    }
    // Let the snapshots and agent-state answers that follow each monitor arrive.
    let mut last = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = proc_status_bytes("self", "VmRSS");
        if now == last {
            break;
        }
        last = now;
    }
    let after = proc_status_bytes("self", "VmRSS");
    drop(cti);
    Ok(((after, before), took))
}

/// Monitors `n` devices on an in-process simulator through the CSTA driver, drops the link,
/// and times the resync: (seconds from the drop to the resynced link, seconds of the first
/// monitoring).
async fn reconnect(n: u32) -> Result<(f64, f64), String> {
    let s = SimConfig {
        agents: 0,
        queues: 1,
        extensions: n,
        monitor_limit: n as usize + 10,
        calls_per_minute: 0.0,
        ..SimConfig::default()
    };
    let server = SimServer::start(SimServerConfig::new(
        FaceProtocol::CstaBer(Framing::Len2),
        s,
    ))
    .await
    .map_err(|e| e.to_string())?;
    let addr = server.local_addr().ok_or("no simulator address")?;
    let url: hookflash_link::url::LinkUrl = format!("csta-ber+tcp://{addr}?framing=len2")
        .parse()
        .map_err(|e| format!("link URL: {e}"))?;
    let d: Arc<dyn hookflash::spi::Driver> =
        Arc::from(hookflash::drivers::open("pbx".into(), &url).map_err(|e| e.to_string())?);
    let (sink, mut rx) = hookflash::spi::EventSink::channel(1 << 16);
    let runner = {
        let d = Arc::clone(&d);
        tokio::spawn(async move { d.run(sink).await })
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let want = n as usize;
    let counter = tokio::spawn(async move {
        let mut snapshots = 0usize;
        let mut done_tx = Some(done_tx);
        let mut armed = false;
        while let Some(hookflash::spi::Reported { event: ev, .. }) = rx.recv().await {
            match ev {
                DriverEvent::DeviceSnapshot { .. } => snapshots += 1,
                DriverEvent::LinkDown { .. } => {
                    armed = true;
                    snapshots = 0;
                }
                DriverEvent::LinkUp { .. } if armed && snapshots >= want => {
                    if let Some(tx) = done_tx.take() {
                        let _ = tx.send(Instant::now());
                    }
                }
                _ => {}
            }
        }
    });
    let devs = devices(n);
    let t = Instant::now();
    loop {
        if d.monitor(&devs[..1])
            .await
            .first()
            .is_some_and(Result::is_ok)
        {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err("the simulator's link did not come up within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t0 = Instant::now();
    let results = d.monitor(&devs).await;
    let first = t0.elapsed().as_secs_f64();
    if results.iter().any(Result::is_err) {
        return Err("monitoring failed".into());
    }
    // Let the first round of snapshots drain before the drop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t1 = Instant::now();
    server.control().drop_links().await;
    let at = tokio::time::timeout(Duration::from_secs(60), done_rx)
        .await
        .map_err(|_| "no resync within 60 s".to_string())?
        .map_err(|_| "the driver stopped".to_string())?;
    let took = at.duration_since(t1).as_secs_f64();
    runner.abort();
    counter.abort();
    server.shutdown().await;
    Ok((took, first))
}
