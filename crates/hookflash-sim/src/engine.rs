//! The call engine.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::model::{
    AgentState, CallId, CallSnapshot, Command, ConnectionId, DeviceSnapshot, EventCause, EventKind,
    LocalConnectionState as Lcs, MonitorEvent, Output, Response, SystemStatus,
};
use crate::rng::SplitMix64;
use crate::time::format_rfc3339;

/// Time a dropped link or a silenced poll answer lasts when the fault was random.
const RANDOM_FAULT_LENGTH_MS: u64 = 5_000;
/// Share of wrap-ups after which a generated agent takes a not-ready break.
const NOT_READY_AFTER_WRAP_UP_PERCENT: u8 = 3;
/// Bound on pending ground-truth lines.
const MAX_PENDING_TRUTH: usize = 1_000_000;

/// Counters of what the engine did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls offered (generated or commanded), consultation legs excluded.
    pub calls_offered: u64,
    /// Calls that ended (truth lines written or not).
    pub calls_ended: u64,
    /// Ended calls that were answered.
    pub answered: u64,
    /// Ended calls abandoned before answer.
    pub abandoned: u64,
    /// Ended calls that met a busy destination.
    pub busy: u64,
    /// Ended calls that were not answered in time.
    pub no_answer: u64,
    /// Ended calls that failed otherwise (no trunk).
    pub failed: u64,
    /// ACD calls answered within the service-level threshold.
    pub answered_in_service_level: u64,
    /// ACD calls answered (any wait).
    pub acd_answered: u64,
    /// Calls that overflowed to another group.
    pub overflowed: u64,
    /// Events produced (whether or not monitored).
    pub events: u64,
    /// Events delivered to monitors.
    pub events_delivered: u64,
    /// Outputs dropped because the output queue was full.
    pub outputs_dropped: u64,
    /// Arrivals rejected because `max_active_calls` was reached.
    pub arrivals_rejected: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DevKind {
    Extension,
    Agent(usize),
    Group(usize),
    Park,
}

#[derive(Debug)]
struct Device {
    dn: String,
    kind: DevKind,
    calls: Vec<u64>,
    monitors: Vec<u32>,
}

#[derive(Debug)]
struct Agent {
    id: String,
    dev: usize,
    group: usize,
    state: AgentState,
    idle_since: u64,
    epoch: u32,
}

#[derive(Debug)]
struct Group {
    dev: usize,
    queue: VecDeque<u64>,
    agents: Vec<usize>,
    queued: u64,
    answered: u64,
    in_sl: u64,
    abandoned: u64,
    overflowed_out: u64,
}

/// One ACD group's statistics: counters since the start and the situation now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// The group's device number.
    pub group: String,
    /// Calls that entered the group's queue (overflows in included).
    pub queued: u64,
    /// Calls answered by an agent of the group.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_in_service_level: u64,
    /// Calls that ended unanswered while waiting in the group.
    pub abandoned: u64,
    /// Calls that overflowed from this group to the next.
    pub overflowed_out: u64,
    /// Calls waiting now.
    pub waiting: usize,
    /// How long the oldest waiting call has waited, in ms.
    pub longest_wait_ms: u64,
    /// Agents of the group ready now.
    pub agents_ready: u32,
    /// Agents on a call now.
    pub agents_busy: u32,
    /// Agents in wrap-up now.
    pub agents_wrap_up: u32,
    /// Agents logged on but not ready now.
    pub agents_not_ready: u32,
    /// Agents logged off now.
    pub agents_logged_off: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Script {
    /// Driven by commands only.
    None,
    Answer,
    Abandon,
    Hold,
    Blind(String),
    Consult(String),
    Conference(String),
    ConsultLeg {
        primary: u64,
        conference: bool,
    },
    ExtBusy,
    ExtNoAnswer,
    Forward(String),
    Pickup(String),
    /// Agent answers, parks the call; the extension retrieves it from the park position.
    Park(String),
    Outbound,
}

#[derive(Debug, Clone)]
struct Conn {
    dev: String,
    state: Lcs,
}

#[derive(Debug)]
struct Call {
    id: CallId,
    calling: String,
    called: String,
    conns: Vec<Conn>,
    queue: Option<usize>,
    queued_at: u64,
    agent: Option<usize>,
    answered_by: Option<String>,
    offered_at: u64,
    answered_at: Option<u64>,
    transfers: Vec<String>,
    conferenced: bool,
    trunk: bool,
    script: Script,
    step: u8,
    epoch: u32,
    last_redirection: Option<String>,
    outcome: Option<&'static str>,
    consultation: bool,
    /// Devices that heard of the call without a connection to it (a busy destination): they
    /// hear of its end too.
    witnesses: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Arrival,
    Poll,
    Fault,
    Recover,
    Ring { call: u64, epoch: u32 },
    NoAnswer { call: u64, epoch: u32 },
    Patience { call: u64, epoch: u32 },
    Overflow { call: u64, epoch: u32 },
    Next { call: u64, epoch: u32 },
    AgentBack { agent: usize, epoch: u32 },
}

/// The simulated PBX. See the crate documentation for the driving loop.
#[derive(Debug)]
pub struct Engine {
    cfg: SimConfig,
    rng: SplitMix64,
    now: u64,
    seq: u64,
    timers: BinaryHeap<Reverse<(u64, u64, Timer)>>,
    devices: Vec<Device>,
    by_dn: HashMap<String, usize>,
    agents: Vec<Agent>,
    groups: Vec<Group>,
    extensions: Vec<usize>,
    calls: BTreeMap<u64, Call>,
    by_call_id: HashMap<CallId, u64>,
    next_call: u64,
    next_call_id: u64,
    trunks_busy: u32,
    monitors: BTreeMap<u32, usize>,
    next_xref: u32,
    outputs: VecDeque<Output>,
    truth: VecDeque<String>,
    link_down: bool,
    polls_silent: bool,
    stats: Stats,
    /// The fraction of a millisecond the arrival timer owes (rates above one call per
    /// 100 ms keep it, so that 2,000 calls/s are 2,000 calls/s and not clamped to 1 per ms).
    arrival_carry: f64,
}

fn exp_or(rng: &mut SplitMix64, mean: u64) -> u64 {
    rng.exp_ms(mean)
}

impl Engine {
    /// Builds the PBX: ACD groups `6000+q`, agent devices `3000+i` (agent ids `A3000+i`, logged on
    /// and ready at time 0), extensions `2000+i`. Generation starts at time 0.
    pub fn new(cfg: SimConfig) -> Self {
        let mut e = Self {
            rng: SplitMix64::new(cfg.seed),
            now: 0,
            seq: 0,
            timers: BinaryHeap::new(),
            devices: Vec::new(),
            by_dn: HashMap::new(),
            agents: Vec::new(),
            groups: Vec::new(),
            extensions: Vec::new(),
            calls: BTreeMap::new(),
            by_call_id: HashMap::new(),
            next_call: 1,
            next_call_id: 1,
            trunks_busy: 0,
            monitors: BTreeMap::new(),
            next_xref: 1,
            outputs: VecDeque::new(),
            truth: VecDeque::new(),
            link_down: false,
            polls_silent: false,
            stats: Stats::default(),
            arrival_carry: 0.0,
            cfg,
        };
        let queues = e.cfg.queues.clamp(1, 1_000);
        for q in 0..queues {
            let dev = e.add_device(format!("{}", 6000 + q), DevKind::Group(q as usize));
            e.groups.push(Group {
                dev,
                queue: VecDeque::new(),
                agents: Vec::new(),
                queued: 0,
                answered: 0,
                in_sl: 0,
                abandoned: 0,
                overflowed_out: 0,
            });
        }
        for i in 0..e.cfg.agents.min(100_000) {
            let a = e.agents.len();
            let dev = e.add_device(format!("{}", 300_000 + i), DevKind::Agent(a));
            let group = (i % queues) as usize;
            e.agents.push(Agent {
                id: format!("A{}", 300_000 + i),
                dev,
                group,
                state: AgentState::Ready,
                idle_since: 0,
                epoch: 0,
            });
            if let Some(g) = e.groups.get_mut(group) {
                g.agents.push(a);
            }
            e.truth_agent(a);
        }
        for i in 0..e.cfg.extensions.min(100_000) {
            let dev = e.add_device(format!("{}", 200_000 + i), DevKind::Extension);
            e.extensions.push(dev);
        }
        for i in 0..e.cfg.park_positions.min(1_000) {
            e.add_device(format!("{}", 7000 + i), DevKind::Park);
        }
        if e.cfg.calls_per_minute > 0.0 {
            let d = e.arrival_gap();
            e.schedule(d, Timer::Arrival);
        }
        if e.cfg.poll_interval_ms > 0 {
            e.schedule(e.cfg.poll_interval_ms, Timer::Poll);
        }
        if e.cfg.random_fault_ms > 0 {
            let d = exp_or(&mut e.rng, e.cfg.random_fault_ms);
            e.schedule(d, Timer::Fault);
        }
        e
    }

    fn add_device(&mut self, dn: String, kind: DevKind) -> usize {
        let idx = self.devices.len();
        self.by_dn.insert(dn.clone(), idx);
        self.devices.push(Device {
            dn,
            kind,
            calls: Vec::new(),
            monitors: Vec::new(),
        });
        idx
    }

    /// Dialling numbers of all devices: ACD groups, agent devices, extensions, park positions
    /// (in that order).
    pub fn device_numbers(&self) -> Vec<String> {
        self.devices.iter().map(|d| d.dn.clone()).collect()
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Calls currently alive (consultation legs included).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Calls waiting in each ACD group's queue.
    pub fn queue_lengths(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.queue.len()).collect()
    }

    /// Statistics of every ACD group, in group order.
    pub fn group_stats(&self) -> Vec<GroupStats> {
        self.groups
            .iter()
            .map(|g| {
                let mut s = GroupStats {
                    group: self
                        .devices
                        .get(g.dev)
                        .map(|d| d.dn.clone())
                        .unwrap_or_default(),
                    queued: g.queued,
                    answered: g.answered,
                    answered_in_service_level: g.in_sl,
                    abandoned: g.abandoned,
                    overflowed_out: g.overflowed_out,
                    waiting: g.queue.len(),
                    longest_wait_ms: g
                        .queue
                        .front()
                        .and_then(|k| self.calls.get(k))
                        .map(|c| self.now.saturating_sub(c.queued_at))
                        .unwrap_or(0),
                    ..GroupStats::default()
                };
                for a in g.agents.iter().filter_map(|&a| self.agents.get(a)) {
                    match a.state {
                        AgentState::Ready => s.agents_ready += 1,
                        AgentState::Busy => s.agents_busy += 1,
                        AgentState::WorkingAfterCall => s.agents_wrap_up += 1,
                        AgentState::NotReady(_) => s.agents_not_ready += 1,
                        AgentState::LoggedOff => s.agents_logged_off += 1,
                    }
                }
                s
            })
            .collect()
    }

    /// Trunks in use.
    pub fn trunks_in_use(&self) -> u32 {
        self.trunks_busy
    }

    /// The engine's current simulated time in ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// When the next timer is due (simulated ms), if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next output for the client.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next ground-truth JSON line (without newline), when `truth` is configured.
    pub fn poll_truth(&mut self) -> Option<String> {
        self.truth.pop_front()
    }

    /// Advances simulated time to `now` (never backwards) and runs every timer due by then.
    pub fn step(&mut self, now: u64) {
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, _, t))) = self.timers.pop() else {
                break;
            };
            self.now = self.now.max(at);
            self.fire(t);
        }
        self.now = self.now.max(now);
    }

    fn schedule(&mut self, delay: u64, t: Timer) {
        self.seq += 1;
        self.timers
            .push(Reverse((self.now.saturating_add(delay), self.seq, t)));
    }

    fn arrival_gap(&mut self) -> u64 {
        let mean = 60_000.0 / self.cfg.calls_per_minute;
        let u = 1.0 - self.rng.next_f64();
        let gap = -(u.ln()) * mean;
        if mean >= 100.0 {
            // Whole milliseconds, as seeded runs have always had them.
            return (gap as u64).max(1);
        }
        // Fast rates: several arrivals may share a millisecond; the fractions add up, so
        // the offered rate is the configured one.
        let total = gap + self.arrival_carry;
        let whole = total.floor();
        self.arrival_carry = total - whole;
        whole as u64
    }

    fn fire(&mut self, t: Timer) {
        match t {
            Timer::Arrival => {
                self.generate_call();
                let d = self.arrival_gap();
                self.schedule(d, Timer::Arrival);
            }
            Timer::Poll => {
                if !self.link_down {
                    self.push_output(Output::SystemStatusPoll {
                        at_ms: self.now,
                        status: SystemStatus::Normal,
                    });
                }
                self.schedule(self.cfg.poll_interval_ms, Timer::Poll);
            }
            Timer::Fault => {
                match self.rng.below(3) {
                    0 => self.fault_restart(),
                    1 => {
                        self.fault_drop_link();
                        self.schedule(RANDOM_FAULT_LENGTH_MS, Timer::Recover);
                    }
                    _ => {
                        self.polls_silent = true;
                        self.schedule(RANDOM_FAULT_LENGTH_MS, Timer::Recover);
                    }
                }
                let d = exp_or(&mut self.rng, self.cfg.random_fault_ms);
                self.schedule(d, Timer::Fault);
            }
            Timer::Recover => {
                self.link_down = false;
                self.polls_silent = false;
            }
            Timer::Ring { call, epoch } => {
                if self.call_gen(call) == Some(epoch) {
                    self.on_ring_done(call);
                }
            }
            Timer::NoAnswer { call, epoch } => {
                if self.call_gen(call) == Some(epoch) {
                    self.on_no_answer(call);
                }
            }
            Timer::Patience { call, epoch } => {
                if self.call_gen(call) == Some(epoch) {
                    self.on_abandon(call);
                }
            }
            Timer::Overflow { call, epoch } => {
                if self.call_gen(call) == Some(epoch) {
                    self.on_overflow(call);
                }
            }
            Timer::Next { call, epoch } => {
                if self.call_gen(call) == Some(epoch) {
                    self.on_next(call);
                }
            }
            Timer::AgentBack { agent, epoch } => {
                let wrap_up = self
                    .agents
                    .get(agent)
                    .is_some_and(|a| a.epoch == epoch && a.state == AgentState::WorkingAfterCall);
                let due = self.agents.get(agent).is_some_and(|a| a.epoch == epoch);
                if wrap_up && self.rng.below(100) < u64::from(NOT_READY_AFTER_WRAP_UP_PERCENT) {
                    // A break: not ready with reason 1..=3, back after a while.
                    let reason = 1 + self.rng.below(3) as u16;
                    self.set_agent(agent, AgentState::NotReady(Some(reason)));
                    let epoch = self.agents.get(agent).map(|a| a.epoch).unwrap_or(0);
                    let d = exp_or(&mut self.rng, self.cfg.acw_ms.saturating_mul(4));
                    self.schedule(d, Timer::AgentBack { agent, epoch });
                } else if due {
                    self.set_agent(agent, AgentState::Ready);
                }
            }
        }
    }

    fn call_gen(&self, key: u64) -> Option<u32> {
        self.calls.get(&key).map(|c| c.epoch)
    }

    fn bump(&mut self, key: u64) -> u32 {
        match self.calls.get_mut(&key) {
            Some(c) => {
                c.epoch = c.epoch.wrapping_add(1);
                c.epoch
            }
            None => 0,
        }
    }

    // ---------------------------------------------------------------- output plumbing

    fn push_output(&mut self, o: Output) {
        if self.outputs.len() >= self.cfg.max_pending_outputs.max(1) {
            self.outputs.pop_front();
            self.stats.outputs_dropped += 1;
        }
        self.outputs.push_back(o);
    }

    /// Emits `kind` to the monitors of `devs`, with local states taken from call `key`.
    fn emit(&mut self, key: Option<u64>, devs: &[String], kind: EventKind) {
        self.stats.events += 1;
        if self.monitors.is_empty() || self.link_down {
            return;
        }
        for (i, dn) in devs.iter().enumerate() {
            // A device on both calls of a transfer or conference hears of it once.
            if devs[..i].contains(dn) {
                continue;
            }
            let Some(&d) = self.by_dn.get(dn) else {
                continue;
            };
            let Some(dev) = self.devices.get(d) else {
                continue;
            };
            if dev.monitors.is_empty() {
                continue;
            }
            let local_state = key
                .and_then(|k| self.calls.get(&k))
                .and_then(|c| c.conns.iter().find(|x| &x.dev == dn))
                .map(|x| x.state)
                .or(match kind {
                    EventKind::ConnectionCleared { .. }
                    | EventKind::CallCleared { .. }
                    | EventKind::Diverted { .. }
                    | EventKind::Transferred { .. } => Some(Lcs::Null),
                    EventKind::Failed { .. } => Some(Lcs::Fail),
                    _ => None,
                });
            let xrefs = dev.monitors.clone();
            for x in xrefs {
                self.stats.events_delivered += 1;
                self.push_output(Output::Event(MonitorEvent {
                    cross_ref: x,
                    device: dn.clone(),
                    at_ms: self.now,
                    local_state,
                    kind: kind.clone(),
                }));
            }
        }
    }

    fn call_devs(&self, key: u64) -> Vec<String> {
        self.calls
            .get(&key)
            .map(|c| c.conns.iter().map(|x| x.dev.clone()).collect())
            .unwrap_or_default()
    }

    fn conn_id(&self, key: u64, dev: &str) -> ConnectionId {
        ConnectionId {
            call: self
                .calls
                .get(&key)
                .map(|c| c.id.clone())
                .unwrap_or(CallId(Vec::new())),
            device: dev.to_owned(),
        }
    }

    fn rfc(&self, ms: u64) -> String {
        format_rfc3339(self.cfg.start_epoch_secs, ms)
    }

    fn push_truth(&mut self, line: String) {
        if !self.cfg.truth {
            return;
        }
        if self.truth.len() >= MAX_PENDING_TRUTH {
            self.truth.pop_front();
        }
        self.truth.push_back(line);
    }

    fn truth_agent(&mut self, a: usize) {
        if !self.cfg.truth {
            return;
        }
        let Some(ag) = self.agents.get(a) else { return };
        let reason = match ag.state {
            AgentState::NotReady(r) => r,
            _ => None,
        };
        let group = self
            .groups
            .get(ag.group)
            .and_then(|g| self.devices.get(g.dev));
        let line = serde_json::json!({
            "kind": "agent",
            "agent": ag.id,
            "device": self.devices.get(ag.dev).map(|d| d.dn.clone()),
            "group": group.map(|g| g.dn.clone()),
            "state": ag.state.as_str(),
            "reason": reason,
            "at": self.rfc(self.now),
        })
        .to_string();
        self.push_truth(line);
    }

    // ---------------------------------------------------------------- calls

    fn new_call(&mut self, calling: &str, called: &str, script: Script) -> u64 {
        let key = self.next_call;
        self.next_call += 1;
        let id = self.fresh_call_id();
        self.by_call_id.insert(id.clone(), key);
        self.calls.insert(
            key,
            Call {
                id,
                calling: calling.to_owned(),
                called: called.to_owned(),
                conns: Vec::new(),
                queue: None,
                queued_at: 0,
                agent: None,
                answered_by: None,
                offered_at: self.now,
                answered_at: None,
                transfers: Vec::new(),
                conferenced: false,
                trunk: false,
                script,
                step: 0,
                epoch: 0,
                last_redirection: None,
                outcome: None,
                consultation: false,
                witnesses: Vec::new(),
            },
        );
        key
    }

    fn fresh_call_id(&mut self) -> CallId {
        let n = self.next_call_id;
        self.next_call_id += 1;
        CallId(format!("{n:08X}").into_bytes())
    }

    fn add_conn(&mut self, key: u64, dev: &str, state: Lcs) {
        if let Some(c) = self.calls.get_mut(&key) {
            c.conns.push(Conn {
                dev: dev.to_owned(),
                state,
            });
        }
        if let Some(&d) = self.by_dn.get(dev)
            && let Some(dv) = self.devices.get_mut(d)
        {
            dv.calls.push(key);
        }
    }

    fn set_conn(&mut self, key: u64, dev: &str, state: Lcs) {
        if let Some(c) = self.calls.get_mut(&key)
            && let Some(x) = c.conns.iter_mut().find(|x| x.dev == dev)
        {
            x.state = state;
        }
    }

    fn conn_state(&self, key: u64, dev: &str) -> Option<Lcs> {
        self.calls
            .get(&key)?
            .conns
            .iter()
            .find(|x| x.dev == dev)
            .map(|x| x.state)
    }

    /// Removes `dev`'s connection without events; frees agents.
    fn drop_conn(&mut self, key: u64, dev: &str) {
        if let Some(c) = self.calls.get_mut(&key) {
            c.conns.retain(|x| x.dev != dev);
        }
        if let Some(&d) = self.by_dn.get(dev)
            && let Some(dv) = self.devices.get_mut(d)
        {
            dv.calls.retain(|&k| k != key);
            let idle = dv.calls.is_empty();
            if let DevKind::Agent(a) = dv.kind
                && idle
            {
                self.agent_freed(a);
            }
        }
    }

    fn is_idle(&self, dev: usize) -> bool {
        self.devices.get(dev).is_some_and(|d| d.calls.is_empty())
    }

    fn pick_idle_extension(&mut self, not: Option<&str>) -> Option<String> {
        let n = self.extensions.len() as u64;
        if n == 0 {
            return None;
        }
        let start = self.rng.below(n) as usize;
        for i in 0..self.extensions.len() {
            let d = self.extensions[(start + i) % self.extensions.len()];
            if self.is_idle(d) {
                let dn = self.devices.get(d).map(|x| x.dn.clone())?;
                if Some(dn.as_str()) != not {
                    return Some(dn);
                }
            }
        }
        None
    }

    fn external_number(&mut self) -> String {
        format!("+4989{:07}", self.rng.below(10_000_000))
    }

    fn generate_call(&mut self) {
        if self.calls.len() >= self.cfg.max_active_calls {
            self.stats.arrivals_rejected += 1;
            return;
        }
        let m = &self.cfg.mix;
        let weights = [
            m.answered,
            m.abandoned,
            m.busy,
            m.no_answer,
            m.consult_transfer,
            m.blind_transfer,
            m.conference,
            m.forward_no_answer,
            m.pickup,
            m.hold,
            m.outbound,
            m.park,
        ];
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return;
        }
        let mut r = self.rng.below(total);
        let mut pick = 0;
        for (i, &w) in weights.iter().enumerate() {
            if r < u64::from(w) {
                pick = i;
                break;
            }
            r -= u64::from(w);
        }
        let caller = self.external_number();
        match pick {
            0 => self.inbound_acd(&caller, Script::Answer),
            1 => self.inbound_acd(&caller, Script::Abandon),
            2 => self.inbound_ext(&caller, Script::ExtBusy),
            3 => self.inbound_ext(&caller, Script::ExtNoAnswer),
            4..=6 => match self.pick_idle_extension(None) {
                Some(to) => {
                    let s = match pick {
                        4 => Script::Consult(to),
                        5 => Script::Blind(to),
                        _ => Script::Conference(to),
                    };
                    self.inbound_acd(&caller, s)
                }
                None => self.inbound_acd(&caller, Script::Answer),
            },
            7 | 8 => {
                let first = self.pick_idle_extension(None);
                let second = self.pick_idle_extension(first.as_deref());
                match (first, second) {
                    (Some(f), Some(s)) => {
                        let script = if pick == 7 {
                            Script::Forward(s)
                        } else {
                            Script::Pickup(s)
                        };
                        self.offer_ext(&caller, &f, script);
                    }
                    _ => self.inbound_ext(&caller, Script::ExtBusy),
                }
            }
            9 => self.inbound_acd(&caller, Script::Hold),
            10 => self.outbound(&caller),
            _ => match self.pick_idle_extension(None) {
                Some(by) => self.inbound_acd(&caller, Script::Park(by)),
                None => self.inbound_acd(&caller, Script::Answer),
            },
        }
    }

    fn take_trunk(&mut self) -> bool {
        if self.trunks_busy < self.cfg.trunks {
            self.trunks_busy += 1;
            true
        } else {
            false
        }
    }

    /// An inbound call that finds no trunk: Failed(trunksBusy), counted as `failed`.
    fn no_trunk(&mut self, calling: &str, called: &str) {
        let key = self.new_call(calling, called, Script::None);
        self.stats.calls_offered += 1;
        self.add_conn(key, calling, Lcs::Fail);
        let conn = self.conn_id(key, calling);
        self.emit(
            Some(key),
            &[called.to_owned()],
            EventKind::Failed {
                conn,
                failing: called.to_owned(),
                calling: calling.to_owned(),
                called: called.to_owned(),
                cause: EventCause::TrunksBusy,
            },
        );
        if let Some(c) = self.calls.get_mut(&key) {
            c.outcome = Some("failed");
            // The called device heard of the call (its Failed): it hears of the end too.
            c.witnesses.push(called.to_owned());
        }
        self.clear_call(key, EventCause::TrunksBusy);
    }

    fn inbound_acd(&mut self, caller: &str, script: Script) {
        let q = self.rng.below(self.groups.len() as u64) as usize;
        let Some(gdn) = self.group_dn(q) else { return };
        if !self.take_trunk() {
            return self.no_trunk(caller, &gdn);
        }
        let key = self.new_call(caller, &gdn, script.clone());
        self.stats.calls_offered += 1;
        if let Some(c) = self.calls.get_mut(&key) {
            c.trunk = true;
        }
        self.add_conn(key, caller, Lcs::Connected);
        self.enqueue(key, q, EventCause::EnteringDistribution);
        if script == Script::Abandon {
            let epoch = self.call_gen(key).unwrap_or(0);
            let d = exp_or(&mut self.rng, self.cfg.patience_ms);
            self.schedule(d, Timer::Patience { call: key, epoch });
        }
        self.distribute(q);
    }

    fn group_dn(&self, q: usize) -> Option<String> {
        self.groups
            .get(q)
            .and_then(|g| self.devices.get(g.dev))
            .map(|d| d.dn.clone())
    }

    fn enqueue(&mut self, key: u64, q: usize, cause: EventCause) {
        let Some(gdn) = self.group_dn(q) else { return };
        self.add_conn(key, &gdn, Lcs::Queued);
        let Some(g) = self.groups.get_mut(q) else {
            return;
        };
        g.queue.push_back(key);
        g.queued += 1;
        let n = g.queue.len() as u32;
        let now = self.now;
        let (calling, called) = match self.calls.get_mut(&key) {
            Some(c) => {
                c.queue = Some(q);
                c.queued_at = now;
                (c.calling.clone(), c.called.clone())
            }
            None => return,
        };
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, &gdn);
        self.emit(
            Some(key),
            &devs,
            EventKind::Queued {
                conn,
                queue: gdn,
                calling,
                called,
                calls_in_queue: n,
                cause,
            },
        );
        if self.cfg.overflow_ms > 0 && self.groups.len() > 1 {
            let epoch = self.call_gen(key).unwrap_or(0);
            self.schedule(self.cfg.overflow_ms, Timer::Overflow { call: key, epoch });
        }
    }

    fn dequeue(&mut self, key: u64) {
        let q = self.calls.get(&key).and_then(|c| c.queue);
        if let Some(q) = q
            && let Some(g) = self.groups.get_mut(q)
        {
            g.queue.retain(|&k| k != key);
        }
    }

    /// Longest-idle-agent distribution of group `q`'s queue.
    fn distribute(&mut self, q: usize) {
        loop {
            let Some(g) = self.groups.get(q) else { return };
            let Some(&key) = g.queue.front() else { return };
            let mut best: Option<(u64, usize)> = None;
            for &a in &g.agents {
                let Some(ag) = self.agents.get(a) else {
                    continue;
                };
                if ag.state == AgentState::Ready
                    && self.is_idle(ag.dev)
                    && best.is_none_or(|(t, _)| ag.idle_since < t)
                {
                    best = Some((ag.idle_since, a));
                }
            }
            let Some((_, a)) = best else { return };
            if let Some(g) = self.groups.get_mut(q) {
                g.queue.pop_front();
            }
            self.offer_agent(key, q, a);
        }
    }

    fn offer_agent(&mut self, key: u64, q: usize, a: usize) {
        let Some(gdn) = self.group_dn(q) else { return };
        let Some(adn) = self
            .agents
            .get(a)
            .and_then(|ag| self.devices.get(ag.dev))
            .map(|d| d.dn.clone())
        else {
            return;
        };
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, &gdn);
        self.drop_conn(key, &gdn);
        self.emit(
            Some(key),
            &devs,
            EventKind::Diverted {
                conn,
                from: gdn.clone(),
                to: adn.clone(),
                cause: EventCause::Distributed,
            },
        );
        if let Some(c) = self.calls.get_mut(&key) {
            c.agent = Some(a);
            c.last_redirection = Some(gdn);
        }
        self.set_agent(a, AgentState::Busy);
        self.alert(key, &adn, EventCause::Distributed);
        let epoch = self.bump(key);
        let scripted = self
            .calls
            .get(&key)
            .is_some_and(|c| c.script != Script::None);
        if scripted {
            let d = exp_or(&mut self.rng, self.cfg.ring_ms);
            self.schedule(d, Timer::Ring { call: key, epoch });
        } else {
            self.schedule(self.cfg.no_answer_ms, Timer::NoAnswer { call: key, epoch });
        }
    }

    fn alert(&mut self, key: u64, dev: &str, cause: EventCause) {
        self.add_conn(key, dev, Lcs::Alerting);
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, dev);
        let Some(c) = self.calls.get(&key) else {
            return;
        };
        let kind = EventKind::Delivered {
            conn,
            calling: c.calling.clone(),
            called: c.called.clone(),
            last_redirection: c.last_redirection.clone(),
            cause,
        };
        self.emit(Some(key), &devs, kind);
    }

    fn answer(&mut self, key: u64, dev: &str, cause: EventCause) {
        self.set_conn(key, dev, Lcs::Connected);
        let now = self.now;
        let sl = self.cfg.service_level_ms;
        let mut in_sl = None;
        if let Some(c) = self.calls.get_mut(&key)
            && c.answered_at.is_none()
        {
            c.answered_at = Some(now);
            c.answered_by = Some(dev.to_owned());
            if let (Some(q), Some(_)) = (c.queue, c.agent) {
                in_sl = Some((q, now.saturating_sub(c.queued_at) <= sl));
            }
        }
        if let Some((q, s)) = in_sl {
            self.stats.acd_answered += 1;
            if s {
                self.stats.answered_in_service_level += 1;
            }
            if let Some(g) = self.groups.get_mut(q) {
                g.answered += 1;
                g.in_sl += u64::from(s);
            }
        }
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, dev);
        let Some(c) = self.calls.get(&key) else {
            return;
        };
        let kind = EventKind::Established {
            conn,
            calling: c.calling.clone(),
            called: c.called.clone(),
            last_redirection: c.last_redirection.clone(),
            cause,
        };
        self.emit(Some(key), &devs, kind);
    }

    fn schedule_next(&mut self, key: u64, mean: u64) {
        let epoch = self.bump(key);
        let d = exp_or(&mut self.rng, mean);
        self.schedule(d, Timer::Next { call: key, epoch });
    }

    fn on_ring_done(&mut self, key: u64) {
        let Some(c) = self.calls.get(&key) else {
            return;
        };
        let script = c.script.clone();
        let alerting: Option<String> = c
            .conns
            .iter()
            .find(|x| x.state == Lcs::Alerting)
            .map(|x| x.dev.clone());
        let Some(dev) = alerting else { return };
        if let Script::Pickup(by) = script {
            return self.pickup(key, &dev, &by);
        }
        self.answer(key, &dev, EventCause::NewCall);
        let mean = match script {
            Script::ConsultLeg { .. } => self.cfg.hold_ms,
            _ => self.cfg.talk_ms,
        };
        self.schedule_next(key, mean);
    }

    fn on_no_answer(&mut self, key: u64) {
        let Some(c) = self.calls.get(&key) else {
            return;
        };
        let script = c.script.clone();
        let alerting: Option<String> = c
            .conns
            .iter()
            .find(|x| x.state == Lcs::Alerting)
            .map(|x| x.dev.clone());
        let Some(dev) = alerting else { return };
        if let Script::Forward(to) = script {
            return self.divert(key, &dev, &to, EventCause::CallForwardNoAnswer);
        }
        self.set_conn(key, &dev, Lcs::Fail);
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, &dev);
        let (calling, called) = self
            .calls
            .get(&key)
            .map(|c| (c.calling.clone(), c.called.clone()))
            .unwrap_or_default();
        self.emit(
            Some(key),
            &devs,
            EventKind::Failed {
                conn,
                failing: dev.clone(),
                calling,
                called,
                cause: EventCause::NoAnswer,
            },
        );
        if let Some(c) = self.calls.get_mut(&key) {
            c.outcome = Some("no-answer");
        }
        self.clear_call(key, EventCause::NoAnswer);
    }

    fn on_abandon(&mut self, key: u64) {
        let answered = self
            .calls
            .get(&key)
            .is_some_and(|c| c.answered_at.is_some());
        if answered {
            return;
        }
        if let Some(c) = self.calls.get_mut(&key) {
            c.outcome = Some("abandoned");
        }
        self.clear_call(key, EventCause::CallCancelled);
    }

    fn on_overflow(&mut self, key: u64) {
        let Some(c) = self.calls.get(&key) else {
            return;
        };
        let Some(q) = c.queue else { return };
        if c.agent.is_some() || c.answered_at.is_some() {
            return;
        }
        let Some(from) = self.group_dn(q) else { return };
        let nq = (q + 1) % self.groups.len().max(1);
        let Some(to) = self.group_dn(nq) else { return };
        if let Some(g) = self.groups.get_mut(q) {
            g.overflowed_out += 1;
        }
        self.dequeue(key);
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, &from);
        self.drop_conn(key, &from);
        self.emit(
            Some(key),
            &devs,
            EventKind::Diverted {
                conn,
                from: from.clone(),
                to,
                cause: EventCause::Overflow,
            },
        );
        self.stats.overflowed += 1;
        if let Some(c) = self.calls.get_mut(&key) {
            c.last_redirection = Some(from);
        }
        self.enqueue(key, nq, EventCause::Overflow);
        self.distribute(nq);
    }

    fn on_next(&mut self, key: u64) {
        let Some(c) = self.calls.get(&key) else {
            return;
        };
        let script = c.script.clone();
        let step = c.step;
        let agent = c.agent;
        if let Some(c) = self.calls.get_mut(&key) {
            c.step = c.step.saturating_add(1);
        }
        let agent_dev = agent
            .and_then(|a| self.agents.get(a))
            .and_then(|a| self.devices.get(a.dev))
            .map(|d| d.dn.clone());
        match (script, step, agent_dev) {
            (Script::Hold, 0, Some(adn)) => {
                if self.hold(key, &adn).is_ok() {
                    self.schedule_next(key, self.cfg.hold_ms);
                } else {
                    self.hangup(key);
                }
            }
            (Script::Hold, 1, Some(adn)) => {
                if self.retrieve(key, &adn).is_ok() {
                    self.schedule_next(key, self.cfg.talk_ms);
                } else {
                    self.hangup(key);
                }
            }
            (Script::Park(_), 0, Some(adn)) => match self.park(key, &adn, None) {
                Ok(_) => self.schedule_next(key, self.cfg.hold_ms),
                Err(_) => self.hangup(key),
            },
            (Script::Park(by), 1, _) => {
                let parked = self.parked_at(key);
                let free = self.by_dn.get(&by).is_some_and(|&d| self.is_idle(d));
                match parked {
                    Some(pos) if free => {
                        self.unpark(key, &pos, &by);
                        if let Some(c) = self.calls.get_mut(&key) {
                            c.script = Script::Answer;
                        }
                        self.schedule_next(key, self.cfg.talk_ms);
                    }
                    // Nobody came for the call: the caller gives up.
                    _ => self.hangup(key),
                }
            }
            (Script::Blind(to), 0, Some(adn)) => match self.single_step(key, &adn, &to) {
                Ok(_) => {}
                Err(_) => self.hangup(key),
            },
            (Script::Consult(to) | Script::Conference(to), 0, Some(adn)) => {
                let conference = matches!(
                    self.calls.get(&key).map(|c| &c.script),
                    Some(Script::Conference(_))
                );
                match self.consult(key, &adn, &to) {
                    Ok(leg) => {
                        if let Some(c) = self.calls.get_mut(&leg) {
                            c.script = Script::ConsultLeg {
                                primary: key,
                                conference,
                            };
                        }
                        let epoch = self.bump(leg);
                        let d = exp_or(&mut self.rng, self.cfg.ring_ms);
                        self.schedule(d, Timer::Ring { call: leg, epoch });
                    }
                    Err(_) => self.hangup(key),
                }
            }
            (
                Script::ConsultLeg {
                    primary,
                    conference,
                },
                _,
                _,
            ) => {
                let consulting = self
                    .calls
                    .get(&primary)
                    .and_then(|p| p.conns.iter().find(|x| x.state == Lcs::Hold))
                    .map(|x| x.dev.clone());
                let Some(dev) = consulting else {
                    return self.hangup(key);
                };
                let r = if conference {
                    self.conference(primary, key, &dev)
                } else {
                    self.transfer(primary, key, &dev)
                };
                match r {
                    Ok(k) => {
                        if let Some(c) = self.calls.get_mut(&k) {
                            c.script = Script::Answer;
                        }
                        self.schedule_next(k, self.cfg.talk_ms);
                    }
                    Err(_) => self.hangup(key),
                }
            }
            _ => self.hangup(key),
        }
    }

    /// The end of a scripted call: everybody hangs up.
    fn hangup(&mut self, key: u64) {
        self.clear_call(key, EventCause::NormalClearing);
    }

    fn inbound_ext(&mut self, caller: &str, script: Script) {
        let n = self.extensions.len() as u64;
        let Some(&d) = self.extensions.get(self.rng.below(n) as usize) else {
            return;
        };
        let Some(dn) = self.devices.get(d).map(|x| x.dn.clone()) else {
            return;
        };
        self.offer_ext(caller, &dn, script);
    }

    fn offer_ext(&mut self, caller: &str, ext: &str, script: Script) {
        if !self.take_trunk() {
            return self.no_trunk(caller, ext);
        }
        let key = self.new_call(caller, ext, script.clone());
        self.stats.calls_offered += 1;
        if let Some(c) = self.calls.get_mut(&key) {
            c.trunk = true;
        }
        self.add_conn(key, caller, Lcs::Connected);
        let busy = self.by_dn.get(ext).is_some_and(|&d| !self.is_idle(d));
        if busy || script == Script::ExtBusy {
            return self.fail_busy(key, ext);
        }
        self.alert(key, ext, EventCause::NewCall);
        let epoch = self.bump(key);
        match script {
            Script::ExtNoAnswer | Script::Forward(_) | Script::None => {
                self.schedule(self.cfg.no_answer_ms, Timer::NoAnswer { call: key, epoch })
            }
            _ => {
                let d = exp_or(&mut self.rng, self.cfg.ring_ms);
                self.schedule(d, Timer::Ring { call: key, epoch });
            }
        }
    }

    fn fail_busy(&mut self, key: u64, dev: &str) {
        let Some((calling, called)) = self
            .calls
            .get(&key)
            .map(|c| (c.calling.clone(), c.called.clone()))
        else {
            return;
        };
        let mut devs = self.call_devs(key);
        devs.push(dev.to_owned());
        let conn = self.conn_id(key, dev);
        self.emit(
            Some(key),
            &devs,
            EventKind::Failed {
                conn,
                failing: dev.to_owned(),
                calling,
                called,
                cause: EventCause::Busy,
            },
        );
        let party = devs[..devs.len() - 1].iter().any(|d| d == dev);
        if let Some(c) = self.calls.get_mut(&key) {
            c.outcome = Some("busy");
            if !party && !c.witnesses.iter().any(|w| w == dev) {
                c.witnesses.push(dev.to_owned());
            }
        }
        let scripted = self
            .calls
            .get(&key)
            .is_some_and(|c| c.script != Script::None);
        if scripted {
            self.clear_call(key, EventCause::Busy);
        }
    }

    fn divert(&mut self, key: u64, from: &str, to: &str, cause: EventCause) {
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, from);
        self.drop_conn(key, from);
        self.emit(
            Some(key),
            &devs,
            EventKind::Diverted {
                conn,
                from: from.to_owned(),
                to: to.to_owned(),
                cause,
            },
        );
        if let Some(c) = self.calls.get_mut(&key) {
            c.last_redirection = Some(from.to_owned());
            if c.script == Script::Forward(to.to_owned()) {
                c.script = Script::Answer;
            }
        }
        let busy = self.by_dn.get(to).is_some_and(|&d| !self.is_idle(d));
        if busy {
            return self.fail_busy(key, to);
        }
        self.alert(key, to, cause);
        let epoch = self.bump(key);
        let scripted = self
            .calls
            .get(&key)
            .is_some_and(|c| c.script != Script::None);
        if scripted {
            let d = exp_or(&mut self.rng, self.cfg.ring_ms);
            self.schedule(d, Timer::Ring { call: key, epoch });
        } else {
            self.schedule(self.cfg.no_answer_ms, Timer::NoAnswer { call: key, epoch });
        }
    }

    fn is_park(&self, dn: &str) -> bool {
        self.by_dn
            .get(dn)
            .and_then(|&d| self.devices.get(d))
            .is_some_and(|d| d.kind == DevKind::Park)
    }

    /// The park position holding call `key`, if it is parked.
    fn parked_at(&self, key: u64) -> Option<String> {
        self.calls
            .get(&key)?
            .conns
            .iter()
            .find(|x| x.state == Lcs::Queued && self.is_park(&x.dev))
            .map(|x| x.dev.clone())
    }

    /// Parks the call that `dev` is connected to at `to` (or the first free park position):
    /// `dev` leaves the call (ConnectionCleared, cause park) and the call waits at the park
    /// position (Queued, cause park). Returns the park position.
    fn park(&mut self, key: u64, dev: &str, to: Option<&str>) -> Result<String, SimError> {
        if self.conn_state(key, dev) != Some(Lcs::Connected) {
            return Err(SimError::NotPermittedInState);
        }
        let pos = match to {
            Some(p) => {
                let &d = self
                    .by_dn
                    .get(p)
                    .ok_or_else(|| SimError::InvalidDevice(p.to_owned()))?;
                if !self.is_park(p) {
                    return Err(SimError::InvalidDevice(p.to_owned()));
                }
                if !self.is_idle(d) {
                    return Err(SimError::NotPermittedInState);
                }
                p.to_owned()
            }
            None => self
                .devices
                .iter()
                .find(|d| d.kind == DevKind::Park && d.calls.is_empty())
                .map(|d| d.dn.clone())
                .ok_or(SimError::NotPermittedInState)?,
        };
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, dev);
        self.drop_conn(key, dev);
        self.emit(
            Some(key),
            &devs,
            EventKind::ConnectionCleared {
                conn,
                releasing: dev.to_owned(),
                cause: EventCause::Park,
            },
        );
        self.add_conn(key, &pos, Lcs::Queued);
        let (calling, called) = self
            .calls
            .get(&key)
            .map(|c| (c.calling.clone(), c.called.clone()))
            .unwrap_or_default();
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, &pos);
        self.emit(
            Some(key),
            &devs,
            EventKind::Queued {
                conn,
                queue: pos.clone(),
                calling,
                called,
                calls_in_queue: 1,
                cause: EventCause::Park,
            },
        );
        Ok(pos)
    }

    /// `by` retrieves the call parked at `pos`: Diverted from the park position, Established
    /// at `by` (cause park).
    fn unpark(&mut self, key: u64, pos: &str, by: &str) {
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, pos);
        self.drop_conn(key, pos);
        self.emit(
            Some(key),
            &devs,
            EventKind::Diverted {
                conn,
                from: pos.to_owned(),
                to: by.to_owned(),
                cause: EventCause::Park,
            },
        );
        if let Some(c) = self.calls.get_mut(&key) {
            c.last_redirection = Some(pos.to_owned());
        }
        self.add_conn(key, by, Lcs::Alerting);
        self.answer(key, by, EventCause::Park);
        self.bump(key);
    }

    fn pickup(&mut self, key: u64, ringing: &str, by: &str) {
        let busy = self.by_dn.get(by).is_some_and(|&d| !self.is_idle(d));
        if busy {
            // Nobody free to pick up: the ringing extension answers itself.
            self.answer(key, ringing, EventCause::NewCall);
            return self.schedule_next(key, self.cfg.talk_ms);
        }
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, ringing);
        self.drop_conn(key, ringing);
        self.emit(
            Some(key),
            &devs,
            EventKind::Diverted {
                conn,
                from: ringing.to_owned(),
                to: by.to_owned(),
                cause: EventCause::CallPickup,
            },
        );
        if let Some(c) = self.calls.get_mut(&key) {
            c.last_redirection = Some(ringing.to_owned());
            if c.script != Script::None {
                c.script = Script::Answer;
            }
        }
        self.add_conn(key, by, Lcs::Alerting);
        self.answer(key, by, EventCause::CallPickup);
        let scripted = self
            .calls
            .get(&key)
            .is_some_and(|c| c.script != Script::None);
        if scripted {
            self.schedule_next(key, self.cfg.talk_ms);
        } else {
            self.bump(key);
        }
    }

    fn outbound(&mut self, external: &str) {
        let n = self.agents.len() as u64;
        let start = self.rng.below(n) as usize;
        let mut agent = None;
        for i in 0..self.agents.len() {
            let a = (start + i) % self.agents.len();
            if let Some(ag) = self.agents.get(a)
                && ag.state == AgentState::Ready
                && self.is_idle(ag.dev)
            {
                agent = Some(a);
                break;
            }
        }
        let Some(a) = agent else { return };
        let Some(adn) = self
            .agents
            .get(a)
            .and_then(|ag| self.devices.get(ag.dev))
            .map(|d| d.dn.clone())
        else {
            return;
        };
        let _ = self.make_call(&adn, external, Script::Outbound);
    }

    /// Starts a call from a known device; used by MakeCall, outbound generation and consultation.
    fn make_call(&mut self, calling: &str, called: &str, script: Script) -> Result<u64, SimError> {
        let &cd = self
            .by_dn
            .get(calling)
            .ok_or_else(|| SimError::InvalidDevice(calling.to_owned()))?;
        let kind = self
            .devices
            .get(cd)
            .map(|d| d.kind)
            .ok_or(SimError::InvalidConnection)?;
        if matches!(kind, DevKind::Group(_) | DevKind::Park) {
            return Err(SimError::InvalidDevice(calling.to_owned()));
        }
        if self.is_park(called) {
            return Err(SimError::InvalidDevice(called.to_owned()));
        }
        let active = self.devices.get(cd).is_some_and(|d| {
            d.calls.iter().any(|k| {
                self.conn_state(*k, calling)
                    .is_some_and(|s| matches!(s, Lcs::Connected | Lcs::Alerting | Lcs::Initiated))
            })
        });
        if active {
            return Err(SimError::NotPermittedInState);
        }
        if let DevKind::Agent(a) = kind {
            match self.agents.get(a).map(|x| &x.state) {
                Some(AgentState::LoggedOff) | None => {}
                _ => self.set_agent(a, AgentState::Busy),
            }
        }
        let consultation = matches!(script, Script::ConsultLeg { .. });
        let key = self.new_call(calling, called, script.clone());
        if !consultation {
            self.stats.calls_offered += 1;
        }
        if let Some(c) = self.calls.get_mut(&key) {
            c.consultation = consultation;
        }
        self.add_conn(key, calling, Lcs::Initiated);
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, calling);
        let cause = if consultation {
            EventCause::Consultation
        } else {
            EventCause::MakeCall
        };
        self.emit(
            Some(key),
            &devs,
            EventKind::ServiceInitiated {
                conn: conn.clone(),
                cause,
            },
        );
        self.set_conn(key, calling, Lcs::Connected);
        self.emit(
            Some(key),
            &devs,
            EventKind::Originated {
                conn,
                calling: calling.to_owned(),
                called: called.to_owned(),
                cause,
            },
        );
        match self
            .by_dn
            .get(called)
            .and_then(|&d| self.devices.get(d))
            .map(|d| d.kind)
        {
            Some(DevKind::Group(q)) => {
                self.enqueue(key, q, EventCause::EnteringDistribution);
                self.distribute(q);
            }
            Some(_) => {
                let busy = self.by_dn.get(called).is_some_and(|&d| !self.is_idle(d));
                if busy {
                    self.fail_busy(key, called);
                } else {
                    self.alert(key, called, EventCause::NewCall);
                    let epoch = self.bump(key);
                    if matches!(script, Script::None | Script::ConsultLeg { .. }) {
                        self.schedule(self.cfg.no_answer_ms, Timer::NoAnswer { call: key, epoch });
                    }
                }
            }
            None => {
                // External destination over a trunk; the outside world answers after ringing.
                if !self.take_trunk() {
                    let conn = self.conn_id(key, calling);
                    self.emit(
                        Some(key),
                        &devs,
                        EventKind::Failed {
                            conn,
                            failing: called.to_owned(),
                            calling: calling.to_owned(),
                            called: called.to_owned(),
                            cause: EventCause::TrunksBusy,
                        },
                    );
                    if let Some(c) = self.calls.get_mut(&key) {
                        c.outcome = Some("failed");
                    }
                    self.clear_call(key, EventCause::TrunksBusy);
                    return Ok(key);
                }
                if let Some(c) = self.calls.get_mut(&key) {
                    c.trunk = true;
                }
                self.alert(key, called, EventCause::NewCall);
                let epoch = self.bump(key);
                let d = exp_or(&mut self.rng, self.cfg.ring_ms);
                self.schedule(d, Timer::Ring { call: key, epoch });
                if script == Script::None
                    && let Some(c) = self.calls.get_mut(&key)
                {
                    // The external party hangs up after a talk time of its own.
                    c.script = Script::Answer;
                }
            }
        }
        Ok(key)
    }

    fn hold(&mut self, key: u64, dev: &str) -> Result<(), SimError> {
        if self.conn_state(key, dev) != Some(Lcs::Connected) {
            return Err(SimError::NotPermittedInState);
        }
        self.set_conn(key, dev, Lcs::Hold);
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, dev);
        self.emit(
            Some(key),
            &devs,
            EventKind::Held {
                conn,
                holding: dev.to_owned(),
                cause: EventCause::NewCall,
            },
        );
        Ok(())
    }

    fn retrieve(&mut self, key: u64, dev: &str) -> Result<(), SimError> {
        if self.conn_state(key, dev) != Some(Lcs::Hold) {
            return Err(SimError::NotPermittedInState);
        }
        let other_active = self
            .by_dn
            .get(dev)
            .and_then(|&d| self.devices.get(d))
            .is_some_and(|d| {
                d.calls
                    .iter()
                    .any(|&k| k != key && self.conn_state(k, dev) == Some(Lcs::Connected))
            });
        if other_active {
            return Err(SimError::NotPermittedInState);
        }
        self.set_conn(key, dev, Lcs::Connected);
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, dev);
        self.emit(
            Some(key),
            &devs,
            EventKind::Retrieved {
                conn,
                retrieving: dev.to_owned(),
                cause: EventCause::NewCall,
            },
        );
        Ok(())
    }

    fn consult(&mut self, key: u64, dev: &str, to: &str) -> Result<u64, SimError> {
        self.hold(key, dev)?;
        match self.make_call(
            dev,
            to,
            Script::ConsultLeg {
                primary: key,
                conference: false,
            },
        ) {
            Ok(k) => Ok(k),
            Err(e) => {
                let _ = self.retrieve(key, dev);
                Err(e)
            }
        }
    }

    /// Consultation transfer: `dev` holds `primary` and is active in `secondary`.
    fn transfer(&mut self, primary: u64, secondary: u64, dev: &str) -> Result<u64, SimError> {
        if self.conn_state(primary, dev) != Some(Lcs::Hold)
            || self.conn_state(secondary, dev).is_none()
        {
            return Err(SimError::NotPermittedInState);
        }
        let old_p = self
            .calls
            .get(&primary)
            .map(|c| c.id.clone())
            .ok_or(SimError::InvalidConnection)?;
        let old_s = self
            .calls
            .get(&secondary)
            .map(|c| c.id.clone())
            .ok_or(SimError::InvalidConnection)?;
        let mut devs = self.call_devs(primary);
        devs.extend(self.call_devs(secondary));
        // Move the secondary's other parties into the primary call.
        let moved: Vec<Conn> = self
            .calls
            .get(&secondary)
            .map(|c| c.conns.iter().filter(|x| x.dev != dev).cloned().collect())
            .unwrap_or_default();
        let new_id = if self.cfg.new_call_id_on_transfer {
            self.fresh_call_id()
        } else {
            old_p.clone()
        };
        let mut connections = Vec::new();
        for c in self
            .calls
            .get(&primary)
            .map(|c| c.conns.clone())
            .unwrap_or_default()
        {
            if c.dev != dev {
                connections.push((
                    ConnectionId {
                        call: new_id.clone(),
                        device: c.dev.clone(),
                    },
                    ConnectionId {
                        call: old_p.clone(),
                        device: c.dev,
                    },
                ));
            }
        }
        for c in &moved {
            connections.push((
                ConnectionId {
                    call: new_id.clone(),
                    device: c.dev.clone(),
                },
                ConnectionId {
                    call: old_s.clone(),
                    device: c.dev.clone(),
                },
            ));
        }
        let to = moved.first().map(|c| c.dev.clone()).unwrap_or_default();
        // Tear down the secondary silently (the Transferred event reports it).
        for c in &moved {
            self.drop_conn(secondary, &c.dev);
        }
        self.drop_conn(secondary, dev);
        self.drop_conn(primary, dev);
        if let Some(s) = self.calls.remove(&secondary) {
            self.by_call_id.remove(&s.id);
            if s.trunk {
                self.merge_trunk(primary);
            }
        }
        for c in &moved {
            self.add_conn(primary, &c.dev, c.state);
        }
        if let Some(p) = self.calls.get_mut(&primary) {
            p.transfers.push(to.clone());
            if p.agent
                .and_then(|a| self.agents.get(a))
                .is_some_and(|a| self.devices.get(a.dev).is_some_and(|d| d.dn == dev))
            {
                // The agent left; the call is no longer the agent's.
            }
            if new_id != p.id {
                self.by_call_id.remove(&p.id);
                p.id = new_id.clone();
                self.by_call_id.insert(new_id.clone(), primary);
            }
        }
        self.emit(
            Some(primary),
            &devs,
            EventKind::Transferred {
                primary_old_call: old_p,
                secondary_old_call: Some(old_s),
                transferring: dev.to_owned(),
                transferred_to: to,
                new_call: new_id,
                connections,
                cause: EventCause::Transfer,
            },
        );
        self.bump(primary);
        if self.calls.get(&primary).is_some_and(|c| c.conns.len() < 2) {
            self.clear_call(primary, EventCause::NormalClearing);
        }
        Ok(primary)
    }

    /// A merged leg brings a trunk into `primary`; the model keeps one trunk per call.
    fn merge_trunk(&mut self, primary: u64) {
        match self.calls.get_mut(&primary) {
            Some(p) if !p.trunk => p.trunk = true,
            _ => self.trunks_busy = self.trunks_busy.saturating_sub(1),
        }
    }

    fn conference(&mut self, primary: u64, secondary: u64, dev: &str) -> Result<u64, SimError> {
        if self.conn_state(primary, dev) != Some(Lcs::Hold)
            || self.conn_state(secondary, dev).is_none()
        {
            return Err(SimError::NotPermittedInState);
        }
        let old_p = self
            .calls
            .get(&primary)
            .map(|c| c.id.clone())
            .ok_or(SimError::InvalidConnection)?;
        let old_s = self
            .calls
            .get(&secondary)
            .map(|c| c.id.clone())
            .ok_or(SimError::InvalidConnection)?;
        let moved: Vec<Conn> = self
            .calls
            .get(&secondary)
            .map(|c| c.conns.iter().filter(|x| x.dev != dev).cloned().collect())
            .unwrap_or_default();
        for c in &moved {
            self.drop_conn(secondary, &c.dev);
        }
        // Keep the conferencing device busy while moving it: add first, then drop the leg.
        self.set_conn(primary, dev, Lcs::Connected);
        if let Some(c) = self.calls.get_mut(&secondary) {
            c.conns.retain(|x| x.dev != dev);
        }
        if let Some(&d) = self.by_dn.get(dev)
            && let Some(dv) = self.devices.get_mut(d)
        {
            dv.calls.retain(|&k| k != secondary);
        }
        if let Some(s) = self.calls.remove(&secondary) {
            self.by_call_id.remove(&s.id);
            if s.trunk {
                self.merge_trunk(primary);
            }
        }
        for c in &moved {
            self.add_conn(primary, &c.dev, c.state);
        }
        let added = moved.first().map(|c| c.dev.clone()).unwrap_or_default();
        if let Some(p) = self.calls.get_mut(&primary) {
            p.conferenced = true;
        }
        let devs = self.call_devs(primary);
        let connections = devs
            .iter()
            .map(|d| ConnectionId {
                call: old_p.clone(),
                device: d.clone(),
            })
            .collect();
        self.emit(
            Some(primary),
            &devs,
            EventKind::Conferenced {
                primary_old_call: old_p,
                secondary_old_call: old_s,
                conferencing: dev.to_owned(),
                added,
                connections,
                cause: EventCause::Conferenced,
            },
        );
        self.bump(primary);
        Ok(primary)
    }

    fn single_step(&mut self, key: u64, dev: &str, to: &str) -> Result<u64, SimError> {
        if self.conn_state(key, dev) != Some(Lcs::Connected) {
            return Err(SimError::NotPermittedInState);
        }
        let target = self
            .by_dn
            .get(to)
            .copied()
            .ok_or_else(|| SimError::InvalidDevice(to.to_owned()))?;
        if !self.is_idle(target)
            || matches!(
                self.devices.get(target).map(|d| d.kind),
                Some(DevKind::Group(_) | DevKind::Park)
            )
        {
            return Err(SimError::NotPermittedInState);
        }
        let old = self
            .calls
            .get(&key)
            .map(|c| c.id.clone())
            .ok_or(SimError::InvalidConnection)?;
        let mut devs = self.call_devs(key);
        devs.push(to.to_owned());
        self.drop_conn(key, dev);
        let connections: Vec<(ConnectionId, ConnectionId)> = self
            .call_devs(key)
            .into_iter()
            .map(|d| {
                (
                    ConnectionId {
                        call: old.clone(),
                        device: d.clone(),
                    },
                    ConnectionId {
                        call: old.clone(),
                        device: d,
                    },
                )
            })
            .collect();
        if let Some(c) = self.calls.get_mut(&key) {
            c.transfers.push(to.to_owned());
            c.last_redirection = Some(dev.to_owned());
            if matches!(c.script, Script::Blind(_)) {
                c.script = Script::Answer;
            }
        }
        self.emit(
            Some(key),
            &devs,
            EventKind::Transferred {
                primary_old_call: old.clone(),
                secondary_old_call: None,
                transferring: dev.to_owned(),
                transferred_to: to.to_owned(),
                new_call: old,
                connections,
                cause: EventCause::SingleStepTransfer,
            },
        );
        self.alert(key, to, EventCause::SingleStepTransfer);
        let epoch = self.bump(key);
        let scripted = self
            .calls
            .get(&key)
            .is_some_and(|c| c.script != Script::None);
        if scripted {
            let d = exp_or(&mut self.rng, self.cfg.ring_ms);
            self.schedule(d, Timer::Ring { call: key, epoch });
        } else {
            self.schedule(self.cfg.no_answer_ms, Timer::NoAnswer { call: key, epoch });
        }
        Ok(key)
    }

    /// Removes one party; the call ends when fewer than two parties remain.
    fn clear_connection(&mut self, key: u64, dev: &str, cause: EventCause) {
        let devs = self.call_devs(key);
        let conn = self.conn_id(key, dev);
        self.drop_conn(key, dev);
        self.emit(
            Some(key),
            &devs,
            EventKind::ConnectionCleared {
                conn,
                releasing: dev.to_owned(),
                cause,
            },
        );
        let remaining = self.calls.get(&key).map(|c| c.conns.len()).unwrap_or(0);
        if remaining < 2 {
            self.clear_call(key, cause);
        }
    }

    /// Ends a call: ConnectionCleared per party, CallCleared, truth line.
    fn clear_call(&mut self, key: u64, cause: EventCause) {
        self.dequeue(key);
        let devs = self.call_devs(key);
        for d in &devs {
            let conn = self.conn_id(key, d);
            self.drop_conn(key, d);
            self.emit(
                Some(key),
                &devs,
                EventKind::ConnectionCleared {
                    conn,
                    releasing: d.clone(),
                    cause,
                },
            );
        }
        let Some(call) = self.calls.remove(&key) else {
            return;
        };
        self.by_call_id.remove(&call.id);
        if call.trunk {
            self.trunks_busy = self.trunks_busy.saturating_sub(1);
        }
        let mut devs = devs;
        devs.extend(call.witnesses.iter().cloned());
        self.emit(
            None,
            &devs,
            EventKind::CallCleared {
                call: call.id.clone(),
                cause,
            },
        );
        if let Script::ConsultLeg { primary, .. } = call.script {
            // A failed consultation: the consulting party goes back to the held call.
            let holder = self
                .calls
                .get(&primary)
                .and_then(|p| p.conns.iter().find(|x| x.state == Lcs::Hold))
                .map(|x| x.dev.clone());
            let scripted = self
                .calls
                .get(&primary)
                .is_some_and(|p| p.script != Script::None);
            if let Some(h) = holder
                && scripted
                && self.retrieve(primary, &h).is_ok()
            {
                if let Some(p) = self.calls.get_mut(&primary) {
                    p.script = Script::Answer;
                }
                self.schedule_next(primary, self.cfg.talk_ms);
            }
        }
        if call.consultation {
            return;
        }
        self.stats.calls_ended += 1;
        let outcome = if call.answered_at.is_some() {
            "answered"
        } else {
            call.outcome.unwrap_or("abandoned")
        };
        match outcome {
            "answered" => self.stats.answered += 1,
            "busy" => self.stats.busy += 1,
            "no-answer" => self.stats.no_answer += 1,
            "failed" => self.stats.failed += 1,
            _ => {
                self.stats.abandoned += 1;
                if let Some(g) = call.queue.and_then(|q| self.groups.get_mut(q)) {
                    g.abandoned += 1;
                }
            }
        }
        if self.cfg.truth {
            let agent = if call.answered_at.is_some() {
                call.agent
                    .and_then(|a| self.agents.get(a))
                    .map(|a| a.id.clone())
            } else {
                None
            };
            let queue = call.queue.and_then(|q| self.group_dn(q));
            let line = serde_json::json!({
                "kind": "call",
                "calling": call.calling,
                "called": call.called,
                "answered_by": call.answered_by,
                "agent": agent,
                "queue": queue,
                "outcome": outcome,
                "transfers": call.transfers,
                "conferenced": call.conferenced,
                "offered_at": self.rfc(call.offered_at),
                "answered_at": call.answered_at.map(|t| self.rfc(t)),
                "ended_at": self.rfc(self.now),
            })
            .to_string();
            self.push_truth(line);
        }
    }

    // ---------------------------------------------------------------- agents

    fn agent_dn(&self, a: usize) -> String {
        self.agents
            .get(a)
            .and_then(|ag| self.devices.get(ag.dev))
            .map(|d| d.dn.clone())
            .unwrap_or_default()
    }

    fn set_agent(&mut self, a: usize, state: AgentState) {
        let now = self.now;
        let Some(ag) = self.agents.get_mut(a) else {
            return;
        };
        if ag.state == state {
            return;
        }
        let was_off = ag.state == AgentState::LoggedOff;
        ag.state = state.clone();
        ag.epoch = ag.epoch.wrapping_add(1);
        if state == AgentState::Ready {
            ag.idle_since = now;
        }
        let id = ag.id.clone();
        let group = ag.group;
        let dn = self.agent_dn(a);
        if was_off && state != AgentState::LoggedOff {
            let g = self.group_dn(group).unwrap_or_default();
            self.emit(
                None,
                std::slice::from_ref(&dn),
                EventKind::AgentLoggedOn {
                    agent: id.clone(),
                    group: g,
                },
            );
        }
        let kind = match state {
            AgentState::LoggedOff => EventKind::AgentLoggedOff { agent: id },
            AgentState::NotReady(reason) => EventKind::AgentNotReady { agent: id, reason },
            AgentState::Ready => EventKind::AgentReady { agent: id },
            AgentState::Busy => EventKind::AgentBusy { agent: id },
            AgentState::WorkingAfterCall => EventKind::AgentWorkingAfterCall { agent: id },
        };
        self.emit(None, &[dn], kind);
        self.truth_agent(a);
        if state == AgentState::Ready {
            self.distribute(group);
        }
    }

    fn agent_freed(&mut self, a: usize) {
        if self.agents.get(a).map(|x| &x.state) != Some(&AgentState::Busy) {
            return;
        }
        if self.cfg.acw_ms == 0 {
            return self.set_agent(a, AgentState::Ready);
        }
        self.set_agent(a, AgentState::WorkingAfterCall);
        let epoch = self.agents.get(a).map(|x| x.epoch).unwrap_or(0);
        let d = exp_or(&mut self.rng, self.cfg.acw_ms);
        self.schedule(d, Timer::AgentBack { agent: a, epoch });
    }

    // ---------------------------------------------------------------- faults

    fn fault_restart(&mut self) {
        self.forget_monitors();
        self.push_output(Output::Restarted { at_ms: self.now });
        self.push_output(Output::SystemStatusPoll {
            at_ms: self.now,
            status: SystemStatus::Initializing,
        });
    }

    fn fault_drop_link(&mut self) {
        self.forget_monitors();
        self.push_output(Output::LinkDropped { at_ms: self.now });
        self.link_down = true;
    }

    fn forget_monitors(&mut self) {
        self.monitors.clear();
        for d in &mut self.devices {
            d.monitors.clear();
        }
    }

    /// Whether the link is currently down (fault mode).
    pub fn link_is_down(&self) -> bool {
        self.link_down
    }

    /// Active monitors.
    pub fn monitor_count(&self) -> usize {
        self.monitors.len()
    }

    // ---------------------------------------------------------------- commands

    fn key_of(&self, call: &CallId) -> Result<u64, SimError> {
        self.by_call_id
            .get(call)
            .copied()
            .ok_or(SimError::InvalidConnection)
    }

    fn check_conn(&self, c: &ConnectionId) -> Result<(u64, Lcs), SimError> {
        if !self.by_dn.contains_key(&c.device) {
            // External parties are addressable too, but only through a live call.
            let key = self.key_of(&c.call)?;
            let st = self
                .conn_state(key, &c.device)
                .ok_or(SimError::InvalidConnection)?;
            return Ok((key, st));
        }
        let key = self.key_of(&c.call)?;
        let st = self
            .conn_state(key, &c.device)
            .ok_or(SimError::InvalidConnection)?;
        Ok((key, st))
    }

    fn agent_at(&self, dev: &str) -> Result<usize, SimError> {
        let &d = self
            .by_dn
            .get(dev)
            .ok_or_else(|| SimError::InvalidDevice(dev.to_owned()))?;
        match self.devices.get(d).map(|x| x.kind) {
            Some(DevKind::Agent(a)) => Ok(a),
            _ => Err(SimError::InvalidDevice(dev.to_owned())),
        }
    }

    fn snapshot_conns(&self, key: u64) -> Vec<(ConnectionId, Lcs)> {
        self.calls
            .get(&key)
            .map(|c| {
                c.conns
                    .iter()
                    .map(|x| {
                        (
                            ConnectionId {
                                call: c.id.clone(),
                                device: x.dev.clone(),
                            },
                            x.state,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs due timers up to `now`, then obeys `cmd`. Errors are the CSTA errors a PBX returns.
    pub fn handle_command(&mut self, now: u64, cmd: Command) -> Result<Response, SimError> {
        self.step(now);
        match cmd {
            Command::FaultRestart => {
                self.fault_restart();
                return Ok(Response::Ok);
            }
            Command::FaultDropLink => {
                self.fault_drop_link();
                return Ok(Response::Ok);
            }
            Command::FaultStopAnsweringPolls => {
                self.polls_silent = true;
                return Ok(Response::Ok);
            }
            Command::FaultRecover => {
                self.link_down = false;
                self.polls_silent = false;
                return Ok(Response::Ok);
            }
            _ => {}
        }
        if self.link_down {
            return Err(SimError::LinkDown);
        }
        match cmd {
            Command::SystemStatus => {
                if self.polls_silent {
                    Ok(Response::Silent)
                } else {
                    Ok(Response::Status(SystemStatus::Normal))
                }
            }
            Command::MonitorStart(dev) => {
                let &d = self.by_dn.get(&dev).ok_or(SimError::InvalidDevice(dev))?;
                if self.monitors.len() >= self.cfg.monitor_limit {
                    return Err(SimError::MonitorLimitExceeded);
                }
                let x = self.next_xref;
                self.next_xref = self.next_xref.wrapping_add(1).max(1);
                self.monitors.insert(x, d);
                if let Some(dv) = self.devices.get_mut(d) {
                    dv.monitors.push(x);
                }
                Ok(Response::MonitorStarted(x))
            }
            Command::MonitorStop(x) => {
                let d = self
                    .monitors
                    .remove(&x)
                    .ok_or(SimError::InvalidMonitor(x))?;
                if let Some(dv) = self.devices.get_mut(d) {
                    dv.monitors.retain(|&m| m != x);
                }
                Ok(Response::Ok)
            }
            Command::SnapshotDevice(dev) => {
                let &d = self
                    .by_dn
                    .get(&dev)
                    .ok_or_else(|| SimError::InvalidDevice(dev.clone()))?;
                let Some(dv) = self.devices.get(d) else {
                    return Err(SimError::InvalidDevice(dev));
                };
                let mut connections = Vec::new();
                for &k in &dv.calls {
                    if let (Some(c), Some(st)) = (self.calls.get(&k), self.conn_state(k, &dev)) {
                        connections.push((
                            ConnectionId {
                                call: c.id.clone(),
                                device: dev.clone(),
                            },
                            st,
                        ));
                    }
                }
                let (agent, agent_id, agent_group) = match dv.kind {
                    DevKind::Agent(a) => match self.agents.get(a) {
                        Some(x) => (
                            Some(x.state.clone()),
                            Some(x.id.clone()),
                            self.group_dn(x.group),
                        ),
                        None => (None, None, None),
                    },
                    _ => (None, None, None),
                };
                Ok(Response::Device(DeviceSnapshot {
                    connections,
                    agent,
                    agent_id,
                    agent_group,
                }))
            }
            Command::SnapshotCall(id) => {
                let key = self.key_of(&id)?;
                Ok(Response::Call(CallSnapshot {
                    connections: self.snapshot_conns(key),
                }))
            }
            Command::MakeCall { calling, called } => {
                let key = self.make_call(&calling, &called, Script::None)?;
                Ok(Response::CallStarted(self.conn_id(key, &calling)))
            }
            Command::AnswerCall(c) => {
                let (key, st) = self.check_conn(&c)?;
                if st != Lcs::Alerting {
                    return Err(SimError::NotPermittedInState);
                }
                self.answer(key, &c.device, EventCause::NewCall);
                self.bump(key);
                if let Some(call) = self.calls.get_mut(&key) {
                    call.script = Script::None;
                }
                Ok(Response::Ok)
            }
            Command::HoldCall(c) => {
                let (key, _) = self.check_conn(&c)?;
                self.hold(key, &c.device)?;
                Ok(Response::Ok)
            }
            Command::RetrieveCall(c) => {
                let (key, _) = self.check_conn(&c)?;
                self.retrieve(key, &c.device)?;
                Ok(Response::Ok)
            }
            Command::ConsultationCall { held, consulted } => {
                let (key, _) = self.check_conn(&held)?;
                if !self.by_dn.contains_key(&consulted) {
                    return Err(SimError::InvalidDevice(consulted));
                }
                let leg = self.consult(key, &held.device, &consulted)?;
                if let Some(c) = self.calls.get_mut(&leg) {
                    c.script = Script::None;
                }
                Ok(Response::CallStarted(self.conn_id(leg, &held.device)))
            }
            Command::TransferCall { held, active } => {
                let (p, _) = self.check_conn(&held)?;
                let (s, _) = self.check_conn(&active)?;
                if held.device != active.device || p == s {
                    return Err(SimError::InvalidConnection);
                }
                let k = self.transfer(p, s, &held.device)?;
                let id = self
                    .calls
                    .get(&k)
                    .map(|c| c.id.clone())
                    .unwrap_or(CallId(Vec::new()));
                Ok(Response::Joined(id))
            }
            Command::ConferenceCall { held, active } => {
                let (p, _) = self.check_conn(&held)?;
                let (s, _) = self.check_conn(&active)?;
                if held.device != active.device || p == s {
                    return Err(SimError::InvalidConnection);
                }
                let k = self.conference(p, s, &held.device)?;
                let id = self
                    .calls
                    .get(&k)
                    .map(|c| c.id.clone())
                    .unwrap_or(CallId(Vec::new()));
                Ok(Response::Joined(id))
            }
            Command::SingleStepTransfer { conn, to } => {
                let (key, _) = self.check_conn(&conn)?;
                let k = self.single_step(key, &conn.device, &to)?;
                let id = self
                    .calls
                    .get(&k)
                    .map(|c| c.id.clone())
                    .unwrap_or(CallId(Vec::new()));
                Ok(Response::Joined(id))
            }
            Command::ParkCall { conn, to } => {
                let (key, _) = self.check_conn(&conn)?;
                let pos = self.park(key, &conn.device, to.as_deref())?;
                if let Some(c) = self.calls.get_mut(&key) {
                    c.script = Script::None;
                }
                Ok(Response::Parked(self.conn_id(key, &pos)))
            }
            Command::Deflect { conn, to } => {
                let (key, st) = self.check_conn(&conn)?;
                if !self.by_dn.contains_key(&to) || self.is_park(&to) {
                    return Err(SimError::InvalidDevice(to));
                }
                if st != Lcs::Alerting {
                    return Err(SimError::NotPermittedInState);
                }
                if let Some(c) = self.calls.get_mut(&key) {
                    c.script = Script::None;
                }
                self.divert(key, &conn.device, &to, EventCause::Redirected);
                Ok(Response::Ok)
            }
            Command::DirectedPickup { conn, picker } => {
                let (key, st) = self.check_conn(&conn)?;
                let &pd = self
                    .by_dn
                    .get(&picker)
                    .ok_or_else(|| SimError::InvalidDevice(picker.clone()))?;
                if self.is_park(&picker) {
                    return Err(SimError::InvalidDevice(picker));
                }
                if st == Lcs::Queued && self.is_park(&conn.device) && self.is_idle(pd) {
                    // Retrieval from a park position.
                    if let Some(c) = self.calls.get_mut(&key) {
                        c.script = Script::None;
                    }
                    self.unpark(key, &conn.device, &picker);
                    return Ok(Response::Ok);
                }
                if st != Lcs::Alerting || !self.is_idle(pd) {
                    return Err(SimError::NotPermittedInState);
                }
                if let Some(c) = self.calls.get_mut(&key) {
                    c.script = Script::None;
                }
                self.pickup(key, &conn.device, &picker);
                Ok(Response::Ok)
            }
            Command::GroupPickup { picker } => {
                let &pd = self
                    .by_dn
                    .get(&picker)
                    .ok_or_else(|| SimError::InvalidDevice(picker.clone()))?;
                if !self.is_idle(pd) {
                    return Err(SimError::NotPermittedInState);
                }
                let mut found = None;
                for &e in &self.extensions {
                    let Some(dv) = self.devices.get(e) else {
                        continue;
                    };
                    for &k in &dv.calls {
                        if self.conn_state(k, &dv.dn) == Some(Lcs::Alerting)
                            && found.as_ref().is_none_or(|(fk, _): &(u64, String)| k < *fk)
                        {
                            found = Some((k, dv.dn.clone()));
                        }
                    }
                }
                let (key, ringing) = found.ok_or(SimError::NotPermittedInState)?;
                if let Some(c) = self.calls.get_mut(&key) {
                    c.script = Script::None;
                }
                self.pickup(key, &ringing, &picker);
                Ok(Response::Ok)
            }
            Command::ClearConnection(c) => {
                let (key, _) = self.check_conn(&c)?;
                self.clear_connection(key, &c.device, EventCause::NormalClearing);
                Ok(Response::Ok)
            }
            Command::ClearCall(id) => {
                let key = self.key_of(&id)?;
                self.clear_call(key, EventCause::NormalClearing);
                Ok(Response::Ok)
            }
            Command::SetAgentState { device, state } => {
                let a = self.agent_at(&device)?;
                let cur = self
                    .agents
                    .get(a)
                    .map(|x| x.state.clone())
                    .unwrap_or(AgentState::LoggedOff);
                let ok = !matches!(
                    (&cur, &state),
                    (_, AgentState::Busy)
                        | (AgentState::Busy, _)
                        | (AgentState::LoggedOff, AgentState::WorkingAfterCall)
                );
                if !ok {
                    return Err(SimError::NotPermittedInState);
                }
                self.set_agent(a, state);
                Ok(Response::Ok)
            }
            // Fault commands were handled above.
            _ => Ok(Response::Ok),
        }
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    /// Offered calls over `secs` simulated seconds at `per_minute`.
    fn offered(per_minute: f64, secs: u64) -> u64 {
        let mut e = Engine::new(SimConfig {
            agents: 1_000,
            queues: 4,
            trunks: 100_000,
            calls_per_minute: per_minute,
            ring_ms: 50,
            talk_ms: 200,
            acw_ms: 50,
            poll_interval_ms: 0,
            ..SimConfig::default()
        });
        for ms in 1..=secs * 1000 {
            e.step(ms);
            while e.poll_output().is_some() {}
        }
        e.stats().calls_offered
    }

    #[test]
    fn fast_rates_are_offered_in_full() {
        // 2,000 calls/s: whole-millisecond gaps of at least 1 ms would cap this near 1,000/s.
        let n = offered(120_000.0, 5);
        assert!((9_500..=10_500).contains(&n), "{n} calls in 5 s at 2,000/s");
        let n = offered(30_000.0, 5);
        assert!((2_300..=2_700).contains(&n), "{n} calls in 5 s at 500/s");
    }
}
