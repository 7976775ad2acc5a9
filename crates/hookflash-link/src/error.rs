//! The one error type of the link layer.

use std::{io, sync::Arc, time::Duration};

use hookflash_csta::framing::FrameError;

use crate::url::UrlError;

/// Why bytes were skipped by a codec (reported in [`crate::codec::Item::Malformed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedKind {
    /// A frame header that cannot be right.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A record or block longer than the maximum; it was discarded up to its delimiter.
    #[error("record longer than {max} bytes")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
}

/// What can go wrong on a link.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// An I/O error from the socket or the port.
    #[error("i/o error: {0}")]
    Io(Arc<io::Error>),
    /// Connecting took longer than allowed.
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// TLS failed (configuration or handshake).
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A certificate or key file that could not be used.
    #[error("certificate or key file {path}: {kind}")]
    CertFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        kind: CertFileError,
    },
    /// The serial port could not be opened or configured.
    #[error("serial port: {0}")]
    Serial(Arc<tokio_serial::Error>),
    /// A link URL that does not parse.
    #[error("link URL: {0}")]
    Url(#[from] UrlError),
    /// The peer closed the connection, or the link went down (in-flight requests fail with it).
    #[error("link disconnected")]
    Disconnected,
    /// Nothing was read for longer than the read-idle timeout.
    #[error("nothing received for {0:?}")]
    IdleTimeout(Duration),
    /// A request got no answer in time.
    #[error("request timed out")]
    RequestTimeout,
    /// Too many requests in flight.
    #[error("too many requests in flight (limit {0})")]
    TooManyInFlight(usize),
    /// A request id that is already in flight.
    #[error("request id {0} already in flight")]
    DuplicateId(u32),
    /// A frame that cannot be written.
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    /// The runner or the session was stopped locally.
    #[error("link closed")]
    Closed,
}

/// What is wrong with a certificate or key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertFileError {
    /// It could not be read.
    #[error("cannot be read")]
    Unreadable,
    /// It holds no PEM certificate (or no private key).
    #[error("holds nothing usable")]
    Empty,
    /// A certificate was rejected by the root store.
    #[error("holds a certificate that is not a valid trust anchor")]
    BadCertificate,
}

impl From<io::Error> for LinkError {
    fn from(e: io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}

impl From<tokio_serial::Error> for LinkError {
    fn from(e: tokio_serial::Error) -> Self {
        Self::Serial(Arc::new(e))
    }
}

impl LinkError {
    /// Whether trying again (reconnecting) can help; configuration errors cannot.
    pub fn is_recoverable(&self) -> bool {
        match self {
            Self::Io(_)
            | Self::ConnectTimeout(_)
            | Self::Disconnected
            | Self::IdleTimeout(_)
            | Self::RequestTimeout
            | Self::TooManyInFlight(_)
            | Self::Serial(_) => true,
            // Handshake failures with a bad certificate will not heal by retrying.
            Self::Tls(_)
            | Self::CertFile { .. }
            | Self::Url(_)
            | Self::DuplicateId(_)
            | Self::Frame(_)
            | Self::Closed => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_clone_and_classified() {
        let e = LinkError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        let c = e.clone();
        assert!(c.is_recoverable());
        assert!(LinkError::Disconnected.is_recoverable());
        assert!(!LinkError::Url(UrlError::MissingScheme).is_recoverable());
        assert!(!LinkError::Closed.is_recoverable());
    }
}
