//! The mapper's hot path: reads the decoded event report (`CSTAEventReportArgument`) directly,
//! without building the typed JSON document first. It gives exactly what the JSON path
//! ([`Mapper::map_event`] on [`crate::pdu::Pdu::to_json`]) gives for the same event — the
//! equivalence tests in `mapping/tests.rs` compare the two on the conformance vectors and on
//! generated events — and allocates only the strings the driver event owns.

use std::borrow::Cow;

use hookflash_core::driver::{AgentEventKind, CallEventKind, Cause, DriverEvent};
use hookflash_core::model::{DeviceId, Name, NativeCallId};

use super::{Mapper, cause, local_state_named};
use crate::ber::{Text, hex_upper};
use crate::generated::types::{
    CSTAEventReportArgument, CallAssociatedEvents, CallControlEvents, CalledDeviceID,
    CallingDeviceID, ConnectionID, ConnectionList, DeviceID, DeviceIDDeviceIdentifier, EventCause,
    EventSpecificInfo, LocalConnectionState, LocalDeviceID, LogicalDeviceFeatureEvents, PrivateTON,
    PublicTON, RedirectionDeviceID, SubjectDeviceID,
};

/// Upper-case hex of `b` written into `buf`, when it fits.
fn hex_into<'b>(b: &[u8], buf: &'b mut [u8; 64]) -> Option<&'b str> {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    let n = b.len().checked_mul(2).filter(|n| *n <= buf.len())?;
    for (i, x) in b.iter().enumerate() {
        buf[2 * i] = H[usize::from(x >> 4)];
        buf[2 * i + 1] = H[usize::from(x & 15)];
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// A name holding the upper-case hex of `b` (one allocation: the name's own).
fn hex_name(b: &[u8]) -> Name {
    let mut buf = [0u8; 64];
    match hex_into(b, &mut buf) {
        Some(s) => Name::from(s),
        None => Name::from(hex_upper(b)),
    }
}

fn text(t: &Text) -> Cow<'_, str> {
    String::from_utf8_lossy(t.as_bytes())
}

fn name(c: Cow<'_, str>) -> Name {
    match c {
        Cow::Borrowed(s) => Name::from(s),
        Cow::Owned(s) => Name::from(s),
    }
}

/// The device a CSTA device identifier names, as [`super::device`] reads it from the JSON
/// document.
trait Dev {
    fn dev(&self) -> Option<Cow<'_, str>>;

    /// The device as an owned number.
    fn number(&self) -> Option<String> {
        self.dev().map(Cow::into_owned)
    }

    /// The device as a device id.
    fn id(&self) -> Option<DeviceId> {
        self.dev().map(name)
    }
}

impl Dev for DeviceIDDeviceIdentifier {
    fn dev(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Self::DialingNumber(t) | Self::ImplicitPublic(t) | Self::ImplicitPrivate(t) => text(t),
            Self::DeviceNumber(n) => Cow::Owned(n.to_string()),
            Self::ExplicitPublic(ton) => match ton {
                PublicTON::International(t) => {
                    let d = text(t);
                    if d.starts_with('+') {
                        d
                    } else {
                        Cow::Owned(format!("+{d}"))
                    }
                }
                PublicTON::Unknown(t)
                | PublicTON::National(t)
                | PublicTON::Networkspecific(t)
                | PublicTON::Subscriber(t)
                | PublicTON::Abbreviated(t) => text(t),
                // The JSON document writes an unknown type of number as its raw hex.
                PublicTON::Unrecognized(a) => Cow::Owned(hex_upper(&a.0)),
            },
            Self::ExplicitPrivate(ton) => match ton {
                PrivateTON::Unknown(t)
                | PrivateTON::Level3RegionalNumber(t)
                | PrivateTON::Level2RegionalNumber(t)
                | PrivateTON::Level1RegionalNumber(t)
                | PrivateTON::PTNSpecificNumber(t)
                | PrivateTON::LocalNumber(t)
                | PrivateTON::Abbreviated(t) => text(t),
                PrivateTON::Unrecognized(a) => Cow::Owned(hex_upper(&a.0)),
            },
            Self::Other(o) => Cow::Owned(hex_upper(o.as_bytes())),
            Self::Unrecognized(_) => return None,
        })
    }
}

impl Dev for DeviceID {
    fn dev(&self) -> Option<Cow<'_, str>> {
        self.device_identifier.dev()
    }
}

impl Dev for SubjectDeviceID {
    fn dev(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::DeviceIdentifier(d) => d.dev(),
            _ => None,
        }
    }
}

impl Dev for CallingDeviceID {
    fn dev(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::DeviceIdentifier(d) => d.dev(),
            _ => None,
        }
    }
}

impl Dev for CalledDeviceID {
    fn dev(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::DeviceIdentifier(d) => d.dev(),
            _ => None,
        }
    }
}

impl Dev for RedirectionDeviceID {
    fn dev(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Numberdialed(d) => d.dev(),
            _ => None,
        }
    }
}

impl Dev for LocalDeviceID {
    fn dev(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::StaticID(d) => d.dev(),
            Self::DynamicID(o) => Some(Cow::Owned(hex_upper(o.as_bytes()))),
            Self::Unrecognized(_) => None,
        }
    }
}

impl<T: Dev> Dev for Option<T> {
    fn dev(&self) -> Option<Cow<'_, str>> {
        self.as_ref().and_then(Dev::dev)
    }
}

impl<T: Dev> Dev for Box<T> {
    fn dev(&self) -> Option<Cow<'_, str>> {
        (**self).dev()
    }
}

/// The call id of a ConnectionID (its octets).
fn call_of(c: &ConnectionID) -> Option<&[u8]> {
    match c {
        ConnectionID::CallID(id) => Some(id.as_bytes()),
        ConnectionID::Both(b) => Some(b.call_id.as_bytes()),
        _ => None,
    }
}

/// The device of a ConnectionID.
fn conn_device(c: &ConnectionID) -> Option<DeviceId> {
    match c {
        ConnectionID::DeviceID(d) => d.id(),
        ConnectionID::Both(b) => b.device_id.id(),
        _ => None,
    }
}

fn cause_of(c: EventCause) -> Option<Cause> {
    c.name().map(cause)
}

/// An agent id from its octets: as text when printable, hex otherwise (as
/// [`super::agent_id`] reads it from the JSON document).
fn agent_name(b: &[u8]) -> Name {
    if !b.is_empty() && b.iter().all(u8::is_ascii_graphic) {
        // All bytes are printable ASCII, hence UTF-8.
        name(String::from_utf8_lossy(b))
    } else {
        hex_name(b)
    }
}

/// The call id of the first item of a transfer's or conference's connection list that gives
/// its new connection one.
fn new_call_of(list: &ConnectionList) -> Option<&[u8]> {
    list.iter()
        .find_map(|i| i.new_connection.as_deref().and_then(call_of))
}

impl Mapper {
    /// The device a monitor watches, by the monitor's cross-reference id as octets.
    fn monitored_octets(&self, xref: &[u8]) -> Option<&DeviceId> {
        let mut buf = [0u8; 64];
        match hex_into(xref, &mut buf) {
            Some(s) => self.monitors.get(s),
            None => self.monitors.get(hex_upper(xref).as_str()),
        }
    }

    /// The driver event for one decoded event report (`None` for events that have no driver
    /// event). The same as [`Mapper::map_event`] gives for the report's JSON document.
    pub fn map_report(&self, arg: &CSTAEventReportArgument) -> Option<DriverEvent> {
        let subject = || {
            self.monitored_octets(arg.cross_ref_identifier.as_bytes())
                .cloned()
        };
        // The device the event names, else its connection's, else the monitor's.
        let or_subject = |d: Option<DeviceId>, conn: &ConnectionID| {
            d.or_else(|| conn_device(conn)).or_else(subject)
        };
        // (Nothing is built for an event without a call id: each arm reads the call id first.)
        let call_ev = |call: &[u8], event: CallEventKind, cause: EventCause| {
            Some(DriverEvent::Call {
                link: self.link.clone(),
                call: hex_name(call),
                event,
                cause: cause_of(cause),
            })
        };
        match &arg.event_specific_info {
            EventSpecificInfo::CallControlEvents(ev) => match ev {
                CallControlEvents::ServiceInitiated(e) => {
                    let call = call_of(&e.initiated_connection)?;
                    let device = or_subject(e.initiating_device.id(), &e.initiated_connection)?;
                    call_ev(call, CallEventKind::ServiceInitiated { device }, e.cause)
                }
                CallControlEvents::Originated(e) => {
                    let call = call_of(&e.originated_connection)?;
                    let calling = or_subject(e.calling_device.id(), &e.originated_connection)?;
                    let called = e.called_device.number()?;
                    call_ev(call, CallEventKind::Originated { calling, called }, e.cause)
                }
                CallControlEvents::Delivered(e) => {
                    let call = call_of(&e.connection)?;
                    let alerting = or_subject(e.alerting_device.id(), &e.connection)?;
                    call_ev(
                        call,
                        CallEventKind::Delivered {
                            alerting,
                            calling: e.calling_device.number(),
                            called: e.called_device.number(),
                            last_redirection: e.last_redirection_device.id(),
                        },
                        e.cause,
                    )
                }
                CallControlEvents::Queued(e) => {
                    let call = call_of(&e.queued_connection)?;
                    let queue = or_subject(e.queue.id(), &e.queued_connection)?;
                    call_ev(
                        call,
                        CallEventKind::Queued {
                            queue,
                            calling: e.calling_device.number(),
                            called: e.called_device.number(),
                        },
                        e.cause,
                    )
                }
                CallControlEvents::Established(e) => {
                    let call = call_of(&e.established_connection)?;
                    let answering = or_subject(e.answering_device.id(), &e.established_connection)?;
                    call_ev(
                        call,
                        CallEventKind::Established {
                            answering,
                            calling: e.calling_device.number(),
                            called: e.called_device.number(),
                        },
                        e.cause,
                    )
                }
                CallControlEvents::Held(e) => {
                    let call = call_of(&e.held_connection)?;
                    let device = or_subject(e.holding_device.id(), &e.held_connection)?;
                    call_ev(call, CallEventKind::Held { device }, e.cause)
                }
                CallControlEvents::Retrieved(e) => {
                    let call = call_of(&e.retrieved_connection)?;
                    let device = or_subject(e.retrieving_device.id(), &e.retrieved_connection)?;
                    call_ev(call, CallEventKind::Retrieved { device }, e.cause)
                }
                CallControlEvents::Diverted(e) => {
                    let call = call_of(&e.connection)?;
                    let from = or_subject(e.diverting_device.id(), &e.connection)?;
                    call_ev(
                        call,
                        CallEventKind::Diverted {
                            from,
                            to: e.new_destination.id(),
                        },
                        e.cause,
                    )
                }
                CallControlEvents::Transferred(e) => self.joined(
                    &e.primary_old_call,
                    e.secondary_old_call.as_deref(),
                    &e.transferred_connections,
                    e.cause,
                    |secondary, new_call| {
                        Some(CallEventKind::Transferred {
                            secondary,
                            new_call,
                            transferring: e.transferring_device.id().or_else(subject)?,
                            transferred_to: e.transferred_to_device.id(),
                        })
                    },
                ),
                CallControlEvents::Conferenced(e) => self.joined(
                    &e.primary_old_call,
                    e.secondary_old_call.as_deref(),
                    &e.conference_connections,
                    e.cause,
                    |secondary, new_call| {
                        Some(CallEventKind::Conferenced {
                            secondary,
                            new_call,
                            controller: e.conferencing_device.id().or_else(subject)?,
                            added: e.added_party.id(),
                        })
                    },
                ),
                CallControlEvents::ConnectionCleared(e) => {
                    let call = call_of(&e.dropped_connection)?;
                    let device = or_subject(e.releasing_device.id(), &e.dropped_connection)?;
                    call_ev(call, CallEventKind::ConnectionCleared { device }, e.cause)
                }
                CallControlEvents::CallCleared(e) => call_ev(
                    call_of(&e.cleared_call)?,
                    CallEventKind::CallCleared,
                    e.cause,
                ),
                CallControlEvents::Failed(e) => {
                    let call = call_of(&e.failed_connection)?;
                    let device = or_subject(e.failing_device.id(), &e.failed_connection)?;
                    call_ev(
                        call,
                        CallEventKind::Failed {
                            device,
                            calling: e.calling_device.number(),
                            called: e.called_device.number(),
                        },
                        e.cause,
                    )
                }
                // Connection state only: the connection's device (else the monitor's) is in
                // the state the event reports.
                CallControlEvents::NetworkReached(e) => self.state(
                    &e.outbound_connection,
                    e.local_connection_info,
                    e.cause,
                    subject,
                ),
                CallControlEvents::Offered(e) => self.state(
                    &e.offered_connection,
                    e.local_connection_info,
                    e.cause,
                    subject,
                ),
                CallControlEvents::Bridged(e) => self.state(
                    &e.bridged_connection,
                    e.local_connection_info,
                    e.cause,
                    subject,
                ),
                CallControlEvents::DigitsDialed(e) => self.state(
                    &e.dialing_connection,
                    e.local_connection_info,
                    e.cause,
                    subject,
                ),
                CallControlEvents::NetworkCapabilitiesChanged(e) => self.state(
                    &e.outbound_connection,
                    e.local_connection_info,
                    e.cause,
                    subject,
                ),
                CallControlEvents::Unrecognized(_) => None,
            },
            EventSpecificInfo::CallAssociatedEvents(CallAssociatedEvents::CallInformation(e)) => {
                let call = hex_name(call_of(&e.connection)?);
                Some(DriverEvent::Call {
                    link: self.link.clone(),
                    call,
                    event: CallEventKind::CallData {
                        correlator: e.correlator_data.as_ref().map(|c| hex_upper(c.as_bytes())),
                        uui: None,
                        attached: [
                            ("accountInfo", e.account_info.as_ref()),
                            ("authCode", e.auth_code.as_ref()),
                        ]
                        .into_iter()
                        .filter_map(|(k, v)| {
                            Some((k.to_owned(), agent_name(v?.as_bytes()).to_string()))
                        })
                        .collect(),
                    },
                    cause: None,
                })
            }
            EventSpecificInfo::LogicalDeviceFeatureEvents(ev) => {
                let (agent_device, agent_id, acd_group) = match ev {
                    LogicalDeviceFeatureEvents::AgentLoggedOn(e) => {
                        (&e.agent_device, &e.agent_id, &e.acd_group)
                    }
                    LogicalDeviceFeatureEvents::AgentLoggedOff(e) => {
                        (&e.agent_device, &e.agent_id, &e.acd_group)
                    }
                    LogicalDeviceFeatureEvents::AgentReady(e) => {
                        (&e.agent_device, &e.agent_id, &e.acd_group)
                    }
                    LogicalDeviceFeatureEvents::AgentNotReady(e) => {
                        (&e.agent_device, &e.agent_id, &e.acd_group)
                    }
                    LogicalDeviceFeatureEvents::AgentWorkingAfterCall(e) => {
                        (&e.agent_device, &e.agent_id, &e.acd_group)
                    }
                    // Busy is the activity the core derives from the calls themselves.
                    _ => return None,
                };
                let device = agent_device.id().or_else(subject);
                let agent = match agent_id {
                    Some(a) => agent_name(a.as_bytes()),
                    None => device.clone()?,
                };
                let event = match ev {
                    LogicalDeviceFeatureEvents::AgentLoggedOn(_) => AgentEventKind::LoggedOn {
                        device,
                        queues: acd_group.id().into_iter().collect(),
                    },
                    LogicalDeviceFeatureEvents::AgentLoggedOff(_) => AgentEventKind::LoggedOff,
                    LogicalDeviceFeatureEvents::AgentReady(_) => AgentEventKind::Ready,
                    // AgentNotReadyEvent has no reason member (the JSON path finds none).
                    LogicalDeviceFeatureEvents::AgentNotReady(_) => {
                        AgentEventKind::NotReady { reason: None }
                    }
                    _ => AgentEventKind::WorkingAfterCall,
                };
                Some(DriverEvent::Agent {
                    link: self.link.clone(),
                    agent,
                    event,
                })
            }
            _ => None,
        }
    }

    /// A connection-state event.
    fn state(
        &self,
        conn: &ConnectionID,
        state: Option<LocalConnectionState>,
        cause: EventCause,
        subject: impl FnOnce() -> Option<DeviceId>,
    ) -> Option<DriverEvent> {
        let call = call_of(conn)?;
        let state = local_state_named(state?.name()?);
        let device = conn_device(conn).or_else(subject)?;
        Some(DriverEvent::Call {
            link: self.link.clone(),
            call: hex_name(call),
            event: CallEventKind::State { device, state },
            cause: cause_of(cause),
        })
    }

    /// A transfer or conference: the event's call is the primary old call (else the secondary),
    /// with the secondary call and the result's new call id when they differ from it.
    fn joined(
        &self,
        primary: &ConnectionID,
        secondary: Option<&ConnectionID>,
        list: &ConnectionList,
        cause: EventCause,
        event: impl FnOnce(Option<NativeCallId>, Option<NativeCallId>) -> Option<CallEventKind>,
    ) -> Option<DriverEvent> {
        let primary_call = call_of(primary);
        let secondary_call = secondary.and_then(call_of);
        let new_call = new_call_of(list).filter(|n| Some(*n) != primary_call);
        let call = primary_call.or(secondary_call)?;
        let secondary = secondary_call.filter(|s| *s != call).map(hex_name);
        let event = event(secondary, new_call.map(hex_name))?;
        Some(DriverEvent::Call {
            link: self.link.clone(),
            call: hex_name(call),
            event,
            cause: cause_of(cause),
        })
    }
}
