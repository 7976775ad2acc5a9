//! `hookflash bench`: decoding speed, measured in-process.

use std::time::Instant;

use bytes::Bytes;
use hookflash_csta::pdu;

use crate::analyzer::{Piece, decode_one, split_input};
use crate::{BenchDecodeArgs, Protocol, read_input};

pub(crate) fn decode(a: &BenchDecodeArgs) -> Result<bool, String> {
    let mut pdus = Vec::new();
    for f in &a.files {
        let input = Bytes::from(read_input(Some(f), a.hex)?);
        for piece in split_input(a.protocol, &input, a.framing.into(), pdu::DEFAULT_MAX_PDU) {
            match piece {
                Piece::Pdu {
                    payload,
                    offset,
                    invoke_id,
                } => {
                    decode_one(a.protocol, &payload, invoke_id, pdu::DEFAULT_MAX_PDU)
                        .map_err(|e| format!("{}: offset {offset}: {e}", f.display()))?;
                    pdus.push((payload, invoke_id));
                }
                Piece::Malformed { offset, error } => {
                    return Err(format!("{}: offset {offset}: {error}", f.display()));
                }
            }
        }
    }
    if pdus.is_empty() {
        return Err("no PDUs in the input".into());
    }
    let per_round: usize = pdus.iter().map(|(p, _)| p.len()).sum();
    let seconds = a.seconds.max(2.0);
    let start = Instant::now();
    let mut rounds = 0u64;
    loop {
        for (p, iid) in &pdus {
            let d = match a.protocol {
                Protocol::CstaBer => pdu::decode(p).map_err(|e| e.to_string())?,
                Protocol::CstaXml => {
                    hookflash_csta::xml::decode(p, *iid)
                        .map_err(|e| e.to_string())?
                        .pdu
                }
            };
            std::hint::black_box(&d);
        }
        rounds += 1;
        if start.elapsed().as_secs_f64() >= seconds {
            break;
        }
    }
    let s = start.elapsed().as_secs_f64();
    let n = rounds * pdus.len() as u64;
    let doc = serde_json::json!({
        "pdus": n,
        "bytes": rounds * per_round as u64,
        "seconds": s,
        "pdus_per_sec": n as f64 / s,
    });
    println!("{doc}");
    Ok(true)
}
