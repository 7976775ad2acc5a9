use bytes::Bytes;
use hookflash_core::engine::Engine;
use hookflash_core::event::EventKind;
use hookflash_core::model::{Outcome, Timestamp};
use serde_json::json;

use super::*;
use crate::generated::ops::{Argument, Operation};
use crate::generated::types::Code;
use crate::pdu::{self, Payload};

fn corpus_event(name: &str) -> Pdu {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/seed0")
        .join(format!("{name}.ber"));
    pdu::decode(&Bytes::from(std::fs::read(p).unwrap())).unwrap()
}

#[test]
fn corpus_events_map_to_driver_events() {
    let m = Mapper::new("pbx");
    let d = m.map(&corpus_event("delivered_1"));
    assert_eq!(d.len(), 1);
    match &d[0] {
        DriverEvent::Call {
            call,
            event:
                CallEventKind::Delivered {
                    alerting,
                    calling,
                    called,
                    ..
                },
            ..
        } => {
            assert_eq!(call.as_str(), "002A");
            assert_eq!(alerting.as_str(), "1001");
            assert_eq!(calling.as_deref(), Some("+4930123456"));
            assert_eq!(called.as_deref(), Some("1001"));
        }
        other => panic!("{other:?}"),
    }
    match &m.map(&corpus_event("transferred_1"))[0] {
        DriverEvent::Call {
            call,
            event:
                CallEventKind::Transferred {
                    secondary,
                    new_call,
                    transferring,
                    transferred_to,
                },
            ..
        } => {
            assert_eq!(call.as_str(), "0001");
            assert_eq!(secondary.as_deref(), Some("0002"));
            assert_eq!(new_call.as_deref(), Some("0003"));
            assert_eq!(transferring.as_str(), "1001");
            assert_eq!(transferred_to.as_deref(), Some("2002"));
        }
        other => panic!("{other:?}"),
    }
    match &m.map(&corpus_event("failed_1"))[0] {
        DriverEvent::Call {
            event: CallEventKind::Failed { device, .. },
            cause,
            ..
        } => {
            assert_eq!(device.as_str(), "2002");
            assert_eq!(*cause, Some(Cause::Busy));
        }
        other => panic!("{other:?}"),
    }
    match &m.map(&corpus_event("agentLoggedOn_1"))[0] {
        DriverEvent::Agent {
            agent,
            event: AgentEventKind::LoggedOn { device, queues },
            ..
        } => {
            assert_eq!(agent.as_str(), "4711");
            assert_eq!(device.as_deref(), Some("1001"));
            assert_eq!(
                queues.iter().map(|q| q.as_str()).collect::<Vec<_>>(),
                ["8000"]
            );
        }
        other => panic!("{other:?}"),
    }
    // Requests and results are not events.
    assert!(m.map(&corpus_event("makeCall_req_1")).is_empty());
}

#[test]
fn every_call_control_event_of_the_corpus_maps() {
    let m = Mapper::new("pbx");
    for name in [
        "serviceInitiated_1",
        "originated_1",
        "delivered_1",
        "queued_1",
        "established_1",
        "held_1",
        "retrieved_1",
        "diverted_1",
        "transferred_1",
        "conferenced_1",
        "connectionCleared_1",
        "callCleared_1",
        "failed_1",
        "agentReady_1",
        "agentNotReady_1",
        "agentLoggedOff_1",
        "agentWorkingAfterCall_1",
    ] {
        assert_eq!(m.map(&corpus_event(name)).len(), 1, "{name}");
    }
}

fn event(xref: &str, name: &str, value: Value) -> Pdu {
    let cat = if name.starts_with("agent") {
        "logicalDeviceFeatureEvents"
    } else {
        "callControlEvents"
    };
    Pdu::from_json(&json!({"kind": "event", "invokeId": 1, "crossRefIdentifier": xref, "category": cat, "event": name, "value": value})).unwrap()
}

fn dev(d: &str) -> Value {
    json!({"deviceIdentifier": {"deviceIdentifier": {"dialingNumber": d}}})
}

fn conn(call: &str, d: &str) -> Value {
    json!({"both": {"callID": call, "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": d}}}}})
}

/// A consultation transfer as OpenScape Voice reports it, from CSTA messages to the normalized
/// picture: the customer's call keeps its Hookflash id although the PBX renames it.
#[test]
fn csta_transfer_with_new_call_id_keeps_the_stable_call_id() {
    let mut m = Mapper::new("pbx");
    m.monitor_started("01", "1001");
    m.monitor_started("02", "1002");
    let mut e = Engine::default();
    let msgs = [
        event(
            "01",
            "delivered",
            json!({"connection": conn("AA01", "1001"), "alertingDevice": dev("1001"), "callingDevice": dev("+4930123456"), "calledDevice": dev("1001"), "lastRedirectionDevice": {"notKnown": null}, "cause": "newCall"}),
        ),
        event(
            "01",
            "established",
            json!({"establishedConnection": conn("AA01", "1001"), "answeringDevice": dev("1001"), "callingDevice": dev("+4930123456"), "calledDevice": dev("1001"), "lastRedirectionDevice": {"notKnown": null}, "cause": "newCall"}),
        ),
        event(
            "01",
            "held",
            json!({"heldConnection": conn("AA01", "1001"), "holdingDevice": dev("1001"), "cause": "normal"}),
        ),
        event(
            "01",
            "originated",
            json!({"originatedConnection": conn("BB02", "1001"), "callingDevice": dev("1001"), "calledDevice": dev("1002"), "cause": "newCall"}),
        ),
        event(
            "02",
            "delivered",
            json!({"connection": conn("BB02", "1002"), "alertingDevice": dev("1002"), "callingDevice": dev("1001"), "calledDevice": dev("1002"), "lastRedirectionDevice": {"notKnown": null}, "cause": "newCall"}),
        ),
        event(
            "02",
            "established",
            json!({"establishedConnection": conn("BB02", "1002"), "answeringDevice": dev("1002"), "callingDevice": dev("1001"), "calledDevice": dev("1002"), "lastRedirectionDevice": {"notKnown": null}, "cause": "newCall"}),
        ),
        event(
            "01",
            "transferred",
            json!({"primaryOldCall": conn("AA01", "1001"), "secondaryOldCall": conn("BB02", "1001"), "transferringDevice": dev("1001"), "transferredToDevice": dev("1002"), "transferredConnections": [{"newConnection": conn("CC03", "1002"), "oldConnection": conn("BB02", "1002")}], "cause": "transfer"}),
        ),
        event(
            "02",
            "connectionCleared",
            json!({"droppedConnection": conn("CC03", "1002"), "releasingDevice": dev("1002"), "cause": "normalClearing"}),
        ),
    ];
    let mut t = 0;
    for msg in &msgs {
        for ev in m.map(msg) {
            t += 100;
            e.handle(Timestamp(t), ev);
        }
    }
    let evs: Vec<_> = e.drain_events().map(|x| x.kind).collect();
    let customer = evs.iter().find_map(|k| match k {
        EventKind::CallOffered {
            call, ani: Some(a), ..
        } if a.raw == "+4930123456" => Some(*call),
        _ => None,
    });
    let customer = customer.expect("the customer's call was offered");
    assert!(evs.iter().any(|k| matches!(k, EventKind::CallTransferred { call, new_alias: Some(a), .. } if *call == customer && a.as_str() == "CC03")));
    assert!(evs.iter().any(|k| matches!(k, EventKind::CallEnded { call, outcome: Outcome::Answered } if *call == customer)));
    let c = e.call(customer).unwrap();
    assert_eq!(c.transfers.len(), 1);
    assert_eq!(c.answered_by.as_deref(), Some("1001"));
}

// ------------------------------------------------------------------ typed path == JSON path

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;

use crate::generated::types::{
    CSTAEventReportArgument, CallAssociatedEvents, CallControlEvents, EventSpecificInfo,
    InvokeLinkedId, LogicalDeviceFeatureEvents,
};

/// An event report PDU around `arg`.
fn report(arg: CSTAEventReportArgument) -> Pdu {
    Pdu::Invoke(pdu::Invoke {
        invoke_id: Some(7),
        linked_id: None::<InvokeLinkedId>,
        opcode: Code::Local(Operation::CSTAEventReport.code()),
        argument: Some(Payload::Typed(Argument::CSTAEventReport(Box::new(arg)))),
    })
}

/// Maps `p` through the typed path and the JSON path, without monitors and with the PDU's own
/// monitor known (so that events lacking a device fall back to the monitored one), and asserts
/// both give the same. Returns how many driver events the typed path gave.
fn assert_paths_agree(p: &Pdu, what: &str) -> usize {
    let mut m = Mapper::new("pbx");
    let bare = m.map(p);
    assert_eq!(bare, m.map_json(p), "{what} (no monitor)");
    assert!(
        bare.len() <= 1,
        "{what}: one event gives at most one driver event"
    );
    assert_eq!(m.map_one(p).into_iter().collect::<Vec<_>>(), bare, "{what}");
    let mut n = bare.len();
    if let Pdu::Invoke(pdu::Invoke {
        argument: Some(Payload::Typed(Argument::CSTAEventReport(arg))),
        ..
    }) = p
    {
        assert_eq!(
            m.map_report(arg).into_iter().collect::<Vec<_>>(),
            bare,
            "{what}"
        );
        // Registered in lower case: the lookup is case-blind on both paths.
        m.monitor_started(
            &arg.cross_ref_identifier.to_hex().to_ascii_lowercase(),
            "9999",
        );
        let monitored = m.map(p);
        assert_eq!(monitored, m.map_json(p), "{what} (monitored)");
        n += monitored.len();
    }
    n
}

fn vector_pdus() -> Vec<(String, Pdu)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut out = Vec::new();
    for seed in ["seed0", "seed1", "seed42"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(seed))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ber"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = Bytes::from(std::fs::read(&path).unwrap());
            let p = pdu::decode(&bytes).unwrap();
            out.push((format!("{seed}/{}", path.display()), p));
        }
    }
    out
}

#[test]
fn typed_and_json_paths_agree_on_every_conformance_vector() {
    let pdus = vector_pdus();
    let mut events = 0;
    let mut mapped = 0;
    for (name, p) in &pdus {
        if matches!(event_report(p), Report::Typed(_)) {
            events += 1;
        }
        if assert_paths_agree(p, name) > 0 {
            mapped += 1;
        }
    }
    // The three corpora hold every event the mapper knows, each a few times.
    assert!(pdus.len() >= 900, "{} vectors", pdus.len());
    assert!(
        events >= 150,
        "only {events} event reports among the vectors"
    );
    assert!(mapped >= 90, "only {mapped} vectors gave driver events");
}

/// An event report from `seed`: any report, or one of the categories the mapper reads (so
/// that most generated reports are events it maps).
fn arbitrary_report(seed: &[u8], which: u8) -> Option<CSTAEventReportArgument> {
    let mut u = Unstructured::new(seed);
    let mut arg = CSTAEventReportArgument {
        cross_ref_identifier: u.arbitrary().ok()?,
        ..CSTAEventReportArgument::default()
    };
    arg.event_specific_info = match which % 4 {
        0 => EventSpecificInfo::arbitrary(&mut u).ok()?,
        1 => EventSpecificInfo::LogicalDeviceFeatureEvents(
            LogicalDeviceFeatureEvents::arbitrary(&mut u).ok()?,
        ),
        2 => EventSpecificInfo::CallAssociatedEvents(CallAssociatedEvents::arbitrary(&mut u).ok()?),
        _ => EventSpecificInfo::CallControlEvents(CallControlEvents::arbitrary(&mut u).ok()?),
    };
    Some(arg)
}

/// Generated event reports of every kind (deterministic seeds): the typed path gives what the
/// JSON path gives, and the generator reaches every driver event the mapper makes.
#[test]
fn typed_and_json_paths_agree_on_generated_events() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut mapped = 0;
    for i in 0..3000u32 {
        let seed: Vec<u8> = (0..768u32)
            .map(|k| {
                (k.wrapping_mul(2654435761)
                    .wrapping_add(i.wrapping_mul(40503))
                    >> 11) as u8
            })
            .collect();
        let Some(arg) = arbitrary_report(&seed, (i % 8) as u8) else {
            continue;
        };
        let p = report(arg);
        if assert_paths_agree(&p, &format!("seed {i}: {p:?}")) > 0 {
            mapped += 1;
            let m = Mapper::new("pbx");
            for ev in m.map(&p) {
                kinds.insert(match ev {
                    DriverEvent::Call { event, .. } => format!("{event:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap()
                        .to_owned(),
                    DriverEvent::Agent { event, .. } => format!("{event:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap()
                        .to_owned(),
                    other => format!("{other:?}"),
                });
            }
        }
    }
    assert!(mapped >= 300, "only {mapped} generated reports mapped");
    for k in [
        "ServiceInitiated",
        "Originated",
        "Delivered",
        "Queued",
        "Established",
        "Held",
        "Retrieved",
        "Diverted",
        "Transferred",
        "Conferenced",
        "ConnectionCleared",
        "CallCleared",
        "Failed",
        "State",
        "CallData",
        "LoggedOn",
        "LoggedOff",
        "Ready",
        "NotReady",
        "WorkingAfterCall",
    ] {
        assert!(kinds.contains(k), "no generated {k}: {kinds:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The typed path gives what the JSON path gives, for generated event reports.
    #[test]
    fn typed_path_equals_json_path(seed in proptest::collection::vec(any::<u8>(), 64..1024), which in any::<u8>()) {
        if let Some(arg) = arbitrary_report(&seed, which) {
            let p = report(arg);
            assert_paths_agree(&p, &format!("{p:?}"));
        }
    }
}

/// A report whose argument stayed raw goes through the JSON path (and today maps to nothing:
/// its document is a request with `argumentHex`); a vendor operation likewise.
#[test]
fn raw_arguments_take_the_json_path() {
    let wire = pdu::encode_to_vec(&corpus_event("delivered_1"));
    let Pdu::Invoke(mut inv) = corpus_event("delivered_1") else {
        panic!("an invoke");
    };
    let Some(Payload::Typed(a)) = inv.argument.take() else {
        panic!("typed");
    };
    let mut raw = Vec::new();
    a.enc(&mut raw);
    inv.argument = Some(Payload::Raw(crate::ber::Any(Bytes::from(raw))));
    let raw_report = Pdu::Invoke(inv.clone());
    assert_paths_agree(&raw_report, "raw event report");
    inv.opcode = Code::Local(9999);
    assert_paths_agree(&Pdu::Invoke(inv), "vendor operation");
    assert!(!wire.is_empty());
}

/// Cross references longer than the stack buffer (32 octets) still find their monitor.
#[test]
fn long_cross_references_find_their_monitor() {
    let Pdu::Invoke(mut inv) = corpus_event("held_1") else {
        panic!("an invoke");
    };
    let Some(Payload::Typed(Argument::CSTAEventReport(arg))) = inv.argument.as_mut() else {
        panic!("an event report");
    };
    arg.cross_ref_identifier = crate::ber::OctetString::from(vec![0xab; 40]);
    if let EventSpecificInfo::CallControlEvents(CallControlEvents::Held(h)) =
        &mut arg.event_specific_info
    {
        h.holding_device = crate::generated::types::SubjectDeviceID::NotKnown(());
        h.held_connection =
            crate::generated::types::ConnectionID::CallID(crate::ber::OctetString::from(vec![
                0x01, 0x02,
            ]));
    }
    let p = Pdu::Invoke(inv);
    let mut m = Mapper::new("pbx");
    assert!(m.map(&p).is_empty());
    m.monitor_started(&"ab".repeat(40), "1001");
    match &m.map(&p)[..] {
        [
            DriverEvent::Call {
                call,
                event: CallEventKind::Held { device },
                ..
            },
        ] => {
            assert_eq!(call.as_str(), "0102");
            assert_eq!(device.as_str(), "1001");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.map(&p), m.map_json(&p));
}

/// Values the generator does not make — unknown CHOICE alternatives, ENUMERATED values and
/// types of number, device numbers, dynamic and "other" device ids — map alike on both paths.
#[test]
fn typed_and_json_paths_agree_on_unusual_values() {
    use crate::ber::{Any, OctetString, Text};
    use crate::generated::types::{
        CalledDeviceID, CallingDeviceID, ConnectionID, ConnectionIDBoth, DeviceID,
        DeviceIDDeviceIdentifier as Ident, EventCause, LocalConnectionState, LocalDeviceID,
        PrivateTON, PublicTON, SubjectDeviceID,
    };
    let raw = || Any(Bytes::from_static(&[0x89, 0x02, 0x31, 0x32]));
    let ident = |i: Ident| DeviceID {
        device_identifier: i,
        ..DeviceID::default()
    };
    let idents = vec![
        Ident::DialingNumber(Text::from("+4930123")),
        Ident::DialingNumber(Text(vec![0x31, 0xff, 0x32].into())),
        Ident::DeviceNumber(-42),
        Ident::ImplicitPublic(Text::from("0301")),
        Ident::ImplicitPrivate(Text::from("77")),
        Ident::ExplicitPublic(PublicTON::International(Text::from("4930"))),
        Ident::ExplicitPublic(PublicTON::International(Text::from("+4930"))),
        Ident::ExplicitPublic(PublicTON::National(Text::from("030"))),
        Ident::ExplicitPublic(PublicTON::Unrecognized(raw())),
        Ident::ExplicitPrivate(PrivateTON::LocalNumber(Text::from("12"))),
        Ident::ExplicitPrivate(PrivateTON::Unrecognized(raw())),
        Ident::Other(OctetString::from(vec![0x00, 0xfe])),
        Ident::Unrecognized(raw()),
    ];
    let conns = |i: &Ident| {
        vec![
            ConnectionID::CallID(OctetString::from(vec![0x00, 0x2a])),
            ConnectionID::CallID(OctetString::from(Vec::new())),
            ConnectionID::DeviceID(LocalDeviceID::StaticID(ident(i.clone()))),
            ConnectionID::Both(ConnectionIDBoth {
                call_id: OctetString::from(vec![0xab]),
                device_id: LocalDeviceID::StaticID(ident(i.clone())),
                unrecognized: Default::default(),
            }),
            ConnectionID::Both(ConnectionIDBoth {
                call_id: OctetString::from(vec![0xab]),
                device_id: LocalDeviceID::DynamicID(OctetString::from(vec![0x10, 0x01])),
                unrecognized: Default::default(),
            }),
            ConnectionID::Both(ConnectionIDBoth {
                call_id: OctetString::from(vec![0xab]),
                device_id: LocalDeviceID::Unrecognized(raw()),
                unrecognized: Default::default(),
            }),
            ConnectionID::Unrecognized(raw()),
        ]
    };
    let mut n = 0;
    for name in [
        "delivered_1",
        "offered_1",
        "networkReached_1",
        "agentLoggedOn_1",
    ] {
        let Pdu::Invoke(inv) = corpus_event(name) else {
            panic!("{name}");
        };
        for i in &idents {
            for c in conns(i) {
                for unknown in [false, true] {
                    let mut inv = inv.clone();
                    let Some(Payload::Typed(Argument::CSTAEventReport(arg))) =
                        inv.argument.as_mut()
                    else {
                        panic!("{name}");
                    };
                    match &mut arg.event_specific_info {
                        EventSpecificInfo::CallControlEvents(CallControlEvents::Delivered(e)) => {
                            e.connection = c.clone();
                            e.alerting_device = SubjectDeviceID::DeviceIdentifier(ident(i.clone()));
                            e.calling_device = CallingDeviceID::DeviceIdentifier(ident(i.clone()));
                            e.called_device = CalledDeviceID::Unrecognized(raw());
                            if unknown {
                                e.alerting_device = SubjectDeviceID::Unrecognized(raw());
                                e.cause = EventCause::Unrecognized(999);
                            }
                        }
                        EventSpecificInfo::CallControlEvents(CallControlEvents::Offered(e)) => {
                            e.offered_connection = c.clone();
                            e.local_connection_info = Some(if unknown {
                                LocalConnectionState::Unrecognized(77)
                            } else {
                                LocalConnectionState::Hold
                            });
                        }
                        EventSpecificInfo::CallControlEvents(
                            CallControlEvents::NetworkReached(e),
                        ) => {
                            e.outbound_connection = c.clone();
                            e.local_connection_info =
                                (!unknown).then_some(LocalConnectionState::Connected);
                        }
                        EventSpecificInfo::LogicalDeviceFeatureEvents(
                            LogicalDeviceFeatureEvents::AgentLoggedOn(e),
                        ) => {
                            e.agent_device = SubjectDeviceID::DeviceIdentifier(ident(i.clone()));
                            e.acd_group = Some(Box::new(ident(i.clone())));
                            e.agent_id = unknown.then(|| OctetString::from(vec![0x41, 0x07]));
                        }
                        other => panic!("{other:?}"),
                    }
                    let p = Pdu::Invoke(inv);
                    n += assert_paths_agree(&p, &format!("{name}: {p:?}"));
                }
            }
        }
    }
    assert!(n > 200, "only {n} driver events");
    // An unknown category of event, and an unknown event of a known category.
    for info in [
        EventSpecificInfo::Unrecognized(raw()),
        EventSpecificInfo::CallControlEvents(CallControlEvents::Unrecognized(raw())),
    ] {
        let p = report(CSTAEventReportArgument {
            cross_ref_identifier: OctetString::from(vec![1]),
            event_specific_info: info,
            unrecognized: vec![raw()].into(),
        });
        assert_eq!(assert_paths_agree(&p, "unknown event"), 0);
    }
}

/// How long mapping one event report takes on each path (the event reports of the three
/// conformance corpora, each mapped many times). Run in release:
/// `cargo test --release -p hookflash-csta --lib mapping::tests::mapping_speed -- --ignored --nocapture`
#[test]
#[ignore = "a measurement; prints nanoseconds per event"]
fn mapping_speed() {
    let pdus: Vec<Pdu> = vector_pdus()
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| matches!(event_report(p), Report::Typed(_)))
        .collect();
    let mut m = Mapper::new("pbx");
    m.monitor_started("0001", "1001");
    let rounds = 2_000;
    let time = |f: &dyn Fn(&Pdu) -> usize| {
        let start = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..rounds {
            for p in &pdus {
                n += f(p);
            }
        }
        (
            start.elapsed().as_nanos() as f64 / (rounds * pdus.len()) as f64,
            n,
        )
    };
    let (typed, a) = time(&|p| m.map(p).len());
    let (json, b) = time(&|p| m.map_json(p).len());
    assert_eq!(a, b);
    println!(
        "{} event reports x {rounds}: typed {typed:.0} ns, JSON {json:.0} ns per event ({:.1} x)",
        pdus.len(),
        json / typed
    );
}

fn vector(seed: &str, name: &str) -> Pdu {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(seed)
        .join(format!("{name}.ber"));
    pdu::decode(&Bytes::from(std::fs::read(p).unwrap())).unwrap()
}

#[test]
fn bridged_and_digits_dialed_report_their_connection_state() {
    let m = Mapper::new("pbx");
    for (seed, name, call, device, state) in [
        (
            "seed0",
            "bridged_1",
            "002A",
            "1001",
            ConnectionState::Connected,
        ),
        (
            "seed1",
            "digitsDialed_1",
            "843C",
            "3896",
            ConnectionState::Initiated,
        ),
    ] {
        let pdu = vector(seed, name);
        let got = m.map(&pdu);
        assert_eq!(got, m.map_json(&pdu), "{name}: typed and JSON paths agree");
        match got.as_slice() {
            [
                DriverEvent::Call {
                    call: c,
                    event:
                        CallEventKind::State {
                            device: d,
                            state: s,
                        },
                    ..
                },
            ] => {
                assert_eq!(c.as_str(), call, "{name}");
                assert_eq!(d.as_str(), device, "{name}");
                assert_eq!(*s, state, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // networkCapabilitiesChanged carries no connection state in these vectors: nothing to say.
    let pdu = vector("seed42", "networkCapabilitiesChanged_1");
    assert_eq!(m.map(&pdu), Vec::new());
}

#[test]
fn call_information_attaches_account_and_authorisation_codes_as_text() {
    let m = Mapper::new("pbx");
    for (name, want) in [
        ("callInformation_1", ("accountInfo", "99")),
        ("callInformation_2", ("authCode", "4711")),
    ] {
        let pdu = vector("seed0", name);
        let got = m.map(&pdu);
        assert_eq!(got, m.map_json(&pdu), "{name}: typed and JSON paths agree");
        match got.as_slice() {
            [
                DriverEvent::Call {
                    event: CallEventKind::CallData { attached, .. },
                    ..
                },
            ] => assert_eq!(
                attached,
                &vec![(want.0.to_owned(), want.1.to_owned())],
                "{name}"
            ),
            other => panic!("{name}: {other:?}"),
        }
    }
}
