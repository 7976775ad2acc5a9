//! Properties of the fan-out: for any script of driver events, filtered subscribers get a
//! subsequence of the full stream that holds everything their filter names.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{all_caps, fake};
use hookflash::core::driver::CallEventKind;
use hookflash::core::event::{Event, EventKind};
use hookflash::core::model::CallId;
use hookflash::{Cti, EventType, Filter, Subscription};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Ring(u8, u8),
    Answer(u8, u8),
    Hold(u8, u8),
    Retrieve(u8, u8),
    Leave(u8, u8),
    End(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0u8..4;
    let d = 0u8..3;
    prop_oneof![
        3 => (n.clone(), d.clone()).prop_map(|(n, d)| Op::Ring(n, d)),
        2 => (n.clone(), d.clone()).prop_map(|(n, d)| Op::Answer(n, d)),
        1 => (n.clone(), d.clone()).prop_map(|(n, d)| Op::Hold(n, d)),
        1 => (n.clone(), d.clone()).prop_map(|(n, d)| Op::Retrieve(n, d)),
        1 => (n.clone(), d.clone()).prop_map(|(n, d)| Op::Leave(n, d)),
        1 => n.prop_map(Op::End),
    ]
}

const DEVICES: [&str; 3] = ["1001", "1002", "1003"];

/// The device an event names directly, if any.
fn direct_device(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::CallAlerting { device, .. }
        | EventKind::CallAnswered { device, .. }
        | EventKind::CallHeld { device, .. }
        | EventKind::CallRetrieved { device, .. }
        | EventKind::CallFailed { device, .. }
        | EventKind::PartyLeft { device, .. }
        | EventKind::ConnectionStateChanged { device, .. }
        | EventKind::ScreenPop { device, .. } => Some(device.as_str()),
        _ => None,
    }
}

fn drain(sub: &mut Subscription) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(r) = sub.try_recv() {
        v.push(r.expect("no lag with a large buffer"));
    }
    v
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (d, h) = fake("pbx", all_caps());
        let cti = Cti::builder().driver(d).build().unwrap();
        let mut all = cti.subscribe(Filter::all());
        let mut dev = cti.subscribe(Filter::all().device("1002"));
        let mut ended = cti.subscribe(Filter::all().event_type(EventType::CallEnded));
        h.up();
        for d in DEVICES {
            h.monitored(d);
        }
        for op in ops {
            let name = |n: u8| format!("n{n}");
            match op {
                Op::Ring(n, d) => h.ring(&name(n), DEVICES[d as usize], "0301234567"),
                Op::Answer(n, d) => h.answer(&name(n), DEVICES[d as usize], "0301234567"),
                Op::Hold(n, d) => h.call(&name(n), CallEventKind::Held { device: DEVICES[d as usize].into() }),
                Op::Retrieve(n, d) => h.call(&name(n), CallEventKind::Retrieved { device: DEVICES[d as usize].into() }),
                Op::Leave(n, d) => h.call(&name(n), CallEventKind::ConnectionCleared { device: DEVICES[d as usize].into() }),
                Op::End(n) => h.hang_up(&name(n)),
            }
        }
        // A sentinel: once the full stream has it, every subscriber has been offered all.
        h.ring("sentinel", "9999", "1");
        let mut full = Vec::new();
        loop {
            let e = tokio::time::timeout(Duration::from_secs(5), all.recv())
                .await
                .expect("events flow")
                .expect("no lag");
            let done = matches!(&e.kind, EventKind::CallAlerting { device, .. } if device.as_str() == "9999");
            full.push(e);
            if done {
                break;
            }
        }
        let dev = drain(&mut dev);
        let ended = drain(&mut ended);
        let seqs = |v: &[Event]| v.iter().map(|e| e.seq).collect::<Vec<_>>();
        let full_seqs: BTreeSet<u64> = full.iter().map(|e| e.seq).collect();

        // Subsequences of the full stream, in order.
        for part in [&dev, &ended] {
            let s = seqs(part);
            prop_assert!(s.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(s.iter().all(|q| full_seqs.contains(q)));
        }
        // The type filter: exactly the CallEnded events.
        let want: Vec<u64> = full.iter().filter(|e| matches!(e.kind, EventKind::CallEnded { .. })).map(|e| e.seq).collect();
        prop_assert_eq!(seqs(&ended), want);
        // The device filter: every event naming 1002, every link event, and the end of every
        // call that touched 1002.
        let dev_seqs: BTreeSet<u64> = dev.iter().map(|e| e.seq).collect();
        let mut touched: BTreeSet<CallId> = BTreeSet::new();
        for e in &full {
            if direct_device(&e.kind) == Some("1002") {
                prop_assert!(dev_seqs.contains(&e.seq), "missing {:?}", e);
                touched.extend(e.kind.call());
            }
            if matches!(e.kind, EventKind::LinkStateChanged { .. }) {
                prop_assert!(dev_seqs.contains(&e.seq));
            }
            if let EventKind::CallEnded { call, .. } = &e.kind
                && touched.contains(call)
            {
                prop_assert!(dev_seqs.contains(&e.seq), "missing the end of {call}");
            }
            // The sentinel call never touched 1002.
            if direct_device(&e.kind) == Some("9999") {
                prop_assert!(!dev_seqs.contains(&e.seq));
            }
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn filtered_streams_are_complete_subsequences(ops in proptest::collection::vec(op(), 0..40)) {
        run(ops)?;
    }
}
