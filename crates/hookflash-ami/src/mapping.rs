//! AMI events → `hookflash_core` driver events.
//!
//! Channels are legs: the device is the channel name without its `-xxxxxxxx` suffix
//! (`SIP/201-00000002` → `SIP/201`); the call is `Linkedid` (12+) or, on Asterisk 11, the
//! channel's `Uniqueid`. Channel state 4 (`Ring`, placing a call) maps to `Originated`, 5
//! (`Ringing`, being alerted) to `Delivered`, 6 (`Up`) to `Established`. Queue joins, failed
//! dials, hold, transfers and queue-member (agent) state map to their own events; a call ends
//! when its last channel hangs up ([`Mapper`]). Anything else yields nothing. See
//! [`map_into`] for the whole table.

use std::collections::{BTreeSet, HashMap};

use hookflash_core::driver::{AgentEventKind, CallEventKind, Cause, DriverEvent};
use hookflash_core::model::{ConnectionState, Name};

use crate::event::{ChannelState, Event, EventKind};

/// The device of a channel name: `PJSIP/201-0000000a` → `PJSIP/201`; `Local/x@ctx-0001;1`
/// → `Local/x@ctx`.
pub fn device_of(channel: &str) -> &str {
    let base = channel.split(';').next().unwrap_or(channel);
    match base.rfind('-') {
        Some(i) if i > 0 && base[i + 1..].chars().all(|c| c.is_ascii_hexdigit()) => &base[..i],
        _ => base,
    }
}

fn call_id(ev: &Event) -> Option<Name> {
    ev.get("Linkedid")
        .filter(|s| !s.is_empty())
        .or_else(|| ev.get("Uniqueid").filter(|s| !s.is_empty()))
        .map(Name::from)
}

fn call(link: &Name, ev: &Event, event: CallEventKind) -> Option<DriverEvent> {
    call_with(link, ev, event, None)
}

fn call_with(
    link: &Name,
    ev: &Event,
    event: CallEventKind,
    cause: Option<Cause>,
) -> Option<DriverEvent> {
    Some(DriverEvent::Call {
        link: link.clone(),
        call: call_id(ev)?,
        event,
        cause,
    })
}

fn opt(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty() && *s != "<unknown>")
        .map(str::to_owned)
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// The pause reason Hookflash's AMI driver gives for after-call work, read back as
/// `WorkingAfterCall`.
pub const AFTER_CALL_WORK_REASON: &str = "after-call-work";

/// A Q.850 hangup cause (`Cause` of `Hangup`) as a core cause.
pub fn hangup_cause(code: Option<&str>) -> Option<Cause> {
    Some(match code?.trim().parse::<u16>().ok()? {
        16 => Cause::Normal,
        17 => Cause::Busy,
        18..=19 => Cause::NoAnswer,
        1 | 3 | 21 | 27 | 28 | 34 | 38 | 41 | 42 => Cause::Unreachable,
        26 => Cause::Pickup,
        _ => Cause::Other,
    })
}

/// A `DialStatus` that is not `ANSWER` as a core cause (`None` for answered or in progress).
pub fn dial_status_cause(status: &str) -> Option<Cause> {
    Some(match status.trim().to_ascii_uppercase().as_str() {
        "BUSY" => Cause::Busy,
        "NOANSWER" => Cause::NoAnswer,
        "CONGESTION" | "CHANUNAVAIL" | "INVALIDARGS" | "UNKNOWN" => Cause::Unreachable,
        "CANCEL" => Cause::Normal,
        _ => return None,
    })
}

/// The agent event of a queue-member event's pause state (`Paused` / `PausedReason`):
/// `Ready`, `NotReady` with the reason, or `WorkingAfterCall` for [`AFTER_CALL_WORK_REASON`].
pub fn pause_event(ev: &Event) -> Option<AgentEventKind> {
    let p = ev.get("Paused")?;
    if !truthy(p) {
        return Some(AgentEventKind::Ready);
    }
    let reason = opt(ev.get("PausedReason").or_else(|| ev.get("Reason")));
    Some(match reason {
        Some(r) if r == AFTER_CALL_WORK_REASON => AgentEventKind::WorkingAfterCall,
        reason => AgentEventKind::NotReady { reason },
    })
}

/// The agent a queue-member event names: `MemberName` (or `Name` in `QueueMember` lists),
/// else the interface.
pub fn member_agent(ev: &Event) -> Option<&str> {
    ev.get("MemberName")
        .or_else(|| ev.get("Name"))
        .or_else(|| ev.get("Interface"))
        .or_else(|| ev.get("Location"))
        .filter(|s| !s.is_empty())
}

/// The device of a queue-member event (`Interface`, `Location` or `StateInterface`).
pub fn member_device(ev: &Event) -> Option<&str> {
    ev.get("Interface")
        .or_else(|| ev.get("Location"))
        .or_else(|| ev.get("StateInterface"))
        .filter(|s| !s.is_empty())
}

/// Stateful mapper. It learns:
///
/// - on Asterisk 11 (no `Linkedid`), from `Dial` (`SubEvent: Begin`) and `DialBegin`, that the
///   dialled channel belongs to the caller's call, so both legs share one call id;
/// - which channels are alive on which call: when the last one hangs up the call ends
///   (`CallCleared`), whatever the parties' numbers and devices look like;
/// - which queues each agent is a member of: leaving the last one logs the agent off.
///
/// Every table is bounded.
#[derive(Debug, Default, Clone)]
pub struct Mapper {
    calls: HashMap<String, String>,
    /// Live channel → its call.
    live: HashMap<String, String>,
    /// Call → live channels on it.
    count: HashMap<String, u32>,
    /// Agent → the queues it is a member of.
    members: HashMap<String, BTreeSet<String>>,
}

/// Most learned channel → call links kept at once.
const MAX_LINKS: usize = 100_000;

impl Mapper {
    /// An empty mapper.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps one event, learning call membership on the way; the first driver event only (see
    /// [`Mapper::map_into`] for all of them).
    pub fn map(&mut self, link: &Name, ev: &Event) -> Option<DriverEvent> {
        let mut out = Vec::new();
        self.map_into(link, ev, &mut out);
        out.into_iter().next()
    }

    /// The calls that have live channels.
    pub fn live_calls(&self) -> impl Iterator<Item = &str> + '_ {
        self.count.keys().map(String::as_str)
    }

    /// The agents seen as queue members, with their queues.
    pub fn agents(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> + '_ {
        self.members.iter().map(|(a, q)| (a.as_str(), q))
    }

    /// After a reconnect: the live channels are exactly those of a `CoreShowChannels` list.
    /// Returns the calls that were alive before and have no channel any more (they ended
    /// while the link was down).
    pub fn resync_channels(&mut self, channels: &[Event]) -> Vec<String> {
        let before: BTreeSet<String> = self.count.keys().cloned().collect();
        self.live.clear();
        self.count.clear();
        for ev in channels {
            self.register(ev);
        }
        before
            .into_iter()
            .filter(|c| !self.count.contains_key(c))
            .collect()
    }

    /// After a reconnect: the queue memberships are exactly those of a `QueueStatus` list's
    /// `QueueMember` entries. Returns the agents that are members of no queue any more.
    pub fn resync_members(&mut self, members: &[Event]) -> Vec<String> {
        let before: BTreeSet<String> = self.members.keys().cloned().collect();
        self.members.clear();
        for ev in members {
            if let (Some(a), Some(q)) = (member_agent(ev), ev.get("Queue"))
                && self.members.len() < MAX_LINKS
            {
                self.members
                    .entry(a.to_owned())
                    .or_default()
                    .insert(q.to_owned());
            }
        }
        before
            .into_iter()
            .filter(|a| !self.members.contains_key(a))
            .collect()
    }

    fn call_of(&self, ev: &Event) -> Option<String> {
        let id = ev
            .get("Linkedid")
            .filter(|s| !s.is_empty())
            .or_else(|| ev.get("Uniqueid").filter(|s| !s.is_empty()))?;
        Some(self.calls.get(id).cloned().unwrap_or_else(|| id.to_owned()))
    }

    fn register(&mut self, ev: &Event) {
        let Some(ch) = ev.get("Channel").filter(|c| !c.is_empty()) else {
            return;
        };
        if self.live.contains_key(ch) || self.live.len() >= MAX_LINKS {
            return;
        }
        let Some(call) = self.call_of(ev) else {
            return;
        };
        *self.count.entry(call.clone()).or_default() += 1;
        self.live.insert(ch.to_owned(), call);
    }

    /// Maps one event into `out` (nothing, one or more driver events), learning on the way.
    pub fn map_into(&mut self, link: &Name, ev: &Event, out: &mut Vec<DriverEvent>) {
        let is_dial_begin = ev.kind == EventKind::DialBegin
            || (ev.kind == EventKind::Dial
                && ev
                    .get("SubEvent")
                    .is_some_and(|s| s.eq_ignore_ascii_case("Begin")));
        if is_dial_begin
            && let Some(src) = ev.get("UniqueID").filter(|s| !s.is_empty())
            && let Some(dst) = ev.get("DestUniqueID").filter(|s| !s.is_empty())
            && ev.get("Linkedid").is_none_or(str::is_empty)
            && self.calls.len() < MAX_LINKS
        {
            let call = self
                .calls
                .get(src)
                .cloned()
                .unwrap_or_else(|| src.to_owned());
            self.calls.insert(dst.to_owned(), call);
        }
        let first = out.len();
        map_into(link, ev, out);
        if ev.get("Linkedid").is_none_or(str::is_empty) {
            for d in &mut out[first..] {
                if let DriverEvent::Call { call, .. } = d
                    && let Some(known) = self.calls.get(call.as_str())
                {
                    *call = Name::from(known.as_str());
                }
            }
        }
        match ev.kind {
            EventKind::Hangup => {
                if let Some(ch) = ev.get("Channel")
                    && let Some(call) = self.live.remove(ch)
                {
                    let left = self.count.get_mut(&call).map(|n| {
                        *n = n.saturating_sub(1);
                        *n
                    });
                    if left == Some(0) {
                        self.count.remove(&call);
                        out.push(DriverEvent::Call {
                            link: link.clone(),
                            call: Name::from(call.as_str()),
                            event: CallEventKind::CallCleared,
                            cause: hangup_cause(ev.get("Cause")),
                        });
                    }
                }
                if let Some(u) = ev.get("Uniqueid") {
                    self.calls.remove(u);
                }
            }
            EventKind::Newchannel
            | EventKind::Newstate
            | EventKind::DialBegin
            | EventKind::Dial
            | EventKind::BridgeEnter
            | EventKind::QueueCallerJoin
            | EventKind::Join
            | EventKind::Hold
            | EventKind::Unhold => self.register(ev),
            EventKind::QueueMemberAdded => {
                if let (Some(a), Some(q)) = (member_agent(ev), ev.get("Queue"))
                    && self.members.len() < MAX_LINKS
                {
                    self.members
                        .entry(a.to_owned())
                        .or_default()
                        .insert(q.to_owned());
                }
            }
            EventKind::QueueMemberRemoved => {
                if let (Some(a), Some(q)) = (member_agent(ev), ev.get("Queue")) {
                    let gone = self.members.get_mut(a).is_some_and(|set| {
                        set.remove(q);
                        set.is_empty()
                    });
                    if gone {
                        self.members.remove(a);
                        out.push(DriverEvent::Agent {
                            link: link.clone(),
                            agent: Name::from(a),
                            event: AgentEventKind::LoggedOff,
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Maps one AMI event of link `link` statelessly (call = `Linkedid`, else `Uniqueid`); `None`
/// when it has no driver meaning, the first driver event when it has several. See [`Mapper`]
/// for Asterisk 11 leg correlation and calls ending with their last channel.
pub fn map_event(link: &Name, ev: &Event) -> Option<DriverEvent> {
    let mut out = Vec::new();
    map_into(link, ev, &mut out);
    out.into_iter().next()
}

/// Maps one AMI event statelessly into `out`.
///
/// - `Newchannel`/`Newstate` 4 (`Ring`, placing a call) → `Originated` (calling = the
///   channel's `CallerIDNum`, else its device); 5 (`Ringing`) → `Delivered`; 6 (`Up`) →
///   `Established`, except for the call's first channel (`Uniqueid` = `Linkedid`), whose
///   answer is no answer of the call: a `State` of `Connected`.
/// - `QueueCallerJoin` (11: `Join`) → `Queued`.
/// - `DialEnd` (11: `Dial` `SubEvent: End`) with `BUSY`, `NOANSWER`, `CONGESTION`… →
///   `Failed` at the dialled device, with the cause.
/// - `Hangup` → `ConnectionCleared` with the Q.850 cause.
/// - `Hold`/`Unhold` (11: `MusicOnHold`), `BlindTransfer`/`AttendedTransfer`.
/// - `QueueMemberAdded` → `LoggedOn` (device = interface) and the pause state;
///   `QueueMemberRemoved` → `QueueLeft`; `QueueMemberPause`/`Status` → `Ready`, `NotReady`
///   with the reason, or `WorkingAfterCall` (reason `after-call-work`).
pub fn map_into(link: &Name, ev: &Event, out: &mut Vec<DriverEvent>) {
    out.extend(map_one(link, ev));
    if ev.kind == EventKind::QueueMemberAdded
        && let Some(agent) = member_agent(ev)
        && let Some(p) = pause_event(ev)
    {
        out.push(DriverEvent::Agent {
            link: link.clone(),
            agent: Name::from(agent),
            event: p,
        });
    }
}

fn map_one(link: &Name, ev: &Event) -> Option<DriverEvent> {
    let channel = ev.get("Channel").map(device_of).map(Name::from);
    match ev.kind {
        EventKind::Newchannel | EventKind::Newstate => {
            let info = ev.channel()?;
            let device = Name::from(device_of(info.channel));
            let calling = opt(info.caller_id_num);
            match info.state? {
                ChannelState::Ring => call(
                    link,
                    ev,
                    CallEventKind::Originated {
                        calling: calling.map(Name::from).unwrap_or(device),
                        called: info.exten.unwrap_or_default().to_owned(),
                    },
                ),
                ChannelState::Ringing => call(
                    link,
                    ev,
                    CallEventKind::Delivered {
                        alerting: device,
                        calling: opt(info.connected_line_num).or(calling),
                        called: opt(info.exten),
                        last_redirection: None,
                    },
                ),
                ChannelState::Up if info.linkedid.is_some() && info.linkedid == info.uniqueid => {
                    call(
                        link,
                        ev,
                        CallEventKind::State {
                            device,
                            state: ConnectionState::Connected,
                        },
                    )
                }
                ChannelState::Up if ev.kind == EventKind::Newstate => call(
                    link,
                    ev,
                    CallEventKind::Established {
                        answering: device,
                        calling: opt(info.connected_line_num),
                        called: calling,
                    },
                ),
                _ => None,
            }
        }
        EventKind::QueueCallerJoin | EventKind::Join => {
            let info = ev.channel()?;
            call(
                link,
                ev,
                CallEventKind::Queued {
                    queue: Name::from(ev.get("Queue").filter(|q| !q.is_empty())?),
                    calling: opt(info.caller_id_num),
                    called: opt(info.exten),
                },
            )
        }
        EventKind::DialEnd | EventKind::Dial => {
            if ev.kind == EventKind::Dial
                && !ev
                    .get("SubEvent")
                    .is_some_and(|s| s.eq_ignore_ascii_case("End"))
            {
                return None;
            }
            let cause = dial_status_cause(ev.get("DialStatus")?)?;
            if cause == Cause::Normal {
                return None;
            }
            let dest = ev
                .get("DestChannel")
                .or_else(|| ev.get("Destination"))
                .or_else(|| ev.get("Channel"))?;
            call_with(
                link,
                ev,
                CallEventKind::Failed {
                    device: Name::from(device_of(dest)),
                    calling: opt(ev.get("CallerIDNum")),
                    called: opt(ev.get("Exten")).or_else(|| opt(ev.get("DestCallerIDNum"))),
                },
                Some(cause),
            )
        }
        EventKind::Hangup => call_with(
            link,
            ev,
            CallEventKind::ConnectionCleared { device: channel? },
            hangup_cause(ev.get("Cause")),
        ),
        EventKind::Hold | EventKind::MusicOnHoldStart => {
            call(link, ev, CallEventKind::Held { device: channel? })
        }
        EventKind::Unhold | EventKind::MusicOnHoldStop => {
            call(link, ev, CallEventKind::Retrieved { device: channel? })
        }
        EventKind::MusicOnHold => {
            let device = channel?;
            if ev
                .get("State")
                .is_some_and(|s| s.eq_ignore_ascii_case("Start"))
            {
                call(link, ev, CallEventKind::Held { device })
            } else {
                call(link, ev, CallEventKind::Retrieved { device })
            }
        }
        EventKind::BlindTransfer | EventKind::AttendedTransfer => {
            let transferring = ev
                .get("TransfererChannel")
                .or_else(|| ev.get("OrigTransfererChannel"))
                .map(device_of)?;
            let to = ev
                .get("Extension")
                .or_else(|| ev.get("TransferTargetChannel").map(device_of))
                .map(Name::from);
            let call_name = ev
                .get("TransfererLinkedid")
                .or_else(|| ev.get("OrigTransfererLinkedid"))
                .map(Name::from)?;
            Some(DriverEvent::Call {
                link: link.clone(),
                call: call_name,
                event: CallEventKind::Transferred {
                    secondary: ev.get("SecondTransfererLinkedid").map(Name::from),
                    new_call: None,
                    transferring: Name::from(transferring),
                    transferred_to: to,
                },
                cause: None,
            })
        }
        EventKind::QueueMemberAdded
        | EventKind::QueueMemberRemoved
        | EventKind::QueueMemberPause
        | EventKind::QueueMemberPaused
        | EventKind::QueueMemberStatus => {
            let agent = Name::from(member_agent(ev)?);
            let queue = Name::from(ev.get("Queue")?);
            let event = match ev.kind {
                EventKind::QueueMemberAdded => AgentEventKind::LoggedOn {
                    device: member_device(ev).map(Name::from),
                    queues: vec![queue],
                },
                EventKind::QueueMemberRemoved => AgentEventKind::QueueLeft { queue },
                _ => pause_event(ev)?,
            };
            Some(DriverEvent::Agent {
                link: link.clone(),
                agent,
                event,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Message, MessageKind};

    fn ev(h: &[(&str, &str)]) -> Event {
        Event::from_message(Message::from_headers(MessageKind::Event, h.iter().copied())).unwrap()
    }

    #[test]
    fn asterisk11_dial_joins_legs_into_one_call() {
        let link = Name::from("pbx");
        let mut m = Mapper::new();
        m.map(
            &link,
            &ev(&[
                ("Event", "Dial"),
                ("SubEvent", "Begin"),
                ("UniqueID", "1.1"),
                ("DestUniqueID", "1.2"),
            ]),
        );
        let r = m.map(
            &link,
            &ev(&[
                ("Event", "Newstate"),
                ("Channel", "SIP/300-00000002"),
                ("ChannelState", "5"),
                ("Uniqueid", "1.2"),
            ]),
        );
        assert!(matches!(r, Some(DriverEvent::Call { ref call, .. }) if call.as_str() == "1.1"));
        let r = m.map(
            &link,
            &ev(&[
                ("Event", "Hangup"),
                ("Channel", "SIP/300-00000002"),
                ("Uniqueid", "1.2"),
            ]),
        );
        assert!(matches!(r, Some(DriverEvent::Call { ref call, .. }) if call.as_str() == "1.1"));
        assert!(m.calls.is_empty());
        assert_eq!(m.live_calls().count(), 0);
    }

    #[test]
    fn device_names() {
        assert_eq!(device_of("SIP/999999-00000002"), "SIP/999999");
        assert_eq!(
            device_of("Local/id-3@agentcallback-0000001a;1"),
            "Local/id-3@agentcallback"
        );
        assert_eq!(device_of("DAHDI/i1/555-1"), "DAHDI/i1/555");
        assert_eq!(device_of("Console/dsp"), "Console/dsp");
    }

    #[test]
    fn ring_is_originated_ringing_is_delivered() {
        let link = Name::from("pbx");
        let r = map_event(
            &link,
            &ev(&[
                ("Event", "Newstate"),
                ("Channel", "PJSIP/201-00000001"),
                ("ChannelState", "4"),
                ("ChannelStateDesc", "Ring"),
                ("Exten", "300"),
                ("Uniqueid", "1.1"),
                ("Linkedid", "1.1"),
            ]),
        );
        assert!(
            matches!(r, Some(DriverEvent::Call { event: CallEventKind::Originated { ref calling, ref called }, ref call, .. }) if calling.as_str() == "PJSIP/201" && called == "300" && call.as_str() == "1.1")
        );
        let r = map_event(
            &link,
            &ev(&[
                ("Event", "Newstate"),
                ("Channel", "PJSIP/300-00000002"),
                ("ChannelState", "5"),
                ("ChannelStateDesc", "Ringing"),
                ("ConnectedLineNum", "201"),
                ("Uniqueid", "1.2"),
                ("Linkedid", "1.1"),
            ]),
        );
        assert!(
            matches!(r, Some(DriverEvent::Call { event: CallEventKind::Delivered { ref alerting, ref calling, .. }, ref call, .. }) if alerting.as_str() == "PJSIP/300" && calling.as_deref() == Some("201") && call.as_str() == "1.1")
        );
    }

    #[test]
    fn pause_with_reason_and_ready() {
        let link = Name::from("pbx");
        let r = map_event(
            &link,
            &ev(&[
                ("Event", "QueueMemberPause"),
                ("Queue", "sales"),
                ("MemberName", "Agent/1"),
                ("Paused", "1"),
                ("PausedReason", "lunch"),
            ]),
        );
        assert!(
            matches!(r, Some(DriverEvent::Agent { event: AgentEventKind::NotReady { reason: Some(ref r) }, .. }) if r == "lunch")
        );
        let r = map_event(
            &link,
            &ev(&[
                ("Event", "QueueMemberStatus"),
                ("Queue", "sales"),
                ("MemberName", "Agent/1"),
                ("Paused", "0"),
            ]),
        );
        assert!(matches!(
            r,
            Some(DriverEvent::Agent {
                event: AgentEventKind::Ready,
                ..
            })
        ));
        assert!(map_event(&link, &ev(&[("Event", "VarSet")])).is_none());
    }

    #[test]
    fn a_call_ends_with_its_last_channel() {
        let link = Name::from("pbx");
        let mut m = Mapper::new();
        let mut out = Vec::new();
        let chan = |c: &str, u: &str, st: &str| {
            ev(&[
                ("Event", "Newchannel"),
                ("Channel", c),
                ("ChannelState", st),
                ("CallerIDNum", "+4930111"),
                ("Exten", "6000"),
                ("Uniqueid", u),
                ("Linkedid", "9.1"),
            ])
        };
        m.map_into(&link, &chan("DAHDI/i1/+4930111-1", "9.1", "4"), &mut out);
        // The caller placing the call names the number, not the channel's device.
        assert!(matches!(
            &out[0],
            DriverEvent::Call { event: CallEventKind::Originated { calling, called }, .. }
                if calling.as_str() == "+4930111" && called == "6000"
        ));
        m.map_into(&link, &chan("PJSIP/300-2", "9.2", "5"), &mut out);
        assert_eq!(m.live_calls().collect::<Vec<_>>(), ["9.1"]);
        out.clear();
        let hangup = |c: &str, u: &str, cause: &str| {
            ev(&[
                ("Event", "Hangup"),
                ("Channel", c),
                ("Uniqueid", u),
                ("Linkedid", "9.1"),
                ("Cause", cause),
            ])
        };
        m.map_into(&link, &hangup("PJSIP/300-2", "9.2", "19"), &mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(
            &out[0],
            DriverEvent::Call {
                event: CallEventKind::ConnectionCleared { .. },
                cause: Some(Cause::NoAnswer),
                ..
            }
        ));
        out.clear();
        m.map_into(&link, &hangup("DAHDI/i1/+4930111-1", "9.1", "16"), &mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(
            &out[1],
            DriverEvent::Call { event: CallEventKind::CallCleared, call, .. } if call.as_str() == "9.1"
        ));
        assert_eq!(m.live_calls().count(), 0);
    }

    #[test]
    fn queue_join_busy_dial_and_the_callers_own_answer() {
        let link = Name::from("pbx");
        let r = map_event(
            &link,
            &ev(&[
                ("Event", "QueueCallerJoin"),
                ("Channel", "DAHDI/i1/+4930111-1"),
                ("CallerIDNum", "+4930111"),
                ("Exten", "6000"),
                ("Queue", "6000"),
                ("Uniqueid", "9.1"),
                ("Linkedid", "9.1"),
            ]),
        );
        assert!(matches!(
            r,
            Some(DriverEvent::Call { event: CallEventKind::Queued { ref queue, ref calling, .. }, .. })
                if queue.as_str() == "6000" && calling.as_deref() == Some("+4930111")
        ));
        let r = map_event(
            &link,
            &ev(&[
                ("Event", "DialEnd"),
                ("Channel", "PJSIP/200-1"),
                ("CallerIDNum", "200"),
                ("Exten", "201"),
                ("DestChannel", "PJSIP/201-2"),
                ("DialStatus", "BUSY"),
                ("Uniqueid", "8.1"),
                ("Linkedid", "8.1"),
            ]),
        );
        assert!(matches!(
            r,
            Some(DriverEvent::Call { event: CallEventKind::Failed { ref device, ref calling, .. }, cause: Some(Cause::Busy), .. })
                if device.as_str() == "PJSIP/201" && calling.as_deref() == Some("200")
        ));
        // An answered dial is no failure.
        assert!(
            map_event(
                &link,
                &ev(&[
                    ("Event", "DialEnd"),
                    ("DestChannel", "PJSIP/201-2"),
                    ("DialStatus", "ANSWER"),
                    ("Linkedid", "8.1"),
                ]),
            )
            .is_none()
        );
        // The call's first channel going up is not the call being answered.
        let up = |u: &str| {
            map_event(
                &link,
                &ev(&[
                    ("Event", "Newstate"),
                    ("Channel", "PJSIP/200-1"),
                    ("ChannelState", "6"),
                    ("Uniqueid", u),
                    ("Linkedid", "8.1"),
                ]),
            )
        };
        assert!(matches!(
            up("8.1"),
            Some(DriverEvent::Call {
                event: CallEventKind::State {
                    state: ConnectionState::Connected,
                    ..
                },
                ..
            })
        ));
        assert!(matches!(
            up("8.2"),
            Some(DriverEvent::Call {
                event: CallEventKind::Established { .. },
                ..
            })
        ));
    }

    #[test]
    fn members_log_on_pause_for_after_call_work_and_log_off_with_their_last_queue() {
        let link = Name::from("pbx");
        let mut m = Mapper::new();
        let mut out = Vec::new();
        let member = |name: &str, queue: &str, extra: &[(&str, &str)]| {
            let mut h = vec![
                ("Event", name),
                ("Queue", queue),
                ("MemberName", "A1"),
                ("Interface", "PJSIP/300"),
            ];
            h.extend_from_slice(extra);
            ev(&h)
        };
        m.map_into(
            &link,
            &member("QueueMemberAdded", "q1", &[("Paused", "0")]),
            &mut out,
        );
        m.map_into(
            &link,
            &member("QueueMemberAdded", "q2", &[("Paused", "0")]),
            &mut out,
        );
        assert!(matches!(
            &out[0],
            DriverEvent::Agent { event: AgentEventKind::LoggedOn { device: Some(d), queues }, .. }
                if d.as_str() == "PJSIP/300" && queues.len() == 1
        ));
        assert!(matches!(
            &out[1],
            DriverEvent::Agent {
                event: AgentEventKind::Ready,
                ..
            }
        ));
        out.clear();
        m.map_into(
            &link,
            &member(
                "QueueMemberPause",
                "q1",
                &[("Paused", "1"), ("PausedReason", AFTER_CALL_WORK_REASON)],
            ),
            &mut out,
        );
        assert!(matches!(
            &out[0],
            DriverEvent::Agent {
                event: AgentEventKind::WorkingAfterCall,
                ..
            }
        ));
        out.clear();
        m.map_into(&link, &member("QueueMemberRemoved", "q1", &[]), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        m.map_into(&link, &member("QueueMemberRemoved", "q2", &[]), &mut out);
        assert!(matches!(
            out.last(),
            Some(DriverEvent::Agent {
                event: AgentEventKind::LoggedOff,
                ..
            })
        ));
        // A resync that lists the agent again, and one that does not.
        let listed = [ev(&[
            ("Event", "QueueMember"),
            ("Queue", "q1"),
            ("Name", "A1"),
        ])];
        assert!(m.resync_members(&listed).is_empty());
        assert_eq!(m.resync_members(&[]), ["A1"]);
    }

    #[test]
    fn resync_ends_the_calls_whose_channels_are_gone() {
        let link = Name::from("pbx");
        let mut m = Mapper::new();
        for (c, l) in [("PJSIP/1-1", "1.1"), ("PJSIP/2-1", "2.1")] {
            m.map(
                &link,
                &ev(&[
                    ("Event", "Newchannel"),
                    ("Channel", c),
                    ("ChannelState", "4"),
                    ("Uniqueid", l),
                    ("Linkedid", l),
                ]),
            );
        }
        let still = [ev(&[
            ("Event", "CoreShowChannel"),
            ("Channel", "PJSIP/2-1"),
            ("Uniqueid", "2.1"),
            ("Linkedid", "2.1"),
        ])];
        assert_eq!(m.resync_channels(&still), ["1.1"]);
        assert_eq!(m.live_calls().collect::<Vec<_>>(), ["2.1"]);
    }
}
