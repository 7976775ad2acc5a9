//! End to end: the CSTA drivers in a `Cti` against the simulated PBX (`hookflash_sim::net::
//! SimServer`) over loopback TCP, TLS and a pseudo-terminal serial line. The calls the core
//! reports (calling, called, answered by, outcome, transfers) are compared with the
//! simulator's ground truth for seeded runs of several hundred calls, also with the link
//! killed several times and with the PBX restarting and forgetting its monitors.

#![cfg(feature = "csta")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookflash::Cti;
use hookflash::drivers::csta::CstaDriver;
use hookflash::spi::Driver;
use hookflash_core::model::{Call, DeviceId, LinkState, Outcome};
use hookflash_csta::framing::Framing;
use hookflash_link::backoff::BackoffConfig;
use hookflash_link::url::LinkUrl;
use hookflash_sim::SimConfig;
use hookflash_sim::face::{Credentials, FaceProtocol};
use hookflash_sim::net::{SimServer, SimServerConfig, TlsSetup};
use serde_json::Value;

#[path = "common/compare.rs"]
mod compare;
use compare::{missing, wait_up};

#[path = "common/proxy.rs"]
mod proxy;
use proxy::Proxy;

/// How far the simulator's clock and the test's may disagree (real time) at the start and the
/// end of a comparison: calls this close to either are left out.
const CLOCK_MARGIN: Duration = Duration::from_millis(50);

/// Engine milliseconds per real millisecond.
const SCALE: f64 = 40.0;

fn sim(seed: u64, agents: u32, extensions: u32) -> SimConfig {
    SimConfig {
        seed,
        agents,
        queues: 2,
        extensions,
        // Enough trunks for the traffic: the runs are about answered, transferred and
        // abandoned calls, not about a full trunk group.
        trunks: 400,
        calls_per_minute: 100.0,
        ring_ms: 1_500,
        no_answer_ms: 6_000,
        talk_ms: 8_000,
        hold_ms: 2_000,
        acw_ms: 2_000,
        patience_ms: 12_000,
        overflow_ms: 20_000,
        poll_interval_ms: 20_000,
        truth: true,
        ..SimConfig::default()
    }
}

fn devices(agents: u32, extensions: u32, queues: u32) -> Vec<DeviceId> {
    let mut d: Vec<DeviceId> = (0..agents)
        .map(|i| DeviceId::from((300_000 + i).to_string()))
        .collect();
    d.extend((0..extensions).map(|i| DeviceId::from((200_000 + i).to_string())));
    d.extend((0..queues).map(|i| DeviceId::from((6000 + i).to_string())));
    d
}

async fn server(protocol: FaceProtocol, s: SimConfig, tls: bool, serial: bool) -> SimServer {
    let mut cfg = SimServerConfig::new(protocol, s);
    cfg.face.credentials = Some(Credentials {
        user: "cti".into(),
        password: "s3cret".into(),
    });
    cfg.time_scale = SCALE;
    // The PBX's own deadlines are in its (fast) time: give the client real-time slack.
    cfg.face.poll_answer_timeout_ms = 120_000;
    cfg.face.login_timeout_ms = 300_000;
    if tls {
        cfg.tls = Some(TlsSetup::SelfSigned);
    }
    if serial {
        cfg.listen = None;
        cfg.serial = true;
    }
    let t0 = Instant::now();
    let server = SimServer::start(cfg).await.expect("sim starts");
    let key = server_key(&server);
    STARTS.lock().unwrap().push((key, t0, Instant::now()));
    server
}

/// When each server was started: its clock (engine time 0) began between the two instants.
static STARTS: std::sync::Mutex<Vec<(String, Instant, Instant)>> =
    std::sync::Mutex::new(Vec::new());

fn server_key(s: &SimServer) -> String {
    match (s.local_addr(), s.serial_path()) {
        (Some(a), _) => a.to_string(),
        (None, Some(p)) => p.display().to_string(),
        (None, None) => String::new(),
    }
}

/// The instants before and after `s` started.
fn started_between(s: &SimServer) -> (Instant, Instant) {
    let key = server_key(s);
    STARTS
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(k, _, _)| *k == key)
        .map(|(_, a, b)| (*a, *b))
        .expect("started by server()")
}

/// Frames the PBX sent just before a fault may still be in flight when the link dies: an
/// outage begins this much (real time) before the fault.
const IN_FLIGHT: Duration = Duration::from_millis(20);

fn driver(url: &str) -> CstaDriver {
    let url: LinkUrl = url.parse().expect("url");
    CstaDriver::new("sim".into(), &url)
        .expect("driver")
        .with_backoff(BackoffConfig {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        })
}

/// One call as both sides can describe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    calling: String,
    called: String,
    answered_by: Option<String>,
    outcome: String,
    transfers: Vec<String>,
}

fn outcome_name(o: Option<&Outcome>) -> String {
    match o {
        Some(Outcome::Answered | Outcome::TransferredAway) => "answered",
        Some(Outcome::Abandoned) => "abandoned",
        Some(Outcome::Busy) => "busy",
        Some(Outcome::NoAnswer) => "no-answer",
        Some(Outcome::Failed) => "failed",
        None => "none",
    }
    .into()
}

/// A record as compared: a busy call is named by its numbers alone (the core may still hold
/// it, as the simulator does not always clear it).
fn normalized(mut r: Record) -> Record {
    if r.outcome == "busy" {
        r.answered_by = None;
        r.transfers.clear();
    }
    r
}

/// Whether `c` is a consultation leg: made by a device while that device was on another call
/// it had answered. The simulator's truth leaves consultation legs out (they merge into the
/// call they consult about).
fn consultation_leg(c: &Call, all: &[Call]) -> bool {
    let Some(calling) = c.data.ani.as_ref().map(|n| n.raw.as_str()) else {
        return false;
    };
    all.iter().any(|d| {
        d.id != c.id
            && d.answered_by
                .as_ref()
                .is_some_and(|a| a.as_str() == calling)
            && d.offered_at <= c.offered_at
            && d.ended_at.is_none_or(|e| e >= c.offered_at)
    })
}

fn core_record(c: &Call) -> Record {
    normalized(Record {
        calling: c
            .data
            .ani
            .as_ref()
            .map(|n| n.raw.clone())
            .unwrap_or_default(),
        called: c
            .data
            .dnis
            .as_ref()
            .map(|n| n.raw.clone())
            .unwrap_or_default(),
        answered_by: c.answered_by.as_ref().map(|d| d.to_string()),
        outcome: outcome_name(c.outcome.as_ref()),
        transfers: c
            .transfers
            .iter()
            .filter_map(|t| t.to.as_ref().map(|d| d.to_string()))
            .collect(),
    })
}

/// A ground-truth call with its engine times (ms since the simulation start).
struct TruthCall {
    record: Record,
    offered: i64,
    answered: Option<i64>,
    ended: i64,
}

fn rfc3339_ms(s: &str) -> Option<i64> {
    // 2026-11-23T14:00:05.123Z — only times on the simulation's start day are compared.
    let t = s.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = t.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some((h * 3600 + m * 60) * 1000 + (sec * 1000.0).round() as i64)
}

fn truth_call(line: &str, start_ms: i64) -> Option<TruthCall> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v["kind"] != "call" {
        return None;
    }
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    Some(TruthCall {
        record: normalized(Record {
            calling: s("calling").unwrap_or_default(),
            called: s("called").unwrap_or_default(),
            answered_by: s("answered_by"),
            outcome: s("outcome").unwrap_or_default(),
            transfers: v["transfers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }),
        offered: rfc3339_ms(v["offered_at"].as_str()?)? - start_ms,
        answered: v["answered_at"]
            .as_str()
            .and_then(rfc3339_ms)
            .map(|t| t - start_ms),
        ended: rfc3339_ms(v["ended_at"].as_str()?)? - start_ms,
    })
}

/// Real time (since the server start) as engine milliseconds.
fn engine_ms(since_start: Duration) -> i64 {
    (since_start.as_secs_f64() * 1000.0 * SCALE) as i64
}

/// What a run disturbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing.
    None,
    /// The PBX drops every link (and forgets the monitors).
    DropLinks,
    /// The PBX restarts and forgets its monitors; the link stays.
    Restart,
    /// The PBX stops answering the driver's keep-alives (it still sends events) until the
    /// driver gives the link up; then it answers again.
    SilentPolls,
    /// The proxy holds back every byte from the PBX until the driver gives the link up.
    Stall,
    /// The proxy slips a bad frame in after every few valid ones, all run long (no outage).
    Garbage,
}

/// Where a call's life lies against the outages (engine ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Nothing of the call happened while the link was down: it is compared exactly.
    Whole,
    /// Something of it (its offer, its answer, its end, or a transfer, whose time the truth
    /// does not give) fell into an outage: no PBX reports what happened while nobody
    /// listened, so the call is excused from the exact comparison (but see `stale`).
    Excused,
}

/// The outage windows, widened by `margin` on both sides.
#[derive(Debug, Clone, Default)]
struct Outages {
    windows: Vec<(i64, i64)>,
}

impl Outages {
    fn inside(&self, t: i64) -> bool {
        self.windows.iter().any(|(a, b)| t >= *a && t <= *b)
    }

    /// The rule: a call is compared exactly unless its offer, its answer or its end fell into
    /// an outage, or it was in progress across one and has transfers (a transfer carries no
    /// time in the truth, so it may have happened while the link was down).
    fn classify(&self, offered: i64, answered: Option<i64>, ended: i64, transfers: bool) -> Seen {
        let across = self
            .windows
            .iter()
            .any(|(a, b)| offered <= *b && ended >= *a);
        if !across {
            return Seen::Whole;
        }
        if self.inside(offered) || self.inside(ended) || answered.is_some_and(|t| self.inside(t)) {
            return Seen::Excused;
        }
        if transfers {
            return Seen::Excused;
        }
        Seen::Whole
    }
}

/// How a compared run goes: the fault, how many times, how long.
#[derive(Debug, Clone, Copy)]
struct Plan {
    fault: Fault,
    /// How many faults, evenly spread over the run.
    faults: u32,
    run: Duration,
    /// The run fails with fewer calls compared exactly.
    min_compared: usize,
    /// How soon the driver must give up a link the fault made dead (`SilentPolls`, `Stall`).
    detect_within: Duration,
}

/// What a compared run found.
#[derive(Debug, Clone, Default)]
struct RunReport {
    /// Frames the driver skipped as malformed.
    malformed: u64,
    /// Connections the simulator accepted.
    connections: u64,
    /// How long each dead link took to be given up.
    detected: Vec<Duration>,
}

/// Waits for the link to leave `Up`; how long that took.
async fn wait_not_up(cti: &Cti, limit: Duration) -> Duration {
    let t0 = Instant::now();
    while cti.link_state("sim") == LinkState::Up {
        assert!(
            t0.elapsed() < limit,
            "the dead link was not given up in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    t0.elapsed()
}

/// Waits for the link to leave `Up` (the fault was noticed) and come back (every monitor and
/// snapshot answered).
async fn wait_cycle(cti: &Cti, limit: Duration) {
    let t0 = Instant::now();
    while cti.link_state("sim") == LinkState::Up {
        if t0.elapsed() > limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    wait_up(cti, limit).await;
}

/// Runs traffic with the link up, disturbing it as `plan` says, then compares the core's
/// calls with the truth: every call that lived between the start and the end of the
/// comparison (the devices monitored, the last events in) and is not excused by
/// [`Outages::classify`] must be reported exactly as the truth has it (calling, called,
/// answered by, outcome, transfers) — zero tolerance, both ways; busy calls are compared by
/// calling and called number; no call that ended may be left live in the core.
async fn compare_run(
    url: &str,
    server: SimServer,
    proxy: Option<&Proxy>,
    devs: Vec<DeviceId>,
    plan: Plan,
) -> RunReport {
    // Test time runs from the end of the server's start; the simulator's clock began up to
    // `skew` earlier, so a truth time is at most `skew` later than the test's for the same
    // moment.
    let (t0, started) = started_between(&server);
    let skew = started - t0;
    let devs_len = devs.len();
    let start_ms = SimConfig::default().start_epoch_secs.rem_euclid(86_400) * 1000;
    let mut truth = server.truth();
    let d = driver(url);
    let malformed = d.malformed_counter();
    let driver: Box<dyn Driver> = Box::new(d);
    // Every ended call of the run stays queryable (the default keeps the last 1,000).
    let engine = hookflash_core::engine::Config {
        max_ended: 1 << 20,
        ..Default::default()
    };
    let cti = Arc::new(
        Cti::builder()
            .driver(driver)
            .engine_config(engine)
            .build()
            .expect("cti"),
    );
    wait_up(&cti, Duration::from_secs(10)).await;
    let results = cti.monitor_on("sim", &devs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    wait_up(&cti, Duration::from_secs(10)).await;
    // Let the snapshots that follow the monitors land too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Calls offered from here on are fully seen.
    let from = started.elapsed() + Duration::from_millis(50);
    // Every time the link is not up is an outage, planned or not: watched all run.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let cti = Arc::clone(&cti);
        let watching = Arc::clone(&watching);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut down_since = None;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                let up = cti.link_state("sim") == LinkState::Up;
                match (up, down_since) {
                    (false, None) => down_since = Some(started.elapsed()),
                    (true, Some(a)) => {
                        seen.push((a, started.elapsed()));
                        down_since = None;
                    }
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen
        })
    };
    let mut windows: Vec<(Duration, Duration)> = Vec::new();
    let mut detected = Vec::new();
    let slices = plan.faults + 1;
    if plan.fault == Fault::Garbage {
        proxy.expect("a proxy").inject_every(5);
    }
    for i in 0..slices {
        tokio::time::sleep(plan.run / slices).await;
        if i + 1 == slices {
            break;
        }
        let a = started.elapsed();
        match plan.fault {
            Fault::DropLinks => server.control().drop_links().await,
            Fault::Restart => server.control().restart().await,
            Fault::SilentPolls => {
                server.control().stop_answering_polls().await;
                detected.push(wait_not_up(&cti, plan.detect_within).await);
                server.control().recover().await;
            }
            Fault::Stall => {
                let p = proxy.expect("a proxy");
                p.stall(true);
                detected.push(wait_not_up(&cti, plan.detect_within).await);
                p.stall(false);
            }
            Fault::None | Fault::Garbage => continue,
        }
        wait_cycle(&cti, Duration::from_secs(10)).await;
        windows.push((a, started.elapsed()));
    }
    if let Some(p) = proxy {
        p.inject_every(0);
    }
    let until = started.elapsed();
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let observed = watcher.await.expect("watcher");
    // An outage nobody planned (a keep-alive answered late on a loaded machine, say) is an
    // outage too; it is counted and must not happen.
    let unplanned: Vec<(Duration, Duration)> = observed
        .iter()
        .filter(|(a, b)| !windows.iter().any(|(x, y)| a <= y && b >= x))
        .copied()
        .collect();
    let planned = windows.len();
    windows.extend(observed.iter().copied());
    let stats = server.control().stats().await;
    println!(
        "sim: {} connections accepted, {} malformed frames from the client, {} polls sent",
        stats.connections_accepted, stats.malformed, stats.polls_sent
    );
    // Let the last events arrive (a loaded machine delivers them late): wait until every
    // call the PBX ended before the end of the comparison has ended in the core too, or 5 s.
    let mut lines = Vec::new();
    let caught_up = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(l) = truth.try_recv() {
            lines.push(l);
        }
        let ended: std::collections::HashSet<String> = cti
            .finished_calls()
            .iter()
            .filter_map(|c| c.data.ani.as_ref().map(|n| n.raw.clone()))
            .collect();
        let end_e = engine_ms(until - CLOCK_MARGIN);
        let behind = lines
            .iter()
            .filter_map(|l| truth_call(l, start_ms))
            .filter(|t| t.ended <= end_e && t.offered >= engine_ms(from + CLOCK_MARGIN))
            .filter(|t| t.record.outcome != "busy" && !ended.contains(&t.record.calling))
            .count();
        if behind == 0 || caught_up.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let finished = cti.finished_calls();
    let live = cti.calls();
    let mut everything = finished.clone();
    everything.extend(live.iter().cloned());
    let core_calls: Vec<Call> = finished
        .iter()
        .filter(|c| !consultation_leg(c, &everything))
        .cloned()
        .collect();
    // The two clocks (the simulator's start, the test's) differ by the time it took to start.
    let margin = engine_ms(CLOCK_MARGIN);
    let from_e = engine_ms(from) + margin;
    let until_e = engine_ms(until) - margin;
    let outages = Outages {
        windows: windows
            .iter()
            .map(|(a, b)| {
                (
                    engine_ms(a.saturating_sub(IN_FLIGHT)),
                    engine_ms(*b + skew + Duration::from_millis(2)),
                )
            })
            .collect(),
    };
    let all_truth: Vec<TruthCall> = lines
        .iter()
        .filter_map(|l| truth_call(l, start_ms))
        .collect();
    let all_truth_records: Vec<Record> = all_truth.iter().map(|t| t.record.clone()).collect();
    let in_run: Vec<&TruthCall> = all_truth
        .iter()
        .filter(|t| t.offered >= from_e && t.ended <= until_e)
        .collect();
    let (truth_in, excused): (Vec<&TruthCall>, Vec<&TruthCall>) = in_run.iter().partition(|t| {
        outages.classify(
            t.offered,
            t.answered,
            t.ended,
            !t.record.transfers.is_empty(),
        ) == Seen::Whole
    });
    // Busy calls: compared by calling and called number against every call the core has
    // (the simulator may never clear a call that met a busy extension).
    let (busy_in, truth_in): (Vec<&TruthCall>, Vec<&TruthCall>) = truth_in
        .into_iter()
        .partition(|t| t.record.outcome == "busy");
    let busy_key = |calling: &str, called: &str| (calling.to_owned(), called.to_owned());
    let core_busy: Vec<(String, String)> = everything
        .iter()
        .filter(|c| c.failed_busy == Some(true) || c.outcome == Some(Outcome::Busy))
        .map(|c| {
            let r = core_record(c);
            busy_key(&r.calling, &r.called)
        })
        .collect();
    let busy_missing: Vec<(String, String)> = {
        let mut pool = core_busy.clone();
        busy_in
            .iter()
            .filter_map(|t| {
                let k = busy_key(&t.record.calling, &t.record.called);
                match pool.iter().position(|p| *p == k) {
                    Some(i) => {
                        pool.swap_remove(i);
                        None
                    }
                    None => Some(k),
                }
            })
            .collect()
    };
    // The core side: calls offered and ended inside the comparison, not excused.
    let wall0 = hookflash::spi::now().0 as i64 - started.elapsed().as_millis() as i64;
    let to_engine =
        |wall: u64| engine_ms(Duration::from_millis((wall as i64 - wall0).max(0) as u64));
    // The core stamps events when it handles them, later than the PBX on a loaded machine:
    // a call the truth side excuses is excused on the core side too (by its caller).
    let excused_callers: std::collections::HashSet<&str> =
        excused.iter().map(|t| t.record.calling.as_str()).collect();
    let core_in: Vec<Record> = core_calls
        .iter()
        .filter(|c| {
            if c.data
                .ani
                .as_ref()
                .is_some_and(|n| excused_callers.contains(n.raw.as_str()))
            {
                return false;
            }
            let s = to_engine(c.offered_at.0);
            let Some(e) = c.ended_at.map(|t| to_engine(t.0)) else {
                return false;
            };
            s >= from_e + margin
                && e <= until_e - margin
                && outages.classify(
                    s,
                    c.answered_at.map(|t| to_engine(t.0)),
                    e,
                    // A transfer during an outage is one the core cannot have seen: what
                    // the truth says of the same caller counts too.
                    !c.transfers.is_empty()
                        || c.data.ani.as_ref().is_some_and(|n| {
                            all_truth.iter().any(|t| {
                                t.record.calling == n.raw && !t.record.transfers.is_empty()
                            })
                        }),
                ) == Seen::Whole
        })
        .map(core_record)
        .filter(|r| r.outcome != "busy")
        .collect();
    let truth_records: Vec<Record> = truth_in.iter().map(|t| t.record.clone()).collect();
    // Every true call is among everything the core finished (consultation legs included).
    let not_reported = missing(
        &truth_records,
        &finished.iter().map(core_record).collect::<Vec<_>>(),
    );
    let not_true = missing(&core_in, &all_truth_records);
    // A call that ended (while the link was up or during an outage) is not live in the core:
    // the reconcile after a reconnect closes what the PBX no longer lists.
    let stale: Vec<&Call> = live
        .iter()
        .filter(|c| {
            let Some(calling) = c.data.ani.as_ref().map(|n| n.raw.as_str()) else {
                return false;
            };
            let s = to_engine(c.offered_at.0);
            all_truth.iter().any(|t| {
                t.record.calling == calling
                    && t.record.outcome != "busy"
                    && (t.offered - s).abs() <= engine_ms(Duration::from_millis(100))
                    && t.ended < until_e - engine_ms(Duration::from_millis(200))
            })
        })
        .collect();
    println!(
        "{url}: {:?} x{} ({} unplanned): {} truth calls, {} compared exactly (+{} busy by number), {} excused by an outage, {} from the core side; {} not reported, {} not true, {} busy missing, {} stale",
        plan.fault,
        planned,
        unplanned.len(),
        all_truth.len(),
        truth_records.len(),
        busy_in.len(),
        excused.len(),
        core_in.len(),
        not_reported.len(),
        not_true.len(),
        busy_missing.len(),
        stale.len()
    );
    for r in &not_reported {
        println!("not reported: {r:?}");
        for t in all_truth.iter().filter(|t| t.record == *r) {
            println!(
                "    truth: offered {} answered {:?} ended {} (windows {:?})",
                t.offered, t.answered, t.ended, outages.windows
            );
        }
        for c in everything.iter() {
            if c.data.ani.as_ref().is_some_and(|n| n.raw == r.calling) {
                println!(
                    "    core has: {:?} legs {:?} offered {} ended {:?} cause {:?}",
                    core_record(c),
                    c.legs,
                    to_engine(c.offered_at.0),
                    c.ended_at.map(|t| to_engine(t.0)),
                    c.last_cause
                );
            }
        }
    }
    for r in &not_true {
        println!("not true:     {r:?}");
        for c in core_calls.iter().filter(|c| core_record(c) == *r) {
            println!(
                "    core: offered {} answered {:?} ended {:?} (windows {:?})",
                to_engine(c.offered_at.0),
                c.answered_at.map(|t| to_engine(t.0)),
                c.ended_at.map(|t| to_engine(t.0)),
                outages.windows
            );
        }
        for t in all_truth.iter().filter(|t| t.record.calling == r.calling) {
            println!(
                "    truth: {:?} offered {} answered {:?} ended {}",
                t.record, t.offered, t.answered, t.ended
            );
        }
    }
    for b in &busy_missing {
        println!("busy missing: {b:?}");
    }
    for c in &stale {
        println!("stale: {:?} legs {:?}", core_record(c), c.legs);
    }
    assert!(
        unplanned.is_empty(),
        "outages nobody planned: {unplanned:?}"
    );
    assert!(
        truth_records.len() >= plan.min_compared,
        "too few calls compared: {}",
        truth_records.len()
    );
    assert!(
        not_reported.is_empty(),
        "{} calls the core did not report right",
        not_reported.len()
    );
    assert!(
        not_true.is_empty(),
        "{} calls the core reported that did not happen",
        not_true.len()
    );
    assert!(
        busy_missing.is_empty(),
        "{} busy calls missing",
        busy_missing.len()
    );
    assert!(
        stale.is_empty(),
        "{} ended calls live in the core",
        stale.len()
    );
    // After every fault the PBX holds every monitor again, once (a connection given up is
    // closed, and the PBX forgets its monitors when it notices).
    let t_mon = Instant::now();
    loop {
        let monitors = server.control().stats().await.monitors;
        if monitors == devs_len {
            break;
        }
        assert!(
            t_mon.elapsed() < Duration::from_secs(3),
            "the PBX holds {monitors} monitors, not {devs_len}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(cti);
    server.shutdown().await;
    RunReport {
        malformed: malformed.load(std::sync::atomic::Ordering::Relaxed),
        connections: stats.connections_accepted,
        detected,
    }
}

const AGENTS: u32 = 16;
const EXTENSIONS: u32 = 16;
/// Traffic time of a compared run (real time; 40 × that in PBX time).
const RUN: Duration = Duration::from_secs(10);
/// Calls a compared run must compare exactly.
const MIN_COMPARED: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_over_tcp_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(11, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-ber+tcp://cti:s3cret@{addr}?framing=len2");
    compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            fault: Fault::None,
            faults: 0,
            run: RUN,
            min_compared: MIN_COMPARED,
            detect_within: Duration::ZERO,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_over_tcp_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaXml,
        sim(12, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-xml+tcp://cti:s3cret@{addr}?session_duration=3600");
    compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            fault: Fault::None,
            faults: 0,
            run: RUN,
            min_compared: MIN_COMPARED,
            detect_within: Duration::ZERO,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_with_the_link_killed_three_times_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(13, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-ber+tcp://cti:s3cret@{addr}?framing=len2");
    compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            fault: Fault::DropLinks,
            faults: 3,
            run: RUN,
            min_compared: MIN_COMPARED,
            detect_within: Duration::ZERO,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_with_the_pbx_restarting_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(14, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-ber+tcp://cti:s3cret@{addr}?framing=len2");
    compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            fault: Fault::Restart,
            faults: 3,
            run: RUN,
            min_compared: MIN_COMPARED,
            detect_within: Duration::ZERO,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_over_tls_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(20, AGENTS, EXTENSIONS),
        true,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("hookflash-e2e-tls-ber-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, server.certificate_pem().expect("self-signed PEM")).unwrap();
    let url = format!(
        "csta-ber+tls://cti:s3cret@localhost:{}?framing=len2&ca={}",
        addr.port(),
        ca.display()
    );
    compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            fault: Fault::None,
            faults: 0,
            run: RUN,
            min_compared: MIN_COMPARED,
            detect_within: Duration::ZERO,
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_over_tls_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaXml,
        sim(15, AGENTS, EXTENSIONS),
        true,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("hookflash-e2e-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, server.certificate_pem().expect("self-signed PEM")).unwrap();
    let url = format!(
        "csta-xml+tls://cti:s3cret@localhost:{}?session_duration=3600&ca={}",
        addr.port(),
        ca.display()
    );
    compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            fault: Fault::None,
            faults: 0,
            run: RUN,
            min_compared: MIN_COMPARED,
            detect_within: Duration::ZERO,
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_ca_is_refused() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(16, 2, 2),
        true,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    // No CA named: only the public roots are trusted, and they never issued this certificate.
    let url: LinkUrl = format!("csta-ber+tls://cti:s3cret@localhost:{}", addr.port())
        .parse()
        .unwrap();
    let d = CstaDriver::new("sim".into(), &url).unwrap();
    let (sink, _rx) = hookflash::spi::EventSink::channel(64);
    let r = tokio::time::timeout(Duration::from_secs(10), d.run(sink))
        .await
        .expect("gives up");
    assert!(matches!(r, Err(hookflash::Error::Link(_))), "{r:?}");
    // Another PBX's certificate as the CA: the handshake fails verification.
    let other = server_with_tls_only().await;
    let dir = std::env::temp_dir().join(format!("hookflash-e2e-wrong-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("other.pem");
    std::fs::write(&ca, other.certificate_pem().expect("PEM")).unwrap();
    let url: LinkUrl = format!(
        "csta-ber+tls://cti:s3cret@localhost:{}?ca={}",
        addr.port(),
        ca.display()
    )
    .parse()
    .unwrap();
    let d = CstaDriver::new("sim".into(), &url).unwrap();
    let (sink, mut rx) = hookflash::spi::EventSink::channel(64);
    let r = tokio::time::timeout(Duration::from_secs(10), d.run(sink))
        .await
        .expect("gives up");
    assert!(matches!(r, Err(hookflash::Error::Link(_))), "{r:?}");
    // The link never came up.
    while let Ok(hookflash::spi::Reported { event: ev, .. }) = rx.try_recv() {
        assert!(!matches!(
            ev,
            hookflash_core::driver::DriverEvent::LinkUp { .. }
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    other.shutdown().await;
    server.shutdown().await;
}

async fn server_with_tls_only() -> SimServer {
    server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(21, 1, 1),
        true,
        false,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_end_the_run() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(17, 2, 2),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url: LinkUrl = format!("csta-ber+tcp://cti:wrong@{addr}").parse().unwrap();
    let d = CstaDriver::new("sim".into(), &url).unwrap();
    let (sink, _rx) = hookflash::spi::EventSink::channel(64);
    let r = tokio::time::timeout(Duration::from_secs(10), d.run(sink))
        .await
        .expect("gives up");
    assert!(
        matches!(r, Err(hookflash::Error::LoginRefused { .. })),
        "{r:?}"
    );
    server.shutdown().await;
}

/// CSTA BER over a serial line (a pseudo-terminal pair paced at 19,200 baud, as a PBX's V.24
/// port): the calls equal the truth. The traffic is what such a line carries (about 1.2 KB of
/// events per call with every device monitored, against 1,920 bytes/s), so the run compares
/// tens of calls, not hundreds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_over_a_serial_pty_at_19200_baud_matches_the_truth() {
    let s = SimConfig {
        // 2 calls per PBX minute at 40 x: about 1.3 calls a second on the line.
        calls_per_minute: 2.0,
        ..sim(18, 4, 4)
    };
    let server = server(FaceProtocol::CstaBer(Framing::Len2), s, false, true).await;
    let path = server.serial_path().expect("pty").display().to_string();
    let url = format!("csta-ber+serial://cti:s3cret@{path}?baud=19200&framing=len2");
    compare_run(
        &url,
        server,
        None,
        devices(4, 4, 2),
        Plan {
            run: Duration::from_secs(15),
            min_compared: 8,
            ..plan(Fault::None, 0)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_monitors_in_under_two_seconds() {
    let s = SimConfig {
        extensions: 10_000,
        monitor_limit: 20_000,
        calls_per_minute: 0.0,
        ..sim(19, 2, 10_000)
    };
    let server = server(FaceProtocol::CstaBer(Framing::Len2), s, false, false).await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-ber+tcp://cti:s3cret@{addr}?framing=len2");
    let d = Arc::new(driver(&url));
    let (sink, mut rx) = hookflash::spi::EventSink::channel(1 << 16);
    let runner = {
        let d = Arc::clone(&d);
        tokio::spawn(async move { d.run(sink).await })
    };
    let counter = tokio::spawn(async move {
        let mut snapshots = 0usize;
        while let Some(hookflash::spi::Reported { event: ev, .. }) = rx.recv().await {
            if matches!(
                ev,
                hookflash_core::driver::DriverEvent::DeviceSnapshot { .. }
            ) {
                snapshots += 1;
            }
            if matches!(ev, hookflash_core::driver::DriverEvent::LinkUp { .. })
                && snapshots >= 10_000
            {
                break;
            }
        }
        snapshots
    });
    let devs: Vec<DeviceId> = (0..10_000)
        .map(|i| DeviceId::from((200_000 + i).to_string()))
        .collect();
    // Wait for the association (the first monitor answers once the link is there).
    let t_up = Instant::now();
    loop {
        if d.monitor(&devs[..1]).await[0].is_ok() {
            break;
        }
        assert!(t_up.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t0 = Instant::now();
    let results = d.monitor(&devs).await;
    let took = t0.elapsed();
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.control().stats().await.monitors, 10_000);
    println!("10,000 monitors (monitorStart, one link, window 256) in {took:?}");
    // The figure is for an optimised build; unoptimised test builds of both ends are slower.
    let limit = if cfg!(debug_assertions) {
        Duration::from_secs(15)
    } else {
        Duration::from_secs(2)
    };
    assert!(took < limit, "took {took:?}");
    // A reconnect re-monitors and snapshots all of them.
    let t1 = Instant::now();
    server.control().drop_links().await;
    let snapshots = tokio::time::timeout(Duration::from_secs(20), counter)
        .await
        .expect("resync")
        .unwrap();
    println!(
        "reconnect: 10,000 re-monitored and snapshotted in {:?}",
        t1.elapsed()
    );
    assert!(snapshots >= 10_000);
    assert_eq!(server.control().stats().await.monitors, 10_000);
    runner.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_pbx_and_come_back_typed() {
    use hookflash::spi::DriverCommand;
    use hookflash_core::command::Command;
    use hookflash_core::model::CallId;
    let s = SimConfig {
        calls_per_minute: 0.0,
        ..sim(22, 2, 4)
    };
    let server = server(FaceProtocol::CstaBer(Framing::Len2), s, false, false).await;
    let url = format!(
        "csta-ber+tcp://cti:s3cret@{}?framing=len2",
        server.local_addr().unwrap()
    );
    let d = Arc::new(driver(&url));
    let (sink, mut rx) = hookflash::spi::EventSink::channel(4096);
    let runner = {
        let d = Arc::clone(&d);
        tokio::spawn(async move { d.run(sink).await })
    };
    let t0 = Instant::now();
    while d
        .monitor(&[DeviceId::from("200000"), DeviceId::from("200001")])
        .await
        .iter()
        .any(Result::is_err)
    {
        assert!(t0.elapsed() < Duration::from_secs(10), "monitors");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Make call: the outcome names the new call (the PBX's call id).
    let made = d
        .execute(DriverCommand::new(Command::MakeCall {
            from: "200000".into(),
            to: "200001".into(),
        }))
        .await
        .expect("make call");
    let native = made.new_call.clone().expect("a new call id");
    // The call's events arrive under the same id.
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(hookflash::spi::Reported { event: ev, .. }) = rx.recv().await {
            if let hookflash_core::driver::DriverEvent::Call { call, .. } = &ev
                && *call == native
            {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(seen, "no event for {native}");
    // Clearing it through its native id works.
    let mut cmd = DriverCommand::new(Command::ClearCall { call: CallId(1) });
    cmd.native.insert(CallId(1), native.clone());
    d.execute(cmd).await.expect("clear call");
    // A call the link does not know is refused before the PBX is asked.
    let r = d
        .execute(DriverCommand::new(Command::Hold {
            call: CallId(2),
            device: "200000".into(),
        }))
        .await;
    assert!(
        matches!(r, Err(hookflash::Error::InvalidCall(CallId(2)))),
        "{r:?}"
    );
    // The PBX's refusals come back typed.
    let r = d
        .execute(DriverCommand::new(Command::MakeCall {
            from: "999999".into(),
            to: "200001".into(),
        }))
        .await;
    assert!(
        matches!(
            r,
            Err(hookflash::Error::Pbx(_)
                | hookflash::Error::InvalidDevice(_)
                | hookflash::Error::NotPermitted)
        ),
        "{r:?}"
    );
    // A device the PBX does not know is refused per device.
    let r = d
        .monitor(&[DeviceId::from("200002"), DeviceId::from("nosuch")])
        .await;
    assert!(r[0].is_ok(), "{r:?}");
    assert!(r[1].is_err(), "{r:?}");
    runner.abort();
    server.shutdown().await;
}

// ------------------------------------------------------------------------- fault injection

fn plan(fault: Fault, faults: u32) -> Plan {
    Plan {
        fault,
        faults,
        run: RUN,
        min_compared: MIN_COMPARED,
        detect_within: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_with_the_pbx_restarting_matches_the_truth() {
    let server = server(
        FaceProtocol::CstaXml,
        sim(23, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-xml+tcp://cti:s3cret@{addr}?session_duration=3600");
    let r = compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        plan(Fault::Restart, 3),
    )
    .await;
    // The PBX restarted under the same link: no reconnection.
    assert_eq!(r.connections, 1);
}

/// The link killed 100 times during traffic: after each kill the driver reconnects,
/// re-monitors and snapshots; every call not excused by an outage is reported exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_with_the_link_killed_a_hundred_times_matches_the_truth() {
    // Short calls, so that many fall between two of the hundred outages.
    let s = SimConfig {
        ring_ms: 600,
        no_answer_ms: 2_500,
        talk_ms: 2_000,
        hold_ms: 500,
        acw_ms: 500,
        patience_ms: 4_000,
        overflow_ms: 8_000,
        ..sim(24, AGENTS, EXTENSIONS)
    };
    let server = server(FaceProtocol::CstaBer(Framing::Len2), s, false, false).await;
    let addr = server.local_addr().unwrap();
    let url = format!("csta-ber+tcp://cti:s3cret@{addr}?framing=len2");
    let r = compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            run: Duration::from_secs(14),
            min_compared: KILLED_MIN_COMPARED,
            ..plan(Fault::DropLinks, 100)
        },
    )
    .await;
    assert_eq!(r.connections, 101);
}

/// With a hundred outages in a run most calls meet one; those that do not are still many.
const KILLED_MIN_COMPARED: usize = 50;

/// Garbage frames, truncated PDUs and broken headers between the PBX's valid frames: the link
/// stays up (one connection all run), every bad item is counted, the calls are exact.
async fn garbage_run(protocol: FaceProtocol, framing: Framing, seed: u64) {
    let server = server(protocol, sim(seed, AGENTS, EXTENSIONS), false, false).await;
    let proxy = Proxy::start(server.local_addr().unwrap(), framing).await;
    let url = match protocol {
        FaceProtocol::CstaXml => format!(
            "csta-xml+tcp://cti:s3cret@{}?session_duration=3600",
            proxy.addr()
        ),
        _ => format!(
            "csta-ber+tcp://cti:s3cret@{}?framing={framing}",
            proxy.addr()
        ),
    };
    let r = compare_run(
        &url,
        server,
        Some(&proxy),
        devices(AGENTS, EXTENSIONS, 2),
        plan(Fault::Garbage, 0),
    )
    .await;
    let injected = proxy.injected();
    println!(
        "injected {} garbage, {} truncated, {} broken headers; the driver counted {} malformed",
        injected.garbage.load(std::sync::atomic::Ordering::Relaxed),
        injected
            .truncated
            .load(std::sync::atomic::Ordering::Relaxed),
        injected
            .bad_header
            .load(std::sync::atomic::Ordering::Relaxed),
        r.malformed
    );
    assert!(injected.total() >= 300, "injected {}", injected.total());
    assert_eq!(r.malformed, injected.total());
    assert_eq!(proxy.accepted(), 1, "the link dropped");
    assert_eq!(r.connections, 1, "the link dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_garbage_between_frames_is_skipped_and_counted() {
    garbage_run(FaceProtocol::CstaBer(Framing::Len2), Framing::Len2, 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_garbage_between_frames_is_skipped_and_counted() {
    garbage_run(FaceProtocol::CstaXml, Framing::XmlHeader, 26).await;
}

/// The PBX stops answering keep-alives (its events still flow): the driver gives the link up
/// within keep-alive interval + request timeout, reconnects, and the state is reconciled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_pbx_that_stops_answering_keep_alives_is_detected_and_reconciled() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(27, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let addr = server.local_addr().unwrap();
    let url =
        format!("csta-ber+tcp://cti:s3cret@{addr}?framing=len2&keep_alive=0.3&request_timeout=1");
    // keep_alive + request_timeout, and the time a keep-alive may wait behind an answer to
    // one of the PBX's own polls.
    let within = Duration::from_millis(300 + 1000 + 500);
    let r = compare_run(
        &url,
        server,
        None,
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            detect_within: within,
            ..plan(Fault::SilentPolls, 3)
        },
    )
    .await;
    println!("dead link given up after {:?}", r.detected);
    assert_eq!(r.detected.len(), 3);
    assert_eq!(r.connections, 4);
}

/// The PBX goes silent (not a byte, the TCP connection open): the driver gives the link up
/// after `read_idle`, reconnects, and the state is reconciled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ber_silent_link_is_given_up_after_read_idle_and_reconciled() {
    let server = server(
        FaceProtocol::CstaBer(Framing::Len2),
        sim(28, AGENTS, EXTENSIONS),
        false,
        false,
    )
    .await;
    let proxy = Proxy::start(server.local_addr().unwrap(), Framing::Len2).await;
    let url = format!(
        "csta-ber+tcp://cti:s3cret@{}?framing=len2&read_idle=1",
        proxy.addr()
    );
    let r = compare_run(
        &url,
        server,
        Some(&proxy),
        devices(AGENTS, EXTENSIONS, 2),
        Plan {
            detect_within: Duration::from_millis(1000 + 500),
            ..plan(Fault::Stall, 3)
        },
    )
    .await;
    println!("silent link given up after {:?}", r.detected);
    assert_eq!(r.detected.len(), 3);
    assert!(r.detected.iter().all(|d| *d >= Duration::from_millis(900)));
    assert_eq!(proxy.accepted(), 4);
}
