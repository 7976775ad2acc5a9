//! The encoding-independent half of the CSTA faces: CSTA requests (typed JSON documents, see
//! [`hookflash_csta::message`]) become engine [`Command`]s, engine responses and errors become
//! CSTA results and ECMA-269 errors, and engine [`MonitorEvent`]s become CSTA event reports.
//!
//! Everything here builds X.697 JER values of the ECMA-285 types and turns them into a
//! [`Pdu`] with [`Pdu::from_jer`], so the BER face and the XML face send the same messages.

use hookflash_csta::mapping;
use hookflash_csta::pdu::Pdu;
use serde_json::{Map, Value, json};

use crate::error::SimError;
use crate::model::{
    AgentState, CallId, CallSnapshot, Command, ConnectionId, DeviceSnapshot, EventKind,
    LocalConnectionState, MonitorEvent, Response,
};

/// A CSTA request the face understood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// A command for the engine; `op` is the CSTA operation name for the result.
    Engine { op: String, cmd: Command },
    /// MonitorStop of a cross reference (checked against the connection's monitors first).
    MonitorStop { xref: u32 },
    /// SystemStatus or RequestSystemStatus from the client.
    Status { op: String },
}

/// Why a request could not be turned into a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// The operation is not one this PBX offers.
    Unsupported(String),
    /// The argument lacks something the operation needs (ECMA-269 operation error name).
    BadArgument(&'static str),
}

/// Upper-case hex of bytes.
pub(crate) fn hex_of(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// The octets of a monitor cross reference (4 bytes, big-endian).
pub(crate) fn xref_hex(x: u32) -> String {
    hex_of(&x.to_be_bytes())
}

/// A monitor cross reference from its hex octets (1 to 4 bytes).
pub(crate) fn xref_of(v: &Value) -> Option<u32> {
    let b = hex::decode(v.as_str()?).ok()?;
    if b.is_empty() || b.len() > 4 {
        return None;
    }
    Some(b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)))
}

/// A plain `DeviceID`.
pub(crate) fn device_id(d: &str) -> Value {
    json!({"deviceIdentifier": {"dialingNumber": d}})
}

/// An extended device id (`SubjectDeviceID`, `CallingDeviceID`, …).
pub(crate) fn ext_device(d: &str) -> Value {
    json!({"deviceIdentifier": {"deviceIdentifier": {"dialingNumber": d}}})
}

/// A `ConnectionID` with both call and device.
pub(crate) fn conn_id(call: &CallId, d: &str) -> Value {
    json!({"both": {"callID": hex_of(&call.0), "deviceID": {"staticID": {"deviceIdentifier": {"dialingNumber": d}}}}})
}

fn conn(c: &ConnectionId) -> Value {
    conn_id(&c.call, &c.device)
}

fn redirection(d: &Option<String>) -> Value {
    match d {
        Some(d) => json!({"numberdialed": device_id(d)}),
        None => json!({"notKnown": null}),
    }
}

fn lcs(s: LocalConnectionState) -> &'static str {
    match s {
        LocalConnectionState::Null => "null",
        LocalConnectionState::Initiated => "initiated",
        LocalConnectionState::Alerting => "alerting",
        LocalConnectionState::Connected => "connected",
        LocalConnectionState::Hold => "hold",
        LocalConnectionState::Queued => "queued",
        LocalConnectionState::Fail => "fail",
    }
}

fn arg_device(arg: &Value, key: &str) -> Result<String, Refusal> {
    arg.get(key)
        .and_then(mapping::device)
        .ok_or(Refusal::BadArgument("invalidDeviceID"))
}

fn arg_conn(arg: &Value, key: &str) -> Result<ConnectionId, Refusal> {
    let (call, dev) = arg
        .get(key)
        .map(mapping::connection)
        .unwrap_or((None, None));
    let call = call
        .and_then(|c| hex::decode(c).ok())
        .ok_or(Refusal::BadArgument("invalidConnectionID"))?;
    let device = dev.ok_or(Refusal::BadArgument("invalidConnectionID"))?;
    Ok(ConnectionId {
        call: CallId(call),
        device,
    })
}

fn arg_call(arg: &Value, key: &str) -> Result<CallId, Refusal> {
    let (call, _) = arg
        .get(key)
        .map(mapping::connection)
        .unwrap_or((None, None));
    call.and_then(|c| hex::decode(c).ok())
        .map(CallId)
        .ok_or(Refusal::BadArgument("invalidCallID"))
}

/// Turns a request (`service`, `argument` of its typed document) into what the face must do.
pub(crate) fn request(op: &str, arg: &Value) -> Result<Request, Refusal> {
    let engine = |cmd| {
        Ok(Request::Engine {
            op: op.to_owned(),
            cmd,
        })
    };
    match op {
        "monitorStart" => {
            let obj = arg.get("monitorObject");
            let dev = obj
                .and_then(|o| o.get("deviceObject"))
                .and_then(mapping::device)
                .ok_or(Refusal::BadArgument("invalidMonitorObject"))?;
            engine(Command::MonitorStart(dev))
        }
        "monitorStop" => {
            let xref = arg
                .get("crossRefIdentifier")
                .and_then(xref_of)
                .ok_or(Refusal::BadArgument("invalidMonitorCrossRefID"))?;
            Ok(Request::MonitorStop { xref })
        }
        "snapshotDevice" => engine(Command::SnapshotDevice(arg_device(arg, "snapshotObject")?)),
        "getAgentState" => engine(Command::SnapshotDevice(arg_device(arg, "device")?)),
        "snapshotCall" => engine(Command::SnapshotCall(arg_call(arg, "snapshotObject")?)),
        "makeCall" => engine(Command::MakeCall {
            calling: arg_device(arg, "callingDevice")
                .map_err(|_| Refusal::BadArgument("invalidCallingDeviceID"))?,
            called: arg_device(arg, "calledDirectoryNumber")
                .map_err(|_| Refusal::BadArgument("invalidCalledDeviceID"))?,
        }),
        "answerCall" => engine(Command::AnswerCall(arg_conn(arg, "callToBeAnswered")?)),
        "holdCall" => engine(Command::HoldCall(arg_conn(arg, "callToBeHeld")?)),
        "retrieveCall" => engine(Command::RetrieveCall(arg_conn(arg, "callToBeRetrieved")?)),
        "consultationCall" => engine(Command::ConsultationCall {
            held: arg_conn(arg, "existingCall")?,
            consulted: arg_device(arg, "consultedDevice")?,
        }),
        "transferCall" => engine(Command::TransferCall {
            held: arg_conn(arg, "heldCall")?,
            active: arg_conn(arg, "activeCall")?,
        }),
        "conferenceCall" => engine(Command::ConferenceCall {
            held: arg_conn(arg, "heldCall")?,
            active: arg_conn(arg, "activeCall")?,
        }),
        "singleStepTrans" => engine(Command::SingleStepTransfer {
            conn: arg_conn(arg, "activeCall")?,
            to: arg_device(arg, "transferredTo")?,
        }),
        "deflectCall" => engine(Command::Deflect {
            conn: arg_conn(arg, "callToBeDiverted")?,
            to: arg_device(arg, "newDestination")?,
        }),
        "groupPickupCall" => engine(Command::GroupPickup {
            picker: arg_device(arg, "newDestination")?,
        }),
        "directedPickupCall" => engine(Command::DirectedPickup {
            conn: arg_conn(arg, "callToBePickedUp")?,
            picker: arg_device(arg, "requestingDevice")?,
        }),
        "clearConnection" => engine(Command::ClearConnection(arg_conn(
            arg,
            "connectionToBeCleared",
        )?)),
        "clearCall" => engine(Command::ClearCall(arg_call(arg, "callToBeCleared")?)),
        "setAgentState" => {
            let device = arg_device(arg, "device")?;
            let state = match arg.get("requestedAgentState").and_then(Value::as_str) {
                Some("loggedOn") | Some("ready") => AgentState::Ready,
                Some("loggedOff") => AgentState::LoggedOff,
                Some("notReady") => AgentState::NotReady(None),
                Some("workingAfterCall") => AgentState::WorkingAfterCall,
                _ => return Err(Refusal::BadArgument("invalidAgentState")),
            };
            engine(Command::SetAgentState { device, state })
        }
        "systemStatus" | "requestSysStat" => Ok(Request::Status { op: op.to_owned() }),
        other => Err(Refusal::Unsupported(other.to_owned())),
    }
}

/// A ROSE returnResult (JER) for `op`.
pub(crate) fn result_pdu(invoke_id: i64, op: &str, result: Value) -> Option<Pdu> {
    Pdu::from_jer(
        &json!({"rose": "returnResult", "invokeId": invoke_id, "operation": op, "result": result}),
    )
    .ok()
}

/// The result value of an engine response to `op`.
pub(crate) fn result_value(op: &str, cmd: &Command, r: &Response) -> Value {
    match (r, op) {
        (Response::MonitorStarted(x), _) => json!({"crossRefIdentifier": xref_hex(*x)}),
        (Response::CallStarted(c), "makeCall") => json!({"callingDevice": conn(c)}),
        (Response::CallStarted(c), _) => json!({"initiatedCall": conn(c)}),
        (Response::Joined(id), "conferenceCall") => {
            let d = match cmd {
                Command::ConferenceCall { held, .. } => held.device.clone(),
                _ => String::new(),
            };
            json!({"conferenceCall": conn_id(id, &d)})
        }
        (Response::Joined(id), _) => json!({"transferredCall": {"callID": hex_of(&id.0)}}),
        (Response::Device(d), "getAgentState") => agent_state_list(d),
        (Response::Device(d), _) => device_snapshot(d),
        (Response::Call(c), _) => call_snapshot(c),
        _ => json!({"noData": null}),
    }
}

fn device_snapshot(d: &DeviceSnapshot) -> Value {
    let items: Vec<Value> = d
        .connections
        .iter()
        .map(|(c, s)| {
            json!({"connectionIdentifier": conn(c), "localCallState": {"compoundCallState": [lcs(*s)]}})
        })
        .collect();
    json!({"crossRefIDorSnapshotData": {"snapshotData": items}})
}

/// A GetAgentState result: the agent at the device (none for a device without one).
fn agent_state_list(d: &DeviceSnapshot) -> Value {
    let list: Vec<Value> = match (&d.agent_id, &d.agent) {
        (Some(id), Some(state)) => {
            let logged_on = !matches!(state, AgentState::LoggedOff);
            let mut entry = json!({"agentID": hex_of(id.as_bytes()), "loggedOn": logged_on});
            if logged_on {
                let name = match state {
                    AgentState::Ready => "agentReady",
                    AgentState::Busy => "agentBusy",
                    AgentState::WorkingAfterCall => "agentWorkingAfterCall",
                    AgentState::NotReady(_) | AgentState::LoggedOff => "agentNotReady",
                };
                let mut info = json!({"agentState": name});
                if let Some(g) = &d.agent_group {
                    info["acdGroup"] = device_id(g);
                }
                entry["agentInfo"] = json!([info]);
            }
            vec![entry]
        }
        _ => Vec::new(),
    };
    json!({"agentStateList": list})
}

fn call_snapshot(c: &CallSnapshot) -> Value {
    let items: Vec<Value> = c
        .connections
        .iter()
        .map(|(c, s)| {
            json!({"deviceOnCall": ext_device(&c.device), "callIdentifier": conn(c), "localConnectionState": lcs(*s)})
        })
        .collect();
    json!({"crossRefIDorSnapshotData": {"snapshotData": items}})
}

/// The ECMA-269 universal error (alternative, enumerator) for an engine error.
pub(crate) fn error_for(
    op: &str,
    cmd: Option<&Command>,
    e: &SimError,
) -> (&'static str, &'static str) {
    match e {
        SimError::InvalidDevice(d) => match cmd {
            Some(Command::MakeCall { calling, .. }) if calling == d => {
                ("operation", "invalidCallingDeviceID")
            }
            Some(Command::MakeCall { .. }) => ("operation", "invalidCalledDeviceID"),
            _ if op == "monitorStart" => ("operation", "invalidMonitorObject"),
            _ => ("operation", "invalidDeviceID"),
        },
        SimError::InvalidConnection => ("operation", "invalidConnectionID"),
        SimError::NotPermittedInState => ("stateIncompatibility", "invalidObjectState"),
        SimError::MonitorLimitExceeded => {
            ("systemResourceAvailability", "overallMonitorLimitExceeded")
        }
        SimError::InvalidMonitor(_) => ("operation", "invalidMonitorCrossRefID"),
        SimError::LinkDown => ("systemResourceAvailability", "resourceOutOfService"),
    }
}

/// A ROSE returnError (JER) with a universal failure.
pub(crate) fn error_pdu(invoke_id: i64, alternative: &str, name: &str) -> Option<Pdu> {
    let mut p = Map::new();
    p.insert(alternative.into(), Value::String(name.into()));
    Pdu::from_jer(&json!({"rose": "returnError", "invokeId": invoke_id, "error": "universalFailure", "parameter": p})).ok()
}

/// A ROSE invoke (JER) of `op` with `argument`.
pub(crate) fn invoke_pdu(invoke_id: i64, op: &str, argument: Value) -> Option<Pdu> {
    Pdu::from_jer(
        &json!({"rose": "invoke", "invokeId": invoke_id, "operation": op, "argument": argument}),
    )
    .ok()
}

/// The CSTA event report for an engine event, as the monitor `e.cross_ref` receives it, with
/// `stamp` as its `security.timestamp` when given.
pub(crate) fn event_pdu(invoke_id: i64, e: &MonitorEvent, stamp: Option<&str>) -> Option<Pdu> {
    let (category, name, mut value) = event_value(e)?;
    if let (Some(t), Some(o)) = (stamp, value.as_object_mut()) {
        o.insert("extensions".into(), json!({"security": {"timestamp": t}}));
    }
    Pdu::from_jer(&json!({
        "rose": "invoke",
        "invokeId": invoke_id,
        "operation": "cSTAEventReport",
        "argument": {
            "crossRefIdentifier": xref_hex(e.cross_ref),
            "eventSpecificInfo": {category: {name: value}},
        }
    }))
    .ok()
}

fn with_state(mut v: Value, e: &MonitorEvent) -> Value {
    if let (Some(s), Some(o)) = (e.local_state, v.as_object_mut()) {
        o.insert("localConnectionInfo".into(), lcs(s).into());
    }
    v
}

fn agent_value(e: &MonitorEvent, agent: &str, group: Option<&str>) -> Value {
    let mut o = Map::new();
    o.insert("agentDevice".into(), ext_device(&e.device));
    o.insert("agentID".into(), hex_of(agent.as_bytes()).into());
    if let Some(g) = group {
        o.insert("acdGroup".into(), device_id(g));
    }
    Value::Object(o)
}

/// (category, event name, JER value) of an engine event.
pub(crate) fn event_value(e: &MonitorEvent) -> Option<(&'static str, &'static str, Value)> {
    const CC: &str = "callControlEvents";
    const LD: &str = "logicalDeviceFeatureEvents";
    let v = match &e.kind {
        EventKind::ServiceInitiated { conn: c, cause } => (
            CC,
            "serviceInitiated",
            with_state(
                json!({"initiatedConnection": conn(c), "initiatingDevice": ext_device(&c.device), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Originated {
            conn: c,
            calling,
            called,
            cause,
        } => (
            CC,
            "originated",
            with_state(
                json!({"originatedConnection": conn(c), "callingDevice": ext_device(calling), "calledDevice": ext_device(called), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Delivered {
            conn: c,
            calling,
            called,
            last_redirection,
            cause,
        } => (
            CC,
            "delivered",
            with_state(
                json!({"connection": conn(c), "alertingDevice": ext_device(&c.device), "callingDevice": ext_device(calling), "calledDevice": ext_device(called), "lastRedirectionDevice": redirection(last_redirection), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Established {
            conn: c,
            calling,
            called,
            last_redirection,
            cause,
        } => (
            CC,
            "established",
            with_state(
                json!({"establishedConnection": conn(c), "answeringDevice": ext_device(&c.device), "callingDevice": ext_device(calling), "calledDevice": ext_device(called), "lastRedirectionDevice": redirection(last_redirection), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Held {
            conn: c,
            holding,
            cause,
        } => (
            CC,
            "held",
            with_state(
                json!({"heldConnection": conn(c), "holdingDevice": ext_device(holding), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Retrieved {
            conn: c,
            retrieving,
            cause,
        } => (
            CC,
            "retrieved",
            with_state(
                json!({"retrievedConnection": conn(c), "retrievingDevice": ext_device(retrieving), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Queued {
            conn: c,
            queue,
            calling,
            called,
            calls_in_queue,
            cause,
        } => (
            CC,
            "queued",
            with_state(
                json!({"queuedConnection": conn(c), "queue": ext_device(queue), "callingDevice": ext_device(calling), "calledDevice": ext_device(called), "lastRedirectionDevice": {"notKnown": null}, "numberQueued": calls_in_queue, "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Diverted {
            conn: c,
            from,
            to,
            cause,
        } => (
            CC,
            "diverted",
            with_state(
                json!({"connection": conn(c), "divertingDevice": ext_device(from), "newDestination": ext_device(to), "lastRedirectionDevice": {"notKnown": null}, "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::Transferred {
            primary_old_call,
            secondary_old_call,
            transferring,
            transferred_to,
            new_call: _,
            connections,
            cause,
        } => {
            let list: Vec<Value> = connections
                .iter()
                .map(|(new, old)| {
                    json!({"newConnection": conn(new), "oldConnection": conn(old), "endpoint": {"deviceID": device_id(&new.device)}})
                })
                .collect();
            let mut o = Map::new();
            o.insert(
                "primaryOldCall".into(),
                conn_id(primary_old_call, transferring),
            );
            if let Some(s) = secondary_old_call {
                o.insert("secondaryOldCall".into(), conn_id(s, transferring));
            }
            o.insert("transferringDevice".into(), ext_device(transferring));
            o.insert("transferredToDevice".into(), ext_device(transferred_to));
            o.insert("transferredConnections".into(), Value::Array(list));
            o.insert("cause".into(), cause.as_str().into());
            (CC, "transferred", with_state(Value::Object(o), e))
        }
        EventKind::Conferenced {
            primary_old_call,
            secondary_old_call,
            conferencing,
            added,
            connections,
            cause,
        } => {
            let list: Vec<Value> = connections
                .iter()
                .map(|c| json!({"newConnection": conn(c), "endpoint": {"deviceID": device_id(&c.device)}}))
                .collect();
            (
                CC,
                "conferenced",
                with_state(
                    json!({"primaryOldCall": conn_id(primary_old_call, conferencing), "secondaryOldCall": conn_id(secondary_old_call, conferencing), "conferencingDevice": ext_device(conferencing), "addedParty": ext_device(added), "conferenceConnections": list, "cause": cause.as_str()}),
                    e,
                ),
            )
        }
        EventKind::ConnectionCleared {
            conn: c,
            releasing,
            cause,
        } => (
            CC,
            "connectionCleared",
            with_state(
                json!({"droppedConnection": conn(c), "releasingDevice": ext_device(releasing), "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::CallCleared { call, cause } => (
            CC,
            "callCleared",
            json!({"clearedCall": {"callID": hex_of(&call.0)}, "cause": cause.as_str()}),
        ),
        EventKind::Failed {
            conn: c,
            failing,
            calling,
            called,
            cause,
        } => (
            CC,
            "failed",
            with_state(
                json!({"failedConnection": conn(c), "failingDevice": ext_device(failing), "callingDevice": ext_device(calling), "calledDevice": ext_device(called), "lastRedirectionDevice": {"notKnown": null}, "cause": cause.as_str()}),
                e,
            ),
        ),
        EventKind::AgentLoggedOn { agent, group } => {
            (LD, "agentLoggedOn", agent_value(e, agent, Some(group)))
        }
        EventKind::AgentLoggedOff { agent } => (LD, "agentLoggedOff", agent_value(e, agent, None)),
        EventKind::AgentReady { agent } => (LD, "agentReady", agent_value(e, agent, None)),
        EventKind::AgentNotReady { agent, .. } => {
            (LD, "agentNotReady", agent_value(e, agent, None))
        }
        EventKind::AgentWorkingAfterCall { agent } => {
            (LD, "agentWorkingAfterCall", agent_value(e, agent, None))
        }
        EventKind::AgentBusy { agent } => (LD, "agentBusy", agent_value(e, agent, None)),
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use hookflash_csta::xml::{self, Edition};

    use super::*;
    use crate::model::EventCause;

    fn c(call: &[u8], d: &str) -> ConnectionId {
        ConnectionId {
            call: CallId(call.to_vec()),
            device: d.into(),
        }
    }

    fn samples() -> Vec<EventKind> {
        let redirected = Some("6000".to_owned());
        vec![
            EventKind::ServiceInitiated {
                conn: c(b"1", "200000"),
                cause: EventCause::MakeCall,
            },
            EventKind::Originated {
                conn: c(b"1", "200000"),
                calling: "200000".into(),
                called: "+4989123".into(),
                cause: EventCause::MakeCall,
            },
            EventKind::Delivered {
                conn: c(b"1", "200001"),
                calling: "+4989123".into(),
                called: "6000".into(),
                last_redirection: redirected.clone(),
                cause: EventCause::Distributed,
            },
            EventKind::Established {
                conn: c(b"1", "200001"),
                calling: "+4989123".into(),
                called: "6000".into(),
                last_redirection: redirected,
                cause: EventCause::CallPickup,
            },
            EventKind::Established {
                conn: c(b"1", "200001"),
                calling: "+4989123".into(),
                called: "200001".into(),
                last_redirection: None,
                cause: EventCause::NewCall,
            },
            EventKind::Held {
                conn: c(b"1", "200001"),
                holding: "200001".into(),
                cause: EventCause::NewCall,
            },
            EventKind::Retrieved {
                conn: c(b"1", "200001"),
                retrieving: "200001".into(),
                cause: EventCause::NewCall,
            },
            EventKind::Queued {
                conn: c(b"1", "6000"),
                queue: "6000".into(),
                calling: "+4989123".into(),
                called: "6000".into(),
                calls_in_queue: 2,
                cause: EventCause::EnteringDistribution,
            },
            EventKind::Diverted {
                conn: c(b"1", "200001"),
                from: "200001".into(),
                to: "200002".into(),
                cause: EventCause::CallPickup,
            },
            EventKind::Transferred {
                primary_old_call: CallId(b"1".to_vec()),
                secondary_old_call: Some(CallId(b"2".to_vec())),
                transferring: "200001".into(),
                transferred_to: "200002".into(),
                new_call: CallId(b"3".to_vec()),
                connections: vec![(c(b"3", "200002"), c(b"2", "200002"))],
                cause: EventCause::Transfer,
            },
            EventKind::Conferenced {
                primary_old_call: CallId(b"1".to_vec()),
                secondary_old_call: CallId(b"2".to_vec()),
                conferencing: "200001".into(),
                added: "200002".into(),
                connections: vec![c(b"1", "200001"), c(b"1", "200002")],
                cause: EventCause::Conferenced,
            },
            EventKind::ConnectionCleared {
                conn: c(b"1", "200001"),
                releasing: "200001".into(),
                cause: EventCause::Park,
            },
            EventKind::CallCleared {
                call: CallId(b"1".to_vec()),
                cause: EventCause::NormalClearing,
            },
            EventKind::Failed {
                conn: c(b"1", "200001"),
                failing: "200001".into(),
                calling: "+4989123".into(),
                called: "200001".into(),
                cause: EventCause::Busy,
            },
            EventKind::AgentLoggedOn {
                agent: "A300000".into(),
                group: "6000".into(),
            },
            EventKind::AgentNotReady {
                agent: "A300000".into(),
                reason: Some(3),
            },
            EventKind::AgentWorkingAfterCall {
                agent: "A300000".into(),
            },
        ]
    }

    #[test]
    fn every_event_encodes_in_ber_and_in_xml_and_reads_back_the_same() {
        for kind in samples() {
            let e = MonitorEvent {
                cross_ref: 7,
                device: "200001".into(),
                at_ms: 0,
                local_state: Some(LocalConnectionState::Connected),
                kind,
            };
            let p = event_pdu(9999, &e, None).unwrap_or_else(|| panic!("{e:?}"));
            let ber = hookflash_csta::pdu::encode_to_vec(&p);
            let back = hookflash_csta::pdu::decode(&bytes::Bytes::from(ber)).unwrap();
            assert_eq!(back.to_json(), p.to_json());
            for ed in [Edition::ED3, Edition::ED4] {
                let mut x = Vec::new();
                let id = xml::encode(&p, &ed, &mut x).unwrap();
                let m = xml::decode(&x, Some(id))
                    .unwrap_or_else(|err| panic!("{err:?}: {}", String::from_utf8_lossy(&x)));
                assert_eq!(
                    m.pdu.to_json(),
                    p.to_json(),
                    "{}",
                    String::from_utf8_lossy(&x)
                );
            }
        }
    }
}
