use bytes::Bytes;
use hookflash_core::engine::Engine;
use hookflash_core::event::EventKind;
use hookflash_core::model::{Outcome, Timestamp};
use serde_json::json;

use super::*;
use crate::pdu;

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
