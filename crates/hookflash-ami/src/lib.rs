//! Asterisk Manager Interface (AMI) for Hookflash, sans-IO.
//!
//! * [`codec`]: a streaming decoder (feed bytes at any boundary, pull [`Message`]s) and the
//!   action encoder.
//! * [`session`]: login (plain and MD5 challenge), ActionID correlation, EventList collection,
//!   timeouts, keep-alive and event filtering — driven by bytes and a `now` argument.
//! * [`event`]: typed view of AMI events (Asterisk 11 and 12+), channel states.
//! * [`action`]: the actions a CTI bridge sends.
//! * [`agent`]: queue-member / agent state tracking (logged in, paused with reason, ready).
//! * [`mapping`]: AMI events → `hookflash_core` driver events (channels as legs, `Linkedid` as
//!   the call, a call ending with its last channel, queue joins, failed dials, transfers, queue
//!   members as agents), and the resync of its tables from `CoreShowChannels` and
//!   `QueueStatus` lists after a reconnect.
//! * [`devstate`]: device states from `DeviceStateList` / `ExtensionStateList` entries.
//!
//! Nothing here reads a clock or touches a socket.

pub mod action;
pub mod agent;
pub mod codec;
pub mod devstate;
mod error;
pub mod event;
pub mod mapping;
pub mod session;

pub use action::Action;
pub use codec::{Decoder, Limits, Message, MessageKind};
pub use error::Error;
pub use event::{ChannelState, Event, EventKind};
pub use session::{Session, SessionConfig, SessionEvent};
