//! Any byte stream, cut into any chunks, into an ECMA-354 session over the ECMA-323 header
//! framing: no panic, bounded buffering, and every frame is either a message or reported.
#![no_main]

use hookflash_csta::framing::{self, Framing};
use hookflash_csta::xml::session::{Config, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    // Times are milliseconds on the caller's clock.
    let t0: u64 = 1_000_000;
    let mut s = Session::new(Config::default());
    s.start(t0);
    for (i, chunk) in rest.chunks(usize::from(cut).max(1)).enumerate() {
        s.handle_input(t0 + i as u64, chunk);
        while s.poll_event().is_some() {}
        while s.poll_transmit().is_some() {}
        s.handle_timeout(t0 + 1000 * i as u64);
    }
    let mut pos = 0;
    while pos < rest.len() {
        match framing::next_frame(Framing::XmlHeader, &rest[pos..], 4096) {
            Ok(Some(f)) => pos += f.consumed,
            Ok(None) => break,
            Err(_) => pos += framing::resync(Framing::XmlHeader, &rest[pos..]),
        }
    }
});
