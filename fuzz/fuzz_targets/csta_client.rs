//! Any bytes from a PBX, cut into data-chosen chunks, into the sans-IO CSTA client (BER over
//! each framing, with and without an ACSE association, and XML in an ECMA-354 session) and on
//! into the core engine: no panic, and requests in flight stay bounded by what was asked.
#![no_main]

use hookflash_core::engine::Engine;
use hookflash_core::model::Timestamp;
use hookflash_csta::client::{Client, ClientEvent, Config, Credentials, Wire};
use hookflash_csta::framing::Framing;
use hookflash_csta::xml::session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let wire = match sel % 7 {
        0..=5 => Wire::Ber {
            framing: [Framing::None, Framing::Len2, Framing::HiPath][usize::from(sel % 3)],
            associate: sel % 7 >= 3,
            credentials: (sel & 0x80 != 0).then(|| Credentials {
                user: "AMHOST".into(),
                password: "77777".into(),
            }),
        },
        _ => Wire::Xml(session::Config::default()),
    };
    let mut cfg = Config::new("pbx", wire);
    cfg.max_frame = 2048;
    cfg.monitor_window = 4;
    let mut c = Client::new(cfg);
    let mut engine = Engine::default();
    let t0: u64 = 1_000_000;
    c.handle_connect(t0);
    for d in ["1001", "1002", "6000"] {
        c.monitor(t0, d.into());
    }
    let chunk = usize::from(sel >> 4) * 7 + 1;
    for (i, part) in rest.chunks(chunk).enumerate() {
        let now = t0 + i as u64 * 50;
        c.handle_input(now, part);
        if i % 8 == 7 {
            c.handle_timeout(now + 5_000);
            c.handle_keep_alive(now + 5_000);
        }
        while c.poll_transmit().is_some() {}
        while let Some(ev) = c.poll_event() {
            if let ClientEvent::Driver(d) = ev {
                engine.handle(Timestamp(now), d);
            }
        }
        let _ = engine.drain_events();
        assert!(c.in_flight() <= 64, "in flight: {}", c.in_flight());
    }
    c.handle_timeout(u64::MAX / 2);
    c.handle_disconnect(u64::MAX / 2);
    while c.poll_event().is_some() {}
    assert_eq!(c.in_flight(), 0, "a disconnect fails every request");
});
