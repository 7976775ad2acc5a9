//! The engine's public data model: CSTA-shaped events, commands and responses.

use std::fmt;

/// An opaque call identifier, as PBXs send it (bytes, not a number).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub Vec<u8>);

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({})", String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// A CSTA ConnectionID: a call at a device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    /// The call.
    pub call: CallId,
    /// The device (dialling number of an extension, agent device, ACD group or external party).
    pub device: String,
}

/// ECMA-269 local connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalConnectionState {
    /// No relationship between call and device.
    Null,
    /// Device is preparing to originate (off-hook, dialling).
    Initiated,
    /// Device is being alerted (ringing).
    Alerting,
    /// Device is actively part of the call.
    Connected,
    /// Device has put the call on hold.
    Hold,
    /// Call is queued at the device (ACD group, busy-camp).
    Queued,
    /// Call attempt failed at the device.
    Fail,
}

/// ECMA-269 event causes used by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventCause {
    /// `newCall`
    NewCall,
    /// `normalClearing`
    NormalClearing,
    /// `busy`
    Busy,
    /// `callNotAnswered`
    NoAnswer,
    /// `callForwardNoAnswer`
    CallForwardNoAnswer,
    /// `callPickup`
    CallPickup,
    /// `overflow`
    Overflow,
    /// `distributed`
    Distributed,
    /// `enteringDistribution`
    EnteringDistribution,
    /// `transfer`
    Transfer,
    /// `singleStepTransfer`
    SingleStepTransfer,
    /// `consultation`
    Consultation,
    /// `conference`
    Conferenced,
    /// `callCancelled` (caller hung up before answer)
    CallCancelled,
    /// `trunksBusy`
    TrunksBusy,
    /// `redirected` (deflect)
    Redirected,
    /// `makeCall`
    MakeCall,
    /// `park`
    Park,
}

impl EventCause {
    /// The ECMA-269 EventCause name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewCall => "newCall",
            Self::NormalClearing => "normalClearing",
            Self::Busy => "busy",
            Self::NoAnswer => "callNotAnswered",
            Self::CallForwardNoAnswer => "callForwardNoAnswer",
            Self::CallPickup => "callPickup",
            Self::Overflow => "overflow",
            Self::Distributed => "distributed",
            Self::EnteringDistribution => "enteringDistribution",
            Self::Transfer => "transfer",
            Self::SingleStepTransfer => "singleStepTransfer",
            Self::Consultation => "consultation",
            Self::Conferenced => "conference",
            Self::CallCancelled => "callCancelled",
            Self::TrunksBusy => "trunksBusy",
            Self::Redirected => "redirected",
            Self::MakeCall => "makeCall",
            Self::Park => "park",
        }
    }
}

/// ACD agent states (ECMA-269 agent state model, plus logged off).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// Not logged on.
    LoggedOff,
    /// Logged on, not ready, with an optional reason code.
    NotReady(Option<u16>),
    /// Ready for ACD calls.
    Ready,
    /// On a call.
    Busy,
    /// Wrap-up after a call.
    WorkingAfterCall,
}

impl AgentState {
    /// A stable lower-case name, used in the truth log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LoggedOff => "loggedOff",
            Self::NotReady(_) => "notReady",
            Self::Ready => "ready",
            Self::Busy => "busy",
            Self::WorkingAfterCall => "workingAfterCall",
        }
    }
}

/// The payload of a CSTA-shaped event (ECMA-269 names and parameters).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// ServiceInitiated: the device went off-hook / started a call.
    ServiceInitiated {
        /// The initiating connection.
        conn: ConnectionId,
        /// Cause.
        cause: EventCause,
    },
    /// Originated: the device dialled `called`.
    Originated {
        /// The originating connection.
        conn: ConnectionId,
        /// Calling device.
        calling: String,
        /// Called device.
        called: String,
        /// Cause.
        cause: EventCause,
    },
    /// Delivered: `alerting` is ringing.
    Delivered {
        /// The alerting connection.
        conn: ConnectionId,
        /// Calling device.
        calling: String,
        /// Originally called device.
        called: String,
        /// Last redirection device, if the call was diverted.
        last_redirection: Option<String>,
        /// Cause.
        cause: EventCause,
    },
    /// Established: `conn.device` answered.
    Established {
        /// The answering connection.
        conn: ConnectionId,
        /// Calling device.
        calling: String,
        /// Originally called device.
        called: String,
        /// Last redirection device, if any.
        last_redirection: Option<String>,
        /// Cause.
        cause: EventCause,
    },
    /// Held: `holding` put `conn` on hold.
    Held {
        /// The held connection (at the holding device).
        conn: ConnectionId,
        /// The holding device.
        holding: String,
        /// Cause.
        cause: EventCause,
    },
    /// Retrieved: `retrieving` took `conn` off hold.
    Retrieved {
        /// The retrieved connection.
        conn: ConnectionId,
        /// The retrieving device.
        retrieving: String,
        /// Cause.
        cause: EventCause,
    },
    /// Queued: the call waits at an ACD group.
    Queued {
        /// The queued connection (at the ACD group device).
        conn: ConnectionId,
        /// The ACD group device.
        queue: String,
        /// Calling device.
        calling: String,
        /// Called device.
        called: String,
        /// Calls now waiting in that queue, this one included.
        calls_in_queue: u32,
        /// Cause.
        cause: EventCause,
    },
    /// Diverted: the call left `from` for `to` (distribution, forward, overflow, pickup, deflect).
    Diverted {
        /// The connection at the diverting device (now cleared).
        conn: ConnectionId,
        /// The device the call was diverted from.
        from: String,
        /// The new destination.
        to: String,
        /// Cause.
        cause: EventCause,
    },
    /// Transferred: `transferring` left; the remaining parties are in `new_call`.
    Transferred {
        /// The primary (held) call.
        primary_old_call: CallId,
        /// The secondary (consultation) call, absent for single-step transfers.
        secondary_old_call: Option<CallId>,
        /// The device that transferred.
        transferring: String,
        /// The transferred-to device.
        transferred_to: String,
        /// The resulting call id (differs from both when the OpenScape-style mode is on).
        new_call: CallId,
        /// The transferred-connections list: (new connection, old connection).
        connections: Vec<(ConnectionId, ConnectionId)>,
        /// Cause.
        cause: EventCause,
    },
    /// Conferenced: `added` joined the primary call.
    Conferenced {
        /// The primary (held) call, which the conference keeps.
        primary_old_call: CallId,
        /// The consultation call that was merged.
        secondary_old_call: CallId,
        /// The conferencing device.
        conferencing: String,
        /// The added party.
        added: String,
        /// The conference's connections after the merge.
        connections: Vec<ConnectionId>,
        /// Cause.
        cause: EventCause,
    },
    /// ConnectionCleared: `releasing` left the call.
    ConnectionCleared {
        /// The cleared connection.
        conn: ConnectionId,
        /// The releasing device.
        releasing: String,
        /// Cause.
        cause: EventCause,
    },
    /// CallCleared: the whole call ended.
    CallCleared {
        /// The call.
        call: CallId,
        /// Cause.
        cause: EventCause,
    },
    /// Failed: the call could not reach `failing`.
    Failed {
        /// The failed connection.
        conn: ConnectionId,
        /// The failing device.
        failing: String,
        /// Calling device.
        calling: String,
        /// Called device.
        called: String,
        /// Cause (`busy`, `noAnswer`, `trunksBusy`…).
        cause: EventCause,
    },
    /// Agent LoggedOn.
    AgentLoggedOn {
        /// Agent id.
        agent: String,
        /// ACD group device.
        group: String,
    },
    /// Agent LoggedOff.
    AgentLoggedOff {
        /// Agent id.
        agent: String,
    },
    /// Agent Ready.
    AgentReady {
        /// Agent id.
        agent: String,
    },
    /// Agent NotReady with an optional reason code.
    AgentNotReady {
        /// Agent id.
        agent: String,
        /// Reason code.
        reason: Option<u16>,
    },
    /// Agent WorkingAfterCall.
    AgentWorkingAfterCall {
        /// Agent id.
        agent: String,
    },
    /// Agent Busy.
    AgentBusy {
        /// Agent id.
        agent: String,
    },
}

/// One event as delivered to one monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorEvent {
    /// The monitor cross-reference id.
    pub cross_ref: u32,
    /// The monitored device.
    pub device: String,
    /// Simulated time in ms.
    pub at_ms: u64,
    /// The monitored device's local connection state after the event, when it has a connection.
    pub local_state: Option<LocalConnectionState>,
    /// The event.
    pub kind: EventKind,
}

/// The PBX's system status, as carried by SystemStatus polls and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemStatus {
    /// Normal operation.
    Normal,
    /// The PBX restarted; clients must re-establish monitors.
    Initializing,
}

/// Something for the connected client.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An event for a monitor.
    Event(MonitorEvent),
    /// A SystemStatus request the PBX sends to the client (keep-alive poll).
    SystemStatusPoll {
        /// Simulated time in ms.
        at_ms: u64,
        /// The status reported.
        status: SystemStatus,
    },
    /// The PBX restarted and forgot all monitors.
    Restarted {
        /// Simulated time in ms.
        at_ms: u64,
    },
    /// The link is dropped (the face must close the connection).
    LinkDropped {
        /// Simulated time in ms.
        at_ms: u64,
    },
}

/// Commands the engine obeys (a CSTA face translates requests into these).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// MakeCall from `calling` to `called` (an extension, agent device, ACD group or external).
    MakeCall {
        /// Originating device.
        calling: String,
        /// Destination.
        called: String,
    },
    /// AnswerCall at an alerting connection.
    AnswerCall(ConnectionId),
    /// HoldCall.
    HoldCall(ConnectionId),
    /// RetrieveCall.
    RetrieveCall(ConnectionId),
    /// ConsultationCall: hold `held` and call `consulted`.
    ConsultationCall {
        /// The active connection to hold.
        held: ConnectionId,
        /// The device to consult.
        consulted: String,
    },
    /// TransferCall: join the held and the active call and leave.
    TransferCall {
        /// The held connection.
        held: ConnectionId,
        /// The active (consultation) connection.
        active: ConnectionId,
    },
    /// ConferenceCall: merge the held and the active call.
    ConferenceCall {
        /// The held connection.
        held: ConnectionId,
        /// The active (consultation) connection.
        active: ConnectionId,
    },
    /// SingleStepTransfer of an active connection to `to`.
    SingleStepTransfer {
        /// The transferring connection.
        conn: ConnectionId,
        /// The destination.
        to: String,
    },
    /// Deflect an alerting call to `to`.
    Deflect {
        /// The alerting connection.
        conn: ConnectionId,
        /// The destination.
        to: String,
    },
    /// DirectedPickup: `picker` picks up the call alerting at `conn`, or retrieves the call
    /// parked at `conn` (a park position).
    DirectedPickup {
        /// The alerting connection.
        conn: ConnectionId,
        /// The picking device.
        picker: String,
    },
    /// ParkCall: the device of `conn` leaves the call, which waits at park position `to` (or
    /// the first free one) until a DirectedPickup of the park position's connection
    /// retrieves it.
    ParkCall {
        /// The parking device's connected connection.
        conn: ConnectionId,
        /// The park position (`7000`…); `None` takes the first free one.
        to: Option<String>,
    },
    /// GroupPickup: `picker` picks up the longest-alerting extension call.
    GroupPickup {
        /// The picking device.
        picker: String,
    },
    /// ClearConnection.
    ClearConnection(ConnectionId),
    /// ClearCall.
    ClearCall(CallId),
    /// SetAgentState for the agent at `device`.
    SetAgentState {
        /// The agent's device.
        device: String,
        /// The requested state (`Busy` is not requestable).
        state: AgentState,
    },
    /// SnapshotDevice.
    SnapshotDevice(String),
    /// SnapshotCall.
    SnapshotCall(CallId),
    /// MonitorStart on a device.
    MonitorStart(String),
    /// MonitorStop.
    MonitorStop(u32),
    /// SystemStatus request from the client.
    SystemStatus,
    /// Fault: restart and forget all monitors.
    FaultRestart,
    /// Fault: stop answering SystemStatus requests (until `FaultRecover`).
    FaultStopAnsweringPolls,
    /// Fault: drop the link.
    FaultDropLink,
    /// Undo the fault modes (link back, polls answered).
    FaultRecover,
}

/// A device snapshot: its connections.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSnapshot {
    /// (connection, local state) for each call at the device.
    pub connections: Vec<(ConnectionId, LocalConnectionState)>,
    /// The agent state when the device is an agent's.
    pub agent: Option<AgentState>,
    /// The id of the agent at the device, when it is an agent's.
    pub agent_id: Option<String>,
    /// The ACD group the agent works in.
    pub agent_group: Option<String>,
}

/// A call snapshot: its connections.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSnapshot {
    /// (connection, local state) for each party.
    pub connections: Vec<(ConnectionId, LocalConnectionState)>,
}

/// Positive responses.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Response {
    /// Done, nothing to report.
    Ok,
    /// MakeCall / ConsultationCall: the new initiating connection.
    CallStarted(ConnectionId),
    /// TransferCall / ConferenceCall / SingleStepTransfer: the resulting call.
    Joined(CallId),
    /// MonitorStart: the cross-reference id.
    MonitorStarted(u32),
    /// ParkCall: the call's connection at the park position.
    Parked(ConnectionId),
    /// SnapshotDevice.
    Device(DeviceSnapshot),
    /// SnapshotCall.
    Call(CallSnapshot),
    /// SystemStatus.
    Status(SystemStatus),
    /// The PBX deliberately does not answer (fault mode): the face must send nothing.
    Silent,
}
