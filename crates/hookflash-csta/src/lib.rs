//! CSTA Phase III for Hookflash (placeholder while the codec lands).

pub mod ber;
pub mod error;
pub mod framing;
pub mod generated;
pub mod jer;
pub mod pdu;

pub use error::{Error, JsonProblem};
