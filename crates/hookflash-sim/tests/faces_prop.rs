//! Hostile input: whatever bytes a client sends, in whatever pieces, a face neither panics nor
//! buffers more than one frame, and the engine's invariants hold.

use hookflash_csta::framing::Framing;
use hookflash_sim::face::{Face, FaceConfig, FaceProtocol};
use hookflash_sim::{Engine, SimConfig};
use proptest::prelude::*;

fn protocol(i: u8) -> FaceProtocol {
    match i % 3 {
        0 => FaceProtocol::CstaBer(Framing::Len2),
        1 => FaceProtocol::CstaBer(Framing::HiPath),
        _ => FaceProtocol::CstaXml,
    }
}

/// Chunks that are sometimes plausible frame headers, so the parsers get past the framing.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..48)).prop_map(|(n, mut v)| {
            let mut h = vec![0x00, n];
            h.append(&mut v);
            h
        }),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|v| {
            let mut h = vec![0x26, 0x80, v.len() as u8];
            h.extend(v);
            h
        }),
        "[<>/a-zA-Z =\"]{0,60}".prop_map(|s| {
            let mut h = vec![0, 0];
            h.extend(((s.len() + 8) as u16).to_be_bytes());
            h.extend(b"0001");
            h.extend(s.into_bytes());
            h
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_survived(p in any::<u8>(), chunks in proptest::collection::vec(chunk(), 0..24)) {
        let mut engine = Engine::new(SimConfig { calls_per_minute: 0.0, agents: 2, extensions: 2, ..SimConfig::default() });
        let cfg = FaceConfig { protocol: protocol(p), max_frame: 4_096, ..FaceConfig::default() };
        let mut face = Face::new(cfg, 0, 1);
        let mut now = 0;
        for c in &chunks {
            now += 100;
            face.handle_input(now, c, &mut engine);
            prop_assert!(face.buffered() <= 4_096 + 8);
            while face.poll_transmit().is_some() {}
            face.handle_timeout(now);
        }
        face.release(now, &mut engine);
        prop_assert_eq!(engine.monitor_count(), 0);
    }
}
