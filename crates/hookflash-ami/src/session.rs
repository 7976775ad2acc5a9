//! Sans-IO AMI client session.
//!
//! Drive it with [`Session::handle_input`] (bytes received), [`Session::handle_timeout`] (when
//! [`Session::poll_timeout`] is due), [`Session::send`] and [`Session::disconnected`]; collect
//! bytes to write with [`Session::poll_transmit`] and results with [`Session::poll_event`].
//! Time is milliseconds from any epoch, passed in as `now`.

use std::collections::{HashMap, VecDeque};

use crate::Error;
use crate::action::{Action, md5_key};
use crate::codec::{Decoder, Limits, Message, MessageKind};
use crate::event::Event;

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Manager user.
    pub username: String,
    /// Secret.
    pub secret: String,
    /// Use the MD5 challenge instead of a plain-text secret.
    pub md5: bool,
    /// Event mask sent with the login (`on`, `off`, `call,agent`...).
    pub events: Option<String>,
    /// How long an action may wait for its (complete) response.
    pub request_timeout_ms: u64,
    /// Send a keep-alive `Ping` after this much silence (`None`: never).
    pub ping_interval_ms: Option<u64>,
    /// Most actions pending at once.
    pub max_pending: usize,
    /// Most events collected into one EventList result.
    pub max_list_events: usize,
    /// Decoder limits.
    pub limits: Limits,
    /// Prefix of generated ActionIDs.
    pub action_id_prefix: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            username: String::new(),
            secret: String::new(),
            md5: true,
            events: Some("on".into()),
            request_timeout_ms: 10_000,
            ping_interval_ms: Some(20_000),
            max_pending: 1024,
            max_list_events: 100_000,
            limits: Limits::default(),
            action_id_prefix: "hf".into(),
        }
    }
}

/// Client-side event filter: an allow list (empty = everything) and a deny list, by event name
/// (case-insensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    allow: Vec<String>,
    deny: Vec<String>,
}

impl EventFilter {
    /// Lets everything through.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only these names pass.
    pub fn allow<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.allow
            .extend(names.into_iter().map(str::to_ascii_lowercase));
        self
    }

    /// These names never pass.
    pub fn deny<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.deny
            .extend(names.into_iter().map(str::to_ascii_lowercase));
        self
    }

    /// Does the event named `name` pass?
    pub fn passes(&self, name: &str) -> bool {
        let hit = |l: &Vec<String>| l.iter().any(|n| n.eq_ignore_ascii_case(name));
        (self.allow.is_empty() || hit(&self.allow)) && !hit(&self.deny)
    }
}

/// The complete answer to an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    /// The `Response:` message.
    pub response: Message,
    /// Events of the action's EventList (empty when it had none); the closing
    /// `...Complete` event is not included.
    pub events: Vec<Event>,
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The banner arrived.
    Connected {
        /// Manager protocol version (`Asterisk Call Manager/x.y.z`).
        version: String,
    },
    /// Login accepted; queued actions have been sent.
    LoggedIn,
    /// Login refused ([`Error::LoginFailed`]) or timed out.
    LoginFailed(Error),
    /// An action finished.
    Completed {
        /// Its ActionID.
        action_id: String,
        /// Response (with list events) or the failure.
        result: Result<ActionResult, Error>,
    },
    /// An unsolicited event that passed the filter.
    Event(Event),
    /// A malformed block was skipped.
    Malformed(Error),
    /// A keep-alive `Ping` went unanswered: the link is dead, reconnect.
    Unresponsive,
}

/// Connection phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Not connected.
    Disconnected,
    /// Waiting for the banner.
    AwaitingBanner,
    /// Login in progress.
    LoggingIn,
    /// Logged in.
    Ready,
    /// Login refused.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Purpose {
    User,
    Challenge,
    Login,
    KeepAlive,
}

#[derive(Debug)]
struct Pending {
    purpose: Purpose,
    deadline: u64,
    response: Option<Message>,
    events: Vec<Event>,
}

/// The AMI client state machine.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    decoder: Decoder,
    phase: Phase,
    next_id: u64,
    pending: HashMap<String, Pending>,
    queued: VecDeque<(String, Action)>,
    out: Vec<u8>,
    events: VecDeque<SessionEvent>,
    filter: EventFilter,
    last_rx: u64,
    filtered: u64,
}

impl Session {
    /// A disconnected session.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            decoder: Decoder::with_limits(config.limits),
            config,
            phase: Phase::Disconnected,
            next_id: 1,
            pending: HashMap::new(),
            queued: VecDeque::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            filter: EventFilter::default(),
            last_rx: 0,
            filtered: 0,
        }
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Sets the client-side event filter.
    pub fn set_filter(&mut self, filter: EventFilter) {
        self.filter = filter;
    }

    /// Events dropped by the filter so far.
    pub fn filtered(&self) -> u64 {
        self.filtered
    }

    /// Decoder counters (malformed blocks etc.).
    pub fn decoder_stats(&self) -> crate::codec::DecoderStats {
        self.decoder.stats()
    }

    /// Number of actions awaiting an answer.
    pub fn pending(&self) -> usize {
        self.pending.len() + self.queued.len()
    }

    /// The transport connected; the server's banner comes next.
    pub fn connected(&mut self, now: u64) {
        self.decoder.reset();
        self.phase = Phase::AwaitingBanner;
        self.last_rx = now;
    }

    /// The transport is gone: every pending or queued action fails with
    /// [`Error::Disconnected`].
    pub fn disconnected(&mut self) {
        self.phase = Phase::Disconnected;
        self.decoder.reset();
        self.out.clear();
        let mut ids: Vec<(String, Purpose)> = self
            .pending
            .drain()
            .map(|(id, p)| (id, p.purpose))
            .collect();
        ids.sort();
        for (id, purpose) in ids {
            match purpose {
                Purpose::User => self.events.push_back(SessionEvent::Completed {
                    action_id: id,
                    result: Err(Error::Disconnected),
                }),
                Purpose::Challenge | Purpose::Login => self
                    .events
                    .push_back(SessionEvent::LoginFailed(Error::Disconnected)),
                Purpose::KeepAlive => {}
            }
        }
        while let Some((id, _)) = self.queued.pop_front() {
            self.events.push_back(SessionEvent::Completed {
                action_id: id,
                result: Err(Error::Disconnected),
            });
        }
    }

    fn new_id(&mut self) -> String {
        let id = format!("{}-{}", self.config.action_id_prefix, self.next_id);
        self.next_id += 1;
        id
    }

    fn write(&mut self, now: u64, id: String, action: &Action, purpose: Purpose) {
        action.encode(&id, &mut self.out);
        self.pending.insert(
            id,
            Pending {
                purpose,
                deadline: now.saturating_add(self.config.request_timeout_ms),
                response: None,
                events: Vec::new(),
            },
        );
    }

    /// Sends `action` (queued until login completes). Returns its ActionID.
    pub fn send(&mut self, now: u64, action: Action) -> Result<String, Error> {
        if self.pending() >= self.config.max_pending {
            return Err(Error::TooManyPending);
        }
        if self.phase == Phase::Disconnected || self.phase == Phase::Failed {
            return Err(Error::Disconnected);
        }
        let id = self.new_id();
        if self.phase == Phase::Ready {
            self.write(now, id.clone(), &action, Purpose::User);
        } else {
            self.pending.insert(
                id.clone(),
                Pending {
                    purpose: Purpose::User,
                    deadline: now.saturating_add(self.config.request_timeout_ms),
                    response: None,
                    events: Vec::new(),
                },
            );
            self.queued.push_back((id.clone(), action));
        }
        Ok(id)
    }

    /// Bytes to write to the socket, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| std::mem::take(&mut self.out))
    }

    /// Next thing to report.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next.
    pub fn poll_timeout(&self) -> Option<u64> {
        let req = self.pending.values().map(|p| p.deadline).min();
        let ping = match (self.phase, self.config.ping_interval_ms) {
            (Phase::Ready, Some(i)) => Some(self.last_rx.saturating_add(i)),
            _ => None,
        };
        match (req, ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires overdue actions and sends keep-alives.
    pub fn handle_timeout(&mut self, now: u64) {
        let mut expired: Vec<(String, Purpose)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, p)| (id.clone(), p.purpose))
            .collect();
        expired.sort();
        for (id, purpose) in expired {
            self.pending.remove(&id);
            self.queued.retain(|(q, _)| *q != id);
            match purpose {
                Purpose::User => self.events.push_back(SessionEvent::Completed {
                    action_id: id,
                    result: Err(Error::Timeout),
                }),
                Purpose::Challenge | Purpose::Login => {
                    self.phase = Phase::Failed;
                    self.events
                        .push_back(SessionEvent::LoginFailed(Error::Timeout));
                }
                Purpose::KeepAlive => self.events.push_back(SessionEvent::Unresponsive),
            }
        }
        if self.phase == Phase::Ready
            && let Some(i) = self.config.ping_interval_ms
            && now >= self.last_rx.saturating_add(i)
            && !self
                .pending
                .values()
                .any(|p| p.purpose == Purpose::KeepAlive)
        {
            let id = self.new_id();
            self.write(now, id, &Action::Ping, Purpose::KeepAlive);
            self.last_rx = now;
        }
    }

    /// Feeds received bytes.
    pub fn handle_input(&mut self, now: u64, data: &[u8]) {
        self.last_rx = now;
        self.decoder.feed(data);
        while let Some(r) = self.decoder.decode() {
            match r {
                Ok(m) => self.on_message(now, m),
                Err(e) => self.events.push_back(SessionEvent::Malformed(e)),
            }
        }
    }

    fn login(&mut self, now: u64, challenge: Option<&str>) {
        let action = match challenge {
            Some(c) => Action::LoginMd5 {
                username: self.config.username.clone(),
                key: md5_key(c, &self.config.secret),
                events: self.config.events.clone(),
            },
            None => Action::Login {
                username: self.config.username.clone(),
                secret: self.config.secret.clone(),
                events: self.config.events.clone(),
            },
        };
        let id = self.new_id();
        self.write(now, id, &action, Purpose::Login);
    }

    fn on_message(&mut self, now: u64, m: Message) {
        match m.kind() {
            MessageKind::Banner => {
                let version = m.banner_version().unwrap_or("").to_owned();
                self.events.push_back(SessionEvent::Connected { version });
                if self.phase == Phase::AwaitingBanner {
                    self.phase = Phase::LoggingIn;
                    if self.config.md5 {
                        let id = self.new_id();
                        self.write(now, id, &Action::Challenge, Purpose::Challenge);
                    } else {
                        self.login(now, None);
                    }
                }
            }
            MessageKind::Response => self.on_response(now, m),
            MessageKind::Event => {
                if let Some(ev) = Event::from_message(m) {
                    self.on_event(ev);
                }
            }
            MessageKind::Action | MessageKind::Other => {}
        }
    }

    fn on_response(&mut self, now: u64, m: Message) {
        let Some(id) = m.action_id().map(str::to_owned) else {
            return;
        };
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let ok = !m
            .response()
            .is_some_and(|r| r.eq_ignore_ascii_case("Error"));
        let starts_list = m
            .get("EventList")
            .is_some_and(|v| v.eq_ignore_ascii_case("start"));
        let purpose = p.purpose;
        if ok && starts_list && purpose == Purpose::User {
            p.response = Some(m);
            return;
        }
        self.pending.remove(&id);
        let message = m.get("Message").unwrap_or("").to_owned();
        match purpose {
            Purpose::User => self.events.push_back(SessionEvent::Completed {
                action_id: id,
                result: if ok {
                    Ok(ActionResult {
                        response: m,
                        events: Vec::new(),
                    })
                } else {
                    Err(Error::ActionFailed { message })
                },
            }),
            Purpose::KeepAlive => {}
            Purpose::Challenge => match m.get("Challenge").filter(|_| ok) {
                Some(c) => {
                    let c = c.to_owned();
                    self.login(now, Some(&c));
                }
                None => self.fail_login(message),
            },
            Purpose::Login => {
                if ok {
                    self.phase = Phase::Ready;
                    self.events.push_back(SessionEvent::LoggedIn);
                    while let Some((qid, action)) = self.queued.pop_front() {
                        action.encode(&qid, &mut self.out);
                    }
                } else {
                    self.fail_login(message);
                }
            }
        }
    }

    fn fail_login(&mut self, message: String) {
        self.phase = Phase::Failed;
        self.events
            .push_back(SessionEvent::LoginFailed(Error::LoginFailed { message }));
        let queued: Vec<String> = self.queued.drain(..).map(|(id, _)| id).collect();
        for id in queued {
            self.pending.remove(&id);
            self.events.push_back(SessionEvent::Completed {
                action_id: id,
                result: Err(Error::LoginFailed {
                    message: String::new(),
                }),
            });
        }
    }

    fn on_event(&mut self, ev: Event) {
        if let Some(id) = ev.message.action_id()
            && let Some(p) = self.pending.get_mut(id)
            && p.response.is_some()
        {
            if ev.is_list_complete() {
                let id = id.to_owned();
                if let Some(p) = self.pending.remove(&id)
                    && let Some(response) = p.response
                {
                    self.events.push_back(SessionEvent::Completed {
                        action_id: id,
                        result: Ok(ActionResult {
                            response,
                            events: p.events,
                        }),
                    });
                }
            } else if p.events.len() >= self.config.max_list_events {
                let id = id.to_owned();
                let limit = self.config.max_list_events;
                self.pending.remove(&id);
                self.events.push_back(SessionEvent::Completed {
                    action_id: id,
                    result: Err(Error::EventListTooLong { limit }),
                });
            } else {
                p.events.push(ev);
            }
            return;
        }
        if self.filter.passes(ev.name()) {
            self.events.push_back(SessionEvent::Event(ev));
        } else {
            self.filtered += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Session) -> Vec<SessionEvent> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    fn tx(s: &mut Session) -> String {
        String::from_utf8(s.poll_transmit().unwrap_or_default()).unwrap()
    }

    fn cfg(md5: bool) -> SessionConfig {
        SessionConfig {
            username: "admin".into(),
            secret: "s3cret".into(),
            md5,
            ..SessionConfig::default()
        }
    }

    #[test]
    fn md5_login_then_queued_action() {
        let mut s = Session::new(cfg(true));
        s.connected(0);
        let id = s.send(0, Action::Ping).unwrap();
        s.handle_input(1, b"Asterisk Call Manager/7.0.3\r\n");
        let out = tx(&mut s);
        assert!(out.contains("Action: Challenge\r\nActionID: hf-2\r\nAuthType: MD5"));
        assert!(!out.contains("Ping"));
        s.handle_input(
            2,
            b"Response: Success\r\nActionID: hf-2\r\nChallenge: 145769581\r\n\r\n",
        );
        let out = tx(&mut s);
        let key = md5_key("145769581", "s3cret");
        assert!(out.contains(&format!("Key: {key}\r\n")), "{out}");
        assert!(out.contains("AuthType: MD5"));
        s.handle_input(
            3,
            b"Response: Success\r\nActionID: hf-3\r\nMessage: Authentication accepted\r\n\r\n",
        );
        assert_eq!(s.phase(), Phase::Ready);
        assert!(tx(&mut s).contains(&format!("Action: Ping\r\nActionID: {id}")));
        s.handle_input(
            4,
            format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes(),
        );
        let ev = drain(&mut s);
        assert!(matches!(ev[0], SessionEvent::Connected { ref version } if version == "7.0.3"));
        assert!(matches!(ev[1], SessionEvent::LoggedIn));
        assert!(
            matches!(&ev[2], SessionEvent::Completed { action_id, result: Ok(r) } if *action_id == id && r.response.get("Ping") == Some("Pong"))
        );
    }

    #[test]
    fn failed_login_is_typed_and_fails_queued() {
        let mut s = Session::new(cfg(false));
        s.connected(0);
        let id = s.send(0, Action::Ping).unwrap();
        s.handle_input(1, b"Asterisk Call Manager/1.3\r\n");
        assert!(tx(&mut s).contains("Secret: s3cret"));
        s.handle_input(
            2,
            b"Response: Error\r\nActionID: hf-2\r\nMessage: Authentication failed\r\n\r\n",
        );
        let ev = drain(&mut s);
        assert!(ev.contains(&SessionEvent::LoginFailed(Error::LoginFailed {
            message: "Authentication failed".into()
        })));
        assert!(ev.iter().any(|e| matches!(e, SessionEvent::Completed { action_id, result: Err(_) } if *action_id == id)));
        assert_eq!(s.phase(), Phase::Failed);
        assert_eq!(s.pending(), 0);
    }

    fn ready() -> Session {
        let mut s = Session::new(cfg(false));
        s.connected(0);
        s.handle_input(0, b"Asterisk Call Manager/5.0.1\r\n");
        s.handle_input(0, b"Response: Success\r\nActionID: hf-1\r\n\r\n");
        assert_eq!(s.phase(), Phase::Ready);
        tx(&mut s);
        drain(&mut s);
        s
    }

    #[test]
    fn event_list_is_collected() {
        let mut s = ready();
        let id = s.send(10, Action::QueueStatus { queue: None }).unwrap();
        let input = format!(
            "Response: Success\r\nActionID: {id}\r\nEventList: start\r\n\r\n\
             Event: QueueParams\r\nQueue: q1\r\nActionID: {id}\r\n\r\n\
             Event: Newchannel\r\nChannel: SIP/1\r\n\r\n\
             Event: QueueMember\r\nQueue: q1\r\nActionID: {id}\r\n\r\n\
             Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n\r\n"
        );
        // byte by byte: partial reads everywhere
        for b in input.as_bytes() {
            s.handle_input(11, std::slice::from_ref(b));
        }
        let ev = drain(&mut s);
        assert_eq!(ev.len(), 2);
        assert!(matches!(&ev[0], SessionEvent::Event(e) if e.name() == "Newchannel"));
        let SessionEvent::Completed { result: Ok(r), .. } = &ev[1] else {
            panic!("{ev:?}")
        };
        let names: Vec<_> = r.events.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["QueueParams", "QueueMember"]);
    }

    #[test]
    fn timeout_and_keepalive() {
        let mut s = ready();
        let id = s.send(100, Action::Ping).unwrap();
        assert_eq!(s.poll_timeout(), Some(10_100));
        s.handle_timeout(10_099);
        assert!(drain(&mut s).is_empty());
        s.handle_timeout(10_100);
        assert_eq!(
            drain(&mut s),
            vec![SessionEvent::Completed {
                action_id: id,
                result: Err(Error::Timeout)
            }]
        );
        tx(&mut s);
        s.handle_timeout(20_000);
        assert!(tx(&mut s).contains("Action: Ping"));
        s.handle_timeout(30_000);
        assert_eq!(drain(&mut s), vec![SessionEvent::Unresponsive]);
    }

    #[test]
    fn disconnect_fails_pending_and_filter_drops() {
        let mut s = ready();
        s.set_filter(EventFilter::all().deny(["VarSet"]));
        s.handle_input(
            1,
            b"Event: VarSet\r\n\r\nEvent: Hangup\r\nChannel: SIP/1\r\n\r\n",
        );
        let ev = drain(&mut s);
        assert_eq!(ev.len(), 1);
        assert_eq!(s.filtered(), 1);
        let id = s.send(2, Action::CoreShowChannels).unwrap();
        s.disconnected();
        assert_eq!(
            drain(&mut s),
            vec![SessionEvent::Completed {
                action_id: id,
                result: Err(Error::Disconnected)
            }]
        );
        assert!(s.send(3, Action::Ping).is_err());
    }
}
