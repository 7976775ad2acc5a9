//! Conformance against the ECMA-285 reference oracle (Python asn1tools over the published
//! ECMA-285 ASN.1 modules): every PDU of the generated corpora decodes to the oracle's JSON and
//! the oracle's JSON encodes to the oracle's bytes.
//!
//! The corpora under `tests/vectors/seed*` were generated with the oracle's `gen_corpus.py`
//! (`--seed 0` is the reference corpus; other seeds rewrite every value and drop optional
//! fields at random). `scripts/oracle-vectors.sh` regenerates them; see `tests/vectors/README.md`.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hookflash_csta::pdu::{self, Pdu};
use serde_json::Value;

fn corpora() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/vectors")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    if let Ok(extra) = std::env::var("HOOKFLASH_ORACLE_CORPUS") {
        dirs.extend(extra.split(':').map(PathBuf::from));
    }
    dirs.sort();
    dirs
}

fn cases(dir: &Path) -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ber"))
        .collect();
    names.sort();
    for p in names {
        let ber = std::fs::read(&p).unwrap();
        let json: Value =
            serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap()).unwrap();
        out.push((
            p.file_stem().unwrap().to_string_lossy().into_owned(),
            ber,
            json,
        ));
    }
    out
}

fn strip_envelope_extras(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        o.remove("framing");
        o.remove("trailingBytes");
    }
    v
}

/// Values compare equal, with hex strings compared without regard to case.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            x == y || x.eq_ignore_ascii_case(y) && x.bytes().all(|c| c.is_ascii_hexdigit())
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

#[test]
fn every_oracle_pdu_decodes_to_the_oracle_json_and_encodes_to_the_oracle_bytes() {
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in corpora() {
        for (name, ber, json) in cases(&dir) {
            total += 1;
            let want = strip_envelope_extras(json);
            let bytes = Bytes::from(ber.clone());
            match pdu::decode(&bytes) {
                Ok(p) => {
                    let got = p.to_jer();
                    if !same(&got, &want) {
                        failures.push(format!(
                            "{}/{name}: decode differs\n  got  {got}\n  want {want}",
                            dir.display()
                        ));
                    }
                    let re = pdu::encode_to_vec(&p);
                    if re != ber {
                        failures.push(format!(
                            "{}/{name}: typed re-encode differs\n  got  {}\n  want {}",
                            dir.display(),
                            hex(&re),
                            hex(&ber)
                        ));
                    }
                }
                Err(e) => failures.push(format!("{}/{name}: decode error {e}", dir.display())),
            }
            match Pdu::from_jer(&want) {
                Ok(p) => {
                    let enc = pdu::encode_to_vec(&p);
                    if enc != ber {
                        failures.push(format!(
                            "{}/{name}: encode of oracle JSON differs\n  got  {}\n  want {}",
                            dir.display(),
                            hex(&enc),
                            hex(&ber)
                        ));
                    }
                }
                Err(e) => failures.push(format!("{}/{name}: from_jer error {e}", dir.display())),
            }
        }
    }
    assert!(
        total >= 300,
        "expected the committed corpora, found {total} PDUs"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} PDUs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn the_typed_document_round_trips_every_oracle_pdu() {
    let mut n = 0;
    for dir in corpora() {
        for (name, ber, _) in cases(&dir) {
            let p = pdu::decode(&Bytes::from(ber.clone())).unwrap();
            let doc = p.to_json();
            assert!(doc.get("kind").is_some(), "{name}: {doc}");
            let back = Pdu::from_json(&doc).unwrap_or_else(|e| panic!("{name}: {e}\n{doc}"));
            assert_eq!(pdu::encode_to_vec(&back), ber, "{name}: {doc}");
            n += 1;
        }
    }
    assert!(n >= 300);
}

#[test]
fn events_read_as_events() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/seed0");
    let ber = std::fs::read(dir.join("delivered_1.ber")).unwrap();
    let doc = pdu::decode(&Bytes::from(ber)).unwrap().to_json();
    assert_eq!(doc["kind"], "event");
    assert_eq!(doc["category"], "callControlEvents");
    assert_eq!(doc["event"], "delivered");
    assert_eq!(doc["crossRefIdentifier"], "0001");
    assert_eq!(doc["value"]["cause"], "newCall");
    assert_eq!(doc["value"]["localConnectionInfo"], "alerting");
}
