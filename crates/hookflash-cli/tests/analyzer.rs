//! The analyzer as a user runs it: `hookflash decode`, `hookflash encode`, `hookflash bench`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookflash"))
}

fn csta_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hookflash-csta")
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn decodes_the_shipped_session_and_encodes_it_back_byte_for_byte() {
    let sample = csta_dir().join("samples/session.len2");
    let wire = std::fs::read(&sample).unwrap();
    let out = run(
        &[
            "decode",
            "--protocol",
            "csta-ber",
            "--framing",
            "len2",
            sample.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 21);
    assert_eq!(docs[0]["acse"], "aarq");
    assert!(docs.iter().any(|d| d["event"] == "delivered"));
    let back = run(
        &["encode", "--protocol", "csta-ber", "--framing", "len2", "-"],
        text.as_bytes(),
    );
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    assert_eq!(back.stdout, wire);
}

#[test]
fn jer_output_is_the_oracle_json_and_encodes_to_the_oracle_bytes() {
    let dir = csta_dir().join("tests/vectors/seed0");
    for name in [
        "delivered_1",
        "makeCall_req_2",
        "aarq_1",
        "returnError_2",
        "reject_1",
    ] {
        let ber = std::fs::read(dir.join(format!("{name}.ber"))).unwrap();
        let want: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let out = run(
            &["decode", "--protocol", "csta-ber", "--jer", "--hex", "-"],
            hex::encode(&ber).as_bytes(),
        );
        assert!(out.status.success(), "{name}");
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, want, "{name}");
        let enc = run(
            &["encode", "--protocol", "csta-ber", "--jer", "--hex", "-"],
            &out.stdout,
        );
        assert_eq!(
            String::from_utf8(enc.stdout).unwrap().trim(),
            hex::encode(&ber),
            "{name}"
        );
    }
}

#[test]
fn malformed_input_names_the_offset_and_the_other_pdus_still_print() {
    let dir = csta_dir().join("tests/vectors/seed0");
    let good = std::fs::read(dir.join("held_1.ber")).unwrap();
    let mut input = good.clone();
    input.extend_from_slice(&[0xA1, 0x03, 0x02, 0x01]); // an invoke cut short …
    let bad_at = input.len() - 4;
    input.extend_from_slice(b"\xFF\xFFjunk"); // … then garbage …
    input.extend_from_slice(&good); // … then a good PDU again.
    let out = run(&["decode", "--protocol", "csta-ber", "-"], &input);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "both good PDUs print: {stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("offset {bad_at}")), "{stderr}");
}

#[test]
fn hipath_framing_round_trips() {
    let sample = csta_dir().join("samples/session.len2");
    let out = run(
        &[
            "decode",
            "--protocol",
            "csta-ber",
            "--framing",
            "len2",
            sample.to_str().unwrap(),
        ],
        b"",
    );
    let hip = run(
        &[
            "encode",
            "--protocol",
            "csta-ber",
            "--framing",
            "hipath",
            "-",
        ],
        &out.stdout,
    );
    assert!(hip.status.success());
    assert_eq!(hip.stdout[0], 0x26);
    let again = run(
        &[
            "decode",
            "--protocol",
            "csta-ber",
            "--framing",
            "hipath",
            "-",
        ],
        &hip.stdout,
    );
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn bench_prints_its_figures() {
    let sample = csta_dir().join("samples/session.len2");
    let out = run(
        &[
            "bench",
            "decode",
            "--protocol",
            "csta-ber",
            "--framing",
            "len2",
            sample.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["pdus"].as_u64().unwrap() > 21);
    assert!(v["seconds"].as_f64().unwrap() >= 2.0);
    assert!(v["pdus_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["bytes"].as_u64().unwrap() > 950);
}

#[test]
fn ber_converts_to_xml_and_back_to_the_same_bytes() {
    let sample = csta_dir().join("samples/session.len2");
    let typed = run(
        &[
            "decode",
            "--protocol",
            "csta-ber",
            "--framing",
            "len2",
            sample.to_str().unwrap(),
        ],
        b"",
    );
    // ACSE has no ECMA-323 form; convert everything else.
    let rose: String = String::from_utf8(typed.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"association\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let xml = run(
        &[
            "encode",
            "--protocol",
            "csta-xml",
            "--framing",
            "xml-header",
            "--edition",
            "ed4",
            "-",
        ],
        rose.as_bytes(),
    );
    assert!(
        xml.status.success(),
        "{}",
        String::from_utf8_lossy(&xml.stderr)
    );
    assert_eq!(&xml.stdout[..2], &[0, 0]);
    let shipped = std::fs::read(csta_dir().join("samples/session-ed4.xmlh")).unwrap();
    assert_eq!(xml.stdout, shipped);
    let typed_back = run(
        &[
            "decode",
            "--protocol",
            "csta-xml",
            "--framing",
            "xml-header",
            "-",
        ],
        &xml.stdout,
    );
    assert!(
        typed_back.status.success(),
        "{}",
        String::from_utf8_lossy(&typed_back.stderr)
    );
    assert_eq!(String::from_utf8(typed_back.stdout.clone()).unwrap(), rose);
    let ber = run(
        &["encode", "--protocol", "csta-ber", "--framing", "len2", "-"],
        &typed_back.stdout,
    );
    let want = run(
        &["encode", "--protocol", "csta-ber", "--framing", "len2", "-"],
        rose.as_bytes(),
    );
    assert_eq!(ber.stdout, want.stdout);
    assert!(!ber.stdout.is_empty());
}

#[test]
fn xml_documents_without_a_header_decode_one_by_one() {
    let doc = "<?xml version=\"1.0\"?><SystemStatus xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"><systemStatus>normal</systemStatus></SystemStatus>\n";
    let two = format!("{doc}{doc}");
    let out = run(&["decode", "--protocol", "csta-xml", "-"], two.as_bytes());
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    let bad = run(
        &["decode", "--protocol", "csta-xml", "-"],
        b"<?xml version=\"1.0\"?><SystemStatus><oops></SystemStatus>",
    );
    assert_eq!(bad.status.code(), Some(1));
}
