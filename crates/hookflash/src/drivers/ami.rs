//! The Asterisk Manager Interface driver (`ami+tcp://user:secret@pbx:5038`).
//!
//! Runs the sans-IO [`hookflash_ami::Session`] over a link transport: logs in (MD5 challenge
//! unless `?md5=false`), maps every event through [`hookflash_ami::mapping::Mapper`],
//! reconnects with backoff, and turns core commands into AMI actions (`Originate`, `Hangup`,
//! `BlindTransfer`, `Atxfer`, `Redirect`, `PlayDTMF`, `Setvar`, `QueueAdd`/`QueueRemove`/
//! `QueuePause`).
//!
//! After every (re)connect it resyncs before the link is up: `CoreShowChannels` — calls known
//! before whose channels are all gone ended during the outage (`CallCleared`), and every
//! watched device gets a snapshot of its calls; then `QueueStatus` — every `QueueMember` is an
//! agent logged on at its interface in that queue, ready or paused with the reason
//! (`after-call-work` reads as wrap-up), agents no longer listed are logged off, and every
//! `QueueEntry` is a caller waiting in its queue. Agents the PBX lists can be commanded (pause,
//! ready, log off) even when they logged on elsewhere.
//!
//! Then the device states: `DeviceStateList` (Asterisk 13+), else `ExtensionStateList` (the
//! devices of the hints); a PBX that answers neither (Asterisk 11) leaves the device check off.
//! A device the list shows busy (in use, busy, ringing, on hold) with no channel in the channel
//! list, or idle with a live channel, is counted
//! ([`AmiDriver::device_state_mismatches`]) and calls are not invented from it.
//!
//! AMI reports every channel on the PBX, so monitoring is logical: [`Driver::monitor`] marks
//! devices as watched (screen pops, snapshots). It refuses a device the PBX's device list does
//! not have ([`Error::InvalidDevice`]); while no list is known (before the first resync, or a
//! PBX without the lists) every device is accepted. A watched device is checked again at every
//! resync: one that left the list is reported unmonitored, one that joined it monitored.
//! Asterisk has no hold or
//! conference verb in AMI, so those are not in the capabilities. Devices are channel
//! technology names (`PJSIP/201`); the dial-plan context for originate and transfers comes from
//! `?context=` (default `from-internal`).

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use hookflash_ami::{
    Action, Event, EventKind, Session, SessionConfig, SessionEvent,
    devstate::{self, DeviceState},
    event::ChannelState,
    mapping::{self, Mapper, device_of},
    session::ActionResult,
};
use hookflash_core::{
    command::{Command, Verbs},
    driver::{AgentEventKind, CallEventKind, DriverEvent, SnapshotEntry},
    model::{AgentId, ConnectionState, DeviceId, LinkId, NativeCallId, QueueId},
};
use hookflash_link::{
    backoff::{Backoff, BackoffConfig},
    session::Clock,
    transport::{self, Transport},
    url::LinkUrl,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{mpsc, oneshot},
};

use crate::{
    Error, PbxCause,
    spi::{Capabilities, CommandOutcome, Driver, DriverCommand, EventSink, MonitorResult},
};

/// Most channels remembered for command translation.
const MAX_CHANNELS: usize = 100_000;
/// Most commands waiting for the link task at once.
const COMMAND_QUEUE: usize = 1024;
/// How long a command may take end to end (the session's own action timeout is shorter).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// A request from a command to the link task.
struct Request {
    action: Action,
    reply: oneshot::Sender<Result<ActionResult, Error>>,
}

/// What the link task knows that commands need.
#[derive(Debug, Default)]
struct Shared {
    /// Call → the channels on it, by device.
    channels: HashMap<NativeCallId, Vec<(DeviceId, String)>>,
    /// Channel → its call (to find it again at hangup).
    call_of: HashMap<String, NativeCallId>,
    /// Agents logged in through this driver: the interface and queues.
    agents: HashMap<AgentId, (DeviceId, Vec<QueueId>)>,
    /// Watched devices.
    monitored: BTreeSet<DeviceId>,
    /// Watched devices last reported monitored to the core.
    reported: BTreeSet<DeviceId>,
    /// The PBX's devices and their states, from the last resync's device list and the
    /// state events since (`None`: no list, every device is accepted).
    states: Option<HashMap<DeviceId, DeviceState>>,
    /// Whether the link is logged in.
    up: bool,
}

impl Shared {
    /// Learns an agent's interface and queues from a queue-member event, so that agent
    /// commands work for agents that logged on elsewhere (or before the link came up).
    fn learn_member(&mut self, ev: &Event) {
        let (Some(agent), Some(queue)) = (mapping::member_agent(ev), ev.get("Queue")) else {
            return;
        };
        let agent = AgentId::from(agent);
        let queue = QueueId::from(queue);
        match ev.kind {
            EventKind::QueueMember | EventKind::QueueMemberAdded => {
                let Some(device) = mapping::member_device(ev) else {
                    return;
                };
                if self.agents.len() >= MAX_CHANNELS && !self.agents.contains_key(&agent) {
                    return;
                }
                let e = self
                    .agents
                    .entry(agent)
                    .or_insert_with(|| (DeviceId::from(device), Vec::new()));
                e.0 = DeviceId::from(device);
                if !e.1.contains(&queue) {
                    e.1.push(queue);
                }
            }
            EventKind::QueueMemberRemoved => {
                if let Some(e) = self.agents.get_mut(&agent) {
                    e.1.retain(|q| *q != queue);
                    if e.1.is_empty() {
                        self.agents.remove(&agent);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether `device` may be monitored: the device list has it (in any state but
    /// `INVALID`), or there is no list.
    fn known(&self, device: &DeviceId) -> bool {
        self.states
            .as_ref()
            .is_none_or(|m| m.get(device).is_some_and(DeviceState::exists))
    }

    /// Keeps the device list current from a live state event.
    fn observe_state(&mut self, ev: &Event) {
        let Some(states) = self.states.as_mut() else {
            return;
        };
        for (device, state) in devstate::device_states(ev) {
            let device = DeviceId::from(device);
            // A hint of several devices tells no one device's state: keep what is known.
            if state == DeviceState::Unknown && states.contains_key(&device) {
                continue;
            }
            if states.len() < MAX_CHANNELS || states.contains_key(&device) {
                states.insert(device, state);
            }
        }
    }

    fn observe(&mut self, ev: &Event) {
        if matches!(
            ev.kind,
            EventKind::DeviceStateChange | EventKind::ExtensionStatus
        ) {
            return self.observe_state(ev);
        }
        if matches!(
            ev.kind,
            EventKind::QueueMemberAdded | EventKind::QueueMemberRemoved
        ) {
            return self.learn_member(ev);
        }
        if ev.kind == EventKind::AttendedTransfer {
            // The consultation's parties are the transferred call's now (their channels keep
            // their own Linkedid, the core knows the call by the first one).
            if let (Some(into), Some(from)) = (
                ev.get("OrigTransfererLinkedid"),
                ev.get("SecondTransfererLinkedid"),
            ) && into != from
                && let Some(moved) = self.channels.remove(&NativeCallId::from(from))
            {
                let into = NativeCallId::from(into);
                for (_, c) in &moved {
                    self.call_of.insert(c.clone(), into.clone());
                }
                self.channels.entry(into).or_default().extend(moved);
            }
            return;
        }
        let Some(info) = ev.channel() else { return };
        let channel = info.channel.to_owned();
        if ev.kind == EventKind::Hangup {
            if let Some(call) = self.call_of.remove(&channel)
                && let Some(list) = self.channels.get_mut(&call)
            {
                list.retain(|(_, c)| c != &channel);
                if list.is_empty() {
                    self.channels.remove(&call);
                }
            }
            return;
        }
        let Some(call) = info.linkedid.or(info.uniqueid) else {
            return;
        };
        if self.call_of.contains_key(&channel) || self.call_of.len() >= MAX_CHANNELS {
            return;
        }
        let call = NativeCallId::from(call);
        self.call_of.insert(channel.clone(), call.clone());
        self.channels
            .entry(call)
            .or_default()
            .push((DeviceId::from(device_of(&channel)), channel));
    }

    fn channel(&self, call: &NativeCallId, device: &DeviceId) -> Result<String, Error> {
        self.channels
            .get(call)
            .and_then(|l| l.iter().find(|(d, _)| d == device))
            .map(|(_, c)| c.clone())
            .ok_or_else(|| Error::InvalidDevice(device.clone()))
    }

    /// A channel of `call` not at `device` (the far end).
    fn other_channel(&self, call: &NativeCallId, device: &DeviceId) -> Result<String, Error> {
        self.channels
            .get(call)
            .and_then(|l| l.iter().find(|(d, _)| d != device))
            .map(|(_, c)| c.clone())
            .ok_or(Error::NotPermitted)
    }

    fn reset(&mut self) {
        self.channels.clear();
        self.call_of.clear();
    }
}

/// The AMI driver. See the [module docs](self).
pub struct AmiDriver {
    link: LinkId,
    url: LinkUrl,
    config: SessionConfig,
    context: String,
    backoff: BackoffConfig,
    tx: mpsc::Sender<Request>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Request>>,
    shared: Arc<Mutex<Shared>>,
    events: mpsc::UnboundedSender<DriverEvent>,
    events_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<DriverEvent>>,
    mismatches: Arc<AtomicU64>,
}

impl std::fmt::Debug for AmiDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiDriver")
            .field("link", &self.link)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl AmiDriver {
    /// A driver for `url` (`ami+tcp://user:secret@host:5038?context=from-internal&md5=true`).
    pub fn new(link: LinkId, url: &LinkUrl) -> Result<Self, Error> {
        let config = SessionConfig {
            username: url.user.clone().unwrap_or_default(),
            secret: url.password.clone().unwrap_or_default(),
            md5: url.option("md5") != Some("false"),
            ..SessionConfig::default()
        };
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (events, events_rx) = mpsc::unbounded_channel();
        Ok(Self {
            link,
            url: url.clone(),
            config,
            context: url.option("context").unwrap_or("from-internal").to_owned(),
            backoff: BackoffConfig::default(),
            tx,
            rx: tokio::sync::Mutex::new(rx),
            shared: Arc::new(Mutex::new(Shared::default())),
            events,
            events_rx: tokio::sync::Mutex::new(events_rx),
            mismatches: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many times a resync found a device's listed state at odds with the channel list
    /// (listed busy with no channel, or idle with a live channel).
    pub fn device_state_mismatches(&self) -> u64 {
        self.mismatches.load(Ordering::Relaxed)
    }

    /// The counter behind [`AmiDriver::device_state_mismatches`], to read after the driver
    /// was handed to a [`Cti`](crate::Cti).
    pub fn device_state_mismatch_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.mismatches)
    }

    /// A device's state as the PBX last listed or reported it (`None`: not listed, or no
    /// list).
    pub fn device_state(&self, device: &DeviceId) -> Option<DeviceState> {
        self.shared().states.as_ref()?.get(device).cloned()
    }

    /// Sets the reconnect backoff (tests use short delays).
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn action(&self, action: Action) -> Result<ActionResult, Error> {
        if !self.shared().up {
            return Err(Error::LinkDown);
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { action, reply })
            .await
            .map_err(|_| Error::LinkDown)?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::LinkDown),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// The actions that carry out `cmd`, in order.
    fn actions(&self, cmd: &DriverCommand) -> Result<(Vec<Action>, Option<NativeCallId>), Error> {
        let sh = self.shared();
        let ctx = self.context.clone();
        let one = |a: Action| Ok((vec![a], None));
        match &cmd.command {
            Command::MakeCall { from, to } => {
                let id = new_unique_id();
                Ok((
                    vec![Action::Originate {
                        channel: from.to_string(),
                        exten: to.clone(),
                        context: ctx,
                        priority: 1,
                        caller_id: None,
                        timeout_ms: Some(30_000),
                        channel_id: Some(id.clone()),
                        other_channel_id: None,
                        variables: Vec::new(),
                    }],
                    Some(NativeCallId::from(id.as_str())),
                ))
            }
            Command::Clear { call, device } => one(Action::Hangup {
                channel: sh.channel(cmd.native(*call)?, device)?,
                cause: None,
            }),
            Command::ClearCall { call } => {
                let native = cmd.native(*call)?;
                let list = sh.channels.get(native).ok_or(Error::InvalidCall(*call))?;
                Ok((
                    list.iter()
                        .map(|(_, c)| Action::Hangup {
                            channel: c.clone(),
                            cause: None,
                        })
                        .collect(),
                    None,
                ))
            }
            Command::SingleStepTransfer { call, device, to } => one(Action::BlindTransfer {
                channel: sh.channel(cmd.native(*call)?, device)?,
                exten: to.clone(),
                context: ctx,
            }),
            Command::Consult { call, device, to } => one(Action::Atxfer {
                channel: sh.channel(cmd.native(*call)?, device)?,
                exten: to.clone(),
                context: ctx,
            }),
            // An attended transfer in Asterisk completes when the transferring party hangs up.
            Command::Transfer { active, device, .. } => one(Action::Hangup {
                channel: sh.channel(cmd.native(*active)?, device)?,
                cause: None,
            }),
            Command::Deflect { call, device, to } => one(Action::Redirect {
                channel: sh.other_channel(cmd.native(*call)?, device)?,
                extra_channel: None,
                exten: to.clone(),
                context: ctx,
                priority: 1,
            }),
            Command::SendDigits {
                call,
                device,
                digits,
            } => {
                let channel = sh.channel(cmd.native(*call)?, device)?;
                Ok((
                    digits
                        .chars()
                        .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
                        .map(|d| Action::Custom {
                            name: "PlayDTMF".into(),
                            headers: vec![
                                ("Channel".into(), channel.clone()),
                                ("Digit".into(), d.to_string()),
                            ],
                        })
                        .collect(),
                    None,
                ))
            }
            Command::AttachData { call, data } => {
                let native = cmd.native(*call)?;
                let channel = sh
                    .channels
                    .get(native)
                    .and_then(|l| l.first())
                    .map(|(_, c)| c.clone())
                    .ok_or(Error::InvalidCall(*call))?;
                Ok((
                    data.iter()
                        .map(|(k, v)| Action::Setvar {
                            channel: Some(channel.clone()),
                            variable: format!("HOOKFLASH_{k}"),
                            value: v.clone(),
                        })
                        .collect(),
                    None,
                ))
            }
            Command::AgentLogin {
                agent,
                device,
                queues,
            } => Ok((
                queues
                    .iter()
                    .map(|q| Action::QueueAdd {
                        queue: q.to_string(),
                        interface: device.to_string(),
                        member_name: Some(agent.to_string()),
                        paused: true,
                    })
                    .collect(),
                None,
            )),
            Command::AgentLogout { agent } => {
                let (device, queues) = sh
                    .agents
                    .get(agent)
                    .cloned()
                    .ok_or_else(|| Error::InvalidDevice(agent.clone()))?;
                Ok((
                    queues
                        .iter()
                        .map(|q| Action::QueueRemove {
                            queue: q.to_string(),
                            interface: device.to_string(),
                        })
                        .collect(),
                    None,
                ))
            }
            Command::AgentReady { agent } => one(pause(&sh, agent, false, None)?),
            Command::AgentNotReady { agent, reason } => {
                one(pause(&sh, agent, true, reason.clone())?)
            }
            Command::AgentAfterCallWork { agent } => {
                one(pause(&sh, agent, true, Some("after-call-work".to_owned()))?)
            }
            _ => Err(Error::Unsupported),
        }
    }

    async fn session(
        &self,
        t: Transport,
        session: &mut Session,
        mapper: &mut Mapper,
        clock: &Clock,
        sink: &EventSink,
    ) -> Result<(), Error> {
        let mut rx = self.rx.lock().await;
        let mut events_rx = self.events_rx.lock().await;
        let (mut reader, mut writer) = tokio::io::split(t);
        session.connected(clock.now_ms());
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut resync = Resync::done();
        let mut mapped = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Some(ev) = session.poll_event() {
                match ev {
                    SessionEvent::LoggedIn => {
                        sink.send(DriverEvent::LinkResyncing {
                            link: self.link.clone(),
                        })
                        .await?;
                        let id = session
                            .send(clock.now_ms(), Action::CoreShowChannels)
                            .map_err(ami_error)?;
                        pending.insert(id, Pending::Snapshot);
                        let id = session
                            .send(clock.now_ms(), Action::QueueStatus { queue: None })
                            .map_err(ami_error)?;
                        pending.insert(id, Pending::Queues);
                        let id = session
                            .send(clock.now_ms(), Action::DeviceStateList)
                            .map_err(ami_error)?;
                        pending.insert(id, Pending::Devices { fallback: true });
                        resync = Resync::default();
                    }
                    SessionEvent::LoginFailed(e) => {
                        return Err(match e {
                            hookflash_ami::Error::LoginFailed { message } => {
                                Error::LoginRefused { reason: message }
                            }
                            other => ami_error(other),
                        });
                    }
                    SessionEvent::Event(ev) => {
                        self.shared().observe(&ev);
                        mapper.map_into(&self.link, &ev, &mut mapped);
                        for de in mapped.drain(..) {
                            sink.send(de).await?;
                        }
                    }
                    SessionEvent::Completed { action_id, result } => {
                        match pending.remove(&action_id) {
                            Some(Pending::User(reply)) => {
                                let _ = reply.send(result.map_err(ami_error));
                            }
                            Some(Pending::Snapshot) => {
                                // The live channels are the list's from here on (events
                                // after it keep counting while the queue status comes).
                                if let Ok(r) = &result {
                                    resync.ended = mapper.resync_channels(&r.events);
                                }
                                resync.channels = Some(result.ok());
                            }
                            Some(Pending::Queues) => {
                                resync.queues = Some(result.ok());
                            }
                            Some(Pending::Devices { fallback }) => match result {
                                Ok(r) => resync.devices = Some(Some(r)),
                                // An older PBX: the hints' extension states instead.
                                Err(hookflash_ami::Error::ActionFailed { .. }) if fallback => {
                                    let id = session
                                        .send(
                                            clock.now_ms(),
                                            Action::Custom {
                                                name: "ExtensionStateList".into(),
                                                headers: Vec::new(),
                                            },
                                        )
                                        .map_err(ami_error)?;
                                    pending.insert(id, Pending::Devices { fallback: false });
                                }
                                // Neither list: the device check is off.
                                Err(_) => resync.devices = Some(None),
                            },
                            None => {}
                        }
                    }
                    SessionEvent::Unresponsive => return Err(Error::LinkDown),
                    _ => {}
                }
                if let Resync {
                    channels: Some(channels),
                    queues: Some(queues),
                    devices: Some(devices),
                    ..
                } = &mut resync
                {
                    let lists = Lists {
                        channels: channels.take(),
                        queues: queues.take(),
                        devices: devices.take(),
                    };
                    let ended = std::mem::take(&mut resync.ended);
                    resync = Resync::done();
                    self.resync(lists, ended, mapper, sink).await?;
                }
            }
            while let Ok(ev) = events_rx.try_recv() {
                sink.send(ev).await?;
            }
            while let Some(out) = session.poll_transmit() {
                writer.write_all(&out).await.map_err(link_down)?;
            }
            let deadline = session.poll_timeout().map(|t| clock.instant_at(t));
            tokio::select! {
                n = reader.read(&mut buf) => {
                    let n = n.map_err(link_down)?;
                    if n == 0 {
                        return Err(Error::LinkDown);
                    }
                    session.handle_input(clock.now_ms(), &buf[..n]);
                }
                req = rx.recv() => {
                    let Some(req) = req else { return Ok(()) };
                    match session.send(clock.now_ms(), req.action) {
                        Ok(id) => { pending.insert(id, Pending::User(req.reply)); }
                        Err(e) => { let _ = req.reply.send(Err(ami_error(e))); }
                    }
                }
                ev = events_rx.recv() => {
                    if let Some(ev) = ev {
                        sink.send(ev).await?;
                    }
                }
                () = sleep_until(deadline) => session.handle_timeout(clock.now_ms()),
                () = sink.closed() => return Ok(()),
            }
        }
    }

    /// After a (re)connect: calls that ended during the outage end, the device list is
    /// checked against the channel list, every watched device the PBX has is monitored and
    /// snapshotted (one it no longer has is unmonitored), the queue members (agents: logged
    /// on, paused with the reason) and the callers waiting in queues; then the link is up.
    async fn resync(
        &self,
        lists: Lists,
        ended: Vec<String>,
        mapper: &mut Mapper,
        sink: &EventSink,
    ) -> Result<(), Error> {
        let Lists {
            channels,
            queues,
            devices,
        } = lists;
        let link = &self.link;
        let states = devices.map(|r| {
            let mut m = HashMap::new();
            for ev in &r.events {
                for (device, state) in devstate::device_states(ev) {
                    if m.len() < MAX_CHANNELS {
                        m.insert(DeviceId::from(device), state);
                    }
                }
            }
            m
        });
        let list: &[Event] = channels.as_ref().map_or(&[], |r| r.events.as_slice());
        // Calls alive before the outage whose channels are all gone ended meanwhile (a failed
        // CoreShowChannels tells nothing: then the picture is kept rather than every call
        // ended).
        for call in ended {
            sink.send(DriverEvent::Call {
                link: link.clone(),
                call: NativeCallId::from(call.as_str()),
                event: CallEventKind::CallCleared,
                cause: None,
            })
            .await?;
        }
        let mut by_device: HashMap<DeviceId, Vec<SnapshotEntry>> = HashMap::new();
        let mut call_of_channel: HashMap<&str, &str> = HashMap::new();
        // Devices with any channel in the list (a `Down` one included).
        let mut with_channel: HashSet<DeviceId> = HashSet::new();
        let (watched, gone) = {
            let mut sh = self.shared();
            sh.reset();
            for ev in list {
                sh.observe(ev);
                let Some(info) = ev.channel() else { continue };
                if with_channel.len() < MAX_CHANNELS {
                    with_channel.insert(DeviceId::from(device_of(info.channel)));
                }
                let Some(call) = info.linkedid.or(info.uniqueid) else {
                    continue;
                };
                call_of_channel.insert(info.channel, call);
                let state = match info.state {
                    Some(ChannelState::Ring | ChannelState::Dialing) => ConnectionState::Initiated,
                    Some(ChannelState::Ringing | ChannelState::PreRing) => {
                        ConnectionState::Alerting
                    }
                    Some(ChannelState::Up) => ConnectionState::Connected,
                    Some(ChannelState::Busy) => ConnectionState::Failed,
                    Some(ChannelState::Down) | None => continue,
                    Some(other) => ConnectionState::Unknown {
                        raw: format!("{other:?}"),
                    },
                };
                by_device
                    .entry(DeviceId::from(device_of(info.channel)))
                    .or_default()
                    .push(SnapshotEntry {
                        call: NativeCallId::from(call),
                        state,
                    });
            }
            if let Some(states) = &states {
                self.cross_check(states, &with_channel, &by_device);
            }
            sh.states = states;
            sh.up = true;
            let (watched, gone): (Vec<DeviceId>, Vec<DeviceId>) =
                sh.monitored.iter().cloned().partition(|d| sh.known(d));
            let gone: Vec<DeviceId> = gone
                .into_iter()
                .filter(|d| sh.reported.contains(d))
                .collect();
            sh.reported = watched.iter().cloned().collect();
            (watched, gone)
        };
        for device in gone {
            sink.send(DriverEvent::Monitor {
                link: link.clone(),
                device,
                monitored: false,
            })
            .await?;
        }
        for device in watched {
            sink.send(DriverEvent::Monitor {
                link: link.clone(),
                device: device.clone(),
                monitored: true,
            })
            .await?;
            let calls = by_device.remove(&device).unwrap_or_default();
            sink.send(DriverEvent::DeviceSnapshot {
                link: link.clone(),
                device,
                calls,
            })
            .await?;
        }
        if let Some(q) = &queues {
            let members: Vec<Event> = q
                .events
                .iter()
                .filter(|e| e.kind == EventKind::QueueMember)
                .cloned()
                .collect();
            for agent in mapper.resync_members(&members) {
                self.shared().agents.remove(agent.as_str());
                sink.send(DriverEvent::Agent {
                    link: link.clone(),
                    agent: AgentId::from(agent.as_str()),
                    event: AgentEventKind::LoggedOff,
                })
                .await?;
            }
            for ev in &q.events {
                for de in queue_status_events(link, ev, &call_of_channel) {
                    sink.send(de).await?;
                }
                self.shared().learn_member(ev);
            }
        }
        sink.send(DriverEvent::LinkUp { link: link.clone() }).await
    }
}

impl AmiDriver {
    /// Counts the devices whose listed state the channel list contradicts: busy (in use,
    /// busy, ringing, on hold) with no channel, or idle with a live channel. Only channel
    /// devices (`PJSIP/201`) are checked; nothing is inferred from a mismatch.
    fn cross_check(
        &self,
        states: &HashMap<DeviceId, DeviceState>,
        with_channel: &HashSet<DeviceId>,
        live: &HashMap<DeviceId, Vec<SnapshotEntry>>,
    ) {
        for (device, state) in states {
            if !devstate::is_channel_device(device.as_str()) {
                continue;
            }
            let odd = (state.is_busy() && !with_channel.contains(device))
                || (state.is_idle() && live.contains_key(device));
            if !odd {
                continue;
            }
            let n = self.mismatches.fetch_add(1, Ordering::Relaxed) + 1;
            // Logged at the 1st, 10th, 100th… so a PBX cannot flood the log.
            if power_of_ten(n) {
                eprintln!(
                    "hookflash: link {}: device {device} is listed {state:?} but the channel list \
                     says otherwise; {n} such mismatches so far",
                    self.link
                );
            }
        }
    }
}

fn power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

/// The lists a resync reads (`None`: the action failed or the PBX has no such list).
struct Lists {
    channels: Option<ActionResult>,
    queues: Option<ActionResult>,
    devices: Option<ActionResult>,
}

/// The driver events of one `QueueStatus` list entry: a `QueueMember` is an agent logged on
/// at its interface, in that queue, in its pause state; a `QueueEntry` is a caller waiting
/// (its call found through the channel list).
fn queue_status_events(
    link: &LinkId,
    ev: &Event,
    call_of_channel: &HashMap<&str, &str>,
) -> Vec<DriverEvent> {
    let mut out = Vec::new();
    let Some(queue) = ev.get("Queue").filter(|q| !q.is_empty()) else {
        return out;
    };
    match ev.kind {
        EventKind::QueueMember => {
            let Some(agent) = mapping::member_agent(ev) else {
                return out;
            };
            out.push(DriverEvent::Agent {
                link: link.clone(),
                agent: AgentId::from(agent),
                event: AgentEventKind::LoggedOn {
                    device: mapping::member_device(ev).map(DeviceId::from),
                    queues: vec![QueueId::from(queue)],
                },
            });
            if let Some(p) = mapping::pause_event(ev) {
                out.push(DriverEvent::Agent {
                    link: link.clone(),
                    agent: AgentId::from(agent),
                    event: p,
                });
            }
        }
        EventKind::QueueEntry => {
            let call = ev
                .get("Channel")
                .and_then(|c| call_of_channel.get(c).copied())
                .or_else(|| ev.get("Linkedid"))
                .or_else(|| ev.get("Uniqueid"))
                .filter(|c| !c.is_empty());
            if let Some(call) = call {
                out.push(DriverEvent::Call {
                    link: link.clone(),
                    call: NativeCallId::from(call),
                    event: CallEventKind::Queued {
                        queue: QueueId::from(queue),
                        calling: ev
                            .get("CallerIDNum")
                            .filter(|n| !n.is_empty() && *n != "<unknown>")
                            .map(str::to_owned),
                        called: None,
                    },
                    cause: None,
                });
            }
        }
        _ => {}
    }
    out
}

/// Which answers of the resync are in (`None` inside: the action failed).
#[derive(Debug, Default)]
struct Resync {
    channels: Option<Option<ActionResult>>,
    queues: Option<Option<ActionResult>>,
    devices: Option<Option<ActionResult>>,
    /// Calls found ended by the channel list.
    ended: Vec<String>,
}

impl Resync {
    /// Nothing to wait for.
    fn done() -> Self {
        Self {
            channels: None,
            queues: Some(None),
            devices: Some(None),
            ended: Vec::new(),
        }
    }
}

enum Pending {
    User(oneshot::Sender<Result<ActionResult, Error>>),
    Snapshot,
    Queues,
    /// A device-state list; `fallback`: on refusal, try `ExtensionStateList`.
    Devices {
        fallback: bool,
    },
}

fn pause(
    sh: &Shared,
    agent: &AgentId,
    paused: bool,
    reason: Option<String>,
) -> Result<Action, Error> {
    let (device, _) = sh
        .agents
        .get(agent)
        .ok_or_else(|| Error::InvalidDevice(agent.clone()))?;
    Ok(Action::QueuePause {
        queue: None,
        interface: device.to_string(),
        paused,
        reason,
    })
}

fn new_unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("hookflash-{}-{n}", crate::spi::now().0)
}

fn link_down(_: std::io::Error) -> Error {
    Error::LinkDown
}

fn ami_error(e: hookflash_ami::Error) -> Error {
    match e {
        hookflash_ami::Error::Timeout => Error::Timeout,
        hookflash_ami::Error::Disconnected => Error::LinkDown,
        hookflash_ami::Error::ActionFailed { message } => Error::Pbx(PbxCause {
            code: None,
            name: message,
        }),
        hookflash_ami::Error::LoginFailed { message } => Error::LoginRefused { reason: message },
        _ => Error::NotPermitted,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[async_trait]
impl Driver for AmiDriver {
    fn link(&self) -> &LinkId {
        &self.link
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            verbs: Verbs::CLEAR
                | Verbs::CONSULT
                | Verbs::TRANSFER
                | Verbs::SINGLE_STEP_TRANSFER
                | Verbs::DEFLECT
                | Verbs::SEND_DIGITS,
            flags: Capabilities::MONITOR
                | Capabilities::SNAPSHOT
                | Capabilities::MAKE_CALL
                | Capabilities::AGENT_CONTROL
                | Capabilities::AGENT_EVENTS
                | Capabilities::ATTACH_DATA
                | Capabilities::CALL_EVENTS,
        }
    }

    async fn run(&self, sink: EventSink) -> Result<(), Error> {
        let clock = Clock::new();
        let mut backoff = Backoff::new(self.backoff);
        let mut session = Session::new(self.config.clone());
        let mut mapper = Mapper::new();
        loop {
            if sink.is_closed() {
                return Ok(());
            }
            let result = match transport::connect(&self.url).await {
                Ok(t) => {
                    backoff.reset();
                    self.session(t, &mut session, &mut mapper, &clock, &sink)
                        .await
                }
                Err(e) if !e.is_recoverable() => return Err(Error::Link(e)),
                Err(_) => Err(Error::LinkDown),
            };
            session.disconnected();
            let was_up = std::mem::replace(&mut self.shared().up, false);
            match result {
                Ok(()) | Err(Error::Closed) => return Ok(()),
                Err(e @ Error::LoginRefused { .. }) if !was_up => return Err(e),
                Err(_) => {}
            }
            if sink
                .send(DriverEvent::LinkDown {
                    link: self.link.clone(),
                })
                .await
                .is_err()
            {
                return Ok(());
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    async fn monitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let mut sh = self.shared();
        // Before the link is up (or during its resync) every device is taken: the resync
        // checks it against the list.
        let up = sh.up;
        devices
            .iter()
            .map(|device| {
                if up && !sh.known(device) {
                    return Err(Error::InvalidDevice(device.clone()));
                }
                sh.monitored.insert(device.clone());
                if up {
                    sh.reported.insert(device.clone());
                    let _ = self.events.send(DriverEvent::Monitor {
                        link: self.link.clone(),
                        device: device.clone(),
                        monitored: true,
                    });
                }
                Ok(())
            })
            .collect()
    }

    async fn unmonitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let mut sh = self.shared();
        for device in devices {
            sh.monitored.remove(device);
            sh.reported.remove(device);
            let _ = self.events.send(DriverEvent::Monitor {
                link: self.link.clone(),
                device: device.clone(),
                monitored: false,
            });
        }
        devices.iter().map(|_| Ok(())).collect()
    }

    async fn execute(&self, command: DriverCommand) -> Result<CommandOutcome, Error> {
        let (actions, new_call) = self.actions(&command)?;
        if matches!(command.command, Command::ClearCall { .. }) {
            // Hanging up one party may end the call before the next hangup arrives: the call
            // is cleared when any of its channels hung up.
            let mut first_err = None;
            let mut any_ok = false;
            for action in actions {
                match self.action(action).await {
                    Ok(_) => any_ok = true,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if !any_ok && let Some(e) = first_err {
                return Err(e);
            }
        } else {
            for action in actions {
                self.action(action).await?;
            }
        }
        match &command.command {
            Command::AgentLogin {
                agent,
                device,
                queues,
            } => {
                self.shared()
                    .agents
                    .insert(agent.clone(), (device.clone(), queues.clone()));
            }
            Command::AgentLogout { agent } => {
                self.shared().agents.remove(agent);
            }
            _ => {}
        }
        Ok(CommandOutcome {
            new_call,
            ..CommandOutcome::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookflash_core::{driver::CallEventKind, model::CallId};
    use tokio::{
        io::{AsyncBufReadExt, BufReader},
        net::TcpListener,
    };

    /// Reads one AMI action block (headers up to a blank line).
    async fn read_action(
        r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap() == 0 {
                return out;
            }
            let line = line.trim_end();
            if line.is_empty() {
                if out.is_empty() {
                    continue;
                }
                return out;
            }
            if let Some((k, v)) = line.split_once(':') {
                out.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
    }

    fn get<'a>(a: &'a [(String, String)], k: &str) -> &'a str {
        a.iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(k))
            .map_or("", |(_, v)| v.as_str())
    }

    async fn next(rx: &mut mpsc::Receiver<crate::spi::Reported>) -> DriverEvent {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("driver event in time")
            .expect("sink open")
            .event
    }

    #[tokio::test]
    async fn logs_in_snapshots_maps_events_and_originates() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"Asterisk Call Manager/5.0.2\r\n")
                .await
                .unwrap();
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), "Challenge");
            let id = get(&a, "ActionID").to_owned();
            w.write_all(
                format!("Response: Success\r\nActionID: {id}\r\nChallenge: 12345\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), "Login");
            assert_eq!(get(&a, "Username"), "crm");
            assert_eq!(
                get(&a, "Key"),
                hookflash_ami::action::md5_key("12345", "s3cret")
            );
            let id = get(&a, "ActionID").to_owned();
            w.write_all(format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n").as_bytes()).await.unwrap();
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), "CoreShowChannels");
            let id = get(&a, "ActionID").to_owned();
            w.write_all(format!(
                "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n\
                 Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: PJSIP/201-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n\
                 Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
            ).as_bytes()).await.unwrap();
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), "QueueStatus");
            let id = get(&a, "ActionID").to_owned();
            w.write_all(format!(
                "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n\
                 Event: QueueParams\r\nActionID: {id}\r\nQueue: sales\r\nCalls: 1\r\n\r\n\
                 Event: QueueMember\r\nActionID: {id}\r\nQueue: sales\r\nName: Agent/7\r\nLocation: PJSIP/201\r\nStateInterface: PJSIP/201\r\nPaused: 1\r\nPausedReason: lunch\r\n\r\n\
                 Event: QueueEntry\r\nActionID: {id}\r\nQueue: sales\r\nPosition: 1\r\nChannel: PJSIP/trunk-00000009\r\nUniqueid: 3.1\r\nCallerIDNum: 5559999\r\n\r\n\
                 Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 3\r\n\r\n"
            ).as_bytes()).await.unwrap();
            // An Asterisk 11: neither device-state list.
            for name in ["DeviceStateList", "ExtensionStateList"] {
                let a = read_action(&mut r).await;
                assert_eq!(get(&a, "Action"), name);
                let id = get(&a, "ActionID").to_owned();
                w.write_all(
                    format!(
                        "Response: Error\r\nActionID: {id}\r\nMessage: Invalid/unknown command\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .await
                .unwrap();
            }
            w.write_all(b"Event: Newchannel\r\nChannel: PJSIP/202-00000002\r\nChannelState: 5\r\nChannelStateDesc: Ringing\r\nCallerIDNum: 5551234\r\nExten: 202\r\nUniqueid: 2.1\r\nLinkedid: 2.0\r\n\r\n").await.unwrap();
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), "Originate");
            assert_eq!(get(&a, "Channel"), "PJSIP/201");
            assert_eq!(get(&a, "Exten"), "5550000");
            assert_eq!(get(&a, "Context"), "sales");
            let id = get(&a, "ActionID").to_owned();
            w.write_all(format!("Response: Success\r\nActionID: {id}\r\nMessage: Originate successfully queued\r\n\r\n").as_bytes()).await.unwrap();
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), "Hangup");
            assert_eq!(get(&a, "Channel"), "PJSIP/202-00000002");
            let id = get(&a, "ActionID").to_owned();
            w.write_all(
                format!("Response: Error\r\nActionID: {id}\r\nMessage: No such channel\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
            // Then the PBX goes away.
        });
        let url: LinkUrl = format!("ami+tcp://crm:s3cret@127.0.0.1:{port}?context=sales")
            .parse()
            .unwrap();
        let driver = Arc::new(AmiDriver::new("pbx".into(), &url).unwrap());
        let res = driver.monitor(&["PJSIP/201".into()]).await;
        assert!(res.iter().all(Result::is_ok));
        let (sink, mut rx) = EventSink::channel(64);
        let d = driver.clone();
        let run = tokio::spawn(async move { d.run(sink).await });
        assert!(matches!(
            next(&mut rx).await,
            DriverEvent::LinkResyncing { .. }
        ));
        assert!(matches!(
            next(&mut rx).await,
            DriverEvent::Monitor {
                monitored: true,
                ..
            }
        ));
        match next(&mut rx).await {
            DriverEvent::DeviceSnapshot { device, calls, .. } => {
                assert_eq!(device.as_str(), "PJSIP/201");
                assert_eq!(calls.len(), 1);
                assert_eq!(calls[0].call.as_str(), "1.1");
                assert_eq!(calls[0].state, ConnectionState::Connected);
            }
            other => panic!("expected a snapshot, got {other:?}"),
        }
        // The queue status: the agent logged on at its interface, paused with its reason; the
        // waiting caller's call is queued.
        match next(&mut rx).await {
            DriverEvent::Agent {
                agent,
                event: AgentEventKind::LoggedOn { device, queues },
                ..
            } => {
                assert_eq!(agent.as_str(), "Agent/7");
                assert_eq!(device.as_deref(), Some("PJSIP/201"));
                assert_eq!(queues, vec![QueueId::from("sales")]);
            }
            other => panic!("expected a log-on, got {other:?}"),
        }
        assert!(matches!(
            next(&mut rx).await,
            DriverEvent::Agent { event: AgentEventKind::NotReady { reason: Some(ref r) }, .. } if r == "lunch"
        ));
        match next(&mut rx).await {
            DriverEvent::Call {
                call,
                event: CallEventKind::Queued { queue, calling, .. },
                ..
            } => {
                assert_eq!(call.as_str(), "3.1");
                assert_eq!(queue.as_str(), "sales");
                assert_eq!(calling.as_deref(), Some("5559999"));
            }
            other => panic!("expected a queued call, got {other:?}"),
        }
        assert!(matches!(next(&mut rx).await, DriverEvent::LinkUp { .. }));
        match next(&mut rx).await {
            DriverEvent::Call {
                call,
                event: CallEventKind::Delivered { alerting, .. },
                ..
            } => {
                assert_eq!(call.as_str(), "2.0");
                assert_eq!(alerting.as_str(), "PJSIP/202");
            }
            other => panic!("expected Delivered, got {other:?}"),
        }
        // Without a device list any device is taken.
        assert!(driver.monitor(&["PJSIP/999".into()]).await[0].is_ok());
        assert!(matches!(
            next(&mut rx).await,
            DriverEvent::Monitor { ref device, monitored: true, .. } if device.as_str() == "PJSIP/999"
        ));
        assert_eq!(driver.device_state(&"PJSIP/201".into()), None);
        assert_eq!(driver.device_state_mismatches(), 0);
        let out = driver
            .execute(DriverCommand::new(Command::MakeCall {
                from: "PJSIP/201".into(),
                to: "5550000".into(),
            }))
            .await
            .unwrap();
        assert!(out.new_call.is_some());
        let mut clear = DriverCommand::new(Command::Clear {
            call: CallId(7),
            device: "PJSIP/202".into(),
        });
        clear.native.insert(CallId(7), "2.0".into());
        match driver.execute(clear).await {
            Err(Error::Pbx(cause)) => assert_eq!(cause.name, "No such channel"),
            other => panic!("expected the PBX's refusal, got {other:?}"),
        }
        // A device not on the call is refused before anything is sent.
        let mut bad = DriverCommand::new(Command::Clear {
            call: CallId(7),
            device: "PJSIP/999".into(),
        });
        bad.native.insert(CallId(7), "2.0".into());
        assert!(matches!(
            driver.execute(bad).await,
            Err(Error::InvalidDevice(_))
        ));
        server.await.unwrap();
        assert!(matches!(next(&mut rx).await, DriverEvent::LinkDown { .. }));
        assert!(matches!(
            driver
                .execute(DriverCommand::new(Command::AgentReady {
                    agent: "a1".into()
                }))
                .await,
            Err(Error::InvalidDevice(_) | Error::LinkDown)
        ));
        drop(rx);
        run.abort();
    }

    /// Which device-state list a mock PBX answers, with its entries (`None`: neither).
    type DeviceList<'a> = Option<(&'a str, &'a [&'a str])>;

    /// Serves one mock Asterisk session: plain login, the given `CoreShowChannel` and
    /// `QueueMember` entries, the device list, then `then` (raw bytes), then waits for the
    /// client to go.
    async fn mock_session(
        listener: &TcpListener,
        channels: &[&str],
        members: &[&str],
        then: &[u8],
    ) {
        mock_session_with(listener, channels, members, None, then, None).await;
    }

    /// [`mock_session`] with a device list, and holding the link until `hold` fires (else
    /// for 300 ms).
    async fn mock_session_with(
        listener: &TcpListener,
        channels: &[&str],
        members: &[&str],
        devices: DeviceList<'_>,
        then: &[u8],
        hold: Option<oneshot::Receiver<()>>,
    ) {
        let (s, _) = listener.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"Asterisk Call Manager/5.0.2\r\n")
            .await
            .unwrap();
        let a = read_action(&mut r).await;
        assert_eq!(get(&a, "Action"), "Login");
        let id = get(&a, "ActionID").to_owned();
        w.write_all(format!("Response: Success\r\nActionID: {id}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        for (action, complete, items) in [
            ("CoreShowChannels", "CoreShowChannelsComplete", channels),
            ("QueueStatus", "QueueStatusComplete", members),
        ] {
            let a = read_action(&mut r).await;
            assert_eq!(get(&a, "Action"), action);
            let id = get(&a, "ActionID").to_owned();
            let mut out =
                format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\n\r\n");
            for item in items {
                out.push_str(&format!("{item}ActionID: {id}\r\n\r\n"));
            }
            out.push_str(&format!(
                "Event: {complete}\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: {}\r\n\r\n",
                items.len()
            ));
            w.write_all(out.as_bytes()).await.unwrap();
        }
        // DeviceStateList, then (refused) ExtensionStateList.
        loop {
            let a = read_action(&mut r).await;
            let name = get(&a, "Action").to_owned();
            assert!(
                name == "DeviceStateList" || name == "ExtensionStateList",
                "{name}"
            );
            let id = get(&a, "ActionID").to_owned();
            match devices {
                Some((list, items)) if list == name => {
                    let mut out =
                        format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\n\r\n");
                    for item in items {
                        out.push_str(&format!("{item}ActionID: {id}\r\n\r\n"));
                    }
                    out.push_str(&format!(
                        "Event: {name}Complete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: {}\r\n\r\n",
                        items.len()
                    ));
                    w.write_all(out.as_bytes()).await.unwrap();
                    break;
                }
                _ => {
                    w.write_all(
                        format!("Response: Error\r\nActionID: {id}\r\nMessage: Invalid/unknown command\r\n\r\n")
                            .as_bytes(),
                    )
                    .await
                    .unwrap();
                    if name == "ExtensionStateList" {
                        break;
                    }
                }
            }
        }
        w.write_all(then).await.unwrap();
        // Until the test drops the link.
        match hold {
            Some(hold) => {
                let _ = tokio::time::timeout(Duration::from_secs(10), hold).await;
            }
            None => {
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(Duration::from_millis(300), r.read_to_end(&mut sink))
                    .await;
            }
        }
    }

    fn monitor_event(ev: &DriverEvent) -> Option<(&str, bool)> {
        match ev {
            DriverEvent::Monitor {
                device, monitored, ..
            } => Some((device.as_str(), *monitored)),
            _ => None,
        }
    }

    #[tokio::test]
    async fn devices_are_checked_against_the_device_list_again_after_a_reconnect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (release, hold) = oneshot::channel();
        let server = tokio::spawn(async move {
            let chan = "Event: CoreShowChannel\r\nChannel: PJSIP/201-00000001\r\nChannelState: 6\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n";
            let states: &[&str] = &[
                // Idle although it has a live channel: a mismatch.
                "Event: DeviceStateChange\r\nDevice: PJSIP/201\r\nState: NOT_INUSE\r\n",
                // In use with no channel: a mismatch.
                "Event: DeviceStateChange\r\nDevice: PJSIP/202\r\nState: INUSE\r\n",
                "Event: DeviceStateChange\r\nDevice: PJSIP/203\r\nState: INVALID\r\n",
                "Event: DeviceStateChange\r\nDevice: SIP/204\r\nState: UNAVAILABLE\r\n",
                // Not a channel device: never a mismatch.
                "Event: DeviceStateChange\r\nDevice: Custom:DND201\r\nState: INUSE\r\n",
            ];
            mock_session_with(
                &listener,
                &[chan],
                &[],
                Some(("DeviceStateList", states)),
                // A device that appears after the list.
                b"Event: DeviceStateChange\r\nDevice: PJSIP/207\r\nState: NOT_INUSE\r\n\r\n",
                Some(hold),
            )
            .await;
            // Back without DeviceStateList; the hints list 202 and 205, 201 is gone.
            let hints: &[&str] = &[
                "Event: ExtensionStatus\r\nExten: 202\r\nContext: from-internal\r\nHint: PJSIP/202\r\nStatus: 0\r\nStatusText: Idle\r\n",
                "Event: ExtensionStatus\r\nExten: 205\r\nContext: from-internal\r\nHint: PJSIP/205&Custom:DND205\r\nStatus: 0\r\nStatusText: Idle\r\n",
            ];
            mock_session_with(
                &listener,
                &[],
                &[],
                Some(("ExtensionStateList", hints)),
                b"",
                None,
            )
            .await;
        });
        let url: LinkUrl = format!("ami+tcp://crm:s3cret@127.0.0.1:{port}?md5=false")
            .parse()
            .unwrap();
        let driver = Arc::new(AmiDriver::new("pbx".into(), &url).unwrap().with_backoff(
            BackoffConfig {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(20),
            },
        ));
        // No list yet: both are taken, and checked at the resync.
        let res = driver
            .monitor(&["PJSIP/201".into(), "PJSIP/205".into()])
            .await;
        assert!(res.iter().all(Result::is_ok), "{res:?}");
        let (sink, mut rx) = EventSink::channel(64);
        let d = driver.clone();
        let run = tokio::spawn(async move { d.run(sink).await });
        let mut seen = Vec::new();
        loop {
            let ev = next(&mut rx).await;
            if matches!(ev, DriverEvent::LinkUp { .. }) {
                break;
            }
            seen.push(ev);
        }
        let monitors: Vec<_> = seen.iter().filter_map(monitor_event).collect();
        assert_eq!(monitors, vec![("PJSIP/201", true)], "{seen:?}");
        assert!(
            seen.iter().any(|e| matches!(e, DriverEvent::DeviceSnapshot { device, calls, .. } if device.as_str() == "PJSIP/201" && calls.len() == 1)),
            "{seen:?}"
        );
        assert!(
            !seen.iter().any(|e| matches!(e, DriverEvent::DeviceSnapshot { device, .. } if device.as_str() == "PJSIP/205")),
            "{seen:?}"
        );
        assert_eq!(driver.device_state_mismatches(), 2);
        assert_eq!(
            driver.device_state(&"SIP/204".into()),
            Some(DeviceState::Unavailable)
        );
        // Per device: listed ones are taken (unavailable too), an invalid or unlisted one is
        // refused and not reported monitored.
        let res = driver
            .monitor(&[
                "PJSIP/202".into(),
                "PJSIP/203".into(),
                "PJSIP/206".into(),
                "SIP/204".into(),
            ])
            .await;
        assert!(res[0].is_ok(), "{res:?}");
        assert!(matches!(&res[1], Err(Error::InvalidDevice(d)) if d.as_str() == "PJSIP/203"));
        assert!(matches!(&res[2], Err(Error::InvalidDevice(d)) if d.as_str() == "PJSIP/206"));
        assert!(res[3].is_ok(), "{res:?}");
        for want in ["PJSIP/202", "SIP/204"] {
            let ev = next(&mut rx).await;
            assert_eq!(monitor_event(&ev), Some((want, true)), "{ev:?}");
        }
        // A device announced by a live state event joins the list.
        let t0 = std::time::Instant::now();
        while driver.device_state(&"PJSIP/207".into()).is_none() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "PJSIP/207 never listed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(driver.monitor(&["PJSIP/207".into()]).await[0].is_ok());
        let ev = next(&mut rx).await;
        assert_eq!(monitor_event(&ev), Some(("PJSIP/207", true)), "{ev:?}");
        // The PBX goes away and comes back with another list.
        release.send(()).unwrap();
        let mut seen = Vec::new();
        let mut ups = 0;
        while ups < 1 {
            let ev = next(&mut rx).await;
            if matches!(ev, DriverEvent::LinkUp { .. }) {
                ups += 1;
            }
            seen.push(ev);
        }
        let mut monitors: Vec<_> = seen.iter().filter_map(monitor_event).collect();
        monitors.sort_unstable();
        assert_eq!(
            monitors,
            vec![
                ("PJSIP/201", false),
                ("PJSIP/202", true),
                ("PJSIP/205", true),
                ("PJSIP/207", false),
                ("SIP/204", false)
            ],
            "{seen:?}"
        );
        // The hints' states are consistent with no channels: no new mismatch.
        assert_eq!(driver.device_state_mismatches(), 2);
        assert_eq!(
            driver.device_state(&"PJSIP/205".into()),
            Some(DeviceState::Unknown)
        );
        assert!(matches!(
            &driver.monitor(&["PJSIP/201".into()]).await[0],
            Err(Error::InvalidDevice(_))
        ));
        server.await.unwrap();
        run.abort();
    }

    #[tokio::test]
    async fn after_an_outage_calls_that_ended_end_and_agents_that_left_log_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let chan = "Event: CoreShowChannel\r\nChannel: PJSIP/201-00000001\r\nChannelState: 6\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n";
            let member = "Event: QueueMember\r\nQueue: sales\r\nName: Agent/7\r\nLocation: PJSIP/201\r\nPaused: 0\r\n";
            mock_session(&listener, &[chan], &[member], b"").await;
            // The PBX comes back with neither the call nor the agent.
            mock_session(&listener, &[], &[], b"").await;
        });
        let url: LinkUrl = format!("ami+tcp://crm:s3cret@127.0.0.1:{port}?md5=false")
            .parse()
            .unwrap();
        let driver = Arc::new(AmiDriver::new("pbx".into(), &url).unwrap().with_backoff(
            BackoffConfig {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(20),
            },
        ));
        let (sink, mut rx) = EventSink::channel(64);
        let d = driver.clone();
        let run = tokio::spawn(async move { d.run(sink).await });
        let mut seen = Vec::new();
        let mut ups = 0;
        while ups < 2 {
            let ev = next(&mut rx).await;
            if matches!(ev, DriverEvent::LinkUp { .. }) {
                ups += 1;
            }
            seen.push(ev);
        }
        let down = seen
            .iter()
            .position(|e| matches!(e, DriverEvent::LinkDown { .. }))
            .expect("the link went down");
        let after = &seen[down..];
        assert!(
            after.iter().any(|e| matches!(e, DriverEvent::Call { call, event: CallEventKind::CallCleared, .. } if call.as_str() == "1.1")),
            "{after:?}"
        );
        assert!(
            after.iter().any(|e| matches!(e, DriverEvent::Agent { agent, event: AgentEventKind::LoggedOff, .. } if agent.as_str() == "Agent/7")),
            "{after:?}"
        );
        // Agent commands for an agent the PBX no longer has are refused before anything is sent.
        assert!(matches!(
            driver
                .execute(DriverCommand::new(Command::AgentReady {
                    agent: "Agent/7".into()
                }))
                .await,
            Err(Error::InvalidDevice(_))
        ));
        server.await.unwrap();
        run.abort();
    }

    #[test]
    fn hold_and_conference_are_not_offered() {
        let url: LinkUrl = "ami+tcp://u:p@127.0.0.1:5038".parse().unwrap();
        let d = AmiDriver::new("pbx".into(), &url).unwrap();
        let caps = d.capabilities();
        assert!(!caps.verbs.contains(Verbs::HOLD));
        assert!(!caps.verbs.contains(Verbs::CONFERENCE));
        assert!(caps.has(Capabilities::MAKE_CALL | Capabilities::AGENT_CONTROL));
    }
}
