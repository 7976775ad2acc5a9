//! The simulated PBX: the project's PBX for demos, end-to-end, load and fault tests.
//!
//! Three layers, and a printer:
//!
//! - [`Engine`], the call engine. It is sans-IO: time comes in as milliseconds since the
//!   simulation start (`now`), all randomness comes from a seeded [`SplitMix64`], so the same
//!   configuration and seed give the same output on every machine and with every dependency
//!   version. Drive it with [`Engine::step`] (advance time, run due timers),
//!   [`Engine::poll_timeout`] (when the next timer is due), [`Engine::poll_output`]
//!   (CSTA-shaped events, SystemStatus polls, link faults), [`Engine::poll_truth`]
//!   (ground-truth JSON lines) and [`Engine::handle_command`]; [`Engine::group_stats`] gives
//!   per-ACD-group statistics.
//! - [`face::Face`], one client connection's server side, also sans-IO: CSTA BER (ACSE with
//!   authentication, ROSE, `len2`/`hipath` framing), CSTA XML (ECMA-354 sessions, 8-byte
//!   header) or the Asterisk Manager Interface (Asterisk 16: every device reported as
//!   `PJSIP/<number>` channels, queue and agent events, the actions a CTI client uses). It
//!   turns requests into [`Command`]s, [`Response`]s and [`SimError`]s into CSTA results and
//!   ECMA-269 errors (or AMI responses), and [`Output`]s into CSTA event reports that decode
//!   with `hookflash_csta` and map through `hookflash_csta::mapping` (or AMI events that map
//!   through `hookflash_ami::mapping`).
//! - [`printer::SmdrPrinter`], IP Office SMDR records of the finished calls over TCP or a
//!   pseudo-terminal serial line.
//! - [`net::SimServer`], the engine and a face per connection on real sockets (tokio): TCP,
//!   TLS (self-signed certificate made at start, or PEM files), a pseudo-terminal serial line;
//!   a control handle for faults and commands; a broadcast of the truth lines. The
//!   `hookflash sim` command runs it.
//!
//! # Devices
//!
//! ACD groups are `6000`, `6001`…; agent devices `300000`, `300001`… (agent ids `A300000`…,
//! logged on and ready at time 0, spread over the groups round-robin); plain extensions
//! `200000`, `200001`…; park positions `7000`, `7001`… ([`SimConfig::park_positions`]: a call
//! parked with [`Command::ParkCall`] waits there, `Queued` with cause `park`, until a
//! [`Command::DirectedPickup`] of its connection at the park position retrieves it); external
//! parties are `+4989…` numbers reached over trunks.
//!
//! # Ground truth
//!
//! With [`SimConfig::truth`], [`Engine::poll_truth`] yields one JSON object per line:
//!
//! - per finished call (consultation legs merged by a transfer or conference excepted):
//!   `{"kind":"call","calling":..,"called":..,"answered_by":..|null,"agent":..|null,
//!   "queue":..|null,"outcome":"answered|abandoned|busy|no-answer|failed","transfers":[..],
//!   "conferenced":bool,"offered_at":RFC3339,"answered_at":..|null,"ended_at":RFC3339}`.
//!   `agent` is the id of the agent that answered an ACD call, `queue` the last ACD group the
//!   call waited in, `transfers` the transferred-to devices in order.
//! - per agent state change: `{"kind":"agent","agent":"A300000","device":"300000",
//!   "group":"6000","state":"loggedOff|notReady|ready|busy|workingAfterCall",
//!   "reason":u16|null,"at":RFC3339}` (`reason` only for `notReady`).
//!
//! Timestamps are `start_epoch_secs` plus simulated time, formatted by [`format_rfc3339`].

mod config;
mod engine;
mod error;
pub mod face;
mod model;
pub mod net;
pub mod printer;
mod rng;
mod time;

pub use config::{OutcomeMix, SimConfig};
pub use engine::{Engine, GroupStats, Stats};
pub use error::SimError;
pub use model::{
    AgentState, CallId, CallSnapshot, Command, ConnectionId, DeviceSnapshot, EventCause, EventKind,
    LocalConnectionState, MonitorEvent, Output, Response, SystemStatus,
};
pub use rng::SplitMix64;
pub use time::{format_rfc3339, parse_rfc3339};
