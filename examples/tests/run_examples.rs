//! Runs every example binary to completion against the in-process simulated PBX (CSTA XML
//! over TCP through the built-in driver), as a user would.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `bin` with `args` (and `stdin`), failing after 60 s; its stdout.
fn run(bin: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("{bin} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{bin}: {}\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn screen_pop_pops_with_the_csv_directory() {
    let out = run(
        env!("CARGO_BIN_EXE_screen_pop"),
        &["--sim-speed", "20", "--max-events", "3", "--seconds", "40"],
        "",
    );
    let pops: Vec<&str> = out.lines().filter(|l| l.starts_with("POP ")).collect();
    assert_eq!(pops.len(), 3, "{out}");
    assert!(pops.iter().all(|p| !p.contains("lookup failed")), "{out}");
    // Every pop names the ringing device and the caller's number.
    assert!(
        pops.iter()
            .all(|p| p.contains(" at ") && p.contains(" -> ")),
        "{out}"
    );
}

#[test]
fn click_to_dial_calls_and_follows_the_call_to_its_end() {
    let out = run(
        env!("CARGO_BIN_EXE_click_to_dial"),
        // No traffic of the simulator's own: the called extension is free.
        &[
            "--sim-speed",
            "20",
            "--sim-calls-per-minute",
            "0",
            "--seconds",
            "40",
        ],
        "",
    );
    assert!(out.contains("dialling 200001 from 200000"), "{out}");
    assert!(out.contains("the PBX accepted: call "), "{out}");
    assert!(out.contains("ringing at 200001"), "{out}");
    assert!(out.lines().any(|l| l.contains(" ended: ")), "{out}");
}

#[test]
fn wallboard_refreshes_the_queues() {
    let out = run(
        env!("CARGO_BIN_EXE_wallboard"),
        &[
            "--sim-speed",
            "20",
            "--interval-ms",
            "300",
            "--max-events",
            "3",
            "--plain",
        ],
        "",
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("queue ")).count(),
        3,
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("agents: ")), "{out}");
    // After a few refreshes calls have arrived in the simulator's queues.
    assert!(
        out.lines()
            .any(|l| l.starts_with("6000 ") || l.starts_with("6001 ")),
        "{out}"
    );
}

#[test]
fn agent_bar_follows_the_agent_and_answers_commands() {
    let out = run(
        env!("CARGO_BIN_EXE_agent_bar"),
        &["--sim-speed", "20", "--max-events", "3", "--seconds", "40"],
        "bogus\nhold\n",
    );
    assert!(out.starts_with("[A300000 @300000] "), "{out}");
    assert!(out.contains("refused: bogus (unknown command"), "{out}");
    // Refused without a call (or on a ringing one), done on a call in progress.
    assert!(
        out.contains("refused: hold (") || out.contains("ok: hold"),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.starts_with('#')).count() >= 3,
        "{out}"
    );
}
