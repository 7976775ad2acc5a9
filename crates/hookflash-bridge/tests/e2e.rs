//! End to end: the simulated PBX on a CSTA XML link, the real Cti and drivers, the bridge.
//! GET /v1/call-records must equal the simulator's ground truth.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hookflash_bridge::Bridge;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};
use hookflash_sim::{OutcomeMix, SimConfig};
use serde_json::Value;

const TOKEN: &str = "e2e-admin-token-0123456789";
const FIELDS: [&str; 8] = [
    "calling",
    "called",
    "answered_by",
    "agent",
    "queue",
    "outcome",
    "transfers",
    "conferenced",
];

/// The compared fields of a record or a truth line, as one comparable string.
fn key(v: &Value) -> String {
    let m: BTreeMap<&str, &Value> = FIELDS
        .iter()
        .map(|f| (*f, v.get(*f).unwrap_or(&Value::Null)))
        .collect();
    serde_json::to_string(&m).unwrap()
}

fn multiset(vs: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in vs {
        *m.entry(key(v)).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_records_equal_the_simulators_truth() {
    let sim_cfg = SimConfig {
        seed: 7,
        agents: 4,
        queues: 1,
        extensions: 4,
        trunks: 200,
        calls_per_minute: 60.0,
        ring_ms: 800,
        talk_ms: 2_000,
        hold_ms: 500,
        acw_ms: 500,
        patience_ms: 1_500,
        no_answer_ms: 3_000,
        random_fault_ms: 0,
        truth: true,
        mix: OutcomeMix {
            answered: 60,
            abandoned: 10,
            busy: 5,
            no_answer: 5,
            consult_transfer: 5,
            blind_transfer: 5,
            conference: 5,
            forward_no_answer: 5,
            pickup: 5,
            hold: 10,
            outbound: 5,
            park: 5,
        },
        ..SimConfig::default()
    };
    let mut server_cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim_cfg);
    server_cfg.time_scale = 4.0;
    let sim = SimServer::start(server_cfg)
        .await
        .expect("the simulated PBX");
    let mut truth_rx = sim.truth();
    let pbx = sim.local_addr().unwrap();
    let text = format!(
        r#"
[http]
listen = "127.0.0.1:0"
[[links]]
name = "pbx"
url = "csta-xml+tcp://{pbx}"
monitor = ["300000", "300001", "300002", "300003", "200000", "200001", "200002", "200003", "6000"]
[[agents]]
id = "A300000"
devices = ["300000"]
[[agents]]
id = "A300001"
devices = ["300001"]
[[agents]]
id = "A300002"
devices = ["300002"]
[[agents]]
id = "A300003"
devices = ["300003"]
[[tokens]]
name = "admin"
token = "{TOKEN}"
scope = "admin"
"#
    );
    let cfg =
        hookflash_bridge::config::Config::parse("e2e.toml".as_ref(), &text, &|_| None).unwrap();
    let backend = hookflash_bridge::open_links(&cfg).unwrap();
    let bridge = Bridge::start(&cfg, Arc::new(backend)).await.unwrap();
    let base = format!("http://{}", bridge.local_addr());
    let http = reqwest::Client::new();

    let mut truth: Vec<Value> = Vec::new();
    let mut drain = |truth: &mut Vec<Value>| {
        while let Ok(line) = truth_rx.try_recv() {
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["kind"] == "call" {
                truth.push(v);
            }
        }
    };
    // Traffic runs for a while (about a minute of PBX time).
    tokio::time::sleep(Duration::from_secs(12)).await;
    drain(&mut truth);
    let ended_before = truth.len();
    assert!(
        ended_before >= 10,
        "the simulator finished only {ended_before} calls"
    );
    // Give the bridge a moment to see the last of them end, then compare.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let records: Vec<Value> = http
        .get(format!("{base}/v1/call-records?since=0"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drain(&mut truth);

    // Every call the simulator finished before the snapshot is in the records, field for
    // field; every record is a call the simulator finished.
    let want = multiset(&truth[..ended_before]);
    let all = multiset(&truth);
    let got = multiset(&records);
    let missing: Vec<_> = want
        .iter()
        .filter(|(k, n)| got.get(*k).copied().unwrap_or(0) < **n)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(k, n)| all.get(*k).copied().unwrap_or(0) < **n)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the records: {missing:#?}\nnot in the truth: {extra:#?}"
    );
    // The run covered more than plain answered calls.
    let transferred = truth[..ended_before]
        .iter()
        .filter(|t| t["transfers"].as_array().is_some_and(|a| !a.is_empty()))
        .count();
    let abandoned = truth[..ended_before]
        .iter()
        .filter(|t| t["outcome"] == "abandoned")
        .count();
    println!("{ended_before} calls compared, {transferred} transferred, {abandoned} abandoned");
    // Times: each record ended after it was offered.
    for r in &records {
        assert!(r["ended_at_ms"].as_u64().unwrap() >= r["offered_at_ms"].as_u64().unwrap());
    }
    bridge.shutdown().await;
    sim.shutdown().await;
}
