//! Scenario tests: a scripted PBX peer (built from this crate's codec) against the client.

use bytes::Bytes;
use hookflash_core::driver::{AgentEventKind, CallEventKind, DriverEvent};
use hookflash_core::model::ConnectionState;
use serde_json::{Value, json};

use super::*;

const T0: u64 = 1_000;

/// The PBX side of a BER link: decodes what the client sent, encodes answers.
struct Peer {
    framing: Framing,
}

impl Peer {
    fn read(&self, client: &mut Client) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(bytes) = client.poll_transmit() {
            let f = framing::next_frame(self.framing, &bytes, 1 << 20)
                .unwrap()
                .unwrap();
            assert_eq!(f.consumed, bytes.len(), "one frame per transmit");
            let p = pdu::decode(&Bytes::copy_from_slice(&bytes[f.payload])).unwrap();
            out.push(p.to_jer());
        }
        out
    }

    fn frame(&self, doc: &Value) -> Vec<u8> {
        let p = Pdu::from_jer(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        let mut out = Vec::new();
        framing::write_frame(self.framing, &pdu::encode_to_vec(&p), None, &mut out).unwrap();
        out
    }

    fn send(&self, client: &mut Client, now: u64, doc: &Value) {
        client.handle_input(now, &self.frame(doc));
    }
}

fn aare(result: i64) -> Value {
    json!({"acse": "aare", "apdu": {"protocol-version": {"value": "80", "length": 1},
        "aSO-context-name": pdu::CSTA3_USER_INFORMATION_OID, "result": result,
        "result-source-diagnostic": {"service-user": if result == 0 { 0 } else { 1 }}}})
}

fn result(iid: &Value, op: &str, result: Value) -> Value {
    json!({"rose": "returnResult", "invokeId": iid, "operation": op, "result": result})
}

fn error(iid: &Value, category: &str, name: &str) -> Value {
    json!({"rose": "returnError", "invokeId": iid, "error": "universalFailure",
        "parameter": {category: name}})
}

fn ber_client(window: usize) -> (Client, Peer) {
    let mut cfg = Config::new(
        "pbx",
        Wire::Ber {
            framing: Framing::Len2,
            associate: true,
            credentials: Some(Credentials {
                user: "AMHOST".into(),
                password: "77777".into(),
            }),
        },
    );
    cfg.monitor_window = window;
    (
        Client::new(cfg),
        Peer {
            framing: Framing::Len2,
        },
    )
}

fn events(c: &mut Client) -> Vec<ClientEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn driver_events(evs: &[ClientEvent]) -> Vec<&DriverEvent> {
    evs.iter()
        .filter_map(|e| match e {
            ClientEvent::Driver(d) | ClientEvent::StampedDriver { event: d, .. } => Some(d),
            _ => None,
        })
        .collect()
}

/// Associates the client (checking the AARQ's credentials).
fn associate(c: &mut Client, p: &Peer) {
    c.handle_connect(T0);
    let sent = p.read(c);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["acse"], "aarq");
    let aarq = Pdu::from_jer(&sent[0]).unwrap();
    assert_eq!(
        aarq_credentials(&aarq),
        Some(Credentials {
            user: "AMHOST".into(),
            password: "77777".into()
        })
    );
    p.send(c, T0, &aare(0));
}

#[test]
fn association_with_credentials_then_link_up() {
    let (mut c, p) = ber_client(8);
    associate(&mut c, &p);
    let evs = events(&mut c);
    let link = LinkId::from("pbx");
    assert_eq!(
        driver_events(&evs),
        vec![
            &DriverEvent::LinkVisibility {
                link: link.clone(),
                through_monitors_only: true
            },
            &DriverEvent::LinkResyncing { link: link.clone() },
            &DriverEvent::LinkUp { link }
        ]
    );
    assert!(c.is_up());
}

#[test]
fn a_refused_association_is_reported() {
    let (mut c, p) = ber_client(8);
    c.handle_connect(T0);
    p.read(&mut c);
    p.send(&mut c, T0, &aare(1));
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Refused { .. }))
    );
    assert!(!c.is_associated());
}

#[test]
fn an_unanswered_association_loses_the_link() {
    let (mut c, p) = ber_client(8);
    c.handle_connect(T0);
    p.read(&mut c);
    let at = c.poll_timeout().unwrap();
    assert_eq!(at, T0 + DEFAULT_REQUEST_TIMEOUT_MS);
    c.handle_timeout(at - 1);
    assert!(events(&mut c).is_empty());
    c.handle_timeout(at);
    assert_eq!(events(&mut c), vec![ClientEvent::Lost]);
}

/// A PBX that answers monitors and snapshots; devices in `invalid` are refused, and at most
/// `limit` monitors are granted. Returns the largest number of requests seen in flight.
fn serve_monitors(c: &mut Client, p: &Peer, invalid: &[&str], limit: usize) -> usize {
    let mut granted = 0usize;
    let mut max_in_flight = 0;
    loop {
        let sent = p.read(c);
        if sent.is_empty() {
            break;
        }
        max_in_flight = max_in_flight.max(c.in_flight());
        for req in sent {
            let iid = &req["invokeId"];
            let answer = match req["operation"].as_str().unwrap() {
                "monitorStart" => {
                    let dev = req["argument"]["monitorObject"]["deviceObject"]["deviceIdentifier"]
                        ["dialingNumber"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    if invalid.contains(&dev.as_str()) {
                        error(iid, "operation", "invalidDeviceID")
                    } else if granted >= limit {
                        error(
                            iid,
                            "systemResourceAvailability",
                            "overallMonitorLimitExceeded",
                        )
                    } else {
                        granted += 1;
                        result(
                            iid,
                            "monitorStart",
                            json!({"crossRefIdentifier": format!("{:04X}", dev.parse::<u32>().unwrap())}),
                        )
                    }
                }
                "snapshotDevice" => {
                    let dev =
                        req["argument"]["snapshotObject"]["deviceIdentifier"]["dialingNumber"]
                            .as_str()
                            .unwrap()
                            .to_owned();
                    let data = if dev == "1001" {
                        json!([{"connectionIdentifier": {"both": {"callID": "00AB", "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": "1001"}}}}},
                            "localCallState": {"compoundCallState": ["alerting", "connected"]}}])
                    } else {
                        json!([])
                    };
                    result(
                        iid,
                        "snapshotDevice",
                        json!({"crossRefIDorSnapshotData": {"snapshotData": data}}),
                    )
                }
                "getAgentState" => {
                    let dev = req["argument"]["device"]["deviceIdentifier"]["dialingNumber"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    // Agent A1001 logged on (not ready) at 1001 before the link came up.
                    let list = if dev == "1001" {
                        json!([{"agentID": "4131303031", "loggedOn": true,
                            "agentInfo": [{"agentState": "agentNotReady"}]}])
                    } else {
                        json!([])
                    };
                    result(iid, "getAgentState", json!({"agentStateList": list}))
                }
                other => panic!("unexpected {other}"),
            };
            p.send(c, T0, &answer);
        }
    }
    max_in_flight
}

#[test]
fn monitors_are_pipelined_in_a_window_with_per_device_results_and_snapshots() {
    let (mut c, p) = ber_client(16);
    associate(&mut c, &p);
    events(&mut c);
    let devices: Vec<DeviceId> = (1000..1300)
        .map(|n| DeviceId::from(n.to_string()))
        .collect();
    let reqs: Vec<RequestId> = devices.iter().map(|d| c.monitor(T0, d.clone())).collect();
    let max = serve_monitors(&mut c, &p, &["1005"], 250);
    assert!(max <= 16, "window exceeded: {max}");
    assert!(max >= 8, "no pipelining: {max}");
    let evs = events(&mut c);
    let mut ok = 0;
    let mut invalid = Vec::new();
    let mut limited = 0;
    for e in &evs {
        if let ClientEvent::Monitored {
            request,
            device,
            result,
        } = e
        {
            assert!(reqs.contains(request));
            match result {
                Ok(()) => ok += 1,
                Err(ClientError::InvalidDevice(d)) => invalid.push(d.clone()),
                Err(ClientError::MonitorLimit) => limited += 1,
                Err(e) => panic!("{device}: {e}"),
            }
        }
    }
    assert_eq!((ok, invalid.len(), limited), (250, 1, 49));
    assert_eq!(invalid, vec![DeviceId::from("1005")]);
    let snaps: Vec<_> = driver_events(&evs)
        .into_iter()
        .filter_map(|e| match e {
            DriverEvent::DeviceSnapshot { device, calls, .. } => Some((device.clone(), calls)),
            _ => None,
        })
        .collect();
    assert_eq!(snaps.len(), 250);
    let s1001 = snaps.iter().find(|(d, _)| d.as_str() == "1001").unwrap();
    assert_eq!(s1001.1.len(), 1);
    assert_eq!(s1001.1[0].call.as_str(), "00AB");
    assert_eq!(s1001.1[0].state, ConnectionState::Alerting);
    // The agent logged on at 1001 before the link came up is learned from GetAgentState.
    let agents: Vec<_> = driver_events(&evs)
        .into_iter()
        .filter_map(|e| match e {
            DriverEvent::Agent { agent, event, .. } => Some((agent.to_string(), event.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        agents,
        vec![
            (
                "A1001".to_owned(),
                AgentEventKind::LoggedOn {
                    device: Some("1001".into()),
                    queues: vec![]
                }
            ),
            (
                "A1001".to_owned(),
                AgentEventKind::NotReady { reason: None }
            ),
        ]
    );
    assert_eq!(c.monitored(), 250);
    // Refused devices are not kept.
    assert_eq!(c.wanted().count(), 250);
    // Agent commands name the agent's device, not the agent id.
    p.read(&mut c);
    c.execute(
        T0,
        &Command::AgentReady {
            agent: "A1001".into(),
        },
        &HashMap::new(),
    );
    let req = p.read(&mut c).pop().expect("a setAgentState request");
    assert_eq!(req["operation"], "setAgentState", "{req}");
    assert_eq!(
        req["argument"]["device"]["deviceIdentifier"]["dialingNumber"], "1001",
        "{req}"
    );
}

#[test]
fn events_map_through_the_monitor_cross_reference() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    c.monitor(T0, "1001".into());
    serve_monitors(&mut c, &p, &[], 10);
    events(&mut c);
    let held = json!({"rose": "invoke", "invokeId": 7, "operation": "cSTAEventReport",
        "argument": {"crossRefIdentifier": "03E9", "eventSpecificInfo": {"callControlEvents": {"held": {
            "heldConnection": {"both": {"callID": "00AB", "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": "1001"}}}}},
            "holdingDevice": {"deviceIdentifier": {"deviceIdentifier": {"dialingNumber": "1001"}}},
            "localConnectionInfo": "hold", "cause": "normal"}}}}});
    p.send(&mut c, T0, &held);
    let evs = events(&mut c);
    match driver_events(&evs).as_slice() {
        [DriverEvent::Call { call, event, .. }] => {
            assert_eq!(call.as_str(), "00AB");
            assert_eq!(
                event,
                &CallEventKind::Held {
                    device: "1001".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_event_the_pbx_stamped_carries_its_time() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    c.monitor(T0, "1001".into());
    serve_monitors(&mut c, &p, &[], 10);
    events(&mut c);
    let held = |call: &str, extensions: Value| {
        let mut held = json!({
            "heldConnection": {"both": {"callID": call, "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": "1001"}}}}},
            "holdingDevice": {"deviceIdentifier": {"deviceIdentifier": {"dialingNumber": "1001"}}},
            "localConnectionInfo": "hold", "cause": "normal"});
        if !extensions.is_null() {
            held["extensions"] = extensions;
        }
        json!({"rose": "invoke", "invokeId": 7, "operation": "cSTAEventReport",
            "argument": {"crossRefIdentifier": "03E9",
                "eventSpecificInfo": {"callControlEvents": {"held": held}}}})
    };
    let stamp = |t: &str| json!({"security": {"timestamp": t}});
    p.send(&mut c, T0, &held("00AB", stamp("20261124040533.123456Z")));
    // A time that is not one, and no time: the event, unstamped.
    p.send(&mut c, T0, &held("00AC", stamp("yesterday")));
    p.send(&mut c, T0, &held("00AD", Value::Null));
    let evs = events(&mut c);
    let stamps: Vec<(String, Option<u64>)> = evs
        .iter()
        .filter_map(|e| match e {
            ClientEvent::StampedDriver {
                event: DriverEvent::Call { call, .. },
                pbx_time_us,
            } => Some((call.to_string(), Some(*pbx_time_us))),
            ClientEvent::Driver(DriverEvent::Call { call, .. }) => Some((call.to_string(), None)),
            _ => None,
        })
        .collect();
    assert_eq!(
        stamps,
        vec![
            ("00AB".to_string(), Some(1_795_493_133_123_456)),
            ("00AC".to_string(), None),
            ("00AD".to_string(), None),
        ]
    );
}

#[test]
fn commands_become_requests_and_results_outcomes() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    events(&mut c);
    let make = c.execute(
        T0,
        &Command::MakeCall {
            from: "1001".into(),
            to: "1002".into(),
        },
        &HashMap::new(),
    );
    let sent = p.read(&mut c);
    assert_eq!(sent[0]["operation"], "makeCall");
    assert_eq!(
        sent[0]["argument"]["calledDirectoryNumber"]["deviceIdentifier"]["dialingNumber"],
        "1002"
    );
    p.send(
        &mut c,
        T0,
        &result(
            &sent[0]["invokeId"],
            "makeCall",
            json!({"callingDevice": {"both": {"callID": "42b0", "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": "1001"}}}}}}),
        ),
    );
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Executed {
            request: make,
            result: Ok(Some("42B0".into()))
        }]
    );
    // Hold with the native id; the PBX refuses it for the state.
    let mut native = HashMap::new();
    native.insert(CallId(7), NativeCallId::from("42B0"));
    let hold = c.execute(
        T0,
        &Command::Hold {
            call: CallId(7),
            device: "1001".into(),
        },
        &native,
    );
    let sent = p.read(&mut c);
    assert_eq!(
        sent[0]["argument"]["callToBeHeld"]["both"]["callID"],
        "42B0"
    );
    p.send(
        &mut c,
        T0,
        &error(
            &sent[0]["invokeId"],
            "stateIncompatibility",
            "invalidConnectionState",
        ),
    );
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Executed {
            request: hold,
            result: Err(ClientError::NotPermitted)
        }]
    );
    // A call the link does not know cannot be named.
    let r = c.execute(
        T0,
        &Command::Hold {
            call: CallId(8),
            device: "1001".into(),
        },
        &native,
    );
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Executed {
            request: r,
            result: Err(ClientError::InvalidCall)
        }]
    );
    // Another error keeps the PBX's cause with its number.
    let clear = c.execute(T0, &Command::ClearCall { call: CallId(7) }, &native);
    let sent = p.read(&mut c);
    p.send(
        &mut c,
        T0,
        &error(
            &sent[0]["invokeId"],
            "operation",
            "requestIncompatibleWithObject",
        ),
    );
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Executed {
            request: clear,
            result: Err(ClientError::Pbx {
                code: Some(2),
                name: "requestIncompatibleWithObject".into()
            })
        }]
    );
}

#[test]
fn every_command_encodes() {
    let mut native = HashMap::new();
    native.insert(CallId(1), NativeCallId::from("0A"));
    native.insert(CallId(2), NativeCallId::from("0B"));
    let d = DeviceId::from("100");
    let cmds = vec![
        Command::MakeCall {
            from: d.clone(),
            to: "200".into(),
        },
        Command::Answer {
            call: CallId(1),
            device: d.clone(),
        },
        Command::Clear {
            call: CallId(1),
            device: d.clone(),
        },
        Command::ClearCall { call: CallId(1) },
        Command::Hold {
            call: CallId(1),
            device: d.clone(),
        },
        Command::Retrieve {
            call: CallId(1),
            device: d.clone(),
        },
        Command::Consult {
            call: CallId(1),
            device: d.clone(),
            to: "300".into(),
        },
        Command::Transfer {
            held: CallId(1),
            active: CallId(2),
            device: d.clone(),
        },
        Command::Conference {
            held: CallId(1),
            active: CallId(2),
            device: d.clone(),
        },
        Command::SingleStepTransfer {
            call: CallId(1),
            device: d.clone(),
            to: "300".into(),
        },
        Command::SingleStepConference {
            call: CallId(1),
            device: d.clone(),
            to: "300".into(),
        },
        Command::Deflect {
            call: CallId(1),
            device: d.clone(),
            to: "300".into(),
        },
        Command::Pickup {
            device: d.clone(),
            from: Some("101".into()),
        },
        Command::Pickup {
            device: d.clone(),
            from: None,
        },
        Command::Alternate {
            held: CallId(1),
            active: CallId(2),
            device: d.clone(),
        },
        Command::Reconnect {
            held: CallId(1),
            active: CallId(2),
            device: d.clone(),
        },
        Command::SendDigits {
            call: CallId(1),
            device: d.clone(),
            digits: "12#".into(),
        },
        Command::AgentLogin {
            agent: "a1".into(),
            device: d.clone(),
            queues: vec!["q1".into()],
        },
        Command::AgentLogout { agent: "a1".into() },
        Command::AgentReady { agent: "a1".into() },
        Command::AgentNotReady {
            agent: "a1".into(),
            reason: None,
        },
        Command::AgentAfterCallWork { agent: "a1".into() },
    ];
    for cmd in cmds {
        let r = requests::request_for(&cmd, &native).unwrap();
        let doc = json!({"rose": "invoke", "invokeId": 1, "operation": r.service, "argument": r.argument});
        let p = Pdu::from_jer(&doc).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        // BER and XML both carry it.
        let back = pdu::decode(&Bytes::from(pdu::encode_to_vec(&p))).unwrap();
        assert_eq!(back, p, "{cmd:?}");
        let mut xml = Vec::new();
        crate::xml::encode(&p, &crate::xml::Edition::ED4, &mut xml)
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    }
    assert_eq!(
        requests::request_for(
            &Command::AttachData {
                call: CallId(1),
                data: vec![]
            },
            &native
        ),
        Err(ClientError::Unsupported)
    );
}

#[test]
fn a_disconnect_fails_everything_in_flight_at_once_and_a_reconnect_remonitors() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    c.monitor(T0, "1001".into());
    c.monitor(T0, "1002".into());
    serve_monitors(&mut c, &p, &[], 10);
    events(&mut c);
    let r = c.execute(
        T0,
        &Command::MakeCall {
            from: "1001".into(),
            to: "9".into(),
        },
        &HashMap::new(),
    );
    let pending = c.monitor(T0, "1003".into());
    assert_eq!(p.read(&mut c).len(), 2);
    c.handle_disconnect(T0 + 5);
    let evs = events(&mut c);
    assert!(evs.contains(&ClientEvent::Executed {
        request: r,
        result: Err(ClientError::LinkDown)
    }));
    assert!(evs.iter().any(|e| matches!(e, ClientEvent::Monitored { request, result: Err(ClientError::LinkDown), .. } if *request == pending)));
    assert!(driver_events(&evs).contains(&&DriverEvent::LinkDown { link: "pbx".into() }));
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.poll_timeout(), None);
    // Commands while down fail at once.
    let r2 = c.execute(T0, &Command::ClearCall { call: CallId(1) }, &HashMap::new());
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Executed {
            request: r2,
            result: Err(ClientError::LinkDown)
        }]
    );
    // A device monitored before the outage stays monitored; a new one is refused.
    let kept = c.monitor(T0, "1001".into());
    let new = c.monitor(T0, "1999".into());
    assert_eq!(
        events(&mut c),
        vec![
            ClientEvent::Monitored {
                request: kept,
                device: "1001".into(),
                result: Ok(())
            },
            ClientEvent::Monitored {
                request: new,
                device: "1999".into(),
                result: Err(ClientError::LinkDown)
            }
        ]
    );
    // Reconnect: every wanted device is monitored again and snapshotted, then the link is up.
    associate(&mut c, &p);
    serve_monitors(&mut c, &p, &[], 10);
    let evs = events(&mut c);
    let d = driver_events(&evs);
    assert_eq!(
        d.get(..2),
        Some(
            &[
                &DriverEvent::LinkVisibility {
                    link: "pbx".into(),
                    through_monitors_only: true
                },
                &DriverEvent::LinkResyncing { link: "pbx".into() }
            ][..]
        )
    );
    assert_eq!(d.last(), Some(&&DriverEvent::LinkUp { link: "pbx".into() }));
    let snaps = d
        .iter()
        .filter(|e| matches!(e, DriverEvent::DeviceSnapshot { .. }))
        .count();
    assert_eq!(snaps, 3);
    assert_eq!(c.monitored(), 3);
}

#[test]
fn polls_are_answered_keep_alives_sent_and_timeouts_reported() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    events(&mut c);
    // The PBX polls: the client answers with the same invoke id.
    p.send(&mut c, T0, &json!({"rose": "invoke", "invokeId": 77, "operation": "systemStatus", "argument": {"systemStatus": "normal"}}));
    let sent = p.read(&mut c);
    assert_eq!(sent[0]["rose"], "returnResult");
    assert_eq!(sent[0]["invokeId"], 77);
    // A keep-alive that is answered keeps the link.
    c.handle_keep_alive(T0 + 30_000);
    let sent = p.read(&mut c);
    assert_eq!(sent[0]["operation"], "systemStatus");
    p.send(
        &mut c,
        T0 + 30_001,
        &result(
            &sent[0]["invokeId"],
            "systemStatus",
            json!({"noData": null}),
        ),
    );
    assert!(events(&mut c).is_empty());
    // A command times out; an unanswered keep-alive loses the link.
    let r = c.execute(
        T0 + 40_000,
        &Command::MakeCall {
            from: "1".into(),
            to: "2".into(),
        },
        &HashMap::new(),
    );
    c.handle_keep_alive(T0 + 41_000);
    p.read(&mut c);
    c.handle_timeout(T0 + 50_000);
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Executed {
            request: r,
            result: Err(ClientError::Timeout)
        }]
    );
    c.handle_timeout(T0 + 51_000);
    assert_eq!(events(&mut c), vec![ClientEvent::Lost]);
}

#[test]
fn garbage_and_unknown_answers_do_not_hurt() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    events(&mut c);
    // A frame of garbage, an answer to nothing, then a good poll split in pieces.
    let mut bytes = vec![0x00, 0x03, 0xFF, 0xFF, 0xFF];
    bytes.extend(p.frame(&result(&json!(4242), "holdCall", json!({"noData": null}))));
    bytes.extend(p.frame(&json!({"rose": "invoke", "invokeId": 5, "operation": "systemStatus", "argument": {"systemStatus": "normal"}})));
    for chunk in bytes.chunks(3) {
        c.handle_input(T0, chunk);
    }
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Malformed { .. }))
    );
    assert_eq!(p.read(&mut c).len(), 1);
    assert!(c.is_up());
}

fn xml_frame(xml: &str, id: u16) -> Vec<u8> {
    let mut f = Vec::new();
    framing::write_frame(Framing::XmlHeader, xml.as_bytes(), Some(id), &mut f).unwrap();
    f
}

#[test]
fn xml_session_monitors_and_events() {
    use crate::xml::session::ECMA354_NS;
    let cfg = Config::new("x", Wire::Xml(xml_session::Config::default()));
    let mut c = Client::new(cfg);
    // Asked while the link is down: refused, not kept.
    let early = c.monitor(T0, "199".into());
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Monitored {
            request: early,
            device: "199".into(),
            result: Err(ClientError::LinkDown)
        }]
    );
    c.handle_connect(T0);
    // Asked while the session starts: answered once it is up.
    c.monitor(T0, "200".into());
    let start = c.poll_transmit().unwrap();
    assert!(String::from_utf8_lossy(&start).contains("StartApplicationSession"));
    c.handle_input(T0, &xml_frame(&format!("<StartApplicationSessionPosResponse xmlns=\"{ECMA354_NS}\"><sessionID>S1</sessionID><actualProtocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed4</actualProtocolVersion><actualSessionDuration>180</actualSessionDuration></StartApplicationSessionPosResponse>"), 1));
    let ns = "http://www.ecma-international.org/standards/ecma-323/csta/ed4";
    c.monitor(T0, "201".into());
    let mon = c.poll_transmit().unwrap();
    let body = String::from_utf8_lossy(&mon[8..]).into_owned();
    assert!(body.contains("<MonitorStart"), "{body}");
    let id: u16 = std::str::from_utf8(&mon[4..8]).unwrap().parse().unwrap();
    let mon2 = c.poll_transmit().unwrap();
    let id2: u16 = std::str::from_utf8(&mon2[4..8]).unwrap().parse().unwrap();
    c.handle_input(T0, &xml_frame(&format!("<MonitorStartResponse xmlns=\"{ns}\"><monitorCrossRefID>0A</monitorCrossRefID></MonitorStartResponse>"), id));
    let snap = c.poll_transmit().unwrap();
    assert!(String::from_utf8_lossy(&snap).contains("<SnapshotDevice"));
    let sid: u16 = std::str::from_utf8(&snap[4..8]).unwrap().parse().unwrap();
    c.handle_input(T0, &xml_frame(&format!("<SnapshotDeviceResponse xmlns=\"{ns}\"><crossRefIDorSnapshotData><snapshotData/></crossRefIDorSnapshotData></SnapshotDeviceResponse>"), sid));
    // Then who is logged on there; a PBX that cannot say refuses, and the link comes up anyway.
    let ga = c.poll_transmit().unwrap();
    assert!(String::from_utf8_lossy(&ga).contains("<GetAgentState"));
    let gid: u16 = std::str::from_utf8(&ga[4..8]).unwrap().parse().unwrap();
    c.handle_input(T0, &xml_frame(&format!("<CSTAErrorCode xmlns=\"{ns}\"><operation>invalidDeviceID</operation></CSTAErrorCode>"), gid));
    // The second device is refused.
    c.handle_input(T0, &xml_frame(&format!("<CSTAErrorCode xmlns=\"{ns}\"><operation>invalidDeviceID</operation></CSTAErrorCode>"), id2));
    c.handle_input(T0, &xml_frame(&format!("<HeldEvent xmlns=\"{ns}\"><monitorCrossRefID>0A</monitorCrossRefID><heldConnection><callID>02</callID><deviceID>200</deviceID></heldConnection><holdingDevice><deviceIdentifier>200</deviceIdentifier></holdingDevice><cause>normal</cause></HeldEvent>"), 9999));
    let evs = events(&mut c);
    let monitored: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Monitored { device, result, .. } => {
                Some((device.as_str().to_owned(), result.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(monitored.contains(&("200".into(), Ok(()))), "{evs:?}");
    assert_eq!(c.wanted().count(), 1);
    assert!(evs.contains(&ClientEvent::Driver(DriverEvent::Monitor {
        link: "x".into(),
        device: "200".into(),
        monitored: true
    })));
    assert!(
        monitored.contains(&("201".into(), Err(ClientError::InvalidDevice("201".into())))),
        "{evs:?}"
    );
    let d = driver_events(&evs);
    assert!(d.iter().any(
        |e| matches!(e, DriverEvent::DeviceSnapshot { device, .. } if device.as_str() == "200")
    ));
    assert!(d.iter().any(|e| matches!(e, DriverEvent::Call { call, event: CallEventKind::Held { .. }, .. } if call.as_str() == "02")), "{d:?}");
    assert!(c.is_up());
    // An event with the PBX's time (an xsd:dateTime in ECMA-323).
    c.handle_input(T0, &xml_frame(&format!("<HeldEvent xmlns=\"{ns}\"><monitorCrossRefID>0A</monitorCrossRefID><heldConnection><callID>03</callID><deviceID>200</deviceID></heldConnection><holdingDevice><deviceIdentifier>200</deviceIdentifier></holdingDevice><cause>normal</cause><extensions><security><timestamp>2026-11-24T05:05:33.5+01:00</timestamp></security></extensions></HeldEvent>"), 9998));
    let evs = events(&mut c);
    assert!(
        evs.iter().any(|e| matches!(e, ClientEvent::StampedDriver { event: DriverEvent::Call { call, .. }, pbx_time_us }
            if call.as_str() == "03" && *pbx_time_us == 1_795_493_133_500_000)),
        "{evs:?}"
    );
}

#[test]
fn a_pbx_restart_remonitors_everything() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    for d in ["1001", "1002", "1003"] {
        c.monitor(T0, d.into());
    }
    serve_monitors(&mut c, &p, &[], 10);
    events(&mut c);
    assert_eq!(c.monitored(), 3);
    // The PBX restarts and polls with `initializing`: answered, then every device again.
    p.send(&mut c, T0 + 100, &json!({"rose": "invoke", "invokeId": 9, "operation": "systemStatus", "argument": {"systemStatus": "initializing"}}));
    assert_eq!(c.monitored(), 0);
    let sent = p.read(&mut c);
    assert_eq!(sent[0]["rose"], "returnResult");
    let again: Vec<_> = sent[1..]
        .iter()
        .map(|d| d["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(again, ["monitorStart", "monitorStart", "monitorStart"]);
    // Requests sent now time out from now, not from the start of time.
    assert_eq!(
        c.poll_timeout(),
        Some(T0 + 100 + DEFAULT_REQUEST_TIMEOUT_MS)
    );
    for req in &sent[1..] {
        let dev =
            req["argument"]["monitorObject"]["deviceObject"]["deviceIdentifier"]["dialingNumber"]
                .as_str()
                .unwrap();
        p.send(
            &mut c,
            T0 + 100,
            &result(
                &req["invokeId"],
                "monitorStart",
                json!({"crossRefIdentifier": format!("{:04X}", 2 * dev.parse::<u32>().unwrap())}),
            ),
        );
    }
    serve_monitors(&mut c, &p, &[], 10);
    let evs = events(&mut c);
    let d = driver_events(&evs);
    assert_eq!(
        d.first(),
        Some(&&DriverEvent::LinkResyncing { link: "pbx".into() })
    );
    assert_eq!(d.last(), Some(&&DriverEvent::LinkUp { link: "pbx".into() }));
    assert_eq!(c.monitored(), 3);
}

mod hostile {
    use proptest::prelude::*;

    use super::*;

    fn feed(c: &mut Client, bytes: &[u8], cuts: &[usize]) {
        let mut at = 0;
        for &cut in cuts {
            let end = (at + cut).min(bytes.len());
            c.handle_input(T0, &bytes[at..end]);
            at = end;
        }
        c.handle_input(T0, &bytes[at..]);
        while c.poll_event().is_some() {}
        while c.poll_transmit().is_some() {}
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes, cut anywhere, on an associated BER link: no panic, the buffer stays
        /// within one frame, and a good poll after the garbage is still answered.
        #[test]
        fn ber_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                    cuts in proptest::collection::vec(0usize..64, 0..32)) {
            let (mut c, p) = ber_client(4);
            associate(&mut c, &p);
            c.monitor(T0, "1001".into());
            feed(&mut c, &bytes, &cuts);
            prop_assert!(c.buf.len() <= c.cfg.max_frame + 3);
            // Resynchronise: a PBX that sends garbage is not trusted to align frames again,
            // so start a fresh connection and check the client still works.
            c.handle_disconnect(T0);
            associate(&mut c, &p);
            p.send(&mut c, T0, &json!({"rose": "invoke", "invokeId": 5, "operation": "systemStatus", "argument": {"systemStatus": "normal"}}));
            let sent = p.read(&mut c);
            prop_assert!(sent.iter().any(|d| d["rose"] == "returnResult" && d["invokeId"] == 5));
        }

        /// Any bytes on an XML link: no panic.
        #[test]
        fn xml_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                    cuts in proptest::collection::vec(0usize..64, 0..32)) {
            let mut c = Client::new(Config::new("x", Wire::Xml(xml_session::Config::default())));
            c.handle_connect(T0);
            feed(&mut c, &bytes, &cuts);
            c.handle_timeout(T0 + 60_000);
            while c.poll_event().is_some() {}
        }
    }
}

#[test]
fn duplicate_events_are_dropped_within_a_window_of_fixed_size() {
    let (mut c, p) = ber_client(4);
    associate(&mut c, &p);
    c.monitor(T0, "1001".into());
    serve_monitors(&mut c, &p, &[], 10);
    events(&mut c);
    let held = |call: u32| {
        json!({"rose": "invoke", "invokeId": 7, "operation": "cSTAEventReport",
            "argument": {"crossRefIdentifier": "03E9", "eventSpecificInfo": {"callControlEvents": {"held": {
                "heldConnection": {"both": {"callID": format!("{call:06X}"), "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": "1001"}}}}},
                "holdingDevice": {"deviceIdentifier": {"deviceIdentifier": {"dialingNumber": "1001"}}},
                "localConnectionInfo": "hold", "cause": "normal"}}}}})
    };
    // Three windows' worth of calls that never clear, each event reported twice (two monitors):
    // every second copy is dropped, and the table never holds more than the window.
    let calls = 3 * DEDUP_WINDOW as u32;
    let mut passed = 0;
    for call in 0..calls {
        p.send(&mut c, T0, &held(call));
        p.send(&mut c, T0, &held(call));
        passed += driver_events(&events(&mut c)).len();
        assert!(c.last_call_event.len() <= DEDUP_WINDOW);
        assert!(c.dedup_order.len() <= DEDUP_WINDOW);
    }
    assert_eq!(passed, calls as usize);
    assert_eq!(c.last_call_event.len(), DEDUP_WINDOW);
    // The oldest calls have left the window: a copy of their event passes again; a recent
    // call's copy is still dropped.
    p.send(&mut c, T0, &held(0));
    assert_eq!(driver_events(&events(&mut c)).len(), 1);
    p.send(&mut c, T0, &held(calls - 1));
    assert_eq!(driver_events(&events(&mut c)).len(), 0);
}
