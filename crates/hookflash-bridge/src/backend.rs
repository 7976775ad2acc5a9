//! What the bridge needs from the CTI layer, as one small trait: the live picture, the
//! normalized event stream, and command execution. [`EngineBackend`] implements it over the
//! built-in drivers and the core engine; tests plug in their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hookflash::Error;
use hookflash::spi::{Capabilities, Driver, DriverCommand, EventSink};
use hookflash_core::command::{Command, Verbs};
use hookflash_core::engine::Engine;
use hookflash_core::event::Event;
use hookflash_core::model::{Agent, Call, CallId, DeviceId, LinkId, LinkState, Queue, Timestamp};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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

/// The state [`EngineBackend`] shares between its pump and its queries.
#[derive(Debug)]
struct Shared {
    engine: Engine,
}

/// A backend over drivers and the core engine: every driver's events go through one engine.
pub struct EngineBackend {
    shared: Arc<Mutex<Shared>>,
    drivers: Vec<Arc<dyn Driver>>,
    events: Mutex<Option<mpsc::Receiver<Event>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for EngineBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBackend")
            .field("links", &self.drivers.len())
            .finish_non_exhaustive()
    }
}

impl Drop for EngineBackend {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl EngineBackend {
    /// Starts `drivers` (each with the devices to monitor on it) into one engine set up by
    /// `cfg`. Must run inside a tokio runtime.
    pub fn start(
        cfg: hookflash_core::engine::Config,
        drivers: Vec<(Box<dyn Driver>, Vec<DeviceId>)>,
    ) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            engine: Engine::new(cfg),
        }));
        let (sink, mut rx) = EventSink::channel(4096);
        let (out_tx, out_rx) = mpsc::channel::<Event>(4096);
        let mut tasks = Vec::new();
        let mut arcs: Vec<Arc<dyn Driver>> = Vec::new();
        for (d, monitor) in drivers {
            let d: Arc<dyn Driver> = Arc::from(d);
            arcs.push(d.clone());
            let s = sink.clone();
            let runner = d.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = runner.run(s).await {
                    eprintln!("hookflash: link {} stopped: {e}", runner.link());
                }
            }));
            if !monitor.is_empty() && d.capabilities().has(Capabilities::MONITOR) {
                tasks.push(tokio::spawn(async move {
                    let results = d.monitor(&monitor).await;
                    let failed = results.iter().filter(|r| r.is_err()).count();
                    if failed > 0 {
                        eprintln!(
                            "hookflash: link {}: {failed} of {} devices could not be monitored",
                            d.link(),
                            monitor.len()
                        );
                    }
                }));
            }
        }
        drop(sink);
        let pump = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(first) = rx.recv().await {
                {
                    let mut s = pump.lock().unwrap_or_else(|p| p.into_inner());
                    s.engine.handle(first.0, first.1);
                    // Take what else is waiting, up to a bound, under the same lock.
                    for _ in 0..256 {
                        match rx.try_recv() {
                            Ok((at, ev)) => s.engine.handle(at, ev),
                            Err(_) => break,
                        }
                    }
                    batch.extend(s.engine.drain_events());
                }
                for ev in batch.drain(..) {
                    if out_tx.send(ev).await.is_err() {
                        return;
                    }
                }
            }
        }));
        Self {
            shared,
            drivers: arcs,
            events: Mutex::new(Some(out_rx)),
            tasks,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Engine) -> T) -> T {
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        f(&s.engine)
    }

    fn driver(&self, link: &str) -> Option<&Arc<dyn Driver>> {
        self.drivers.iter().find(|d| d.link().as_str() == link)
    }

    /// The link that serves a command: the call's link, else the one whose engine knows the
    /// device, else the only one.
    fn route(&self, command: &Command) -> Result<(Arc<dyn Driver>, DriverCommand), Error> {
        let calls = command_calls(command);
        let mut native = HashMap::new();
        let mut link: Option<LinkId> = None;
        self.with(|e| {
            for id in &calls {
                let call = e.call(*id).ok_or(Error::InvalidCall(*id))?;
                if let Some(alias) = call.aliases.last() {
                    native.insert(*id, alias.clone());
                }
                link.get_or_insert_with(|| call.link.clone());
            }
            Ok::<_, Error>(())
        })?;
        let driver = match link {
            Some(l) => self.driver(&l).cloned(),
            None if self.drivers.len() == 1 => self.drivers.first().cloned(),
            None => {
                let device = command_device(command);
                let by_device = device
                    .and_then(|d| self.with(|e| e.calls_at(d).first().map(|c| c.link.clone())));
                match by_device {
                    Some(l) => self.driver(&l).cloned(),
                    None => self.drivers.first().cloned(),
                }
            }
        };
        let driver = driver.ok_or_else(|| Error::NoLink(String::from("no link")))?;
        Ok((
            driver,
            DriverCommand {
                command: command.clone(),
                native,
            },
        ))
    }
}

/// The calls a command names.
pub fn command_calls(command: &Command) -> Vec<CallId> {
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
        _ => Vec::new(),
    }
}

/// The device a command acts at.
pub fn command_device(command: &Command) -> Option<&str> {
    Some(match command {
        Command::MakeCall { from, .. } => from,
        Command::Answer { device, .. }
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
        | Command::AgentLogin { device, .. } => device,
        _ => return None,
    })
}

#[async_trait]
impl Backend for EngineBackend {
    fn take_events(&self) -> Option<mpsc::Receiver<Event>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn calls(&self) -> Vec<Call> {
        self.with(|e| e.calls().cloned().collect())
    }

    fn call(&self, id: CallId) -> Option<Call> {
        self.with(|e| {
            e.call(id)
                .cloned()
                .or_else(|| e.ended_calls().find(|c| c.id == id).cloned())
        })
    }

    fn permitted(&self, call: CallId, device: &str) -> Verbs {
        self.with(|e| e.permitted(call, device))
    }

    fn calls_at(&self, device: &str) -> Vec<Call> {
        self.with(|e| e.calls_at(device).into_iter().cloned().collect())
    }

    fn agents(&self) -> Vec<Agent> {
        self.with(|e| e.agents().cloned().collect())
    }

    fn queues(&self, now: Timestamp) -> Vec<Queue> {
        self.with(|e| {
            let ids: Vec<_> = e.queues().map(|q| q.id.clone()).collect();
            ids.iter().filter_map(|id| e.queue(id, now)).collect()
        })
    }

    fn links(&self) -> Vec<LinkInfo> {
        self.drivers
            .iter()
            .map(|d| LinkInfo {
                name: d.link().clone(),
                state: self.with(|e| e.link_state(d.link())),
                capabilities: d.capabilities(),
            })
            .collect()
    }

    async fn execute(&self, command: Command) -> Result<Option<CallId>, Error> {
        let (driver, dc) = self.route(&command)?;
        if !driver.capabilities().allows(&command) {
            return Err(Error::Unsupported);
        }
        let outcome = driver.execute(dc).await?;
        Ok(outcome.new_call.and_then(|native| {
            self.with(|e| e.call_by_alias(driver.link(), &native).map(|c| c.id))
        }))
    }
}
