//! ECMA-354 application sessions for CSTA XML links, as a sans-IO state machine.
//!
//! The session starts with `StartApplicationSession` (with a vendor login block such as Avaya's
//! `SessionLoginInfo`), keeps itself alive with `ResetApplicationSessionTimer` at half the
//! granted duration, resumes an old session id after a reconnect — and when the switch refuses
//! the resume, starts a fresh session and moves the monitors over with
//! `TransferMonitorObjects` — and answers the switch's `SystemStatus` polls by itself.
//!
//! It takes bytes and `now` (milliseconds on the caller's clock) and gives back bytes to send, a deadline and events; it never
//! touches a socket or reads a clock. Frames carry the ECMA-323 8-byte header.
//!
//! ```
//! use std::time::Duration;
//! use hookflash_csta::xml::session::{Config, Session, SessionEvent};
//!
//! let t0 = 5_000; // milliseconds, on the caller's clock
//! let mut s = Session::new(Config { application_id: "crm".into(), ..Config::default() });
//! s.start(t0);
//! let hello = s.poll_transmit().unwrap();
//! assert!(String::from_utf8_lossy(&hello).contains("<StartApplicationSession"));
//! // The switch grants a session of 180 s …
//! let answer = br#"<StartApplicationSessionPosResponse xmlns="http://www.ecma-international.org/standards/ecma-354/appl_session"><sessionID>42AB</sessionID><actualProtocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed4</actualProtocolVersion><actualSessionDuration>180</actualSessionDuration></StartApplicationSessionPosResponse>"#;
//! let mut frame = Vec::new();
//! hookflash_csta::framing::write_frame(hookflash_csta::framing::Framing::XmlHeader, answer, Some(1), &mut frame).unwrap();
//! s.handle_input(t0, &frame);
//! assert!(matches!(s.poll_event(), Some(SessionEvent::Started { .. })));
//! // … so the timer is reset after 90 s.
//! assert_eq!(s.poll_timeout(), Some(t0 + 90_000));
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use super::tree::Tree;
use super::{Edition, escape};
use crate::error::Error;
use crate::framing::{self, Framing, InvokeIds};
use crate::pdu::Pdu;

/// The ECMA-354 namespace.
pub const ECMA354_NS: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";

/// Avaya's CSTA extension namespace (`acx:`), used by its `SessionLoginInfo`.
pub const AVAYA_NS: &str = "http://www.avaya.com/csta";

/// The vendor login block sent in `applicationSpecificInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Login {
    /// None (the switch authenticates otherwise, or not at all).
    #[default]
    None,
    /// Avaya AES DMCC: `SessionLoginInfo` with user name, password and cleanup delay.
    Avaya {
        /// The CTI user.
        user: String,
        /// Its password.
        password: String,
        /// How long the AES keeps a session after the link drops, in seconds.
        cleanup_delay: u32,
    },
    /// Any other vendor's block, as raw XML.
    Raw(String),
}

/// How a session is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `applicationInfo/applicationID`.
    pub application_id: String,
    /// The login block.
    pub login: Login,
    /// The protocol versions offered, best first.
    pub protocol_versions: Vec<String>,
    /// The session duration asked for.
    pub requested_duration: Duration,
    /// How long to wait for an answer to a session request.
    pub response_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            application_id: "hookflash".into(),
            login: Login::None,
            protocol_versions: vec![
                Edition::ED4.namespace().to_owned(),
                Edition::ED3.namespace().to_owned(),
            ],
            requested_duration: Duration::from_secs(180),
            response_timeout: Duration::from_secs(10),
        }
    }
}

/// What the session tells its owner.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The session is up.
    Started {
        /// The switch's session id.
        session_id: String,
        /// The protocol version (ECMA-323 edition) the switch chose.
        edition: Edition,
        /// The granted duration.
        duration: Duration,
        /// Whether an old session was resumed (its monitors still stand).
        resumed: bool,
    },
    /// The switch refused the session.
    Refused {
        /// The switch's reason, as it sent it.
        reason: String,
    },
    /// A fresh session replaced a refused resume, and the old session's monitors were moved
    /// over to it with `TransferMonitorObjects`.
    MonitorsTransferred {
        /// The old session.
        from: String,
        /// The new one.
        to: String,
    },
    /// The switch polled with `SystemStatus`; the session answered it.
    Polled {
        /// The status the switch reported (`normal`, `initializing` after a restart, …).
        status: Option<String>,
    },
    /// A CSTA message for the application.
    Message {
        /// The header's invoke id (9999 for events).
        invoke_id: u16,
        /// The message.
        pdu: Pdu,
    },
    /// A frame that could not be read; it was skipped.
    Malformed {
        /// What was wrong.
        error: Error,
    },
    /// A session request was not answered in time, or the timer reset was refused: the
    /// session is lost and the link should be re-established.
    Lost,
    /// The session was stopped.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Starting { resume: bool },
    Active,
    Transferring,
    Stopping,
    Down,
}

/// An ECMA-354 application session.
#[derive(Debug)]
pub struct Session {
    cfg: Config,
    state: State,
    ids: InvokeIds,
    session_id: Option<String>,
    old_session_id: Option<String>,
    edition: Edition,
    duration: Duration,
    reset_at: Option<u64>,
    deadline: Option<u64>,
    buf: Vec<u8>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    /// Bytes moved to the front of `buf` so far (what the tests bound).
    #[cfg(test)]
    moved: u64,
}

/// A duration in whole milliseconds.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn text_of(tree: &Tree<'_>, name: &str) -> Option<String> {
    tree.nodes
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.text.trim().to_owned())
}

impl Session {
    /// A session that has not started.
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            state: State::Idle,
            ids: InvokeIds::new(),
            session_id: None,
            old_session_id: None,
            edition: Edition::default(),
            duration: Duration::ZERO,
            reset_at: None,
            deadline: None,
            buf: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            #[cfg(test)]
            moved: 0,
        }
    }

    /// The session id, while a session is up.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The ECMA-323 edition the switch chose (the namespace to write CSTA messages in).
    pub fn edition(&self) -> &Edition {
        &self.edition
    }

    /// Whether the session is up.
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// Starts (or, after a reconnect, resumes) the session: queues `StartApplicationSession`.
    /// Bytes left over from an earlier connection are dropped.
    pub fn start(&mut self, now: u64) {
        self.buf.clear();
        let resume = self.session_id.is_some() || self.old_session_id.is_some();
        if let Some(id) = self.session_id.take() {
            self.old_session_id = Some(id);
        }
        let body = self.start_request(if resume {
            self.old_session_id.clone()
        } else {
            None
        });
        self.send_raw(&body);
        self.state = State::Starting { resume };
        self.reset_at = None;
        self.deadline = Some(now.saturating_add(ms(self.cfg.response_timeout)));
    }

    /// Stops the session: queues `StopApplicationSession`.
    pub fn stop(&mut self, now: u64) {
        if let Some(id) = self.session_id.clone() {
            let mut b = String::new();
            let _ = write!(
                b,
                "<StopApplicationSession xmlns=\"{ECMA354_NS}\"><sessionID>"
            );
            escape(&id, &mut b);
            b.push_str("</sessionID><sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason></StopApplicationSession>");
            self.send_raw(&b);
            self.state = State::Stopping;
            self.deadline = Some(now.saturating_add(ms(self.cfg.response_timeout)));
        }
    }

    /// Queues a CSTA message in the negotiated edition; returns the invoke id it went out with.
    pub fn send(&mut self, pdu: &Pdu) -> Result<u16, Error> {
        let mut body = Vec::new();
        super::encode(pdu, &self.edition, &mut body)?;
        let id = self.ids.next();
        let mut frame = Vec::with_capacity(body.len() + 8);
        framing::write_frame(Framing::XmlHeader, &body, Some(id), &mut frame).map_err(|_| {
            Error::TooLong {
                len: body.len(),
                max: 0xFFFF - 8,
            }
        })?;
        self.out.push_back(frame);
        Ok(id)
    }

    /// Feeds bytes received from the switch.
    pub fn handle_input(&mut self, now: u64, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        // Frames are taken from `at` on and what is left is moved to the front once, at the
        // end: removing each frame as it is taken moved the rest of the buffer every time
        // (quadratic in the size of a read that holds many small or broken frames).
        let mut at = 0;
        loop {
            let rest = self.buf.get(at..).unwrap_or_default();
            match framing::next_frame(Framing::XmlHeader, rest, framing::DEFAULT_MAX_FRAME) {
                Ok(Some(f)) => {
                    let payload = rest[f.payload.clone()].to_vec();
                    at += f.consumed;
                    self.handle_message(now, &payload, f.invoke_id.unwrap_or(0));
                }
                Ok(None) => break,
                Err(_) => {
                    at += framing::resync(Framing::XmlHeader, rest).min(rest.len());
                    self.events.push_back(SessionEvent::Malformed {
                        error: Error::Xml {
                            offset: 0,
                            problem: crate::XmlProblem::Syntax,
                        },
                    });
                }
            }
        }
        let at = at.min(self.buf.len());
        if at > 0 {
            #[cfg(test)]
            {
                self.moved += (self.buf.len() - at) as u64;
            }
            self.buf.drain(..at);
        }
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<u64> {
        match (self.deadline, self.reset_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on the deadlines that have passed: resets the session timer, or declares the
    /// session lost when a request went unanswered.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.reset_at = None;
            self.state = State::Down;
            self.events.push_back(SessionEvent::Lost);
            return;
        }
        if self.reset_at.is_some_and(|r| now >= r)
            && let Some(id) = self.session_id.clone()
        {
            let mut b = String::new();
            let _ = write!(
                b,
                "<ResetApplicationSessionTimer xmlns=\"{ECMA354_NS}\"><sessionID>"
            );
            escape(&id, &mut b);
            let _ = write!(
                b,
                "</sessionID><requestedSessionDuration>{}</requestedSessionDuration></ResetApplicationSessionTimer>",
                self.cfg.requested_duration.as_secs()
            );
            self.send_raw(&b);
            self.reset_at = None;
            self.deadline = Some(now.saturating_add(ms(self.cfg.response_timeout)));
        }
    }

    fn send_raw(&mut self, body: &str) {
        let mut frame = Vec::with_capacity(body.len() + 8);
        let id = self.ids.next();
        if framing::write_frame(Framing::XmlHeader, body.as_bytes(), Some(id), &mut frame).is_ok() {
            self.out.push_back(frame);
        }
    }

    fn start_request(&self, resume: Option<String>) -> String {
        let mut b = String::new();
        let _ = write!(
            b,
            "<StartApplicationSession xmlns=\"{ECMA354_NS}\"><applicationInfo><applicationID>"
        );
        escape(&self.cfg.application_id, &mut b);
        b.push_str("</applicationID>");
        match &self.cfg.login {
            Login::None => {
                if let Some(id) = &resume {
                    b.push_str("<applicationSpecificInfo><sessionID>");
                    escape(id, &mut b);
                    b.push_str("</sessionID></applicationSpecificInfo>");
                }
            }
            Login::Avaya {
                user,
                password,
                cleanup_delay,
            } => {
                let _ = write!(
                    b,
                    "<applicationSpecificInfo><acx:SessionLoginInfo xmlns:acx=\"{AVAYA_NS}\"><acx:userName>"
                );
                escape(user, &mut b);
                b.push_str("</acx:userName><acx:password>");
                escape(password, &mut b);
                let _ = write!(
                    b,
                    "</acx:password><acx:sessionCleanupDelay>{cleanup_delay}</acx:sessionCleanupDelay>"
                );
                if let Some(id) = &resume {
                    b.push_str("<acx:sessionID>");
                    escape(id, &mut b);
                    b.push_str("</acx:sessionID>");
                }
                b.push_str("</acx:SessionLoginInfo></applicationSpecificInfo>");
            }
            Login::Raw(xml) => {
                let _ = write!(
                    b,
                    "<applicationSpecificInfo>{xml}</applicationSpecificInfo>"
                );
            }
        }
        b.push_str("</applicationInfo><requestedProtocolVersions>");
        for v in &self.cfg.protocol_versions {
            b.push_str("<protocolVersion>");
            escape(v, &mut b);
            b.push_str("</protocolVersion>");
        }
        let _ = write!(
            b,
            "</requestedProtocolVersions><requestedSessionDuration>{}</requestedSessionDuration></StartApplicationSession>",
            self.cfg.requested_duration.as_secs()
        );
        b
    }

    fn handle_message(&mut self, now: u64, payload: &[u8], invoke_id: u16) {
        let tree = match Tree::parse(payload) {
            Ok(t) => t,
            Err(error) => {
                self.events.push_back(SessionEvent::Malformed { error });
                return;
            }
        };
        let root = tree.root().name;
        match root {
            "StartApplicationSessionPosResponse" => {
                let resumed = matches!(self.state, State::Starting { resume: true });
                let session_id = text_of(&tree, "sessionID").unwrap_or_default();
                let edition = text_of(&tree, "actualProtocolVersion")
                    .map(|v| Edition::from_uri(&v))
                    .unwrap_or_default();
                let secs = text_of(&tree, "actualSessionDuration")
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(self.cfg.requested_duration.as_secs());
                self.session_id = Some(session_id.clone());
                self.edition = edition.clone();
                self.duration = Duration::from_secs(secs.clamp(2, 24 * 3600));
                self.deadline = None;
                self.reset_at = Some(now.saturating_add(ms(self.duration / 2)));
                // A resume that was refused earlier leaves the old id to transfer monitors from.
                if let (State::Transferring, Some(from)) = (self.state, self.old_session_id.clone())
                {
                    let mut b = String::new();
                    let _ = write!(
                        b,
                        "<TransferMonitorObjects xmlns=\"{ECMA354_NS}\"><fromSessionID>"
                    );
                    escape(&from, &mut b);
                    b.push_str("</fromSessionID><toSessionID>");
                    escape(&session_id, &mut b);
                    b.push_str("</toSessionID></TransferMonitorObjects>");
                    self.send_raw(&b);
                    self.deadline = Some(now.saturating_add(ms(self.cfg.response_timeout)));
                } else {
                    self.old_session_id = None;
                    self.state = State::Active;
                }
                self.events.push_back(SessionEvent::Started {
                    session_id,
                    edition,
                    duration: self.duration,
                    resumed,
                });
            }
            "StartApplicationSessionNegResponse" => {
                let reason = tree
                    .nodes
                    .iter()
                    .skip(1)
                    .find(|n| n.children.is_empty())
                    .map(|n| format!("{}: {}", n.name, n.text.trim()))
                    .unwrap_or_default();
                if matches!(self.state, State::Starting { resume: true }) {
                    // The old session is gone: start afresh, then move its monitors over.
                    let body = self.start_request(None);
                    self.send_raw(&body);
                    self.state = State::Transferring;
                    self.deadline = Some(now.saturating_add(ms(self.cfg.response_timeout)));
                } else {
                    self.state = State::Down;
                    self.deadline = None;
                    self.events.push_back(SessionEvent::Refused { reason });
                }
            }
            "TransferMonitorObjectsPosResponse" | "TransferMonitorObjectsNegResponse" => {
                if let (Some(from), Some(to)) =
                    (self.old_session_id.take(), self.session_id.clone())
                    && root.ends_with("PosResponse")
                {
                    self.events
                        .push_back(SessionEvent::MonitorsTransferred { from, to });
                }
                self.state = State::Active;
                self.deadline = None;
            }
            "ResetApplicationSessionTimerPosResponse" => {
                if let Some(secs) =
                    text_of(&tree, "actualSessionDuration").and_then(|s| s.parse::<u64>().ok())
                {
                    self.duration = Duration::from_secs(secs.clamp(2, 24 * 3600));
                }
                self.deadline = None;
                self.reset_at = Some(now.saturating_add(ms(self.duration / 2)));
            }
            "ResetApplicationSessionTimerNegResponse" => {
                self.deadline = None;
                self.reset_at = None;
                self.session_id = None;
                self.state = State::Down;
                self.events.push_back(SessionEvent::Lost);
            }
            "StopApplicationSessionPosResponse" | "StopApplicationSessionNegResponse" => {
                self.deadline = None;
                self.reset_at = None;
                self.session_id = None;
                self.old_session_id = None;
                self.state = State::Down;
                self.events.push_back(SessionEvent::Stopped);
            }
            "StopApplicationSession" => {
                // The switch ends the session.
                let mut b = String::new();
                let _ = write!(
                    b,
                    "<StopApplicationSessionPosResponse xmlns=\"{ECMA354_NS}\"/>"
                );
                self.send_raw(&b);
                self.session_id = None;
                self.reset_at = None;
                self.state = State::Down;
                self.events.push_back(SessionEvent::Stopped);
            }
            "SystemStatus" => {
                let mut b = Vec::new();
                let _ = super::finish("SystemStatusResponse", &self.edition, "", &mut b, invoke_id);
                let mut frame = Vec::with_capacity(b.len() + 8);
                if framing::write_frame(Framing::XmlHeader, &b, Some(invoke_id), &mut frame).is_ok()
                {
                    self.out.push_back(frame);
                }
                self.events.push_back(SessionEvent::Polled {
                    status: text_of(&tree, "systemStatus"),
                });
            }
            _ => match super::decode(payload, Some(invoke_id)) {
                Ok(m) => self.events.push_back(SessionEvent::Message {
                    invoke_id,
                    pdu: m.pdu,
                }),
                Err(error) => self.events.push_back(SessionEvent::Malformed { error }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(xml: &str, id: u16) -> Vec<u8> {
        let mut f = Vec::new();
        framing::write_frame(Framing::XmlHeader, xml.as_bytes(), Some(id), &mut f).unwrap();
        f
    }

    fn body(f: &[u8]) -> String {
        String::from_utf8_lossy(&f[8..]).into_owned()
    }

    fn pos(id: &str, secs: u64) -> Vec<u8> {
        frame(
            &format!(
                "<StartApplicationSessionPosResponse xmlns=\"{ECMA354_NS}\"><sessionID>{id}</sessionID><actualProtocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6</actualProtocolVersion><actualSessionDuration>{secs}</actualSessionDuration></StartApplicationSessionPosResponse>"
            ),
            1,
        )
    }

    #[test]
    fn avaya_login_timer_reset_and_stop() {
        let t0: u64 = 1_000;
        let mut s = Session::new(Config {
            login: Login::Avaya {
                user: "cti<user>".into(),
                password: "s&cret".into(),
                cleanup_delay: 60,
            },
            requested_duration: Duration::from_secs(120),
            ..Config::default()
        });
        s.start(t0);
        let req = body(&s.poll_transmit().unwrap());
        assert!(req.contains("<acx:userName>cti&lt;user&gt;</acx:userName><acx:password>s&amp;cret</acx:password>"), "{req}");
        assert!(req.contains("<requestedSessionDuration>120</requestedSessionDuration>"));
        assert!(Tree::parse(req.as_bytes()).is_ok());
        s.handle_input(t0, &pos("ABC", 120));
        match s.poll_event() {
            Some(SessionEvent::Started {
                session_id,
                edition,
                duration,
                resumed,
            }) => {
                assert_eq!(
                    (session_id.as_str(), duration, resumed),
                    ("ABC", Duration::from_secs(120), false)
                );
                assert_eq!(edition, Edition::ED3);
            }
            e => panic!("{e:?}"),
        }
        assert!(s.is_active());
        // Reset at half the granted duration.
        assert_eq!(s.poll_timeout(), Some(t0 + 60_000));
        s.handle_timeout(t0 + 59_000);
        assert!(s.poll_transmit().is_none());
        s.handle_timeout(t0 + 60_000);
        let reset = body(&s.poll_transmit().unwrap());
        assert!(
            reset.contains("<ResetApplicationSessionTimer")
                && reset.contains("<sessionID>ABC</sessionID>")
        );
        let t1 = t0 + 61_000;
        s.handle_input(t1, &frame(&format!("<ResetApplicationSessionTimerPosResponse xmlns=\"{ECMA354_NS}\"><actualSessionDuration>100</actualSessionDuration></ResetApplicationSessionTimerPosResponse>"), 2));
        assert_eq!(s.poll_timeout(), Some(t1 + 50_000));
        s.stop(t1);
        assert!(body(&s.poll_transmit().unwrap()).contains("<StopApplicationSession"));
        s.handle_input(
            t1,
            &frame(
                &format!("<StopApplicationSessionPosResponse xmlns=\"{ECMA354_NS}\"/>"),
                3,
            ),
        );
        assert_eq!(s.poll_event(), Some(SessionEvent::Stopped));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn an_unanswered_reset_loses_the_session() {
        let t0: u64 = 1_000;
        let mut s = Session::new(Config::default());
        s.start(t0);
        s.poll_transmit();
        s.handle_input(t0, &pos("S1", 20));
        s.poll_event();
        s.handle_timeout(t0 + 10_000);
        assert!(s.poll_transmit().is_some());
        let dl = s.poll_timeout().unwrap();
        s.handle_timeout(dl);
        assert_eq!(s.poll_event(), Some(SessionEvent::Lost));
    }

    #[test]
    fn resume_is_tried_and_a_refusal_transfers_the_monitors() {
        let t0: u64 = 1_000;
        let mut s = Session::new(Config::default());
        s.start(t0);
        s.poll_transmit();
        s.handle_input(t0, &pos("OLD", 180));
        s.poll_event();
        // The link drops; on reconnect the old session id is offered.
        s.start(t0);
        let resume = body(&s.poll_transmit().unwrap());
        assert!(resume.contains("<sessionID>OLD</sessionID>"), "{resume}");
        s.handle_input(t0, &frame(&format!("<StartApplicationSessionNegResponse xmlns=\"{ECMA354_NS}\"><errorCode><definedError>invalidSessionID</definedError></errorCode></StartApplicationSessionNegResponse>"), 5));
        let fresh = body(&s.poll_transmit().unwrap());
        assert!(
            fresh.contains("<StartApplicationSession") && !fresh.contains("OLD"),
            "{fresh}"
        );
        s.handle_input(t0, &pos("NEW", 180));
        assert!(matches!(s.poll_event(), Some(SessionEvent::Started { .. })));
        let transfer = body(&s.poll_transmit().unwrap());
        assert!(
            transfer.contains("<fromSessionID>OLD</fromSessionID><toSessionID>NEW</toSessionID>"),
            "{transfer}"
        );
        s.handle_input(
            t0,
            &frame(
                &format!("<TransferMonitorObjectsPosResponse xmlns=\"{ECMA354_NS}\"/>"),
                6,
            ),
        );
        assert_eq!(
            s.poll_event(),
            Some(SessionEvent::MonitorsTransferred {
                from: "OLD".into(),
                to: "NEW".into()
            })
        );
        assert!(s.is_active());
    }

    #[test]
    fn a_resumed_session_keeps_its_id() {
        let t0: u64 = 1_000;
        let mut s = Session::new(Config::default());
        s.start(t0);
        s.handle_input(t0, &pos("S", 180));
        s.start(t0);
        s.handle_input(t0, &pos("S", 180));
        s.poll_event();
        assert!(matches!(
            s.poll_event(),
            Some(SessionEvent::Started { resumed: true, .. })
        ));
    }

    #[test]
    fn polls_are_answered_and_events_are_delivered() {
        let t0: u64 = 1_000;
        let mut s = Session::new(Config::default());
        s.start(t0);
        s.poll_transmit();
        s.handle_input(t0, &pos("S", 180));
        s.poll_event();
        let poll = frame(
            "<SystemStatus xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"><systemStatus>normal</systemStatus></SystemStatus>",
            77,
        );
        let ev = frame(
            "<HeldEvent xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"><monitorCrossRefID>01</monitorCrossRefID><heldConnection><callID>02</callID><deviceID>100</deviceID></heldConnection><holdingDevice><deviceIdentifier>100</deviceIdentifier></holdingDevice><cause>normal</cause></HeldEvent>",
            9999,
        );
        // Split anywhere: the framing reassembles.
        let mut all = poll.clone();
        all.extend_from_slice(&ev);
        all.extend_from_slice(b"\x00\x00\xff");
        for chunk in all.chunks(7) {
            s.handle_input(t0, chunk);
        }
        let answer = s.poll_transmit().unwrap();
        assert_eq!(&answer[4..8], b"0077");
        assert!(body(&answer).contains("<SystemStatusResponse"));
        assert_eq!(
            s.poll_event(),
            Some(SessionEvent::Polled {
                status: Some("normal".into())
            })
        );
        match s.poll_event() {
            Some(SessionEvent::Message {
                invoke_id: 9999,
                pdu,
            }) => assert_eq!(pdu.to_json()["event"], "held"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn garbage_is_reported_and_skipped() {
        let t0: u64 = 1_000;
        let mut s = Session::new(Config::default());
        s.handle_input(t0, b"GET / HTTP/1.1\r\n\r\n");
        assert!(matches!(
            s.poll_event(),
            Some(SessionEvent::Malformed { .. })
        ));
        s.handle_input(t0, &frame("<notxml", 1));
        assert!(matches!(
            s.poll_event(),
            Some(SessionEvent::Malformed { .. })
        ));
    }

    /// A read holding many small or broken frames is cut up without moving the rest of the
    /// buffer to the front after each frame (which is quadratic in the size of the read): only
    /// the unfinished frame at the end of each read is moved.
    #[test]
    fn a_large_read_of_small_frames_moves_the_buffer_once() {
        let msg = frame(
            "<HeldEvent xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"><monitorCrossRefID>01</monitorCrossRefID><heldConnection><callID>02</callID><deviceID>100</deviceID></heldConnection><holdingDevice><deviceIdentifier>100</deviceIdentifier></holdingDevice><cause>normal</cause></HeldEvent>",
            9999,
        );
        let mut input = Vec::new();
        let mut frames = 0;
        while input.len() < 1 << 20 {
            input.extend_from_slice(&msg);
            // A header announcing fewer bytes than itself: reported, skipped to the next frame.
            input.extend_from_slice(b"\x00\x00\x00\x040001");
            frames += 1;
        }
        input.extend_from_slice(&msg[..5]);
        let run = |read: usize| {
            let mut s = Session::new(Config::default());
            let (mut messages, mut malformed) = (0, 0);
            for chunk in input.chunks(read) {
                s.handle_input(1_000, chunk);
                while let Some(e) = s.poll_event() {
                    match e {
                        SessionEvent::Message { .. } => messages += 1,
                        SessionEvent::Malformed { .. } => malformed += 1,
                        other => panic!("{other:?}"),
                    }
                }
            }
            (
                messages,
                malformed,
                s.moved,
                s.buf.len(),
                input.len().div_ceil(read),
            )
        };
        let (messages, malformed, moved, left, _) = run(input.len());
        assert_eq!((messages, left), (frames, 5));
        assert!(
            malformed >= frames,
            "{malformed} broken headers reported of {frames}"
        );
        assert_eq!(moved, 5, "only the unfinished frame is moved");
        let (messages, _, moved, left, reads) = run(64 * 1024);
        assert_eq!((messages, left), (frames, 5));
        assert!(
            moved <= reads as u64 * msg.len() as u64,
            "{moved} bytes moved in {reads} reads"
        );
    }
}
