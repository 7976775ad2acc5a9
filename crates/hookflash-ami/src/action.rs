//! Actions a CTI bridge sends to Asterisk.

use crate::codec::encode_action;

/// An AMI action. `ActionID` is added by the session (or by [`Action::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Plain-text login.
    Login {
        /// Manager user.
        username: String,
        /// Secret.
        secret: String,
        /// Initial event mask (`on`, `off`, or a class list such as `call,agent`).
        events: Option<String>,
    },
    /// MD5 login: `Key` = md5(challenge + secret), hex.
    LoginMd5 {
        /// Manager user.
        username: String,
        /// Hex digest.
        key: String,
        /// Initial event mask.
        events: Option<String>,
    },
    /// Ask for an MD5 challenge.
    Challenge,
    /// Log off.
    Logoff,
    /// Keep-alive.
    Ping,
    /// Set the event mask (`on`, `off`, `call,agent,...`).
    Events {
        /// The mask.
        mask: String,
    },
    /// Asynchronous originate with pre-assigned channel ids.
    Originate {
        /// Channel to call first (e.g. `PJSIP/201`).
        channel: String,
        /// Dialplan extension.
        exten: String,
        /// Dialplan context.
        context: String,
        /// Priority.
        priority: u32,
        /// Caller ID shown.
        caller_id: Option<String>,
        /// Timeout in milliseconds.
        timeout_ms: Option<u64>,
        /// Pre-assigned `Uniqueid` of the first channel (Asterisk 12+).
        channel_id: Option<String>,
        /// Pre-assigned `Uniqueid` of the second channel (Asterisk 12+).
        other_channel_id: Option<String>,
        /// Channel variables.
        variables: Vec<(String, String)>,
    },
    /// Redirect (transfer) a channel, optionally its peer too.
    Redirect {
        /// Channel.
        channel: String,
        /// Second channel to redirect.
        extra_channel: Option<String>,
        /// Extension.
        exten: String,
        /// Context.
        context: String,
        /// Priority.
        priority: u32,
    },
    /// Attended transfer.
    Atxfer {
        /// Transferring channel.
        channel: String,
        /// Target extension.
        exten: String,
        /// Context.
        context: String,
    },
    /// Blind transfer.
    BlindTransfer {
        /// Channel to transfer.
        channel: String,
        /// Target extension.
        exten: String,
        /// Context.
        context: String,
    },
    /// Hang up a channel.
    Hangup {
        /// Channel.
        channel: String,
        /// Q.850 cause.
        cause: Option<u16>,
    },
    /// Add a member to a queue.
    QueueAdd {
        /// Queue.
        queue: String,
        /// Interface.
        interface: String,
        /// Member name.
        member_name: Option<String>,
        /// Start paused.
        paused: bool,
    },
    /// Remove a member from a queue.
    QueueRemove {
        /// Queue.
        queue: String,
        /// Interface.
        interface: String,
    },
    /// Pause or unpause a member.
    QueuePause {
        /// Queue (all queues when `None`).
        queue: Option<String>,
        /// Interface.
        interface: String,
        /// Pause or unpause.
        paused: bool,
        /// Reason.
        reason: Option<String>,
    },
    /// Queue status list (EventList).
    QueueStatus {
        /// Restrict to one queue.
        queue: Option<String>,
    },
    /// Channel list (EventList).
    CoreShowChannels,
    /// Device state list (EventList).
    DeviceStateList,
    /// CLI command.
    Command {
        /// The command line.
        command: String,
    },
    /// Channel status (EventList).
    Status {
        /// Restrict to one channel.
        channel: Option<String>,
    },
    /// Set a variable.
    Setvar {
        /// Channel (global when `None`).
        channel: Option<String>,
        /// Name.
        variable: String,
        /// Value.
        value: String,
    },
    /// Read a variable.
    Getvar {
        /// Channel (global when `None`).
        channel: Option<String>,
        /// Name.
        variable: String,
    },
    /// Any other action.
    Custom {
        /// Action name.
        name: String,
        /// Headers.
        headers: Vec<(String, String)>,
    },
}

impl Action {
    /// The AMI action name.
    pub fn name(&self) -> &str {
        match self {
            Self::Login { .. } | Self::LoginMd5 { .. } => "Login",
            Self::Challenge => "Challenge",
            Self::Logoff => "Logoff",
            Self::Ping => "Ping",
            Self::Events { .. } => "Events",
            Self::Originate { .. } => "Originate",
            Self::Redirect { .. } => "Redirect",
            Self::Atxfer { .. } => "Atxfer",
            Self::BlindTransfer { .. } => "BlindTransfer",
            Self::Hangup { .. } => "Hangup",
            Self::QueueAdd { .. } => "QueueAdd",
            Self::QueueRemove { .. } => "QueueRemove",
            Self::QueuePause { .. } => "QueuePause",
            Self::QueueStatus { .. } => "QueueStatus",
            Self::CoreShowChannels => "CoreShowChannels",
            Self::DeviceStateList => "DeviceStateList",
            Self::Command { .. } => "Command",
            Self::Status { .. } => "Status",
            Self::Setvar { .. } => "Setvar",
            Self::Getvar { .. } => "Getvar",
            Self::Custom { name, .. } => name,
        }
    }

    /// The headers after `Action` and `ActionID`.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = Vec::new();
        let mut p = |k: &str, v: &str| h.push((k.to_owned(), v.to_owned()));
        match self {
            Self::Login {
                username,
                secret,
                events,
            } => {
                p("Username", username);
                p("Secret", secret);
                if let Some(e) = events {
                    p("Events", e);
                }
            }
            Self::LoginMd5 {
                username,
                key,
                events,
            } => {
                p("AuthType", "MD5");
                p("Username", username);
                p("Key", key);
                if let Some(e) = events {
                    p("Events", e);
                }
            }
            Self::Challenge => p("AuthType", "MD5"),
            Self::Logoff | Self::Ping | Self::CoreShowChannels | Self::DeviceStateList => {}
            Self::Events { mask } => p("EventMask", mask),
            Self::Originate {
                channel,
                exten,
                context,
                priority,
                caller_id,
                timeout_ms,
                channel_id,
                other_channel_id,
                variables,
            } => {
                p("Channel", channel);
                p("Exten", exten);
                p("Context", context);
                p("Priority", &priority.to_string());
                p("Async", "true");
                if let Some(c) = caller_id {
                    p("CallerID", c);
                }
                if let Some(t) = timeout_ms {
                    p("Timeout", &t.to_string());
                }
                if let Some(c) = channel_id {
                    p("ChannelId", c);
                }
                if let Some(c) = other_channel_id {
                    p("OtherChannelId", c);
                }
                for (k, v) in variables {
                    p("Variable", &format!("{k}={v}"));
                }
            }
            Self::Redirect {
                channel,
                extra_channel,
                exten,
                context,
                priority,
            } => {
                p("Channel", channel);
                if let Some(e) = extra_channel {
                    p("ExtraChannel", e);
                    p("ExtraExten", exten);
                    p("ExtraContext", context);
                    p("ExtraPriority", &priority.to_string());
                }
                p("Exten", exten);
                p("Context", context);
                p("Priority", &priority.to_string());
            }
            Self::Atxfer {
                channel,
                exten,
                context,
            }
            | Self::BlindTransfer {
                channel,
                exten,
                context,
            } => {
                p("Channel", channel);
                p("Exten", exten);
                p("Context", context);
            }
            Self::Hangup { channel, cause } => {
                p("Channel", channel);
                if let Some(c) = cause {
                    p("Cause", &c.to_string());
                }
            }
            Self::QueueAdd {
                queue,
                interface,
                member_name,
                paused,
            } => {
                p("Queue", queue);
                p("Interface", interface);
                if let Some(m) = member_name {
                    p("MemberName", m);
                }
                p("Paused", if *paused { "true" } else { "false" });
            }
            Self::QueueRemove { queue, interface } => {
                p("Queue", queue);
                p("Interface", interface);
            }
            Self::QueuePause {
                queue,
                interface,
                paused,
                reason,
            } => {
                if let Some(q) = queue {
                    p("Queue", q);
                }
                p("Interface", interface);
                p("Paused", if *paused { "true" } else { "false" });
                if let Some(r) = reason {
                    p("Reason", r);
                }
            }
            Self::QueueStatus { queue } => {
                if let Some(q) = queue {
                    p("Queue", q);
                }
            }
            Self::Command { command } => p("Command", command),
            Self::Status { channel } => {
                if let Some(c) = channel {
                    p("Channel", c);
                }
            }
            Self::Setvar {
                channel,
                variable,
                value,
            } => {
                if let Some(c) = channel {
                    p("Channel", c);
                }
                p("Variable", variable);
                p("Value", value);
            }
            Self::Getvar { channel, variable } => {
                if let Some(c) = channel {
                    p("Channel", c);
                }
                p("Variable", variable);
            }
            Self::Custom { headers, .. } => {
                for (k, v) in headers {
                    p(k, v);
                }
            }
        }
        h
    }

    /// Encodes the action with the given ActionID onto `out`.
    pub fn encode(&self, action_id: &str, out: &mut Vec<u8>) {
        let h = self.headers();
        encode_action(
            out,
            self.name(),
            action_id,
            h.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
    }
}

/// Lower-case hex of md5(challenge + secret), the `Key` of an MD5 login.
pub fn md5_key(challenge: &str, secret: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_key_matches_known_digest() {
        // md5("abc") = 900150983cd24fb0d6963f7d28e17f72
        assert_eq!(md5_key("a", "bc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn originate_encodes_async_and_ids() {
        let mut out = Vec::new();
        Action::Originate {
            channel: "PJSIP/201".into(),
            exten: "300".into(),
            context: "default".into(),
            priority: 1,
            caller_id: None,
            timeout_ms: Some(30000),
            channel_id: Some("c-1".into()),
            other_channel_id: Some("c-2".into()),
            variables: vec![("A".into(), "1".into())],
        }
        .encode("9", &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("Action: Originate\r\nActionID: 9\r\n"));
        assert!(s.contains("Async: true\r\n"));
        assert!(s.contains("ChannelId: c-1\r\nOtherChannelId: c-2\r\n"));
        assert!(s.contains("Variable: A=1\r\n"));
        assert!(s.ends_with("\r\n\r\n"));
    }
}
