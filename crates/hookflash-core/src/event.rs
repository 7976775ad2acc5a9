//! What the engine emits: normalized events, each with a monotonic sequence number.

use serde::Serialize;

use crate::model::{
    AgentActivity, AgentId, AgentStatus, Availability, CallData, CallId, ConnectionState, DeviceId,
    Direction, LinkId, LinkState, NativeCallId, Number, Outcome, QueueId, QueueStats, Timestamp,
};

/// A normalized event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Monotonic, gap-free sequence number (starting at 1).
    pub seq: u64,
    /// When it happened: when the PBX's report of it reached Hookflash (wall clock).
    pub at: Timestamp,
    /// When the PBX says it happened, in microseconds since the Unix epoch, for an event that
    /// follows from a PBX report carrying the PBX's own time (a CSTA event's
    /// `security.timestamp`); absent otherwise. By the PBX's clock: the difference from `at`
    /// is the delivery delay only when the two clocks agree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pbx_time_us: Option<u64>,
    /// The link it came from.
    pub link: Option<LinkId>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum EventKind {
    /// A new call appeared.
    CallOffered {
        /// The call.
        call: CallId,
        /// The calling number.
        ani: Option<Number>,
        /// The called number.
        dnis: Option<Number>,
        /// Which way it goes.
        direction: Option<Direction>,
    },
    /// The call rings at a device.
    CallAlerting {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// A device answered.
    CallAnswered {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// A device put the call on hold.
    CallHeld {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// A device took the call off hold.
    CallRetrieved {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// The call waits in a queue.
    CallQueued {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
    },
    /// The call left a device for another.
    CallDiverted {
        /// The call.
        call: CallId,
        /// From.
        from: DeviceId,
        /// To, when known.
        to: Option<DeviceId>,
    },
    /// A transfer completed: `call` keeps its id; `merged` (the consultation call) ended into it.
    CallTransferred {
        /// The surviving call.
        call: CallId,
        /// The consultation call merged in, if it was known.
        merged: Option<CallId>,
        /// The device that transferred (it left).
        from: DeviceId,
        /// The party the call went to.
        to: Option<DeviceId>,
        /// The protocol call id the call goes by from now on, when the PBX changed it.
        new_alias: Option<NativeCallId>,
    },
    /// A conference formed.
    CallConferenced {
        /// The surviving call.
        call: CallId,
        /// The call merged in.
        merged: Option<CallId>,
        /// The devices in the conference.
        parties: Vec<DeviceId>,
    },
    /// The call failed at a device.
    CallFailed {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// A device left the call.
    PartyLeft {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// A device's connection is in a state without an event of its own (including unknown ones).
    ConnectionStateChanged {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
        /// The state.
        state: ConnectionState,
    },
    /// The call ended.
    CallEnded {
        /// The call.
        call: CallId,
        /// How.
        outcome: Outcome,
    },
    /// Call data changed.
    CallDataChanged {
        /// The call.
        call: CallId,
        /// The call data now.
        data: Box<CallData>,
    },
    /// An agent's state changed.
    AgentStateChanged {
        /// The agent.
        agent: AgentId,
        /// Its device.
        device: Option<DeviceId>,
        /// Its status.
        status: AgentStatus,
        /// Its activity.
        activity: AgentActivity,
        /// The availability by the rule table.
        availability: Availability,
    },
    /// A queue's statistics changed.
    QueueStatsChanged {
        /// The queue.
        queue: QueueId,
        /// The statistics now.
        stats: QueueStats,
    },
    /// A link's state changed.
    LinkStateChanged {
        /// The state.
        state: LinkState,
    },
    /// A screen pop: a call rings at an agent's (or a monitored) device. Once per agent and call.
    ScreenPop {
        /// The call.
        call: CallId,
        /// The agent, when one is logged on there.
        agent: Option<AgentId>,
        /// The ringing device.
        device: DeviceId,
        /// The calling number.
        ani: Option<Number>,
        /// The called number.
        dnis: Option<Number>,
        /// The call data.
        data: Box<CallData>,
    },
}

impl EventKind {
    /// The call the event is about, if any.
    pub fn call(&self) -> Option<CallId> {
        match self {
            Self::CallOffered { call, .. }
            | Self::CallAlerting { call, .. }
            | Self::CallAnswered { call, .. }
            | Self::CallHeld { call, .. }
            | Self::CallRetrieved { call, .. }
            | Self::CallQueued { call, .. }
            | Self::CallDiverted { call, .. }
            | Self::CallTransferred { call, .. }
            | Self::CallConferenced { call, .. }
            | Self::CallFailed { call, .. }
            | Self::PartyLeft { call, .. }
            | Self::ConnectionStateChanged { call, .. }
            | Self::CallEnded { call, .. }
            | Self::CallDataChanged { call, .. }
            | Self::ScreenPop { call, .. } => Some(*call),
            Self::AgentStateChanged { .. }
            | Self::QueueStatsChanged { .. }
            | Self::LinkStateChanged { .. } => None,
        }
    }
}
