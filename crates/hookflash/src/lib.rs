//! Hookflash: computer-telephony integration for CRM applications.
//!
//! This crate is what CRM developers embed and PBX vendors extend:
//! - [`spi`]: the driver trait (plugin SPI) that turns one PBX link into normalized driver
//!   events and executes commands;
//! - [`Error`]: the one typed error every command and driver returns.

pub mod drivers;
mod error;
pub mod spi;

pub use error::{Error, PbxCause};
pub use hookflash_core as core;
