//! The hub: takes the backend's events, numbers them after the journal, adds the customer to
//! screen pops, journals them with call records and webhook deliveries in one transaction,
//! then publishes them to the stream clients.
//!
//! A client that resumes with `since` subscribes to the live channel first, then replays the
//! journal, then continues live, skipping what it has already sent: because an event is
//! journaled before it is published, nothing falls between the two. Replays read the journal
//! in blocks of sequence numbers that clients catching up together share
//! ([`Hub::replay_after`]), so that a moment's delay that leaves many clients behind at once
//! does not multiply the reading (nor, through the journal's lock, hold the hub's appends
//! back that much longer).
//!
//! The hub works on a thread of its own, and the links it takes events from on another
//! ([`crate::backend::CtiBackend`]): neither waits behind the stream clients' tasks.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hookflash_core::event::{Event, EventKind};
use hookflash_core::model::{Call, CallId, Outcome};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};

use crate::auth::Principal;
use crate::backend::Backend;
use crate::config::{Config, Customer, Webhook};
use crate::journal::{Journal, StoredEvent, StoredRecord};
use crate::metrics::Metrics;
use crate::redact::{Redactor, log};

/// How many live events a slow client may fall behind before it replays from the journal: at
/// 2,000 calls/s (about 42,000 events/s) some 400 ms, so that a full-stream client delayed by
/// a busy machine catches up from memory instead of every such client re-reading the same
/// pages from SQLite (17 % of the bridge's time with 4,096). The channel keeps the last this
/// many events (their text and scope lists) in memory.
const LIVE_BUFFER: usize = 16_384;
/// Most events numbered, journaled and published together.
const MAX_BATCH: usize = 512;
/// How many events one journal read returns when a replay skips over numbers the journal no
/// longer holds.
const REPLAY_PAGE: usize = 500;
/// Replays read the journal in blocks of this many sequence numbers (block `b` holds the events
/// numbered `b * REPLAY_BLOCK + 1 ..= (b + 1) * REPLAY_BLOCK`), and keep the last
/// [`REPLAY_BLOCKS_KEPT`] blocks whose every event is journaled in memory: clients that fell
/// behind together (ten full streams delayed by one busy moment) catch up from one read of each
/// block and share its events, instead of each reading and parsing the same rows. Without it,
/// a bridge at 2,000 calls/s whose clients were held up for a few seconds (a profiler
/// attached) never caught up: ten full streams each reading every row fell further behind
/// than events arrived.
const REPLAY_BLOCK: u64 = 512;
/// The events of one replay block, shared by the clients that replay it.
type Block = Arc<[Arc<StoredEvent>]>;
/// How many complete replay blocks are kept (at most 16,384 events, as the live channel).
const REPLAY_BLOCKS_KEPT: usize = 32;
/// How many routed events a device client may fall behind before it replays from the journal.
const ROUTE_BUFFER: usize = 1024;

/// Clients that follow devices, by device: an event is handed only to the clients of the
/// devices it concerns, so a thousand agent desktops do not each look at every event.
#[derive(Default)]
struct Routes {
    by_device: HashMap<String, Vec<u64>>,
    clients: HashMap<u64, Route>,
    next: u64,
}

struct Route {
    devices: Vec<String>,
    tx: mpsc::Sender<Arc<StoredEvent>>,
    /// Set when the client fell behind and was dropped from the routes.
    lagged: Arc<AtomicBool>,
}

impl Routes {
    fn add(
        &mut self,
        devices: &BTreeSet<String>,
    ) -> (u64, mpsc::Receiver<Arc<StoredEvent>>, Arc<AtomicBool>) {
        self.next += 1;
        let id = self.next;
        let (tx, rx) = mpsc::channel(ROUTE_BUFFER);
        let lagged = Arc::new(AtomicBool::new(false));
        for d in devices {
            self.by_device.entry(d.clone()).or_default().push(id);
        }
        self.clients.insert(
            id,
            Route {
                devices: devices.iter().cloned().collect(),
                tx,
                lagged: lagged.clone(),
            },
        );
        (id, rx, lagged)
    }

    fn remove(&mut self, id: u64) {
        let Some(r) = self.clients.remove(&id) else {
            return;
        };
        for d in &r.devices {
            if let Some(ids) = self.by_device.get_mut(d) {
                ids.retain(|x| *x != id);
                if ids.is_empty() {
                    self.by_device.remove(d);
                }
            }
        }
    }

    /// Hands `e` to the clients of its devices, once each; a client whose buffer is full is
    /// dropped (it replays from the journal), one that is gone is forgotten.
    fn publish(&mut self, e: &Arc<StoredEvent>) {
        if self.by_device.is_empty() {
            return;
        }
        let mut sent: Vec<u64> = Vec::new();
        let mut drop_ids: Vec<u64> = Vec::new();
        for d in &e.devices {
            let Some(ids) = self.by_device.get(d) else {
                continue;
            };
            for id in ids {
                if sent.contains(id) {
                    continue;
                }
                sent.push(*id);
                if let Some(r) = self.clients.get(id) {
                    match r.tx.try_send(e.clone()) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            r.lagged.store(true, Ordering::Release);
                            drop_ids.push(*id);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => drop_ids.push(*id),
                    }
                }
            }
        }
        for id in drop_ids {
            self.remove(id);
        }
    }
}

fn lock(m: &Mutex<Routes>) -> MutexGuard<'_, Routes> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The hub's shared state.
pub struct Hub {
    /// The journal.
    pub journal: Journal,
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// The counters.
    pub metrics: Arc<Metrics>,
    live: broadcast::Sender<Arc<StoredEvent>>,
    routes: Mutex<Routes>,
    last_seq: AtomicU64,
    customers: HashMap<String, Customer>,
    /// The configured agent of each device (for records when the PBX did not say).
    agent_of_device: HashMap<String, String>,
    webhooks: Vec<Webhook>,
    /// Woken when the outbox gets new items.
    pub outbox_notify: Arc<Notify>,
    redact: Redactor,
    /// The last [`LIVE_BUFFER`] events published, oldest first (the same events the live
    /// channel holds): a client a little behind catches up from here without reading the
    /// journal, whose lock the hub's appends need.
    recent: Mutex<VecDeque<Arc<StoredEvent>>>,
    /// Complete journal blocks recently replayed, newest last.
    replayed: Mutex<VecDeque<(u64, Block)>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// What a stream client asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only events about these devices.
    pub devices: BTreeSet<String>,
    /// Only events about these agents.
    pub agents: BTreeSet<String>,
    /// Only events about these queues.
    pub queues: BTreeSet<String>,
    /// Only these event types.
    pub types: BTreeSet<String>,
}

impl Filter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &StoredEvent) -> bool {
        (self.devices.is_empty() || e.devices.iter().any(|d| self.devices.contains(d)))
            && (self.agents.is_empty() || e.agents.iter().any(|a| self.agents.contains(a)))
            && (self.queues.is_empty() || e.queues.iter().any(|q| self.queues.contains(q)))
            && (self.types.is_empty() || self.types.contains(&e.kind))
    }
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let sod = secs % 86_400;
    let (year, month, day) = hookflash_core::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms % 1000
    )
}

/// The call record of a finished call, with the fields of the simulator's truth log.
pub fn call_record(call: &Call) -> Value {
    json!({
        "id": call.id,
        "link": call.link,
        "calling": call.data.ani.as_ref().map(|n| n.raw.clone()),
        "called": call.data.dnis.as_ref().map(|n| n.raw.clone()),
        "answered_by": call.answered_by,
        "agent": call.agent,
        "queue": call.queue,
        "outcome": call.outcome,
        "transfers": call.transfers.iter().map(|t| t.to.clone()).collect::<Vec<_>>(),
        "conferenced": call.conferenced,
        "offered_at": rfc3339(call.offered_at.0),
        "answered_at": call.answered_at.map(|t| rfc3339(t.0)),
        "ended_at": call.ended_at.map(|t| rfc3339(t.0)),
        "offered_at_ms": call.offered_at.0,
        "answered_at_ms": call.answered_at.map(|t| t.0),
        "ended_at_ms": call.ended_at.map(|t| t.0),
    })
}

/// Adds `"name":value` at the end of the JSON object `text` (as inserting into a
/// `serde_json::Value` object with `preserve_order` would); `text` that is not an object is left
/// as it is. A value that does not serialize is `null`.
fn append_field<T: serde::Serialize>(text: &mut String, name: &str, value: Option<&T>) {
    if !(text.starts_with('{') && text.ends_with('}')) {
        return;
    }
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    // A name serializes as a JSON string; it never fails.
    text.push_str(&serde_json::to_string(name).unwrap_or_default());
    text.push(':');
    match value.map(serde_json::to_string) {
        Some(Ok(v)) => text.push_str(&v),
        _ => text.push_str("null"),
    }
    text.push('}');
}

/// The `type` of a serialized event: the first `"type":"…"` member. Inside a JSON string every
/// `"` is escaped, so the first unescaped `"type":"` is a member name; the event's own fields
/// before its tag (`seq`, `at`, `link`) are scalars, so it is the event's tag.
fn type_of(text: &str) -> &str {
    const KEY: &str = "\"type\":\"";
    let Some(i) = text.find(KEY) else {
        return "";
    };
    let rest = &text[i + KEY.len()..];
    // Event types are plain camelCase names: no escapes to undo.
    rest.find('"').map_or("", |end| &rest[..end])
}

fn push(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

impl Hub {
    /// A hub over `journal` and `backend`, continuing after the journal's last sequence number.
    pub fn new(
        cfg: &Config,
        journal: Journal,
        backend: Arc<dyn Backend>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, crate::BridgeError> {
        let last = journal.last_seq()?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let mut customers = HashMap::new();
        for c in &cfg.customers {
            customers.insert(c.number.clone(), c.clone());
            let e164 = cfg.dial_plan.normalize(&c.number).e164;
            if let Some(e) = e164 {
                customers.entry(e).or_insert_with(|| c.clone());
            }
        }
        let mut agent_of_device = HashMap::new();
        for a in &cfg.agents {
            for d in &a.devices {
                agent_of_device.insert(d.clone(), a.id.clone());
            }
        }
        Ok(Arc::new(Self {
            agent_of_device,
            journal,
            backend,
            metrics,
            live,
            routes: Mutex::new(Routes::default()),
            last_seq: AtomicU64::new(last),
            customers,
            webhooks: cfg.webhooks.clone(),
            outbox_notify: Arc::new(Notify::new()),
            redact: Redactor {
                enabled: cfg.log.redact,
            },
            recent: Mutex::new(VecDeque::with_capacity(LIVE_BUFFER)),
            replayed: Mutex::new(VecDeque::new()),
        }))
    }

    /// The last sequence number published.
    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// The customer for a calling number.
    pub fn lookup(&self, raw: Option<&str>, e164: Option<&str>) -> Option<&Customer> {
        e164.and_then(|e| self.customers.get(e))
            .or_else(|| raw.and_then(|r| self.customers.get(r)))
    }

    /// Runs until the backend's event stream ends, or until this future is dropped (the bridge
    /// stopping).
    ///
    /// The events are numbered, journaled and published on a thread of the hub's own
    /// (`hookflash-hub`): the journal write blocks, and the hub must not wait for a turn on
    /// the runtime that serves the stream clients.
    pub async fn run(self: Arc<Self>) {
        let Some(rx) = self.backend.take_events() else {
            log("the backend's events were already taken");
            return;
        };
        // Dropping `stop` (with this future) ends the thread; `done` says that it ended.
        let (stop, stopped) = oneshot::channel::<()>();
        let (done, ended) = oneshot::channel::<()>();
        let hub = self.clone();
        let thread = std::thread::Builder::new()
            .name("hookflash-hub".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread().build() {
                    Ok(rt) => rt.block_on(hub.take_events(rx, stopped)),
                    Err(e) => log(&format!("cannot start the hub: {e}")),
                }
                let _ = done.send(());
            });
        if let Err(e) = thread {
            log(&format!("cannot start the hub: {e}"));
            return;
        }
        let _stop = stop;
        let _ = ended.await;
    }

    /// The hub's thread: batches of events from `rx`, processed as they come.
    async fn take_events(&self, mut rx: mpsc::Receiver<Event>, mut stopped: oneshot::Receiver<()>) {
        let mut parties: HashMap<CallId, Vec<String>> = HashMap::new();
        let mut batch = Vec::new();
        loop {
            let n = tokio::select! {
                biased;
                _ = &mut stopped => return,
                n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            };
            if n == 0 {
                return;
            }
            self.process(&mut batch, &mut parties);
            batch.clear();
        }
    }

    fn process(&self, batch: &mut [Event], parties: &mut HashMap<CallId, Vec<String>>) {
        let mut seq = self.last_seq();
        let mut stored = Vec::with_capacity(batch.len());
        let mut records = Vec::new();
        let mut outbox = Vec::new();
        for ev in batch.iter_mut() {
            seq += 1;
            ev.seq = seq;
            let call = ev.kind.call();
            let live_call = call.and_then(|c| self.backend.call(c));
            let (devices, agents, queues) = self.scope_of(ev, live_call.as_ref(), parties);
            // Straight to text, once: the same text is journaled and shared by every client.
            let mut text = serde_json::to_string(&*ev).unwrap_or_else(|_| "null".to_string());
            if let EventKind::ScreenPop { ani, .. } = &ev.kind {
                let customer = self.lookup(
                    ani.as_ref().map(|n| n.raw.as_str()),
                    ani.as_ref().and_then(|n| n.e164.as_deref()),
                );
                append_field(&mut text, "customer", customer);
                for w in self
                    .webhooks
                    .iter()
                    .filter(|w| w.events.iter().any(|e| e == "screenPop"))
                {
                    outbox.push((w.url.clone(), "screenPop".to_string(), text.clone()));
                }
            }
            if let EventKind::CallEnded { call: id, outcome } = &ev.kind {
                parties.remove(id);
                if *outcome != Outcome::TransferredAway
                    && let Some(c) = &live_call
                {
                    let mut doc = call_record(c);
                    if let Value::Object(m) = &mut doc {
                        if c.agent.is_none() {
                            let agent = c
                                .answered_by
                                .as_ref()
                                .and_then(|d| self.agent_of_device.get(d.as_str()));
                            if let Some(a) = agent {
                                m.insert("agent".into(), Value::String(a.clone()));
                            }
                        }
                        m.insert(
                            "outcome".into(),
                            serde_json::to_value(outcome).unwrap_or(Value::Null),
                        );
                        if c.ended_at.is_none() {
                            m.insert("ended_at".into(), Value::String(rfc3339(ev.at.0)));
                            m.insert("ended_at_ms".into(), json!(ev.at.0));
                        }
                    }
                    let body = doc.to_string();
                    for w in self
                        .webhooks
                        .iter()
                        .filter(|w| w.events.iter().any(|e| e == "callRecord"))
                    {
                        outbox.push((
                            w.url.clone(),
                            "callRecord".to_string(),
                            json!({"type": "callRecord", "record": doc}).to_string(),
                        ));
                    }
                    records.push(StoredRecord {
                        ended_at: c.ended_at.map_or(ev.at.0, |t| t.0),
                        devices: devices.clone(),
                        agents: agents.clone(),
                        json: body,
                    });
                }
            }
            stored.push(StoredEvent {
                seq,
                at: ev.at.0,
                kind: type_of(&text).to_string(),
                devices,
                agents,
                queues,
                json: text.into(),
            });
        }
        let now = hookflash::spi::now().0;
        if let Err(e) = self.journal.append(&stored, &records, &outbox, now) {
            // The events are still published; a restart continues after the journal's last.
            Metrics::inc(&self.metrics.journal_errors);
            log(&self.redact.text(&format!("journal write failed: {e}")));
        }
        self.metrics
            .events
            .fetch_add(stored.len() as u64, Ordering::Relaxed);
        self.metrics
            .call_records
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        if !outbox.is_empty() {
            self.outbox_notify.notify_one();
        }
        let mut routes = lock(&self.routes);
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in stored {
            self.last_seq.store(s.seq, Ordering::Release);
            let s = Arc::new(s);
            routes.publish(&s);
            if recent.len() == LIVE_BUFFER {
                recent.pop_front();
            }
            recent.push_back(s.clone());
            let _ = self.live.send(s);
        }
    }

    /// [`Hub::replay_after`] off the async workers; `None` when the journal cannot be read.
    async fn replay(self: &Arc<Self>, after: u64) -> Option<Vec<Arc<StoredEvent>>> {
        let hub = self.clone();
        match tokio::task::spawn_blocking(move || hub.replay_after(after)).await {
            Ok(Ok(page)) => Some(page),
            _ => None,
        }
    }

    /// The journaled events after `after` for a client catching up: from the events published
    /// last when `after` is among them (at most 512), else the rest of `after`'s block of 512
    /// sequence numbers, from memory when the block is complete and was read before. Empty when the journal holds nothing after `after`. It may read SQLite: call it
    /// off the async workers.
    pub fn replay_after(&self, after: u64) -> Result<Vec<Arc<StoredEvent>>, crate::BridgeError> {
        {
            // Recent enough to be in memory: up to a block's worth from there.
            let recent = self
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if recent
                .front()
                .is_some_and(|e| e.seq <= after.saturating_add(1))
            {
                let from = recent.partition_point(|e| e.seq <= after);
                return Ok(recent
                    .range(from..)
                    .take(REPLAY_BLOCK as usize)
                    .cloned()
                    .collect());
            }
        }
        let block = after / REPLAY_BLOCK;
        let rest = |b: &[Arc<StoredEvent>]| -> Vec<Arc<StoredEvent>> {
            let from = b.partition_point(|e| e.seq <= after);
            b.get(from..).unwrap_or_default().to_vec()
        };
        let kept = self
            .replayed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, events)| events.clone());
        if let Some(events) = kept {
            return Ok(rest(&events));
        }
        let low = block * REPLAY_BLOCK;
        let high = low.saturating_add(REPLAY_BLOCK);
        // Read before the block's rows: when it was already published through its end, every
        // event of the block is in the journal (journaled before published) or never will be.
        let complete = self.last_seq() >= high;
        if !complete {
            // The block being written: only what the client lacks, and nothing kept.
            return Ok(self
                .journal
                .events_in(after, high, REPLAY_BLOCK as usize)?
                .into_iter()
                .map(Arc::new)
                .collect());
        }
        let events: Block = self
            .journal
            .events_in(low, high, REPLAY_BLOCK as usize)?
            .into_iter()
            .map(Arc::new)
            .collect();
        let out = rest(&events);
        {
            let mut kept = self
                .replayed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !kept.iter().any(|(b, _)| *b == block) {
                if kept.len() >= REPLAY_BLOCKS_KEPT {
                    kept.pop_front();
                }
                kept.push_back((block, events));
            }
        }
        if out.is_empty() {
            // Nothing after `after` in its block, but later numbers were published: skip the
            // hole (events trimmed, or a failed write) to the next event the journal holds.
            return Ok(self
                .journal
                .events_after(high, REPLAY_PAGE)?
                .into_iter()
                .map(Arc::new)
                .collect());
        }
        Ok(out)
    }

    /// The devices, agents and queues an event concerns.
    fn scope_of(
        &self,
        ev: &Event,
        call: Option<&Call>,
        parties: &mut HashMap<CallId, Vec<String>>,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut devices = Vec::new();
        let mut agents = Vec::new();
        let mut queues = Vec::new();
        match &ev.kind {
            EventKind::CallAlerting { device, .. }
            | EventKind::CallAnswered { device, .. }
            | EventKind::CallHeld { device, .. }
            | EventKind::CallRetrieved { device, .. }
            | EventKind::CallFailed { device, .. }
            | EventKind::PartyLeft { device, .. }
            | EventKind::ConnectionStateChanged { device, .. } => push(&mut devices, device),
            EventKind::CallDiverted { from, to, .. }
            | EventKind::CallTransferred { from, to, .. } => {
                push(&mut devices, from);
                if let Some(t) = to {
                    push(&mut devices, t);
                }
            }
            EventKind::CallConferenced { parties: p, .. } => {
                for d in p {
                    push(&mut devices, d);
                }
            }
            EventKind::CallQueued { queue, .. } => push(&mut queues, queue),
            EventKind::AgentStateChanged { agent, device, .. } => {
                push(&mut agents, agent);
                if let Some(d) = device {
                    push(&mut devices, d);
                }
            }
            EventKind::QueueStatsChanged { queue, .. } => push(&mut queues, queue),
            EventKind::ScreenPop { agent, device, .. } => {
                push(&mut devices, device);
                if let Some(a) = agent {
                    push(&mut agents, a);
                }
            }
            EventKind::CallOffered { .. }
            | EventKind::CallEnded { .. }
            | EventKind::CallDataChanged { .. }
            | EventKind::LinkStateChanged { .. } => {}
        }
        if let Some(id) = ev.kind.call() {
            let known = parties.entry(id).or_default();
            if let Some(c) = call {
                for l in &c.legs {
                    push(known, &l.device);
                }
                if let Some(a) = &c.agent {
                    push(&mut agents, a);
                }
                if let Some(q) = &c.queue {
                    push(&mut queues, q);
                }
                for q in &c.data.queue_path {
                    push(&mut queues, q);
                }
            }
            for d in devices.clone() {
                push(known, &d);
            }
            for d in known.iter() {
                push(&mut devices, d);
            }
            // Bound the table: calls that never end (lost events) must not grow it forever.
            if parties.len() > 100_000 {
                parties.clear();
            }
        }
        (devices, agents, queues)
    }

    /// A feed of events for one client: from `since` (journal first) or from now, filtered by
    /// scope and `filter`. The client's own task takes events from it ([`Feed::next`]).
    pub fn feed(
        self: &Arc<Self>,
        principal: Principal,
        filter: Filter,
        since: Option<u64>,
    ) -> Feed {
        // A `since` beyond the last event (a journal that was reset) starts from now, so that
        // the new events are not mistaken for ones the client has.
        let now = self.last_seq();
        let last = since.map_or(now, |s| s.min(now));
        // A client that may read everything and follows devices takes live events through the
        // routes (only its devices' events wake it); any other from the live channel, which it
        // joins before it replays, so that nothing falls between the two.
        let routed = principal.reads_all() && !filter.devices.is_empty();
        let live = if routed {
            Live::Routed(None)
        } else {
            Live::Channel(self.live.subscribe())
        };
        Feed {
            hub: self.clone(),
            principal,
            filter,
            last,
            live,
            replaying: true,
            pending: None,
            ready: VecDeque::new(),
        }
    }
}

/// One client's events ([`Hub::feed`]): what it missed (from the events in memory, else the
/// journal), then live, each event once and in order, filtered by the client's scope and
/// filter. A client that falls behind the live events catches up the same way.
pub struct Feed {
    hub: Arc<Hub>,
    principal: Principal,
    filter: Filter,
    /// The last event given to the client or passed over.
    last: u64,
    live: Live,
    /// Catching up (replaying) rather than taking live events.
    replaying: bool,
    /// A live event that showed a gap, held while the gap is replayed.
    pending: Option<Arc<StoredEvent>>,
    /// Events taken, in order, not yet looked at.
    ready: VecDeque<Arc<StoredEvent>>,
}

/// Where a feed's live events come from.
enum Live {
    /// The live channel.
    Channel(broadcast::Receiver<Arc<StoredEvent>>),
    /// The client's route (added when its replay starts; `None` before).
    Routed(Option<RouteHandle>),
}

/// A client's route, taken out of the routes when dropped.
struct RouteHandle {
    hub: Arc<Hub>,
    id: u64,
    rx: mpsc::Receiver<Arc<StoredEvent>>,
    /// Set when the client fell behind and the route was dropped.
    lagged: Arc<AtomicBool>,
}

impl Drop for RouteHandle {
    fn drop(&mut self) {
        lock(&self.hub.routes).remove(self.id);
    }
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("last", &self.last)
            .field("replaying", &self.replaying)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// The next event for the client; `None` when the feed has ended (the hub is gone, or the
    /// journal cannot be read). Cancel safe: an event taken before a cancelled call is given
    /// by the next.
    pub async fn next(&mut self) -> Option<Arc<StoredEvent>> {
        loop {
            if let Some(e) = self.take_ready() {
                return Some(e);
            }
            if self.replaying {
                self.replay().await?;
                continue;
            }
            match &mut self.live {
                Live::Channel(rx) => match rx.recv().await {
                    Ok(e) => self.on_live(e),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        *rx = self.hub.live.subscribe();
                        self.replaying = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                Live::Routed(route) => {
                    let r = route.as_mut()?;
                    match r.rx.recv().await {
                        Some(e) => {
                            if e.seq > self.last {
                                self.last = e.seq;
                                self.ready.push_back(e);
                            }
                        }
                        // The route ended: the client fell behind (replay and route again),
                        // or the hub is gone.
                        None if r.lagged.load(Ordering::Acquire) => {
                            *route = None;
                            self.replaying = true;
                        }
                        None => return None,
                    }
                }
            }
        }
    }

    /// The next event if one is at hand without waiting (for writing a batch).
    pub fn try_next(&mut self) -> Option<Arc<StoredEvent>> {
        loop {
            if let Some(e) = self.take_ready() {
                return Some(e);
            }
            if self.replaying {
                return None;
            }
            match &mut self.live {
                Live::Channel(rx) => match rx.try_recv() {
                    Ok(e) => self.on_live(e),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {
                        *rx = self.hub.live.subscribe();
                        self.replaying = true;
                        return None;
                    }
                    Err(_) => return None,
                },
                Live::Routed(route) => {
                    let e = route.as_mut()?.rx.try_recv().ok()?;
                    if e.seq > self.last {
                        self.last = e.seq;
                        self.ready.push_back(e);
                    }
                }
            }
        }
    }

    /// A live event from the channel: the next one, one already given, or one after a gap
    /// (held while the gap is replayed).
    fn on_live(&mut self, e: Arc<StoredEvent>) {
        if e.seq <= self.last {
            return;
        }
        if e.seq > self.last + 1 {
            self.pending = Some(e);
            self.replaying = true;
            return;
        }
        self.last = e.seq;
        self.ready.push_back(e);
    }

    /// One page of catching up; at the end, over to live. `None` when the journal cannot be
    /// read.
    async fn replay(&mut self) -> Option<()> {
        if let Live::Routed(route @ None) = &mut self.live {
            // Routed first, then the replay (events published before the route existed are
            // there), then routed events past what the replay gave.
            let (id, rx, lagged) = lock(&self.hub.routes).add(&self.filter.devices);
            *route = Some(RouteHandle {
                hub: self.hub.clone(),
                id,
                rx,
                lagged,
            });
        }
        let page = self.hub.replay(self.last).await?;
        match page.last() {
            Some(e) => {
                self.last = e.seq;
                self.ready.extend(page);
            }
            None => {
                self.replaying = false;
                // An event that showed a gap the journal cannot fill (a failed journal write)
                // is given as it is rather than held back for ever.
                if let Some(e) = self.pending.take()
                    && e.seq > self.last
                {
                    self.last = e.seq;
                    self.ready.push_back(e);
                }
            }
        }
        Some(())
    }

    /// The first taken event the client may see, if any.
    fn take_ready(&mut self) -> Option<Arc<StoredEvent>> {
        while let Some(e) = self.ready.pop_front() {
            // An agent token follows its agent to the device it logs on at.
            if let (Some(agent), "agentStateChanged") =
                (self.principal.agent.as_deref(), e.kind.as_str())
                && e.agents.iter().any(|a| a == agent)
            {
                self.principal.devices.extend(e.devices.iter().cloned());
            }
            if self.principal.sees(&e.devices, &e.agents) && self.filter.matches(&e) {
                return Some(e);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_442_400_250), "2026-11-23T14:00:00.250Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    fn stored(seq: u64, devices: &[&str]) -> Arc<StoredEvent> {
        Arc::new(StoredEvent {
            seq,
            at: 0,
            kind: "callAlerting".into(),
            devices: devices.iter().map(|d| d.to_string()).collect(),
            agents: vec![],
            queues: vec![],
            json: Default::default(),
        })
    }

    #[test]
    fn routes_hand_each_event_to_its_devices_clients_once() {
        let mut r = Routes::default();
        let set = |d: &[&str]| d.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        let (a, mut rx_a, _) = r.add(&set(&["300000"]));
        let (_b, mut rx_b, _) = r.add(&set(&["300001", "300002"]));
        r.publish(&stored(1, &["300000"]));
        r.publish(&stored(2, &["300001", "300002"]));
        r.publish(&stored(3, &["300009"]));
        r.publish(&stored(4, &["300002", "300000"]));
        let seqs = |rx: &mut mpsc::Receiver<Arc<StoredEvent>>| {
            let mut v = Vec::new();
            while let Ok(e) = rx.try_recv() {
                v.push(e.seq);
            }
            v
        };
        assert_eq!(seqs(&mut rx_a), vec![1, 4]);
        // Two of its devices in one event: the event comes once.
        assert_eq!(seqs(&mut rx_b), vec![2, 4]);
        r.remove(a);
        assert!(!r.by_device.contains_key("300000"));
        r.publish(&stored(5, &["300000"]));
        assert!(rx_a.try_recv().is_err());
    }

    #[test]
    fn a_client_that_falls_behind_is_dropped_and_told() {
        let mut r = Routes::default();
        let set: BTreeSet<String> = ["300000".to_string()].into();
        let (_, mut rx, lagged) = r.add(&set);
        for seq in 1..=ROUTE_BUFFER as u64 + 1 {
            r.publish(&stored(seq, &["300000"]));
        }
        assert!(lagged.load(Ordering::Acquire));
        assert!(r.clients.is_empty() && r.by_device.is_empty());
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, ROUTE_BUFFER);
        // A client that is gone is forgotten, without the lag flag.
        let (_, rx, lagged) = r.add(&set);
        drop(rx);
        r.publish(&stored(9, &["300000"]));
        assert!(!lagged.load(Ordering::Acquire));
        assert!(r.clients.is_empty());
    }

    /// The text as it was built through `serde_json::Value` before events went straight to
    /// text: the wire format must not change by a byte.
    fn via_value(ev: &Event, customer: Option<&Customer>) -> String {
        let mut v = serde_json::to_value(ev).unwrap();
        if matches!(ev.kind, EventKind::ScreenPop { .. })
            && let Value::Object(m) = &mut v
        {
            m.insert(
                "customer".into(),
                customer.map_or(Value::Null, |c| serde_json::to_value(c).unwrap()),
            );
        }
        v.to_string()
    }

    #[test]
    fn events_go_to_text_as_they_did_through_values() {
        use hookflash_core::model::{CallData, Name, Number, Timestamp};
        let name = |s: &str| Name(s.into());
        let number = |raw: &str, e164: Option<&str>| Number {
            raw: raw.into(),
            e164: e164.map(str::to_string),
        };
        let mut data = CallData::default();
        data.attached.insert("z\"key".into(), "v\u{1f}é".into());
        data.attached.insert("a".into(), "\"type\":\"x".into());
        let kinds = vec![
            EventKind::CallAlerting {
                call: CallId(7),
                device: name("300000"),
            },
            EventKind::ScreenPop {
                call: CallId(7),
                agent: Some(name("A300000")),
                device: name("300000"),
                ani: Some(number("0612345678", Some("+33612345678"))),
                dnis: None,
                data: Box::new(data),
            },
            EventKind::ScreenPop {
                call: CallId(8),
                agent: None,
                device: name("300001"),
                ani: None,
                dnis: Some(number("6000", None)),
                data: Box::default(),
            },
        ];
        let customer = Customer {
            number: "+33612345678".into(),
            name: "Ada \"L\"".into(),
            fields: [
                ("tier".to_string(), "gold".to_string()),
                ("a".into(), "b".into()),
            ]
            .into(),
        };
        for (i, kind) in kinds.into_iter().enumerate() {
            let ev = Event {
                seq: 41 + i as u64,
                at: Timestamp(1_795_442_400_250),
                pbx_time_us: (i == 1).then_some(1_795_442_400_249_123),
                link: Some(name("pbx\"type\":\"a")),
                kind,
            };
            for c in [None, Some(&customer)] {
                let mut text = serde_json::to_string(&ev).unwrap();
                if matches!(ev.kind, EventKind::ScreenPop { .. }) {
                    append_field(&mut text, "customer", c);
                }
                assert_eq!(text, via_value(&ev, c));
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(type_of(&text), v["type"].as_str().unwrap());
            }
        }
        assert_eq!(type_of("null"), "");
        let mut t = "{}".to_string();
        append_field(&mut t, "customer", Some(&1));
        assert_eq!(t, r#"{"customer":1}"#);
        let mut t = "null".to_string();
        append_field(&mut t, "customer", Some(&1));
        assert_eq!(t, "null");
    }

    #[test]
    fn filters_combine() {
        let e = StoredEvent {
            seq: 1,
            at: 0,
            kind: "callAlerting".into(),
            devices: vec!["300000".into()],
            agents: vec!["A300000".into()],
            queues: vec![],
            json: Default::default(),
        };
        let mut f = Filter::default();
        assert!(f.matches(&e));
        f.types.insert("callAlerting".into());
        assert!(f.matches(&e));
        f.devices.insert("300001".into());
        assert!(!f.matches(&e));
        f.devices.insert("300000".into());
        assert!(f.matches(&e));
        f.queues.insert("6000".into());
        assert!(!f.matches(&e));
    }
}
