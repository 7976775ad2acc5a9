//! Any bytes through every SMDR decoder, split at a fuzzer-chosen point: no panic, bounded
//! buffering, and the records do not depend on the chunking.
#![no_main]

use hookflash_smdr::{CallRecord, Decoder, Format, ParseOptions, SmdrError};
use libfuzzer_sys::fuzz_target;

// The records themselves are compared (`PartialEq` over every field), not their `Debug` text:
// the same check without formatting every record twice.
fn run(format: Format, parts: &[&[u8]]) -> Vec<Result<CallRecord, SmdrError>> {
    let mut d = Decoder::with_max_record(format, ParseOptions::default(), 256);
    let mut out = Vec::new();
    for p in parts {
        d.push(p);
        while let Some(r) = d.next_record() {
            out.push(r);
        }
    }
    d.finish();
    while let Some(r) = d.next_record() {
        out.push(r);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(sel) % Format::ALL.len()];
    let cut = usize::from(sel).wrapping_mul(7) % (rest.len() + 1);
    let (a, b) = rest.split_at(cut);
    assert_eq!(run(format, &[a, b]), run(format, &[rest]));
});
