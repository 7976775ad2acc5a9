//! Commands as data, and which of them a call's state permits at a device (so that a UI can
//! enable the right buttons). The core does not send commands anywhere; drivers execute them.

use serde::{Deserialize, Serialize};

use crate::model::{AgentId, Call, CallId, ConnectionState, DeviceId, QueueId};

/// A call-control or agent command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "verb")]
pub enum Command {
    /// Call `to` from `from`.
    MakeCall {
        /// The calling device.
        from: DeviceId,
        /// The number to call.
        to: String,
    },
    /// Answer at `device`.
    Answer {
        /// The call.
        call: CallId,
        /// The ringing device.
        device: DeviceId,
    },
    /// Drop `device` from the call.
    Clear {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// End the whole call.
    ClearCall {
        /// The call.
        call: CallId,
    },
    /// Hold at `device`.
    Hold {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// Retrieve at `device`.
    Retrieve {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
    },
    /// Hold the call and call `to` (consultation).
    Consult {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
        /// The number to consult.
        to: String,
    },
    /// Connect the held call with the active one and leave (consultation transfer).
    Transfer {
        /// The held call.
        held: CallId,
        /// The active (consultation) call.
        active: CallId,
        /// The transferring device.
        device: DeviceId,
    },
    /// Join the held call and the active one (conference).
    Conference {
        /// The held call.
        held: CallId,
        /// The active call.
        active: CallId,
        /// The conferencing device.
        device: DeviceId,
    },
    /// Transfer the call to `to` without consultation (blind).
    SingleStepTransfer {
        /// The call.
        call: CallId,
        /// The transferring device.
        device: DeviceId,
        /// Where to.
        to: String,
    },
    /// Add `to` to the call without consultation.
    SingleStepConference {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
        /// Who to add.
        to: String,
    },
    /// Send a ringing call elsewhere.
    Deflect {
        /// The call.
        call: CallId,
        /// The ringing device.
        device: DeviceId,
        /// Where to.
        to: String,
    },
    /// Pick up a call ringing at `from` (directed) or in the pickup group (when `from` is none).
    Pickup {
        /// The picking device.
        device: DeviceId,
        /// The ringing device, for a directed pickup.
        from: Option<DeviceId>,
    },
    /// Hold the active call and retrieve the held one.
    Alternate {
        /// The held call.
        held: CallId,
        /// The active call.
        active: CallId,
        /// The device.
        device: DeviceId,
    },
    /// Drop the active call and retrieve the held one.
    Reconnect {
        /// The held call.
        held: CallId,
        /// The active call.
        active: CallId,
        /// The device.
        device: DeviceId,
    },
    /// Send DTMF digits.
    SendDigits {
        /// The call.
        call: CallId,
        /// The device.
        device: DeviceId,
        /// The digits.
        digits: String,
    },
    /// Attach key/value data to the call.
    AttachData {
        /// The call.
        call: CallId,
        /// The data.
        data: Vec<(String, String)>,
    },
    /// Log an agent on.
    AgentLogin {
        /// The agent.
        agent: AgentId,
        /// At which device.
        device: DeviceId,
        /// Into which queues.
        queues: Vec<QueueId>,
    },
    /// Log an agent off.
    AgentLogout {
        /// The agent.
        agent: AgentId,
    },
    /// Make an agent ready.
    AgentReady {
        /// The agent.
        agent: AgentId,
    },
    /// Make an agent not ready.
    AgentNotReady {
        /// The agent.
        agent: AgentId,
        /// The reason code.
        reason: Option<String>,
    },
    /// Put an agent into after-call work.
    AgentAfterCallWork {
        /// The agent.
        agent: AgentId,
    },
}

/// A set of call-control verbs (a `servicesPermitted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Verbs(pub u32);

impl Verbs {
    /// Answer.
    pub const ANSWER: Self = Self(1);
    /// Clear the connection.
    pub const CLEAR: Self = Self(1 << 1);
    /// Hold.
    pub const HOLD: Self = Self(1 << 2);
    /// Retrieve.
    pub const RETRIEVE: Self = Self(1 << 3);
    /// Consult.
    pub const CONSULT: Self = Self(1 << 4);
    /// Transfer (needs a held and an active call).
    pub const TRANSFER: Self = Self(1 << 5);
    /// Conference (needs a held and an active call).
    pub const CONFERENCE: Self = Self(1 << 6);
    /// Single-step transfer.
    pub const SINGLE_STEP_TRANSFER: Self = Self(1 << 7);
    /// Single-step conference.
    pub const SINGLE_STEP_CONFERENCE: Self = Self(1 << 8);
    /// Deflect.
    pub const DEFLECT: Self = Self(1 << 9);
    /// Alternate.
    pub const ALTERNATE: Self = Self(1 << 10);
    /// Reconnect.
    pub const RECONNECT: Self = Self(1 << 11);
    /// Send digits.
    pub const SEND_DIGITS: Self = Self(1 << 12);
    /// Pick up (from another device).
    pub const PICKUP: Self = Self(1 << 13);

    /// Every verb with its name.
    pub const NAMES: &'static [(Self, &'static str)] = &[
        (Self::ANSWER, "answer"),
        (Self::CLEAR, "clear"),
        (Self::HOLD, "hold"),
        (Self::RETRIEVE, "retrieve"),
        (Self::CONSULT, "consult"),
        (Self::TRANSFER, "transfer"),
        (Self::CONFERENCE, "conference"),
        (Self::SINGLE_STEP_TRANSFER, "singleStepTransfer"),
        (Self::SINGLE_STEP_CONFERENCE, "singleStepConference"),
        (Self::DEFLECT, "deflect"),
        (Self::ALTERNATE, "alternate"),
        (Self::RECONNECT, "reconnect"),
        (Self::SEND_DIGITS, "sendDigits"),
        (Self::PICKUP, "pickup"),
    ];

    /// Whether every verb of `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the verbs in the set.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(v, _)| self.contains(*v))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Verbs {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Verbs {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// What `device` may do with `call`, given the device's other calls (`others`).
pub fn permitted(call: &Call, device: &str, others: &[&Call]) -> Verbs {
    let Some(leg) = call.leg(device) else {
        // Not a party: a ringing call elsewhere can be picked up.
        let ringing = call
            .legs
            .iter()
            .any(|l| l.state == ConnectionState::Alerting);
        return if ringing {
            Verbs::PICKUP
        } else {
            Verbs::default()
        };
    };
    let other_state = |s: &ConnectionState| {
        others
            .iter()
            .any(|c| c.id != call.id && c.leg(device).is_some_and(|l| &l.state == s))
    };
    let mut v = Verbs::default();
    match leg.state {
        ConnectionState::Alerting => v |= Verbs::ANSWER | Verbs::DEFLECT | Verbs::CLEAR,
        ConnectionState::Connected => {
            v |= Verbs::CLEAR
                | Verbs::HOLD
                | Verbs::CONSULT
                | Verbs::SINGLE_STEP_TRANSFER
                | Verbs::SINGLE_STEP_CONFERENCE
                | Verbs::SEND_DIGITS;
            if other_state(&ConnectionState::Held) {
                v |= Verbs::TRANSFER | Verbs::CONFERENCE | Verbs::ALTERNATE | Verbs::RECONNECT;
            }
        }
        ConnectionState::Held => {
            v |= Verbs::RETRIEVE | Verbs::CLEAR;
            if other_state(&ConnectionState::Connected) {
                v |= Verbs::TRANSFER | Verbs::CONFERENCE | Verbs::ALTERNATE;
            }
        }
        ConnectionState::Initiated | ConnectionState::Queued | ConnectionState::Failed => {
            v |= Verbs::CLEAR
        }
        ConnectionState::Null | ConnectionState::Unknown { .. } => {}
    }
    v
}
