//! The normalized model: identifiers, calls and their legs, call data, agents and queues.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as given by the caller (the core never reads a clock).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Hookflash's own, stable call id: it survives transfer, conference, pickup and park, while
/// the protocols' call ids come and go as aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub u64);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A name that is cheap to clone: devices, agents, queues, links.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(pub Arc<str>);

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device (extension, trunk, ACD group, …), by its number on the PBX.
pub type DeviceId = Name;
/// An agent, by its id on the PBX.
pub type AgentId = Name;
/// An ACD group or queue.
pub type QueueId = Name;
/// A PBX link.
pub type LinkId = Name;

/// A protocol's own call id (CSTA callID, AMI Linkedid …), scoped by its link.
pub type NativeCallId = Name;

/// The state of one party's connection to a call (CSTA-shaped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ConnectionState {
    /// No relationship (yet, or any more).
    Null,
    /// Going off-hook or dialling: the call is being set up from here.
    Initiated,
    /// Ringing here.
    Alerting,
    /// Waiting in a queue (the queue's leg).
    Queued,
    /// Talking.
    Connected,
    /// On hold here.
    Held,
    /// The call failed here (busy, unreachable …).
    Failed,
    /// A state the protocol reported that has no mapping: it is surfaced, never dropped.
    Unknown {
        /// The protocol's own name or number for it.
        raw: String,
    },
}

/// Which way a call goes, by the dial plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// From outside to the site.
    Inbound,
    /// From the site to outside.
    Outbound,
    /// Between devices of the site.
    Internal,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Someone answered.
    Answered,
    /// The caller hung up while waiting in a queue (or ringing at an ACD agent).
    Abandoned,
    /// The called party was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// The call could not be set up.
    Failed,
    /// The call was merged into another call (a consultation call completed by a transfer or
    /// conference): its parties live on in the other call.
    TransferredAway,
}

/// A telephone number as the PBX sent it and normalized to E.164 by the dial plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Number {
    /// As received.
    pub raw: String,
    /// `+` and digits, when the dial plan could normalize it.
    pub e164: Option<String>,
}

/// The largest attached data a call keeps (keys and values together).
pub const MAX_ATTACHED_DATA: usize = 64 * 1024;

/// What a CRM wants to know about a call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallData {
    /// The calling number (ANI).
    pub ani: Option<Number>,
    /// The called number (DNIS).
    pub dnis: Option<Number>,
    /// Which way the call goes.
    pub direction: Option<Direction>,
    /// Correlator data or UCID.
    pub correlator: Option<String>,
    /// User-to-user information.
    pub uui: Option<String>,
    /// Attached key/value data (at most [`MAX_ATTACHED_DATA`] bytes in all).
    pub attached: BTreeMap<String, String>,
    /// The queues the call went through, in order.
    pub queue_path: Vec<QueueId>,
}

impl CallData {
    /// The size of the attached data, keys and values.
    pub fn attached_size(&self) -> usize {
        self.attached.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

/// One party of a call: a device and its connection state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leg {
    /// The device.
    pub device: DeviceId,
    /// Its connection state.
    pub state: ConnectionState,
    /// When it entered that state.
    pub since: Timestamp,
}

/// A transfer the call went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    /// The device that transferred.
    pub from: Option<DeviceId>,
    /// The device the call went to.
    pub to: Option<DeviceId>,
    /// When.
    pub at: Timestamp,
}

/// A call, live or just ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// The stable id.
    pub id: CallId,
    /// The link the call was first seen on.
    pub link: LinkId,
    /// The protocol call ids that name this call.
    pub aliases: Vec<NativeCallId>,
    /// The parties.
    pub legs: Vec<Leg>,
    /// What the CRM wants to know.
    pub data: CallData,
    /// When the call was first seen (offered).
    pub offered_at: Timestamp,
    /// When it was first answered.
    pub answered_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// The device that answered it first.
    pub answered_by: Option<DeviceId>,
    /// The agent logged on at that device, if any.
    pub agent: Option<AgentId>,
    /// The queue it is (or was last) in.
    pub queue: Option<QueueId>,
    /// Whether the call is waiting in `queue` right now.
    pub waiting: bool,
    /// Transfers, in order.
    pub transfers: Vec<Transfer>,
    /// Whether it was ever a conference.
    pub conferenced: bool,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// The last cause the PBX gave.
    pub last_cause: Option<String>,
    /// Whether the call was ever delivered (ringing) somewhere.
    pub delivered: bool,
    /// Whether the call failed (busy, unreachable) somewhere.
    pub failed_busy: Option<bool>,
}

impl Call {
    /// The leg at `device`.
    pub fn leg(&self, device: &str) -> Option<&Leg> {
        self.legs.iter().find(|l| l.device.as_str() == device)
    }
}

/// An agent's status: the state the agent chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum AgentStatus {
    /// Not logged on.
    LoggedOut,
    /// Ready for ACD calls.
    Ready,
    /// Logged on but not taking ACD calls.
    NotReady {
        /// The reason code, when given.
        reason: Option<String>,
    },
    /// Wrapping up after an ACD call.
    WorkingAfterCall,
}

/// What an agent is doing: derived from the calls at the agent's devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "activity")]
pub enum AgentActivity {
    /// No call.
    Idle,
    /// An ACD call is ringing at the agent.
    Reserved,
    /// On an ACD call.
    OnAcdCall,
    /// On another call.
    OnOtherCall {
        /// Which way it goes, when known.
        direction: Option<Direction>,
    },
}

/// What a CRM shows: derived from status × activity by [`availability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    /// Logged out.
    Offline,
    /// Ready and idle: can take a call.
    Available,
    /// A call is being offered to the agent.
    Reserved,
    /// On a call.
    Busy,
    /// Wrapping up.
    WrapUp,
    /// Logged on, not ready.
    Away,
}

/// The rule table: availability from status × activity. A call (ringing or talking) wins over
/// the chosen status, except that a logged-out agent is offline whatever rings.
pub fn availability(status: &AgentStatus, activity: &AgentActivity) -> Availability {
    use AgentActivity as A;
    use AgentStatus as S;
    match (status, activity) {
        (S::LoggedOut, _) => Availability::Offline,
        (_, A::OnAcdCall | A::OnOtherCall { .. }) => Availability::Busy,
        (_, A::Reserved) => Availability::Reserved,
        (S::Ready, A::Idle) => Availability::Available,
        (S::NotReady { .. }, A::Idle) => Availability::Away,
        (S::WorkingAfterCall, A::Idle) => Availability::WrapUp,
    }
}

/// An agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    /// The agent id.
    pub id: AgentId,
    /// The device the agent is logged on at.
    pub device: Option<DeviceId>,
    /// The chosen status.
    pub status: AgentStatus,
    /// What the agent is doing.
    pub activity: AgentActivity,
    /// The queues the agent belongs to, with whether the membership is paused.
    pub queues: BTreeMap<QueueId, bool>,
    /// Since when the status holds.
    pub since: Timestamp,
}

impl Agent {
    /// The availability by the rule table.
    pub fn availability(&self) -> Availability {
        availability(&self.status, &self.activity)
    }
}

/// Statistics of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Calls waiting now.
    pub waiting: u32,
    /// The longest wait of a call waiting now, in milliseconds.
    pub longest_wait_ms: u64,
    /// Calls that entered the queue.
    pub offered: u64,
    /// Calls answered from the queue.
    pub answered: u64,
    /// Calls abandoned in the queue.
    pub abandoned: u64,
    /// Calls answered within the service-level threshold.
    pub answered_within_sl: u64,
    /// Share of answered calls answered within the threshold, in per mille.
    pub service_level_permille: u32,
    /// Agents by availability.
    pub agents_available: u32,
    /// Agents on calls (busy or reserved).
    pub agents_busy: u32,
    /// Agents logged on but away or wrapping up.
    pub agents_away: u32,
}

/// A queue (ACD group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// The queue.
    pub id: QueueId,
    /// The calls waiting, with when they started waiting.
    pub waiting: Vec<(CallId, Timestamp)>,
    /// The statistics.
    pub stats: QueueStats,
}

/// The state of a PBX link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkState {
    /// Connected and in sync.
    Up,
    /// Connected, rebuilding the picture (re-monitoring, snapshots).
    Resyncing,
    /// Not connected.
    Down,
}
