//! Core commands as CSTA service requests (the argument as X.697 JER, the shape
//! [`crate::pdu::Pdu::from_jer`] reads), and CSTA errors as [`ClientError`]s.

use std::collections::HashMap;

use hookflash_core::command::Command;
use hookflash_core::model::{CallId, ConnectionState, DeviceId, NativeCallId};
use serde_json::{Value, json};

use super::ClientError;

/// A service request built from a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The ECMA-269 service (operation name).
    pub service: &'static str,
    /// Its argument (JER).
    pub argument: Value,
    /// Whether the result names a new call (make call, consultation).
    pub creates_call: bool,
}

/// A device identifier (a dialling number).
pub fn device_id(d: &str) -> Value {
    json!({"deviceIdentifier": {"dialingNumber": d}})
}

/// A connection identifier: a call (hex, as the native call id) at a device.
pub fn connection_id(call: &NativeCallId, device: &str) -> Value {
    json!({"both": {"callID": call.as_str(), "deviceID": {"staticID": device_id(device)}}})
}

fn native(
    native: &HashMap<CallId, NativeCallId>,
    call: CallId,
) -> Result<&NativeCallId, ClientError> {
    native.get(&call).ok_or(ClientError::InvalidCall)
}

/// The request for `command`; `native` gives the link's call id for every call it names.
/// Commands CSTA has no service for give [`ClientError::Unsupported`].
pub fn request_for(
    command: &Command,
    native_ids: &HashMap<CallId, NativeCallId>,
) -> Result<Request, ClientError> {
    request_for_agent_at(command, native_ids, None)
}

/// As [`request_for`], with the device the agent of an agent command is logged on at (learned
/// from the PBX's agent events and `GetAgentState` answers); without one, the agent id stands
/// for its device.
pub fn request_for_agent_at(
    command: &Command,
    native_ids: &HashMap<CallId, NativeCallId>,
    agent_device: Option<&DeviceId>,
) -> Result<Request, ClientError> {
    let n = |c: CallId| native(native_ids, c);
    let conn = |c: CallId, d: &DeviceId| -> Result<Value, ClientError> {
        Ok(connection_id(n(c)?, d.as_str()))
    };
    let plain = |service, argument| Request {
        service,
        argument,
        creates_call: false,
    };
    Ok(match command {
        Command::MakeCall { from, to } => Request {
            service: "makeCall",
            argument: json!({
                "callingDevice": device_id(from.as_str()),
                "calledDirectoryNumber": device_id(to),
                "autoOriginate": "doNotPrompt",
            }),
            creates_call: true,
        },
        Command::Answer { call, device } => plain(
            "answerCall",
            json!({"callToBeAnswered": conn(*call, device)?}),
        ),
        Command::Clear { call, device } => plain(
            "clearConnection",
            json!({"connectionToBeCleared": conn(*call, device)?}),
        ),
        Command::ClearCall { call } => plain(
            "clearCall",
            json!({"callToBeCleared": {"callID": n(*call)?.as_str()}}),
        ),
        Command::Hold { call, device } => {
            plain("holdCall", json!({"callToBeHeld": conn(*call, device)?}))
        }
        Command::Retrieve { call, device } => plain(
            "retrieveCall",
            json!({"callToBeRetrieved": conn(*call, device)?}),
        ),
        Command::Consult { call, device, to } => Request {
            service: "consultationCall",
            argument: json!({
                "existingCall": conn(*call, device)?,
                "consultedDevice": device_id(to),
            }),
            creates_call: true,
        },
        Command::Transfer {
            held,
            active,
            device,
        } => plain(
            "transferCall",
            json!({"heldCall": conn(*held, device)?, "activeCall": conn(*active, device)?}),
        ),
        Command::Conference {
            held,
            active,
            device,
        } => plain(
            "conferenceCall",
            json!({"heldCall": conn(*held, device)?, "activeCall": conn(*active, device)?}),
        ),
        Command::SingleStepTransfer { call, device, to } => plain(
            "singleStepTrans",
            json!({"activeCall": conn(*call, device)?, "transferredTo": device_id(to)}),
        ),
        Command::SingleStepConference { call, device, to } => plain(
            "singleStepConf",
            json!({
                "activeCall": conn(*call, device)?,
                "deviceToJoin": device_id(to),
                "participationType": "active",
            }),
        ),
        Command::Deflect { call, device, to } => plain(
            "deflectCall",
            json!({"callToBeDiverted": conn(*call, device)?, "newDestination": device_id(to)}),
        ),
        Command::Pickup { device, from } => match from {
            Some(from) => plain(
                "directedPickupCall",
                json!({
                    "callToBePickedUp": {"deviceID": {"staticID": device_id(from.as_str())}},
                    "requestingDevice": device_id(device.as_str()),
                }),
            ),
            None => plain(
                "groupPickupCall",
                json!({"newDestination": device_id(device.as_str())}),
            ),
        },
        Command::Alternate {
            held,
            active,
            device,
        } => plain(
            "alternateCall",
            json!({"heldCall": conn(*held, device)?, "activeCall": conn(*active, device)?}),
        ),
        Command::Reconnect {
            held,
            active,
            device,
        } => plain(
            "reconnectCall",
            json!({"activeCall": conn(*active, device)?, "heldCall": conn(*held, device)?}),
        ),
        Command::SendDigits {
            call,
            device,
            digits,
        } => plain(
            "generateDigits",
            json!({"connectionToSendDigits": conn(*call, device)?, "charactersToSend": digits}),
        ),
        Command::AgentLogin {
            agent,
            device,
            queues,
        } => {
            let mut arg = json!({
                "device": device_id(device.as_str()),
                "requestedAgentState": "loggedOn",
                "agentID": hex(agent.as_str()),
            });
            if let Some(q) = queues.first() {
                arg["group"] = device_id(q.as_str());
            }
            plain("setAgentState", arg)
        }
        Command::AgentLogout { agent } => plain(
            "setAgentState",
            agent_state(agent, agent_device, "loggedOff"),
        ),
        Command::AgentReady { agent } => {
            plain("setAgentState", agent_state(agent, agent_device, "ready"))
        }
        Command::AgentNotReady { agent, .. } => plain(
            "setAgentState",
            agent_state(agent, agent_device, "notReady"),
        ),
        Command::AgentAfterCallWork { agent } => plain(
            "setAgentState",
            agent_state(agent, agent_device, "workingAfterCall"),
        ),
        _ => return Err(ClientError::Unsupported),
    })
}

/// Agent commands name the agent's device: CSTA sets agent state per device. Where the device
/// is not known, the agent id doubles as its device (a common ACD configuration).
fn agent_state(agent: &DeviceId, device: Option<&DeviceId>, state: &str) -> Value {
    let device = device.unwrap_or(agent);
    json!({"device": device_id(device.as_str()), "requestedAgentState": state, "agentID": hex(agent.as_str())})
}

/// An OCTET STRING value (JER hex) of text.
fn hex(s: &str) -> String {
    use std::fmt::Write as _;
    s.bytes().fold(String::new(), |mut o, b| {
        let _ = write!(o, "{b:02X}");
        o
    })
}

/// The new call a make-call or consultation result names (`callingDevice` / `initiatedCall`).
pub fn new_call(result: &Value) -> Option<NativeCallId> {
    let conn = result
        .get("callingDevice")
        .or_else(|| result.get("initiatedCall"))?;
    crate::mapping::connection(conn)
        .0
        .map(|c| NativeCallId::from(c.to_ascii_uppercase()))
}

/// The error a `returnError` document stands for; `device` is the device the request was
/// about (for [`ClientError::InvalidDevice`]).
pub fn error_of(doc: &Value, device: Option<&DeviceId>) -> ClientError {
    let param = doc.get("parameter").and_then(Value::as_object);
    let Some((category, value)) = param.and_then(|o| o.iter().next()) else {
        let name = doc
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        return ClientError::Pbx { code: None, name };
    };
    let name = value.as_str().unwrap_or_default().to_owned();
    use crate::generated::types as t;
    let code = match category.as_str() {
        "operation" => t::OperationErrors::from_name(&name).map(|e| e.value()),
        "security" => t::SecurityErrors::from_name(&name).map(|e| e.value()),
        "stateIncompatibility" => {
            t::StateIncompatibilityErrors::from_name(&name).map(|e| e.value())
        }
        "systemResourceAvailability" => {
            t::SystemResourceAvailabilityErrors::from_name(&name).map(|e| e.value())
        }
        "subscribedResourceAvailability" => {
            t::SubscribedResourceAvailabilityErrors::from_name(&name).map(|e| e.value())
        }
        "performanceManagement" => {
            t::PerformanceManagementErrors::from_name(&name).map(|e| e.value())
        }
        _ => None,
    };
    if name.contains("MonitorLimitExceeded") {
        return ClientError::MonitorLimit;
    }
    if category == "stateIncompatibility" {
        return ClientError::NotPermitted;
    }
    if category == "operation" {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("invalidcallid") || lower == "invalidconnectionid" {
            return ClientError::InvalidCall;
        }
        if lower.starts_with("invalid")
            && (lower.contains("device") || lower.contains("monitorobject"))
            && let Some(d) = device
        {
            return ClientError::InvalidDevice(d.clone());
        }
    }
    ClientError::Pbx {
        code,
        name: if name.is_empty() {
            category.clone()
        } else {
            name
        },
    }
}

/// The connection state of a snapshot entry's `localCallState` (a compound state's first
/// member, or a simple call state as seen from the local connection).
pub fn snapshot_state(v: Option<&Value>) -> ConnectionState {
    let local = |s: &str| match s {
        "null" => ConnectionState::Null,
        "initiated" => ConnectionState::Initiated,
        "alerting" => ConnectionState::Alerting,
        "connected" => ConnectionState::Connected,
        "hold" => ConnectionState::Held,
        "queued" => ConnectionState::Queued,
        "fail" => ConnectionState::Failed,
        other => ConnectionState::Unknown { raw: other.into() },
    };
    let Some(v) = v else {
        return ConnectionState::Unknown { raw: String::new() };
    };
    if let Some(first) = v
        .get("compoundCallState")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
    {
        return local(first);
    }
    match v.get("simpleCallState").and_then(Value::as_str) {
        Some("callNull") => ConnectionState::Null,
        Some("callPending" | "callOriginated") => ConnectionState::Initiated,
        Some("callReceived") => ConnectionState::Alerting,
        Some(
            "callDelivered"
            | "callEstablished"
            | "callEstablishedHeld"
            | "callQueued"
            | "callDeliveredHeld",
        ) => ConnectionState::Connected,
        Some("callReceivedOnHold" | "callEstablishedOnHold" | "callQueuedHeld") => {
            ConnectionState::Held
        }
        Some("callFailed" | "callFailedHeld" | "callBlocked") => ConnectionState::Failed,
        Some(other) => ConnectionState::Unknown { raw: other.into() },
        None => ConnectionState::Unknown { raw: v.to_string() },
    }
}
