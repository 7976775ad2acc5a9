//! The link layer of Hookflash: everything that touches a socket or a serial port.
//!
//! - [`url`]: link URLs (`csta-ber+tcp://pbx:7001?framing=len2`, `ami+tls://user:secret@pbx`,
//!   `smdr+serial:///dev/ttyUSB0?baud=9600`), parsed by hand, with redacting `Display`.
//! - [`codec`]: `tokio_util::codec` decoders/encoders around the pure CSTA framings, a
//!   record (line) codec and a blank-line block codec; garbage becomes [`codec::Item::Malformed`]
//!   items, never a fatal error.
//! - [`transport`]: TCP, TLS (rustls with the `ring` provider, verification on) and serial
//!   links behind one boxed [`transport::Transport`].
//! - [`backoff`]: exponential backoff with full jitter and an injectable seed.
//! - [`session`]: the [`session::Session`] trait for sans-IO protocol sessions and the runner
//!   that drives one over a transport (read-idle timeout, keep-alive hook, reconnect).
//! - [`requests`]: in-flight requests matched by invoke id, failed at once on disconnect.

pub mod backoff;
pub mod codec;
mod error;
pub mod requests;
pub mod session;
pub mod transport;
pub mod url;

pub use error::{CertFileError, LinkError, MalformedKind};
