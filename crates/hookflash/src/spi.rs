//! The plugin SPI: what a PBX driver implements.
//!
//! A driver owns one link to one PBX. It has a small mandatory core — report
//! [`DriverEvent`]s into an [`EventSink`] while the link runs — and capability-gated optional
//! parts: monitoring devices, executing call and agent commands. What it can do is declared by
//! [`Driver::capabilities`]; the [`crate::Cti`] answers everything else with
//! [`Error::Unsupported`] without asking the driver, and a UI can grey the verbs out.
//!
//! The trait is dyn-compatible (`Box<dyn Driver>`), so drivers from other crates plug in at run
//! time. Methods take `&self`: [`Driver::run`] and the commands run concurrently, so a driver
//! keeps its link state behind its own channels or locks.
//!
//! What the [`crate::Cti`] relies on:
//! - [`DriverEvent::LinkUp`] once the link can take commands, [`DriverEvent::LinkDown`] when
//!   it drops: commands on a down link are refused with [`Error::LinkDown`] without asking
//!   the driver, and a request in flight fails with it when the link drops;
//! - [`DriverEvent::Monitor`] for each device the PBX monitors (screen pops are raised for
//!   monitored devices and agents); a monitor asked for while the link is down is kept and
//!   made on the next connection;
//! - commands arrive with this link's own call ids ([`DriverCommand::native`]) and after the
//!   capability and call-state checks; the [`crate::Cti`] bounds each with its request
//!   timeout, so a driver need not, but should fail requests in flight with
//!   [`Error::LinkDown`] when its connection drops.
//!
//! `examples/custom_driver` in the repository is a complete driver for a small line-based
//! protocol, written against this module alone.

use std::collections::HashMap;

use async_trait::async_trait;
use hookflash_core::{
    command::{Command, Verbs},
    driver::DriverEvent,
    model::{CallId, DeviceId, LinkId, NativeCallId, Timestamp},
};
use tokio::sync::mpsc;

use crate::Error;

/// What a driver can do, as a set of flags. Call-control verbs reuse the core's [`Verbs`] bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities {
    /// The call-control verbs the link can execute.
    pub verbs: Verbs,
    /// Other abilities ([`Capabilities::MONITOR`], ...).
    pub flags: u32,
}

impl Capabilities {
    /// Devices can be monitored one by one ([`Driver::monitor`]).
    pub const MONITOR: u32 = 1;
    /// The link takes snapshots after a reconnect (state is reconciled, not just resumed).
    pub const SNAPSHOT: u32 = 1 << 1;
    /// Calls can be made ([`Command::MakeCall`]).
    pub const MAKE_CALL: u32 = 1 << 2;
    /// Agents can be logged in and out and their state set.
    pub const AGENT_CONTROL: u32 = 1 << 3;
    /// The link reports agent state.
    pub const AGENT_EVENTS: u32 = 1 << 4;
    /// Data can be attached to calls ([`Command::AttachData`]).
    pub const ATTACH_DATA: u32 = 1 << 5;
    /// The link reports only finished calls (SMDR/CDR feeds): no live events, no commands.
    pub const CALL_RECORDS: u32 = 1 << 6;
    /// The link reports live call events.
    pub const CALL_EVENTS: u32 = 1 << 7;

    /// Nothing.
    pub const NONE: Self = Self {
        verbs: Verbs(0),
        flags: 0,
    };

    /// Whether every flag in `flags` is set.
    pub fn has(self, flags: u32) -> bool {
        self.flags & flags == flags
    }

    /// Whether the link can execute `command` at all.
    pub fn allows(self, command: &Command) -> bool {
        match command {
            Command::MakeCall { .. } => self.has(Self::MAKE_CALL),
            Command::AttachData { .. } => self.has(Self::ATTACH_DATA),
            Command::AgentLogin { .. }
            | Command::AgentLogout { .. }
            | Command::AgentReady { .. }
            | Command::AgentNotReady { .. }
            | Command::AgentAfterCallWork { .. } => self.has(Self::AGENT_CONTROL),
            Command::ClearCall { .. } => self.verbs.contains(Verbs::CLEAR),
            other => match verb_of(other) {
                Some(v) => self.verbs.contains(v),
                None => false,
            },
        }
    }

    /// The names of the flags and verbs, for a UI or a JSON document.
    pub fn names(self) -> Vec<&'static str> {
        const FLAGS: &[(u32, &str)] = &[
            (Capabilities::MONITOR, "monitor"),
            (Capabilities::SNAPSHOT, "snapshot"),
            (Capabilities::MAKE_CALL, "makeCall"),
            (Capabilities::AGENT_CONTROL, "agentControl"),
            (Capabilities::AGENT_EVENTS, "agentEvents"),
            (Capabilities::ATTACH_DATA, "attachData"),
            (Capabilities::CALL_RECORDS, "callRecords"),
            (Capabilities::CALL_EVENTS, "callEvents"),
        ];
        let mut out: Vec<&'static str> = FLAGS
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect();
        out.extend(self.verbs.names());
        out
    }
}

/// The call-control verb a command exercises, if it is one.
pub fn verb_of(command: &Command) -> Option<Verbs> {
    Some(match command {
        Command::Answer { .. } => Verbs::ANSWER,
        Command::Clear { .. } | Command::ClearCall { .. } => Verbs::CLEAR,
        Command::Hold { .. } => Verbs::HOLD,
        Command::Retrieve { .. } => Verbs::RETRIEVE,
        Command::Consult { .. } => Verbs::CONSULT,
        Command::Transfer { .. } => Verbs::TRANSFER,
        Command::Conference { .. } => Verbs::CONFERENCE,
        Command::SingleStepTransfer { .. } => Verbs::SINGLE_STEP_TRANSFER,
        Command::SingleStepConference { .. } => Verbs::SINGLE_STEP_CONFERENCE,
        Command::Deflect { .. } => Verbs::DEFLECT,
        Command::Alternate { .. } => Verbs::ALTERNATE,
        Command::Reconnect { .. } => Verbs::RECONNECT,
        Command::SendDigits { .. } => Verbs::SEND_DIGITS,
        Command::Pickup { .. } => Verbs::PICKUP,
        _ => return None,
    })
}

/// A command as a driver receives it: the core command, plus the link's own (native) call id
/// for every Hookflash call id the command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverCommand {
    /// The command.
    pub command: Command,
    /// Hookflash call id → this link's call id.
    pub native: HashMap<CallId, NativeCallId>,
}

impl DriverCommand {
    /// A command that names no calls (make call, agent commands).
    pub fn new(command: Command) -> Self {
        Self {
            command,
            native: HashMap::new(),
        }
    }

    /// This link's id for `call`; [`Error::InvalidCall`] if the link does not know it.
    pub fn native(&self, call: CallId) -> Result<&NativeCallId, Error> {
        self.native.get(&call).ok_or(Error::InvalidCall(call))
    }
}

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandOutcome {
    /// The new call the command created (make call, consultation), in the link's ids.
    pub new_call: Option<NativeCallId>,
}

impl CommandOutcome {
    /// An outcome with a new call.
    pub fn with_call(call: NativeCallId) -> Self {
        Self {
            new_call: Some(call),
        }
    }
}

/// The result of monitoring one device.
pub type MonitorResult = Result<(), Error>;

/// One report of a driver as the engine receives it from an [`EventSink`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    /// When the driver reported it (wall clock), or the time the driver gave.
    pub at: Timestamp,
    /// When the PBX says it happened, in microseconds since the Unix epoch, if its report
    /// carried the PBX's own time.
    pub pbx_time_us: Option<u64>,
    /// What happened.
    pub event: DriverEvent,
}

/// Where a driver reports what happens on its link. Cloneable; each event is stamped with the
/// wall-clock time it is sent at (or a time the driver gives).
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Reported>,
}

impl EventSink {
    /// A sink and the receiving end the [`crate::Cti`] (or a test) reads.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Reported>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx }, rx)
    }

    /// Report `event`, stamped now. Waits while the engine is busy (bounded buffer); fails
    /// with [`Error::Closed`] once nobody listens (the driver should stop).
    pub async fn send(&self, event: DriverEvent) -> Result<(), Error> {
        self.send_at(now(), event).await
    }

    /// Report `event` with the time it happened.
    pub async fn send_at(&self, at: Timestamp, event: DriverEvent) -> Result<(), Error> {
        self.report(Reported {
            at,
            pbx_time_us: None,
            event,
        })
        .await
    }

    /// Report `event`, stamped now, with the time the PBX gave it (microseconds since the Unix
    /// epoch): the normalized events it leads to carry that time (`pbx_time_us`).
    pub async fn send_stamped(&self, event: DriverEvent, pbx_time_us: u64) -> Result<(), Error> {
        self.report(Reported {
            at: now(),
            pbx_time_us: Some(pbx_time_us),
            event,
        })
        .await
    }

    async fn report(&self, r: Reported) -> Result<(), Error> {
        self.tx.send(r).await.map_err(|_| Error::Closed)
    }

    /// Whether nobody listens any more.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until nobody listens any more.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// The wall clock, in milliseconds since the Unix epoch (the core's [`Timestamp`]).
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

/// A PBX driver: the plugin SPI.
///
/// Mandatory: [`Driver::link`], [`Driver::capabilities`] and [`Driver::run`]. Optional (the
/// default answers [`Error::Unsupported`]): [`Driver::monitor`], [`Driver::unmonitor`],
/// [`Driver::execute`].
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The link's name; every [`DriverEvent`] the driver reports carries it.
    fn link(&self) -> &LinkId;

    /// What the driver can do.
    fn capabilities(&self) -> Capabilities;

    /// Runs the link until `sink` closes: connects, logs in, reports
    /// [`DriverEvent::LinkUp`]/[`DriverEvent::LinkDown`], reconnects with backoff, re-monitors
    /// and snapshots after every reconnect, and reports every event. Returns `Ok(())` when the
    /// sink closed, an error only when the link can never work (bad configuration, refused
    /// credentials). A PBX that reports a call only through the monitors of the devices in it
    /// (CSTA) is announced with [`DriverEvent::LinkVisibility`] before the first
    /// [`DriverEvent::LinkResyncing`], so that a resync ends the calls no monitored device
    /// has any more.
    async fn run(&self, sink: EventSink) -> Result<(), Error>;

    /// Monitors `devices` (and keeps monitoring them across reconnects). One result per device,
    /// in order: a PBX can refuse some and accept others.
    async fn monitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        devices.iter().map(|_| Err(Error::Unsupported)).collect()
    }

    /// Stops monitoring `devices`.
    async fn unmonitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        devices.iter().map(|_| Err(Error::Unsupported)).collect()
    }

    /// Executes a call-control or agent command.
    async fn execute(&self, command: DriverCommand) -> Result<CommandOutcome, Error> {
        let _ = command;
        Err(Error::Unsupported)
    }
}
