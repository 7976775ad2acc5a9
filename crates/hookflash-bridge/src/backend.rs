//! What the bridge needs from the CTI layer, as one small trait: the live picture, the
//! normalized event stream, and command execution. [`CtiBackend`] implements it over a
//! [`hookflash::Cti`]; tests plug in their own.

use std::sync::Mutex;

use async_trait::async_trait;
use hookflash::spi::Capabilities;
use hookflash::{Cti, CtiBuilder, Error};
use hookflash_core::command::{Command, Verbs};
use hookflash_core::event::Event;
use hookflash_core::model::{Agent, Call, CallId, LinkId, LinkState, Queue, Timestamp};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::BridgeError;

/// A link as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The link's name.
    pub name: LinkId,
    /// Its state.
    pub state: LinkState,
    /// What its driver can do.
    pub capabilities: Capabilities,
}

/// The CTI layer as the bridge sees it.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The event stream; called once. Events are numbered by the backend; the bridge renumbers
    /// them after its journal so that numbers continue across restarts.
    fn take_events(&self) -> Option<mpsc::Receiver<Event>>;
    /// Live calls.
    fn calls(&self) -> Vec<Call>;
    /// A call, live or recently ended.
    fn call(&self, id: CallId) -> Option<Call>;
    /// The verbs `device` may use on `call`.
    fn permitted(&self, call: CallId, device: &str) -> Verbs;
    /// The calls at `device`.
    fn calls_at(&self, device: &str) -> Vec<Call>;
    /// The agents.
    fn agents(&self) -> Vec<Agent>;
    /// The queues with their statistics at `now`.
    fn queues(&self, now: Timestamp) -> Vec<Queue>;
    /// The links.
    fn links(&self) -> Vec<LinkInfo>;
    /// Executes a command; the new call it made, if any and already known.
    async fn execute(&self, command: Command) -> Result<Option<CallId>, Error>;
}

/// The backend over a [`hookflash::Cti`]: every event reaches the bridge through the Cti's
/// event hook (in order, none missed), queries and commands go to the Cti.
///
/// The links and the call engine run on a runtime of their own, on a thread of their own
/// (`hookflash-links`): the bridge's runtime serves thousands of stream clients, and a PBX's
/// event must not wait in their queue to be read off its link.
pub struct CtiBackend {
    cti: Cti,
    events: Mutex<Option<mpsc::Receiver<Event>>>,
    forward: JoinHandle<()>,
    /// Dropped with the backend, which ends the links' thread (and their runtime).
    _links_thread: oneshot::Sender<()>,
}

impl std::fmt::Debug for CtiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtiBackend")
            .field("cti", &self.cti)
            .finish_non_exhaustive()
    }
}

impl Drop for CtiBackend {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

impl CtiBackend {
    /// Builds the Cti from `builder` with the bridge's event hook and starts it on a thread of
    /// its own. Sequence numbers continue after `resume_seq`.
    pub fn build(builder: CtiBuilder, resume_seq: u64) -> Result<Self, BridgeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("hookflash-links".into())
            .spawn(move || {
                // Until the backend is dropped; dropping the runtime then ends its tasks.
                let _ = runtime.block_on(stopped);
            })?;
        // The hook runs on the Cti's engine task and must not block: it hands each event to an
        // unbounded channel, drained at once into the bounded one the hub reads. The hub
        // writes batches, so the backlog stays small unless the disk stalls.
        let (hook_tx, mut hook_rx) = mpsc::unbounded_channel::<Event>();
        let cti = builder
            .runtime(handle.clone())
            .resume_seq(resume_seq)
            .on_event(move |e| {
                let _ = hook_tx.send(e.clone());
            })
            .build()?;
        let (tx, rx) = mpsc::channel(4096);
        let forward = handle.spawn(async move {
            while let Some(e) = hook_rx.recv().await {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            cti,
            events: Mutex::new(Some(rx)),
            forward,
            _links_thread: stop,
        })
    }

    /// The Cti.
    pub fn cti(&self) -> &Cti {
        &self.cti
    }
}

#[async_trait]
impl Backend for CtiBackend {
    fn take_events(&self) -> Option<mpsc::Receiver<Event>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn calls(&self) -> Vec<Call> {
        self.cti.calls()
    }

    fn call(&self, id: CallId) -> Option<Call> {
        self.cti.call(id)
    }

    fn permitted(&self, call: CallId, device: &str) -> Verbs {
        self.cti.permitted(call, device)
    }

    fn calls_at(&self, device: &str) -> Vec<Call> {
        self.cti.calls_at(device)
    }

    fn agents(&self) -> Vec<Agent> {
        self.cti.agents()
    }

    fn queues(&self, _now: Timestamp) -> Vec<Queue> {
        self.cti.queues()
    }

    fn links(&self) -> Vec<LinkInfo> {
        self.cti
            .links()
            .into_iter()
            .map(|l| LinkInfo {
                name: l.link,
                state: l.state,
                capabilities: l.capabilities,
            })
            .collect()
    }

    async fn execute(&self, command: Command) -> Result<Option<CallId>, Error> {
        Ok(self.cti.execute(command).await?.call)
    }
}
