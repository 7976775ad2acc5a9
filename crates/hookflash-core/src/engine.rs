//! The state engine: driver events in, normalized events and a live picture out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::command::{Verbs, permitted};
use crate::dialplan::DialPlan;
use crate::driver::{
    AgentEventKind, CallEventKind, CallRecordInput, Cause, DriverEvent, SnapshotEntry,
};
use crate::event::{Event, EventKind};
use crate::model::{
    Agent, AgentActivity, AgentId, AgentStatus, Availability, Call, CallData, CallId,
    ConnectionState, DeviceId, Direction, Leg, LinkId, LinkState, MAX_ATTACHED_DATA, NativeCallId,
    Outcome, Queue, QueueId, QueueStats, Timestamp, Transfer,
};

/// The most devices one agent is held logged on at (desk phone, softphone, mobile, ...).
const MAX_DEVICES_PER_AGENT: usize = 8;

/// A small, fast, non-cryptographic hasher (the FxHash mix) for the engine's tables, whose keys
/// are device numbers and call ids, not attacker-chosen at volume.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn finish(&self) -> u64 {
        // FxHash's multiply leaves the low bits (which pick the bucket) blind to the high bits
        // of the input; fold the high half down so that keys differing only at the end of a
        // string (call ids, extensions) spread over the table.
        let h = self.0;
        (h ^ (h >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h >> 29)
    }
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type Set<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// How the engine is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The dial plan (E.164 normalization, direction).
    pub dial_plan: DialPlan,
    /// The service-level threshold: a queued call answered within it counts as in service level.
    pub service_level_ms: u64,
    /// How many ended calls are remembered to ignore their late events.
    pub max_tombstones: usize,
    /// How many ended calls are kept for queries.
    pub max_ended: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dial_plan: DialPlan::default(),
            service_level_ms: 20_000,
            max_tombstones: 200_000,
            max_ended: 1_000,
        }
    }
}

/// How many of a queue's agents are available, busy (or reserved) and away (or wrapping up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct AgentCounts {
    available: u32,
    busy: u32,
    away: u32,
}

impl AgentCounts {
    /// The counter an agent of this availability is in (none for a logged-out agent).
    fn slot(&mut self, a: Availability) -> Option<&mut u32> {
        match a {
            Availability::Available => Some(&mut self.available),
            Availability::Busy | Availability::Reserved => Some(&mut self.busy),
            Availability::Away | Availability::WrapUp => Some(&mut self.away),
            Availability::Offline => None,
        }
    }
}

/// Moves an agent in the queue counts: out of `old` queues at its old availability, into
/// `new` queues at its new one.
fn recount<'q>(
    counts: &mut Map<QueueId, AgentCounts>,
    old: (Availability, impl Iterator<Item = &'q QueueId>),
    new: (Availability, impl Iterator<Item = &'q QueueId>),
) {
    for q in old.1 {
        if let Some(c) = counts.get_mut(q).and_then(|c| c.slot(old.0)) {
            *c = c.saturating_sub(1);
        }
    }
    for q in new.1 {
        if let Some(c) = counts.entry(q.clone()).or_default().slot(new.0) {
            *c += 1;
        }
    }
}

/// What the engine keeps per live call beyond the public [`Call`].
#[derive(Debug, Clone)]
struct Live {
    call: Call,
    /// Agents (or, without an agent, devices) that got a screen pop.
    popped: Vec<DeviceId>,
    /// The call came through a queue (an ACD call).
    acd: bool,
    /// When it started waiting in its current queue.
    queued_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default)]
struct Device {
    monitored: bool,
    agent: Option<AgentId>,
    calls: Vec<CallId>,
}

/// The engine. Sans-IO: every input carries its own time; nothing here reads a clock.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    next_call: u64,
    seq: u64,
    calls: Map<CallId, Live>,
    alias: Map<(LinkId, NativeCallId), CallId>,
    tombstones: Set<(LinkId, NativeCallId)>,
    tomb_order: VecDeque<(LinkId, NativeCallId)>,
    devices: Map<DeviceId, Device>,
    agents: Map<AgentId, Agent>,
    /// The devices each agent is logged on at.
    agent_devices: Map<AgentId, Vec<DeviceId>>,
    queues: Map<QueueId, Queue>,
    /// The agents of each queue by availability, kept up to date as agents change, so that a
    /// queue's figures need no look at every agent.
    queue_agents: Map<QueueId, AgentCounts>,
    links: Map<LinkId, LinkState>,
    ended: VecDeque<Call>,
    out: VecDeque<Event>,
    /// The PBX's time of the driver event being applied, for the events it leads to.
    pbx_time_us: Option<u64>,
    /// Calls a snapshot during a resync left without a monitored device: they end when the
    /// link is up again unless a later snapshot of the same resync lists them (a queued call
    /// may have moved from the queue to an agent while the link was down).
    orphans: Vec<CallId>,
    /// Links that see calls only through monitored devices (`DriverEvent::LinkVisibility`).
    monitors_only: Set<LinkId>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl Engine {
    /// An engine with nothing in it.
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            next_call: 1,
            seq: 0,
            calls: Map::default(),
            alias: Map::default(),
            tombstones: Set::default(),
            tomb_order: VecDeque::new(),
            devices: Map::default(),
            agents: Map::default(),
            agent_devices: Map::default(),
            queues: Map::default(),
            queue_agents: Map::default(),
            links: Map::default(),
            ended: VecDeque::new(),
            orphans: Vec::new(),
            monitors_only: Set::default(),
            out: VecDeque::new(),
            pbx_time_us: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The sequence number of the last event emitted.
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Continues sequence numbers after `seq` (for a restarted bridge that journals events).
    pub fn resume_seq(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    /// The next normalized event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.pop_front()
    }

    /// All pending normalized events.
    pub fn drain_events(&mut self) -> std::collections::vec_deque::Drain<'_, Event> {
        self.out.drain(..)
    }

    // ------------------------------------------------------------------------------ queries

    /// The live calls.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values().map(|l| &l.call)
    }

    /// A live call, or a recently ended one.
    pub fn call(&self, id: CallId) -> Option<&Call> {
        self.calls
            .get(&id)
            .map(|l| &l.call)
            .or_else(|| self.ended.iter().rev().find(|c| c.id == id))
    }

    /// The live call a protocol call id names.
    pub fn call_by_alias(&self, link: &str, native: &str) -> Option<&Call> {
        let id = self
            .alias
            .get(&(LinkId::from(link), NativeCallId::from(native)))?;
        self.calls.get(id).map(|l| &l.call)
    }

    /// Recently ended calls, oldest first.
    pub fn ended_calls(&self) -> impl Iterator<Item = &Call> {
        self.ended.iter()
    }

    /// The live calls at a device.
    pub fn calls_at(&self, device: &str) -> Vec<&Call> {
        self.devices
            .get(&DeviceId::from(device))
            .map(|d| {
                d.calls
                    .iter()
                    .filter_map(|id| self.calls.get(id).map(|l| &l.call))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The devices the engine knows, with whether they are monitored.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceId, bool)> {
        self.devices.iter().map(|(k, d)| (k, d.monitored))
    }

    /// The agents.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// An agent.
    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(&AgentId::from(id))
    }

    /// The queues.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// A queue, with the longest wait brought up to `now`.
    pub fn queue(&self, id: &str, now: Timestamp) -> Option<Queue> {
        let mut q = self.queues.get(&QueueId::from(id))?.clone();
        q.stats.longest_wait_ms = q
            .waiting
            .iter()
            .map(|(_, t)| now.since(*t))
            .max()
            .unwrap_or(0);
        Some(q)
    }

    /// A link's state.
    pub fn link_state(&self, link: &str) -> LinkState {
        self.links
            .get(&LinkId::from(link))
            .copied()
            .unwrap_or(LinkState::Down)
    }

    /// What `device` may do with a call right now.
    pub fn permitted(&self, call: CallId, device: &str) -> Verbs {
        let Some(c) = self.calls.get(&call) else {
            return Verbs::default();
        };
        let others = self.calls_at(device);
        permitted(&c.call, device, &others)
    }

    // ------------------------------------------------------------------------------ input

    /// Applies one driver event that happened at `at`.
    pub fn handle(&mut self, at: Timestamp, ev: DriverEvent) {
        self.handle_stamped(at, None, ev);
    }

    /// Applies one driver event that happened at `at`, which the PBX stamped `pbx_time_us`
    /// (microseconds since the Unix epoch): the events it leads to carry that stamp.
    pub fn handle_stamped(&mut self, at: Timestamp, pbx_time_us: Option<u64>, ev: DriverEvent) {
        self.pbx_time_us = pbx_time_us;
        self.handle_unstamped(at, ev);
        self.pbx_time_us = None;
    }

    fn handle_unstamped(&mut self, at: Timestamp, ev: DriverEvent) {
        match ev {
            DriverEvent::LinkUp { link } => self.set_link(at, link, LinkState::Up),
            DriverEvent::LinkResyncing { link } => self.set_link(at, link, LinkState::Resyncing),
            DriverEvent::LinkVisibility {
                link,
                through_monitors_only,
            } => {
                if through_monitors_only {
                    self.monitors_only.insert(link);
                } else {
                    self.monitors_only.remove(&link);
                }
            }
            DriverEvent::LinkDown { link } => self.set_link(at, link, LinkState::Down),
            DriverEvent::Monitor {
                device, monitored, ..
            } => {
                self.devices.entry(device).or_default().monitored = monitored;
            }
            DriverEvent::Call {
                link,
                call,
                event,
                cause,
            } => self.on_call(at, link, call, event, cause),
            DriverEvent::Agent { link, agent, event } => self.on_agent(at, link, agent, event),
            DriverEvent::DeviceSnapshot {
                link,
                device,
                calls,
            } => self.reconcile(at, link, device, calls),
            DriverEvent::CallRecord { link, record } => self.on_record(at, link, record),
        }
    }

    fn emit(&mut self, at: Timestamp, link: Option<&LinkId>, kind: EventKind) {
        self.seq += 1;
        self.out.push_back(Event {
            seq: self.seq,
            at,
            pbx_time_us: self.pbx_time_us,
            link: link.cloned(),
            kind,
        });
    }

    fn set_link(&mut self, at: Timestamp, link: LinkId, state: LinkState) {
        if state == LinkState::Up {
            let resynced = self.links.get(&link) == Some(&LinkState::Resyncing)
                && self.monitors_only.contains(&link);
            self.end_orphans(at, &link, resynced);
        }
        if self.links.get(&link) != Some(&state) {
            self.links.insert(link.clone(), state);
            self.emit(at, Some(&link), EventKind::LinkStateChanged { state });
        }
    }

    /// The resync of `link` is complete: its calls that no snapshot listed at a monitored
    /// device have ended. After a resync of a link that sees calls only through monitored
    /// devices (`resynced`) that includes the calls that had no monitored party left when the
    /// link went down (they left the last monitored device, and where they went was lost with
    /// the link): no snapshot can list them, and the PBX reports nothing more of them, so they
    /// would otherwise stay live for good.
    fn end_orphans(&mut self, at: Timestamp, link: &LinkId, resynced: bool) {
        if resynced {
            let mut unseen: Vec<CallId> = self
                .calls
                .iter()
                .filter(|(id, l)| {
                    l.call.link == *link
                        && !self.orphans.contains(id)
                        && !self.monitored_party(&l.call)
                })
                .map(|(id, _)| *id)
                .collect();
            unseen.sort_unstable(); // oldest first, whatever the map's order
            self.orphans.extend(unseen);
        }
        if self.orphans.is_empty() {
            return;
        }
        let orphans = std::mem::take(&mut self.orphans);
        for id in orphans {
            let Some(l) = self.calls.get(&id) else {
                continue;
            };
            if l.call.link != *link {
                self.orphans.push(id);
                continue;
            }
            let seen = self.monitored_party(&l.call);
            if !seen {
                self.end_call(at, Some(link), id);
            }
        }
    }

    /// Whether a monitored device is in `call`: whether the link can still see it.
    fn monitored_party(&self, call: &Call) -> bool {
        call.legs
            .iter()
            .any(|g| self.devices.get(&g.device).is_some_and(|d| d.monitored))
    }

    fn new_call(&mut self, at: Timestamp, link: &LinkId, native: &NativeCallId) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        let call = Call {
            id,
            link: link.clone(),
            aliases: vec![native.clone()],
            legs: Vec::new(),
            data: CallData::default(),
            offered_at: at,
            answered_at: None,
            ended_at: None,
            answered_by: None,
            agent: None,
            queue: None,
            waiting: false,
            transfers: Vec::new(),
            conferenced: false,
            outcome: None,
            last_cause: None,
            delivered: false,
            failed_busy: None,
        };
        self.calls.insert(
            id,
            Live {
                call,
                popped: Vec::new(),
                acd: false,
                queued_at: None,
            },
        );
        self.alias.insert((link.clone(), native.clone()), id);
        id
    }

    /// Creates a call first seen at `offered`, fills in its numbers and announces it at `at`.
    fn offer_call(
        &mut self,
        offered: Timestamp,
        at: Timestamp,
        link: &LinkId,
        native: &NativeCallId,
        calling: Option<&str>,
        called: Option<&str>,
    ) -> CallId {
        let id = self.new_call(offered, link, native);
        self.set_numbers(id, calling, called);
        let d = &self.calls[&id].call.data;
        let kind = EventKind::CallOffered {
            call: id,
            ani: d.ani.clone(),
            dnis: d.dnis.clone(),
            direction: d.direction,
        };
        self.emit(at, Some(link), kind);
        id
    }

    fn resolve(&self, link: &LinkId, native: &NativeCallId) -> Option<CallId> {
        self.alias.get(&(link.clone(), native.clone())).copied()
    }

    fn is_tombstoned(&self, link: &LinkId, native: &NativeCallId) -> bool {
        self.tombstones.contains(&(link.clone(), native.clone()))
    }

    /// Fills in ANI/DNIS and the direction from what an event carries.
    fn set_numbers(&mut self, id: CallId, calling: Option<&str>, called: Option<&str>) -> bool {
        let plan = &self.cfg.dial_plan;
        let Some(l) = self.calls.get_mut(&id) else {
            return false;
        };
        let d = &mut l.call.data;
        let mut changed = false;
        if let Some(c) = calling.filter(|c| !c.is_empty())
            && d.ani.is_none()
        {
            d.ani = Some(plan.normalize(c));
            changed = true;
        }
        if let Some(c) = called.filter(|c| !c.is_empty())
            && d.dnis.is_none()
        {
            d.dnis = Some(plan.normalize(c));
            changed = true;
        }
        if changed {
            d.direction = plan.direction(
                d.ani.as_ref().map(|n| n.raw.as_str()),
                d.dnis.as_ref().map(|n| n.raw.as_str()),
            );
        }
        changed
    }

    /// Sets `device`'s leg to `state`; returns whether anything changed.
    fn set_leg(
        &mut self,
        at: Timestamp,
        id: CallId,
        device: &DeviceId,
        state: ConnectionState,
    ) -> bool {
        let Some(l) = self.calls.get_mut(&id) else {
            return false;
        };
        match l.call.legs.iter_mut().find(|g| &g.device == device) {
            Some(g) if g.state == state => return false,
            Some(g) => {
                g.state = state;
                g.since = at;
            }
            None => {
                l.call.legs.push(Leg {
                    device: device.clone(),
                    state,
                    since: at,
                });
                let d = self.devices.entry(device.clone()).or_default();
                if !d.calls.contains(&id) {
                    d.calls.push(id);
                }
            }
        }
        true
    }

    fn remove_leg(&mut self, id: CallId, device: &DeviceId) -> bool {
        let Some(l) = self.calls.get_mut(&id) else {
            return false;
        };
        let before = l.call.legs.len();
        l.call.legs.retain(|g| &g.device != device);
        let removed = l.call.legs.len() != before;
        self.leave_device(device, id);
        removed
    }

    /// `id` is no longer at `device`. A device nobody monitors, with no agent and no calls
    /// (an outside number, a trunk) is forgotten: a day of calls from distinct numbers must
    /// not grow the table.
    fn leave_device(&mut self, device: &DeviceId, id: CallId) {
        let idle = match self.devices.get_mut(device) {
            Some(d) => {
                d.calls.retain(|c| *c != id);
                d.calls.is_empty() && !d.monitored && d.agent.is_none()
            }
            None => false,
        };
        if idle {
            self.devices.remove(device);
        }
    }

    fn on_call(
        &mut self,
        at: Timestamp,
        link: LinkId,
        native: NativeCallId,
        ev: CallEventKind,
        cause: Option<Cause>,
    ) {
        if self.is_tombstoned(&link, &native) {
            return; // a late event for an ended call: never resurrect it
        }
        let id = match self.resolve(&link, &native) {
            Some(id) => id,
            None => {
                // Events that only end something do not create a call.
                if matches!(
                    ev,
                    CallEventKind::CallCleared | CallEventKind::ConnectionCleared { .. }
                ) {
                    return;
                }
                let (calling, called) = ev_numbers(&ev);
                self.offer_call(
                    at,
                    at,
                    &link,
                    &native,
                    calling.as_deref(),
                    called.as_deref(),
                )
            }
        };
        if let Some(c) = cause
            && let Some(l) = self.calls.get_mut(&id)
        {
            l.call.last_cause = Some(format!("{c:?}"));
        }
        let lk = Some(&link);
        match ev {
            CallEventKind::ServiceInitiated { device } => {
                if self.set_leg(at, id, &device, ConnectionState::Initiated) {
                    self.emit(
                        at,
                        lk,
                        EventKind::ConnectionStateChanged {
                            call: id,
                            device: device.clone(),
                            state: ConnectionState::Initiated,
                        },
                    );
                    self.refresh_agent_at(at, &device);
                }
            }
            CallEventKind::Originated { calling, called } => {
                self.numbers_changed(at, lk, id, Some(calling.as_str()), Some(called.as_str()));
                let state = self.calls[&id].call.leg(&calling).map(|g| g.state.clone());
                if !matches!(
                    state,
                    Some(ConnectionState::Connected | ConnectionState::Held)
                ) && self.set_leg(at, id, &calling, ConnectionState::Initiated)
                {
                    self.emit(
                        at,
                        lk,
                        EventKind::ConnectionStateChanged {
                            call: id,
                            device: calling.clone(),
                            state: ConnectionState::Initiated,
                        },
                    );
                }
                self.refresh_agent_at(at, &calling);
            }
            CallEventKind::Delivered {
                alerting,
                calling,
                called,
                last_redirection,
            } => {
                self.numbers_changed(at, lk, id, calling.as_deref(), called.as_deref());
                if calling.as_deref() != Some(alerting.as_str()) {
                    self.calling_leg(at, id, calling.as_deref());
                }
                if let Some(from) = last_redirection
                    && from != alerting
                    && self.remove_leg(id, &from)
                {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallDiverted {
                            call: id,
                            from: from.clone(),
                            to: Some(alerting.clone()),
                        },
                    );
                    self.refresh_agent_at(at, &from);
                }
                let queue_leg = self.calls[&id].call.queue.clone();
                if queue_leg.as_ref() != Some(&alerting) {
                    self.leave_queue(at, lk, id, false);
                }
                if let Some(l) = self.calls.get_mut(&id) {
                    l.call.delivered = true;
                }
                if self.set_leg(at, id, &alerting, ConnectionState::Alerting) {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallAlerting {
                            call: id,
                            device: alerting.clone(),
                        },
                    );
                }
                self.refresh_agent_at(at, &alerting);
                self.maybe_pop(at, lk, id, &alerting);
            }
            CallEventKind::Queued {
                queue,
                calling,
                called,
            } => {
                self.numbers_changed(at, lk, id, calling.as_deref(), called.as_deref());
                self.calling_leg(at, id, calling.as_deref());
                self.enter_queue(at, lk, id, &queue);
            }
            CallEventKind::Established {
                answering,
                calling,
                called,
            } => {
                self.numbers_changed(at, lk, id, calling.as_deref(), called.as_deref());
                if calling.as_deref() != Some(answering.as_str()) {
                    self.calling_leg(at, id, calling.as_deref());
                }
                let first_acd = self
                    .calls
                    .get(&id)
                    .is_some_and(|l| l.acd && l.call.answered_at.is_none());
                self.leave_queue(at, lk, id, false);
                // Forked ringing and pickups: whoever else was ringing is no longer.
                let ringing: Vec<DeviceId> = self.calls[&id]
                    .call
                    .legs
                    .iter()
                    .filter(|g| {
                        g.device != answering
                            && matches!(
                                g.state,
                                ConnectionState::Alerting | ConnectionState::Queued
                            )
                    })
                    .map(|g| g.device.clone())
                    .collect();
                for dev in ringing {
                    self.remove_leg(id, &dev);
                    self.emit(
                        at,
                        lk,
                        EventKind::PartyLeft {
                            call: id,
                            device: dev.clone(),
                        },
                    );
                    self.refresh_agent_at(at, &dev);
                }
                let changed = self.set_leg(at, id, &answering, ConnectionState::Connected);
                let agent = self.devices.get(&answering).and_then(|d| d.agent.clone());
                let first = {
                    let l = self.calls.get_mut(&id).expect("live call");
                    if l.call.answered_at.is_none() {
                        l.call.answered_at = Some(at);
                        l.call.answered_by = Some(answering.clone());
                        l.call.agent = agent;
                        true
                    } else {
                        false
                    }
                };
                if changed || first {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallAnswered {
                            call: id,
                            device: answering.clone(),
                        },
                    );
                }
                if first_acd {
                    self.count_answer(at, lk, id);
                }
                self.refresh_agent_at(at, &answering);
            }
            CallEventKind::Held { device } => {
                if self.set_leg(at, id, &device, ConnectionState::Held) {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallHeld {
                            call: id,
                            device: device.clone(),
                        },
                    );
                }
            }
            CallEventKind::Retrieved { device } => {
                if self.set_leg(at, id, &device, ConnectionState::Connected) {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallRetrieved {
                            call: id,
                            device: device.clone(),
                        },
                    );
                }
            }
            CallEventKind::Diverted { from, to } => {
                let was_queue = self.calls[&id].call.queue.as_ref() == Some(&from);
                if was_queue {
                    self.leave_queue(at, lk, id, false);
                }
                if self.remove_leg(id, &from) || was_queue {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallDiverted {
                            call: id,
                            from: from.clone(),
                            to,
                        },
                    );
                    self.refresh_agent_at(at, &from);
                }
            }
            CallEventKind::Transferred {
                secondary,
                new_call,
                transferring,
                transferred_to,
            } => {
                self.on_transfer(
                    at,
                    &link,
                    id,
                    secondary,
                    new_call,
                    transferring,
                    transferred_to,
                );
            }
            CallEventKind::Conferenced {
                secondary,
                new_call,
                controller,
                added,
            } => {
                self.on_conference(at, &link, id, secondary, new_call, controller, added);
            }
            CallEventKind::ConnectionCleared { device } => {
                let was = self.calls[&id].call.leg(&device).map(|g| g.state.clone());
                if self.remove_leg(id, &device) {
                    self.emit(
                        at,
                        lk,
                        EventKind::PartyLeft {
                            call: id,
                            device: device.clone(),
                        },
                    );
                    self.refresh_agent_at(at, &device);
                }
                let call = &self.calls[&id].call;
                let caller_left = call.answered_at.is_none()
                    && call
                        .data
                        .ani
                        .as_ref()
                        .is_some_and(|a| a.raw == device.as_str());
                let talker_left = matches!(
                    was,
                    Some(ConnectionState::Connected | ConnectionState::Held)
                );
                let lone = call.legs.len() <= 1
                    && call.legs.iter().all(|g| {
                        !matches!(g.state, ConnectionState::Alerting | ConnectionState::Queued)
                    });
                if call.legs.is_empty() || caller_left || (talker_left && lone) {
                    self.end_call(at, lk, id);
                }
            }
            CallEventKind::CallCleared => self.end_call(at, lk, id),
            CallEventKind::Failed { device, .. } => {
                // A call that rang out is no failure: it ends as no-answer (it was delivered).
                if let Some(l) = self.calls.get_mut(&id)
                    && cause != Some(Cause::NoAnswer)
                {
                    l.call.failed_busy = Some(cause == Some(Cause::Busy));
                }
                if self.set_leg(at, id, &device, ConnectionState::Failed) {
                    self.emit(
                        at,
                        lk,
                        EventKind::CallFailed {
                            call: id,
                            device: device.clone(),
                        },
                    );
                }
            }
            CallEventKind::State { device, state } => {
                if self.set_leg(at, id, &device, state.clone()) {
                    self.emit(
                        at,
                        lk,
                        EventKind::ConnectionStateChanged {
                            call: id,
                            device: device.clone(),
                            state,
                        },
                    );
                    self.refresh_agent_at(at, &device);
                }
            }
            CallEventKind::CallData {
                correlator,
                uui,
                attached,
            } => {
                let l = self.calls.get_mut(&id).expect("live call");
                let d = &mut l.call.data;
                let mut changed = false;
                if correlator.is_some() && d.correlator != correlator {
                    d.correlator = correlator;
                    changed = true;
                }
                if uui.is_some() && d.uui != uui {
                    d.uui = uui;
                    changed = true;
                }
                for (k, v) in attached {
                    let old = d.attached.get(&k).map_or(0, |o| k.len() + o.len());
                    if d.attached_size() - old + k.len() + v.len() <= MAX_ATTACHED_DATA
                        && d.attached.get(&k) != Some(&v)
                    {
                        d.attached.insert(k, v);
                        changed = true;
                    }
                }
                if changed {
                    let data = Box::new(d.clone());
                    self.emit(at, lk, EventKind::CallDataChanged { call: id, data });
                }
            }
        }
    }

    fn numbers_changed(
        &mut self,
        at: Timestamp,
        link: Option<&LinkId>,
        id: CallId,
        calling: Option<&str>,
        called: Option<&str>,
    ) {
        if self.set_numbers(id, calling, called) {
            let data = Box::new(self.calls[&id].call.data.clone());
            self.emit(at, link, EventKind::CallDataChanged { call: id, data });
        }
    }

    /// The calling party is a party of the call too: connected from its side once the call
    /// is delivered, queued or answered.
    fn calling_leg(&mut self, at: Timestamp, id: CallId, calling: Option<&str>) {
        let Some(c) = calling.filter(|c| !c.is_empty()) else {
            return;
        };
        let dev = DeviceId::from(c);
        let state = self
            .calls
            .get(&id)
            .and_then(|l| l.call.leg(c).map(|g| g.state.clone()));
        if matches!(state, None | Some(ConnectionState::Initiated)) {
            self.set_leg(at, id, &dev, ConnectionState::Connected);
        }
    }

    fn enter_queue(&mut self, at: Timestamp, link: Option<&LinkId>, id: CallId, queue: &QueueId) {
        let l = self.calls.get_mut(&id).expect("live call");
        if l.call.waiting && l.call.queue.as_ref() == Some(queue) {
            return;
        }
        let previous = if l.call.waiting {
            l.call.queue.clone()
        } else {
            None
        };
        l.call.queue = Some(queue.clone());
        l.call.waiting = true;
        l.acd = true;
        l.queued_at = Some(at);
        if l.call.data.queue_path.last() != Some(queue) {
            l.call.data.queue_path.push(queue.clone());
        }
        if let Some(prev) = previous
            && let Some(q) = self.queues.get_mut(&prev)
        {
            // Overflow: the call moves on without being answered or abandoned here.
            q.waiting.retain(|(c, _)| *c != id);
            q.stats.waiting = q.waiting.len() as u32;
        }
        let q = self.queues.entry(queue.clone()).or_insert_with(|| Queue {
            id: queue.clone(),
            waiting: Vec::new(),
            stats: QueueStats::default(),
        });
        q.waiting.push((id, at));
        q.stats.offered += 1;
        q.stats.waiting = q.waiting.len() as u32;
        self.set_leg(at, id, queue, ConnectionState::Queued);
        self.emit(
            at,
            link,
            EventKind::CallQueued {
                call: id,
                queue: queue.clone(),
            },
        );
        self.emit_queue(at, link, queue);
    }

    /// A queued call was answered: count it, and whether it was within the service level.
    fn count_answer(&mut self, at: Timestamp, link: Option<&LinkId>, id: CallId) {
        let sl = self.cfg.service_level_ms;
        let Some(l) = self.calls.get(&id) else { return };
        let Some(queue) = l.call.queue.clone() else {
            return;
        };
        let waited = l.queued_at.map(|t| at.since(t));
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        q.stats.answered += 1;
        if waited.is_some_and(|w| w <= sl) {
            q.stats.answered_within_sl += 1;
        }
        q.stats.service_level_permille = permille(q.stats.answered_within_sl, q.stats.answered);
        self.emit_queue(at, link, &queue);
    }

    /// The call stops waiting in its queue (delivered to an agent, answered, diverted or gone).
    fn leave_queue(&mut self, at: Timestamp, link: Option<&LinkId>, id: CallId, _answered: bool) {
        let Some(l) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(queue) = l.call.queue.clone() else {
            return;
        };
        let was_waiting = l.call.waiting;
        l.call.waiting = false;
        let queue_leg = l.call.legs.iter().any(|g| g.device == queue);
        if queue_leg {
            l.call.legs.retain(|g| g.device != queue);
            if let Some(d) = self.devices.get_mut(&queue) {
                d.calls.retain(|c| *c != id);
            }
        }
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        let mut changed = false;
        if was_waiting {
            q.waiting.retain(|(c, _)| *c != id);
            q.stats.waiting = q.waiting.len() as u32;
            changed = true;
        }
        if changed {
            self.emit_queue(at, link, &queue);
        }
    }

    /// The agents of `queue` by availability, counted over every agent (what `queue_agents`
    /// keeps without the count; debug builds check the two agree).
    fn count_queue_agents(&self, queue: &QueueId) -> AgentCounts {
        let mut n = AgentCounts::default();
        for a in self
            .agents
            .values()
            .filter(|a| a.queues.contains_key(queue))
        {
            if let Some(c) = n.slot(a.availability()) {
                *c += 1;
            }
        }
        n
    }

    fn emit_queue(&mut self, at: Timestamp, link: Option<&LinkId>, queue: &QueueId) {
        let n = self.queue_agents.get(queue).copied().unwrap_or_default();
        debug_assert_eq!(n, self.count_queue_agents(queue), "queue {queue}");
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        q.stats.agents_available = n.available;
        q.stats.agents_busy = n.busy;
        q.stats.agents_away = n.away;
        q.stats.longest_wait_ms = q
            .waiting
            .iter()
            .map(|(_, t)| at.since(*t))
            .max()
            .unwrap_or(0);
        let stats = q.stats.clone();
        self.emit(
            at,
            link,
            EventKind::QueueStatsChanged {
                queue: queue.clone(),
                stats,
            },
        );
    }

    fn maybe_pop(&mut self, at: Timestamp, link: Option<&LinkId>, id: CallId, device: &DeviceId) {
        let (monitored, agent) = match self.devices.get(device) {
            Some(d) => (d.monitored, d.agent.clone()),
            None => (false, None),
        };
        if !monitored && agent.is_none() {
            return;
        }
        // One pop per agent and call (forked ringing on several devices of one agent pops once).
        let target = agent.clone().unwrap_or_else(|| device.clone());
        let l = self.calls.get_mut(&id).expect("live call");
        if l.popped.contains(&target) {
            return;
        }
        l.popped.push(target);
        let data = Box::new(l.call.data.clone());
        let (ani, dnis) = (l.call.data.ani.clone(), l.call.data.dnis.clone());
        self.emit(
            at,
            link,
            EventKind::ScreenPop {
                call: id,
                agent,
                device: device.clone(),
                ani,
                dnis,
                data,
            },
        );
    }

    /// The live call a protocol id names, when it is not `id` itself.
    fn other_call(
        &self,
        link: &LinkId,
        native: Option<&NativeCallId>,
        id: CallId,
    ) -> Option<CallId> {
        native
            .and_then(|n| self.resolve(link, n))
            .filter(|m| *m != id)
    }

    /// Lets `native` name call `id` too (a PBX that renames a call on transfer or conference).
    fn add_alias(&mut self, link: &LinkId, id: CallId, native: &NativeCallId) {
        if self.resolve(link, native).is_none()
            && let Some(l) = self.calls.get_mut(&id)
        {
            self.alias.insert((link.clone(), native.clone()), id);
            l.call.aliases.push(native.clone());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_transfer(
        &mut self,
        at: Timestamp,
        link: &LinkId,
        id: CallId,
        secondary: Option<NativeCallId>,
        new_call: Option<NativeCallId>,
        transferring: DeviceId,
        transferred_to: Option<DeviceId>,
    ) {
        let lk = Some(link);
        let merged = self.other_call(link, secondary.as_ref(), id);
        // Every monitor on the call reports the same transfer (the transferring device's, the
        // target's, the caller's): the copies after the first change nothing.
        let call = &self.calls[&id].call;
        let repeat = merged.is_none()
            && call.leg(&transferring).is_none()
            && call.transfers.last().is_some_and(|t| {
                t.from.as_ref() == Some(&transferring)
                    && (t.to == transferred_to || transferred_to.is_none() || t.to.is_none())
            });
        if repeat {
            if let Some(n) = &new_call {
                self.add_alias(link, id, n);
            }
            // A copy may name the target the first report left out.
            let c = &mut self.calls.get_mut(&id).expect("live call").call;
            if let (Some(last), Some(to)) = (c.transfers.last_mut(), &transferred_to)
                && last.to.is_none()
            {
                last.to = Some(to.clone());
                if c.leg(to).is_none() {
                    self.set_leg(at, id, to, ConnectionState::Alerting);
                }
            }
            return;
        }
        self.remove_leg(id, &transferring);
        if let Some(m) = merged {
            self.merge_into(at, lk, m, id, &transferring);
        }
        if let Some(to) = &transferred_to
            && self.calls[&id].call.leg(to).is_none()
        {
            // A consulted party was talking already; a single-step target is only ringing.
            let state = if merged.is_some() {
                ConnectionState::Connected
            } else {
                ConnectionState::Alerting
            };
            self.set_leg(at, id, to, state);
        }
        if let Some(n) = &new_call {
            self.add_alias(link, id, n);
        }
        self.calls
            .get_mut(&id)
            .expect("live call")
            .call
            .transfers
            .push(Transfer {
                from: Some(transferring.clone()),
                to: transferred_to.clone(),
                at,
            });
        self.emit(
            at,
            lk,
            EventKind::CallTransferred {
                call: id,
                merged,
                from: transferring.clone(),
                to: transferred_to.clone(),
                new_alias: new_call,
            },
        );
        self.refresh_agent_at(at, &transferring);
        if let Some(to) = transferred_to {
            self.refresh_agent_at(at, &to);
            self.maybe_pop(at, lk, id, &to);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_conference(
        &mut self,
        at: Timestamp,
        link: &LinkId,
        id: CallId,
        secondary: Option<NativeCallId>,
        new_call: Option<NativeCallId>,
        controller: DeviceId,
        added: Option<DeviceId>,
    ) {
        let lk = Some(link);
        let merged = self.other_call(link, secondary.as_ref(), id);
        if let Some(m) = merged {
            self.merge_into(at, lk, m, id, &controller);
        }
        self.set_leg(at, id, &controller, ConnectionState::Connected);
        if let Some(a) = &added
            && self.calls[&id].call.leg(a).is_none()
        {
            self.set_leg(at, id, a, ConnectionState::Connected);
        }
        if let Some(n) = &new_call {
            self.add_alias(link, id, n);
        }
        let l = self.calls.get_mut(&id).expect("live call");
        l.call.conferenced = true;
        let parties = l.call.legs.iter().map(|g| g.device.clone()).collect();
        self.emit(
            at,
            lk,
            EventKind::CallConferenced {
                call: id,
                merged,
                parties,
            },
        );
        self.refresh_agent_at(at, &controller);
    }

    /// Moves the parties of call `from` (but `skip`) into `into`, and ends `from` as merged.
    fn merge_into(
        &mut self,
        at: Timestamp,
        link: Option<&LinkId>,
        from: CallId,
        into: CallId,
        skip: &DeviceId,
    ) {
        let legs: Vec<Leg> = self
            .calls
            .get(&from)
            .map(|l| l.call.legs.clone())
            .unwrap_or_default();
        for g in legs {
            self.remove_leg(from, &g.device);
            if &g.device != skip && self.calls[&into].call.leg(&g.device).is_none() {
                let state = if g.state == ConnectionState::Held {
                    ConnectionState::Connected
                } else {
                    g.state.clone()
                };
                self.set_leg(at, into, &g.device, state);
            }
        }
        if let Some(l) = self.calls.get_mut(&from) {
            l.call.outcome = Some(Outcome::TransferredAway);
        }
        self.end_call(at, link, from);
    }

    fn end_call(&mut self, at: Timestamp, link: Option<&LinkId>, id: CallId) {
        if !self.calls.contains_key(&id) {
            return;
        }
        let waiting = self.calls[&id].call.waiting;
        if waiting {
            // Abandoned in the queue.
            self.leave_queue(at, link, id, false);
            if let Some(q) = self.calls[&id].call.queue.clone()
                && let Some(qq) = self.queues.get_mut(&q)
            {
                qq.stats.abandoned += 1;
                self.emit_queue(at, link, &q);
            }
        }
        let Some(mut l) = self.calls.remove(&id) else {
            return;
        };
        let c = &mut l.call;
        let outcome = c.outcome.unwrap_or_else(|| {
            if c.answered_at.is_some() {
                Outcome::Answered
            } else if waiting || (l.acd && c.delivered) {
                Outcome::Abandoned
            } else if c.failed_busy == Some(true) {
                Outcome::Busy
            } else if c.failed_busy == Some(false) {
                Outcome::Failed
            } else if c.delivered {
                Outcome::NoAnswer
            } else {
                Outcome::Failed
            }
        });
        c.outcome = Some(outcome);
        c.ended_at = Some(at);
        let devices: Vec<DeviceId> = c.legs.iter().map(|g| g.device.clone()).collect();
        c.legs.clear();
        for d in &devices {
            self.leave_device(d, id);
        }
        for a in &c.aliases {
            let key = (c.link.clone(), a.clone());
            self.alias.remove(&key);
            if self.tombstones.insert(key.clone()) {
                self.tomb_order.push_back(key);
            }
        }
        if self.tomb_order.len() > self.cfg.max_tombstones {
            self.reserve_tombstones();
        }
        while self.tomb_order.len() > self.cfg.max_tombstones {
            if let Some(k) = self.tomb_order.pop_front() {
                self.tombstones.remove(&k);
            }
        }
        let call = l.call;
        self.ended.push_back(call);
        while self.ended.len() > self.cfg.max_ended {
            self.ended.pop_front();
        }
        self.emit(at, link, EventKind::CallEnded { call: id, outcome });
        for d in devices {
            self.refresh_agent_at(at, &d);
        }
    }

    /// The tombstone set is full and from now on churns (one in, one out). A hash set that
    /// churns at its size counts its deleted slots as used and, once they run out, rehashes:
    /// in place when it is at most half full, else into twice the room. Without this, a set
    /// held at `max_tombstones` doubles once, at a moment that depends on the hashes, long
    /// after it became full (a day of calls saw its memory step up by a quarter an hour after
    /// the table was full). Reserving twice the cap the first time the cap is reached makes that
    /// step happen now, once: from here on the set only rehashes in place.
    fn reserve_tombstones(&mut self) {
        let want = self.cfg.max_tombstones.saturating_mul(2);
        if self.tombstones.capacity() < want {
            self.tombstones
                .reserve(want.saturating_sub(self.tombstones.len()));
        }
    }

    // ------------------------------------------------------------------------------ agents

    fn activity_at(&self, device: &DeviceId) -> AgentActivity {
        let Some(d) = self.devices.get(device) else {
            return AgentActivity::Idle;
        };
        let mut best = AgentActivity::Idle;
        let rank = |a: &AgentActivity| match a {
            AgentActivity::Idle => 0,
            AgentActivity::Reserved => 1,
            AgentActivity::OnOtherCall { .. } => 2,
            AgentActivity::OnAcdCall => 3,
        };
        for id in &d.calls {
            let Some(l) = self.calls.get(id) else {
                continue;
            };
            let Some(leg) = l.call.leg(device) else {
                continue;
            };
            let a = match leg.state {
                ConnectionState::Alerting if l.acd => AgentActivity::Reserved,
                ConnectionState::Connected | ConnectionState::Held if l.acd => {
                    AgentActivity::OnAcdCall
                }
                ConnectionState::Connected | ConnectionState::Held | ConnectionState::Initiated => {
                    AgentActivity::OnOtherCall {
                        direction: l.call.data.direction.map(|d| match d {
                            Direction::Inbound => Direction::Inbound,
                            other => other,
                        }),
                    }
                }
                _ => AgentActivity::Idle,
            };
            if rank(&a) > rank(&best) {
                best = a;
            }
        }
        best
    }

    /// The agent's activity over all the devices it is logged on at: the busiest wins.
    fn agent_activity(&self, agent: &AgentId) -> AgentActivity {
        let rank = |a: &AgentActivity| match a {
            AgentActivity::Idle => 0,
            AgentActivity::Reserved => 1,
            AgentActivity::OnOtherCall { .. } => 2,
            AgentActivity::OnAcdCall => 3,
        };
        let mut best = AgentActivity::Idle;
        for d in self.agent_devices.get(agent).into_iter().flatten() {
            let a = self.activity_at(d);
            if rank(&a) > rank(&best) {
                best = a;
            }
        }
        best
    }

    fn refresh_agent_at(&mut self, at: Timestamp, device: &DeviceId) {
        let Some(agent) = self.devices.get(device).and_then(|d| d.agent.clone()) else {
            return;
        };
        let activity = self.agent_activity(&agent);
        let changed = match self.agents.get_mut(&agent) {
            Some(a) if a.activity != activity => {
                let old = a.availability();
                a.activity = activity;
                let new = a.availability();
                if new != old {
                    recount(
                        &mut self.queue_agents,
                        (old, a.queues.keys()),
                        (new, a.queues.keys()),
                    );
                }
                true
            }
            _ => false,
        };
        if changed {
            self.emit_agent(at, None, &agent);
        }
    }

    fn emit_agent(&mut self, at: Timestamp, link: Option<&LinkId>, agent: &AgentId) {
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        let kind = EventKind::AgentStateChanged {
            agent: agent.clone(),
            device: a.device.clone(),
            status: a.status.clone(),
            activity: a.activity.clone(),
            availability: a.availability(),
        };
        let queues: Vec<QueueId> = a.queues.keys().cloned().collect();
        self.emit(at, link, kind);
        for q in queues {
            if self.queues.contains_key(&q) {
                self.emit_queue(at, link, &q);
            }
        }
    }

    fn on_agent(&mut self, at: Timestamp, link: LinkId, id: AgentId, ev: AgentEventKind) {
        let agent = self.agents.entry(id.clone()).or_insert_with(|| Agent {
            id: id.clone(),
            device: None,
            status: AgentStatus::LoggedOut,
            activity: AgentActivity::Idle,
            queues: Default::default(),
            since: at,
        });
        let before = (
            agent.status.clone(),
            agent.device.clone(),
            agent.queues.clone(),
        );
        let availability_before = agent.availability();
        let mut new_queues = Vec::new();
        match ev {
            AgentEventKind::LoggedOn { device, queues } => {
                if matches!(agent.status, AgentStatus::LoggedOut) {
                    agent.status = AgentStatus::NotReady { reason: None };
                }
                if let Some(d) = device {
                    agent.device = Some(d);
                }
                for q in queues {
                    agent.queues.insert(q.clone(), false);
                    new_queues.push(q);
                }
            }
            AgentEventKind::LoggedOff => {
                agent.status = AgentStatus::LoggedOut;
            }
            AgentEventKind::Ready => agent.status = AgentStatus::Ready,
            AgentEventKind::NotReady { reason } => agent.status = AgentStatus::NotReady { reason },
            AgentEventKind::WorkingAfterCall => agent.status = AgentStatus::WorkingAfterCall,
            AgentEventKind::QueueJoined { queue } => {
                agent.queues.insert(queue.clone(), false);
                new_queues.push(queue);
            }
            AgentEventKind::QueueLeft { queue } => {
                agent.queues.remove(&queue);
            }
            AgentEventKind::QueuePaused { queue, paused } => {
                agent.queues.insert(queue.clone(), paused);
                new_queues.push(queue);
            }
        }
        let device = agent.device.clone();
        let logged_out = agent.status == AgentStatus::LoggedOut;
        if (
            agent.status.clone(),
            agent.device.clone(),
            agent.queues.clone(),
        ) != before
        {
            agent.since = at;
        }
        let changed_status =
            agent.status != before.0 || agent.device != before.1 || agent.queues != before.2;
        // The device knows its agent (for pops and activity); a logged-out agent leaves it.
        if let Some(d) = &device {
            let dev = self.devices.entry(d.clone()).or_default();
            dev.agent = if logged_out { None } else { Some(id.clone()) };
            if !logged_out {
                let list = self.agent_devices.entry(id.clone()).or_default();
                if !list.contains(d) {
                    // Bounded: the oldest device is given up when an agent collects too many.
                    if list.len() >= MAX_DEVICES_PER_AGENT {
                        let oldest = list.remove(0);
                        if let Some(dev) = self.devices.get_mut(&oldest)
                            && dev.agent.as_ref() == Some(&id)
                        {
                            dev.agent = None;
                        }
                    }
                    list.push(d.clone());
                }
            }
        }
        // An agent may be logged on at several devices at once (desk phone and softphone): the
        // earlier devices stay the agent's until the agent logs off, which frees them all.
        if logged_out {
            for d in self.agent_devices.remove(&id).unwrap_or_default() {
                if let Some(dev) = self.devices.get_mut(&d)
                    && dev.agent.as_ref() == Some(&id)
                {
                    dev.agent = None;
                }
            }
        }
        for q in new_queues {
            self.queues.entry(q.clone()).or_insert_with(|| Queue {
                id: q,
                waiting: Vec::new(),
                stats: QueueStats::default(),
            });
        }
        if device.is_some() {
            let activity = if logged_out {
                AgentActivity::Idle
            } else {
                self.agent_activity(&id)
            };
            if let Some(a) = self.agents.get_mut(&id) {
                a.activity = activity;
            }
        }
        if let Some(a) = self.agents.get(&id) {
            let availability = a.availability();
            if availability != availability_before || a.queues != before.2 {
                recount(
                    &mut self.queue_agents,
                    (availability_before, before.2.keys()),
                    (availability, a.queues.keys()),
                );
            }
        }
        if changed_status {
            self.emit_agent(at, Some(&link), &id);
        }
    }

    // ------------------------------------------------------------------------------ resync

    /// Brings the picture of `device` in line with a fresh snapshot: calls the snapshot does
    /// not list have left the device (and end, when no monitored device has them any more);
    /// calls it lists are created or corrected. Applying the same snapshot twice changes nothing.
    fn reconcile(
        &mut self,
        at: Timestamp,
        link: LinkId,
        device: DeviceId,
        entries: Vec<SnapshotEntry>,
    ) {
        let lk = Some(&link);
        let listed: Set<NativeCallId> = entries.iter().map(|e| e.call.clone()).collect();
        let here: Vec<CallId> = self
            .devices
            .get(&device)
            .map(|d| d.calls.clone())
            .unwrap_or_default();
        for id in here {
            let Some(l) = self.calls.get(&id) else {
                continue;
            };
            if l.call.link != link || l.call.aliases.iter().any(|a| listed.contains(a)) {
                continue;
            }
            if self.remove_leg(id, &device) {
                self.emit(
                    at,
                    lk,
                    EventKind::PartyLeft {
                        call: id,
                        device: device.clone(),
                    },
                );
            }
            let still_seen = self.monitored_party(&self.calls[&id].call);
            if !still_seen {
                if self.links.get(&link) == Some(&LinkState::Resyncing) {
                    // Another device's snapshot of this resync may still list it.
                    if !self.orphans.contains(&id) {
                        self.orphans.push(id);
                    }
                } else {
                    self.end_call(at, lk, id);
                }
            }
        }
        for e in entries {
            if self.is_tombstoned(&link, &e.call) {
                continue;
            }
            let id = match self.resolve(&link, &e.call) {
                Some(id) => id,
                None => {
                    let id = self.new_call(at, &link, &e.call);
                    self.emit(
                        at,
                        lk,
                        EventKind::CallOffered {
                            call: id,
                            ani: None,
                            dnis: None,
                            direction: None,
                        },
                    );
                    id
                }
            };
            if self.set_leg(at, id, &device, e.state.clone()) {
                let kind = match e.state {
                    ConnectionState::Alerting => EventKind::CallAlerting {
                        call: id,
                        device: device.clone(),
                    },
                    ConnectionState::Connected => {
                        let l = self.calls.get_mut(&id).expect("live call");
                        if l.call.answered_at.is_none() {
                            l.call.answered_at = Some(at);
                            l.call.answered_by = Some(device.clone());
                        }
                        EventKind::CallAnswered {
                            call: id,
                            device: device.clone(),
                        }
                    }
                    ConnectionState::Held => EventKind::CallHeld {
                        call: id,
                        device: device.clone(),
                    },
                    state => EventKind::ConnectionStateChanged {
                        call: id,
                        device: device.clone(),
                        state,
                    },
                };
                self.emit(at, lk, kind);
            }
        }
        self.refresh_agent_at(at, &device);
    }

    // ------------------------------------------------------------------------------ records

    fn on_record(&mut self, at: Timestamp, link: LinkId, r: CallRecordInput) {
        let native = r
            .call
            .clone()
            .unwrap_or_else(|| format!("rec-{}-{}", r.started_at.0, self.next_call).into());
        if self.is_tombstoned(&link, &native) || self.resolve(&link, &native).is_some() {
            return; // a replayed record
        }
        let id = self.offer_call(
            r.started_at,
            at,
            &link,
            &native,
            r.calling.as_deref(),
            r.called.as_deref(),
        );
        let l = self.calls.get_mut(&id).expect("live call");
        l.call.delivered = true;
        if r.answered {
            let t = Timestamp(r.started_at.0 + r.ring_ms);
            l.call.answered_at = Some(t);
            l.call.answered_by = r.answered_by.clone();
            if let Some(d) = r.answered_by {
                self.emit(
                    at,
                    Some(&link),
                    EventKind::CallAnswered {
                        call: id,
                        device: d,
                    },
                );
            }
        }
        let end = Timestamp(r.started_at.0 + r.ring_ms + r.talk_ms);
        self.end_call(end.max(at), Some(&link), id);
    }
}

fn permille(a: u64, b: u64) -> u32 {
    a.saturating_mul(1000)
        .checked_div(b)
        .map_or(1000, |v| u32::try_from(v).unwrap_or(1000))
}

fn ev_numbers(ev: &CallEventKind) -> (Option<String>, Option<String>) {
    match ev {
        CallEventKind::Originated { calling, called } => {
            (Some(calling.to_string()), Some(called.clone()))
        }
        CallEventKind::Delivered {
            calling, called, ..
        }
        | CallEventKind::Queued {
            calling, called, ..
        }
        | CallEventKind::Established {
            calling, called, ..
        }
        | CallEventKind::Failed {
            calling, called, ..
        } => (calling.clone(), called.clone()),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::CallEventKind;

    fn call(e: &mut Engine, t: u64, native: &str, event: CallEventKind) {
        e.handle(
            Timestamp(t),
            DriverEvent::Call {
                link: "pbx".into(),
                call: native.into(),
                event,
                cause: None,
            },
        );
    }

    #[test]
    fn the_tombstone_set_stops_growing_once_it_is_full() {
        let max = 1_000;
        let mut e = Engine::new(Config {
            max_tombstones: max,
            ..Config::default()
        });
        e.handle(Timestamp(0), DriverEvent::LinkUp { link: "pbx".into() });
        e.handle(
            Timestamp(0),
            DriverEvent::Monitor {
                link: "pbx".into(),
                device: "1001".into(),
                monitored: true,
            },
        );
        let mut at_cap = None;
        // Twenty times the cap in calls, each leaving one tombstone.
        for i in 0..20 * max {
            let native = format!("{i:X}");
            let t = 1_000 + i as u64 * 10;
            call(
                &mut e,
                t,
                &native,
                CallEventKind::Delivered {
                    alerting: "1001".into(),
                    calling: Some("+4930123456".into()),
                    called: Some("1001".into()),
                    last_redirection: None,
                },
            );
            for (d, dt) in [("+4930123456", 1), ("1001", 2)] {
                call(
                    &mut e,
                    t + dt,
                    &native,
                    CallEventKind::ConnectionCleared { device: d.into() },
                );
            }
            e.drain_events().for_each(drop);
            assert!(e.tombstones.len() <= max);
            assert_eq!(e.tombstones.len(), e.tomb_order.len());
            if e.tomb_order.len() == max && at_cap.is_none() && i >= max {
                at_cap = Some(e.tombstones.capacity());
            }
            if let Some(cap) = at_cap {
                // From the moment the table is full its memory is flat.
                assert_eq!(e.tombstones.capacity(), cap, "grew after {i} calls");
            }
        }
        let cap = at_cap.expect("the table filled");
        assert!(cap >= 2 * max, "{cap}");
        assert_eq!(e.calls().count(), 0);
        // The oldest calls are forgotten, the newest still ignored when late.
        assert!(!e.is_tombstoned(&"pbx".into(), &"0".into()));
        assert!(e.is_tombstoned(
            &"pbx".into(),
            &format!("{:X}", 20 * max - 1).as_str().into()
        ));
    }

    #[test]
    fn events_from_a_stamped_report_carry_the_pbx_time_and_no_others_do() {
        let mut e = Engine::new(Config::default());
        e.handle(Timestamp(0), DriverEvent::LinkUp { link: "pbx".into() });
        e.drain_events().for_each(drop);
        let delivered = DriverEvent::Call {
            link: "pbx".into(),
            call: "C1".into(),
            event: CallEventKind::Delivered {
                alerting: "1001".into(),
                calling: Some("+4930123456".into()),
                called: Some("1001".into()),
                last_redirection: None,
            },
            cause: None,
        };
        e.handle_stamped(Timestamp(10), Some(1_795_493_133_123_456), delivered);
        let stamped: Vec<Event> = e.drain_events().collect();
        assert!(stamped.len() >= 2, "{stamped:?}");
        assert!(
            stamped
                .iter()
                .all(|ev| ev.pbx_time_us == Some(1_795_493_133_123_456))
        );
        let text = serde_json::to_string(&stamped[0]).unwrap();
        assert!(
            text.contains(r#","at":10,"pbx_time_us":1795493133123456,"#),
            "{text}"
        );
        call(
            &mut e,
            20,
            "C1",
            CallEventKind::ConnectionCleared {
                device: "1001".into(),
            },
        );
        let plain: Vec<Event> = e.drain_events().collect();
        assert!(!plain.is_empty());
        assert!(plain.iter().all(|ev| ev.pbx_time_us.is_none()));
        assert!(
            !serde_json::to_string(&plain[0])
                .unwrap()
                .contains("pbx_time_us")
        );
    }
}
