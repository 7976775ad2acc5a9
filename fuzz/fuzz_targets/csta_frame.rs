//! Any bytes through the BER link framings (none, len2, HiPath): no panic, frames stay inside
//! the input, resynchronisation always moves forward.
#![no_main]

use hookflash_csta::framing::{self, Framing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let f = [Framing::None, Framing::Len2, Framing::HiPath][usize::from(sel) % 3];
    let mut pos = 0;
    while pos < rest.len() {
        match framing::next_frame(f, &rest[pos..], 1024) {
            Ok(Some(fr)) => {
                assert!(fr.payload.end <= fr.consumed && pos + fr.consumed <= rest.len());
                pos += fr.consumed;
            }
            Ok(None) => break,
            Err(_) => {
                let skip = framing::resync(f, &rest[pos..]);
                assert!(skip >= 1);
                pos += skip;
            }
        }
    }
});
