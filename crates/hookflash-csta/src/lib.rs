//! CSTA Phase III for Hookflash (placeholder while the codec lands).

pub mod framing;
