//! Hookflash: computer-telephony integration for CRM applications.
//!
//! One [`Cti`] handle gives a CRM the live, normalized picture of calls, agents and queues of
//! one or more PBXs, and the verbs to control them — whatever protocol each PBX speaks.
//!
//! - [`Cti`] / [`CtiBuilder`]: links in (URLs for the built-in drivers, or any [`spi::Driver`]),
//!   filtered event [`Subscription`]s, queries, call and agent control;
//! - [`pop`]: screen pops with a [`CustomerDirectory`] lookup; [`directory`]: in-memory, CSV
//!   and HTTP directories;
//! - [`spi`]: the driver trait (plugin SPI) a PBX vendor implements;
//! - [`drivers`]: the built-in drivers (CSTA BER and XML, Asterisk AMI, SMDR), each behind its
//!   cargo feature (`csta`, `ami`, `smdr`; all on by default);
//! - [`Error`]: the one typed error of every command and driver;
//! - [`core`]: the model (calls, agents, queues, events) re-exported from `hookflash-core`.
//!
//! # A guide
//!
//! ## 1. Connect
//!
//! Name each link and give its URL; [`CtiBuilder::build`] starts a task that owns the call
//! engine and one task per link (inside the current tokio runtime). Links reconnect by
//! themselves; their state is an event ([`core::event::EventKind::LinkStateChanged`]) and a
//! query ([`Cti::links`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), hookflash::Error> {
//! use hookflash::Cti;
//!
//! let cti = Cti::builder()
//!     .link("hq", "csta-xml+tcp://pbx.example.com:4721")?
//!     .link("branch", "ami+tcp://crm:secret@10.0.0.5:5038")?
//!     .build()?;
//! cti.wait_up(std::time::Duration::from_secs(10)).await?;
//! cti.monitor(&["2001", "2002"]).await; // per device: Ok, or why not
//! # Ok(()) }
//! ```
//!
//! The examples below run against a driver written inline (the same way a PBX vendor writes
//! a plugin, see [`spi`]): it reports the link up and one call ringing at `2001`.
//!
//! ```
//! # use hookflash::spi::{Capabilities, Driver, DriverCommand, CommandOutcome, EventSink};
//! # use hookflash::core::{command::Verbs, driver::{DriverEvent, CallEventKind}, model::LinkId};
//! # use hookflash::Error;
//! struct Demo(LinkId);
//!
//! #[async_trait::async_trait]
//! impl Driver for Demo {
//!     fn link(&self) -> &LinkId { &self.0 }
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities { verbs: Verbs::ANSWER | Verbs::CLEAR, flags: Capabilities::CALL_EVENTS }
//!     }
//!     async fn run(&self, sink: EventSink) -> Result<(), Error> {
//!         let link = self.0.clone();
//!         sink.send(DriverEvent::LinkUp { link: link.clone() }).await?;
//!         sink.send(DriverEvent::Monitor { link: link.clone(), device: "2001".into(), monitored: true }).await?;
//!         sink.send(DriverEvent::Call {
//!             link, call: "0A1".into(), cause: None,
//!             event: CallEventKind::Delivered {
//!                 alerting: "2001".into(), calling: Some("0301234567".into()),
//!                 called: Some("2001".into()), last_redirection: None,
//!             },
//!         }).await?;
//!         std::future::pending().await
//!     }
//!     async fn execute(&self, _cmd: DriverCommand) -> Result<CommandOutcome, Error> {
//!         Ok(CommandOutcome::default())
//!     }
//! }
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! use hookflash::{Cti, EventType, Filter};
//! use hookflash::core::command::Verbs;
//!
//! let cti = Cti::builder().driver(Box::new(Demo("pbx".into()))).build()?;
//!
//! // 2. Subscribe: everything at device 2001 (a subscription sees events from now on).
//! let mut events = cti.subscribe(Filter::all().device("2001"));
//! let ringing = loop {
//!     let event = events.recv().await.expect("the stream goes on");
//!     if EventType::of(&event.kind) == EventType::CallAlerting {
//!         break event.kind.call().unwrap();
//!     }
//! };
//!
//! // 3. Query: the picture at any time (and to resync after a lag notice).
//! let call = cti.call(ringing).unwrap();
//! assert_eq!(call.data.ani.unwrap().e164.as_deref(), Some("+49301234567"));
//! assert!(cti.permitted(ringing, "2001").contains(Verbs::ANSWER));
//!
//! // 4. Command: typed results, typed refusals before the PBX is asked.
//! cti.answer(ringing, "2001").await?;
//! assert!(matches!(cti.hold(ringing, "2001").await, Err(hookflash::Error::Unsupported)));
//! cti.shutdown().await;
//! # Ok::<(), hookflash::Error>(()) }).unwrap();
//! ```
//!
//! ## 2. Subscribe
//!
//! [`Cti::subscribe`] takes a [`Filter`] (devices, agents, queues, calls, links, event types)
//! and returns a [`Subscription`] with its own bounded buffer. The engine never waits for a
//! subscriber: one that falls behind gets [`RecvError::Lagged`] with the number of events it
//! missed, then the stream goes on — re-read the state with the queries. Every event has a
//! gap-free sequence number ([`core::event::Event::seq`]); a process that journals events
//! continues the numbering after a restart with [`CtiBuilder::resume_seq`], and
//! [`CtiBuilder::on_event`] sees every event in order before any subscriber.
//!
//! ## 3. Query
//!
//! [`Cti::calls`], [`Cti::call`], [`Cti::calls_at`], [`Cti::devices`], [`Cti::agents`],
//! [`Cti::queues`], [`Cti::links`] (state, [`spi::Capabilities`], a fatal error),
//! [`Cti::permitted`] (the verbs a UI should enable for a device on a call), and the call
//! records of finished calls ([`Cti::finished_calls`], or as a stream with
//! [`Cti::call_records`]).
//!
//! ## 4. Command
//!
//! Call control ([`Cti::make_call`], [`Cti::answer`], [`Cti::clear`], [`Cti::clear_call`],
//! [`Cti::hold`], [`Cti::retrieve`], [`Cti::consult`], [`Cti::transfer`],
//! [`Cti::conference`], [`Cti::single_step_transfer`], [`Cti::single_step_conference`],
//! [`Cti::deflect`], [`Cti::pickup`], [`Cti::alternate`], [`Cti::reconnect`],
//! [`Cti::send_digits`], [`Cti::attach_data`]) and agent control ([`Cti::agent_login`],
//! [`Cti::agent_logout`], [`Cti::agent_ready`], [`Cti::agent_not_ready`],
//! [`Cti::agent_after_call_work`]), or any [`core::command::Command`] with [`Cti::execute`].
//! Commands go to the link that owns the call (or the device, or the agent's device), with
//! Hookflash call ids turned into the link's own. They fail with [`Error::Unsupported`] when
//! the link cannot do it, [`Error::NotPermitted`] when the call's state does not allow it,
//! [`Error::LinkDown`], [`Error::Timeout`], or the PBX's own cause ([`Error::Pbx`]).
//!
//! ## 5. Screen pops
//!
//! Give the builder a [`CustomerDirectory`] ([`directory::CsvDirectory`],
//! [`directory::HttpDirectory`], [`directory::InMemoryDirectory`] or your own) and read
//! [`Cti::screen_pops`]: each [`ScreenPop`] carries the call, agent and device, ANI and DNIS,
//! the attached data and the [`Lookup`] result.
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! use hookflash::directory::InMemoryDirectory;
//! use hookflash::{Customer, Cti};
//!
//! let mut customers = InMemoryDirectory::new();
//! customers.insert("+49 30 1234567", Customer::named("Ada Lovelace"));
//! let cti = Cti::builder().directory(customers).build()?;
//! let pops = cti.screen_pops(); // `pops.recv().await` for each ringing call
//! # drop(pops);
//! # Ok::<(), hookflash::Error>(()) }).unwrap();
//! ```
//!
//! ## 6. Write a driver
//!
//! Implement [`spi::Driver`] in your own crate and pass it to [`CtiBuilder::driver`]. The
//! workspace's `examples/custom_driver` is a complete plugin for a small line-based protocol.

mod cti;
pub mod directory;
pub mod drivers;
mod error;
pub mod pop;
pub mod spi;
mod subscribe;

pub use cti::{
    Cti, CtiBuilder, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SUBSCRIBER_CAPACITY, DeviceInfo, EventHook,
    Executed, LinkInfo,
};
pub use error::{CsvProblem, DirectoryError, Error, PbxCause};
pub use hookflash_core as core;
pub use pop::{Customer, CustomerDirectory, Lookup, ScreenPop, ScreenPops};
pub use subscribe::{EventType, Filter, RecvError, Stream, Subscription};
