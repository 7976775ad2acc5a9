//! Criterion benches: SMDR splitting and parsing per format over the hookflash-smdr fixtures.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookflash_smdr::{Decoder, Format, ParseOptions};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/hookflash-smdr/tests/data")
        .join(name);
    std::fs::read(path).unwrap()
}

fn smdr(c: &mut Criterion) {
    let mut g = c.benchmark_group("smdr");
    for (format, name) in [
        (Format::IpOffice, "ipoffice.csv"),
        (Format::Panasonic, "panasonic.txt"),
        (Format::Nec, "nec.smdr"),
        (Format::Mitel, "mitel.txt"),
    ] {
        let one = fixture(name);
        let stream: Vec<u8> = one.repeat(64);
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(format!("decode_{}", format.name()), |b| {
            b.iter(|| {
                let mut d = Decoder::new(format, ParseOptions::default());
                d.push(black_box(&stream));
                d.finish();
                let mut n = 0usize;
                while let Some(r) = d.next_record() {
                    n += usize::from(r.is_ok());
                }
                n
            });
        });
    }
    g.finish();
}

criterion_group!(benches, smdr);
criterion_main!(benches);
