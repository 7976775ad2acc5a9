//! `hookflash bench e2e`, small and short: the simulated PBX, the bridge (a child process) and
//! both kinds of WebSocket subscribers really carry calls, and the JSON has every figure.

use std::process::Command;

#[test]
fn a_short_end_to_end_run_carries_calls_to_both_kinds_of_subscriber() {
    let out = Command::new(env!("CARGO_BIN_EXE_hookflash"))
        .args(["bench", "e2e", "--rate", "50", "--devices", "20"])
        .args(["--subscribers", "3", "--full-subscribers", "2"])
        .args(["--duration", "2", "--warmup", "0.5"])
        .output()
        .expect("run hookflash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for f in [
        "calls_per_sec",
        "events_per_sec",
        "peak_rss_bytes",
        "calls_completed",
        "offered_calls_per_sec",
        "events",
        "latency_ms_by_class",
        "seq_gaps",
        "errors",
        "disconnects",
    ] {
        assert!(v.get(f).is_some(), "no {f} in {v}");
    }
    for f in ["p50", "p99", "max"] {
        assert!(v["latency_ms"][f].is_number(), "no latency_ms.{f} in {v}");
    }
    // 50 calls/s for 2 s: about 100 calls; the ones that ended inside the window are counted.
    let calls = v["calls_completed"].as_u64().unwrap();
    assert!(calls >= 20, "{calls} calls completed: {v}");
    assert!(v["calls_per_sec"].as_f64().unwrap() > 10.0, "{v}");
    // Agent desktops hear their own device's calls; the full stream hears everything.
    let device = v["events"]["device"].as_u64().unwrap();
    let full = v["events"]["full"].as_u64().unwrap();
    assert!(device > 0, "device subscribers got nothing: {v}");
    assert!(
        full > device,
        "full-stream subscribers got {full}, device ones {device}: {v}"
    );
    assert!(
        v["latency_ms_by_class"]["device"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(v["latency_ms_by_class"]["full"]["count"].as_u64().unwrap() > 0);
    let (p50, p99, max) = (
        v["latency_ms"]["p50"].as_f64().unwrap(),
        v["latency_ms"]["p99"].as_f64().unwrap(),
        v["latency_ms"]["max"].as_f64().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{v}");
    assert!(max < 10_000.0, "an event took {max} ms: {v}");
    assert!(v["peak_rss_bytes"].as_u64().unwrap() > 1_000_000, "{v}");
    assert_eq!(v["seq_gaps"], 0, "the full stream skipped events: {v}");
    assert_eq!(v["disconnects"], 0, "{v}");
}
