//! Property tests: arbitrary bytes never panic, and chunking never changes the records.

use hookflash_smdr::{Decoder, Format, ParseOptions};
use proptest::prelude::*;

fn run(format: Format, chunks: &[&[u8]]) -> Vec<String> {
    let mut d = Decoder::with_max_record(format, ParseOptions::default(), 256);
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(r) = d.next_record() {
            out.push(format!("{r:?}"));
        }
    }
    d.finish();
    while let Some(r) = d.next_record() {
        out.push(format!("{r:?}"));
    }
    out
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for f in Format::ALL {
            let _ = f.parse(&bytes, &ParseOptions::default());
        }
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for f in Format::ALL {
            let _ = run(f, &[&bytes]);
        }
    }

    #[test]
    fn chunking_does_not_change_records(
        which in 0usize..4,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (format, name) = [
            (Format::IpOffice, "ipoffice.csv"),
            (Format::Panasonic, "panasonic.txt"),
            (Format::Nec, "nec.smdr"),
            (Format::Mitel, "mitel.txt"),
        ][which];
        let mut bytes = fixture(name);
        bytes.extend_from_slice(&noise);
        bytes.extend_from_slice(&fixture(name));
        let whole = run(format, &[&bytes]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for a in at {
            chunks.push(&bytes[prev..a]);
            prev = a;
        }
        chunks.push(&bytes[prev..]);
        prop_assert_eq!(run(format, &chunks), whole);
    }

    #[test]
    fn memory_bounded_on_endless_line(len in 1000usize..20000) {
        let mut d = Decoder::with_max_record(Format::Panasonic, ParseOptions::default(), 128);
        d.push(&vec![b'7'; len]);
        d.push(b"\n");
        let r = d.next_record();
        prop_assert!(matches!(r, Some(Err(_))));
        prop_assert_eq!(d.stats().oversized, 1);
    }
}
