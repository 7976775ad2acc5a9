//! `hookflash bench e2e`: the simulated PBX (CSTA BER over loopback TCP), the bridge and
//! WebSocket subscribers under a given call rate, measured end to end; one JSON object.
//!
//! The simulated PBX runs on a thread of its own in this process (a runtime of its own, so
//! that its sending does not queue behind the subscribers' tasks). The bridge runs as a child
//! process (`hookflash bridge` with a generated configuration) so
//! that its peak memory (`VmHWM`) is its own; `--in-process` runs it in this process instead.
//! Subscribers: `--subscribers` agent desktops, each following one agent device
//! (`/v1/events?device=…`), plus `--full-subscribers` (ten) following every event, as
//! wallboards and CRM back ends do.
//!
//! Latency is from the simulator's send to the subscriber's receipt: the simulated PBX stamps
//! every CSTA event with the wall-clock microsecond it hands the event to its connection
//! (`security.timestamp`, as PBXs that report their own time do), the bridge passes the PBX's
//! time on (`pbx_time_us`), and the subscriber subtracts it from its own receipt. Events with
//! no PBX report behind them (the bridge's own, such as a link's state) are counted apart
//! (`events_without_pbx_time`) and are not in the latency figures.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures_util::StreamExt;
use hookflash_csta::framing::Framing;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimControl, SimServer, SimServerConfig};
use hookflash_sim::{OutcomeMix, SimConfig};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Arguments of `hookflash bench e2e`.
#[derive(Debug, Args)]
pub(crate) struct BenchE2eArgs {
    /// Calls per second the simulated PBX offers (Poisson arrivals).
    #[arg(long, default_value_t = 2_000.0)]
    rate: f64,
    /// Agent devices on the simulated PBX, all monitored by the bridge.
    #[arg(long, default_value_t = 1_000)]
    devices: u32,
    /// WebSocket subscribers that each follow one agent device.
    #[arg(long, default_value_t = 1_000)]
    subscribers: u32,
    /// WebSocket subscribers that follow every event.
    #[arg(long, default_value_t = 10)]
    full_subscribers: u32,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of traffic before the measurement starts.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The simulation's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run the bridge in this process (peak memory is then the whole process's).
    #[arg(long)]
    in_process: bool,
    /// Keep the bridge's journal in memory instead of an SQLite file on disk.
    #[arg(long)]
    memory_journal: bool,
    /// Stop the bridge process (SIGSTOP) this many seconds into the measurement, to provoke a
    /// hold-up: every client falls behind by `--stall-for` seconds of events and must catch up.
    /// The report then says whether and when the full-stream clients were live again.
    #[arg(long, requires = "stall_for")]
    stall_at: Option<f64>,
    /// Seconds the bridge stays stopped (then SIGCONT).
    #[arg(long, requires = "stall_at")]
    stall_for: Option<f64>,
}

/// A full-stream client is live again after a stall when it receives an event sent after the
/// bridge resumed within this many microseconds of its sending.
const LIVE_AGAIN_US: u64 = 50_000;

/// The closing window whose latency is reported apart (`latency_ms_last_5s`): after a stall,
/// whether the bridge is back to its normal latency.
const LAST_WINDOW_S: f64 = 5.0;

// ---------------------------------------------------------------------------------------------
// Histogram

/// Sub-buckets per power of two: values above `EXACT` are kept within 1/128 (0.8 %).
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are counted exactly.
const EXACT: u64 = 2 * SUB;
/// Values are clamped below 2^MAX_MAG (microseconds: 12 days).
const MAX_MAG: u32 = 40;
const BUCKETS: usize = (EXACT + (MAX_MAG - SUB_BITS - 1) as u64 * SUB) as usize;

/// The bucket of a value (log-linear, as HDR histograms do).
fn bucket_of(v: u64) -> usize {
    let v = v.min((1 << MAX_MAG) - 1);
    if v < EXACT {
        return v as usize;
    }
    let mag = 63 - v.leading_zeros(); // 8 ..= MAX_MAG - 1
    let shift = mag - SUB_BITS;
    let sub = (v >> shift) - SUB;
    (EXACT + u64::from(mag - SUB_BITS - 1) * SUB + sub) as usize
}

/// The largest value that falls into bucket `i`.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let k = i - EXACT;
    let shift = (k / SUB) as u32 + 1;
    let low = (SUB + k % SUB) << shift;
    low + (1 << shift) - 1
}

/// A fixed-size latency histogram that many tasks record into at once.
pub(crate) struct AtomicHistogram {
    counts: Box<[AtomicU64]>,
    total: AtomicU64,
    max: AtomicU64,
}

impl AtomicHistogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, v: u64) {
        if let Some(c) = self.counts.get(bucket_of(v)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(v, Ordering::Relaxed);
    }

    pub(crate) fn count(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The value at quantile `q` (0..=1): the highest value of the bucket that holds that
    /// rank, never above the largest value recorded; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        let total: u64 = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                return bucket_high(i).min(self.max());
            }
        }
        self.max()
    }

    /// `{"p50":..,"p99":..,"max":..}` in milliseconds, from microsecond values.
    pub(crate) fn summary_ms(&self) -> Value {
        let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
        json!({
            "p50": ms(self.quantile(0.50)),
            "p99": ms(self.quantile(0.99)),
            "max": ms(self.max()),
            "count": self.count(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Event text

/// The unsigned number after the first `"key":` in `json`.
fn field_u64(json: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let digits = json.get(at..)?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits.get(..end)?.parse().ok()
}

/// The string after the first `"type":` in `json`.
fn event_type(json: &str) -> Option<&str> {
    let pat = "\"type\":\"";
    let at = json.find(pat)? + pat.len();
    let rest = json.get(at..)?;
    rest.get(..rest.find('"')?)
}

/// Wall-clock microseconds since the epoch.
fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------------------------
// Subscribers

/// Counters of one class of subscribers.
struct Class {
    latency: AtomicHistogram,
    events: AtomicU64,
    /// Events without the PBX's time (not in `latency`).
    unstamped: AtomicU64,
    seq_gaps: AtomicU64,
}

impl Class {
    fn new() -> Self {
        Self {
            latency: AtomicHistogram::new(),
            events: AtomicU64::new(0),
            unstamped: AtomicU64::new(0),
            seq_gaps: AtomicU64::new(0),
        }
    }
}

/// Measurement phases.
const WARMUP: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

struct Shared {
    phase: AtomicU8,
    device: Class,
    full: Class,
    all: AtomicHistogram,
    /// Events received in the closing window, from `last_from_us` on.
    last: AtomicHistogram,
    last_from_us: AtomicU64,
    /// When the stopped bridge was resumed (wall-clock µs; 0: no stall, or not yet).
    resumed_us: AtomicU64,
    /// Full-stream clients live again after the stall, and the latest of their moments.
    live_again: AtomicU64,
    live_again_last_us: AtomicU64,
    calls_ended: AtomicU64,
    connected: AtomicU64,
    errors: AtomicU64,
    disconnects: AtomicU64,
    stop: AtomicBool,
    stop_notify: tokio::sync::Notify,
}

/// One WebSocket subscriber until the bench stops it. `counts_calls`: this one counts the
/// calls that end (one full-stream subscriber does).
async fn subscriber(url: String, full: bool, counts_calls: bool, sh: Arc<Shared>) {
    let mut ws = None;
    for _ in 0..50 {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((s, _)) => {
                ws = Some(s);
                break;
            }
            Err(_) => {
                sh.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let Some(mut ws) = ws else { return };
    sh.connected.fetch_add(1, Ordering::Relaxed);
    let class = if full { &sh.full } else { &sh.device };
    let mut last_seq = 0u64;
    let mut live_again = false;
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            () = sh.stop_notify.notified() => None,
        };
        let Some(Ok(msg)) = msg else {
            if !sh.stop.load(Ordering::Relaxed) {
                sh.disconnects.fetch_add(1, Ordering::Relaxed);
            }
            break;
        };
        let Message::Text(text) = msg else { continue };
        let now = wall_us();
        let text = text.as_str();
        let phase = sh.phase.load(Ordering::Relaxed);
        let seq = field_u64(text, "seq").unwrap_or(0);
        if phase == MEASURING {
            class.events.fetch_add(1, Ordering::Relaxed);
            match field_u64(text, "pbx_time_us") {
                Some(sent) => {
                    let us = now.saturating_sub(sent);
                    class.latency.record(us);
                    sh.all.record(us);
                    if now >= sh.last_from_us.load(Ordering::Relaxed) {
                        sh.last.record(us);
                    }
                    let resumed = sh.resumed_us.load(Ordering::Relaxed);
                    if full && !live_again && resumed != 0 && sent >= resumed && us < LIVE_AGAIN_US
                    {
                        live_again = true;
                        sh.live_again.fetch_add(1, Ordering::Relaxed);
                        sh.live_again_last_us.fetch_max(now, Ordering::Relaxed);
                    }
                }
                None => {
                    class.unstamped.fetch_add(1, Ordering::Relaxed);
                }
            }
            if full && last_seq != 0 && seq > last_seq + 1 {
                class
                    .seq_gaps
                    .fetch_add(seq - last_seq - 1, Ordering::Relaxed);
            }
            if counts_calls && event_type(text) == Some("callEnded") {
                sh.calls_ended.fetch_add(1, Ordering::Relaxed);
            }
        }
        last_seq = last_seq.max(seq);
        if phase == DONE {
            break;
        }
    }
    let _ = ws.close(None).await;
}

// ---------------------------------------------------------------------------------------------
// The bridge

/// The bridge, as a child process or in this process.
enum BridgeRun {
    Child(Child),
    InProcess(hookflash_bridge::Bridge),
}

/// Kills the child bridge if the bench ends early.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The bridge's configuration: one CSTA BER link to the simulator, every agent device and
/// ACD group monitored, one admin token.
fn bridge_toml(dir: Option<&Path>, pbx: SocketAddr, sim: &SimConfig, token: &str) -> String {
    let mut monitor = Vec::new();
    let mut agents = String::new();
    for i in 0..sim.agents {
        let d = 300_000 + i;
        monitor.push(format!("\"{d}\""));
        agents.push_str(&format!(
            "[[agents]]\nid = \"A{d}\"\ndevices = [\"{d}\"]\n\n"
        ));
    }
    for q in 0..sim.queues {
        monitor.push(format!("\"{}\"", 6_000 + q));
    }
    // Without a directory the journal is kept in memory.
    let storage = dir.map_or(String::new(), |d| {
        let journal = d.join("journal.sqlite").display().to_string();
        format!("[storage]\npath = {journal:?}\n\n")
    });
    format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n\n{storage}[log]\nredact = true\n\n\
         [[links]]\nname = \"sim\"\nurl = \"csta-ber+tcp://{pbx}?framing=len2\"\nmonitor = [{}]\n\n\
         {agents}[[tokens]]\nname = \"bench\"\ntoken = \"{token}\"\nscope = \"admin\"\n",
        monitor.join(", "),
    )
}

/// Writes a file only its owner may read (it holds a token).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(text.as_bytes())
}

/// Starts `hookflash bridge --config FILE` and reads the address it listens on.
fn spawn_bridge(config: &Path) -> Result<(Child, SocketAddr), String> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let mut child = Command::new(exe)
        .arg("bridge")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the bridge: {e}"))?;
    let stdout = child.stdout.take().ok_or("the bridge has no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let mut guard = ChildGuard(Some(child));
    let addr = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| {
        "the bridge did not start (it exited, or was not listening within 30 s)".to_string()
    })?;
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bridge address {addr}: {e}"))?;
    let child = guard.0.take().ok_or("the bridge vanished")?;
    Ok((child, addr))
}

/// A field of /proc/PID/status in bytes (`VmHWM`, `VmRSS`), 0 where there is none.
pub(crate) fn proc_status_bytes(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// User plus system CPU seconds of a process (clock ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses.
    let Some(rest) = s.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (tick(11) + tick(12)) / 100.0
}

// ---------------------------------------------------------------------------------------------
// The run

/// The simulated PBX for the bench: short calls, so that `devices` agents can take `rate`
/// calls per second (agent occupancy about rate × 0.35 s / devices).
fn sim_config(a: &BenchE2eArgs) -> SimConfig {
    let agents = a.devices.clamp(1, 100_000);
    SimConfig {
        seed: a.seed,
        start_epoch_secs: i64::try_from(hookflash::spi::now().0 / 1000).unwrap_or(0),
        agents,
        queues: (agents / 100).clamp(1, 8),
        extensions: 10,
        trunks: 100_000,
        calls_per_minute: a.rate * 60.0,
        ring_ms: 50,
        no_answer_ms: 2_000,
        talk_ms: 200,
        hold_ms: 50,
        acw_ms: 50,
        patience_ms: 2_000,
        overflow_ms: 0,
        mix: OutcomeMix {
            answered: 85,
            abandoned: 5,
            busy: 0,
            no_answer: 0,
            consult_transfer: 0,
            blind_transfer: 0,
            conference: 0,
            forward_no_answer: 0,
            pickup: 0,
            hold: 10,
            outbound: 0,
            park: 0,
        },
        monitor_limit: agents as usize + 1_000,
        poll_interval_ms: 30_000,
        truth: false,
        ..SimConfig::default()
    }
}

/// Runs the bench and prints its JSON object.
pub(crate) fn e2e(a: &BenchE2eArgs) -> Result<bool, String> {
    if !(a.rate.is_finite() && a.rate > 0.0 && a.rate <= 100_000.0) {
        return Err(
            "--rate must be a number of calls per second, above 0 and at most 100,000".into(),
        );
    }
    if !(a.duration.is_finite() && a.duration > 0.0 && a.warmup.is_finite() && a.warmup >= 0.0) {
        return Err("--duration must be positive and --warmup zero or positive".into());
    }
    if let (Some(at), Some(len)) = (a.stall_at, a.stall_for)
        && !(at.is_finite() && at >= 0.0 && len.is_finite() && len > 0.0 && at + len < a.duration)
    {
        return Err("--stall-at and --stall-for must fit inside --duration".into());
    }
    if a.stall_at.is_some() && a.in_process {
        return Err("--stall-at needs the bridge in a child process (not --in-process)".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let doc = rt.block_on(run(a))?;
    println!("{doc}");
    Ok(true)
}

/// The simulated PBX on a runtime and a thread of its own, as a PBX is a system of its own:
/// an event is stamped and written to the link when the simulator emits it, not when the
/// bench's thousand subscribers, on the bench's runtime, leave the writer a turn.
struct SimThread {
    control: SimControl,
    addr: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimThread {
    fn start(cfg: SimServerConfig) -> Result<Self, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("simulated-pbx".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(format!("runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    match SimServer::start(cfg).await {
                        Ok(sim) => {
                            let _ = tx.send(Ok((sim.control(), sim.local_addr())));
                            let _ = stopped.await;
                            sim.shutdown().await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(format!("cannot start the simulated PBX: {e}")));
                        }
                    }
                });
            })
            .map_err(|e| format!("cannot start the simulated PBX: {e}"))?;
        let (control, addr) = rx
            .recv()
            .map_err(|_| "the simulated PBX did not start".to_string())??;
        Ok(Self {
            control,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn control(&self) -> SimControl {
        self.control.clone()
    }

    async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for SimThread {
    fn drop(&mut self) {
        // (Dropping the sender stops the thread; it is not waited for.)
        self.stop.take();
    }
}

async fn run(a: &BenchE2eArgs) -> Result<Value, String> {
    let dir = std::env::temp_dir().join(format!("hookflash-bench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let r = run_in(a, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}

async fn run_in(a: &BenchE2eArgs, dir: &Path) -> Result<Value, String> {
    let sim_cfg = sim_config(a);
    let mut server_cfg =
        SimServerConfig::new(FaceProtocol::CstaBer(Framing::Len2), sim_cfg.clone());
    server_cfg.stamp_events = true;
    let sim = SimThread::start(server_cfg)?;
    let pbx = sim.addr.ok_or("the simulated PBX has no TCP address")?;
    let token = format!("bench-{:016x}", rand::random::<u64>());
    let config: PathBuf = dir.join("bridge.toml");
    write_private(
        &config,
        &bridge_toml((!a.memory_journal).then_some(dir), pbx, &sim_cfg, &token),
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;

    let (bridge, http, pid) = if a.in_process {
        let cfg = hookflash_bridge::config::Config::load(&config).map_err(|e| e.to_string())?;
        let backend = hookflash_bridge::open_links(&cfg).map_err(|e| e.to_string())?;
        let b = hookflash_bridge::Bridge::start(&cfg, Arc::new(backend))
            .await
            .map_err(|e| format!("cannot start the bridge: {e}"))?;
        let addr = b.local_addr();
        (BridgeRun::InProcess(b), addr, "self".to_string())
    } else {
        let (child, addr) = spawn_bridge(&config)?;
        let pid = child.id().to_string();
        (BridgeRun::Child(child), addr, pid)
    };
    let mut guard = match bridge {
        BridgeRun::Child(c) => (ChildGuard(Some(c)), None),
        BridgeRun::InProcess(b) => (ChildGuard(None), Some(b)),
    };

    // Every device monitored before anyone subscribes.
    let want = (sim_cfg.agents + sim_cfg.queues) as usize;
    let t = Instant::now();
    loop {
        if sim.control().stats().await.monitors >= want {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "the bridge monitored {} of {want} devices within 60 s",
                sim.control().stats().await.monitors
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let sh = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        device: Class::new(),
        full: Class::new(),
        all: AtomicHistogram::new(),
        last: AtomicHistogram::new(),
        last_from_us: AtomicU64::new(u64::MAX),
        resumed_us: AtomicU64::new(0),
        live_again: AtomicU64::new(0),
        live_again_last_us: AtomicU64::new(0),
        calls_ended: AtomicU64::new(0),
        connected: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        disconnects: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        stop_notify: tokio::sync::Notify::new(),
    });
    let mut subs = tokio::task::JoinSet::new();
    let base = format!("ws://{http}/v1/events?token={token}");
    for i in 0..a.subscribers {
        let device = 300_000 + i % sim_cfg.agents;
        subs.spawn(subscriber(
            format!("{base}&device={device}"),
            false,
            false,
            sh.clone(),
        ));
    }
    for i in 0..a.full_subscribers {
        subs.spawn(subscriber(base.clone(), true, i == 0, sh.clone()));
    }
    let n_subs = u64::from(a.subscribers) + u64::from(a.full_subscribers);
    let t = Instant::now();
    while sh.connected.load(Ordering::Relaxed) < n_subs {
        if t.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "{} of {n_subs} subscribers connected within 60 s",
                sh.connected.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let s0 = sim.control().stats().await;
    let cpu0 = cpu_seconds(&pid);
    let own0 = cpu_seconds("self");
    let t0 = Instant::now();
    let last_from = a.duration - LAST_WINDOW_S.min(a.duration);
    sh.last_from_us
        .store(wall_us() + (last_from * 1e6) as u64, Ordering::Relaxed);
    sh.phase.store(MEASURING, Ordering::Relaxed);
    let stall = match (a.stall_at, a.stall_for) {
        (Some(at), Some(len)) => {
            tokio::time::sleep(Duration::from_secs_f64(at)).await;
            signal(&pid, "STOP")?;
            tokio::time::sleep(Duration::from_secs_f64(len)).await;
            signal(&pid, "CONT")?;
            sh.resumed_us.store(wall_us(), Ordering::Relaxed);
            Some((at, len))
        }
        _ => None,
    };
    tokio::time::sleep(Duration::from_secs_f64(a.duration).saturating_sub(t0.elapsed())).await;
    sh.phase.store(DONE, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds(&pid);
    let own1 = cpu_seconds("self");
    let s1 = sim.control().stats().await;
    let peak_rss = proc_status_bytes(&pid, "VmHWM");

    sh.stop.store(true, Ordering::Relaxed);
    sh.stop_notify.notify_waiters();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while subs.join_next().await.is_some() {}
    })
    .await;
    subs.abort_all();
    if let Some(b) = guard.1.take() {
        b.shutdown().await;
    }
    drop(guard.0);
    sim.shutdown().await;

    let device_events = sh.device.events.load(Ordering::Relaxed);
    let full_events = sh.full.events.load(Ordering::Relaxed);
    let calls = sh.calls_ended.load(Ordering::Relaxed);
    Ok(json!({
        "calls_per_sec": round2(calls as f64 / secs),
        "events_per_sec": round2((device_events + full_events) as f64 / secs),
        "latency_ms": sh.all.summary_ms(),
        "latency_ms_last_5s": sh.last.summary_ms(),
        "stall": stall.map(|(at, len)| {
            let resumed = sh.resumed_us.load(Ordering::Relaxed);
            let live = sh.live_again.load(Ordering::Relaxed);
            json!({
                "at_s": at,
                "for_s": len,
                "full_subscribers_live_again": live,
                "all_live_again_after_s": (live == u64::from(a.full_subscribers)).then(|| {
                    round2(sh.live_again_last_us.load(Ordering::Relaxed).saturating_sub(resumed) as f64 / 1e6)
                }),
            })
        }),
        "peak_rss_bytes": peak_rss,
        "journal": if a.memory_journal { "memory" } else { "disk" },
        "peak_rss_of": if a.in_process { "the whole process: simulator, bridge and subscribers" } else { "the bridge process" },
        "offered_calls_per_sec": a.rate,
        "sim_calls_offered_per_sec": round2((s1.engine.calls_offered - s0.engine.calls_offered) as f64 / secs),
        "sim_calls_ended_per_sec": round2((s1.engine.calls_ended - s0.engine.calls_ended) as f64 / secs),
        "sim_events_sent_per_sec": round2((s1.engine.events_delivered - s0.engine.events_delivered) as f64 / secs),
        "sim_outputs_dropped": s1.engine.outputs_dropped,
        "calls_completed": calls,
        "bridge_events_per_sec": round2(full_events as f64 / secs / f64::from(a.full_subscribers.max(1))),
        "events": {"device": device_events, "full": full_events},
        "latency_ms_by_class": {
            "device": sh.device.latency.summary_ms(),
            "full": sh.full.latency.summary_ms(),
        },
        "latency_from": "the simulated PBX's send (its events' security.timestamp)",
        "events_without_pbx_time": sh.device.unstamped.load(Ordering::Relaxed) + sh.full.unstamped.load(Ordering::Relaxed),
        "seq_gaps": sh.full.seq_gaps.load(Ordering::Relaxed),
        "errors": sh.errors.load(Ordering::Relaxed),
        "disconnects": sh.disconnects.load(Ordering::Relaxed),
        "bridge_cpu_percent": if a.in_process { Value::Null } else { json!(round2((cpu1 - cpu0) / secs * 100.0)) },
        "bench_process_cpu_percent": round2((own1 - own0) / secs * 100.0),
        "devices": sim_cfg.agents,
        "subscribers": a.subscribers,
        "full_subscribers": a.full_subscribers,
        "seconds": round2(secs),
    }))
}

/// Sends a signal (`STOP`, `CONT`) to the bridge process with kill(1).
/// (`e2e` has refused `--stall-at` with `--in-process`, so `pid` is the child's.)
fn signal(pid: &str, sig: &str) -> Result<(), String> {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), pid])
        .status()
        .map_err(|e| format!("kill -{sig} {pid}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("kill -{sig} {pid}: {st}"))
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_and_large_ones_within_one_percent() {
        for v in 0..EXACT {
            assert_eq!(bucket_high(bucket_of(v)), v);
        }
        let mut last = 0;
        for v in (EXACT..10_000_000).step_by(997) {
            let b = bucket_of(v);
            assert!(b >= last, "buckets grow with values");
            last = b;
            let hi = bucket_high(b);
            assert!(hi >= v, "{v} in a bucket that ends at {hi}");
            assert!((hi - v) as f64 <= v as f64 / 128.0, "{v} -> {hi}");
            assert!(b < BUCKETS);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_high(BUCKETS - 1), (1 << MAX_MAG) - 1);
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let h = AtomicHistogram::new();
        assert_eq!(h.quantile(0.5), 0);
        for v in 1..=10_000u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000);
        let p50 = h.quantile(0.5);
        let p99 = h.quantile(0.99);
        assert!((5_000..=5_040).contains(&p50), "p50 {p50}");
        assert!((9_900..=9_978).contains(&p99), "p99 {p99}");
        assert_eq!(h.quantile(1.0), 10_000);
        assert_eq!(h.quantile(0.0), 1);
        let s = h.summary_ms();
        assert_eq!(s["max"], 10.0);
        assert_eq!(s["count"], 10_000);
    }

    #[test]
    fn one_slow_event_in_a_hundred_is_the_p99() {
        let h = AtomicHistogram::new();
        for _ in 0..98 {
            h.record(300);
        }
        h.record(4_000);
        h.record(4_000);
        assert!(h.quantile(0.99) >= 4_000);
        assert!(h.quantile(0.98) < 310);
    }

    #[test]
    fn event_fields_are_read_from_the_wire_text() {
        let t = r#"{"seq":42,"at":1795442400250,"link":"sim","type":"callEnded","call":"c1","outcome":"answered","answered_at":5}"#;
        assert_eq!(field_u64(t, "seq"), Some(42));
        assert_eq!(field_u64(t, "at"), Some(1_795_442_400_250));
        assert_eq!(event_type(t), Some("callEnded"));
        assert_eq!(field_u64(t, "nothing"), None);
        assert_eq!(event_type("{}"), None);
        assert_eq!(field_u64(r#"{"at":"x"}"#, "at"), None);
    }

    #[test]
    fn the_bridge_configuration_parses() {
        let dir = std::env::temp_dir().join(format!("hookflash-bench-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sim = SimConfig {
            agents: 3,
            queues: 2,
            ..SimConfig::default()
        };
        let text = bridge_toml(
            Some(&dir),
            "127.0.0.1:7001".parse().unwrap(),
            &sim,
            "bench-0123456789abcdef",
        );
        let file = dir.join("b.toml");
        write_private(&file, &text).unwrap();
        let cfg = hookflash_bridge::config::Config::load(&file).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(cfg.links.len(), 1);
        assert_eq!(
            cfg.links[0].monitor,
            vec!["300000", "300001", "300002", "6000", "6001"]
        );
        assert_eq!(cfg.agents.len(), 3);
        assert_eq!(cfg.tokens.len(), 1);
    }

    #[test]
    fn proc_status_is_read() {
        assert!(proc_status_bytes("self", "VmHWM") > 0);
        assert_eq!(proc_status_bytes("self", "NoSuchField"), 0);
        assert!(cpu_seconds("self") >= 0.0);
    }
}
