//! Any bytes as one Panasonic SMDR record: no panic; a parsed record keeps sane durations.
#![no_main]

use hookflash_smdr::{Format, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Format::Panasonic.parse(data, &ParseOptions::default()) {
        assert!(r.total_secs() >= r.connected_secs);
        assert_eq!(r.format, Format::Panasonic);
    }
});
