//! Device states: the `DeviceStateList` (`DeviceStateChange` entries, Asterisk 13+) and
//! `ExtensionStateList` (`ExtensionStatus` entries, hints) lists, and the live
//! `DeviceStateChange` / `ExtensionStatus` events.
//!
//! Device names are mapped to device ids the way [`crate::mapping`] maps channels
//! ([`device_of`]): `PJSIP/201` stays `PJSIP/201`, `SIP/201-0000000a` reads as `SIP/201`;
//! non-channel devices (`Custom:DND201`, `Queue:sales_avail`) keep their names.

use crate::{
    event::{Event, EventKind},
    mapping::device_of,
};

/// An Asterisk device state (`ast_devstate`), as `DeviceStateChange` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceState {
    /// `NOT_INUSE`: idle.
    NotInUse,
    /// `INUSE`: on a call.
    InUse,
    /// `BUSY`.
    Busy,
    /// `INVALID`: the PBX does not know the device.
    Invalid,
    /// `UNAVAILABLE`: known but not reachable (not registered).
    Unavailable,
    /// `RINGING`.
    Ringing,
    /// `RINGINUSE`: ringing while on another call.
    RingInUse,
    /// `ONHOLD`.
    OnHold,
    /// `UNKNOWN`.
    Unknown,
    /// Any other text, as received.
    Other(String),
}

impl DeviceState {
    /// Parses a `DeviceStateChange` `State` (case-insensitive; `Idle`/`InUse`-style hint
    /// texts are accepted too).
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        let up = t.to_ascii_uppercase().replace(['_', ' ', '&'], "");
        match up.as_str() {
            "NOTINUSE" | "IDLE" => Self::NotInUse,
            "INUSE" => Self::InUse,
            "BUSY" => Self::Busy,
            "INVALID" | "REMOVED" | "DEACTIVATED" => Self::Invalid,
            "UNAVAILABLE" => Self::Unavailable,
            "RINGING" => Self::Ringing,
            "RINGINUSE" | "INUSERINGING" => Self::RingInUse,
            "ONHOLD" | "HOLD" | "INUSEHOLD" => Self::OnHold,
            "UNKNOWN" | "" => Self::Unknown,
            _ => Self::Other(t.chars().take(64).collect()),
        }
    }

    /// The state of an extension `Status` code (a bit set: 1 in use, 2 busy, 4 unavailable,
    /// 8 ringing, 16 on hold; 0 idle; -1 deactivated, -2 removed).
    pub fn from_extension_status(code: i32) -> Self {
        match code {
            0 => Self::NotInUse,
            c if c < 0 => Self::Invalid,
            c if c & 4 != 0 => Self::Unavailable,
            c if c & 8 != 0 && c & 1 != 0 => Self::RingInUse,
            c if c & 8 != 0 => Self::Ringing,
            c if c & 16 != 0 => Self::OnHold,
            c if c & 2 != 0 => Self::Busy,
            c if c & 1 != 0 => Self::InUse,
            _ => Self::Unknown,
        }
    }

    /// Whether the PBX says the device exists (every state but `INVALID`).
    pub fn exists(&self) -> bool {
        *self != Self::Invalid
    }

    /// Whether the state says the device has a call (in use, busy, ringing, on hold).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Self::InUse | Self::Busy | Self::Ringing | Self::RingInUse | Self::OnHold
        )
    }

    /// Whether the state says the device is idle.
    pub fn is_idle(&self) -> bool {
        *self == Self::NotInUse
    }
}

/// Whether a device id names a channel device (`PJSIP/201`), as opposed to a custom or
/// queue device (`Custom:DND201`), which never has channels.
pub fn is_channel_device(device: &str) -> bool {
    device.contains('/')
}

/// The devices and states one event tells: a `DeviceStateChange` names one device; an
/// `ExtensionStatus` names the devices of its hint (`PJSIP/201&Custom:DND201`), with the
/// extension's state when the hint is one device and `Unknown` for each when it is several.
/// Other events tell nothing.
pub fn device_states(ev: &Event) -> Vec<(String, DeviceState)> {
    match ev.kind {
        EventKind::DeviceStateChange => {
            let Some(device) = ev.get("Device").map(str::trim).filter(|d| !d.is_empty()) else {
                return Vec::new();
            };
            vec![(
                device_of(device).to_owned(),
                DeviceState::parse(ev.get("State").unwrap_or("")),
            )]
        }
        EventKind::ExtensionStatus => {
            let hint = ev.get("Hint").unwrap_or("");
            // `PJSIP/201,CustomPresence:201`: the presence part is not a device.
            let devices: Vec<&str> = hint
                .split(',')
                .next()
                .unwrap_or("")
                .split('&')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .take(16)
                .collect();
            let state = match ev.get("Status").and_then(|s| s.trim().parse::<i32>().ok()) {
                Some(code) => DeviceState::from_extension_status(code),
                None => DeviceState::parse(ev.get("StatusText").unwrap_or("")),
            };
            let one = devices.len() == 1;
            devices
                .into_iter()
                .map(|d| {
                    (
                        device_of(d).to_owned(),
                        if one {
                            state.clone()
                        } else {
                            DeviceState::Unknown
                        },
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Message, MessageKind};

    fn ev(headers: &[(&str, &str)]) -> Event {
        Event::from_message(Message::from_headers(
            MessageKind::Event,
            headers.iter().copied(),
        ))
        .unwrap()
    }

    #[test]
    fn states_parse() {
        assert_eq!(DeviceState::parse("NOT_INUSE"), DeviceState::NotInUse);
        assert_eq!(DeviceState::parse("inuse"), DeviceState::InUse);
        assert_eq!(DeviceState::parse("RINGINUSE"), DeviceState::RingInUse);
        assert_eq!(DeviceState::parse("ONHOLD"), DeviceState::OnHold);
        assert_eq!(DeviceState::parse("Idle"), DeviceState::NotInUse);
        assert_eq!(DeviceState::parse("InUse&Hold"), DeviceState::OnHold);
        assert!(!DeviceState::parse("INVALID").exists());
        assert!(DeviceState::parse("UNAVAILABLE").exists());
        assert_eq!(
            DeviceState::parse("WEIRD"),
            DeviceState::Other("WEIRD".into())
        );
        assert_eq!(
            DeviceState::from_extension_status(9),
            DeviceState::RingInUse
        );
        assert_eq!(DeviceState::from_extension_status(17), DeviceState::OnHold);
        assert_eq!(DeviceState::from_extension_status(-1), DeviceState::Invalid);
        assert!(DeviceState::from_extension_status(2).is_busy());
    }

    #[test]
    fn devices_of_list_entries() {
        let d = ev(&[
            ("Event", "DeviceStateChange"),
            ("Device", "SIP/2001-0000000a"),
            ("State", "BUSY"),
        ]);
        assert_eq!(
            device_states(&d),
            vec![("SIP/2001".to_owned(), DeviceState::Busy)]
        );
        let c = ev(&[
            ("Event", "DeviceStateChange"),
            ("Device", "Custom:DND2001"),
            ("State", "INUSE"),
        ]);
        assert_eq!(device_states(&c)[0].0, "Custom:DND2001");
        assert!(!is_channel_device("Custom:DND2001"));
        let x = ev(&[
            ("Event", "ExtensionStatus"),
            ("Exten", "2001"),
            ("Hint", "PJSIP/2001,CustomPresence:2001"),
            ("Status", "8"),
        ]);
        assert_eq!(
            device_states(&x),
            vec![("PJSIP/2001".to_owned(), DeviceState::Ringing)]
        );
        let two = ev(&[
            ("Event", "ExtensionStatus"),
            ("Hint", "PJSIP/2001&Custom:DND2001"),
            ("StatusText", "InUse"),
        ]);
        assert_eq!(
            device_states(&two),
            vec![
                ("PJSIP/2001".to_owned(), DeviceState::Unknown),
                ("Custom:DND2001".to_owned(), DeviceState::Unknown)
            ]
        );
        assert!(device_states(&ev(&[("Event", "Newchannel")])).is_empty());
        assert!(device_states(&ev(&[("Event", "DeviceStateChange")])).is_empty());
    }
}
