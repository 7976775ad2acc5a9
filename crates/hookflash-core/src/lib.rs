//! The Hookflash call model: a sans-IO state engine that takes protocol-neutral driver events
//! from any PBX link and keeps the live picture CRMs consume — calls with stable ids, their
//! parties and data, agents, queues — and emits it as a stream of normalized events.
//!
//! This crate does no IO and reads no clock: every input carries its time. Protocol crates map
//! their messages to [`driver::DriverEvent`]s; the engine never sees a protocol.
//!
//! - [`model`]: calls, legs, call data, agents (status × activity, availability by rule table),
//!   queues.
//! - [`driver`]: what drivers feed in. [`event`]: what comes out, sequence-numbered.
//! - [`engine::Engine`]: order-independent (state is built from whichever event comes first),
//!   with tombstones so late events never resurrect an ended call, idempotent re-application,
//!   and snapshot reconciliation after a link outage.
//! - [`command`]: commands as data and the verbs each call state permits.
//! - [`dialplan`]: E.164 normalization and call direction.
//!
//! ```
//! use hookflash_core::driver::{CallEventKind, DriverEvent};
//! use hookflash_core::engine::Engine;
//! use hookflash_core::event::EventKind;
//! use hookflash_core::model::Timestamp;
//!
//! let mut e = Engine::default();
//! e.handle(Timestamp(1_000), DriverEvent::Monitor { link: "pbx".into(), device: "1001".into(), monitored: true });
//! e.handle(Timestamp(1_000), DriverEvent::Call {
//!     link: "pbx".into(),
//!     call: "002A".into(),
//!     event: CallEventKind::Delivered {
//!         alerting: "1001".into(),
//!         calling: Some("+4930123456".into()),
//!         called: Some("1001".into()),
//!         last_redirection: None,
//!     },
//!     cause: None,
//! });
//! let kinds: Vec<_> = e.drain_events().map(|ev| ev.kind).collect();
//! assert!(matches!(kinds[0], EventKind::CallOffered { .. }));
//! assert!(matches!(kinds[1], EventKind::CallAlerting { .. }));
//! assert!(matches!(kinds[2], EventKind::ScreenPop { .. }));
//! ```

#![forbid(unsafe_code)]

pub mod calendar;
pub mod command;
pub mod dialplan;
pub mod driver;
pub mod engine;
pub mod event;
pub mod model;

/// Errors of the core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Attached data over the per-call limit.
    #[error("attached data of {size} bytes exceeds the limit of {max}")]
    AttachedDataTooLarge {
        /// The size it would have.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A call id that names no call.
    #[error("no call {0}")]
    NoSuchCall(model::CallId),
}
