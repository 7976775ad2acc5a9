//! CSTA → core: turns CSTA event reports (from BER or XML: both give the same typed document)
//! into the protocol-neutral driver events of `hookflash-core`.
//!
//! The mapper keeps the monitor cross-reference ids of the link (which device each monitor
//! watches), so that an event names the device it was reported for even when the PBX leaves a
//! device out. CSTA call ids become the core's native call ids as upper-case hex, scoped by the
//! link; call ids that change on a transfer (OpenScape style) are passed on as the transfer's
//! new call id, so the core keeps the call's stable id.

use std::collections::HashMap;

use hookflash_core::driver::{AgentEventKind, CallEventKind, Cause, DriverEvent};
use hookflash_core::model::{ConnectionState, DeviceId, LinkId, NativeCallId};
use serde_json::Value;

use crate::generated::ops::{Argument, Operation};
use crate::generated::types::{CSTAEventReportArgument, Code};
use crate::pdu::{Payload, Pdu};

pub mod time;
mod typed;

/// Maps the CSTA events of one link.
#[derive(Debug, Clone)]
pub struct Mapper {
    link: LinkId,
    monitors: HashMap<String, DeviceId>,
}

/// The device a CSTA device identifier names: a dialling number, a device number, the digits of
/// a public or private number; `None` for `notKnown`, `restricted` and the like.
pub fn device(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    let (k, inner) = o.iter().next()?;
    match k.as_str() {
        "deviceIdentifier" | "numberdialed" | "numberDialed" | "staticID" | "deviceID" => {
            device(inner)
        }
        "dialingNumber" | "implicitPublic" | "implicitPrivate" | "other" | "dynamicID" => {
            inner.as_str().map(str::to_owned)
        }
        "deviceNumber" => inner.as_i64().map(|n| n.to_string()),
        "explicitPublic" | "explicitPrivate" => {
            let (ton, digits) = inner.as_object()?.iter().next()?;
            let d = digits.as_str()?;
            Some(if ton == "international" && !d.starts_with('+') {
                format!("+{d}")
            } else {
                d.to_owned()
            })
        }
        _ => None,
    }
}

/// The call id (hex) and device of a ConnectionID.
pub fn connection(v: &Value) -> (Option<String>, Option<String>) {
    let Some(o) = v.as_object() else {
        return (None, None);
    };
    let Some((k, inner)) = o.iter().next() else {
        return (None, None);
    };
    match k.as_str() {
        "both" => (
            inner
                .get("callID")
                .and_then(Value::as_str)
                .map(str::to_owned),
            inner.get("deviceID").and_then(device),
        ),
        "callID" => (inner.as_str().map(str::to_owned), None),
        "deviceID" => (None, device(inner)),
        _ => (None, None),
    }
}

/// The core's cause for an ECMA-269 EventCause.
pub fn cause(name: &str) -> Cause {
    match name {
        "busy" => Cause::Busy,
        "noAnswer" | "callNotAnswered" => Cause::NoAnswer,
        "normalClearing" | "normal" | "newCall" | "newConnection" => Cause::Normal,
        "transfer" | "singleStepTransfer" => Cause::Transfer,
        "conference" | "singleStepConference" => Cause::Conference,
        "callPickup" => Cause::Pickup,
        "park" | "parkedCall" => Cause::Park,
        "redirected"
        | "callForward"
        | "callForwardImmediate"
        | "callForwardBusy"
        | "callForwardNoAnswer"
        | "callDeflection"
        | "alternate" => Cause::Redirected,
        "destNotObtainable"
        | "invalidNumberFormat"
        | "networkCongestion"
        | "networkNotObtainable"
        | "blocked"
        | "resourcesNotAvailable"
        | "trunksBusy"
        | "reorderTone"
        | "incompatibleDestination"
        | "outOfService" => Cause::Unreachable,
        _ => Cause::Other,
    }
}

/// An agent id: its octets as text when they are printable (they usually are), hex otherwise.
pub(crate) fn agent_id(v: &Value) -> Option<String> {
    let hex = v.as_str()?;
    let bytes = crate::ber::parse_hex(hex)?;
    match String::from_utf8(bytes) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()) => Some(s),
        _ => Some(hex.to_owned()),
    }
}

fn local_state(v: Option<&Value>) -> Option<ConnectionState> {
    Some(local_state_named(v?.as_str()?))
}

/// The core's connection state for an ECMA-269 LocalConnectionState, by its name.
fn local_state_named(name: &str) -> ConnectionState {
    match name {
        "null" => ConnectionState::Null,
        "initiated" => ConnectionState::Initiated,
        "alerting" => ConnectionState::Alerting,
        "connected" => ConnectionState::Connected,
        "hold" => ConnectionState::Held,
        "queued" => ConnectionState::Queued,
        "fail" => ConnectionState::Failed,
        other => ConnectionState::Unknown {
            raw: other.to_owned(),
        },
    }
}

impl Mapper {
    /// A mapper for `link`.
    pub fn new(link: impl Into<LinkId>) -> Self {
        Self {
            link: link.into(),
            monitors: HashMap::new(),
        }
    }

    /// The link.
    pub fn link(&self) -> &LinkId {
        &self.link
    }

    /// Records that the monitor with cross-reference `xref` (hex, as the typed document writes
    /// it) watches `device`.
    pub fn monitor_started(&mut self, xref: &str, device: &str) {
        self.monitors
            .insert(xref.to_ascii_uppercase(), device.into());
    }

    /// Forgets a monitor.
    pub fn monitor_stopped(&mut self, xref: &str) {
        self.monitors.remove(&xref.to_ascii_uppercase());
    }

    /// The device a monitor watches.
    pub fn monitored_device(&self, xref: &str) -> Option<&DeviceId> {
        if xref.bytes().any(|b| b.is_ascii_lowercase()) {
            self.monitors.get(&xref.to_ascii_uppercase())
        } else {
            self.monitors.get(xref)
        }
    }

    /// Forgets every monitor (after the PBX lost them).
    pub fn clear_monitors(&mut self) {
        self.monitors.clear();
    }

    /// The driver events for one CSTA message (none for messages that are no event reports).
    ///
    /// A decoded event report is read as it is ([`Mapper::map_report`]); an event report whose
    /// argument stayed raw goes through its JSON document ([`Mapper::map_json`]), as a vendor's
    /// mapping of its own PDUs would. Both give the same driver events for the same event.
    pub fn map(&self, pdu: &Pdu) -> Vec<DriverEvent> {
        self.map_one(pdu).into_iter().collect()
    }

    /// Like [`Mapper::map`], without the vector: one CSTA event gives at most one driver event.
    pub fn map_one(&self, pdu: &Pdu) -> Option<DriverEvent> {
        match event_report(pdu) {
            Report::Typed(arg) => self.map_report(arg),
            Report::Raw => self.map_json(pdu).into_iter().next(),
            Report::None => None,
        }
    }

    /// The driver events for one CSTA message through its typed JSON document
    /// ([`Pdu::to_json`], then [`Mapper::map_event`]): the slower reference path.
    pub fn map_json(&self, pdu: &Pdu) -> Vec<DriverEvent> {
        let doc = pdu.to_json();
        if doc.get("kind").and_then(Value::as_str) != Some("event") {
            return Vec::new();
        }
        let name = doc.get("event").and_then(Value::as_str).unwrap_or_default();
        let v = doc.get("value").cloned().unwrap_or(Value::Null);
        let xref = doc
            .get("crossRefIdentifier")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.map_event(name, &v, xref)
    }

    /// The driver events for one event, given its name, value (JER) and cross reference: none
    /// or one.
    pub fn map_event(&self, name: &str, v: &Value, xref: &str) -> Vec<DriverEvent> {
        let subject = self.monitored_device(xref).cloned();
        let dev = |k: &str| v.get(k).and_then(device);
        let dev_id = |k: &str| dev(k).map(DeviceId::from);
        let conn = |k: &str| v.get(k).map(connection).unwrap_or((None, None));
        let cause_of = || v.get("cause").and_then(Value::as_str).map(cause);
        let call_ev = |conn_key: &str, ev: CallEventKind| -> Vec<DriverEvent> {
            match conn(conn_key).0 {
                Some(call) => vec![DriverEvent::Call {
                    link: self.link.clone(),
                    call: call.into(),
                    event: ev,
                    cause: cause_of(),
                }],
                None => Vec::new(),
            }
        };
        // The device of the event's connection, then the monitor's device.
        let or_subject = |d: Option<DeviceId>, conn_key: &str| {
            d.or_else(|| conn(conn_key).1.map(DeviceId::from))
                .or_else(|| subject.clone())
        };
        match name {
            "serviceInitiated" => {
                match or_subject(dev_id("initiatingDevice"), "initiatedConnection") {
                    Some(device) => call_ev(
                        "initiatedConnection",
                        CallEventKind::ServiceInitiated { device },
                    ),
                    None => Vec::new(),
                }
            }
            "originated" => match (
                or_subject(dev_id("callingDevice"), "originatedConnection"),
                dev("calledDevice"),
            ) {
                (Some(calling), Some(called)) => call_ev(
                    "originatedConnection",
                    CallEventKind::Originated { calling, called },
                ),
                _ => Vec::new(),
            },
            "delivered" => match or_subject(dev_id("alertingDevice"), "connection") {
                Some(alerting) => call_ev(
                    "connection",
                    CallEventKind::Delivered {
                        alerting,
                        calling: dev("callingDevice"),
                        called: dev("calledDevice"),
                        last_redirection: dev_id("lastRedirectionDevice"),
                    },
                ),
                None => Vec::new(),
            },
            "queued" => match or_subject(dev_id("queue"), "queuedConnection") {
                Some(queue) => call_ev(
                    "queuedConnection",
                    CallEventKind::Queued {
                        queue,
                        calling: dev("callingDevice"),
                        called: dev("calledDevice"),
                    },
                ),
                None => Vec::new(),
            },
            "established" => match or_subject(dev_id("answeringDevice"), "establishedConnection") {
                Some(answering) => call_ev(
                    "establishedConnection",
                    CallEventKind::Established {
                        answering,
                        calling: dev("callingDevice"),
                        called: dev("calledDevice"),
                    },
                ),
                None => Vec::new(),
            },
            "held" => match or_subject(dev_id("holdingDevice"), "heldConnection") {
                Some(device) => call_ev("heldConnection", CallEventKind::Held { device }),
                None => Vec::new(),
            },
            "retrieved" => match or_subject(dev_id("retrievingDevice"), "retrievedConnection") {
                Some(device) => call_ev("retrievedConnection", CallEventKind::Retrieved { device }),
                None => Vec::new(),
            },
            "diverted" => match or_subject(dev_id("divertingDevice"), "connection") {
                Some(from) => call_ev(
                    "connection",
                    CallEventKind::Diverted {
                        from,
                        to: dev_id("newDestination"),
                    },
                ),
                None => Vec::new(),
            },
            "transferred" | "conferenced" => {
                let (primary, _) = conn("primaryOldCall");
                let (secondary, _) = conn("secondaryOldCall");
                let list = if name == "transferred" {
                    "transferredConnections"
                } else {
                    "conferenceConnections"
                };
                // The result's call id, when the PBX gave the result a new one.
                let new_call = v
                    .get(list)
                    .and_then(Value::as_array)
                    .and_then(|items| {
                        items
                            .iter()
                            .find_map(|i| i.get("newConnection").map(connection).and_then(|c| c.0))
                    })
                    .filter(|n| Some(n) != primary.as_ref());
                let Some(primary) = primary.or_else(|| secondary.clone()) else {
                    return Vec::new();
                };
                let secondary = secondary.filter(|s| *s != primary).map(NativeCallId::from);
                let new_call = new_call.map(NativeCallId::from);
                let ev = if name == "transferred" {
                    let Some(transferring) =
                        dev_id("transferringDevice").or_else(|| subject.clone())
                    else {
                        return Vec::new();
                    };
                    CallEventKind::Transferred {
                        secondary,
                        new_call,
                        transferring,
                        transferred_to: dev_id("transferredToDevice"),
                    }
                } else {
                    let Some(controller) = dev_id("conferencingDevice").or_else(|| subject.clone())
                    else {
                        return Vec::new();
                    };
                    CallEventKind::Conferenced {
                        secondary,
                        new_call,
                        controller,
                        added: dev_id("addedParty"),
                    }
                };
                vec![DriverEvent::Call {
                    link: self.link.clone(),
                    call: primary.into(),
                    event: ev,
                    cause: cause_of(),
                }]
            }
            "connectionCleared" => match dev_id("releasingDevice")
                .or_else(|| conn("droppedConnection").1.map(DeviceId::from))
                .or_else(|| subject.clone())
            {
                Some(device) => call_ev(
                    "droppedConnection",
                    CallEventKind::ConnectionCleared { device },
                ),
                None => Vec::new(),
            },
            "callCleared" => call_ev("clearedCall", CallEventKind::CallCleared),
            "failed" => match or_subject(dev_id("failingDevice"), "failedConnection") {
                Some(device) => call_ev(
                    "failedConnection",
                    CallEventKind::Failed {
                        device,
                        calling: dev("callingDevice"),
                        called: dev("calledDevice"),
                    },
                ),
                None => Vec::new(),
            },
            "networkReached"
            | "offered"
            | "bridged"
            | "digitsDialed"
            | "networkCapabilitiesChanged" => {
                // Connection state only.
                let key = match name {
                    "networkReached" | "networkCapabilitiesChanged" => "outboundConnection",
                    "offered" => "offeredConnection",
                    "bridged" => "bridgedConnection",
                    _ => "dialingConnection",
                };
                let (call, d) = conn(key);
                match (
                    call,
                    d.map(DeviceId::from).or_else(|| subject.clone()),
                    local_state(v.get("localConnectionInfo")),
                ) {
                    (Some(call), Some(device), Some(state)) => vec![DriverEvent::Call {
                        link: self.link.clone(),
                        call: call.into(),
                        event: CallEventKind::State { device, state },
                        cause: cause_of(),
                    }],
                    _ => Vec::new(),
                }
            }
            "callInformation" => {
                let (Some(call), _) = conn("connection") else {
                    return Vec::new();
                };
                let correlator = v
                    .get("correlatorData")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let mut attached = Vec::new();
                // Account and authorisation codes are octet strings, in practice digits:
                // passed on as text when printable, as hex otherwise.
                for k in ["accountInfo", "authCode"] {
                    if let Some(s) = v.get(k).and_then(agent_id) {
                        attached.push((k.to_owned(), s));
                    }
                }
                vec![DriverEvent::Call {
                    link: self.link.clone(),
                    call: call.into(),
                    event: CallEventKind::CallData {
                        correlator,
                        uui: None,
                        attached,
                    },
                    cause: None,
                }]
            }
            "agentLoggedOn"
            | "agentLoggedOff"
            | "agentReady"
            | "agentNotReady"
            | "agentWorkingAfterCall"
            | "agentBusy" => {
                let device = dev_id("agentDevice").or_else(|| subject.clone());
                let Some(agent) = v
                    .get("agentID")
                    .and_then(agent_id)
                    .or_else(|| device.as_ref().map(|d| d.to_string()))
                else {
                    return Vec::new();
                };
                let group = v.get("acdGroup").and_then(device_of_plain);
                let event = match name {
                    "agentLoggedOn" => AgentEventKind::LoggedOn {
                        device,
                        queues: group.into_iter().map(Into::into).collect(),
                    },
                    "agentLoggedOff" => AgentEventKind::LoggedOff,
                    "agentReady" => AgentEventKind::Ready,
                    "agentNotReady" => AgentEventKind::NotReady { reason: reason(v) },
                    "agentWorkingAfterCall" => AgentEventKind::WorkingAfterCall,
                    // Busy is the activity the core derives from the calls themselves.
                    _ => return Vec::new(),
                };
                vec![DriverEvent::Agent {
                    link: self.link.clone(),
                    agent: agent.into(),
                    event,
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// What a PDU is to the mapper.
enum Report<'p> {
    /// A decoded event report.
    Typed(&'p CSTAEventReportArgument),
    /// An invoke whose argument stayed raw (an unknown or vendor operation, or an argument the
    /// decoder could not type).
    Raw,
    /// Anything else: requests, results, errors, rejects, association PDUs.
    None,
}

/// The event report a PDU carries, if it is one: a ROSE invoke of `cSTAEventReport` with its
/// argument decoded (exactly the PDUs whose JSON document is of kind `event`).
fn event_report(pdu: &Pdu) -> Report<'_> {
    let Pdu::Invoke(inv) = pdu else {
        return Report::None;
    };
    match &inv.argument {
        Some(Payload::Typed(Argument::CSTAEventReport(arg)))
            if matches!(inv.opcode, Code::Local(c)
                if Operation::from_code(c) == Some(Operation::CSTAEventReport)) =>
        {
            Report::Typed(arg)
        }
        Some(Payload::Raw(_)) => Report::Raw,
        _ => Report::None,
    }
}

/// A plain DeviceID (not an extended one), e.g. an ACD group.
fn device_of_plain(v: &Value) -> Option<String> {
    device(v)
}

/// A not-ready reason, from whichever reason member the event carries.
fn reason(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    o.iter()
        .find(|(k, _)| k.to_ascii_lowercase().contains("reason"))
        .and_then(|(_, r)| match r {
            Value::String(s) => agent_id(r).or_else(|| Some(s.clone())),
            Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        })
}

#[cfg(test)]
mod tests;
