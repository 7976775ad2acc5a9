//! Any bytes as a sequence of driver events into the core engine: no panic, gap-free sequence
//! numbers, ended calls never come back.
#![no_main]

use hookflash_core::driver::{
    AgentEventKind as A, CallEventKind as C, Cause, DriverEvent, SnapshotEntry,
};
use hookflash_core::engine::Engine;
use hookflash_core::model::{ConnectionState, Timestamp};
use libfuzzer_sys::fuzz_target;

const DEVICES: &[&str] = &["1001", "1002", "2001", "8000", "+4930123456", "700"];
const CALLS: &[&str] = &["a", "b", "c", "d"];

fn event(b: &[u8; 4]) -> DriverEvent {
    let d = |i: u8| DEVICES[usize::from(i) % DEVICES.len()].into();
    let c = |i: u8| CALLS[usize::from(i) % CALLS.len()];
    let kind = match b[0] % 19 {
        0 => C::ServiceInitiated { device: d(b[2]) },
        1 => C::Originated {
            calling: d(b[2]),
            called: DEVICES[usize::from(b[3]) % DEVICES.len()].into(),
        },
        2 => C::Delivered {
            alerting: d(b[2]),
            calling: Some(d(b[3]).to_string()),
            called: None,
            last_redirection: None,
        },
        3 => C::Queued {
            queue: d(b[2]),
            calling: Some(d(b[3]).to_string()),
            called: None,
        },
        4 => C::Established {
            answering: d(b[2]),
            calling: Some(d(b[3]).to_string()),
            called: None,
        },
        5 => C::Held { device: d(b[2]) },
        6 => C::Retrieved { device: d(b[2]) },
        7 => C::Diverted {
            from: d(b[2]),
            to: Some(d(b[3])),
        },
        8 => C::Transferred {
            secondary: Some(c(b[3]).into()),
            new_call: Some(c(b[2]).into()),
            transferring: d(b[2]),
            transferred_to: Some(d(b[3])),
        },
        9 => C::Conferenced {
            secondary: Some(c(b[3]).into()),
            new_call: None,
            controller: d(b[2]),
            added: Some(d(b[3])),
        },
        10 => C::ConnectionCleared { device: d(b[2]) },
        11 => C::CallCleared,
        12 => C::Failed {
            device: d(b[2]),
            calling: Some(d(b[3]).to_string()),
            called: None,
        },
        13 => C::State {
            device: d(b[2]),
            state: ConnectionState::Unknown { raw: "x".into() },
        },
        14 => C::CallData {
            correlator: Some("u".into()),
            uui: None,
            attached: vec![("k".into(), "v".repeat(usize::from(b[3])))],
        },
        15 => {
            return DriverEvent::Agent {
                link: "p".into(),
                agent: "A".into(),
                event: match b[2] % 5 {
                    0 => A::LoggedOn {
                        device: Some(d(b[3])),
                        queues: vec![d(b[1])],
                    },
                    1 => A::Ready,
                    2 => A::NotReady { reason: None },
                    3 => A::WorkingAfterCall,
                    _ => A::LoggedOff,
                },
            };
        }
        16 => {
            return DriverEvent::DeviceSnapshot {
                link: "p".into(),
                device: d(b[2]),
                calls: vec![SnapshotEntry {
                    call: c(b[3]).into(),
                    state: ConnectionState::Connected,
                }],
            };
        }
        17 => {
            return DriverEvent::Monitor {
                link: "p".into(),
                device: d(b[2]),
                monitored: b[3] & 1 == 0,
            };
        }
        _ => {
            return match b[3] & 3 {
                0 => DriverEvent::LinkDown { link: "p".into() },
                1 => DriverEvent::LinkUp { link: "p".into() },
                2 => DriverEvent::LinkResyncing { link: "p".into() },
                _ => DriverEvent::LinkVisibility {
                    link: "p".into(),
                    through_monitors_only: b[3] & 4 == 0,
                },
            };
        }
    };
    let cause = if b[3] & 0x80 != 0 {
        Some(Cause::Busy)
    } else {
        None
    };
    DriverEvent::Call {
        link: "p".into(),
        call: c(b[1]).into(),
        event: kind,
        cause,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut e = Engine::default();
    let mut seq = 0;
    for (i, chunk) in data.chunks_exact(4).enumerate() {
        let b: [u8; 4] = chunk.try_into().expect("four bytes");
        e.handle(Timestamp(i as u64 * 100), event(&b));
        for ev in e.drain_events() {
            assert_eq!(ev.seq, seq + 1);
            seq = ev.seq;
        }
        for c in e.ended_calls() {
            assert!(c.outcome.is_some());
        }
    }
});
