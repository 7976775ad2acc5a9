//! The [`Cti`] handle: links in, one normalized picture out, commands back down.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hookflash_core::command::Command;
use hookflash_core::command::Verbs;
use hookflash_core::driver::{AgentEventKind, DriverEvent};
use hookflash_core::engine::{Config, Engine};
use hookflash_core::event::{Event, EventKind};
use hookflash_core::model::{
    Agent, AgentId, Call, CallId, DeviceId, LinkId, LinkState, NativeCallId, Queue, QueueId,
    Timestamp,
};
use hookflash_link::url::LinkUrl;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::Error;
use crate::pop::{CustomerDirectory, ScreenPops};
use crate::spi::{Capabilities, Driver, DriverCommand, EventSink, now, verb_of};
use crate::subscribe::{Filter, Involved, Slot, Stream, Subscriber, Subscription};

/// How long a command waits for the PBX by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How many events a subscriber's buffer holds by default.
pub const DEFAULT_SUBSCRIBER_CAPACITY: usize = 4096;
/// How many driver events wait for the engine at most (drivers wait when it is full).
const DRIVER_QUEUE: usize = 4096;
/// The most devices whose owning link is remembered.
const MAX_OWNED_DEVICES: usize = 1_000_000;

/// A hook that sees every normalized event, in order, before any subscriber does (a journal).
/// It runs on the engine task and must not block.
pub type EventHook = Box<dyn Fn(&Event) + Send + Sync + 'static>;

/// Builds a [`Cti`]: see [`Cti::builder`].
pub struct CtiBuilder {
    drivers: Vec<Arc<dyn Driver>>,
    config: Config,
    request_timeout: Duration,
    capacity: usize,
    resume_seq: u64,
    hooks: Vec<EventHook>,
    directory: Option<Arc<dyn CustomerDirectory>>,
    lookup_timeout: Duration,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for CtiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtiBuilder")
            .field(
                "links",
                &self
                    .drivers
                    .iter()
                    .map(|d| d.link().clone())
                    .collect::<Vec<_>>(),
            )
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for CtiBuilder {
    fn default() -> Self {
        Self {
            drivers: Vec::new(),
            config: Config::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            capacity: DEFAULT_SUBSCRIBER_CAPACITY,
            resume_seq: 0,
            hooks: Vec::new(),
            directory: None,
            lookup_timeout: crate::pop::DEFAULT_LOOKUP_TIMEOUT,
            runtime: None,
        }
    }
}

impl CtiBuilder {
    /// Adds a link by URL (`csta-xml+tcp://pbx:4721`, `ami+tcp://user:secret@pbx:5038`, …),
    /// served by the built-in driver for its protocol ([`crate::drivers::open`]).
    ///
    /// [`Error::Config`] for a bad URL, [`Error::Unsupported`] when the protocol's driver is not
    /// compiled in, [`Error::DuplicateLink`] when the name is taken.
    pub fn link(self, name: impl Into<LinkId>, url: &str) -> Result<Self, Error> {
        let url: LinkUrl = url.parse()?;
        self.link_url(name, &url)
    }

    /// Adds a link from a parsed URL; see [`CtiBuilder::link`].
    pub fn link_url(self, name: impl Into<LinkId>, url: &LinkUrl) -> Result<Self, Error> {
        let driver = crate::drivers::open(name.into(), url)?;
        self.try_driver(driver)
    }

    /// Adds a link served by `driver` (a vendor plugin, or a test's fake).
    ///
    /// A driver whose link name is already taken is refused by [`CtiBuilder::build`].
    pub fn driver(mut self, driver: Box<dyn Driver>) -> Self {
        self.drivers.push(Arc::from(driver));
        self
    }

    /// Adds a link served by `driver`; [`Error::DuplicateLink`] when the name is taken.
    pub fn try_driver(self, driver: Box<dyn Driver>) -> Result<Self, Error> {
        if self.drivers.iter().any(|d| d.link() == driver.link()) {
            return Err(Error::DuplicateLink(driver.link().clone()));
        }
        Ok(self.driver(driver))
    }

    /// The call engine's configuration (dial plan, service level, memory bounds).
    pub fn engine_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How long a command waits for the PBX before failing with [`Error::Timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many events each subscriber's buffer holds (at least 1).
    pub fn subscriber_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Continues sequence numbers after `seq`: a restarted process that journals events passes
    /// the last sequence number it journaled, so event numbers never repeat.
    pub fn resume_seq(mut self, seq: u64) -> Self {
        self.resume_seq = seq;
        self
    }

    /// Calls `hook` with every normalized event, in order, on the engine task (before
    /// subscribers see it). For journals that must not miss an event: keep it quick (hand the
    /// event to a channel or a buffered writer), and do not call back into the [`Cti`] from it
    /// (the engine's state is locked while it runs).
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// The customer directory screen pops are looked up in ([`Cti::screen_pops`]).
    pub fn directory(mut self, directory: impl CustomerDirectory) -> Self {
        self.directory = Some(Arc::new(directory));
        self
    }

    /// The customer directory, shared.
    pub fn directory_arc(mut self, directory: Arc<dyn CustomerDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// How long a screen pop waits for the directory (default 2 s).
    pub fn lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// Runs the engine task and the links' drivers on the runtime of `handle` instead of the
    /// one [`CtiBuilder::build`] is called in. An application whose own tasks keep its runtime
    /// busy (thousands of client connections, say) gives the links a runtime of their own, on
    /// a thread of their own, so that a PBX's events are read and applied as they arrive
    /// rather than when their turn comes in a long queue of other tasks.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Starts the engine task and every link's driver. Must be called inside a tokio runtime
    /// unless [`CtiBuilder::runtime`] gave one ([`Error::NoRuntime`] otherwise).
    pub fn build(self) -> Result<Cti, Error> {
        let rt = match self.runtime.clone() {
            Some(handle) => handle,
            None => tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?,
        };
        let mut seen = HashSet::new();
        for d in &self.drivers {
            if !seen.insert(d.link().clone()) {
                return Err(Error::DuplicateLink(d.link().clone()));
            }
        }
        let mut engine = Engine::new(self.config);
        engine.resume_seq(self.resume_seq);
        let mut links = HashMap::new();
        for d in &self.drivers {
            let (state_tx, _) = watch::channel(LinkState::Down);
            links.insert(
                d.link().clone(),
                LinkEntry {
                    driver: d.clone(),
                    caps: d.capabilities(),
                    state: state_tx,
                    error: Mutex::new(None),
                },
            );
        }
        let order = self.drivers.iter().map(|d| d.link().clone()).collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                engine,
                subscribers: Vec::new(),
                records: Vec::new(),
                owners: HashMap::new(),
                monitors: HashMap::new(),
            }),
            links,
            order,
            hooks: self.hooks,
            request_timeout: self.request_timeout,
            capacity: self.capacity,
            closed: AtomicBool::new(false),
            directory: self.directory,
            lookup_timeout: self.lookup_timeout,
        });
        let (sink, rx) = EventSink::channel(DRIVER_QUEUE);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        tasks.push(rt.spawn(engine_task(shared.clone(), rx, stop_rx)));
        for d in self.drivers {
            let sink = sink.clone();
            let shared = shared.clone();
            tasks.push(rt.spawn(async move {
                let link = d.link().clone();
                if let Err(e) = d.run(sink.clone()).await
                    && let Some(entry) = shared.links.get(&link)
                {
                    *lock(&entry.error) = Some(e);
                }
                let _ = sink.send(DriverEvent::LinkDown { link }).await;
            }));
        }
        Ok(Cti {
            inner: Arc::new(Inner {
                shared,
                tasks: Mutex::new(tasks),
                stop: stop_tx,
                _sink: sink,
            }),
        })
    }
}

struct LinkEntry {
    driver: Arc<dyn Driver>,
    caps: Capabilities,
    state: watch::Sender<LinkState>,
    error: Mutex<Option<Error>>,
}

struct State {
    engine: Engine,
    subscribers: Vec<Subscriber>,
    records: Vec<std::sync::Weak<Slot<Call>>>,
    /// The link that owns each device: the one it was monitored on, or the first that
    /// reported monitoring it (or an agent logging on at it).
    owners: HashMap<DeviceId, LinkId>,
    /// How many monitor requests hold each device.
    monitors: HashMap<DeviceId, u32>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    links: HashMap<LinkId, LinkEntry>,
    /// Link names in the order they were added.
    order: Vec<LinkId>,
    hooks: Vec<EventHook>,
    request_timeout: Duration,
    capacity: usize,
    closed: AtomicBool,
    pub(crate) directory: Option<Arc<dyn CustomerDirectory>>,
    pub(crate) lookup_timeout: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Inner {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
    /// Keeps the engine's input open while the handle lives, even when every driver stopped.
    _sink: EventSink,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        self.shared.close_all();
    }
}

async fn engine_task(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<crate::spi::Reported>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            biased;
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    break;
                }
            }
            m = rx.recv() => match m {
                Some(r) => shared.apply(r.at, r.pbx_time_us, r.event),
                None => break,
            },
        }
    }
    shared.close_all();
}

/// The devices a driver event says its link owns: those it monitors, snapshots, or has an
/// agent log on at. (Call events are no proof: a networked PBX reports calls at other
/// systems' devices too.)
fn devices_of(ev: &DriverEvent) -> Option<&DeviceId> {
    match ev {
        DriverEvent::Monitor {
            device,
            monitored: true,
            ..
        }
        | DriverEvent::DeviceSnapshot { device, .. }
        | DriverEvent::Agent {
            event:
                AgentEventKind::LoggedOn {
                    device: Some(device),
                    ..
                },
            ..
        } => Some(device),
        _ => None,
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn close_all(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let mut st = self.state();
        for s in st.subscribers.drain(..) {
            s.close();
        }
        for r in st.records.drain(..) {
            if let Some(slot) = r.upgrade() {
                slot.close();
            }
        }
    }

    /// Applies one driver event and fans the resulting normalized events out.
    fn apply(&self, at: Timestamp, pbx_time_us: Option<u64>, ev: DriverEvent) {
        let link = ev.link().clone();
        let mut guard = self.state();
        let st = &mut *guard;
        if st.owners.len() < MAX_OWNED_DEVICES
            && let Some(d) = devices_of(&ev)
        {
            st.owners.entry(d.clone()).or_insert_with(|| link.clone());
        }
        st.engine.handle_stamped(at, pbx_time_us, ev);
        let events: Vec<Event> = st.engine.drain_events().collect();
        for event in events {
            if let (EventKind::LinkStateChanged { state }, Some(l)) = (&event.kind, &event.link)
                && let Some(entry) = self.links.get(l)
            {
                entry.state.send_replace(*state);
            }
            for hook in &self.hooks {
                hook(&event);
            }
            let involved = st
                .subscribers
                .iter()
                .any(Subscriber::needs_involved)
                .then(|| involved(&st.engine, &event));
            st.subscribers
                .retain_mut(|s| s.offer(&event, involved.as_ref()));
            if let EventKind::CallEnded { call, .. } = &event.kind
                && !st.records.is_empty()
                && let Some(record) = st.engine.call(*call)
            {
                st.records.retain(|w| match w.upgrade() {
                    Some(slot) => {
                        slot.push(record.clone());
                        true
                    }
                    None => false,
                });
            }
        }
    }
}

/// What `event` touches, from the event and the engine's picture of its call.
fn involved(engine: &Engine, event: &Event) -> Involved {
    let mut inv = Involved {
        call: event.kind.call(),
        ..Involved::default()
    };
    match &event.kind {
        EventKind::CallAlerting { device, .. }
        | EventKind::CallAnswered { device, .. }
        | EventKind::CallHeld { device, .. }
        | EventKind::CallRetrieved { device, .. }
        | EventKind::CallFailed { device, .. }
        | EventKind::PartyLeft { device, .. }
        | EventKind::ConnectionStateChanged { device, .. } => inv.devices.push(device.clone()),
        EventKind::CallDiverted { from, to, .. } | EventKind::CallTransferred { from, to, .. } => {
            inv.devices.push(from.clone());
            inv.devices.extend(to.iter().cloned());
        }
        EventKind::CallConferenced { parties, .. } => inv.devices.extend(parties.iter().cloned()),
        EventKind::CallQueued { queue, .. } => inv.queues.push(queue.clone()),
        EventKind::ScreenPop { device, agent, .. } => {
            inv.devices.push(device.clone());
            inv.agents.extend(agent.iter().cloned());
        }
        EventKind::AgentStateChanged { agent, device, .. } => {
            inv.agents.push(agent.clone());
            inv.devices.extend(device.iter().cloned());
        }
        EventKind::QueueStatsChanged { queue, .. } => inv.queues.push(queue.clone()),
        _ => {}
    }
    if let Some(call) = inv.call.and_then(|c| engine.call(c)) {
        inv.devices
            .extend(call.legs.iter().map(|l| l.device.clone()));
        inv.devices.extend(call.answered_by.iter().cloned());
        inv.agents.extend(call.agent.iter().cloned());
        inv.queues.extend(call.queue.iter().cloned());
        inv.queues.extend(call.data.queue_path.iter().cloned());
    }
    if inv.call.is_some() && !inv.devices.is_empty() {
        for a in engine.agents() {
            if a.device.as_ref().is_some_and(|d| inv.devices.contains(d)) {
                inv.agents.push(a.id.clone());
            }
        }
    }
    inv
}

/// A link as the API shows it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinkInfo {
    /// The link's name.
    pub link: LinkId,
    /// Up, resyncing or down.
    pub state: LinkState,
    /// What the link's driver can do.
    pub capabilities: Capabilities,
    /// Why the driver stopped for good, if it did.
    pub error: Option<Error>,
}

/// A device as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// The device.
    pub id: DeviceId,
    /// Whether the PBX reports its events.
    pub monitored: bool,
    /// The link that owns it, when known.
    pub link: Option<LinkId>,
    /// How many [`Cti::monitor`] requests hold it.
    pub monitor_holds: u32,
}

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Executed {
    /// The link that executed it.
    pub link: LinkId,
    /// The new call it created (make call, consultation), in the link's ids.
    pub native_call: Option<NativeCallId>,
    /// The new call's Hookflash id, when the link already reported the call.
    pub call: Option<CallId>,
}

/// The handle CRM code holds: subscribe to events, query the picture, command calls and agents.
///
/// Cheap to clone; all clones share one engine. The engine and the links stop when
/// [`Cti::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct Cti {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cti {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cti")
            .field("links", &self.inner.shared.order)
            .finish_non_exhaustive()
    }
}

impl Cti {
    /// A builder: add links, then [`CtiBuilder::build`].
    pub fn builder() -> CtiBuilder {
        CtiBuilder::default()
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    pub(crate) fn shared_arc(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.shared().closed.load(Ordering::SeqCst) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    // ------------------------------------------------------------------ events

    /// Subscribes to the events `filter` lets through, with the default buffer size.
    ///
    /// The subscription starts with the next event; query the picture ([`Cti::calls`], …) for
    /// what is already there. After shutdown the subscription is closed at once.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        self.subscribe_with_capacity(filter, self.shared().capacity)
    }

    /// Subscribes with a buffer of `capacity` events.
    pub fn subscribe_with_capacity(&self, filter: Filter, capacity: usize) -> Subscription {
        let slot = Slot::new(capacity);
        let mut st = self.shared().state();
        if self.shared().closed.load(Ordering::SeqCst) {
            slot.close();
        } else {
            st.subscribers.push(Subscriber::new(filter, &slot));
        }
        Subscription::new(slot)
    }

    /// A stream of finished calls (call records: calling and called numbers, who answered,
    /// agent, queue, outcome, transfers, conference, offered/answered/ended times), each as it
    /// ends.
    pub fn call_records(&self) -> Stream<Call> {
        let slot = Slot::new(self.shared().capacity);
        let mut st = self.shared().state();
        if self.shared().closed.load(Ordering::SeqCst) {
            slot.close();
        } else {
            st.records.push(Arc::downgrade(&slot));
        }
        Stream::new(slot)
    }

    /// Screen pops looked up in the builder's [`CtiBuilder::directory`] (without one, every
    /// pop's lookup is [`crate::Lookup::NoDirectory`]).
    pub fn screen_pops(&self) -> ScreenPops {
        ScreenPops::new(self)
    }

    /// The sequence number of the last event emitted (for a journal).
    pub fn last_seq(&self) -> u64 {
        self.shared().state().engine.last_seq()
    }

    // ------------------------------------------------------------------ queries

    /// The live calls, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        let mut v: Vec<Call> = self.shared().state().engine.calls().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// A live or recently ended call.
    pub fn call(&self, id: CallId) -> Option<Call> {
        self.shared().state().engine.call(id).cloned()
    }

    /// The live call a link's own call id names.
    pub fn call_by_native(&self, link: &str, native: &str) -> Option<Call> {
        self.shared()
            .state()
            .engine
            .call_by_alias(link, native)
            .cloned()
    }

    /// The live calls at a device.
    pub fn calls_at(&self, device: &str) -> Vec<Call> {
        self.shared()
            .state()
            .engine
            .calls_at(device)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Recently ended calls (call records), oldest first; how many are kept is
    /// [`Config::max_ended`].
    pub fn finished_calls(&self) -> Vec<Call> {
        self.shared()
            .state()
            .engine
            .ended_calls()
            .cloned()
            .collect()
    }

    /// The devices known, sorted.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        let st = self.shared().state();
        let mut v: Vec<DeviceInfo> = st
            .engine
            .devices()
            .map(|(d, monitored)| DeviceInfo {
                id: d.clone(),
                monitored,
                link: st.owners.get(d).cloned(),
                monitor_holds: st.monitors.get(d).copied().unwrap_or(0),
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The agents, sorted by id.
    pub fn agents(&self) -> Vec<Agent> {
        let mut v: Vec<Agent> = self.shared().state().engine.agents().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// An agent.
    pub fn agent(&self, id: &str) -> Option<Agent> {
        self.shared().state().engine.agent(id).cloned()
    }

    /// The queues with their statistics (longest wait as of now), sorted by id.
    pub fn queues(&self) -> Vec<Queue> {
        let now = now();
        let st = self.shared().state();
        let mut v: Vec<Queue> = st
            .engine
            .queues()
            .filter_map(|q| st.engine.queue(&q.id, now))
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// A queue with its statistics (longest wait as of now).
    pub fn queue(&self, id: &str) -> Option<Queue> {
        self.shared().state().engine.queue(id, now())
    }

    /// Every link: state, capabilities, error — in the order they were added.
    pub fn links(&self) -> Vec<LinkInfo> {
        let st = self.shared().state();
        self.shared()
            .order
            .iter()
            .filter_map(|l| {
                let e = self.shared().links.get(l)?;
                Some(LinkInfo {
                    link: l.clone(),
                    state: st.engine.link_state(l),
                    capabilities: e.caps,
                    error: lock(&e.error).clone(),
                })
            })
            .collect()
    }

    /// Waits until every link is up: [`Error::Timeout`] after `timeout`, or at once the error
    /// of a link whose driver stopped for good (a refused login, a bad setting).
    pub async fn wait_up(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut watches: Vec<watch::Receiver<LinkState>> = self
            .shared()
            .links
            .values()
            .map(|e| e.state.subscribe())
            .collect();
        loop {
            self.check_open()?;
            let links = self.links();
            if let Some(e) = links.iter().find_map(|l| l.error.clone()) {
                return Err(e);
            }
            if links.iter().all(|l| l.state == LinkState::Up) {
                return Ok(());
            }
            let changed = async {
                for w in &mut watches {
                    if w.has_changed().unwrap_or(false) {
                        w.borrow_and_update();
                        return;
                    }
                }
                // Nothing changed yet: look again shortly (a driver's error has no signal).
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => return Err(Error::Timeout),
            }
        }
    }

    /// A link's state ([`LinkState::Down`] for an unknown link).
    pub fn link_state(&self, link: &str) -> LinkState {
        self.shared().state().engine.link_state(link)
    }

    /// What a link's driver can do ([`Error::NoLink`] for an unknown link).
    pub fn capabilities(&self, link: &str) -> Result<Capabilities, Error> {
        self.shared()
            .links
            .get(link)
            .map(|e| e.caps)
            .ok_or_else(|| Error::NoLink(link.to_owned()))
    }

    /// The verbs `device` may use on `call` right now: what the call's state permits,
    /// narrowed to what the call's link can do. Empty for an unknown or ended call.
    pub fn permitted(&self, call: CallId, device: &str) -> Verbs {
        let st = self.shared().state();
        let Some(c) = st.engine.call(call) else {
            return Verbs::default();
        };
        let caps = self
            .shared()
            .links
            .get(&c.link)
            .map(|e| e.caps.verbs)
            .unwrap_or_default();
        Verbs(st.engine.permitted(call, device).0 & caps.0)
    }

    /// The link that owns `device`, when known.
    pub fn device_link(&self, device: &str) -> Option<LinkId> {
        self.shared().state().owners.get(device).cloned()
    }

    // ------------------------------------------------------------------ monitors

    /// Monitors `devices`, each on the link that owns it (see [`Cti::monitor_on`]; a device
    /// no link owns yet goes to the only link that can monitor, or fails with
    /// [`Error::NoLink`]). One PBX monitor serves any number of callers: the PBX is asked only
    /// for devices not monitored yet, and [`Cti::unmonitor`] releases it after the last
    /// holder. One result per device, in order.
    pub async fn monitor<D: Into<DeviceId> + Clone>(
        &self,
        devices: &[D],
    ) -> Vec<Result<(), Error>> {
        let routed = devices
            .iter()
            .map(|d| {
                let d: DeviceId = d.clone().into();
                let link = self.owner_for_monitor(&d);
                (d, link)
            })
            .collect();
        self.monitor_routed(routed).await
    }

    /// Monitors `devices` on `link`, which owns them from now on (a device already owned by
    /// another link fails with [`Error::InvalidDevice`]).
    pub async fn monitor_on<D: Into<DeviceId> + Clone>(
        &self,
        link: &str,
        devices: &[D],
    ) -> Vec<Result<(), Error>> {
        let routed = devices
            .iter()
            .map(|d| {
                let d: DeviceId = d.clone().into();
                let mut st = self.shared().state();
                let r = match st.owners.get(&d) {
                    Some(owner) if owner.as_str() != link => Err(Error::InvalidDevice(d.clone())),
                    _ if !self.shared().links.contains_key(link) => {
                        Err(Error::NoLink(link.to_owned()))
                    }
                    _ => {
                        st.owners.insert(d.clone(), LinkId::from(link));
                        Ok(LinkId::from(link))
                    }
                };
                (d, r)
            })
            .collect();
        self.monitor_routed(routed).await
    }

    fn owner_for_monitor(&self, device: &DeviceId) -> Result<LinkId, Error> {
        let mut st = self.shared().state();
        if let Some(l) = st.owners.get(device) {
            return Ok(l.clone());
        }
        let l = self.only_link(Capabilities::MONITOR, device.as_str())?;
        st.owners.insert(device.clone(), l.clone());
        Ok(l)
    }

    /// The only link with `flag`, or the only link at all.
    fn only_link(&self, flag: u32, what: &str) -> Result<LinkId, Error> {
        let s = self.shared();
        let able: Vec<&LinkId> = s
            .order
            .iter()
            .filter(|l| s.links.get(*l).is_some_and(|e| e.caps.has(flag)))
            .collect();
        match (able.as_slice(), s.order.as_slice()) {
            ([one], _) => Ok((*one).clone()),
            ([], [one]) => Ok(one.clone()),
            _ => Err(Error::NoLink(what.to_owned())),
        }
    }

    /// Takes a hold on each routed device and asks each link, in one batch, for the devices
    /// not monitored yet. A batch's timeout grows with its size (one request timeout per 256
    /// devices).
    async fn monitor_routed(
        &self,
        routed: Vec<(DeviceId, Result<LinkId, Error>)>,
    ) -> Vec<Result<(), Error>> {
        if self.check_open().is_err() {
            return routed.iter().map(|_| Err(Error::Closed)).collect();
        }
        let mut out: Vec<Option<Result<(), Error>>> = vec![None; routed.len()];
        let mut batches: Vec<(LinkId, Vec<(usize, DeviceId)>)> = Vec::new();
        for (i, (device, link)) in routed.into_iter().enumerate() {
            let link = match link {
                Ok(l) => l,
                Err(e) => {
                    out[i] = Some(Err(e));
                    continue;
                }
            };
            let Some(entry) = self.shared().links.get(&link) else {
                out[i] = Some(Err(Error::NoLink(link.to_string())));
                continue;
            };
            if !entry.caps.has(Capabilities::MONITOR) {
                out[i] = Some(Err(Error::Unsupported));
                continue;
            }
            let first = {
                let mut st = self.shared().state();
                let n = st.monitors.entry(device.clone()).or_insert(0);
                *n = n.saturating_add(1);
                *n == 1
            };
            if !first {
                out[i] = Some(Ok(()));
                continue;
            }
            match batches.iter_mut().find(|(l, _)| *l == link) {
                Some((_, items)) => items.push((i, device)),
                None => batches.push((link, vec![(i, device)])),
            }
        }
        for (link, items) in batches {
            let Some(entry) = self.shared().links.get(&link) else {
                continue;
            };
            let devices: Vec<DeviceId> = items.iter().map(|(_, d)| d.clone()).collect();
            let scale = u32::try_from(devices.len() / 256)
                .unwrap_or(u32::MAX)
                .saturating_add(1);
            let timeout = self.shared().request_timeout.saturating_mul(scale);
            let results = self
                .with_timeout(entry, false, timeout, entry.driver.monitor(&devices))
                .await;
            for (k, (i, device)) in items.into_iter().enumerate() {
                let r = match &results {
                    Ok(v) => v.get(k).cloned().unwrap_or(Err(Error::Unsupported)),
                    Err(e) => Err(e.clone()),
                };
                if r.is_err() {
                    let mut st = self.shared().state();
                    if let Some(n) = st.monitors.get_mut(&device) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            st.monitors.remove(&device);
                        }
                    }
                }
                out[i] = Some(r);
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or(Err(Error::Unsupported)))
            .collect()
    }

    /// Releases one [`Cti::monitor`] hold on each of `devices`; the PBX monitor stops with the
    /// last hold. A device not held fails with [`Error::InvalidDevice`].
    pub async fn unmonitor<D: Into<DeviceId> + Clone>(
        &self,
        devices: &[D],
    ) -> Vec<Result<(), Error>> {
        let mut out = Vec::with_capacity(devices.len());
        for d in devices {
            let d: DeviceId = d.clone().into();
            let (last, link) = {
                let mut st = self.shared().state();
                let link = st.owners.get(&d).cloned();
                match st.monitors.get_mut(&d) {
                    None => {
                        out.push(Err(Error::InvalidDevice(d)));
                        continue;
                    }
                    Some(n) => {
                        *n -= 1;
                        let last = *n == 0;
                        if last {
                            st.monitors.remove(&d);
                        }
                        (last, link)
                    }
                }
            };
            if !last {
                out.push(Ok(()));
                continue;
            }
            let Some(entry) = link.as_ref().and_then(|l| self.shared().links.get(l)) else {
                out.push(Err(Error::NoLink(d.to_string())));
                continue;
            };
            let r = self
                .with_timeout(
                    entry,
                    false,
                    self.shared().request_timeout,
                    entry.driver.unmonitor(std::slice::from_ref(&d)),
                )
                .await
                .and_then(|mut v| v.pop().unwrap_or(Err(Error::Unsupported)));
            out.push(r);
        }
        out
    }

    /// Runs a request with the request timeout; `link_down` fails it with [`Error::LinkDown`]
    /// when the link drops meanwhile (monitors instead survive reconnects in the driver).
    async fn with_timeout<T>(
        &self,
        entry: &LinkEntry,
        link_down: bool,
        timeout: Duration,
        fut: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let mut state = entry.state.subscribe();
        let down = async move {
            if !link_down || state.wait_for(|s| *s == LinkState::Down).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::time::timeout(timeout, async {
            tokio::select! {
                r = fut => Ok(r),
                () = down => Err(Error::LinkDown),
            }
        })
        .await
        .unwrap_or(Err(Error::Timeout))
    }

    // ------------------------------------------------------------------ commands

    /// Executes `command` on the link that owns its call (or device, or agent).
    ///
    /// Before the PBX is asked: [`Error::InvalidCall`] for an unknown or ended call,
    /// [`Error::NoLink`] when no link serves it, [`Error::InvalidDevice`] for a device that
    /// belongs to another link than the call, [`Error::Unsupported`] when the link cannot do
    /// it, [`Error::LinkDown`] when the link is down, [`Error::NotPermitted`] when the call's
    /// state does not permit the verb at the device. Then the PBX's answer:
    /// [`Error::Timeout`] after the request timeout, [`Error::LinkDown`] when the link drops
    /// meanwhile, or the driver's own error ([`Error::Pbx`], [`Error::InvalidDevice`], …).
    pub async fn execute(&self, command: Command) -> Result<Executed, Error> {
        self.check_open()?;
        let (link, cmd) = self.route(command)?;
        let entry = self
            .shared()
            .links
            .get(&link)
            .ok_or_else(|| Error::NoLink(link.to_string()))?;
        let outcome = self
            .with_timeout(
                entry,
                true,
                self.shared().request_timeout,
                entry.driver.execute(cmd),
            )
            .await??;
        let call = outcome
            .new_call
            .as_ref()
            .and_then(|n| self.call_by_native(&link, n))
            .map(|c| c.id);
        Ok(Executed {
            link,
            native_call: outcome.new_call,
            call,
        })
    }

    /// Resolves the link, native call ids and checks for `command`.
    fn route(&self, command: Command) -> Result<(LinkId, DriverCommand), Error> {
        let st = self.shared().state();
        let calls = calls_of(&command);
        let mut call_link: Option<LinkId> = None;
        for id in &calls {
            let c = st
                .engine
                .call(*id)
                .filter(|c| c.ended_at.is_none())
                .ok_or(Error::InvalidCall(*id))?;
            call_link.get_or_insert_with(|| c.link.clone());
        }
        let link = match call_link {
            Some(l) => l,
            None => self.link_for(&st, &command)?,
        };
        let entry = self
            .shared()
            .links
            .get(&link)
            .ok_or_else(|| Error::NoLink(link.to_string()))?;
        if !entry.caps.allows(&command) {
            return Err(Error::Unsupported);
        }
        // Each device belongs to one link: a device of another link cannot act on this call.
        if let Some(device) = device_of(&command)
            && st.owners.get(device).is_some_and(|owner| *owner != link)
        {
            return Err(Error::InvalidDevice(device.clone()));
        }
        // A resyncing link is connected: it takes commands while it rebuilds its picture.
        if st.engine.link_state(&link) == LinkState::Down {
            return Err(Error::LinkDown);
        }
        if let (Some(verb), Some((call, device))) = (verb_of(&command), checked_leg(&command))
            && !st.engine.permitted(call, device).contains(verb)
        {
            return Err(Error::NotPermitted);
        }
        let mut native = HashMap::new();
        for id in calls {
            let c = st.engine.call(id).ok_or(Error::InvalidCall(id))?;
            let alias = c
                .aliases
                .iter()
                .rev()
                .find(|a| st.engine.call_by_alias(&link, a).map(|x| x.id) == Some(id))
                .ok_or(Error::InvalidCall(id))?;
            native.insert(id, alias.clone());
        }
        Ok((link, DriverCommand { command, native }))
    }

    /// The link for a command that names no call: the owner of its device or agent's device,
    /// else the only link able to do it.
    fn link_for(&self, st: &State, command: &Command) -> Result<LinkId, Error> {
        let (device, agent): (Option<&DeviceId>, Option<&AgentId>) = match command {
            Command::MakeCall { from, .. } => (Some(from), None),
            Command::Pickup { device, .. } => (Some(device), None),
            Command::AgentLogin { agent, device, .. } => (Some(device), Some(agent)),
            Command::AgentLogout { agent }
            | Command::AgentReady { agent }
            | Command::AgentNotReady { agent, .. }
            | Command::AgentAfterCallWork { agent } => (None, Some(agent)),
            _ => (None, None),
        };
        let agent_device = agent
            .and_then(|a| st.engine.agent(a))
            .and_then(|a| a.device.clone());
        if let Some(l) = device
            .or(agent_device.as_ref())
            .and_then(|d| st.owners.get(d))
        {
            return Ok(l.clone());
        }
        let flag = match command {
            Command::MakeCall { .. } => Capabilities::MAKE_CALL,
            c if agent.is_some() && !matches!(c, Command::Pickup { .. }) => {
                Capabilities::AGENT_CONTROL
            }
            _ => 0,
        };
        let what = device
            .map(|d| d.to_string())
            .or_else(|| agent.map(|a| a.to_string()))
            .unwrap_or_default();
        if flag == 0 {
            let s = self.shared();
            return match s.order.as_slice() {
                [one] => Ok(one.clone()),
                _ => Err(Error::NoLink(what)),
            };
        }
        self.only_link(flag, &what)
    }

    /// Calls `from` to `to` (click to dial).
    pub async fn make_call(
        &self,
        from: impl Into<DeviceId>,
        to: impl Into<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::MakeCall {
            from: from.into(),
            to: to.into(),
        })
        .await
    }

    /// Answers `call` ringing at `device`.
    pub async fn answer(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Answer {
            call,
            device: device.into(),
        })
        .await
    }

    /// Drops `device` from `call`.
    pub async fn clear(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Clear {
            call,
            device: device.into(),
        })
        .await
    }

    /// Ends `call` for every party.
    pub async fn clear_call(&self, call: CallId) -> Result<Executed, Error> {
        self.execute(Command::ClearCall { call }).await
    }

    /// Holds `call` at `device`.
    pub async fn hold(&self, call: CallId, device: impl Into<DeviceId>) -> Result<Executed, Error> {
        self.execute(Command::Hold {
            call,
            device: device.into(),
        })
        .await
    }

    /// Retrieves the held `call` at `device`.
    pub async fn retrieve(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Retrieve {
            call,
            device: device.into(),
        })
        .await
    }

    /// Holds `call` at `device` and calls `to` (the consultation call is
    /// [`Executed::native_call`]/[`Executed::call`]).
    pub async fn consult(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
        to: impl Into<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Consult {
            call,
            device: device.into(),
            to: to.into(),
        })
        .await
    }

    /// Connects the `held` call with the `active` one and leaves (consultation transfer).
    pub async fn transfer(
        &self,
        held: CallId,
        active: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Transfer {
            held,
            active,
            device: device.into(),
        })
        .await
    }

    /// Joins the `held` and `active` calls into a conference.
    pub async fn conference(
        &self,
        held: CallId,
        active: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Conference {
            held,
            active,
            device: device.into(),
        })
        .await
    }

    /// Transfers `call` to `to` without consultation (blind transfer).
    pub async fn single_step_transfer(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
        to: impl Into<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::SingleStepTransfer {
            call,
            device: device.into(),
            to: to.into(),
        })
        .await
    }

    /// Adds `to` to `call` without consultation.
    pub async fn single_step_conference(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
        to: impl Into<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::SingleStepConference {
            call,
            device: device.into(),
            to: to.into(),
        })
        .await
    }

    /// Sends `call`, ringing at `device`, to `to`.
    pub async fn deflect(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
        to: impl Into<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Deflect {
            call,
            device: device.into(),
            to: to.into(),
        })
        .await
    }

    /// Picks up at `device` a call ringing at `from` (or in the pickup group, for `None`).
    pub async fn pickup(
        &self,
        device: impl Into<DeviceId>,
        from: Option<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Pickup {
            device: device.into(),
            from,
        })
        .await
    }

    /// Holds the `active` call and retrieves the `held` one.
    pub async fn alternate(
        &self,
        held: CallId,
        active: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Alternate {
            held,
            active,
            device: device.into(),
        })
        .await
    }

    /// Drops the `active` call and retrieves the `held` one.
    pub async fn reconnect(
        &self,
        held: CallId,
        active: CallId,
        device: impl Into<DeviceId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::Reconnect {
            held,
            active,
            device: device.into(),
        })
        .await
    }

    /// Sends DTMF `digits` on `call` from `device`.
    pub async fn send_digits(
        &self,
        call: CallId,
        device: impl Into<DeviceId>,
        digits: impl Into<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::SendDigits {
            call,
            device: device.into(),
            digits: digits.into(),
        })
        .await
    }

    /// Attaches key/value `data` to `call`.
    pub async fn attach_data(
        &self,
        call: CallId,
        data: Vec<(String, String)>,
    ) -> Result<Executed, Error> {
        self.execute(Command::AttachData { call, data }).await
    }

    /// Logs `agent` on at `device` into `queues`.
    pub async fn agent_login(
        &self,
        agent: impl Into<AgentId>,
        device: impl Into<DeviceId>,
        queues: Vec<QueueId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::AgentLogin {
            agent: agent.into(),
            device: device.into(),
            queues,
        })
        .await
    }

    /// Logs `agent` off.
    pub async fn agent_logout(&self, agent: impl Into<AgentId>) -> Result<Executed, Error> {
        self.execute(Command::AgentLogout {
            agent: agent.into(),
        })
        .await
    }

    /// Makes `agent` ready for ACD calls.
    pub async fn agent_ready(&self, agent: impl Into<AgentId>) -> Result<Executed, Error> {
        self.execute(Command::AgentReady {
            agent: agent.into(),
        })
        .await
    }

    /// Makes `agent` not ready, with an optional reason code.
    pub async fn agent_not_ready(
        &self,
        agent: impl Into<AgentId>,
        reason: Option<String>,
    ) -> Result<Executed, Error> {
        self.execute(Command::AgentNotReady {
            agent: agent.into(),
            reason,
        })
        .await
    }

    /// Puts `agent` into after-call work.
    pub async fn agent_after_call_work(
        &self,
        agent: impl Into<AgentId>,
    ) -> Result<Executed, Error> {
        self.execute(Command::AgentAfterCallWork {
            agent: agent.into(),
        })
        .await
    }

    // ------------------------------------------------------------------ lifecycle

    /// Stops the links and the engine: subscriptions end with [`crate::RecvError::Closed`],
    /// commands fail with [`Error::Closed`]. Waits until every task has stopped.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let tasks: Vec<JoinHandle<()>> = lock(&self.inner.tasks).drain(..).collect();
        let mut tasks = tasks.into_iter();
        if let Some(engine) = tasks.next() {
            for t in tasks {
                t.abort();
                let _ = t.await;
            }
            let _ = engine.await;
        }
        self.shared().close_all();
    }

    /// Whether [`Cti::shutdown`] ran (or the engine stopped).
    pub fn is_closed(&self) -> bool {
        self.shared().closed.load(Ordering::SeqCst)
    }
}

/// The Hookflash calls a command names.
fn calls_of(command: &Command) -> Vec<CallId> {
    match command {
        Command::Answer { call, .. }
        | Command::Clear { call, .. }
        | Command::ClearCall { call }
        | Command::Hold { call, .. }
        | Command::Retrieve { call, .. }
        | Command::Consult { call, .. }
        | Command::SingleStepTransfer { call, .. }
        | Command::SingleStepConference { call, .. }
        | Command::Deflect { call, .. }
        | Command::SendDigits { call, .. }
        | Command::AttachData { call, .. } => vec![*call],
        Command::Transfer { held, active, .. }
        | Command::Conference { held, active, .. }
        | Command::Alternate { held, active, .. }
        | Command::Reconnect { held, active, .. } => vec![*held, *active],
        Command::MakeCall { .. }
        | Command::Pickup { .. }
        | Command::AgentLogin { .. }
        | Command::AgentLogout { .. }
        | Command::AgentReady { .. }
        | Command::AgentNotReady { .. }
        | Command::AgentAfterCallWork { .. } => Vec::new(),
    }
}

/// The device a command acts at, if it names one.
fn device_of(command: &Command) -> Option<&DeviceId> {
    match command {
        Command::MakeCall { from: device, .. }
        | Command::Answer { device, .. }
        | Command::Clear { device, .. }
        | Command::Hold { device, .. }
        | Command::Retrieve { device, .. }
        | Command::Consult { device, .. }
        | Command::Transfer { device, .. }
        | Command::Conference { device, .. }
        | Command::SingleStepTransfer { device, .. }
        | Command::SingleStepConference { device, .. }
        | Command::Deflect { device, .. }
        | Command::Pickup { device, .. }
        | Command::Alternate { device, .. }
        | Command::Reconnect { device, .. }
        | Command::SendDigits { device, .. }
        | Command::AgentLogin { device, .. } => Some(device),
        Command::ClearCall { .. }
        | Command::AttachData { .. }
        | Command::AgentLogout { .. }
        | Command::AgentReady { .. }
        | Command::AgentNotReady { .. }
        | Command::AgentAfterCallWork { .. } => None,
    }
}

/// The call and device whose permitted verbs gate a command (the active call for two-call
/// verbs).
fn checked_leg(command: &Command) -> Option<(CallId, &str)> {
    match command {
        Command::Answer { call, device }
        | Command::Clear { call, device }
        | Command::Hold { call, device }
        | Command::Retrieve { call, device }
        | Command::Consult { call, device, .. }
        | Command::SingleStepTransfer { call, device, .. }
        | Command::SingleStepConference { call, device, .. }
        | Command::Deflect { call, device, .. }
        | Command::SendDigits { call, device, .. } => Some((*call, device.as_str())),
        Command::Transfer { active, device, .. }
        | Command::Conference { active, device, .. }
        | Command::Alternate { active, device, .. }
        | Command::Reconnect { active, device, .. } => Some((*active, device.as_str())),
        _ => None,
    }
}
