//! A simulated PBX call engine: the project's PBX for demos, end-to-end, load and fault tests.
//!
//! The engine is sans-IO. Time comes in as milliseconds since the simulation start (`now`), all
//! randomness comes from a seeded [`SplitMix64`], so the same configuration and seed give the same
//! output on every machine and with every dependency version.
//!
//! Drive it with [`Engine::step`] (advance time, run due timers), [`Engine::poll_timeout`] (when
//! the next timer is due), [`Engine::poll_output`] (CSTA-shaped events, SystemStatus polls, link
//! faults), [`Engine::poll_truth`] (ground-truth JSON lines) and [`Engine::handle_command`].
//! No protocol encoding lives here: the CSTA BER and CSTA XML faces translate [`Output`] and
//! [`Command`]/[`Response`] to their wire formats.
//!
//! # Devices
//!
//! ACD groups are `6000`, `6001`…; agent devices `300000`, `300001`… (agent ids `A300000`…,
//! logged on and ready at time 0, spread over the groups round-robin); plain extensions
//! `200000`, `200001`…; external parties are `+4989…` numbers reached over trunks.
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
pub use time::format_rfc3339;
