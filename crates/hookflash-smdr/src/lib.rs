//! SMDR/CDR (station message detail record) parsing for Hookflash.
//!
//! Post-call record feeds printed by PBXs on a serial port or a TCP socket, turned into one
//! common [`CallRecord`]. The crate is sans-IO: it never reads a socket or a clock.
//!
//! * [`Splitter`] cuts a byte stream into records (CR/LF lines or NEC `STX`…`ETX` frames) with a
//!   maximum record length, resynchronisation after garbage and noise skipping.
//! * One parser per format: [`ipoffice::parse`], [`panasonic::parse`], [`nec::parse`],
//!   [`mitel::parse`], selected by [`Format`].
//! * [`Decoder`] combines both and counts what it skipped.
//! * [`Stitcher`] joins the segments of an IP Office call (Call ID + Continuation).
//! * [`Deduplicator`] drops records replayed after a link outage, within a bounded window.
//! * [`mapping`] turns records into the core's `DriverEvent::CallRecord` for a records-only link.
//!
//! ```
//! use hookflash_smdr::{Decoder, Format, ParseOptions};
//! let mut dec = Decoder::new(Format::IpOffice, ParseOptions::default());
//! dec.push(b"2026/01/05 09:30:00,00:01:05,4,201,O,5551234,5551234,,0,1000001,0,E201,Ann,T9001,LINE 1.1,0,0\r\n");
//! let rec = dec.next_record().unwrap().unwrap();
//! assert_eq!(rec.connected_secs, 65);
//! ```

mod decoder;
mod dedup;
mod error;
pub mod ipoffice;
pub mod mapping;
pub mod mitel;
pub mod nec;
pub mod panasonic;
mod record;
mod split;
mod stitch;
mod text;

pub use decoder::{Decoder, DecoderStats};
pub use dedup::{DedupKey, Deduplicator};
pub use error::SmdrError;
pub use record::{CallRecord, DateTime, Direction, Format, Outcome, ParseOptions};
pub use split::{DEFAULT_MAX_RECORD, Framing, SplitEvent, Splitter};
pub use stitch::{StitchedCall, Stitcher};
