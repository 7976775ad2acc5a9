//! `hookflash bench`: decoding speed, measured in-process.

use std::time::Instant;

use bytes::Bytes;
use hookflash_csta::pdu;

use crate::analyzer::{Piece, decode_one, split_input};
use crate::{BenchCoreArgs, BenchDecodeArgs, Protocol, read_input};

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

/// The resident set size of this process, from /proc (0 where there is none).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// The driver events of one ACD call: queued, delivered to an agent, answered, held,
/// retrieved, then both parties clear.
fn acd_call(n: u64, devices: u64) -> Vec<hookflash_core::driver::DriverEvent> {
    use hookflash_core::driver::{CallEventKind as C, DriverEvent};
    let link: hookflash_core::model::LinkId = "pbx".into();
    let call: hookflash_core::model::NativeCallId = format!("{n:08X}").into();
    let agent = hookflash_core::model::DeviceId::from(format!("{}", 10_000 + n % devices));
    let caller = format!("+49301{:06}", n % 1_000_000);
    let ev = |e: C| DriverEvent::Call {
        link: link.clone(),
        call: call.clone(),
        event: e,
        cause: None,
    };
    vec![
        ev(C::Queued {
            queue: "8000".into(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
        }),
        ev(C::Delivered {
            alerting: agent.clone(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
            last_redirection: None,
        }),
        ev(C::Established {
            answering: agent.clone(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
        }),
        ev(C::Held {
            device: agent.clone(),
        }),
        ev(C::Retrieved {
            device: agent.clone(),
        }),
        ev(C::ConnectionCleared { device: agent }),
        ev(C::ConnectionCleared {
            device: caller.as_str().into(),
        }),
    ]
}

pub(crate) fn core(a: &BenchCoreArgs) -> Result<bool, String> {
    use hookflash_core::driver::DriverEvent;
    use hookflash_core::engine::Engine;
    use hookflash_core::model::Timestamp;

    // Throughput: calls interleaved 100 at a time, as a busy link delivers them.
    let devices = 10_000;
    let mut e = Engine::default();
    for d in 0..devices {
        e.handle(
            Timestamp(0),
            DriverEvent::Monitor {
                link: "pbx".into(),
                device: format!("{}", 10_000 + d).into(),
                monitored: true,
            },
        );
    }
    e.drain_events().for_each(drop);
    let mut input = Vec::new();
    for chunk in (0..a.calls).collect::<Vec<_>>().chunks(100) {
        let per_call: Vec<Vec<DriverEvent>> = chunk.iter().map(|&n| acd_call(n, devices)).collect();
        for step in 0..7 {
            for c in &per_call {
                input.push(c[step].clone());
            }
        }
    }
    let n_events = input.len() as u64;
    let start = Instant::now();
    let mut emitted = 0u64;
    for (i, ev) in input.into_iter().enumerate() {
        e.handle(Timestamp(1_000 + i as u64), ev);
        for out in e.drain_events() {
            std::hint::black_box(&out);
            emitted += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();

    // Memory per monitored device.
    let before = rss_bytes();
    let mut m = Engine::default();
    for d in 0..a.devices {
        m.handle(
            Timestamp(0),
            DriverEvent::Monitor {
                link: "pbx".into(),
                device: format!("{}", 100_000 + d).into(),
                monitored: true,
            },
        );
    }
    let per_device = rss_bytes().saturating_sub(before) as f64 / a.devices.max(1) as f64;

    // Memory per active call: answered calls that have not ended.
    let before = rss_bytes();
    for n in 0..a.active_calls {
        for ev in acd_call(n, a.devices).into_iter().take(3) {
            m.handle(Timestamp(n), ev);
        }
        m.drain_events().for_each(drop);
    }
    let per_call = rss_bytes().saturating_sub(before) as f64 / a.active_calls.max(1) as f64;
    let live = m.calls().count();
    let doc = serde_json::json!({
        "driver_events": n_events,
        "normalized_events": emitted,
        "seconds": secs,
        "driver_events_per_sec": n_events as f64 / secs,
        "devices": a.devices,
        "bytes_per_device": per_device,
        "active_calls": live,
        "bytes_per_active_call": per_call,
    });
    println!("{doc}");
    Ok(true)
}
