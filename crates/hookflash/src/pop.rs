//! Screen pops: a ringing call, who it rings at, and who is calling — looked up in a customer
//! directory.
//!
//! The engine raises one screen pop per (agent, call) when a call rings at a monitored device
//! or an agent. [`crate::Cti::screen_pops`] turns each into a [`ScreenPop`] carrying the call,
//! the agent and device, ANI and DNIS, the attached data and the result of looking the caller
//! up in the [`CustomerDirectory`] given to [`crate::CtiBuilder::directory`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hookflash_core::event::EventKind;
use hookflash_core::model::{AgentId, CallData, CallId, DeviceId, LinkId, Number, Timestamp};

use crate::subscribe::{EventType, Filter, RecvError, Subscription};
use crate::{Cti, DirectoryError};

/// How long a screen pop waits for the directory by default.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// A customer record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Customer {
    /// The CRM's id for the customer.
    pub id: Option<String>,
    /// The name to show.
    pub name: Option<String>,
    /// Everything else the directory has (company, account, notes, …).
    pub fields: BTreeMap<String, String>,
}

impl Customer {
    /// A customer with a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Adds a field.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }
}

/// Where callers are looked up: a CRM's customer database.
///
/// `ani` is the calling number normalized to E.164 (`+4930123456`) when the dial plan could,
/// else as the PBX sent it. The screen-pop stream bounds every lookup with a timeout, so an
/// implementation need not (but should not hang either).
#[async_trait]
pub trait CustomerDirectory: Send + Sync + 'static {
    /// The customer with number `ani`, `None` when there is none.
    async fn lookup(&self, ani: &str) -> Result<Option<Customer>, DirectoryError>;
}

#[async_trait]
impl<T: CustomerDirectory + ?Sized> CustomerDirectory for Arc<T> {
    async fn lookup(&self, ani: &str) -> Result<Option<Customer>, DirectoryError> {
        (**self).lookup(ani).await
    }
}

/// The outcome of looking a caller up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// The directory knows the caller.
    Found(Customer),
    /// The directory does not know the number.
    NotFound,
    /// The call has no calling number (withheld, or unknown to the PBX).
    NoNumber,
    /// No directory is configured.
    NoDirectory,
    /// The directory failed (or timed out: [`DirectoryError::Timeout`]).
    Failed(DirectoryError),
}

impl Lookup {
    /// The customer, when found.
    pub fn customer(&self) -> Option<&Customer> {
        match self {
            Self::Found(c) => Some(c),
            _ => None,
        }
    }
}

/// A screen pop: a call ringing at an agent or a monitored device, with the lookup result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScreenPop {
    /// The sequence number of the engine's screen-pop event.
    pub seq: u64,
    /// When the call started ringing there.
    pub at: Timestamp,
    /// The link the call is on.
    pub link: Option<LinkId>,
    /// The call.
    pub call: CallId,
    /// The agent logged on at the device, if any.
    pub agent: Option<AgentId>,
    /// The ringing device.
    pub device: DeviceId,
    /// The calling number (raw and E.164).
    pub ani: Option<Number>,
    /// The called number (raw and E.164).
    pub dnis: Option<Number>,
    /// The call data (attached key/values, correlator, queue path, …).
    pub data: CallData,
    /// Who is calling, by the directory.
    pub lookup: Lookup,
}

/// The number to look a caller up by: E.164 when normalized, else the raw number.
pub fn lookup_key(ani: Option<&Number>) -> Option<&str> {
    let n = ani?;
    let key = n.e164.as_deref().unwrap_or_else(|| n.raw.trim());
    (!key.is_empty()).then_some(key)
}

/// Looks `ani` up in `directory` within `timeout`.
pub async fn look_up(
    directory: Option<&dyn CustomerDirectory>,
    ani: Option<&Number>,
    timeout: Duration,
) -> Lookup {
    let Some(dir) = directory else {
        return Lookup::NoDirectory;
    };
    let Some(key) = lookup_key(ani) else {
        return Lookup::NoNumber;
    };
    match tokio::time::timeout(timeout, dir.lookup(key)).await {
        Err(_) => Lookup::Failed(DirectoryError::Timeout),
        Ok(Err(e)) => Lookup::Failed(e),
        Ok(Ok(None)) => Lookup::NotFound,
        Ok(Ok(Some(c))) => Lookup::Found(c),
    }
}

/// How many lookups a [`ScreenPops`] stream runs at once.
pub const MAX_CONCURRENT_LOOKUPS: usize = 16;

/// A lookup under way or done.
enum Pending {
    Ready(Lookup),
    Task(tokio::task::JoinHandle<Lookup>),
}

/// The stream of screen pops: what [`Cti::screen_pops`] returns.
///
/// Up to [`MAX_CONCURRENT_LOOKUPS`] lookups run at once, each bounded by the lookup timeout;
/// pops come out in the order the calls rang. The underlying event buffer is bounded like
/// any subscription's ([`RecvError::Lagged`] when pops were missed, reported in its place in
/// the stream).
pub struct ScreenPops {
    sub: Subscription,
    directory: Option<Arc<dyn CustomerDirectory>>,
    timeout: Duration,
    pending: VecDeque<(ScreenPop, Pending)>,
    /// A lag notice to give once the pops before it are out.
    lagged: Option<u64>,
    closed: bool,
}

impl std::fmt::Debug for ScreenPops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenPops")
            .field("directory", &self.directory.is_some())
            .field("timeout", &self.timeout)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Drop for ScreenPops {
    fn drop(&mut self) {
        for (_, p) in &self.pending {
            if let Pending::Task(t) = p {
                t.abort();
            }
        }
    }
}

impl ScreenPops {
    pub(crate) fn new(cti: &Cti) -> Self {
        Self::with_filter(cti, Filter::all())
    }

    /// Screen pops that also pass `filter` (for one agent's or device's pops).
    pub fn with_filter(cti: &Cti, filter: Filter) -> Self {
        let shared = cti.shared_arc();
        Self {
            sub: cti.subscribe(filter.event_type(EventType::ScreenPop)),
            directory: shared.directory.clone(),
            timeout: shared.lookup_timeout,
            pending: VecDeque::new(),
            lagged: None,
            closed: false,
        }
    }

    /// Starts the lookup for a screen-pop event.
    fn start(&mut self, ev: hookflash_core::event::Event) {
        let EventKind::ScreenPop {
            call,
            agent,
            device,
            ani,
            dnis,
            data,
        } = ev.kind
        else {
            return;
        };
        let pending = match (&self.directory, lookup_key(ani.as_ref())) {
            (None, _) => Pending::Ready(Lookup::NoDirectory),
            (Some(_), None) => Pending::Ready(Lookup::NoNumber),
            (Some(dir), Some(_)) => {
                let dir = dir.clone();
                let ani = ani.clone();
                let timeout = self.timeout;
                Pending::Task(tokio::spawn(async move {
                    look_up(Some(dir.as_ref()), ani.as_ref(), timeout).await
                }))
            }
        };
        let pop = ScreenPop {
            seq: ev.seq,
            at: ev.at,
            link: ev.link,
            call,
            agent,
            device,
            ani,
            dnis,
            data: *data,
            lookup: Lookup::NoDirectory,
        };
        self.pending.push_back((pop, pending));
    }

    /// Takes the events already buffered, starting their lookups, without waiting.
    fn fill(&mut self) {
        while self.lagged.is_none() && !self.closed && self.pending.len() < MAX_CONCURRENT_LOOKUPS {
            match self.sub.try_recv() {
                Some(Ok(ev)) => self.start(ev),
                Some(Err(RecvError::Lagged { missed })) => self.lagged = Some(missed),
                Some(Err(_)) => self.closed = true,
                None => break,
            }
        }
    }

    /// The next screen pop, with its lookup done.
    pub async fn recv(&mut self) -> Result<ScreenPop, RecvError> {
        loop {
            self.fill();
            if let Some((mut pop, pending)) = self.pending.pop_front() {
                pop.lookup = match pending {
                    Pending::Ready(l) => l,
                    // A directory that panicked counts as one that failed.
                    Pending::Task(t) => t.await.unwrap_or(Lookup::Failed(DirectoryError::Io(
                        std::io::ErrorKind::Other,
                    ))),
                };
                return Ok(pop);
            }
            if let Some(missed) = self.lagged.take() {
                return Err(RecvError::Lagged { missed });
            }
            if self.closed {
                return Err(RecvError::Closed);
            }
            match self.sub.recv().await {
                Ok(ev) => self.start(ev),
                Err(RecvError::Lagged { missed }) => return Err(RecvError::Lagged { missed }),
                Err(e) => return Err(e),
            }
        }
    }
}
