//! The server faces against the project's own CSTA codecs, sans IO: a scripted client
//! associates (BER) or starts a session (XML), monitors devices, drives calls, and every event
//! the face sends decodes with `hookflash_csta` and maps through `hookflash_csta::mapping` into
//! driver events that the core engine turns into the right call picture.

use bytes::Bytes;
use hookflash_core::driver::{AgentEventKind, CallEventKind, DriverEvent};
use hookflash_core::event::EventKind as CoreEvent;
use hookflash_core::model::{Outcome, Timestamp};
use hookflash_csta::framing::{self, Framing};
use hookflash_csta::mapping::Mapper;
use hookflash_csta::pdu::{self, Pdu};
use hookflash_csta::xml;
use hookflash_csta::xml::session::{Config as XmlConfig, Login, Session, SessionEvent};
use hookflash_sim::face::{CloseReason, Credentials, Face, FaceConfig, FaceProtocol};
use hookflash_sim::{Command, Engine, SimConfig};
use serde_json::{Value, json};

fn quiet_sim() -> SimConfig {
    SimConfig {
        calls_per_minute: 0.0,
        poll_interval_ms: 0,
        agents: 4,
        queues: 1,
        extensions: 6,
        acw_ms: 0,
        ..SimConfig::default()
    }
}

fn creds() -> Option<Credentials> {
    Some(Credentials {
        user: "AMHOST".into(),
        password: "77777".into(),
    })
}

/// The HiPath AARQ: context 1.3.12.0.218, authentication required, calling-authentication-value
/// EXTERNAL { [0] { name, password } }.
fn aarq(user: &str, pw: &str) -> Vec<u8> {
    let mut inner = vec![0x04, user.len() as u8];
    inner.extend_from_slice(user.as_bytes());
    inner.extend_from_slice(&[0x04, pw.len() as u8]);
    inner.extend_from_slice(pw.as_bytes());
    let wrap = |tag: u8, body: Vec<u8>| {
        let mut v = vec![tag, body.len() as u8];
        v.extend(body);
        v
    };
    let auth = wrap(0xAC, wrap(0xA2, wrap(0xA0, wrap(0xA0, inner))));
    let mut body = vec![0xA1, 0x07, 0x06, 0x05, 0x2B, 0x0C, 0x00, 0x81, 0x5A];
    body.extend_from_slice(&[0x8A, 0x02, 0x06, 0x80]);
    body.extend(auth);
    wrap(0x60, body)
}

fn frame(f: Framing, pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    framing::write_frame(f, pdu, None, &mut out).unwrap();
    out
}

/// A scripted BER client around a face and its engine.
struct BerRig {
    engine: Engine,
    face: Face,
    framing: Framing,
    now: u64,
    next_id: i64,
    mapper: Mapper,
    rx: Vec<u8>,
    events: Vec<DriverEvent>,
    docs: Vec<Value>,
}

impl BerRig {
    fn new(framing: Framing, sim: SimConfig) -> Self {
        let cfg = FaceConfig {
            protocol: FaceProtocol::CstaBer(framing),
            credentials: creds(),
            ..FaceConfig::default()
        };
        Self {
            engine: Engine::new(sim),
            face: Face::new(cfg, 0, 1),
            framing,
            now: 0,
            next_id: 0,
            mapper: Mapper::new("sim"),
            rx: Vec::new(),
            events: Vec::new(),
            docs: Vec::new(),
        }
    }

    /// Associates with the right credentials; checks the AARE and answers the first poll.
    fn associated(framing: Framing, sim: SimConfig) -> Self {
        let mut r = Self::new(framing, sim);
        r.send_raw(&aarq("AMHOST", "77777"));
        let docs = r.received_docs();
        assert_eq!(docs[0]["kind"], "association", "{docs:?}");
        assert_eq!(docs[0]["acse"], "aare");
        assert_eq!(docs[0]["apdu"]["result"], 0);
        assert_eq!(
            docs[1]["service"], "systemStatus",
            "HiPath polls after the AARE"
        );
        let poll_id = docs[1]["invokeId"].as_i64().unwrap();
        let ans = Pdu::from_json(&json!({"kind": "result", "invokeId": poll_id, "service": "systemStatus", "result": {"noData": null}})).unwrap();
        r.send_raw(&pdu::encode_to_vec(&ans));
        assert_eq!(r.face.stats().polls_answered, 1);
        assert!(r.face.is_active());
        r
    }

    fn send_raw(&mut self, pdu: &[u8]) {
        let f = frame(self.framing, pdu);
        self.face.handle_input(self.now, &f, &mut self.engine);
    }

    fn pump(&mut self) {
        while let Some(o) = self.engine.poll_output() {
            self.face.handle_output(self.now, &o);
        }
    }

    /// Every PDU the face sent since the last call, decoded with the project's codec.
    fn received(&mut self) -> Vec<Pdu> {
        self.pump();
        while let Some(f) = self.face.poll_transmit() {
            self.rx.extend(f);
        }
        let mut out = Vec::new();
        while let Some(f) = framing::next_frame(self.framing, &self.rx, 65_536).unwrap() {
            let p = pdu::decode(&Bytes::copy_from_slice(&self.rx[f.payload.clone()])).unwrap();
            self.rx.drain(..f.consumed);
            out.push(p);
        }
        out
    }

    fn received_docs(&mut self) -> Vec<Value> {
        let pdus = self.received();
        for p in &pdus {
            self.events.extend(self.mapper.map(p));
        }
        let docs: Vec<Value> = pdus.iter().map(Pdu::to_json).collect();
        self.docs.extend(docs.iter().cloned());
        docs
    }

    fn request(&mut self, service: &str, argument: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let p = Pdu::from_json(
            &json!({"kind": "request", "invokeId": id, "service": service, "argument": argument}),
        )
        .unwrap();
        self.send_raw(&pdu::encode_to_vec(&p));
        self.received_docs()
            .into_iter()
            .find(|d| d["invokeId"] == id && d["kind"] != "event")
            .unwrap_or(Value::Null)
    }

    fn monitor(&mut self, d: &str) -> String {
        let r = self.request(
            "monitorStart",
            json!({"monitorObject": {"deviceObject": dev(d)}}),
        );
        let x = r["result"]["crossRefIdentifier"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_owned();
        self.mapper.monitor_started(&x, d);
        x
    }

    /// The call id of the last event `name` reported for `device`'s monitor.
    fn last_call(&self, name: &str, key: &str) -> String {
        self.docs
            .iter()
            .rev()
            .find(|d| d["event"] == name)
            .and_then(|d| d["value"][key]["both"]["callID"].as_str())
            .unwrap_or_else(|| panic!("no {name}"))
            .to_owned()
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.engine.step(self.now);
        self.face.handle_timeout(self.now);
    }
}

fn dev(d: &str) -> Value {
    json!({"deviceIdentifier": {"dialingNumber": d}})
}

fn conn(call: &str, d: &str) -> Value {
    json!({"both": {"callID": call, "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": d}}}}})
}

fn core_picture(events: &[DriverEvent]) -> (hookflash_core::engine::Engine, Vec<CoreEvent>) {
    let mut e = hookflash_core::engine::Engine::default();
    for (i, ev) in events.iter().enumerate() {
        e.handle(Timestamp(1_000 + i as u64 * 10), ev.clone());
    }
    let evs = e.drain_events().map(|x| x.kind).collect();
    (e, evs)
}

#[test]
fn ber_wrong_password_gets_a_rejecting_aare_and_the_link_closes() {
    let mut r = BerRig::new(Framing::HiPath, quiet_sim());
    r.send_raw(&aarq("AMHOST", "wrong"));
    let docs = r.received_docs();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["acse"], "aare");
    assert_eq!(docs[0]["apdu"]["result"], 1);
    assert_eq!(
        docs[0]["apdu"]["result-source-diagnostic"]["service-user"],
        13
    );
    assert_eq!(r.face.close_reason(), Some(&CloseReason::LoginRefused));
}

#[test]
fn ber_requests_before_the_association_abort_the_link() {
    let mut r = BerRig::new(Framing::Len2, quiet_sim());
    r.request("snapshotDevice", json!({"snapshotObject": dev("200000")}));
    assert_eq!(r.docs[0]["acse"], "abrt");
    assert_eq!(r.face.close_reason(), Some(&CloseReason::ProtocolViolation));
}

#[test]
fn ber_login_times_out() {
    let mut r = BerRig::new(Framing::Len2, quiet_sim());
    r.advance(29_999);
    assert!(!r.face.is_closed());
    r.advance(1);
    assert_eq!(r.face.close_reason(), Some(&CloseReason::LoginTimeout));
}

fn basic_call(framing: Framing) {
    let mut r = BerRig::associated(framing, quiet_sim());
    r.monitor("200000");
    r.monitor("200001");
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let call = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.last_call("delivered", "connection"), call);
    let res = r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&call, "200001")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let res = r.request("holdCall", json!({"callToBeHeld": conn(&call, "200001")}));
    assert_eq!(res["kind"], "result", "{res}");
    let res = r.request(
        "retrieveCall",
        json!({"callToBeRetrieved": conn(&call, "200001")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let snap = r.request("snapshotCall", json!({"snapshotObject": {"callID": call}}));
    assert_eq!(
        snap["result"]["crossRefIDorSnapshotData"]["snapshotData"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{snap}"
    );
    let snap = r.request("snapshotDevice", json!({"snapshotObject": dev("200001")}));
    assert_eq!(
        snap["result"]["crossRefIDorSnapshotData"]["snapshotData"][0]["localCallState"]["compoundCallState"]
            [0],
        "connected",
        "{snap}"
    );
    let res = r.request(
        "clearConnection",
        json!({"connectionToBeCleared": conn(&call, "200000")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let names: Vec<&str> = r.docs.iter().filter_map(|d| d["event"].as_str()).collect();
    for n in [
        "serviceInitiated",
        "originated",
        "delivered",
        "established",
        "held",
        "retrieved",
        "connectionCleared",
        "callCleared",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // Every event mapped; the core sees one answered call that ended.
    assert!(r.events.iter().any(|e| matches!(e, DriverEvent::Call { event: CallEventKind::Delivered { alerting, .. }, .. } if alerting.as_str() == "200001")));
    let (_, evs) = core_picture(&r.events);
    assert!(
        evs.iter().any(|k| matches!(
            k,
            CoreEvent::CallEnded {
                outcome: Outcome::Answered,
                ..
            }
        )),
        "{evs:?}"
    );
}

#[test]
fn ber_len2_call_decodes_and_maps() {
    basic_call(Framing::Len2);
}

#[test]
fn ber_hipath_call_decodes_and_maps() {
    basic_call(Framing::HiPath);
}

#[test]
fn ber_errors_are_ecma269_errors() {
    let sim = SimConfig {
        monitor_limit: 2,
        ..quiet_sim()
    };
    let mut r = BerRig::associated(Framing::Len2, sim);
    let e = r.request(
        "monitorStart",
        json!({"monitorObject": {"deviceObject": dev("999")}}),
    );
    assert_eq!(e["kind"], "error");
    assert_eq!(e["parameter"]["operation"], "invalidMonitorObject", "{e}");
    r.monitor("200000");
    r.monitor("200001");
    let e = r.request(
        "monitorStart",
        json!({"monitorObject": {"deviceObject": dev("200002")}}),
    );
    assert_eq!(
        e["parameter"]["systemResourceAvailability"], "overallMonitorLimitExceeded",
        "{e}"
    );
    let e = r.request(
        "answerCall",
        json!({"callToBeAnswered": conn("00FF", "200000")}),
    );
    assert_eq!(e["parameter"]["operation"], "invalidConnectionID", "{e}");
    let e = r.request("monitorStop", json!({"crossRefIdentifier": "7777"}));
    assert_eq!(
        e["parameter"]["operation"], "invalidMonitorCrossRefID",
        "{e}"
    );
    let e = r.request(
        "makeCall",
        json!({"callingDevice": dev("123"), "calledDirectoryNumber": dev("200001")}),
    );
    assert_eq!(e["parameter"]["operation"], "invalidCallingDeviceID", "{e}");
    // A ringing call cannot be held: not permitted in this state.
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    let call = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = r.request("holdCall", json!({"callToBeHeld": conn(&call, "200001")}));
    assert_eq!(
        e["parameter"]["stateIncompatibility"], "invalidObjectState",
        "{e}"
    );
    // An operation this PBX does not offer is rejected.
    let e = r.request("getDoNotDisturb", json!({"device": dev("200000")}));
    assert_eq!(e["kind"], "reject", "{e}");
    // The client's own SystemStatus is answered.
    let ok = r.request("systemStatus", json!({"systemStatus": "normal"}));
    assert_eq!(ok["kind"], "result", "{ok}");
    let ok = r.request("requestSysStat", json!({}));
    assert_eq!(ok["result"]["systemStatus"], "normal", "{ok}");
    // MonitorStop frees a place under the limit.
    let x = r
        .docs
        .iter()
        .find_map(|d| d["result"]["crossRefIdentifier"].as_str())
        .unwrap()
        .to_owned();
    let ok = r.request("monitorStop", json!({"crossRefIdentifier": x}));
    assert_eq!(ok["kind"], "result", "{ok}");
    r.monitor("200002");
}

#[test]
fn ber_malformed_pdus_are_rejected_counted_and_the_link_lives() {
    let mut r = BerRig::associated(Framing::HiPath, quiet_sim());
    r.send_raw(&[0xA1, 0x03, 0xFF, 0xFF, 0xFF]);
    let docs = r.received_docs();
    assert_eq!(docs[0]["kind"], "reject", "{docs:?}");
    // Bytes that are no HiPath header are skipped.
    r.face
        .handle_input(r.now, &[0x01, 0x02, 0x03], &mut r.engine);
    assert!(r.face.stats().malformed >= 2);
    assert!(!r.face.is_closed());
    r.monitor("200000");
}

#[test]
fn ber_unanswered_polls_drop_the_link() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    for _ in 0..3 {
        r.face.handle_output(
            r.now,
            &hookflash_sim::Output::SystemStatusPoll {
                at_ms: r.now,
                status: hookflash_sim::SystemStatus::Normal,
            },
        );
        r.advance(10_000);
    }
    assert_eq!(r.face.close_reason(), Some(&CloseReason::PollsUnanswered));
}

#[test]
fn ber_release_is_answered() {
    let mut r = BerRig::associated(Framing::HiPath, quiet_sim());
    let rlrq = Pdu::from_jer(&json!({"acse": "rlrq", "apdu": {"reason": 0}})).unwrap();
    r.send_raw(&pdu::encode_to_vec(&rlrq));
    let docs = r.received_docs();
    assert_eq!(docs[0]["acse"], "rlre");
    assert_eq!(r.face.close_reason(), Some(&CloseReason::Released));
}

#[test]
fn ber_consultation_transfer_renames_the_call_and_the_core_keeps_it() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    for d in ["200000", "200001", "200002"] {
        r.monitor(d);
    }
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    let a = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&a, "200001")}),
    );
    let res = r.request(
        "consultationCall",
        json!({"existingCall": conn(&a, "200001"), "consultedDevice": dev("200002")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let b = res["result"]["initiatedCall"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(a, b);
    r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&b, "200002")}),
    );
    let res = r.request(
        "transferCall",
        json!({"heldCall": conn(&a, "200001"), "activeCall": conn(&b, "200001")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let new = res["result"]["transferredCall"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new != a && new != b, "OpenScape style: a new call id");
    let t = r
        .docs
        .iter()
        .find(|d| d["event"] == "transferred")
        .expect("transferred");
    assert_eq!(
        t["value"]["transferredConnections"][0]["newConnection"]["both"]["callID"],
        new.as_str()
    );
    assert!(r.events.iter().any(|e| matches!(e, DriverEvent::Call { event: CallEventKind::Transferred { new_call: Some(n), .. }, .. } if n.as_str() == new)));
    // The transferred parties hang up on the new call id.
    r.request(
        "clearConnection",
        json!({"connectionToBeCleared": conn(&new, "200002")}),
    );
    let (core, evs) = core_picture(&r.events);
    let customer = evs
        .iter()
        .find_map(|k| match k {
            CoreEvent::CallTransferred { call, .. } => Some(*call),
            _ => None,
        })
        .expect("a transfer in the core");
    let c = core.call(customer).unwrap();
    // One Transferred per monitor of a device on the calls.
    let mut xrefs: Vec<&str> = r
        .docs
        .iter()
        .filter(|d| d["event"] == "transferred")
        .filter_map(|d| d["crossRefIdentifier"].as_str())
        .collect();
    assert_eq!(xrefs.len(), 3);
    xrefs.dedup();
    assert_eq!(xrefs.len(), 3);
    assert!(!c.transfers.is_empty());
    assert!(
        evs.iter()
            .any(|k| matches!(k, CoreEvent::CallEnded { call, .. } if *call == customer)),
        "{evs:?}"
    );
}

#[test]
fn ber_agent_state_events_map_to_agent_events() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    r.monitor("300000");
    let res = r.request(
        "setAgentState",
        json!({"device": dev("300000"), "requestedAgentState": "notReady"}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    r.request(
        "setAgentState",
        json!({"device": dev("300000"), "requestedAgentState": "ready"}),
    );
    r.request(
        "setAgentState",
        json!({"device": dev("300000"), "requestedAgentState": "loggedOff"}),
    );
    let e = r.request(
        "setAgentState",
        json!({"device": dev("200000"), "requestedAgentState": "ready"}),
    );
    assert_eq!(e["kind"], "error", "{e}");
    let kinds: Vec<&AgentEventKind> = r
        .events
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Agent { agent, event, .. } if agent.as_str() == "A300000" => Some(event),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            kinds[..],
            [
                AgentEventKind::NotReady { .. },
                AgentEventKind::Ready,
                AgentEventKind::LoggedOff
            ]
        ),
        "{kinds:?}"
    );
}

#[test]
fn ber_generated_traffic_maps_without_loss() {
    // A busy PBX for ten simulated minutes: every event the face sends decodes and maps.
    let sim = SimConfig {
        calls_per_minute: 6.0,
        talk_ms: 20_000,
        agents: 6,
        queues: 2,
        extensions: 6,
        ..SimConfig::default()
    };
    let mut r = BerRig::associated(Framing::Len2, sim);
    let devices = r.engine.device_numbers();
    for d in &devices {
        r.monitor(d);
    }
    for _ in 0..600 {
        r.advance(1_000);
        let docs = r.received_docs();
        for d in docs
            .iter()
            .filter(|d| d["kind"] == "request" && d["service"] == "systemStatus")
        {
            let ans = Pdu::from_json(&json!({"kind": "result", "invokeId": d["invokeId"], "service": "systemStatus", "result": {"noData": null}})).unwrap();
            r.send_raw(&pdu::encode_to_vec(&ans));
        }
    }
    let events: Vec<&Value> = r.docs.iter().filter(|d| d["kind"] == "event").collect();
    assert!(events.len() > 200, "{}", events.len());
    let unmapped: Vec<&&Value> = events
        .iter()
        .filter(|d| {
            d["event"] != "agentBusy" && r.mapper.map(&Pdu::from_json(d).unwrap()).is_empty()
        })
        .collect();
    assert!(unmapped.is_empty(), "{:?}", unmapped.first());
    assert!(!r.face.is_closed());
    assert!(r.face.stats().polls_answered >= 10);
    // Every event the engine delivered to this connection's monitors went out encoded.
    assert_eq!(r.face.stats().events, r.engine.stats().events_delivered);
    let failed = events.iter().filter(|d| d["event"] == "failed").count();
    assert!(failed > 0, "busy and unanswered calls fail");
    let (_, evs) = core_picture(&r.events);
    let ended = evs
        .iter()
        .filter(|k| matches!(k, CoreEvent::CallEnded { .. }))
        .count();
    let stats = r.engine.stats().clone();
    eprintln!(
        "ended in core {ended}, engine {stats:?}, events {}",
        events.len()
    );
    assert!(ended > 50);
}

// ------------------------------------------------------------------------------------- XML

struct XmlRig {
    engine: Engine,
    face: Face,
    client: Session,
    now: u64,
    next_id: u16,
    mapper: Mapper,
    events: Vec<DriverEvent>,
    session: Vec<SessionEvent>,
    docs: Vec<Value>,
}

impl XmlRig {
    fn new(user: &str, pw: &str, sim: SimConfig) -> Self {
        Self::with_face(user, pw, sim, |_| {})
    }

    fn with_face(
        user: &str,
        pw: &str,
        sim: SimConfig,
        tweak: impl FnOnce(&mut FaceConfig),
    ) -> Self {
        let mut cfg = FaceConfig {
            protocol: FaceProtocol::CstaXml,
            credentials: creds(),
            ..FaceConfig::default()
        };
        tweak(&mut cfg);
        let t0 = 0;
        let mut client = Session::new(XmlConfig {
            login: Login::Avaya {
                user: user.into(),
                password: pw.into(),
                cleanup_delay: 60,
            },
            requested_duration: std::time::Duration::from_secs(60),
            ..XmlConfig::default()
        });
        client.start(t0);
        let mut r = Self {
            engine: Engine::new(sim),
            face: Face::new(cfg, 0, 7),
            client,
            now: 0,
            next_id: 100,
            mapper: Mapper::new("sim"),
            events: Vec::new(),
            session: Vec::new(),
            docs: Vec::new(),
        };
        r.exchange();
        r
    }

    fn at(&self) -> u64 {
        self.now
    }

    /// Moves bytes both ways until both sides are quiet.
    fn exchange(&mut self) {
        for _ in 0..16 {
            let mut moved = false;
            while let Some(f) = self.client.poll_transmit() {
                moved = true;
                self.face.handle_input(self.now, &f, &mut self.engine);
            }
            while let Some(o) = self.engine.poll_output() {
                self.face.handle_output(self.now, &o);
            }
            while let Some(f) = self.face.poll_transmit() {
                moved = true;
                let at = self.at();
                self.client.handle_input(at, &f);
            }
            while let Some(e) = self.client.poll_event() {
                if let SessionEvent::Message { pdu, .. } = &e {
                    self.events.extend(self.mapper.map(pdu));
                    self.docs.push(pdu.to_json());
                }
                self.session.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    fn request(&mut self, service: &str, argument: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let p = Pdu::from_json(
            &json!({"kind": "request", "invokeId": id, "service": service, "argument": argument}),
        )
        .unwrap();
        let mut body = Vec::new();
        let edition = self.client.edition().clone();
        xml::encode(&p, &edition, &mut body).unwrap();
        let mut f = Vec::new();
        framing::write_frame(Framing::XmlHeader, &body, Some(id), &mut f).unwrap();
        self.face.handle_input(self.now, &f, &mut self.engine);
        self.exchange();
        self.docs
            .iter()
            .rev()
            .find(|d| d["invokeId"] == id && d["kind"] != "event")
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.engine.step(self.now);
        self.face.handle_timeout(self.now);
        let at = self.at();
        self.client.handle_timeout(at);
        self.exchange();
    }
}

#[test]
fn xml_session_call_and_events_map() {
    let mut r = XmlRig::new("AMHOST", "77777", quiet_sim());
    assert!(
        matches!(
            r.session.first(),
            Some(SessionEvent::Started { resumed: false, .. })
        ),
        "{:?}",
        r.session
    );
    assert!(r.client.is_active());
    assert!(r.face.is_active());
    for d in ["200000", "200001"] {
        let res = r.request(
            "monitorStart",
            json!({"monitorObject": {"deviceObject": dev(d)}}),
        );
        let x = res["result"]["crossRefIdentifier"]
            .as_str()
            .unwrap_or_else(|| panic!("{res}"))
            .to_owned();
        r.mapper.monitor_started(&x, d);
    }
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let call = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&call, "200001")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    let res = r.request("clearCall", json!({"callToBeCleared": {"callID": call}}));
    assert_eq!(res["kind"], "result", "{res}");
    let e = r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&call, "200001")}),
    );
    assert_eq!(e["kind"], "error", "{e}");
    let (_, evs) = core_picture(&r.events);
    assert!(
        evs.iter().any(|k| matches!(
            k,
            CoreEvent::CallEnded {
                outcome: Outcome::Answered,
                ..
            }
        )),
        "{evs:?}"
    );
    // The session timer is reset by the client at half time; the session lives on.
    r.advance(31_000);
    r.advance(31_000);
    r.advance(31_000);
    assert!(r.face.is_active(), "{:?}", r.face.close_reason());
    // The PBX polls; the client session answers by itself.
    r.face.handle_output(
        r.now,
        &hookflash_sim::Output::SystemStatusPoll {
            at_ms: r.now,
            status: hookflash_sim::SystemStatus::Normal,
        },
    );
    r.exchange();
    assert!(
        r.session
            .iter()
            .any(|e| matches!(e, SessionEvent::Polled { .. }))
    );
    assert_eq!(r.face.stats().polls_answered, 1);
    // The client stops the session.
    let at = r.at();
    r.client.stop(at);
    r.exchange();
    assert!(r.session.contains(&SessionEvent::Stopped));
    assert_eq!(r.face.close_reason(), Some(&CloseReason::Released));
}

#[test]
fn xml_wrong_password_is_refused() {
    let r = XmlRig::new("AMHOST", "nope", quiet_sim());
    assert!(
        matches!(r.session.first(), Some(SessionEvent::Refused { .. })),
        "{:?}",
        r.session
    );
    assert_eq!(r.face.close_reason(), Some(&CloseReason::LoginRefused));
}

#[test]
fn xml_session_expires_without_timer_resets() {
    let mut r = XmlRig::new("AMHOST", "77777", quiet_sim());
    // The client never gets to reset: only the face's clock moves.
    r.now += 60_000;
    r.face.handle_timeout(r.now);
    assert_eq!(r.face.close_reason(), Some(&CloseReason::SessionExpired));
    let f = r.face.poll_transmit().expect("a StopApplicationSession");
    assert!(String::from_utf8_lossy(&f).contains("StopApplicationSession"));
}

#[test]
fn xml_session_timed_with_a_clock_factor_lasts_that_much_longer_on_the_pbx_clock() {
    // A server whose clock runs 15 times faster than the client's: the 60 s session lasts
    // 15 × 60 s of PBX time.
    let mut r = XmlRig::with_face("AMHOST", "77777", quiet_sim(), |c| {
        c.session_clock_factor = 15;
    });
    r.now += 15 * 60_000 - 1;
    r.face.handle_timeout(r.now);
    assert_eq!(r.face.close_reason(), None);
    assert!(r.face.is_active());
    r.now += 1;
    r.face.handle_timeout(r.now);
    assert_eq!(r.face.close_reason(), Some(&CloseReason::SessionExpired));
}

#[test]
fn xml_events_carry_the_monitor_cross_reference_of_their_connection() {
    // Two connections share the engine; each sees only its own monitors' events.
    let mut engine = Engine::new(quiet_sim());
    let cfg = FaceConfig {
        protocol: FaceProtocol::CstaBer(Framing::Len2),
        credentials: None,
        ..FaceConfig::default()
    };
    let mut a = Face::new(cfg.clone(), 0, 1);
    let mut b = Face::new(cfg, 0, 2);
    for f in [&mut a, &mut b] {
        f.handle_input(0, &frame(Framing::Len2, &aarq("x", "y")), &mut engine);
        assert!(f.is_active());
    }
    let mon = |f: &mut Face, engine: &mut Engine, d: &str| {
        let p = Pdu::from_json(&json!({"kind": "request", "invokeId": 5, "service": "monitorStart", "argument": {"monitorObject": {"deviceObject": dev(d)}}})).unwrap();
        f.handle_input(0, &frame(Framing::Len2, &pdu::encode_to_vec(&p)), engine);
    };
    mon(&mut a, &mut engine, "200000");
    mon(&mut b, &mut engine, "200001");
    engine
        .handle_command(
            0,
            Command::MakeCall {
                calling: "200000".into(),
                called: "200001".into(),
            },
        )
        .unwrap();
    while let Some(o) = engine.poll_output() {
        a.handle_output(0, &o);
        b.handle_output(0, &o);
    }
    let xrefs = |f: &mut Face| {
        let mut buf = Vec::new();
        while let Some(x) = f.poll_transmit() {
            buf.extend(x);
        }
        let mut out = Vec::new();
        while let Some(fr) = framing::next_frame(Framing::Len2, &buf, 65_536).unwrap() {
            let d = pdu::decode(&Bytes::copy_from_slice(&buf[fr.payload.clone()]))
                .unwrap()
                .to_json();
            buf.drain(..fr.consumed);
            if d["kind"] == "event" {
                out.push(d["crossRefIdentifier"].as_str().unwrap().to_owned());
            }
        }
        out
    };
    let xa = xrefs(&mut a);
    let xb = xrefs(&mut b);
    assert!(!xa.is_empty() && !xb.is_empty());
    assert!(
        xa.iter()
            .all(|x| a.owns(u32::from_str_radix(x, 16).unwrap()))
    );
    assert!(
        xb.iter()
            .all(|x| b.owns(u32::from_str_radix(x, 16).unwrap()))
    );
    a.release(0, &mut engine);
    assert_eq!(engine.monitor_count(), 1);
}

#[test]
fn ber_park_and_retrieval_map_to_the_core() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    for d in ["200000", "200001", "200002", "7000"] {
        r.monitor(d);
    }
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    let call = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&call, "200001")}),
    );
    // ParkCall is no ECMA-285 service the codec knows: the control side parks.
    let parked = r
        .engine
        .handle_command(
            r.now,
            Command::ParkCall {
                conn: hookflash_sim::ConnectionId {
                    call: hookflash_sim::CallId(hex::decode(&call).unwrap()),
                    device: "200001".into(),
                },
                to: None,
            },
        )
        .unwrap();
    assert!(matches!(parked, hookflash_sim::Response::Parked(_)));
    r.received_docs();
    let res = r.request(
        "directedPickupCall",
        json!({"callToBePickedUp": conn(&call, "7000"), "requestingDevice": dev("200002")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    r.request("clearCall", json!({"callToBeCleared": {"callID": call}}));
    assert!(r.events.iter().any(|e| matches!(e, DriverEvent::Call { event: CallEventKind::ConnectionCleared { device }, cause: Some(hookflash_core::driver::Cause::Park), .. } if device.as_str() == "200001")));
    assert!(r.events.iter().any(|e| matches!(e, DriverEvent::Call { event: CallEventKind::Queued { queue, .. }, .. } if queue.as_str() == "7000")));
    let (_, evs) = core_picture(&r.events);
    assert!(
        evs.iter().any(|k| matches!(
            k,
            CoreEvent::CallEnded {
                outcome: Outcome::Answered,
                ..
            }
        )),
        "{evs:?}"
    );
}

#[test]
fn xml_pickup_maps_to_an_answered_call() {
    let mut r = XmlRig::new("AMHOST", "77777", quiet_sim());
    for d in ["200000", "200001", "200002"] {
        let res = r.request(
            "monitorStart",
            json!({"monitorObject": {"deviceObject": dev(d)}}),
        );
        let x = res["result"]["crossRefIdentifier"]
            .as_str()
            .unwrap()
            .to_owned();
        r.mapper.monitor_started(&x, d);
    }
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    let call = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = r.request(
        "directedPickupCall",
        json!({"callToBePickedUp": conn(&call, "200001"), "requestingDevice": dev("200002")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    r.request("clearCall", json!({"callToBeCleared": {"callID": call}}));
    let (core, evs) = core_picture(&r.events);
    assert!(
        evs.iter().any(|k| matches!(
            k,
            CoreEvent::CallEnded {
                outcome: Outcome::Answered,
                ..
            }
        )),
        "{evs:?}\n{:?}",
        r.events
    );
    let _ = core;
}

#[test]
fn ber_links_without_association_take_requests_at_once() {
    let cfg = FaceConfig {
        protocol: FaceProtocol::CstaBer(Framing::Len2),
        require_association: false,
        ..FaceConfig::default()
    };
    let mut r = BerRig::new(Framing::Len2, quiet_sim());
    r.face = Face::new(cfg, 0, 1);
    assert!(r.face.is_active());
    r.monitor("200000");
    r.advance(60_000);
    assert!(!r.face.is_closed(), "no login deadline");
}

#[test]
fn ber_deflected_call_is_answered_at_the_new_destination() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    // The caller is not monitored, as an outside caller is not.
    for d in ["200001", "200002"] {
        r.monitor(d);
    }
    let res = r.request(
        "makeCall",
        json!({"callingDevice": dev("200000"), "calledDirectoryNumber": dev("200001")}),
    );
    let call = res["result"]["callingDevice"]["both"]["callID"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = r.request(
        "deflectCall",
        json!({"callToBeDiverted": conn(&call, "200001"), "newDestination": dev("200002")}),
    );
    assert_eq!(res["kind"], "result", "{res}");
    assert!(r.events.iter().any(|e| matches!(e, DriverEvent::Call { event: CallEventKind::Diverted { from, to: Some(to) }, .. } if from.as_str() == "200001" && to.as_str() == "200002")));
    r.request(
        "answerCall",
        json!({"callToBeAnswered": conn(&call, "200002")}),
    );
    r.request("clearCall", json!({"callToBeCleared": {"callID": call}}));
    let (_, evs) = core_picture(&r.events);
    let ended: Vec<&CoreEvent> = evs
        .iter()
        .filter(|k| matches!(k, CoreEvent::CallEnded { .. }))
        .collect();
    assert!(
        ended.iter().all(|k| matches!(
            k,
            CoreEvent::CallEnded {
                outcome: Outcome::Answered,
                ..
            }
        )),
        "{ended:?}"
    );
}

#[test]
fn generated_forwarded_calls_are_answered_in_the_core_as_in_the_truth() {
    let sim = SimConfig {
        calls_per_minute: 2.0,
        agents: 2,
        queues: 1,
        extensions: 8,
        no_answer_ms: 6_000,
        talk_ms: 8_000,
        truth: true,
        mix: hookflash_sim::OutcomeMix {
            answered: 0,
            abandoned: 0,
            busy: 0,
            no_answer: 0,
            consult_transfer: 0,
            blind_transfer: 0,
            conference: 0,
            forward_no_answer: 1,
            pickup: 0,
            hold: 0,
            outbound: 0,
            park: 0,
        },
        ..quiet_sim()
    };
    let mut r = BerRig::associated(Framing::Len2, sim);
    for i in 0..8 {
        r.monitor(&format!("{}", 200_000 + i));
    }
    for _ in 0..600 {
        r.advance(1_000);
        let docs = r.received_docs();
        for d in docs.iter().filter(|d| d["kind"] == "request") {
            let ans = Pdu::from_json(&json!({"kind": "result", "invokeId": d["invokeId"], "service": "systemStatus", "result": {"noData": null}})).unwrap();
            r.send_raw(&pdu::encode_to_vec(&ans));
        }
    }
    let truth: Vec<Value> = std::iter::from_fn(|| r.engine.poll_truth())
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter(|v| v["kind"] == "call")
        .collect();
    let answered_truth = truth.iter().filter(|v| v["outcome"] == "answered").count();
    assert!(answered_truth > 5, "{truth:?}");
    let (_, evs) = core_picture(&r.events);
    let answered_core = evs
        .iter()
        .filter(|k| {
            matches!(
                k,
                CoreEvent::CallEnded {
                    outcome: Outcome::Answered,
                    ..
                }
            )
        })
        .count();
    let other: Vec<&CoreEvent> = evs
        .iter()
        .filter(
            |k| matches!(k, CoreEvent::CallEnded { outcome, .. } if *outcome != Outcome::Answered),
        )
        .collect();
    assert_eq!(answered_core, answered_truth, "{other:?}");
}

#[test]
fn xml_generated_forwarded_calls_are_answered_in_the_core_as_in_the_truth() {
    let sim = SimConfig {
        calls_per_minute: 2.0,
        agents: 2,
        queues: 1,
        extensions: 8,
        no_answer_ms: 6_000,
        talk_ms: 8_000,
        truth: true,
        mix: hookflash_sim::OutcomeMix {
            answered: 0,
            abandoned: 0,
            busy: 0,
            no_answer: 0,
            consult_transfer: 0,
            blind_transfer: 0,
            conference: 0,
            forward_no_answer: 1,
            pickup: 0,
            hold: 0,
            outbound: 0,
            park: 0,
        },
        ..quiet_sim()
    };
    let mut r = XmlRig::new("AMHOST", "77777", sim);
    for i in 0..8 {
        let d = format!("{}", 200_000 + i);
        let res = r.request(
            "monitorStart",
            json!({"monitorObject": {"deviceObject": dev(&d)}}),
        );
        let x = res["result"]["crossRefIdentifier"]
            .as_str()
            .unwrap()
            .to_owned();
        r.mapper.monitor_started(&x, &d);
    }
    for _ in 0..600 {
        r.advance(1_000);
    }
    let truth: Vec<Value> = std::iter::from_fn(|| r.engine.poll_truth())
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter(|v| v["kind"] == "call")
        .collect();
    let answered_truth = truth.iter().filter(|v| v["outcome"] == "answered").count();
    assert!(answered_truth > 5, "{truth:?}");
    let (_, evs) = core_picture(&r.events);
    let answered_core = evs
        .iter()
        .filter(|k| {
            matches!(
                k,
                CoreEvent::CallEnded {
                    outcome: Outcome::Answered,
                    ..
                }
            )
        })
        .count();
    assert_eq!(answered_core, answered_truth);
}

#[test]
fn ber_silent_poll_fault_leaves_system_status_unanswered_until_recovery() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    r.engine
        .handle_command(r.now, Command::FaultStopAnsweringPolls)
        .unwrap();
    let none = r.request("systemStatus", json!({"systemStatus": "normal"}));
    assert_eq!(none, Value::Null, "no answer in the fault mode");
    // Other requests are still served.
    r.monitor("200000");
    r.engine
        .handle_command(r.now, Command::FaultRecover)
        .unwrap();
    let ok = r.request("systemStatus", json!({"systemStatus": "normal"}));
    assert_eq!(ok["kind"], "result", "{ok}");
}

/// GetAgentState names the agent at a device and its state (how a client that connects after
/// the agents logged on learns of them); a device without an agent has an empty list.
#[test]
fn ber_get_agent_state_names_the_agent_and_its_state() {
    let mut r = BerRig::associated(Framing::Len2, quiet_sim());
    let res = r.request("getAgentState", json!({"device": dev("300000")}));
    assert_eq!(res["kind"], "result", "{res}");
    let list = &res["result"]["agentStateList"];
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{res}");
    assert_eq!(list[0]["loggedOn"], true, "{res}");
    let id = list[0]["agentID"].as_str().unwrap_or_default();
    let bytes: Vec<u8> = (0..id.len() / 2)
        .filter_map(|i| u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    assert_eq!(bytes, b"A300000", "{res}");
    r.request(
        "setAgentState",
        json!({"device": dev("300000"), "requestedAgentState": "notReady"}),
    );
    let res = r.request("getAgentState", json!({"device": dev("300000")}));
    assert_eq!(
        res["result"]["agentStateList"][0]["agentInfo"][0]["agentState"], "agentNotReady",
        "{res}"
    );
    assert_eq!(
        res["result"]["agentStateList"][0]["agentInfo"][0]["acdGroup"],
        dev("6000"),
        "{res}"
    );
    let res = r.request("getAgentState", json!({"device": dev("200000")}));
    assert_eq!(res["result"]["agentStateList"], json!([]), "{res}");
}
