//! Any bytes as everything an Asterisk server sends from the moment of connecting (banner, the
//! MD5 challenge or plain login response, responses, event lists, events), cut into data-chosen
//! chunks, into the AMI session and the AMI → core mapper: no panic, a disconnect fails every
//! pending action, and the mapper takes whatever events come.
#![no_main]

use hookflash_ami::codec::Limits;
use hookflash_ami::mapping::Mapper;
use hookflash_ami::{Action, Session, SessionConfig, SessionEvent};
use hookflash_core::model::Name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut s = Session::new(SessionConfig {
        username: "hookflash".into(),
        secret: "s3cret".into(),
        md5: sel & 1 == 0,
        ping_interval_ms: Some(1_000),
        max_pending: 8,
        limits: Limits {
            max_line: 256,
            max_message: 4096,
            max_lines: 64,
        },
        ..SessionConfig::default()
    });
    let link = Name::from("pbx");
    let mut mapper = Mapper::new();
    let t0: u64 = 1_000_000;
    s.connected(t0);
    let _ = s.send(t0, Action::QueueStatus { queue: None });
    let chunk = usize::from(sel >> 1) + 1;
    for (i, part) in rest.chunks(chunk).enumerate() {
        let now = t0 + i as u64 * 100;
        s.handle_input(now, part);
        if i % 4 == 3 {
            s.handle_timeout(now + 2_000);
        }
        while s.poll_transmit().is_some() {}
        while let Some(ev) = s.poll_event() {
            if let SessionEvent::Event(e) = ev {
                let _ = mapper.map(&link, &e);
            }
        }
        assert!(s.pending() <= 8);
    }
    s.disconnected();
    while s.poll_event().is_some() {}
    assert_eq!(s.pending(), 0);
});
