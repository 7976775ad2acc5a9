//! Hookflash: computer-telephony integration for CRM applications.
//!
//! This crate is what CRM developers embed and PBX vendors extend:
//! - [`Cti`]: the handle — links in, one normalized picture of calls, agents and queues out,
//!   filtered event [`Subscription`]s, queries, call and agent control;
//! - [`pop`]: screen pops with a [`CustomerDirectory`] lookup; [`directory`]: in-memory, CSV
//!   and HTTP directories;
//! - [`spi`]: the driver trait (plugin SPI) that turns one PBX link into normalized driver
//!   events and executes commands;
//! - [`Error`]: the one typed error every command and driver returns.

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
