//! CSTA Phase III (ECMA-269) for Hookflash: typed services and events, and their BER encoding
//! (ECMA-285, with X.880 ROSE and X.227 ACSE) — the protocol that Siemens/Unify HiPath and
//! OpenScape, Panasonic KX-NS, Alcatel and many other PBXs speak over TCP and serial links.
//!
//! This crate is sans-IO: it turns bytes into typed values and back, and never touches a socket,
//! a serial port or a clock. The link layer (`hookflash-link`) moves the bytes.
//!
//! - [`pdu`]: whole PDUs. [`pdu::decode`] takes one unframed PDU, [`pdu::encode`] writes one.
//!   [`pdu::Pdu::to_jer`] / [`pdu::Pdu::from_jer`] give the reference JSON shape (ROSE/ACSE
//!   envelope, X.697 JER values).
//! - [`message`]: the typed JSON document of a message, independent of its encoding.
//! - [`framing`]: the link framings (none, 2-byte length, HiPath `0x26` header, the ECMA-323
//!   8-byte header) as plain functions over bytes.
//! - [`generated`]: every ECMA-285 type used by the services, events, ROSE and ACSE, generated
//!   from the published ASN.1 modules (`codegen/gen_types.py`), each with a BER and a JER codec.
//! - [`ber`]: the BER runtime under the generated types.
//!
//! Decoding never panics on any input, rejects PDUs larger than a configurable maximum
//! ([`pdu::DEFAULT_MAX_PDU`] = 64 KiB by default), never follows nesting deeper than
//! [`ber::MAX_DEPTH`], and keeps elements it does not know (vendor extensions, unknown CHOICE
//! alternatives, unknown ENUMERATED values) instead of dropping them.
//!
//! ```
//! use bytes::Bytes;
//! use hookflash_csta::pdu;
//!
//! // A HoldCall request (ROSE invoke 790, opcode 9) holding call 002A at device 1001.
//! let wire = Bytes::from_static(&[
//!     0xa1, 0x1b, 0x02, 0x02, 0x03, 0x16, 0x02, 0x01, 0x09, 0x30, 0x12, 0x6b, 0x10, 0x30, 0x0e,
//!     0x80, 0x02, 0x00, 0x2a, 0xa1, 0x08, 0x30, 0x06, 0x80, 0x04, 0x31, 0x30, 0x30, 0x31,
//! ]);
//! let msg = pdu::decode(&wire)?;
//! let doc = msg.to_json();
//! assert_eq!(doc["kind"], "request");
//! assert_eq!(doc["service"], "holdCall");
//! assert_eq!(doc["argument"]["callToBeHeld"]["both"]["callID"], "002A");
//! assert_eq!(pdu::encode_to_vec(&msg), wire);
//! # Ok::<(), hookflash_csta::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod ber;
pub mod client;
pub mod error;
pub mod framing;
pub mod generated;
pub mod jer;
pub mod mapping;
pub mod message;
pub mod pdu;
pub mod xml;

pub use error::{Error, JsonProblem, XmlProblem};

#[cfg(test)]
mod proptests;
