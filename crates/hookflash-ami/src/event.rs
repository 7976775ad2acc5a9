//! Typed view of AMI events.
//!
//! [`Event`] keeps the whole [`Message`] (every header, repeated keys included) and adds the
//! recognised [`EventKind`]; unknown names are [`EventKind::Unknown`] and lose nothing. Typed
//! accessors ([`Event::channel`]) read the fields shared by channel events.

use crate::codec::Message;

macro_rules! kinds {
    ($($(#[$doc:meta])* $v:ident => $s:literal,)*) => {
        /// Recognised AMI event names (Asterisk 11 and 12+).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventKind {
            $($(#[$doc])* #[doc = concat!("`", $s, "`")] $v,)*
            /// Any other event name (see [`Event::name`]).
            Unknown,
        }
        impl EventKind {
            /// Recognises an event name (case-insensitive).
            pub fn from_name(name: &str) -> Self {
                // Exact spelling first (one jump on length + compare), then any case.
                match name {
                    $($s => return Self::$v,)*
                    _ => {}
                }
                $(if name.eq_ignore_ascii_case($s) { return Self::$v; })*
                Self::Unknown
            }
            /// The canonical name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s,)* Self::Unknown => "Unknown" }
            }
        }
    };
}

kinds! {
    Newchannel => "Newchannel",
    Newstate => "Newstate",
    Hangup => "Hangup",
    HangupRequest => "HangupRequest",
    SoftHangupRequest => "SoftHangupRequest",
    DialBegin => "DialBegin",
    DialEnd => "DialEnd",
    /// Asterisk 11 (`SubEvent: Begin/End`).
    Dial => "Dial",
    BridgeCreate => "BridgeCreate",
    BridgeEnter => "BridgeEnter",
    BridgeLeave => "BridgeLeave",
    BridgeDestroy => "BridgeDestroy",
    /// Asterisk 11 (`Bridgestate: Link/Unlink`).
    Bridge => "Bridge",
    Masquerade => "Masquerade",
    Rename => "Rename",
    NewCallerid => "NewCallerid",
    NewConnectedLine => "NewConnectedLine",
    AttendedTransfer => "AttendedTransfer",
    BlindTransfer => "BlindTransfer",
    /// Asterisk 11 transfer.
    Transfer => "Transfer",
    Hold => "Hold",
    Unhold => "Unhold",
    /// Asterisk 11 hold (`State: Start/Stop`).
    MusicOnHold => "MusicOnHold",
    MusicOnHoldStart => "MusicOnHoldStart",
    MusicOnHoldStop => "MusicOnHoldStop",
    QueueCallerJoin => "QueueCallerJoin",
    QueueCallerLeave => "QueueCallerLeave",
    QueueCallerAbandon => "QueueCallerAbandon",
    /// Asterisk 11 queue join.
    Join => "Join",
    /// Asterisk 11 queue leave.
    Leave => "Leave",
    AgentCalled => "AgentCalled",
    AgentConnect => "AgentConnect",
    AgentComplete => "AgentComplete",
    AgentRingNoAnswer => "AgentRingNoAnswer",
    AgentDump => "AgentDump",
    AgentLogin => "AgentLogin",
    AgentLogoff => "AgentLogoff",
    QueueMemberAdded => "QueueMemberAdded",
    QueueMemberRemoved => "QueueMemberRemoved",
    /// Asterisk 12+ name.
    QueueMemberPause => "QueueMemberPause",
    /// Asterisk 11 name.
    QueueMemberPaused => "QueueMemberPaused",
    QueueMemberStatus => "QueueMemberStatus",
    QueueParams => "QueueParams",
    QueueMember => "QueueMember",
    QueueEntry => "QueueEntry",
    QueueStatusComplete => "QueueStatusComplete",
    CoreShowChannel => "CoreShowChannel",
    CoreShowChannelsComplete => "CoreShowChannelsComplete",
    DeviceStateChange => "DeviceStateChange",
    ExtensionStatus => "ExtensionStatus",
    PeerStatus => "PeerStatus",
    VarSet => "VarSet",
    Newexten => "Newexten",
    FullyBooted => "FullyBooted",
    Shutdown => "Shutdown",
    Reload => "Reload",
    UserEvent => "UserEvent",
    OriginateResponse => "OriginateResponse",
    Status => "Status",
    StatusComplete => "StatusComplete",
    Cdr => "Cdr",
    Cel => "CEL",
}

/// Channel state (`ChannelState` number and `ChannelStateDesc`).
///
/// `Ring` (4) is a channel that is *placing* a call and hears ringback; `Ringing` (5) is a
/// channel being *alerted*. Mixing them up inverts call direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelState {
    /// 0
    Down,
    /// 1
    Reserved,
    /// 2
    OffHook,
    /// 3
    Dialing,
    /// 4 — outgoing side, hearing ringback.
    Ring,
    /// 5 — being alerted.
    Ringing,
    /// 6
    Up,
    /// 7
    Busy,
    /// 8
    DialingOffhook,
    /// 9
    PreRing,
    /// Anything else, kept verbatim.
    Unknown(String),
}

impl ChannelState {
    /// From the numeric `ChannelState` header, falling back to `ChannelStateDesc`.
    pub fn parse(number: Option<&str>, desc: Option<&str>) -> Option<Self> {
        let by_num = match number.map(str::trim) {
            Some("0") => Some(Self::Down),
            Some("1") => Some(Self::Reserved),
            Some("2") => Some(Self::OffHook),
            Some("3") => Some(Self::Dialing),
            Some("4") => Some(Self::Ring),
            Some("5") => Some(Self::Ringing),
            Some("6") => Some(Self::Up),
            Some("7") => Some(Self::Busy),
            Some("8") => Some(Self::DialingOffhook),
            Some("9") => Some(Self::PreRing),
            _ => None,
        };
        if by_num.is_some() {
            return by_num;
        }
        let d = desc?.trim();
        Some(match d.to_ascii_lowercase().as_str() {
            "down" => Self::Down,
            "rsrvd" | "reserved" => Self::Reserved,
            "offhook" => Self::OffHook,
            "dialing" => Self::Dialing,
            "ring" => Self::Ring,
            "ringing" => Self::Ringing,
            "up" => Self::Up,
            "busy" => Self::Busy,
            "dialing offhook" => Self::DialingOffhook,
            "pre-ring" => Self::PreRing,
            _ => Self::Unknown(d.to_owned()),
        })
    }
}

/// Asterisk generation, as far as events reveal it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AsteriskGeneration {
    /// 1.8–11: `Bridge`, `Masquerade`, `Dial` with `SubEvent`, no `Linkedid` on most events.
    Legacy,
    /// 12+: bridges as objects (`BridgeEnter`), `DialBegin`, `Linkedid` everywhere.
    Modern,
}

/// Detects the generation from what has been seen; call [`observe`](Self::observe) on every
/// event (and the banner version, if known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionDetector {
    legacy: u32,
    modern: u32,
}

impl VersionDetector {
    /// Feeds one event.
    pub fn observe(&mut self, ev: &Event) {
        match ev.kind {
            EventKind::Bridge
            | EventKind::Dial
            | EventKind::Join
            | EventKind::Leave
            | EventKind::MusicOnHold
            | EventKind::Transfer
            | EventKind::QueueMemberPaused => self.legacy += 1,
            EventKind::BridgeEnter
            | EventKind::BridgeLeave
            | EventKind::BridgeCreate
            | EventKind::DialBegin
            | EventKind::DialEnd
            | EventKind::QueueCallerJoin
            | EventKind::QueueMemberPause
            | EventKind::AttendedTransfer
            | EventKind::BlindTransfer
            | EventKind::Hold => self.modern += 1,
            EventKind::Newchannel | EventKind::Newstate if ev.message.get("Linkedid").is_some() => {
                self.modern += 1;
            }
            _ => {}
        }
    }

    /// The best guess so far (`None` until a distinguishing event was seen).
    pub fn generation(&self) -> Option<AsteriskGeneration> {
        match (self.legacy, self.modern) {
            (0, 0) => None,
            (l, m) if l > m => Some(AsteriskGeneration::Legacy),
            _ => Some(AsteriskGeneration::Modern),
        }
    }
}

/// Fields common to channel events (Asterisk 11 and 12+ names both accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo<'a> {
    /// `Channel`.
    pub channel: &'a str,
    /// `Uniqueid`.
    pub uniqueid: Option<&'a str>,
    /// `Linkedid` (12+; the call id).
    pub linkedid: Option<&'a str>,
    /// Parsed state.
    pub state: Option<ChannelState>,
    /// `CallerIDNum`.
    pub caller_id_num: Option<&'a str>,
    /// `CallerIDName`.
    pub caller_id_name: Option<&'a str>,
    /// `ConnectedLineNum`.
    pub connected_line_num: Option<&'a str>,
    /// `Exten`.
    pub exten: Option<&'a str>,
    /// `Context`.
    pub context: Option<&'a str>,
}

/// A typed AMI event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The recognised kind (`Unknown` for others).
    pub kind: EventKind,
    /// The whole message.
    pub message: Message,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl Event {
    /// Wraps an `Event:` message; `None` for other kinds.
    pub fn from_message(message: Message) -> Option<Self> {
        let kind = EventKind::from_name(message.event_name()?);
        Some(Self { kind, message })
    }

    /// The event name as received.
    pub fn name(&self) -> &str {
        self.message.event_name().unwrap_or("")
    }

    /// A header value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.message.get(key)
    }

    /// Channel fields, when the event names a channel (`Channel`, or 11's `Channel1` / 12's
    /// `DestChannel` are not taken here).
    pub fn channel(&self) -> Option<ChannelInfo<'_>> {
        let m = &self.message;
        let channel = m.get("Channel")?;
        Some(ChannelInfo {
            channel,
            uniqueid: non_empty(m.get("Uniqueid")),
            linkedid: non_empty(m.get("Linkedid")),
            state: ChannelState::parse(m.get("ChannelState"), m.get("ChannelStateDesc")),
            caller_id_num: non_empty(m.get("CallerIDNum")),
            caller_id_name: non_empty(m.get("CallerIDName")),
            connected_line_num: non_empty(m.get("ConnectedLineNum")),
            exten: non_empty(m.get("Exten")),
            context: non_empty(m.get("Context")),
        })
    }

    /// `true` for the last event of an EventList (`EventList: Complete` or a name ending in
    /// `Complete`).
    pub fn is_list_complete(&self) -> bool {
        self.get("EventList")
            .is_some_and(|v| v.eq_ignore_ascii_case("Complete"))
            || self.name().ends_with("Complete")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::MessageKind;

    #[test]
    fn ring_vs_ringing() {
        assert_eq!(
            ChannelState::parse(Some("4"), Some("Ring")),
            Some(ChannelState::Ring)
        );
        assert_eq!(
            ChannelState::parse(Some("5"), Some("Ringing")),
            Some(ChannelState::Ringing)
        );
        assert_eq!(
            ChannelState::parse(None, Some("Ringing")),
            Some(ChannelState::Ringing)
        );
        assert_eq!(
            ChannelState::parse(Some("x"), Some("Weird")),
            Some(ChannelState::Unknown("Weird".into()))
        );
    }

    #[test]
    fn unknown_keeps_all_headers() {
        let m = Message::from_headers(
            MessageKind::Event,
            [("Event", "SomethingNew"), ("A", "1"), ("A", "2")],
        );
        let e = Event::from_message(m).unwrap();
        assert_eq!(e.kind, EventKind::Unknown);
        assert_eq!(e.name(), "SomethingNew");
        assert_eq!(e.message.get_all("A").count(), 2);
    }

    #[test]
    fn version_detection() {
        let mut d = VersionDetector::default();
        let ev = |n| {
            Event::from_message(Message::from_headers(MessageKind::Event, [("Event", n)])).unwrap()
        };
        d.observe(&ev("Masquerade"));
        assert_eq!(d.generation(), None);
        d.observe(&ev("Bridge"));
        assert_eq!(d.generation(), Some(AsteriskGeneration::Legacy));
        let mut d = VersionDetector::default();
        d.observe(&ev("BridgeEnter"));
        assert_eq!(d.generation(), Some(AsteriskGeneration::Modern));
    }
}
