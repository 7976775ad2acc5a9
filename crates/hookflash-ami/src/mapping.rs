//! AMI events → `hookflash_core` driver events.
//!
//! Channels are legs: the device is the channel name without its `-xxxxxxxx` suffix
//! (`SIP/201-00000002` → `SIP/201`); the call is `Linkedid` (12+) or, on Asterisk 11, the
//! channel's `Uniqueid`. Channel state 4 (`Ring`, placing a call) maps to `Originated`, 5
//! (`Ringing`, being alerted) to `Delivered`, 6 (`Up`) to `Established`. Hold, transfers and
//! queue-member (agent) state map to their own events. Anything else yields nothing.

use hookflash_core::driver::{AgentEventKind, CallEventKind, DriverEvent};
use hookflash_core::model::Name;

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
    Some(DriverEvent::Call {
        link: link.clone(),
        call: call_id(ev)?,
        event,
        cause: None,
    })
}

fn opt(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// Stateful mapper: on Asterisk 11 (no `Linkedid`) it learns from `Dial` (`SubEvent: Begin`)
/// and `DialBegin` that the dialled channel belongs to the caller's call, so both legs share
/// one call id. Entries are dropped at `Hangup`; the table is bounded.
#[derive(Debug, Default, Clone)]
pub struct Mapper {
    calls: std::collections::HashMap<String, String>,
}

/// Most learned channel → call links kept at once.
const MAX_LINKS: usize = 100_000;

impl Mapper {
    /// An empty mapper.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps one event, learning call membership on the way.
    pub fn map(&mut self, link: &Name, ev: &Event) -> Option<DriverEvent> {
        let is_dial_begin = ev.kind == EventKind::DialBegin
            || (ev.kind == EventKind::Dial
                && ev
                    .get("SubEvent")
                    .is_some_and(|s| s.eq_ignore_ascii_case("Begin")));
        if is_dial_begin
            && let Some(src) = ev.get("UniqueID").filter(|s| !s.is_empty())
            && let Some(dst) = ev.get("DestUniqueID").filter(|s| !s.is_empty())
            && self.calls.len() < MAX_LINKS
        {
            let call = self
                .calls
                .get(src)
                .cloned()
                .unwrap_or_else(|| src.to_owned());
            self.calls.insert(dst.to_owned(), call);
        }
        let mut out = map_event(link, ev);
        if ev.get("Linkedid").is_none_or(str::is_empty)
            && let Some(DriverEvent::Call { call, .. }) = &mut out
            && let Some(known) = self.calls.get(call.as_str())
        {
            *call = Name::from(known.as_str());
        }
        if ev.kind == EventKind::Hangup
            && let Some(u) = ev.get("Uniqueid")
        {
            self.calls.remove(u);
        }
        out
    }
}

/// Maps one AMI event of link `link` statelessly (call = `Linkedid`, else `Uniqueid`); `None`
/// when it has no driver meaning. See [`Mapper`] for Asterisk 11 leg correlation.
pub fn map_event(link: &Name, ev: &Event) -> Option<DriverEvent> {
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
                        calling: device,
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
        EventKind::Hangup => call(
            link,
            ev,
            CallEventKind::ConnectionCleared { device: channel? },
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
            let agent = Name::from(
                ev.get("MemberName")
                    .or_else(|| ev.get("Interface"))
                    .or_else(|| ev.get("Location"))?,
            );
            let queue = Name::from(ev.get("Queue")?);
            let event = match ev.kind {
                EventKind::QueueMemberAdded => AgentEventKind::QueueJoined { queue },
                EventKind::QueueMemberRemoved => AgentEventKind::QueueLeft { queue },
                _ => match ev.get("Paused") {
                    Some(p) if truthy(p) => AgentEventKind::NotReady {
                        reason: opt(ev.get("PausedReason").or_else(|| ev.get("Reason"))),
                    },
                    Some(_) => AgentEventKind::Ready,
                    None => return None,
                },
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
}
