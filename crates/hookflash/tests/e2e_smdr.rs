//! The SMDR driver end to end: the simulated PBX's SMDR printer (IP Office CSV records made
//! from its ground truth) read by a `Cti` on an `smdr+tcp://` link and on an `smdr+serial://`
//! link (a pseudo-terminal at 19200 baud); the call records the core reports equal the
//! simulator's truth (calling, called, answered or not, answered by).

use std::{collections::HashMap, time::Duration};

use hookflash::core::model::{Call, Outcome};
use hookflash::{Cti, Filter};
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};
use hookflash_sim::printer::SmdrPrinter;
use serde_json::Value;

/// Seconds since the epoch of the simulator's RFC 3339 times.
fn epoch_secs(s: &str) -> Option<i64> {
    hookflash_sim::parse_rfc3339(s).map(|ms| ms.div_euclid(1000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smdr_records_equal_the_simulators_truth() {
    let sim = SimConfig {
        calls_per_minute: 30.0,
        seed: 17,
        truth: true,
        ..SimConfig::default()
    };
    let mut cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim);
    cfg.time_scale = 60.0;
    let server = SimServer::start(cfg).await.expect("simulator");
    let truth_rx = server.truth();
    let printer = SmdrPrinter::start("127.0.0.1:0".parse().unwrap(), server.truth())
        .await
        .expect("printer");
    let url = format!(
        "smdr+tcp://{}?format=ipoffice",
        printer.local_addr().expect("a TCP printer")
    );
    compare(&url, truth_rx, 150, Duration::from_secs(25)).await;
    printer.shutdown();
}

/// The printer on a serial line (a pseudo-terminal) at 19200 baud: about 1,900 characters,
/// some 19 records, a second. The simulated PBX runs 30 times faster than real time at 30
/// calls a minute: 15 records a second, which the line carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smdr_over_a_serial_line_at_19200_baud_equals_the_truth() {
    let sim = SimConfig {
        calls_per_minute: 30.0,
        seed: 18,
        truth: true,
        ..SimConfig::default()
    };
    let mut cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim);
    cfg.time_scale = 30.0;
    let server = SimServer::start(cfg).await.expect("simulator");
    let truth_rx = server.truth();
    let printer = SmdrPrinter::start_serial(server.truth(), 19_200)
        .await
        .expect("printer");
    let path = printer
        .serial_path()
        .expect("a serial printer")
        .display()
        .to_string();
    let url = format!("smdr+serial://{path}?format=ipoffice&baud=19200");
    compare(&url, truth_rx, 60, Duration::from_secs(15)).await;
    printer.shutdown();
}

/// Reads `want` records from `url` and compares them with the truth.
async fn compare(
    url: &str,
    mut truth_rx: tokio::sync::broadcast::Receiver<String>,
    want: usize,
    limit: Duration,
) {
    let cti = Cti::builder().link("cdr", url).unwrap().build().unwrap();
    let mut records = cti.call_records();
    let _events = cti.subscribe(Filter::all());
    assert!(
        cti.capabilities("cdr")
            .is_ok_and(|c| c.has(hookflash::spi::Capabilities::CALL_RECORDS))
    );

    // Truth lines, keyed by (calling, called, start second).
    let mut truth: HashMap<(String, String, i64), Value> = HashMap::new();
    let mut got: Vec<Call> = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while got.len() < want {
        tokio::select! {
            line = truth_rx.recv() => {
                let line = line.expect("truth stream");
                let v: Value = serde_json::from_str(&line).unwrap();
                if v["kind"] == "call" {
                    let key = (
                        v["calling"].as_str().unwrap_or_default().to_owned(),
                        v["called"].as_str().unwrap_or_default().to_owned(),
                        epoch_secs(v["offered_at"].as_str().unwrap_or_default()).unwrap(),
                    );
                    truth.insert(key, v);
                }
            }
            r = records.recv() => got.push(r.expect("records stream")),
            () = tokio::time::sleep_until(deadline) => {
                panic!("only {} records in time ({} truth lines)", got.len(), truth.len())
            }
        }
    }
    // The truth of the last records is out already (the printer writes after it); take what
    // is buffered.
    while let Ok(line) = truth_rx.try_recv() {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "call" {
            let key = (
                v["calling"].as_str().unwrap_or_default().to_owned(),
                v["called"].as_str().unwrap_or_default().to_owned(),
                epoch_secs(v["offered_at"].as_str().unwrap_or_default()).unwrap(),
            );
            truth.insert(key, v);
        }
    }

    let mut answered = 0;
    let mut unanswered = 0;
    let mut mismatches = Vec::new();
    for c in &got {
        let calling = c
            .data
            .ani
            .as_ref()
            .map(|n| n.raw.clone())
            .unwrap_or_default();
        let called = c
            .data
            .dnis
            .as_ref()
            .map(|n| n.raw.clone())
            .unwrap_or_default();
        let start = i64::try_from(c.offered_at.0 / 1000).unwrap();
        let Some(t) = truth.get(&(calling.clone(), called.clone(), start)) else {
            mismatches.push(format!("no truth for {calling} -> {called} at {start}"));
            continue;
        };
        let t_answered = t["outcome"] == "answered";
        let c_answered = c.outcome == Some(Outcome::Answered);
        if t_answered != c_answered {
            mismatches.push(format!("answered: core {:?}, truth {t}", c.outcome));
        }
        let outbound = !calling.starts_with('+') && called.starts_with('+');
        if t_answered && !outbound {
            let want = t["answered_by"].as_str();
            if c.answered_by.as_deref() != want {
                mismatches.push(format!("answered_by: core {:?}, truth {t}", c.answered_by));
            }
        }
        if c_answered {
            answered += 1;
        } else {
            unanswered += 1;
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {}:\n{}",
        mismatches.len(),
        got.len(),
        mismatches.join("\n")
    );
    println!(
        "{url}: {} records equal the truth ({answered} answered, {unanswered} not)",
        got.len()
    );
    assert!(
        answered > want / 8 && unanswered > want / 30,
        "answered {answered}, unanswered {unanswered}"
    );
    cti.shutdown().await;
}
