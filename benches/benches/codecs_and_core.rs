//! Criterion benches: CSTA BER and XML decode and encode over the reference corpus's event
//! PDUs, and the core engine over a stream of ACD calls.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookflash_core::driver::{CallEventKind as C, DriverEvent};
use hookflash_core::engine::Engine;
use hookflash_core::model::Timestamp;
use hookflash_csta::pdu::{self, Pdu};
use hookflash_csta::xml::{self, Edition};

fn event_pdus() -> Vec<Bytes> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/hookflash-csta/tests/vectors/seed0");
    let mut v = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for p in names {
        if p.extension().is_some_and(|x| x == "json")
            && std::fs::read_to_string(&p)
                .unwrap()
                .contains("cSTAEventReport")
        {
            v.push(Bytes::from(std::fs::read(p.with_extension("ber")).unwrap()));
        }
    }
    v
}

fn csta(c: &mut Criterion) {
    let pdus = event_pdus();
    let decoded: Vec<Pdu> = pdus.iter().map(|p| pdu::decode(p).unwrap()).collect();
    let xmls: Vec<(Vec<u8>, u16)> = decoded
        .iter()
        .map(|p| {
            let mut out = Vec::new();
            let id = xml::encode(p, &Edition::ED4, &mut out).unwrap();
            (out, id)
        })
        .collect();
    let mut g = c.benchmark_group("csta");
    g.throughput(Throughput::Elements(pdus.len() as u64));
    g.bench_function("ber_decode_events", |b| {
        b.iter(|| {
            for p in &pdus {
                black_box(pdu::decode(p).unwrap());
            }
        })
    });
    g.bench_function("ber_encode_events", |b| {
        b.iter(|| {
            for p in &decoded {
                black_box(pdu::encode_to_vec(p));
            }
        })
    });
    g.bench_function("xml_decode_events", |b| {
        b.iter(|| {
            for (x, id) in &xmls {
                black_box(xml::decode(x, Some(*id)).unwrap());
            }
        })
    });
    g.bench_function("xml_encode_events", |b| {
        b.iter(|| {
            for p in &decoded {
                let mut out = Vec::new();
                black_box(xml::encode(p, &Edition::ED4, &mut out).unwrap());
            }
        })
    });
    g.finish();
}

fn acd_calls(n: u64) -> Vec<DriverEvent> {
    let mut v = Vec::new();
    for i in 0..n {
        let call: hookflash_core::model::NativeCallId = format!("{i:08X}").into();
        let agent = hookflash_core::model::DeviceId::from(format!("{}", 10_000 + i % 1000));
        let caller = format!("+4930{i:07}");
        let ev = |e: C| DriverEvent::Call {
            link: "pbx".into(),
            call: call.clone(),
            event: e,
            cause: None,
        };
        v.push(ev(C::Queued {
            queue: "8000".into(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
        }));
        v.push(ev(C::Delivered {
            alerting: agent.clone(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
            last_redirection: None,
        }));
        v.push(ev(C::Established {
            answering: agent.clone(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
        }));
        v.push(ev(C::ConnectionCleared { device: agent }));
        v.push(ev(C::ConnectionCleared {
            device: caller.as_str().into(),
        }));
    }
    v
}

fn core(c: &mut Criterion) {
    let input = acd_calls(2_000);
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(input.len() as u64));
    g.bench_function("engine_acd_calls", |b| {
        b.iter(|| {
            let mut e = Engine::default();
            for (i, ev) in input.iter().enumerate() {
                e.handle(Timestamp(i as u64), ev.clone());
                e.drain_events().for_each(|x| {
                    black_box(x);
                });
            }
        })
    });
    g.finish();
}

criterion_group!(benches, csta, core);
criterion_main!(benches);
