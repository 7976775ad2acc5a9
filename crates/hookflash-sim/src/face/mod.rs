//! Server faces: the simulated PBX's side of one client connection, as a sans-IO state machine.
//!
//! A [`Face`] takes the bytes a client sent and the time in engine milliseconds, drives the
//! shared [`Engine`] with the commands it finds, and gives back the bytes to send. It speaks
//! one of two protocols:
//!
//! - **CSTA BER** ([`FaceProtocol::CstaBer`]): ECMA-285 over the `len2` or `hipath` framing.
//!   The client opens an ACSE association with an AARQ (checked against the configured
//!   [`Credentials`]: the calling-authentication-value's first two strings are user and
//!   password, as HiPath and Panasonic send them) and gets an AARE accept or reject; then ROSE
//!   invokes are answered with results, ECMA-269 errors or rejects. Right after the association
//!   and every [`crate::SimConfig::poll_interval_ms`] the PBX polls with `SystemStatus`, which
//!   the client must answer. RLRQ is answered with RLRE, ABRT closes.
//! - **CSTA XML** ([`FaceProtocol::CstaXml`]): ECMA-323 with the 8-byte header, inside an
//!   ECMA-354 application session: `StartApplicationSession` (credentials as Avaya's
//!   `SessionLoginInfo` userName/password, or any `userName`/`password` elements),
//!   `ResetApplicationSessionTimer`, `StopApplicationSession`; a session whose timer is not
//!   reset in time is stopped by the PBX. A resume of an old session id is refused (the PBX
//!   keeps no session after its link is gone), and `TransferMonitorObjects` is refused too.
//! - **Asterisk AMI** ([`FaceProtocol::Ami`]): the Asterisk Manager Interface of Asterisk 16
//!   (banner, plain and MD5 login, channel, bridge, transfer, queue and agent events, the
//!   actions a CTI client uses); see the `ami` module source for the details. After the login
//!   the face monitors every device, as Asterisk reports everything to a manager session.
//!
//! The connection's monitors are its own: the engine's events for a cross reference that
//! another connection started are not this face's business. The embedding loop routes
//! [`Output`]s to the face that [`Face::owns`] the cross reference, and gives every face the
//! polls and restarts. When the connection ends, [`Face::release`] stops its monitors.
//!
//! Every buffer has a limit (a frame longer than [`FaceConfig::max_frame`] is skipped and
//! counted, unsent output beyond [`FaceConfig::max_pending_out`] frames closes the link as a
//! slow consumer), every wait a deadline (association, session timer, poll answers).

mod ami;
mod csta;
mod xmltext;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use hookflash_csta::framing::{self, Framing, InvokeIds};
use hookflash_csta::generated::types::{ACSEApdu, AuthenticationValue, EXTERNALtEncoding};
use hookflash_csta::pdu::{self, Pdu};
use hookflash_csta::xml::{self, Edition, session::ECMA354_NS};
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::model::{Command, Output, Response, SystemStatus};

/// The protocol a face speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceProtocol {
    /// CSTA BER (ECMA-285, ROSE, ACSE) with this framing (`len2`, `hipath` or `none`).
    CstaBer(Framing),
    /// CSTA XML (ECMA-323) with the 8-byte header, in ECMA-354 sessions.
    CstaXml,
    /// Asterisk Manager Interface (Asterisk 12+ events) over a plain byte stream.
    Ami,
}

/// The user and password a client must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user (CTI login) name.
    pub user: String,
    /// The password.
    pub password: String,
}

/// How a face behaves; the defaults suit tests and demos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceConfig {
    /// The protocol.
    pub protocol: FaceProtocol,
    /// Required credentials; `None` accepts any client.
    pub credentials: Option<Credentials>,
    /// BER: the client must associate (AARQ) before anything else. When `false` the link takes
    /// requests at once, as CSTA Phase I links do (an AARQ is still answered).
    pub require_association: bool,
    /// Time a new connection has to associate (AARQ) or start a session, in ms.
    pub login_timeout_ms: u64,
    /// Time the client has to answer one of the PBX's SystemStatus polls, in ms.
    pub poll_answer_timeout_ms: u64,
    /// Unanswered polls after which the PBX drops the link; 0 never drops it.
    pub max_unanswered_polls: u32,
    /// Longest ECMA-354 session duration granted, in seconds (shorter requests are granted).
    pub max_session_secs: u64,
    /// PBX milliseconds per millisecond of an ECMA-354 session's duration: 1 (the default) times
    /// the session on the PBX's clock. A server whose clock runs `time_scale` times faster than
    /// real time while its client times its session in real time sets this to the time scale,
    /// so that a session lasts what it says for both (otherwise it expires `time_scale` times
    /// too early, long before the client resets it at half its duration).
    pub session_clock_factor: u64,
    /// Largest frame accepted from the client, in bytes.
    pub max_frame: usize,
    /// Frames waiting to be sent beyond which the client is dropped as a slow consumer.
    pub max_pending_out: usize,
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            protocol: FaceProtocol::CstaXml,
            credentials: None,
            require_association: true,
            login_timeout_ms: 30_000,
            poll_answer_timeout_ms: 10_000,
            max_unanswered_polls: 3,
            max_session_secs: 3_600,
            session_clock_factor: 1,
            max_frame: framing::DEFAULT_MAX_FRAME,
            max_pending_out: 200_000,
        }
    }
}

/// Why a face closed its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client released the association or stopped the session.
    Released,
    /// The client aborted (ABRT).
    Aborted,
    /// The credentials were wrong; the association or session was refused.
    LoginRefused,
    /// The client did not associate or start a session in time.
    LoginTimeout,
    /// The session timer ran out.
    SessionExpired,
    /// The client left SystemStatus polls unanswered.
    PollsUnanswered,
    /// The PBX dropped the link (fault mode).
    LinkDropped,
    /// The client spoke out of turn before logging in.
    ProtocolViolation,
    /// Output piled up beyond the limit.
    SlowConsumer,
}

/// Counters of one face.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaceStats {
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Frames or PDUs that could not be read (skipped).
    pub malformed: u64,
    /// Requests answered with a result.
    pub results: u64,
    /// Requests answered with an error or a reject.
    pub errors: u64,
    /// Events sent.
    pub events: u64,
    /// SystemStatus polls sent.
    pub polls_sent: u64,
    /// SystemStatus polls answered by the client.
    pub polls_answered: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the AARQ or StartApplicationSession.
    Login,
    /// Associated / session active.
    Active,
    /// Closing: flush what is queued, then close.
    Closed(CloseReason),
}

/// One client connection's server face. See the module documentation.
#[derive(Debug)]
pub struct Face {
    cfg: FaceConfig,
    state: State,
    buf: Vec<u8>,
    out: VecDeque<Vec<u8>>,
    monitors: BTreeSet<u32>,
    /// Monitors started since the last [`Face::take_started`].
    started: Vec<u32>,
    /// Outstanding polls: invoke id → deadline.
    polls: BTreeMap<i64, u64>,
    unanswered: u32,
    login_deadline: Option<u64>,
    session_deadline: Option<u64>,
    session_id: String,
    session_secs: u64,
    edition: Edition,
    xml_ids: InvokeIds,
    ber_id: i64,
    stats: FaceStats,
    /// The AMI face's own state (AMI only).
    ami: Option<Box<ami::AmiState>>,
    /// The wall-clock time to stamp on the next CSTA events (see [`Face::set_send_time`]).
    send_time_us: Option<u64>,
}

impl Face {
    /// A face for a connection accepted at `now` (engine ms). `id` makes session ids unique.
    pub fn new(cfg: FaceConfig, now: u64, id: u64) -> Self {
        let open = matches!(cfg.protocol, FaceProtocol::CstaBer(_)) && !cfg.require_association;
        let is_ami = cfg.protocol == FaceProtocol::Ami;
        let mut face = Self {
            login_deadline: (!open).then(|| now.saturating_add(cfg.login_timeout_ms)),
            cfg,
            state: if open { State::Active } else { State::Login },
            buf: Vec::new(),
            out: VecDeque::new(),
            monitors: BTreeSet::new(),
            started: Vec::new(),
            polls: BTreeMap::new(),
            unanswered: 0,
            session_deadline: None,
            session_id: format!("SIM{id:08X}"),
            session_secs: 0,
            edition: Edition::ED4,
            xml_ids: InvokeIds::new(),
            ber_id: 0,
            stats: FaceStats::default(),
            ami: None,
            send_time_us: None,
        };
        if is_ami {
            face.ami_banner(id);
        }
        face
    }

    /// Whether the client has associated / started its session.
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// Why the face closed, once it has: the connection is to be closed after
    /// [`Face::poll_transmit`] has given out everything queued.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        match &self.state {
            State::Closed(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the face closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Whether the monitor `xref` was started over this connection.
    pub fn owns(&self, xref: u32) -> bool {
        self.monitors.contains(&xref)
    }

    /// The cross references of the monitors started since the last call (for routing tables).
    pub fn take_started(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.started)
    }

    /// The cross references of this connection's monitors.
    pub fn monitors(&self) -> impl Iterator<Item = u32> + '_ {
        self.monitors.iter().copied()
    }

    /// Bytes received and not yet part of a whole frame (at most a frame's worth).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.ami_buffered()
    }

    /// Counters.
    pub fn stats(&self) -> &FaceStats {
        &self.stats
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let f = self.out.pop_front();
        if f.is_some() {
            self.stats.frames_out += 1;
        }
        f
    }

    /// When [`Face::handle_timeout`] must be called next (engine ms).
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.is_closed() {
            return None;
        }
        [
            self.login_deadline,
            self.session_deadline,
            self.polls.values().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Acts on passed deadlines: login, session timer, poll answers.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.is_closed() {
            return;
        }
        if self.login_deadline.is_some_and(|d| now >= d) && self.state == State::Login {
            self.login_deadline = None;
            return self.close(CloseReason::LoginTimeout);
        }
        if self.session_deadline.is_some_and(|d| now >= d) {
            self.session_deadline = None;
            let body = format!(
                "<StopApplicationSession xmlns=\"{ECMA354_NS}\"><sessionID>{}</sessionID><sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason></StopApplicationSession>",
                self.session_id
            );
            self.send_xml_raw(&body, 0);
            return self.close(CloseReason::SessionExpired);
        }
        let expired: Vec<i64> = self
            .polls
            .iter()
            .filter(|(_, d)| now >= **d)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.polls.remove(&k);
            self.unanswered += 1;
        }
        if self.cfg.max_unanswered_polls > 0 && self.unanswered >= self.cfg.max_unanswered_polls {
            self.close(CloseReason::PollsUnanswered);
        }
    }

    /// Stops this connection's monitors in the engine (when the connection is gone).
    pub fn release(&mut self, now: u64, engine: &mut Engine) {
        for x in std::mem::take(&mut self.monitors) {
            let _ = engine.handle_command(now, Command::MonitorStop(x));
        }
    }

    /// Stamps the CSTA events encoded from now on with `us` (microseconds since the Unix epoch,
    /// the caller's wall clock) as the PBX's time of them (`security.timestamp`: a
    /// GeneralizedTime in BER, an `xsd:dateTime` in XML); `None` stops stamping. The face keeps
    /// no clock of its own: a server that stamps sets the time as it sends.
    pub fn set_send_time(&mut self, us: Option<u64>) {
        self.send_time_us = us;
    }

    /// An engine output for this connection: an event of one of its monitors (others are
    /// ignored), a SystemStatus poll, a restart (all monitors forgotten) or a dropped link.
    pub fn handle_output(&mut self, now: u64, output: &Output) {
        if self.is_closed() {
            return;
        }
        if self.cfg.protocol == FaceProtocol::Ami {
            return self.ami_output(now, output);
        }
        match output {
            Output::Event(e) => {
                if !self.is_active() || !self.monitors.contains(&e.cross_ref) {
                    return;
                }
                let id = match self.cfg.protocol {
                    FaceProtocol::CstaXml | FaceProtocol::Ami => {
                        i64::from(framing::XML_EVENT_INVOKE_ID)
                    }
                    FaceProtocol::CstaBer(_) => self.next_ber_id(),
                };
                let stamp = self.send_time_us.map(|us| match self.cfg.protocol {
                    FaceProtocol::CstaXml | FaceProtocol::Ami => {
                        hookflash_csta::mapping::time::format_date_time(us)
                    }
                    FaceProtocol::CstaBer(_) => {
                        hookflash_csta::mapping::time::format_generalized_time(us)
                    }
                });
                if let Some(p) = csta::event_pdu(id, e, stamp.as_deref()) {
                    self.stats.events += 1;
                    self.send_pdu(&p);
                }
                if self.out.len() > self.cfg.max_pending_out {
                    self.close(CloseReason::SlowConsumer);
                }
            }
            Output::SystemStatusPoll { status, .. } => {
                if self.is_active() {
                    self.poll(now, *status);
                }
            }
            Output::Restarted { .. } => {
                self.monitors.clear();
                self.started.clear();
            }
            Output::LinkDropped { .. } => {
                self.monitors.clear();
                self.close(CloseReason::LinkDropped);
            }
        }
    }

    /// Bytes from the client at `now`; requests are carried out on `engine` at once.
    pub fn handle_input(&mut self, now: u64, bytes: &[u8], engine: &mut Engine) {
        if self.is_closed() {
            return;
        }
        let framing = match self.cfg.protocol {
            FaceProtocol::CstaBer(f) => f,
            FaceProtocol::CstaXml => Framing::XmlHeader,
            FaceProtocol::Ami => return self.ami_input(now, bytes, engine),
        };
        self.buf.extend_from_slice(bytes);
        while !self.is_closed() {
            match framing::next_frame(framing, &self.buf, self.cfg.max_frame) {
                Ok(Some(f)) => {
                    let payload = self.buf.get(f.payload.clone()).map(<[u8]>::to_vec);
                    self.buf.drain(..f.consumed.min(self.buf.len()));
                    self.stats.frames_in += 1;
                    if let Some(p) = payload {
                        match self.cfg.protocol {
                            FaceProtocol::CstaBer(_) => self.ber_frame(now, p, engine),
                            FaceProtocol::CstaXml | FaceProtocol::Ami => {
                                self.xml_frame(now, &p, f.invoke_id.unwrap_or(0), engine)
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    self.stats.malformed += 1;
                    let skip = framing::resync(framing, &self.buf).max(1);
                    self.buf.drain(..skip.min(self.buf.len()));
                }
            }
        }
        if self.out.len() > self.cfg.max_pending_out {
            self.close(CloseReason::SlowConsumer);
        }
    }

    fn close(&mut self, r: CloseReason) {
        if !self.is_closed() {
            self.state = State::Closed(r);
            self.login_deadline = None;
            self.session_deadline = None;
            self.polls.clear();
        }
    }

    fn next_ber_id(&mut self) -> i64 {
        self.ber_id = if self.ber_id >= 32_767 {
            1
        } else {
            self.ber_id + 1
        };
        self.ber_id
    }

    fn poll(&mut self, now: u64, status: SystemStatus) {
        let st = match status {
            SystemStatus::Normal => "normal",
            SystemStatus::Initializing => "initializing",
        };
        let id = match self.cfg.protocol {
            FaceProtocol::CstaXml | FaceProtocol::Ami => i64::from(self.xml_ids.next()),
            FaceProtocol::CstaBer(_) => self.next_ber_id(),
        };
        if let Some(p) = csta::invoke_pdu(id, "systemStatus", json!({"systemStatus": st})) {
            self.stats.polls_sent += 1;
            self.send_pdu(&p);
            if self.polls.len() < 64 {
                self.polls
                    .insert(id, now.saturating_add(self.cfg.poll_answer_timeout_ms));
            }
        }
    }

    fn send_pdu(&mut self, p: &Pdu) {
        match self.cfg.protocol {
            FaceProtocol::CstaBer(f) => {
                let body = pdu::encode_to_vec(p);
                let mut frame = Vec::with_capacity(body.len() + 3);
                if framing::write_frame(f, &body, None, &mut frame).is_ok() {
                    self.out.push_back(frame);
                }
            }
            FaceProtocol::CstaXml | FaceProtocol::Ami => {
                let mut body = Vec::new();
                if let Ok(id) = xml::encode(p, &self.edition, &mut body) {
                    let mut frame = Vec::with_capacity(body.len() + 8);
                    if framing::write_frame(Framing::XmlHeader, &body, Some(id), &mut frame).is_ok()
                    {
                        self.out.push_back(frame);
                    }
                }
            }
        }
    }

    fn send_xml_raw(&mut self, body: &str, invoke_id: u16) {
        let mut frame = Vec::with_capacity(body.len() + 8);
        if framing::write_frame(
            Framing::XmlHeader,
            body.as_bytes(),
            Some(invoke_id),
            &mut frame,
        )
        .is_ok()
        {
            self.out.push_back(frame);
        }
    }

    // ------------------------------------------------------------------ BER

    fn ber_frame(&mut self, now: u64, payload: Vec<u8>, engine: &mut Engine) {
        let Ok(p) = pdu::decode_with_limit(&Bytes::from(payload), self.cfg.max_frame) else {
            self.stats.malformed += 1;
            if self.is_active()
                && let Ok(r) = Pdu::from_jer(
                    &json!({"rose": "reject", "invokeId": null, "problem": {"general": 1}}),
                )
            {
                self.stats.errors += 1;
                self.send_pdu(&r);
            }
            return;
        };
        if let Pdu::Acse(a) = &p {
            match &a.apdu {
                ACSEApdu::Aarq(rq)
                    if self.state == State::Login || !self.cfg.require_association =>
                {
                    let ok = self.cfg.credentials.as_ref().is_none_or(|c| {
                        let (u, pw) = credentials_of(rq.calling_authentication_value.as_deref());
                        pw.as_deref() == Some(c.password.as_str())
                            && u.as_deref().is_none_or(|u| u == c.user)
                    });
                    let doc = p.to_jer();
                    let ctx = doc
                        .pointer("/apdu/aSO-context-name")
                        .cloned()
                        .unwrap_or_else(|| Value::String(pdu::ECMA218_CONTEXT_OID.into()));
                    let mut aare = json!({
                        "acse": "aare",
                        "apdu": {
                            "aSO-context-name": ctx,
                            "result": if ok { 0 } else { 1 },
                            "result-source-diagnostic": {"service-user": if ok { 0 } else { 13 }},
                        }
                    });
                    if let (Some(ui), Some(o)) =
                        (doc.get("cstaUserInformation"), aare.as_object_mut())
                    {
                        o.insert("cstaUserInformation".into(), ui.clone());
                    }
                    if let Ok(r) = Pdu::from_jer(&aare) {
                        self.send_pdu(&r);
                    }
                    if ok {
                        self.state = State::Active;
                        self.login_deadline = None;
                        // HiPath polls right after the association.
                        self.poll(now, SystemStatus::Normal);
                    } else {
                        self.close(CloseReason::LoginRefused);
                    }
                }
                ACSEApdu::Rlrq(_) => {
                    if let Ok(r) = Pdu::from_jer(&json!({"acse": "rlre", "apdu": {"reason": 0}})) {
                        self.send_pdu(&r);
                    }
                    self.close(CloseReason::Released);
                }
                ACSEApdu::Abrt(_) => self.close(CloseReason::Aborted),
                _ => self.stats.malformed += 1,
            }
            return;
        }
        if !self.is_active() {
            if let Ok(r) = Pdu::from_jer(&json!({"acse": "abrt", "apdu": {"abort-source": 0}})) {
                self.send_pdu(&r);
            }
            return self.close(CloseReason::ProtocolViolation);
        }
        self.csta_message(now, &p, engine);
    }

    // ------------------------------------------------------------------ XML

    fn xml_frame(&mut self, now: u64, payload: &[u8], invoke_id: u16, engine: &mut Engine) {
        let Ok(text) = std::str::from_utf8(payload) else {
            self.stats.malformed += 1;
            return;
        };
        let root = xmltext::root_name(text).unwrap_or_default();
        match root {
            "StartApplicationSession" => self.start_session(now, text, invoke_id),
            "ResetApplicationSessionTimer" if self.is_active() => {
                if xmltext::text(text, "sessionID").as_deref() == Some(self.session_id.as_str()) {
                    let secs = self.grant(xmltext::text(text, "requestedSessionDuration"));
                    self.session_deadline = Some(now.saturating_add(self.session_ms(secs)));
                    let body = format!(
                        "<ResetApplicationSessionTimerPosResponse xmlns=\"{ECMA354_NS}\"><actualSessionDuration>{secs}</actualSessionDuration></ResetApplicationSessionTimerPosResponse>"
                    );
                    self.send_xml_raw(&body, invoke_id);
                } else {
                    let body = format!(
                        "<ResetApplicationSessionTimerNegResponse xmlns=\"{ECMA354_NS}\"><errorCode><definedError>invalidSessionID</definedError></errorCode></ResetApplicationSessionTimerNegResponse>"
                    );
                    self.send_xml_raw(&body, invoke_id);
                }
            }
            "StopApplicationSession" => {
                let body = format!("<StopApplicationSessionPosResponse xmlns=\"{ECMA354_NS}\"/>");
                self.send_xml_raw(&body, invoke_id);
                self.close(CloseReason::Released);
            }
            "TransferMonitorObjects" => {
                let body = format!(
                    "<TransferMonitorObjectsNegResponse xmlns=\"{ECMA354_NS}\"><errorCode><definedError>invalidSessionID</definedError></errorCode></TransferMonitorObjectsNegResponse>"
                );
                self.send_xml_raw(&body, invoke_id);
            }
            "StopApplicationSessionPosResponse" | "StopApplicationSessionNegResponse" => {}
            _ if !self.is_active() => {
                self.stats.errors += 1;
                if let Some(p) =
                    csta::error_pdu(i64::from(invoke_id), "operation", "securityViolation")
                {
                    self.send_pdu(&p);
                }
            }
            _ => match xml::decode(payload, Some(invoke_id)) {
                Ok(m) => self.csta_message(now, &m.pdu, engine),
                Err(_) => {
                    self.stats.malformed += 1;
                    self.stats.errors += 1;
                    if let Some(p) =
                        csta::error_pdu(i64::from(invoke_id), "operation", "invalidParameterValue")
                    {
                        self.send_pdu(&p);
                    }
                }
            },
        }
    }

    /// A session of `secs` seconds in PBX milliseconds.
    fn session_ms(&self, secs: u64) -> u64 {
        secs.saturating_mul(1000)
            .saturating_mul(self.cfg.session_clock_factor.max(1))
    }

    fn grant(&self, requested: Option<String>) -> u64 {
        requested
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(180)
            .clamp(10, self.cfg.max_session_secs.max(10))
    }

    fn start_session(&mut self, now: u64, text: &str, invoke_id: u16) {
        let neg = |e: &str| {
            format!(
                "<StartApplicationSessionNegResponse xmlns=\"{ECMA354_NS}\"><errorCode><definedError>{e}</definedError></errorCode></StartApplicationSessionNegResponse>"
            )
        };
        if self.state != State::Login {
            let b = neg("invalidApplicationInfo");
            return self.send_xml_raw(&b, invoke_id);
        }
        let ok = self.cfg.credentials.as_ref().is_none_or(|c| {
            xmltext::text(text, "userName").as_deref() == Some(c.user.as_str())
                && xmltext::text(text, "password").as_deref() == Some(c.password.as_str())
        });
        if !ok {
            let b = neg("invalidApplicationInfo");
            self.send_xml_raw(&b, invoke_id);
            return self.close(CloseReason::LoginRefused);
        }
        if xmltext::text(text, "sessionID").is_some() {
            // A resume: this PBX keeps no session beyond its connection.
            let b = neg("invalidSessionID");
            return self.send_xml_raw(&b, invoke_id);
        }
        let versions = xmltext::texts(text, "protocolVersion");
        let version = versions
            .iter()
            .find(|v| {
                let e = Edition::from_uri(v);
                [
                    Edition::ED2,
                    Edition::ED3,
                    Edition::ED4,
                    Edition::ED5,
                    Edition::ED6,
                ]
                .contains(&e)
            })
            .cloned()
            .unwrap_or_else(|| Edition::ED4.namespace().to_owned());
        self.edition = Edition::from_uri(&version);
        let secs = self.grant(xmltext::text(text, "requestedSessionDuration"));
        self.session_secs = secs;
        self.session_deadline = Some(now.saturating_add(self.session_ms(secs)));
        self.login_deadline = None;
        self.state = State::Active;
        let mut b = format!(
            "<StartApplicationSessionPosResponse xmlns=\"{ECMA354_NS}\"><sessionID>{}</sessionID><actualProtocolVersion>",
            self.session_id
        );
        xmltext::escape_into(&version, &mut b);
        b.push_str(&format!(
            "</actualProtocolVersion><actualSessionDuration>{secs}</actualSessionDuration></StartApplicationSessionPosResponse>"
        ));
        self.send_xml_raw(&b, invoke_id);
    }

    // ------------------------------------------------------------------ CSTA

    fn csta_message(&mut self, now: u64, p: &Pdu, engine: &mut Engine) {
        let doc = p.to_json();
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        let invoke_id = doc.get("invokeId").and_then(Value::as_i64);
        match kind {
            "request" => {
                let Some(id) = invoke_id else {
                    self.stats.malformed += 1;
                    return;
                };
                let op = doc
                    .get("service")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let arg = doc.get("argument").cloned().unwrap_or(Value::Null);
                self.request(now, id, op, &arg, engine);
            }
            "result" | "error" | "reject" => {
                if let Some(id) = invoke_id
                    && self.polls.remove(&id).is_some()
                {
                    self.stats.polls_answered += 1;
                    self.unanswered = 0;
                }
            }
            _ => self.stats.malformed += 1,
        }
    }

    fn request(&mut self, now: u64, id: i64, op: &str, arg: &Value, engine: &mut Engine) {
        match csta::request(op, arg) {
            Ok(csta::Request::Engine { op, cmd }) => {
                match engine.handle_command(now, cmd.clone()) {
                    Ok(Response::Silent) => {}
                    Ok(r) => {
                        if let Response::MonitorStarted(x) = r {
                            self.monitors.insert(x);
                            self.started.push(x);
                        }
                        let v = csta::result_value(&op, &cmd, &r);
                        self.result(id, &op, v);
                    }
                    Err(crate::SimError::LinkDown) => {}
                    Err(e) => {
                        let (alt, name) = csta::error_for(&op, Some(&cmd), &e);
                        self.error(id, alt, name);
                    }
                }
            }
            Ok(csta::Request::MonitorStop { xref }) => {
                if !self.monitors.contains(&xref) {
                    return self.error(id, "operation", "invalidMonitorCrossRefID");
                }
                match engine.handle_command(now, Command::MonitorStop(xref)) {
                    Ok(_) => {
                        self.monitors.remove(&xref);
                        self.result(id, "monitorStop", json!({"noData": null}));
                    }
                    Err(e) => {
                        self.monitors.remove(&xref);
                        let (alt, name) = csta::error_for("monitorStop", None, &e);
                        self.error(id, alt, name);
                    }
                }
            }
            Ok(csta::Request::Status { op }) => {
                // In the fault mode the PBX does not answer.
                if let Ok(Response::Status(st)) = engine.handle_command(now, Command::SystemStatus)
                {
                    let v = if op == "requestSysStat" {
                        let st = match st {
                            SystemStatus::Normal => "normal",
                            SystemStatus::Initializing => "initializing",
                        };
                        json!({"systemStatus": st})
                    } else {
                        json!({"noData": null})
                    };
                    self.result(id, &op, v);
                }
            }
            Err(csta::Refusal::BadArgument(name)) => self.error(id, "operation", name),
            Err(csta::Refusal::Unsupported(_)) => match self.cfg.protocol {
                FaceProtocol::CstaBer(_) => {
                    self.stats.errors += 1;
                    if let Ok(r) = Pdu::from_jer(
                        &json!({"rose": "reject", "invokeId": id, "problem": {"invoke": 1}}),
                    ) {
                        self.send_pdu(&r);
                    }
                }
                FaceProtocol::CstaXml | FaceProtocol::Ami => {
                    self.error(id, "operation", "serviceNotSupported")
                }
            },
        }
    }

    fn result(&mut self, id: i64, op: &str, v: Value) {
        match csta::result_pdu(id, op, v) {
            Some(p) => {
                self.stats.results += 1;
                self.send_pdu(&p);
            }
            None => self.error(id, "operation", "invalidParameterValue"),
        }
    }

    fn error(&mut self, id: i64, alt: &str, name: &str) {
        if let Some(p) = csta::error_pdu(id, alt, name) {
            self.stats.errors += 1;
            self.send_pdu(&p);
        }
    }
}

/// (user, password) from an AARQ's calling-authentication-value: the printable strings inside
/// it, in order (a charstring alone is a password).
fn credentials_of(v: Option<&AuthenticationValue>) -> (Option<String>, Option<String>) {
    let mut leaves = Vec::new();
    match v {
        Some(AuthenticationValue::Charstring(t)) => {
            return (None, Some(t.to_string_lossy()));
        }
        Some(AuthenticationValue::External(e)) => match &e.encoding {
            EXTERNALtEncoding::SingleASN1Type(a) | EXTERNALtEncoding::Unrecognized(a) => {
                ber_leaves(a.as_bytes(), 0, &mut leaves)
            }
            EXTERNALtEncoding::OctetAligned(o) => ber_leaves(o.as_bytes(), 0, &mut leaves),
            _ => {}
        },
        Some(AuthenticationValue::Other(o)) => {
            ber_leaves(o.other_mechanism_value.as_bytes(), 0, &mut leaves)
        }
        Some(AuthenticationValue::Unrecognized(a)) => ber_leaves(a.as_bytes(), 0, &mut leaves),
        _ => {}
    }
    let mut it = leaves.into_iter();
    match (it.next(), it.next()) {
        (Some(u), Some(p)) => (Some(u), Some(p)),
        (Some(p), None) => (None, Some(p)),
        _ => (None, None),
    }
}

/// The primitive elements' contents as text, depth first (bounded depth and count).
fn ber_leaves(buf: &[u8], depth: u32, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    let mut pos = 0;
    while pos < buf.len() && out.len() < 4 {
        let Ok(t) = hookflash_csta::ber::read_tlv(buf, pos, buf.len(), depth) else {
            return;
        };
        let content = buf.get(t.content_start..t.content_end).unwrap_or_default();
        if t.constructed {
            ber_leaves(content, depth + 1, out);
        } else {
            out.push(String::from_utf8_lossy(content).into_owned());
        }
        if t.end <= pos {
            return;
        }
        pos = t.end;
    }
}
