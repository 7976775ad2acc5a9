//! The bridge killed with SIGKILL and started again on the same journal, the simulated PBX
//! carrying calls all along: afterwards the call records equal the simulator's truth for every
//! call that lived while the bridge was up, no call is recorded twice, and a WebSocket client
//! that resumes from its last sequence number sees every number once, in order.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "sigkill-admin-token-0123456789";
/// PBX milliseconds per real millisecond.
const SCALE: f64 = 20.0;

/// Starts `hookflash bridge --config FILE`; its address from the line it prints.
fn start_bridge(config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookflash"))
        .arg("bridge")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run hookflash bridge");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the bridge says where it listens");
    (child, addr)
}

async fn get_json(addr: &str, path: &str) -> Value {
    let url = format!("http://{addr}{path}");
    let client = reqwest_like::Client::new();
    client.get(&url, TOKEN).await
}

/// A minimal HTTP/1.1 GET over tokio (the CLI crate has no HTTP client).
mod reqwest_like {
    use serde_json::Value;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    pub(super) struct Client;

    impl Client {
        pub(super) fn new() -> Self {
            Self
        }

        pub(super) async fn get(&self, url: &str, token: &str) -> Value {
            let rest = url.strip_prefix("http://").expect("http URL");
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let mut s = tokio::net::TcpStream::connect(host).await.expect("connect");
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.expect("send");
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.expect("read");
            let text = String::from_utf8_lossy(&buf);
            let (head, body) = text.split_once("\r\n\r\n").expect("a response");
            let body = if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked")
            {
                dechunk(body)
            } else {
                body.to_string()
            };
            serde_json::from_str(&body).unwrap_or(Value::String(body))
        }
    }

    fn dechunk(mut s: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = s.split_once("\r\n") {
            let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
                break;
            };
            if n == 0 || rest.len() < n {
                break;
            }
            out.push_str(&rest[..n]);
            s = rest[n..].trim_start_matches("\r\n");
        }
        out
    }
}

/// Waits until the bridge's link to the PBX is up.
async fn wait_link_up(addr: &str) {
    let t0 = Instant::now();
    loop {
        let v = get_json(addr, "/v1/links").await;
        let up = v
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l["state"] == "up"));
        if up {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "link not up: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads events from `since`, recording their sequence numbers, until dropped.
fn subscribe(
    addr: &str,
    since: Option<u64>,
    seqs: Arc<Mutex<Vec<u64>>>,
) -> tokio::task::JoinHandle<()> {
    let mut url = format!("ws://{addr}/v1/events?token={TOKEN}");
    if let Some(s) = since {
        url.push_str(&format!("&since={s}"));
    }
    tokio::spawn(async move {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
            return;
        };
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("json");
                seqs.lock().unwrap().push(v["seq"].as_u64().expect("seq"));
            }
        }
    })
}

/// The compared fields.
fn key(v: &Value) -> String {
    let f = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    serde_json::to_string(&[
        f("calling"),
        f("called"),
        f("answered_by"),
        f("outcome"),
        f("transfers"),
    ])
    .unwrap()
}

fn rfc_ms(s: &str) -> i64 {
    let t = s.split('T').nth(1).unwrap().trim_end_matches('Z');
    let mut p = t.split(':');
    let h: i64 = p.next().unwrap().parse().unwrap();
    let m: i64 = p.next().unwrap().parse().unwrap();
    let sec: f64 = p.next().unwrap().parse().unwrap();
    (h * 3600 + m * 60) * 1000 + (sec * 1000.0).round() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_killed_and_restarted_loses_nothing_and_repeats_nothing() {
    let sim_cfg = SimConfig {
        seed: 99,
        agents: 6,
        queues: 1,
        extensions: 6,
        trunks: 200,
        calls_per_minute: 60.0,
        ring_ms: 800,
        no_answer_ms: 3_000,
        talk_ms: 2_500,
        hold_ms: 500,
        acw_ms: 500,
        patience_ms: 3_000,
        overflow_ms: 8_000,
        poll_interval_ms: 20_000,
        truth: true,
        ..SimConfig::default()
    };
    let mut server_cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim_cfg);
    server_cfg.time_scale = SCALE;
    server_cfg.face.poll_answer_timeout_ms = 600_000;
    let t_sim = Instant::now();
    let sim = SimServer::start(server_cfg).await.expect("sim");
    let skew = t_sim.elapsed();
    let mut truth_rx = sim.truth();
    let pbx = sim.local_addr().unwrap();
    let start_ms = SimConfig::default().start_epoch_secs.rem_euclid(86_400) * 1000;
    // Engine time of a real instant (a truth time is at most `skew` later).
    let engine = |t: Instant| (t.duration_since(t_sim).as_secs_f64() * 1000.0 * SCALE) as i64;

    let dir = std::env::temp_dir().join(format!("hookflash-sigkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut devices: Vec<String> = (0..6).map(|i| format!("\"{}\"", 300_000 + i)).collect();
    devices.extend((0..6).map(|i| format!("\"{}\"", 200_000 + i)));
    devices.push("\"6000\"".into());
    let config = dir.join("bridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[http]
listen = "127.0.0.1:0"
[storage]
path = "{}"
[[links]]
name = "pbx"
url = "csta-xml+tcp://{pbx}?session_duration=3600"
monitor = [{}]
[[tokens]]
name = "admin"
token = "{TOKEN}"
scope = "admin"
"#,
            dir.join("journal.sqlite").display(),
            devices.join(", ")
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // First life.
    let (mut bridge, addr) = start_bridge(&config);
    wait_link_up(&addr).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the snapshots land
    let up1 = Instant::now();
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let sub1 = subscribe(&addr, Some(0), seqs.clone());
    tokio::time::sleep(Duration::from_secs(5)).await;
    // SIGKILL: no shutdown, no flush.
    let killed = Instant::now();
    bridge.kill().expect("SIGKILL");
    let _ = bridge.wait();
    let _ = sub1.await;
    let had = seqs.lock().unwrap().clone();
    assert!(!had.is_empty(), "the client got events before the kill");
    // The PBX goes on without it for a while.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Second life, same journal; the client resumes from its last sequence number.
    let (mut bridge, addr) = start_bridge(&config);
    wait_link_up(&addr).await;
    let up2 = Instant::now();
    let last = *had.last().unwrap();
    let sub2 = subscribe(&addr, Some(last), seqs.clone());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let end = Instant::now();
    // Room for a bridge that lags behind the PBX on a loaded machine: every call that ended by
    // `end` has reached the journal when the records are read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = get_json(&addr, "/v1/call-records?since=0&limit=100000").await;
    let records = records.as_array().expect("records").clone();
    bridge.kill().expect("stop");
    let _ = bridge.wait();
    let _ = sub2.await;
    let seqs = seqs.lock().unwrap().clone();

    // The resuming client: every number once, in order, across the kill.
    let first = seqs[0];
    let gaps: Vec<(u64, u64)> = seqs
        .windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect();
    assert!(gaps.is_empty(), "the client saw gaps or repeats: {gaps:?}");
    assert_eq!(first, 1);
    println!(
        "{} events to the client, {} before the kill, seq 1..={} without a gap",
        seqs.len(),
        had.len(),
        seqs.last().unwrap()
    );

    // The records against the truth. A call is compared when its whole life fell into one of
    // the bridge's two lives (the first from its snapshots, the second from its link coming
    // up), with a margin for frames in flight (and events not yet journaled) at the kill.
    let margin = (500.0 * SCALE) as i64;
    let lives = [
        (engine(up1), engine(killed) - margin),
        (
            engine(up2) + (skew.as_secs_f64() * 1000.0 * SCALE) as i64,
            engine(end),
        ),
    ];
    let mut truth: Vec<Value> = Vec::new();
    while let Ok(l) = truth_rx.try_recv() {
        let v: Value = serde_json::from_str(&l).unwrap();
        if v["kind"] == "call" {
            truth.push(v);
        }
    }
    let life_of =
        |offered: i64, ended: i64| lives.iter().any(|(a, b)| offered >= *a && ended <= *b);
    let t = |v: &Value, k: &str| v[k].as_str().map(|s| rfc_ms(s) - start_ms);
    let want: Vec<String> = truth
        .iter()
        .filter(|v| life_of(t(v, "offered_at").unwrap(), t(v, "ended_at").unwrap()))
        .map(key)
        .collect();
    let all_truth: Vec<String> = truth.iter().map(key).collect();
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *got.entry(key(r)).or_default() += 1;
    }
    let mut missing = Vec::new();
    let mut pool = got.clone();
    for k in &want {
        match pool.get_mut(k) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(k.clone()),
        }
    }
    // Every record with a known caller is a call the PBX had (a call already in progress
    // when the link came up is known from a snapshot, without its caller). A call that met a
    // busy extension ends for the bridge at once; the simulator may clear it (and write its
    // truth line) much later, so busy records are only checked the other way.
    let mut truth_pool: BTreeMap<String, usize> = BTreeMap::new();
    for k in &all_truth {
        *truth_pool.entry(k.clone()).or_default() += 1;
    }
    let mut not_true = Vec::new();
    for r in records
        .iter()
        .filter(|r| r["calling"].is_string() && r["outcome"] != "busy")
    {
        match truth_pool.get_mut(&key(r)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => not_true.push(key(r)),
        }
    }
    // No call twice: the PBX's call identity (caller, called, start) is recorded once.
    let mut seen = BTreeMap::new();
    for r in records.iter().filter(|r| r["calling"].is_string()) {
        *seen
            .entry((
                r["calling"].to_string(),
                r["called"].to_string(),
                r["offered_at_ms"].to_string(),
            ))
            .or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    println!(
        "{} truth calls, {} inside a life of the bridge, {} records; {} missing, {} not true, {} twice",
        truth.len(),
        want.len(),
        records.len(),
        missing.len(),
        not_true.len(),
        twice.len()
    );
    for m in &missing {
        println!("missing: {m}");
    }
    for m in &not_true {
        println!("not true: {m}");
    }
    assert!(want.len() >= 60, "too few calls compared: {}", want.len());
    assert!(
        missing.is_empty(),
        "{} calls missing from the records",
        missing.len()
    );
    assert!(
        not_true.is_empty(),
        "{} records the PBX never had",
        not_true.len()
    );
    assert!(twice.is_empty(), "calls recorded twice: {twice:?}");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
