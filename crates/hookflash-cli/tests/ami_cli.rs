//! The command line against the simulated Asterisk: `hookflash sim --protocol ami` serves,
//! `hookflash tap ami+tcp://…` prints the normalized events of its traffic, and a raw capture
//! of the manager session reads back with `hookflash decode --protocol ami`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookflash"))
}

/// The simulator, killed when the test ends (whatever happens).
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hookflash sim --protocol ami` on a free port; returns it and its address.
fn start_sim() -> (Sim, String) {
    let mut child = Command::new(bin())
        .args([
            "sim",
            "--protocol",
            "ami",
            "--listen",
            "127.0.0.1:0",
            "--duration",
            "60",
            "--time-scale",
            "60",
            "--rate",
            "120",
            "--agents",
            "6",
            "--extensions",
            "6",
            "--user",
            "cti",
            "--password",
            "s3cret",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hookflash sim runs");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line)
        .expect("the sim says where it listens");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address")
        .to_owned();
    assert!(line.contains("Ami on"), "{line}");
    // Keep draining stderr so the simulator never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = err.read_to_string(&mut sink);
    });
    (Sim(child), addr)
}

#[test]
fn tap_prints_the_simulated_asterisks_calls_and_decode_reads_a_capture() {
    let (_sim, addr) = start_sim();

    // A raw manager session: log in, listen a while, log off.
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"Action: Login\r\nActionID: 1\r\nUsername: cti\r\nSecret: s3cret\r\n\r\n")
        .unwrap();
    let mut capture = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 8192];
    while t0.elapsed() < Duration::from_secs(3) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => capture.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let _ = s.write_all(b"Action: Logoff\r\nActionID: 2\r\n\r\n");
    drop(s);
    assert!(capture.starts_with(b"Asterisk Call Manager/"));

    let mut child = Command::new(bin())
        .args(["decode", "--protocol", "ami", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&capture).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(docs[0]["kind"], "banner");
    assert_eq!(docs[1]["kind"], "response");
    assert_eq!(docs[1]["headers"]["Response"], "Success");
    assert_eq!(docs[1]["headers"]["ActionID"], "1");
    let events: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["headers"]["Event"].as_str())
        .collect();
    for e in ["Newchannel", "Newstate", "Hangup"] {
        assert!(events.contains(&e), "no {e} in {events:?}");
    }

    // The tap: normalized events of the same traffic, as JSON lines.
    let out = Command::new(bin())
        .args([
            "tap",
            &format!("ami+tcp://cti:s3cret@{addr}"),
            "--monitor",
            "PJSIP/300000-300005",
            "--count",
            "60",
            "--duration",
            "15",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(docs.len(), 60, "{docs:?}");
    let kinds: Vec<String> = docs
        .iter()
        .filter_map(|d| d["kind"]["type"].as_str().or_else(|| d["type"].as_str()))
        .map(str::to_owned)
        .collect();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("linkStateChanged") || text.contains("LinkStateChanged"),
        "{kinds:?}"
    );
    assert!(
        text.contains("PJSIP/3000"),
        "no agent device in the tap output"
    );
    assert!(
        text.contains("callOffered") || text.contains("CallOffered"),
        "no call in the tap output"
    );
}
