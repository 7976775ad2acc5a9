//! Sans-IO CSTA client sessions: what a CTI application runs against a PBX's CSTA link, over
//! BER (ECMA-285 with an ACSE association) or XML (ECMA-323 with an ECMA-354 session).
//!
//! A [`Client`] takes bytes and `now` (milliseconds on the caller's clock) and gives back bytes
//! to send, a deadline and [`ClientEvent`]s. It never touches a socket or reads a clock.
//!
//! - **Association.** BER links open with an AARQ (with the CTI user's credentials, when
//!   given) and wait for the AARE; XML links start an ECMA-354 application session
//!   ([`crate::xml::session`]).
//! - **Requests** carry ROSE invoke ids ([`crate::framing::InvokeIds`]); each has a timeout,
//!   and all of them fail at once with [`ClientError::LinkDown`] when the link drops.
//! - **Keep-alive.** The PBX's `SystemStatus` polls are answered; [`Client::handle_keep_alive`]
//!   sends a `SystemStatus` of its own, and one left unanswered loses the link.
//! - **Monitors.** The client keeps the set of devices the application wants monitored and
//!   (re)starts them after every association, pipelined in a bounded window, each followed by
//!   a `SnapshotDevice` that becomes a [`DriverEvent::DeviceSnapshot`]. The link reports
//!   [`DriverEvent::LinkResyncing`] until every monitor and snapshot is answered, then
//!   [`DriverEvent::LinkUp`]. Monitor results (monitor limit, invalid device) come per device.
//! - **Events** become [`DriverEvent`]s through [`crate::mapping::Mapper`].
//! - **Commands** ([`hookflash_core::command::Command`]) become CSTA service requests
//!   ([`requests::request_for`]); results and errors come back as [`ClientEvent::Executed`].

pub mod requests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;
use hookflash_core::command::Command;
use hookflash_core::driver::{AgentEventKind, DriverEvent, SnapshotEntry};
use hookflash_core::model::{AgentId, CallId, DeviceId, LinkId, NativeCallId};
use serde_json::{Value, json};

use crate::framing::{self, Framing, InvokeIds};
use crate::generated::ops::{Argument, Operation};
use crate::generated::types::{Code, SystemStatus};
use crate::mapping::Mapper;
use crate::pdu::{self, Pdu};
use crate::xml::session::{self as xml_session, SessionEvent};

/// How long a request may stay unanswered by default.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// How many monitor and snapshot requests may be in flight at once by default.
pub const DEFAULT_MONITOR_WINDOW: usize = 256;

/// The most recent calls whose last event is kept to drop the copies other monitors report.
/// The copies of one event arrive together (one per monitor, back to back), so a window of the
/// last few thousand calls catches them while its memory stays fixed whatever the call rate
/// and however many calls end without a `CallCleared`.
pub(crate) const DEDUP_WINDOW: usize = 4_096;

/// The most agents whose logged-on device is remembered.
const MAX_TRACKED_AGENTS: usize = 100_000;

/// The CTI user's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

/// The encoding of the link and how it logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wire {
    /// ECMA-285 BER.
    Ber {
        /// How PDUs are delimited.
        framing: Framing,
        /// Whether the link opens with an ACSE association (AARQ/AARE). Some PBXs (CSTA
        /// Phase I links) take requests at once.
        associate: bool,
        /// The credentials for the AARQ.
        credentials: Option<Credentials>,
    },
    /// ECMA-323 XML in an ECMA-354 application session.
    Xml(xml_session::Config),
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The link's name (every driver event carries it).
    pub link: LinkId,
    /// The encoding and login.
    pub wire: Wire,
    /// How long a request may stay unanswered.
    pub request_timeout_ms: u64,
    /// How many monitor and snapshot requests may be in flight at once.
    pub monitor_window: usize,
    /// The largest frame accepted from the PBX.
    pub max_frame: usize,
}

impl Config {
    /// Settings with the defaults for `link` over `wire`.
    pub fn new(link: impl Into<LinkId>, wire: Wire) -> Self {
        Self {
            link: link.into(),
            wire,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            monitor_window: DEFAULT_MONITOR_WINDOW,
            max_frame: framing::DEFAULT_MAX_FRAME,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The call or device is not in a state that permits this.
    #[error("not permitted in the current state")]
    NotPermitted,
    /// The PBX does not know the device.
    #[error("invalid device {0}")]
    InvalidDevice(DeviceId),
    /// The PBX (or the command) names a call that is not known.
    #[error("invalid call")]
    InvalidCall,
    /// The PBX's monitor limit is reached.
    #[error("the PBX's monitor limit is reached")]
    MonitorLimit,
    /// The PBX refused with its own cause.
    #[error("the PBX refused: {name}")]
    Pbx {
        /// The ECMA-269 error value, when known.
        code: Option<i64>,
        /// The ECMA-269 error name (or the reject problem).
        name: String,
    },
    /// The PBX did not answer in time.
    #[error("the request timed out")]
    Timeout,
    /// The link is down, or went down with the request in flight.
    #[error("the link is down")]
    LinkDown,
    /// CSTA has no service for the command.
    #[error("no CSTA service for this command")]
    Unsupported,
    /// The request could not be encoded.
    #[error("the request cannot be encoded: {0}")]
    Encode(crate::Error),
}

/// A handle on one request, to match its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A driver event for the core.
    Driver(DriverEvent),
    /// A driver event for the core from a PBX report that carried the PBX's own time
    /// (`security.timestamp`), in microseconds since the Unix epoch.
    StampedDriver {
        /// The event.
        event: DriverEvent,
        /// The PBX's time of it.
        pbx_time_us: u64,
    },
    /// The result of [`Client::monitor`].
    Monitored {
        /// The request.
        request: RequestId,
        /// The device.
        device: DeviceId,
        /// Monitored, or why not.
        result: Result<(), ClientError>,
    },
    /// The result of [`Client::unmonitor`].
    Unmonitored {
        /// The request.
        request: RequestId,
        /// The device.
        device: DeviceId,
        /// Stopped, or why not.
        result: Result<(), ClientError>,
    },
    /// The result of [`Client::execute`]: the new call for a make call or consultation.
    Executed {
        /// The request.
        request: RequestId,
        /// The new call, or why the command failed.
        result: Result<Option<NativeCallId>, ClientError>,
    },
    /// The PBX refused the association or session (bad credentials): retrying will not help.
    Refused {
        /// The PBX's reason, as it gave it.
        reason: String,
    },
    /// The association or session is lost (a keep-alive or a login went unanswered, the PBX
    /// aborted): the link should be closed and re-established.
    Lost,
    /// A frame or message that could not be read; it was skipped.
    Malformed {
        /// What was wrong.
        error: crate::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Down,
    Associating,
    Resyncing,
    Up,
}

#[derive(Debug, Clone)]
enum What {
    KeepAlive,
    Monitor(DeviceId),
    Snapshot(DeviceId),
    AgentState(DeviceId),
    Stop(DeviceId, RequestId),
    Command(RequestId, bool),
}

#[derive(Debug, Clone)]
struct Pending {
    what: What,
    seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    Monitor(DeviceId),
    Snapshot(DeviceId),
    AgentState(DeviceId),
}

#[derive(Debug, Default, Clone)]
struct Wanted {
    xref: Option<String>,
    waiters: Vec<RequestId>,
}

/// A CSTA client session.
#[derive(Debug)]
pub struct Client {
    cfg: Config,
    phase: Phase,
    mapper: Mapper,
    ids: InvokeIds,
    xml: Option<xml_session::Session>,
    buf: Vec<u8>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<ClientEvent>,
    /// The PBX's time of the event report being mapped, while it is.
    stamp: Option<u64>,
    inflight: HashMap<i64, Pending>,
    deadlines: VecDeque<(u64, i64, u64)>,
    assoc_deadline: Option<u64>,
    seq: u64,
    wanted: HashMap<DeviceId, Wanted>,
    jobs: VecDeque<Job>,
    windowed: usize,
    next_request: u64,
    link_reported: bool,
    now: u64,
    last_call_event: HashMap<NativeCallId, DriverEvent>,
    /// The calls of `last_call_event` in the order they entered it (an entry removed by
    /// `CallCleared` stays here until it falls out of the window).
    dedup_order: VecDeque<NativeCallId>,
    /// Devices with a monitor request queued or in flight.
    monitoring: HashSet<DeviceId>,
    /// The device each agent is logged on at, as the PBX reported it.
    agent_devices: HashMap<String, DeviceId>,
}

impl Client {
    /// A client that is not connected.
    pub fn new(cfg: Config) -> Self {
        let xml = match &cfg.wire {
            Wire::Xml(c) => Some(xml_session::Session::new(c.clone())),
            Wire::Ber { .. } => None,
        };
        Self {
            mapper: Mapper::new(cfg.link.clone()),
            cfg,
            phase: Phase::Down,
            ids: InvokeIds::new(),
            xml,
            buf: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stamp: None,
            inflight: HashMap::new(),
            deadlines: VecDeque::new(),
            assoc_deadline: None,
            seq: 0,
            wanted: HashMap::new(),
            jobs: VecDeque::new(),
            windowed: 0,
            next_request: 0,
            link_reported: false,
            now: 0,
            last_call_event: HashMap::new(),
            dedup_order: VecDeque::new(),
            monitoring: HashSet::new(),
            agent_devices: HashMap::new(),
        }
    }

    /// The link's name.
    pub fn link(&self) -> &LinkId {
        &self.cfg.link
    }

    /// Whether the link is associated and every monitor and snapshot is answered.
    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up
    }

    /// Whether the association or session is established (monitors may still be resyncing).
    pub fn is_associated(&self) -> bool {
        matches!(self.phase, Phase::Up | Phase::Resyncing)
    }

    /// The devices the application wants monitored.
    pub fn wanted(&self) -> impl Iterator<Item = &DeviceId> {
        self.wanted.keys()
    }

    /// How many devices are monitored now (the PBX confirmed them on this connection).
    pub fn monitored(&self) -> usize {
        self.wanted.values().filter(|w| w.xref.is_some()).count()
    }

    /// How many requests are in flight.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    // ------------------------------------------------------------------ connection

    /// The transport is connected: associate (BER) or start the session (XML).
    pub fn handle_connect(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.buf.clear();
        self.out.clear();
        self.phase = Phase::Associating;
        match &self.cfg.wire {
            Wire::Xml(_) => {
                if let Some(x) = self.xml.as_mut() {
                    x.start(now);
                }
                self.drain_xml(now);
            }
            Wire::Ber {
                associate: true,
                credentials,
                ..
            } => {
                let aarq = aarq(credentials.as_ref());
                self.send_pdu_raw(&aarq);
                self.assoc_deadline = Some(now.saturating_add(self.cfg.request_timeout_ms));
            }
            Wire::Ber {
                associate: false, ..
            } => self.associated(),
        }
    }

    /// The link went down: every request in flight fails with [`ClientError::LinkDown`], the
    /// PBX's monitors are forgotten (they are restarted on the next association).
    pub fn handle_disconnect(&mut self, now: u64) {
        self.now = self.now.max(now);
        let was = self.phase;
        self.phase = Phase::Down;
        self.assoc_deadline = None;
        self.buf.clear();
        self.out.clear();
        self.jobs.clear();
        self.monitoring.clear();
        self.windowed = 0;
        self.deadlines.clear();
        let mut pending: Vec<(i64, Pending)> = self.inflight.drain().collect();
        pending.sort_by_key(|(_, p)| p.seq);
        for (_, p) in pending {
            self.fail(p.what, ClientError::LinkDown);
        }
        // Waiters of monitors not yet sent learn that the link is down too.
        let mut waiting: Vec<(DeviceId, Vec<RequestId>)> = self
            .wanted
            .iter_mut()
            .filter(|(_, w)| !w.waiters.is_empty())
            .map(|(d, w)| (d.clone(), std::mem::take(&mut w.waiters)))
            .collect();
        waiting.sort();
        for (device, reqs) in waiting {
            for request in reqs {
                self.events.push_back(ClientEvent::Monitored {
                    request,
                    device: device.clone(),
                    result: Err(ClientError::LinkDown),
                });
            }
        }
        if matches!(self.cfg.wire, Wire::Ber { .. }) {
            for w in self.wanted.values_mut() {
                w.xref = None;
            }
        }
        self.mapper.clear_monitors();
        self.last_call_event.clear();
        self.dedup_order.clear();
        if was != Phase::Down || !self.link_reported {
            self.link_reported = true;
            self.driver(DriverEvent::LinkDown {
                link: self.cfg.link.clone(),
            });
        }
    }

    fn associated(&mut self) {
        self.assoc_deadline = None;
        self.phase = Phase::Resyncing;
        // CSTA reports a call only through the monitors of the devices in it.
        self.driver(DriverEvent::LinkVisibility {
            link: self.cfg.link.clone(),
            through_monitors_only: true,
        });
        self.driver(DriverEvent::LinkResyncing {
            link: self.cfg.link.clone(),
        });
        let mut devices: Vec<DeviceId> = self.wanted.keys().cloned().collect();
        devices.sort();
        for d in devices {
            let job = match self.wanted.get(&d).and_then(|w| w.xref.clone()) {
                Some(x) => {
                    self.mapper.monitor_started(&x, d.as_str());
                    Job::Snapshot(d)
                }
                None => {
                    self.monitoring.insert(d.clone());
                    Job::Monitor(d)
                }
            };
            self.jobs.push_back(job);
        }
        self.pump(None);
    }

    /// The PBX restarted (or lost messages): its monitors are gone. Monitor every wanted
    /// device again and snapshot it; the link is resyncing until that is done.
    fn resync(&mut self, now: u64) {
        if !self.is_associated() {
            return;
        }
        self.mapper.clear_monitors();
        for w in self.wanted.values_mut() {
            w.xref = None;
        }
        self.jobs.clear();
        self.monitoring = self
            .inflight
            .values()
            .filter_map(|p| match &p.what {
                What::Monitor(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let mut devices: Vec<DeviceId> = self.wanted.keys().cloned().collect();
        devices.sort();
        for d in devices {
            if self.monitoring.insert(d.clone()) {
                self.jobs.push_back(Job::Monitor(d));
            }
        }
        if self.phase == Phase::Up {
            self.phase = Phase::Resyncing;
            self.driver(DriverEvent::LinkResyncing {
                link: self.cfg.link.clone(),
            });
        }
        self.pump(Some(now));
    }

    /// A call event from the PBX. CSTA reports a call's event once per monitor that sees it
    /// (both parties of an internal call, both ends of a transfer); the copies are identical,
    /// and only the first is passed on.
    fn call_event(&mut self, ev: DriverEvent) {
        if let DriverEvent::Call { call, event, .. } = &ev {
            if self.last_call_event.get(call) == Some(&ev) {
                return;
            }
            if matches!(event, hookflash_core::driver::CallEventKind::CallCleared) {
                self.last_call_event.remove(call);
            } else if self
                .last_call_event
                .insert(call.clone(), ev.clone())
                .is_none()
            {
                self.dedup_order.push_back(call.clone());
                if self.dedup_order.len() == DEDUP_WINDOW {
                    // Full for the first time: room for twice the window now, so that the
                    // table's churn never makes it grow later.
                    self.last_call_event.reserve(DEDUP_WINDOW);
                }
                // The oldest call leaves. (Had its id been reused since, the newer call loses
                // its entry early: at worst one copy of its next event is passed on.)
                if self.dedup_order.len() > DEDUP_WINDOW
                    && let Some(old) = self.dedup_order.pop_front()
                {
                    self.last_call_event.remove(&old);
                }
            }
        }
        self.driver(ev);
    }

    fn driver(&mut self, ev: DriverEvent) {
        if let DriverEvent::Agent {
            agent,
            event:
                AgentEventKind::LoggedOn {
                    device: Some(device),
                    ..
                },
            ..
        } = &ev
            && (self.agent_devices.len() < MAX_TRACKED_AGENTS
                || self.agent_devices.contains_key(agent.as_str()))
        {
            self.agent_devices.insert(agent.to_string(), device.clone());
        }
        self.events.push_back(match self.stamp {
            Some(pbx_time_us) => ClientEvent::StampedDriver {
                event: ev,
                pbx_time_us,
            },
            None => ClientEvent::Driver(ev),
        });
    }

    // ------------------------------------------------------------------ application API

    /// Monitors `device` (and keeps it monitored across reconnects). The result comes as a
    /// [`ClientEvent::Monitored`] with the returned id: while the link is down, a new device
    /// fails with [`ClientError::LinkDown`] (and is not kept); one already monitored is kept.
    pub fn monitor(&mut self, now: u64, device: DeviceId) -> RequestId {
        self.now = self.now.max(now);
        let request = self.request_id();
        let associated = self.is_associated();
        let pending = self.monitoring.contains(&device);
        let phase = self.phase;
        let known = self.wanted.contains_key(&device);
        let w = self.wanted.entry(device.clone()).or_default();
        if w.xref.is_some() && associated {
            self.events.push_back(ClientEvent::Monitored {
                request,
                device,
                result: Ok(()),
            });
            return request;
        }
        match phase {
            Phase::Down => {
                // A device monitored before the outage stays monitored (it is restored on the
                // next association); a new one cannot be asked for now.
                let result = if known {
                    Ok(())
                } else {
                    self.wanted.remove(&device);
                    Err(ClientError::LinkDown)
                };
                self.events.push_back(ClientEvent::Monitored {
                    request,
                    device,
                    result,
                });
            }
            Phase::Associating => w.waiters.push(request),
            Phase::Resyncing | Phase::Up => {
                w.waiters.push(request);
                if !pending {
                    self.monitoring.insert(device.clone());
                    self.jobs.push_back(Job::Monitor(device));
                    self.pump(Some(now));
                }
            }
        }
        request
    }

    /// Stops monitoring `device`. The result comes as a [`ClientEvent::Unmonitored`].
    pub fn unmonitor(&mut self, now: u64, device: DeviceId) -> RequestId {
        self.now = self.now.max(now);
        let request = self.request_id();
        let Some(w) = self.wanted.remove(&device) else {
            self.events.push_back(ClientEvent::Unmonitored {
                request,
                device,
                result: Ok(()),
            });
            return request;
        };
        for r in w.waiters {
            self.events.push_back(ClientEvent::Monitored {
                request: r,
                device: device.clone(),
                result: Err(ClientError::NotPermitted),
            });
        }
        self.monitoring.remove(&device);
        self.jobs.retain(|j| match j {
            Job::Monitor(d) | Job::Snapshot(d) | Job::AgentState(d) => *d != device,
        });
        match w.xref {
            Some(xref) if self.is_associated() => {
                self.mapper.monitor_stopped(&xref);
                let arg = json!({"crossRefIdentifier": xref});
                if let Err(e) =
                    self.invoke(now, "monitorStop", arg, What::Stop(device.clone(), request))
                {
                    self.events.push_back(ClientEvent::Unmonitored {
                        request,
                        device: device.clone(),
                        result: Err(e),
                    });
                }
            }
            _ => {
                self.events.push_back(ClientEvent::Unmonitored {
                    request,
                    device: device.clone(),
                    result: Ok(()),
                });
            }
        }
        self.driver(DriverEvent::Monitor {
            link: self.cfg.link.clone(),
            device,
            monitored: false,
        });
        request
    }

    /// Executes a core command; `native` gives the link's call id for every call it names.
    /// The result comes as a [`ClientEvent::Executed`].
    pub fn execute(
        &mut self,
        now: u64,
        command: &Command,
        native: &HashMap<CallId, NativeCallId>,
    ) -> RequestId {
        self.now = self.now.max(now);
        let request = self.request_id();
        let sent = if self.is_associated() {
            let agent_device = match command {
                Command::AgentLogout { agent }
                | Command::AgentReady { agent }
                | Command::AgentNotReady { agent, .. }
                | Command::AgentAfterCallWork { agent } => {
                    self.agent_devices.get(agent.as_str()).cloned()
                }
                _ => None,
            };
            requests::request_for_agent_at(command, native, agent_device.as_ref()).and_then(|r| {
                self.invoke(
                    now,
                    r.service,
                    r.argument,
                    What::Command(request, r.creates_call),
                )
            })
        } else {
            Err(ClientError::LinkDown)
        };
        if let Err(e) = sent {
            self.events.push_back(ClientEvent::Executed {
                request,
                result: Err(e),
            });
        }
        request
    }

    // ------------------------------------------------------------------ sans-IO

    /// Bytes arrived from the PBX.
    pub fn handle_input(&mut self, now: u64, data: &[u8]) {
        self.now = self.now.max(now);
        if self.xml.is_some() {
            if let Some(x) = self.xml.as_mut() {
                x.handle_input(now, data);
            }
            self.drain_xml(now);
            return;
        }
        let Wire::Ber { framing: f, .. } = self.cfg.wire else {
            return;
        };
        self.buf.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = self.buf.get(start..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            match framing::next_frame(f, rest, self.cfg.max_frame) {
                Ok(Some(frame)) => {
                    let payload =
                        Bytes::copy_from_slice(rest.get(frame.payload).unwrap_or_default());
                    start += frame.consumed.max(1);
                    match pdu::decode_with_limit(&payload, self.cfg.max_frame) {
                        Ok(p) => self.on_pdu(now, None, p),
                        Err(error) => self.events.push_back(ClientEvent::Malformed { error }),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let skip = framing::resync(f, rest).max(1);
                    start += skip;
                    self.events.push_back(ClientEvent::Malformed {
                        error: frame_error(e),
                    });
                }
            }
        }
        self.buf.drain(..start.min(self.buf.len()));
        self.pump(Some(now));
        self.prune();
    }

    /// Drops deadlines of requests that were answered, so the next deadline is a live one.
    fn prune(&mut self) {
        while let Some(&(_, iid, seq)) = self.deadlines.front() {
            if self.inflight.get(&iid).is_some_and(|p| p.seq == seq) {
                break;
            }
            self.deadlines.pop_front();
        }
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] wants to be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.assoc_deadline,
            self.deadlines.front().map(|d| d.0),
            self.xml.as_ref().and_then(|x| x.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Acts on the deadlines that have passed.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
        if self.assoc_deadline.is_some_and(|d| now >= d) {
            self.assoc_deadline = None;
            self.events.push_back(ClientEvent::Lost);
        }
        while let Some(&(at, iid, seq)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            if self.inflight.get(&iid).is_some_and(|p| p.seq == seq)
                && let Some(p) = self.inflight.remove(&iid)
            {
                if matches!(p.what, What::KeepAlive) {
                    self.events.push_back(ClientEvent::Lost);
                }
                self.fail(p.what, ClientError::Timeout);
            }
        }
        if let Some(x) = self.xml.as_mut() {
            x.handle_timeout(now);
        }
        self.drain_xml(now);
        self.pump(Some(now));
        self.prune();
    }

    /// Nothing was sent for a while: send a `SystemStatus` (answered, it proves the link).
    pub fn handle_keep_alive(&mut self, now: u64) {
        self.now = self.now.max(now);
        if self.is_associated()
            && !self
                .inflight
                .values()
                .any(|p| matches!(p.what, What::KeepAlive))
        {
            let _ = self.invoke(
                now,
                "systemStatus",
                json!({"systemStatus": "normal"}),
                What::KeepAlive,
            );
        }
    }

    // ------------------------------------------------------------------ internals

    fn pump(&mut self, now: Option<u64>) {
        if !self.is_associated() {
            return;
        }
        let now = now.unwrap_or(self.now);
        while self.windowed < self.cfg.monitor_window.max(1) {
            let Some(job) = self.jobs.pop_front() else {
                break;
            };
            let (service, arg, what) = match job {
                Job::Monitor(d) => (
                    "monitorStart",
                    json!({"monitorObject": {"deviceObject": requests::device_id(d.as_str())}}),
                    What::Monitor(d),
                ),
                Job::Snapshot(d) => (
                    "snapshotDevice",
                    json!({"snapshotObject": requests::device_id(d.as_str())}),
                    What::Snapshot(d),
                ),
                Job::AgentState(d) => (
                    "getAgentState",
                    json!({"device": requests::device_id(d.as_str())}),
                    What::AgentState(d),
                ),
            };
            match self.invoke(now, service, arg, what.clone()) {
                Ok(()) => self.windowed += 1,
                Err(e) => self.fail(what, e),
            }
        }
        if self.phase == Phase::Resyncing && self.jobs.is_empty() && self.windowed == 0 {
            self.phase = Phase::Up;
            self.driver(DriverEvent::LinkUp {
                link: self.cfg.link.clone(),
            });
        }
    }

    fn next_invoke_id(&mut self) -> i64 {
        loop {
            let id = i64::from(self.ids.next());
            if !self.inflight.contains_key(&id) {
                return id;
            }
        }
    }

    /// Sends a request and tracks it.
    fn invoke(
        &mut self,
        now: u64,
        service: &str,
        argument: Value,
        what: What,
    ) -> Result<(), ClientError> {
        let iid = if self.xml.is_some() {
            1
        } else {
            self.next_invoke_id()
        };
        let doc =
            json!({"rose": "invoke", "invokeId": iid, "operation": service, "argument": argument});
        let pdu = Pdu::from_jer(&doc).map_err(ClientError::Encode)?;
        let iid = match self.xml.as_mut() {
            Some(x) => i64::from(x.send(&pdu).map_err(ClientError::Encode)?),
            None => {
                self.send_pdu_raw(&pdu);
                iid
            }
        };
        if let Some(x) = self.xml.as_mut() {
            while let Some(f) = x.poll_transmit() {
                self.out.push_back(f);
            }
        }
        self.seq += 1;
        let deadline = now.saturating_add(self.cfg.request_timeout_ms);
        if let Some(old) = self.inflight.insert(
            iid,
            Pending {
                what,
                seq: self.seq,
            },
        ) {
            // An XML invoke id reused while still in flight: the old request cannot be
            // matched any more.
            self.fail(old.what, ClientError::Timeout);
        }
        self.deadlines.push_back((deadline, iid, self.seq));
        Ok(())
    }

    fn send_pdu_raw(&mut self, pdu: &Pdu) {
        let Wire::Ber { framing: f, .. } = self.cfg.wire else {
            return;
        };
        let bytes = pdu::encode_to_vec(pdu);
        let mut frame = Vec::with_capacity(bytes.len() + 3);
        if framing::write_frame(f, &bytes, None, &mut frame).is_ok() {
            self.out.push_back(frame);
        }
    }

    fn drain_xml(&mut self, now: u64) {
        let Some(x) = self.xml.as_mut() else {
            return;
        };
        let mut evs = Vec::new();
        while let Some(e) = x.poll_event() {
            evs.push(e);
        }
        while let Some(f) = x.poll_transmit() {
            self.out.push_back(f);
        }
        for e in evs {
            match e {
                SessionEvent::Started { resumed, .. } => {
                    if !resumed {
                        for w in self.wanted.values_mut() {
                            w.xref = None;
                        }
                    }
                    if self.phase == Phase::Associating {
                        self.associated();
                    }
                }
                SessionEvent::Polled { status } if status.as_deref().is_some_and(lost_monitors) => {
                    self.resync(now);
                }
                SessionEvent::Refused { reason } => {
                    self.events.push_back(ClientEvent::Refused { reason });
                }
                SessionEvent::Lost => self.events.push_back(ClientEvent::Lost),
                SessionEvent::Message { invoke_id, pdu } => {
                    self.on_pdu(now, Some(i64::from(invoke_id)), pdu);
                    self.prune();
                }
                SessionEvent::Malformed { error } => {
                    self.events.push_back(ClientEvent::Malformed { error });
                }
                _ => {}
            }
        }
        self.pump(Some(now));
    }

    fn on_pdu(&mut self, now: u64, header_id: Option<i64>, pdu: Pdu) {
        match &pdu {
            Pdu::Acse(a) => self.on_acse(a),
            Pdu::Invoke(inv) => {
                // Read from the typed invoke: an event report (nearly every PDU) is mapped
                // without first being turned into a JSON document.
                let system_status = matches!(inv.opcode, Code::Local(c)
                    if Operation::from_code(c) == Some(Operation::SystemStatus));
                if system_status && self.xml.is_none() {
                    let answer = json!({"rose": "returnResult", "invokeId": inv.invoke_id,
                        "operation": "systemStatus", "result": {"noData": null}});
                    if let Ok(p) = Pdu::from_jer(&answer) {
                        self.send_pdu_raw(&p);
                    }
                    if let Some(pdu::Payload::Typed(Argument::SystemStatus(arg))) = &inv.argument
                        && matches!(
                            arg.system_status,
                            SystemStatus::Initializing
                                | SystemStatus::Enabled
                                | SystemStatus::MessagesLost
                        )
                    {
                        self.resync(now);
                    }
                } else if let Some(ev) = self.mapper.map_one(&pdu) {
                    self.stamp = match &inv.argument {
                        Some(pdu::Payload::Typed(Argument::CSTAEventReport(arg))) => {
                            crate::mapping::time::event_time_us(arg)
                        }
                        _ => None,
                    };
                    self.call_event(ev);
                    self.stamp = None;
                }
            }
            Pdu::ReturnResult(_) | Pdu::ReturnError(_) | Pdu::Reject(_) => {
                let Some(iid) = header_id.or_else(|| pdu.invoke_id()) else {
                    return;
                };
                let Some(p) = self.inflight.remove(&iid) else {
                    return;
                };
                let doc = pdu.to_json();
                match &pdu {
                    Pdu::ReturnResult(_) => {
                        let result = doc.get("result").cloned().unwrap_or(Value::Null);
                        self.succeed(now, p.what, &result);
                    }
                    Pdu::ReturnError(_) => {
                        let device = match &p.what {
                            What::Monitor(d) | What::Snapshot(d) => Some(d.clone()),
                            _ => None,
                        };
                        let e = requests::error_of(&doc, device.as_ref());
                        self.fail(p.what, e);
                    }
                    _ => {
                        let name = doc
                            .get("problem")
                            .map(|v| format!("reject {v}"))
                            .unwrap_or_else(|| "reject".into());
                        self.fail(p.what, ClientError::Pbx { code: None, name });
                    }
                }
            }
        }
    }

    fn on_acse(&mut self, a: &pdu::Acse) {
        let doc = Pdu::Acse(a.clone()).to_jer();
        match doc.get("acse").and_then(Value::as_str) {
            Some("aare") if self.phase == Phase::Associating => {
                let result = doc.pointer("/apdu/result").and_then(Value::as_i64);
                if result == Some(0) {
                    self.associated();
                } else {
                    self.assoc_deadline = None;
                    let reason = doc
                        .pointer("/apdu/result-source-diagnostic")
                        .map(Value::to_string)
                        .unwrap_or_else(|| format!("result {result:?}"));
                    self.events.push_back(ClientEvent::Refused { reason });
                }
            }
            Some("abrt" | "rlrq") => self.events.push_back(ClientEvent::Lost),
            _ => {}
        }
    }

    fn succeed(&mut self, now: u64, what: What, result: &Value) {
        match what {
            What::KeepAlive => {}
            What::Monitor(device) => {
                self.windowed = self.windowed.saturating_sub(1);
                self.monitoring.remove(&device);
                let xref = result
                    .get("crossRefIdentifier")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_uppercase);
                let Some(w) = self.wanted.get_mut(&device) else {
                    // Stopped meanwhile: stop it at the PBX too.
                    if let Some(x) = xref {
                        let r = self.request_id();
                        let _ = self.invoke(
                            now,
                            "monitorStop",
                            json!({"crossRefIdentifier": x}),
                            What::Stop(device, r),
                        );
                    }
                    return;
                };
                let Some(xref) = xref else {
                    let waiters = std::mem::take(&mut w.waiters);
                    self.wanted.remove(&device);
                    for request in waiters {
                        self.events.push_back(ClientEvent::Monitored {
                            request,
                            device: device.clone(),
                            result: Err(ClientError::Pbx {
                                code: None,
                                name: "no crossRefIdentifier".into(),
                            }),
                        });
                    }
                    return;
                };
                w.xref = Some(xref.clone());
                let waiters = std::mem::take(&mut w.waiters);
                self.mapper.monitor_started(&xref, device.as_str());
                self.driver(DriverEvent::Monitor {
                    link: self.cfg.link.clone(),
                    device: device.clone(),
                    monitored: true,
                });
                for request in waiters {
                    self.events.push_back(ClientEvent::Monitored {
                        request,
                        device: device.clone(),
                        result: Ok(()),
                    });
                }
                // Monitors first (their results are awaited), then the snapshots.
                self.jobs.push_back(Job::Snapshot(device));
            }
            What::Snapshot(device) => {
                self.windowed = self.windowed.saturating_sub(1);
                if !self.wanted.contains_key(&device) {
                    return;
                }
                let entries = result
                    .pointer("/crossRefIDorSnapshotData/snapshotData")
                    .or_else(|| result.get("snapshotData"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let calls = entries
                    .iter()
                    .filter_map(|e| {
                        let call = e
                            .get("connectionIdentifier")
                            .map(crate::mapping::connection)?
                            .0?;
                        Some(SnapshotEntry {
                            call: call.to_ascii_uppercase().into(),
                            state: requests::snapshot_state(e.get("localCallState")),
                        })
                    })
                    .collect();
                self.driver(DriverEvent::DeviceSnapshot {
                    link: self.cfg.link.clone(),
                    device: device.clone(),
                    calls,
                });
                // Then who is logged on there: agents that logged on before this link came up
                // are known from this answer only.
                self.jobs.push_back(Job::AgentState(device));
            }
            What::AgentState(device) => {
                self.windowed = self.windowed.saturating_sub(1);
                if !self.wanted.contains_key(&device) {
                    return;
                }
                let list = result
                    .get("agentStateList")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for entry in list.iter().take(64) {
                    let Some(agent) = entry.get("agentID").and_then(crate::mapping::agent_id)
                    else {
                        continue;
                    };
                    let agent = AgentId::from(agent.as_str());
                    if entry.get("loggedOn").and_then(Value::as_bool) != Some(true) {
                        self.driver(DriverEvent::Agent {
                            link: self.cfg.link.clone(),
                            agent,
                            event: AgentEventKind::LoggedOff,
                        });
                        continue;
                    }
                    let info = entry.pointer("/agentInfo/0");
                    let queues = info
                        .and_then(|i| i.get("acdGroup"))
                        .and_then(crate::mapping::device)
                        .into_iter()
                        .map(Into::into)
                        .collect();
                    self.driver(DriverEvent::Agent {
                        link: self.cfg.link.clone(),
                        agent: agent.clone(),
                        event: AgentEventKind::LoggedOn {
                            device: Some(device.clone()),
                            queues,
                        },
                    });
                    let state = match info
                        .and_then(|i| i.get("agentState"))
                        .and_then(Value::as_str)
                    {
                        Some("agentReady") => Some(AgentEventKind::Ready),
                        Some("agentNotReady") => Some(AgentEventKind::NotReady { reason: None }),
                        Some("agentWorkingAfterCall") => Some(AgentEventKind::WorkingAfterCall),
                        _ => None,
                    };
                    if let Some(event) = state {
                        self.driver(DriverEvent::Agent {
                            link: self.cfg.link.clone(),
                            agent,
                            event,
                        });
                    }
                }
            }
            What::Stop(device, request) => {
                self.events.push_back(ClientEvent::Unmonitored {
                    request,
                    device,
                    result: Ok(()),
                });
            }
            What::Command(request, creates_call) => {
                let call = if creates_call {
                    requests::new_call(result)
                } else {
                    None
                };
                self.events.push_back(ClientEvent::Executed {
                    request,
                    result: Ok(call),
                });
            }
        }
    }

    fn fail(&mut self, what: What, error: ClientError) {
        match what {
            What::KeepAlive => {}
            What::Monitor(device) => {
                self.windowed = self.windowed.saturating_sub(1);
                self.monitoring.remove(&device);
                let waiters = match self.wanted.get_mut(&device) {
                    Some(w) => std::mem::take(&mut w.waiters),
                    None => Vec::new(),
                };
                // A device the PBX refuses is not retried; one that timed out or was cut off
                // is tried again on the next association.
                if !matches!(error, ClientError::LinkDown | ClientError::Timeout) {
                    self.wanted.remove(&device);
                }
                for request in waiters {
                    self.events.push_back(ClientEvent::Monitored {
                        request,
                        device: device.clone(),
                        result: Err(error.clone()),
                    });
                }
            }
            What::Snapshot(_) | What::AgentState(_) => {
                self.windowed = self.windowed.saturating_sub(1);
            }
            What::Stop(device, request) => {
                // The monitor is gone from the application's side either way.
                let result = match error {
                    ClientError::LinkDown => Ok(()),
                    e => Err(e),
                };
                self.events.push_back(ClientEvent::Unmonitored {
                    request,
                    device,
                    result,
                });
            }
            What::Command(request, _) => {
                self.events.push_back(ClientEvent::Executed {
                    request,
                    result: Err(error),
                });
            }
        }
    }
}

/// Whether a PBX's `SystemStatus` (its JER name) means its monitors are gone (a restart, lost
/// messages); the typed check in `on_pdu` names the same three values.
fn lost_monitors(status: &str) -> bool {
    matches!(status, "initializing" | "enabled" | "messagesLost")
}

/// The CSTA version bits offered in the AARQ: ECMA-285 editions 2 to 4 (bits 4, 14, 18).
fn csta_versions() -> Value {
    // Bits 0..=18, with bits 4, 14 and 18 set: 0000 1000 0000 0010 001.
    json!({"value": "080220", "length": 19})
}

/// The AARQ: the CSTA application context, the CSTA versions and, with credentials, the
/// authentication the HiPath and Panasonic links expect (sender-acse-requirements =
/// authentication; calling-authentication-value = external { \[0\] { user, password } }).
pub fn aarq(credentials: Option<&Credentials>) -> Pdu {
    let mut apdu = json!({
        "protocol-version": {"value": "80", "length": 1},
        "aSO-context-name": pdu::CSTA3_USER_INFORMATION_OID,
    });
    if let Some(c) = credentials {
        apdu["sender-acse-requirements"] = json!({"value": "80", "length": 1});
        use crate::ber::{Tag, begin, finish, write_primitive};
        let mut any = Vec::new();
        let mark = begin(&mut any, Tag::new(2, 0), true);
        for s in [&c.user, &c.password] {
            write_primitive(&mut any, Tag::new(0, 4), s.as_bytes());
        }
        finish(&mut any, mark);
        apdu["calling-authentication-value"] =
            json!({"external": {"encoding": {"single-ASN1-type": hex(&any)}}});
    }
    let doc = json!({
        "acse": "aarq",
        "apdu": apdu,
        "cstaUserInformation": {"newDefinition": {"cSTAVersion": csta_versions()}},
    });
    Pdu::from_jer(&doc).unwrap_or_else(|_| {
        Pdu::from_jer(
            &json!({"acse": "aarq", "apdu": {"aSO-context-name": pdu::CSTA3_USER_INFORMATION_OID}}),
        )
        .unwrap_or(Pdu::Reject(pdu::Reject {
            invoke_id: None,
            problem: crate::generated::types::RejectProblem::default(),
        }))
    })
}

/// A framing error as the crate's error.
fn frame_error(e: framing::FrameError) -> crate::Error {
    match e {
        framing::FrameError::TooLong { len, max } => crate::Error::TooLong { len, max },
        _ => crate::Error::InvalidLength { offset: 0 },
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::new(), |mut o, x| {
        let _ = write!(o, "{x:02X}");
        o
    })
}

/// The credentials an AARQ carries (what a PBX, or the simulator, checks), if any.
pub fn aarq_credentials(pdu: &Pdu) -> Option<Credentials> {
    let doc = pdu.to_jer();
    let h = doc
        .pointer("/apdu/calling-authentication-value/external/encoding/single-ASN1-type")?
        .as_str()?;
    let bytes: Vec<u8> = (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let b = Bytes::from(bytes);
    let outer = crate::ber::read_tlv(&b, 0, b.len(), 0).ok()?;
    let mut at = outer.content_start;
    let mut strings = Vec::new();
    while at < outer.content_end && strings.len() < 2 {
        let t = crate::ber::read_tlv(&b, at, outer.content_end, 1).ok()?;
        strings.push(String::from_utf8_lossy(b.get(t.content_start..t.content_end)?).into_owned());
        at = t.end;
    }
    let mut it = strings.into_iter();
    Some(Credentials {
        user: it.next()?,
        password: it.next()?,
    })
}
