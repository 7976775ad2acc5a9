//! Queue-member (agent) state tracking from `QueueMemberStatus`, `QueueMemberAdded`,
//! `QueueMemberRemoved`, `QueueMemberPause(d)` and `QueueMember` (QueueStatus list) events.

use std::collections::HashMap;

use crate::event::{Event, EventKind};

/// Presence of one member in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentState {
    /// Logged in and available.
    Ready,
    /// Logged in but paused.
    Paused {
        /// `PausedReason` / `Reason`, if given.
        reason: Option<String>,
    },
    /// Removed from the queue.
    LoggedOut,
}

/// One member's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `MemberName`.
    pub name: Option<String>,
    /// Presence.
    pub state: AgentState,
    /// Device state number (`Status`, 1 = not in use, 2 = in use, …).
    pub device_status: Option<u8>,
    /// `CallsTaken`.
    pub calls_taken: Option<u32>,
}

/// Tracks members per `(queue, interface)`; interface is `Interface` (12+) or `Location` (11).
#[derive(Debug, Clone, Default)]
pub struct AgentTracker {
    members: HashMap<(String, String), Member>,
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

impl AgentTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event; returns `true` when it changed a member.
    pub fn apply(&mut self, ev: &Event) -> bool {
        let kind = ev.kind;
        if !matches!(
            kind,
            EventKind::QueueMemberStatus
                | EventKind::QueueMemberAdded
                | EventKind::QueueMemberRemoved
                | EventKind::QueueMemberPause
                | EventKind::QueueMemberPaused
                | EventKind::QueueMember
        ) {
            return false;
        }
        let Some(queue) = ev.get("Queue") else {
            return false;
        };
        let Some(iface) = ev.get("Interface").or_else(|| ev.get("Location")) else {
            return false;
        };
        let key = (queue.to_owned(), iface.to_owned());
        if kind == EventKind::QueueMemberRemoved {
            return match self.members.get_mut(&key) {
                Some(m) if m.state != AgentState::LoggedOut => {
                    m.state = AgentState::LoggedOut;
                    true
                }
                Some(_) => false,
                None => {
                    self.members.insert(
                        key,
                        Member {
                            name: ev.get("MemberName").map(str::to_owned),
                            state: AgentState::LoggedOut,
                            device_status: None,
                            calls_taken: None,
                        },
                    );
                    true
                }
            };
        }
        let state = match ev.get("Paused") {
            Some(p) if truthy(p) => AgentState::Paused {
                reason: ev
                    .get("PausedReason")
                    .or_else(|| ev.get("Reason"))
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned),
            },
            Some(_) => AgentState::Ready,
            None => self
                .members
                .get(&key)
                .map(|m| m.state.clone())
                .filter(|s| *s != AgentState::LoggedOut)
                .unwrap_or(AgentState::Ready),
        };
        let new = Member {
            name: ev
                .get("MemberName")
                .or_else(|| ev.get("Name"))
                .map(str::to_owned),
            state,
            device_status: ev.get("Status").and_then(|s| s.trim().parse().ok()),
            calls_taken: ev.get("CallsTaken").and_then(|s| s.trim().parse().ok()),
        };
        let changed = self.members.get(&key) != Some(&new);
        self.members.insert(key, new);
        changed
    }

    /// The member `interface` of `queue`.
    pub fn member(&self, queue: &str, interface: &str) -> Option<&Member> {
        self.members.get(&(queue.to_owned(), interface.to_owned()))
    }

    /// All members.
    pub fn members(&self) -> impl Iterator<Item = (&str, &str, &Member)> {
        self.members
            .iter()
            .map(|((q, i), m)| (q.as_str(), i.as_str(), m))
    }
}
