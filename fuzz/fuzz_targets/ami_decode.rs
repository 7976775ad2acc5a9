//! Any bytes, split at a data-chosen point, through the AMI decoder and a logged-in session:
//! no panic, bounded buffering, and the same messages whatever the split.
#![no_main]

use hookflash_ami::codec::{Limits, Message};
use hookflash_ami::{Decoder, Error, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_line: 256,
    max_message: 4096,
    max_lines: 64,
};

// The messages themselves are compared (`PartialEq`: raw bytes, kind, header and output
// offsets), not their `Debug` text: the same check without formatting every message twice.
fn decode(data: &[u8], cut: usize) -> Vec<Result<Message, Error>> {
    let mut d = Decoder::with_limits(LIMITS);
    let mut out = Vec::new();
    for part in [&data[..cut], &data[cut..]] {
        d.feed(part);
        while let Some(r) = d.decode() {
            out.push(r);
            assert!(d.buffered() <= data.len());
        }
        assert!(d.buffered() <= LIMITS.max_message + LIMITS.max_line + 2);
    }
    while let Some(r) = d.finish() {
        out.push(r);
    }
    assert_eq!(d.buffered(), 0);
    out
}

fuzz_target!(|data: &[u8]| {
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(decode(data, 0), decode(data, cut));

    let mut s = Session::new(SessionConfig {
        limits: LIMITS,
        md5: false,
        ..SessionConfig::default()
    });
    s.connected(0);
    s.handle_input(
        0,
        b"Asterisk Call Manager/5.0.1\r\nResponse: Success\r\nActionID: hf-1\r\n\r\n",
    );
    let _ = s.send(1, hookflash_ami::Action::QueueStatus { queue: None });
    s.handle_input(2, data);
    s.handle_timeout(u64::MAX);
    s.disconnected();
    while s.poll_event().is_some() {}
    assert_eq!(s.pending(), 0);
});
