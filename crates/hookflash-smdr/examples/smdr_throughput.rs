//! Decode throughput per format: the fixture records repeated into a large stream, fed in
//! 4 KiB chunks through the splitter and parser.
//!
//! `cargo run --release -p hookflash-smdr --example smdr_throughput [MiB]`

use std::time::Instant;

use hookflash_smdr::{Decoder, Format, ParseOptions};

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    for (format, name) in [
        (Format::IpOffice, "ipoffice.csv"),
        (Format::Panasonic, "panasonic.txt"),
        (Format::Nec, "nec.smdr"),
        (Format::Mitel, "mitel.txt"),
    ] {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let one = std::fs::read(path).expect("fixture");
        let mut stream = Vec::with_capacity(mib << 20);
        while stream.len() < mib << 20 {
            stream.extend_from_slice(&one);
        }
        let start = Instant::now();
        let mut dec = Decoder::new(format, ParseOptions::default().with_default_year(2026));
        let (mut ok, mut bad) = (0u64, 0u64);
        for chunk in stream.chunks(4096) {
            dec.push(chunk);
            while let Some(r) = dec.next_record() {
                match r {
                    Ok(_) => ok += 1,
                    Err(_) => bad += 1,
                }
            }
        }
        dec.finish();
        while let Some(r) = dec.next_record() {
            if r.is_ok() { ok += 1 } else { bad += 1 }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<10} {:>9} records/s  {:>7.1} MiB/s  ({ok} records, {bad} malformed, {:.3} s)",
            format.name(),
            format!("{:.0}", ok as f64 / secs),
            stream.len() as f64 / (1u64 << 20) as f64 / secs,
            secs
        );
    }
}
