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

mod config;
mod engine;
mod error;
mod model;
mod rng;
mod time;

pub use config::{OutcomeMix, SimConfig};
pub use engine::{Engine, Stats};
pub use error::SimError;
pub use model::{
    AgentState, CallId, CallSnapshot, Command, ConnectionId, DeviceSnapshot, EventCause, EventKind,
    LocalConnectionState, MonitorEvent, Output, Response, SystemStatus,
};
pub use rng::SplitMix64;
pub use time::format_rfc3339;
