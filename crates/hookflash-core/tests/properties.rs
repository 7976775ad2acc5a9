//! Property tests: random driver event sequences never panic the engine and keep its invariants.

use hookflash_core::driver::{
    AgentEventKind as A, CallEventKind as C, Cause, DriverEvent, SnapshotEntry,
};
use hookflash_core::engine::Engine;
use hookflash_core::event::EventKind;
use hookflash_core::model::{ConnectionState, Timestamp};
use proptest::prelude::*;

const DEVICES: &[&str] = &[
    "1001",
    "1002",
    "2001",
    "2002",
    "8000",
    "8001",
    "+4930123456",
    "700",
];
const CALLS: &[&str] = &["c0", "c1", "c2", "c3", "c4", "c5"];
const AGENTS: &[&str] = &["A1", "A2"];
const LINKS: &[&str] = &["pbx", "pbx2"];

fn dev() -> impl Strategy<Value = String> {
    proptest::sample::select(DEVICES).prop_map(str::to_owned)
}

fn opt_dev() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(dev())
}

fn state() -> impl Strategy<Value = ConnectionState> {
    prop_oneof![
        Just(ConnectionState::Null),
        Just(ConnectionState::Initiated),
        Just(ConnectionState::Alerting),
        Just(ConnectionState::Queued),
        Just(ConnectionState::Connected),
        Just(ConnectionState::Held),
        Just(ConnectionState::Failed),
        Just(ConnectionState::Unknown { raw: "x".into() }),
    ]
}

fn call_event() -> impl Strategy<Value = C> {
    prop_oneof![
        dev().prop_map(|d| C::ServiceInitiated { device: d.into() }),
        (dev(), dev()).prop_map(|(a, b)| C::Originated {
            calling: a.into(),
            called: b
        }),
        (dev(), opt_dev(), opt_dev(), opt_dev()).prop_map(|(a, c, d, r)| C::Delivered {
            alerting: a.into(),
            calling: c,
            called: d,
            last_redirection: r.map(Into::into)
        }),
        (dev(), opt_dev(), opt_dev()).prop_map(|(q, c, d)| C::Queued {
            queue: q.into(),
            calling: c,
            called: d
        }),
        (dev(), opt_dev(), opt_dev()).prop_map(|(a, c, d)| C::Established {
            answering: a.into(),
            calling: c,
            called: d
        }),
        dev().prop_map(|d| C::Held { device: d.into() }),
        dev().prop_map(|d| C::Retrieved { device: d.into() }),
        (dev(), opt_dev()).prop_map(|(f, t)| C::Diverted {
            from: f.into(),
            to: t.map(Into::into)
        }),
        (
            proptest::option::of(proptest::sample::select(CALLS)),
            proptest::option::of(proptest::sample::select(CALLS)),
            dev(),
            opt_dev()
        )
            .prop_map(|(s, n, t, to)| C::Transferred {
                secondary: s.map(Into::into),
                new_call: n.map(Into::into),
                transferring: t.into(),
                transferred_to: to.map(Into::into)
            }),
        (
            proptest::option::of(proptest::sample::select(CALLS)),
            proptest::option::of(proptest::sample::select(CALLS)),
            dev(),
            opt_dev()
        )
            .prop_map(|(s, n, c, a)| C::Conferenced {
                secondary: s.map(Into::into),
                new_call: n.map(Into::into),
                controller: c.into(),
                added: a.map(Into::into)
            }),
        dev().prop_map(|d| C::ConnectionCleared { device: d.into() }),
        Just(C::CallCleared),
        dev().prop_map(|d| C::Failed {
            device: d.into(),
            calling: None,
            called: None,
        }),
        (dev(), state()).prop_map(|(d, s)| C::State {
            device: d.into(),
            state: s
        }),
        (
            proptest::option::of("[a-z]{0,4}"),
            proptest::collection::vec(("[a-c]", "[a-z]{0,3}"), 0..3)
        )
            .prop_map(|(c, a)| C::CallData {
                correlator: c,
                uui: None,
                attached: a
            }),
    ]
}

fn agent_event() -> impl Strategy<Value = A> {
    prop_oneof![
        (opt_dev(), proptest::collection::vec(dev(), 0..2)).prop_map(|(d, q)| A::LoggedOn {
            device: d.map(Into::into),
            queues: q.into_iter().map(Into::into).collect()
        }),
        Just(A::LoggedOff),
        Just(A::Ready),
        proptest::option::of("[a-z]{1,4}").prop_map(|r| A::NotReady { reason: r }),
        Just(A::WorkingAfterCall),
        dev().prop_map(|q| A::QueueJoined { queue: q.into() }),
        dev().prop_map(|q| A::QueueLeft { queue: q.into() }),
        (dev(), any::<bool>()).prop_map(|(q, p)| A::QueuePaused {
            queue: q.into(),
            paused: p
        }),
    ]
}

fn cause() -> impl Strategy<Value = Option<Cause>> {
    proptest::option::of(prop_oneof![
        Just(Cause::Busy),
        Just(Cause::NoAnswer),
        Just(Cause::Normal),
        Just(Cause::Transfer)
    ])
}

fn driver_event() -> impl Strategy<Value = DriverEvent> {
    let link = || proptest::sample::select(LINKS).prop_map(|l| l.into());
    prop_oneof![
        8 => (link(), proptest::sample::select(CALLS), call_event(), cause())
            .prop_map(|(link, c, e, cause)| DriverEvent::Call { link, call: c.into(), event: e, cause }),
        2 => (link(), proptest::sample::select(AGENTS), agent_event())
            .prop_map(|(link, a, e)| DriverEvent::Agent { link, agent: a.into(), event: e }),
        1 => (link(), dev(), proptest::collection::vec((proptest::sample::select(CALLS), state()), 0..3)).prop_map(|(link, d, cs)| {
            DriverEvent::DeviceSnapshot {
                link,
                device: d.into(),
                calls: cs.into_iter().map(|(c, s)| SnapshotEntry { call: c.into(), state: s }).collect(),
            }
        }),
        1 => (link(), dev(), any::<bool>()).prop_map(|(link, d, m)| DriverEvent::Monitor { link, device: d.into(), monitored: m }),
        1 => link().prop_map(|link| DriverEvent::LinkDown { link }),
        1 => link().prop_map(|link| DriverEvent::LinkUp { link }),
    ]
}

fn check(e: &Engine, pops: &[hookflash_core::model::CallId]) -> Result<(), TestCaseError> {
    for c in e.calls() {
        let mut devs: Vec<&str> = c.legs.iter().map(|l| l.device.as_str()).collect();
        devs.sort_unstable();
        let n = devs.len();
        devs.dedup();
        prop_assert_eq!(
            devs.len(),
            n,
            "a device holds two legs in one call {:?}",
            c.id
        );
        prop_assert!(
            c.outcome.is_none()
                || c.outcome == Some(hookflash_core::model::Outcome::TransferredAway)
        );
        // The device index agrees with the legs: the call is listed at every device it has a leg at.
        for l in &c.legs {
            prop_assert!(
                e.calls_at(&l.device).iter().any(|x| x.id == c.id),
                "index misses {:?} at {}",
                c.id,
                l.device
            );
        }
    }
    for c in e.ended_calls() {
        prop_assert!(c.outcome.is_some(), "ended call {:?} without outcome", c.id);
        prop_assert!(c.ended_at.is_some());
        prop_assert!(c.legs.is_empty());
    }
    for q in e.queues() {
        prop_assert_eq!(q.stats.waiting as usize, q.waiting.len());
        prop_assert!(
            q.stats.answered + q.stats.abandoned <= q.stats.offered,
            "{:?}",
            q.stats
        );
        prop_assert!(q.stats.answered_within_sl <= q.stats.answered);
    }
    for p in pops {
        prop_assert!(
            e.call(*p).is_some(),
            "a pop for a call that does not exist: {:?}",
            p
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(events in proptest::collection::vec(driver_event(), 1..120)) {
        let mut e = Engine::default();
        let mut last_seq = 0;
        for (i, ev) in events.into_iter().enumerate() {
            e.handle(Timestamp(1000 + i as u64 * 250), ev);
            let mut pops = Vec::new();
            for out in e.drain_events() {
                prop_assert_eq!(out.seq, last_seq + 1);
                last_seq = out.seq;
                if let EventKind::ScreenPop { call, .. } = out.kind {
                    pops.push(call);
                }
            }
            check(&e, &pops)?;
        }
    }

    #[test]
    fn applying_a_sequence_twice_in_a_row_changes_nothing_more(events in proptest::collection::vec(driver_event(), 1..40)) {
        // Every event applied twice: the second application of a call event is a duplicate and
        // must not emit a second pop for the same (agent, call).
        let mut e = Engine::default();
        let mut popped = std::collections::HashSet::new();
        for (i, ev) in events.into_iter().enumerate() {
            for _ in 0..2 {
                e.handle(Timestamp(1000 + i as u64), ev.clone());
                for out in e.drain_events() {
                    if let EventKind::ScreenPop { call, agent, device, .. } = out.kind {
                        let target = agent.map_or_else(|| device.to_string(), |a| a.to_string());
                        prop_assert!(popped.insert((call, target)), "a second pop for the same target and call");
                    }
                }
            }
        }
    }
}
