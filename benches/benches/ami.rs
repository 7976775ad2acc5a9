//! Criterion benches: AMI decoding (and event typing) over the panoramisk transcripts.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookflash_ami::{Decoder, Event, MessageKind};

fn transcripts() -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/hookflash-ami/tests/data/panoramisk");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    let mut all = Vec::new();
    for n in names {
        all.extend_from_slice(&std::fs::read(n).unwrap());
        all.extend_from_slice(b"\r\n\r\n");
    }
    all
}

fn ami(c: &mut Criterion) {
    let stream = transcripts().repeat(8);
    let mut d = Decoder::new();
    d.feed(&stream);
    let events = std::iter::from_fn(|| d.decode())
        .flatten()
        .filter(|m| m.kind() == MessageKind::Event)
        .count();
    let mut g = c.benchmark_group("ami");
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function("decode_transcripts_events", |b| {
        b.iter(|| {
            let mut d = Decoder::new();
            let mut n = 0u64;
            for chunk in black_box(&stream).chunks(4096) {
                d.feed(chunk);
                while let Some(r) = d.decode() {
                    if let Ok(m) = r
                        && let Some(ev) = Event::from_message(m)
                    {
                        n += u64::from(ev.get("Channel").is_some());
                    }
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, ami);
criterion_main!(benches);
