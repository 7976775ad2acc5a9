//! Subscriptions: filtered, bounded streams of normalized events.
//!
//! Every subscriber has its own bounded buffer. The engine never waits for a subscriber: when a
//! buffer is full, further events for that subscriber are dropped and counted, and the
//! subscriber is told how many it missed ([`RecvError::Lagged`]) before the next event it does
//! get. A lagged subscriber resyncs by querying the [`crate::Cti`] (calls, agents, queues).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use hookflash_core::event::{Event, EventKind};
use hookflash_core::model::{AgentId, CallId, DeviceId, LinkId, QueueId};
use tokio::sync::Notify;

/// The type of a normalized event, for filtering (one per [`EventKind`] variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventType {
    /// [`EventKind::CallOffered`].
    CallOffered,
    /// [`EventKind::CallAlerting`].
    CallAlerting,
    /// [`EventKind::CallAnswered`].
    CallAnswered,
    /// [`EventKind::CallHeld`].
    CallHeld,
    /// [`EventKind::CallRetrieved`].
    CallRetrieved,
    /// [`EventKind::CallQueued`].
    CallQueued,
    /// [`EventKind::CallDiverted`].
    CallDiverted,
    /// [`EventKind::CallTransferred`].
    CallTransferred,
    /// [`EventKind::CallConferenced`].
    CallConferenced,
    /// [`EventKind::CallFailed`].
    CallFailed,
    /// [`EventKind::PartyLeft`].
    PartyLeft,
    /// [`EventKind::ConnectionStateChanged`].
    ConnectionStateChanged,
    /// [`EventKind::CallEnded`].
    CallEnded,
    /// [`EventKind::CallDataChanged`].
    CallDataChanged,
    /// [`EventKind::AgentStateChanged`].
    AgentStateChanged,
    /// [`EventKind::QueueStatsChanged`].
    QueueStatsChanged,
    /// [`EventKind::LinkStateChanged`].
    LinkStateChanged,
    /// [`EventKind::ScreenPop`].
    ScreenPop,
}

impl EventType {
    /// The type of `kind`.
    pub fn of(kind: &EventKind) -> Self {
        match kind {
            EventKind::CallOffered { .. } => Self::CallOffered,
            EventKind::CallAlerting { .. } => Self::CallAlerting,
            EventKind::CallAnswered { .. } => Self::CallAnswered,
            EventKind::CallHeld { .. } => Self::CallHeld,
            EventKind::CallRetrieved { .. } => Self::CallRetrieved,
            EventKind::CallQueued { .. } => Self::CallQueued,
            EventKind::CallDiverted { .. } => Self::CallDiverted,
            EventKind::CallTransferred { .. } => Self::CallTransferred,
            EventKind::CallConferenced { .. } => Self::CallConferenced,
            EventKind::CallFailed { .. } => Self::CallFailed,
            EventKind::PartyLeft { .. } => Self::PartyLeft,
            EventKind::ConnectionStateChanged { .. } => Self::ConnectionStateChanged,
            EventKind::CallEnded { .. } => Self::CallEnded,
            EventKind::CallDataChanged { .. } => Self::CallDataChanged,
            EventKind::AgentStateChanged { .. } => Self::AgentStateChanged,
            EventKind::QueueStatsChanged { .. } => Self::QueueStatsChanged,
            EventKind::LinkStateChanged { .. } => Self::LinkStateChanged,
            EventKind::ScreenPop { .. } => Self::ScreenPop,
        }
    }

    /// Whether events of this type are about a call.
    pub fn is_call(self) -> bool {
        !matches!(
            self,
            Self::AgentStateChanged | Self::QueueStatsChanged | Self::LinkStateChanged
        )
    }
}

/// Which events a subscriber wants.
///
/// - Event types ([`Filter::event_type`]): none named means every type.
/// - Entities ([`Filter::device`], [`Filter::agent`], [`Filter::queue`], [`Filter::call`]):
///   none named means every event; otherwise an event passes when it touches any named entity.
///   A call event touches the call's devices, the agent logged on at them, its queues; once a
///   call touched the filter, all of its events pass until it ends (so a subscriber for device
///   `1001` also sees the call's `CallEnded` after `1001` left it). Link state events pass
///   every entity filter.
/// - Links ([`Filter::link`]): none named means every link; otherwise only events from the
///   named links pass.
///
/// ```
/// use hookflash::{EventType, Filter};
///
/// let f = Filter::all().device("1001").event_type(EventType::ScreenPop);
/// assert!(!f.is_all());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    devices: HashSet<DeviceId>,
    agents: HashSet<AgentId>,
    queues: HashSet<QueueId>,
    calls: HashSet<CallId>,
    links: HashSet<LinkId>,
    types: HashSet<EventType>,
}

impl Filter {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events touching `device` (or any other device, agent, queue or call named).
    pub fn device(mut self, device: impl Into<DeviceId>) -> Self {
        self.devices.insert(device.into());
        self
    }

    /// Events touching any of `devices`.
    pub fn devices<D: Into<DeviceId>>(mut self, devices: impl IntoIterator<Item = D>) -> Self {
        self.devices.extend(devices.into_iter().map(Into::into));
        self
    }

    /// Events touching `agent`: its state changes and the calls at its devices.
    pub fn agent(mut self, agent: impl Into<AgentId>) -> Self {
        self.agents.insert(agent.into());
        self
    }

    /// Events touching `queue`: its statistics and the calls that pass through it.
    pub fn queue(mut self, queue: impl Into<QueueId>) -> Self {
        self.queues.insert(queue.into());
        self
    }

    /// Events of `call`.
    pub fn call(mut self, call: CallId) -> Self {
        self.calls.insert(call);
        self
    }

    /// Only events from `link` (or any other link named).
    pub fn link(mut self, link: impl Into<LinkId>) -> Self {
        self.links.insert(link.into());
        self
    }

    /// Only events of type `t` (or any other type named).
    pub fn event_type(mut self, t: EventType) -> Self {
        self.types.insert(t);
        self
    }

    /// Only events of the types in `types`.
    pub fn event_types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        self.types.extend(types);
        self
    }

    /// Whether the filter lets every event pass.
    pub fn is_all(&self) -> bool {
        self.types.is_empty() && self.links.is_empty() && !self.has_entities()
    }

    fn has_entities(&self) -> bool {
        !(self.devices.is_empty()
            && self.agents.is_empty()
            && self.queues.is_empty()
            && self.calls.is_empty())
    }

    /// Whether the entity criteria name anything in `involved`.
    fn touches(&self, involved: &Involved) -> bool {
        involved.devices.iter().any(|d| self.devices.contains(d))
            || involved.agents.iter().any(|a| self.agents.contains(a))
            || involved.queues.iter().any(|q| self.queues.contains(q))
            || involved.call.is_some_and(|c| self.calls.contains(&c))
    }
}

/// What one event touches: computed once per event by the engine task.
#[derive(Debug, Default)]
pub(crate) struct Involved {
    pub(crate) call: Option<CallId>,
    pub(crate) devices: Vec<DeviceId>,
    pub(crate) agents: Vec<AgentId>,
    pub(crate) queues: Vec<QueueId>,
}

/// Why [`Subscription::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The subscriber fell behind and `missed` events were dropped for it. The stream goes on
    /// with the events after the gap; query the [`crate::Cti`] to resync the picture.
    #[error("the subscriber fell behind and missed {missed} events")]
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// The [`crate::Cti`] shut down; no more events will come.
    #[error("the Cti handle is shut down")]
    Closed,
}

enum Item<T> {
    Value(T),
    Lagged(u64),
}

struct SlotQueue<T> {
    items: VecDeque<Item<T>>,
    missed: u64,
    closed: bool,
}

/// One subscriber's bounded buffer, shared by the engine task (writer) and the subscriber.
pub(crate) struct Slot<T> {
    queue: Mutex<SlotQueue<T>>,
    notify: Notify,
    capacity: usize,
}

impl<T> Slot<T> {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(SlotQueue {
                items: VecDeque::new(),
                missed: 0,
                closed: false,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotQueue<T>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `value`, or counts it as missed when the buffer is full. Never waits.
    pub(crate) fn push(&self, value: T) {
        {
            let mut q = self.lock();
            if q.closed {
                return;
            }
            if q.items.len() >= self.capacity {
                q.missed = q.missed.saturating_add(1);
                return;
            }
            if q.missed > 0 {
                let missed = std::mem::take(&mut q.missed);
                q.items.push_back(Item::Lagged(missed));
            }
            q.items.push_back(Item::Value(value));
        }
        self.notify.notify_one();
    }

    /// No more values will come.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    fn try_take(&self) -> Option<Result<T, RecvError>> {
        let mut q = self.lock();
        match q.items.pop_front() {
            Some(Item::Value(v)) => Some(Ok(v)),
            Some(Item::Lagged(missed)) => Some(Err(RecvError::Lagged { missed })),
            None if q.missed > 0 => Some(Err(RecvError::Lagged {
                missed: std::mem::take(&mut q.missed),
            })),
            None if q.closed => Some(Err(RecvError::Closed)),
            None => None,
        }
    }

    pub(crate) async fn recv(&self) -> Result<T, RecvError> {
        loop {
            if let Some(r) = self.try_take() {
                return r;
            }
            self.notify.notified().await;
        }
    }

    pub(crate) fn try_recv(&self) -> Option<Result<T, RecvError>> {
        self.try_take()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }
}

/// Cap on the calls one subscriber follows at a time (a call that never ends must not grow it
/// without bound).
const MAX_FOLLOWED: usize = 65_536;

/// The engine task's record of one subscriber.
pub(crate) struct Subscriber {
    filter: Filter,
    followed: HashSet<CallId>,
    slot: Weak<Slot<Event>>,
}

impl Subscriber {
    pub(crate) fn new(filter: Filter, slot: &Arc<Slot<Event>>) -> Self {
        Self {
            filter,
            followed: HashSet::new(),
            slot: Arc::downgrade(slot),
        }
    }

    /// Ends the subscriber's stream.
    pub(crate) fn close(&self) {
        if let Some(slot) = self.slot.upgrade() {
            slot.close();
        }
    }

    /// Whether the subscriber needs to know what events touch.
    pub(crate) fn needs_involved(&self) -> bool {
        self.filter.has_entities()
    }

    /// Offers `event`; false when the subscriber is gone (drop it).
    pub(crate) fn offer(&mut self, event: &Event, involved: Option<&Involved>) -> bool {
        let Some(slot) = self.slot.upgrade() else {
            return false;
        };
        if self.accepts(event, involved) {
            slot.push(event.clone());
        }
        true
    }

    fn accepts(&mut self, event: &Event, involved: Option<&Involved>) -> bool {
        let f = &self.filter;
        if !f.links.is_empty() && !event.link.as_ref().is_some_and(|l| f.links.contains(l)) {
            return false;
        }
        let t = EventType::of(&event.kind);
        // Following a call is decided before the type filter, so that a subscriber for
        // screen pops of device 1001 still tracks the call's end.
        let entity_ok = if !f.has_entities() || t == EventType::LinkStateChanged {
            true
        } else {
            let call = event.kind.call();
            let followed = call.is_some_and(|c| self.followed.contains(&c));
            let touched = followed || involved.is_some_and(|i| f.touches(i));
            if let Some(c) = call {
                if matches!(event.kind, EventKind::CallEnded { .. }) {
                    self.followed.remove(&c);
                } else if touched && !followed {
                    if self.followed.len() >= MAX_FOLLOWED {
                        self.followed.clear();
                    }
                    self.followed.insert(c);
                }
            }
            touched
        };
        entity_ok && (f.types.is_empty() || f.types.contains(&t))
    }
}

/// A stream of normalized events: what [`crate::Cti::subscribe`] returns.
///
/// Dropping it unsubscribes.
pub struct Subscription {
    slot: Arc<Slot<Event>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("buffered", &self.slot.len())
            .finish()
    }
}

impl Subscription {
    pub(crate) fn new(slot: Arc<Slot<Event>>) -> Self {
        Self { slot }
    }

    /// The next event. [`RecvError::Lagged`] tells that events were dropped because this
    /// subscriber fell behind (the stream goes on); [`RecvError::Closed`] that the
    /// [`crate::Cti`] shut down.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        self.slot.recv().await
    }

    /// The next event if one is buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<Result<Event, RecvError>> {
        self.slot.try_recv()
    }

    /// How many events (and lag notices) are buffered.
    pub fn buffered(&self) -> usize {
        self.slot.len()
    }
}

/// A stream of values of the [`crate::Cti`] other than events (finished calls): bounded, with
/// the same lag semantics as [`Subscription`].
pub struct Stream<T> {
    slot: Arc<Slot<T>>,
}

impl<T> std::fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("buffered", &self.slot.len())
            .finish()
    }
}

impl<T> Stream<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>) -> Self {
        Self { slot }
    }

    /// The next value; see [`Subscription::recv`].
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        self.slot.recv().await
    }

    /// The next value if one is buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<Result<T, RecvError>> {
        self.slot.try_recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_buffer_drops_and_reports_the_gap_in_order() {
        let slot = Slot::new(2);
        for i in 0..5u32 {
            slot.push(i);
        }
        slot.push(99); // still full: missed
        assert_eq!(slot.recv().await, Ok(0));
        slot.push(5); // room: gap marker, then 5
        assert_eq!(slot.recv().await, Ok(1));
        assert_eq!(slot.recv().await, Err(RecvError::Lagged { missed: 4 }));
        assert_eq!(slot.recv().await, Ok(5));
        slot.close();
        assert_eq!(slot.recv().await, Err(RecvError::Closed));
    }

    #[tokio::test]
    async fn a_gap_at_the_end_is_reported_when_the_buffer_drains() {
        let slot = Slot::new(1);
        slot.push(1u8);
        slot.push(2);
        slot.push(3);
        assert_eq!(slot.recv().await, Ok(1));
        assert_eq!(slot.recv().await, Err(RecvError::Lagged { missed: 2 }));
        assert_eq!(slot.try_recv(), None);
    }

    proptest::proptest! {
        /// Whatever the interleaving of pushes and reads, a subscriber gets the values in
        /// order, every value is either received or counted as missed, and the buffer stays
        /// bounded.
        #[test]
        fn nothing_is_lost_without_being_counted(
            capacity in 1usize..6,
            ops in proptest::collection::vec(proptest::bool::weighted(0.6), 0..200),
        ) {
            let slot = Slot::new(capacity);
            // `expected`: the value the next read must return; a lag notice of `m` skips
            // exactly the `m` values dropped at that point of the stream.
            let (mut pushed, mut expected) = (0u64, 0u64);
            let take = |slot: &Slot<u64>, expected: &mut u64| match slot.try_recv() {
                Some(Ok(v)) => {
                    assert_eq!(v, *expected, "values in order, gaps only where reported");
                    *expected += 1;
                }
                Some(Err(RecvError::Lagged { missed })) => {
                    assert!(missed > 0);
                    *expected += missed;
                }
                Some(Err(RecvError::Closed)) => unreachable!("not closed"),
                None => {}
            };
            for push in ops {
                if push {
                    slot.push(pushed);
                    pushed += 1;
                } else {
                    take(&slot, &mut expected);
                }
                proptest::prop_assert!(slot.len() <= 2 * capacity);
            }
            while slot.len() > 0 {
                take(&slot, &mut expected);
            }
            take(&slot, &mut expected);
            proptest::prop_assert_eq!(expected, pushed);
            proptest::prop_assert!(slot.try_recv().is_none());
        }
    }

    #[tokio::test]
    async fn recv_wakes_on_push_from_another_task() {
        let slot = Slot::new(4);
        let s2 = slot.clone();
        let h = tokio::spawn(async move { s2.recv().await });
        tokio::task::yield_now().await;
        slot.push(7u8);
        assert_eq!(h.await.unwrap(), Ok(7));
    }
}
