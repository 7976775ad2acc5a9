//! What drivers feed the engine: protocol-neutral, CSTA-shaped events. A protocol mapper (CSTA,
//! AMI, SMDR, a vendor plugin) turns its messages into these; the engine turns them into the
//! normalized picture. Protocol call ids stay opaque strings scoped by their link.

use serde::Serialize;

use crate::model::{AgentId, ConnectionState, DeviceId, LinkId, NativeCallId, QueueId, Timestamp};

/// Why something happened, as far as the engine cares (the protocol's own name is kept too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    /// The called device was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// The number could not be reached (invalid, blocked, network).
    Unreachable,
    /// Ended normally.
    Normal,
    /// Part of a transfer.
    Transfer,
    /// Part of a conference.
    Conference,
    /// Redirected (forwarding, deflection).
    Redirected,
    /// Picked up elsewhere.
    Pickup,
    /// Parked.
    Park,
    /// Anything else.
    Other,
}

/// A party moved by a transfer or conference: `device`'s connection on `old_call` is now on
/// the resulting call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedParty {
    /// The device.
    pub device: DeviceId,
    /// The call it was on.
    pub old_call: Option<NativeCallId>,
}

/// A call event from a PBX.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum CallEventKind {
    /// A device went off-hook or started a call (ServiceInitiated).
    ServiceInitiated {
        /// The device.
        device: DeviceId,
    },
    /// A device placed a call (Originated).
    Originated {
        /// The calling device.
        calling: DeviceId,
        /// The number dialled.
        called: String,
    },
    /// The call rings at `alerting` (Delivered).
    Delivered {
        /// The ringing device.
        alerting: DeviceId,
        /// The calling number.
        calling: Option<String>,
        /// The called number.
        called: Option<String>,
        /// Where the call was redirected from last, if it was.
        last_redirection: Option<DeviceId>,
    },
    /// The call waits in a queue (Queued).
    Queued {
        /// The queue (ACD group device).
        queue: QueueId,
        /// The calling number.
        calling: Option<String>,
        /// The called number.
        called: Option<String>,
    },
    /// `answering` answered (Established).
    Established {
        /// The answering device.
        answering: DeviceId,
        /// The calling number.
        calling: Option<String>,
        /// The called number.
        called: Option<String>,
    },
    /// `device` put the call on hold (Held).
    Held {
        /// The holding device.
        device: DeviceId,
    },
    /// `device` took the call off hold (Retrieved).
    Retrieved {
        /// The retrieving device.
        device: DeviceId,
    },
    /// The call left `from` for `to` (Diverted: forwarding, deflection, pickup).
    Diverted {
        /// The device the call left.
        from: DeviceId,
        /// Where it went, when known.
        to: Option<DeviceId>,
    },
    /// A transfer completed (Transferred). The event's call is the primary (held) call; the
    /// consultation call is `secondary`; the PBX may name the result `new_call`.
    Transferred {
        /// The consultation call.
        secondary: Option<NativeCallId>,
        /// The call id of the result, when the PBX changes it (OpenScape style).
        new_call: Option<NativeCallId>,
        /// The device that transferred (it leaves).
        transferring: DeviceId,
        /// The party the call went to.
        transferred_to: Option<DeviceId>,
    },
    /// A conference formed (Conferenced). The event's call is the primary call.
    Conferenced {
        /// The call merged in.
        secondary: Option<NativeCallId>,
        /// The call id of the result, when the PBX changes it.
        new_call: Option<NativeCallId>,
        /// The conferencing device.
        controller: DeviceId,
        /// The party added.
        added: Option<DeviceId>,
    },
    /// `device` left the call (ConnectionCleared).
    ConnectionCleared {
        /// The device.
        device: DeviceId,
    },
    /// The whole call ended (CallCleared).
    CallCleared,
    /// The call failed at `device` (Failed).
    Failed {
        /// The device.
        device: DeviceId,
        /// The calling number, when the PBX names it (a call that meets a busy extension
        /// has no other event to name it).
        calling: Option<String>,
        /// The called number, when the PBX names it.
        called: Option<String>,
    },
    /// A device's connection is in a state the mapper has no event for (kept, not dropped).
    State {
        /// The device.
        device: DeviceId,
        /// The state.
        state: ConnectionState,
    },
    /// Call data arrived or changed.
    CallData {
        /// Correlator data or UCID.
        correlator: Option<String>,
        /// User-to-user information.
        uui: Option<String>,
        /// Key/value data to attach (merged into what the call has).
        attached: Vec<(String, String)>,
    },
}

/// An agent event from a PBX.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum AgentEventKind {
    /// Logged on at `device`, into `queues`.
    LoggedOn {
        /// The device.
        device: Option<DeviceId>,
        /// The queues joined.
        queues: Vec<QueueId>,
    },
    /// Logged off.
    LoggedOff,
    /// Ready.
    Ready,
    /// Not ready.
    NotReady {
        /// The reason code.
        reason: Option<String>,
    },
    /// Wrapping up.
    WorkingAfterCall,
    /// Joined a queue.
    QueueJoined {
        /// The queue.
        queue: QueueId,
    },
    /// Left a queue.
    QueueLeft {
        /// The queue.
        queue: QueueId,
    },
    /// Membership of a queue paused or resumed.
    QueuePaused {
        /// The queue.
        queue: QueueId,
        /// Paused or not.
        paused: bool,
    },
}

/// One call's state at a device, as a snapshot reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotEntry {
    /// The call.
    pub call: NativeCallId,
    /// The device's connection state on it.
    pub state: ConnectionState,
}

/// A finished call reported after the fact (SMDR/CDR links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecordInput {
    /// The record's call id, if the format has one.
    pub call: Option<NativeCallId>,
    /// Calling number.
    pub calling: Option<String>,
    /// Called number.
    pub called: Option<String>,
    /// The extension that took the call.
    pub answered_by: Option<DeviceId>,
    /// When the call started.
    pub started_at: Timestamp,
    /// Ring time, in milliseconds.
    pub ring_ms: u64,
    /// Talk time, in milliseconds (0 when not answered).
    pub talk_ms: u64,
    /// Whether it was answered.
    pub answered: bool,
}

/// Everything a driver can tell the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum DriverEvent {
    /// The link is up and in sync.
    LinkUp {
        /// The link.
        link: LinkId,
    },
    /// The link is rebuilding its picture (after a reconnect).
    LinkResyncing {
        /// The link.
        link: LinkId,
    },
    /// The link is down.
    LinkDown {
        /// The link.
        link: LinkId,
    },
    /// How the link sees calls. With `through_monitors_only` (CSTA's monitors) it reports a
    /// call only while a monitored device is in it: a call with no monitored party left is
    /// invisible, so a resync that no snapshot lists it in ends it. Without (the default, as
    /// AMI reports every channel) a call on unmonitored devices alone is still reported and is
    /// kept. Sent before the link's first `LinkResyncing`.
    LinkVisibility {
        /// The link.
        link: LinkId,
        /// Calls are seen only through monitored devices.
        through_monitors_only: bool,
    },
    /// A device is (or is no longer) monitored.
    Monitor {
        /// The link.
        link: LinkId,
        /// The device.
        device: DeviceId,
        /// Monitored or not.
        monitored: bool,
    },
    /// A call event.
    Call {
        /// The link.
        link: LinkId,
        /// The protocol's call id.
        call: NativeCallId,
        /// What happened.
        event: CallEventKind,
        /// The protocol's cause, mapped.
        cause: Option<Cause>,
    },
    /// An agent event.
    Agent {
        /// The link.
        link: LinkId,
        /// The agent.
        agent: AgentId,
        /// What happened.
        event: AgentEventKind,
    },
    /// The calls at a device, as a fresh snapshot after a (re)connect reports them.
    DeviceSnapshot {
        /// The link.
        link: LinkId,
        /// The device.
        device: DeviceId,
        /// Its calls.
        calls: Vec<SnapshotEntry>,
    },
    /// A finished call from a records-only link.
    CallRecord {
        /// The link.
        link: LinkId,
        /// The record.
        record: CallRecordInput,
    },
}

impl DriverEvent {
    /// The link the event came from.
    pub fn link(&self) -> &LinkId {
        match self {
            Self::LinkUp { link }
            | Self::LinkResyncing { link }
            | Self::LinkDown { link }
            | Self::LinkVisibility { link, .. }
            | Self::Monitor { link, .. }
            | Self::Call { link, .. }
            | Self::Agent { link, .. }
            | Self::DeviceSnapshot { link, .. }
            | Self::CallRecord { link, .. } => link,
        }
    }
}

/// A driver event with the time it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timed {
    /// When.
    pub at: Timestamp,
    /// What.
    pub event: DriverEvent,
}
