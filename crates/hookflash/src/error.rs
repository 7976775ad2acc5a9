//! The crate's one error type.

use hookflash_core::model::{CallId, DeviceId, LinkId};

/// A cause the PBX itself gave for refusing a request (for CSTA, the ECMA-269 error value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbxCause {
    /// The protocol's numeric code, when it has one.
    pub code: Option<i64>,
    /// The protocol's name for the cause (`invalidDeviceID`, `Permission denied`, ...), as the
    /// PBX sent it.
    pub name: String,
}

impl std::fmt::Display for PbxCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} ({code})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Everything that can go wrong in the `hookflash` API and its drivers.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The link's driver cannot do this (see [`crate::spi::Capabilities`]).
    #[error("the link does not support this")]
    Unsupported,
    /// The call or device is not in a state that permits this.
    #[error("not permitted in the current state")]
    NotPermitted,
    /// The device is unknown to the PBX or to the link.
    #[error("invalid device {0}")]
    InvalidDevice(DeviceId),
    /// The call is unknown (or has ended).
    #[error("unknown call {0:?}")]
    InvalidCall(CallId),
    /// The PBX did not answer in time.
    #[error("the request timed out")]
    Timeout,
    /// The link is down (or went down while the request was in flight).
    #[error("the link is down")]
    LinkDown,
    /// The PBX refused, with its own cause.
    #[error("the PBX refused: {0}")]
    Pbx(PbxCause),
    /// The PBX's monitor limit is reached.
    #[error("the PBX's monitor limit is reached")]
    MonitorLimit,
    /// No link serves this device (or the named link does not exist).
    #[error("no link serves {0}")]
    NoLink(String),
    /// A link URL or driver setting is wrong.
    #[error("bad link configuration: {0}")]
    Config(#[from] hookflash_link::url::UrlError),
    /// The link layer failed for good (a non-recoverable error).
    #[error("link failure: {0}")]
    Link(hookflash_link::LinkError),
    /// The PBX refused the link's login (ACSE association or application session), with the
    /// reason it gave: the credentials or the configuration are wrong, so the link stops.
    #[error("the PBX refused the login: {reason}")]
    LoginRefused {
        /// The PBX's reason, as it sent it.
        reason: String,
    },
    /// The [`crate::Cti`] has shut down.
    #[error("the Cti handle is shut down")]
    Closed,
    /// A [`crate::Cti`] was built outside a tokio runtime.
    #[error("no tokio runtime to run the links on")]
    NoRuntime,
    /// Two links were given the same name.
    #[error("two links are named {0}")]
    DuplicateLink(LinkId),
    /// A customer directory failed.
    #[error("customer directory: {0}")]
    Directory(#[from] DirectoryError),
}

/// Why a customer directory lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// Reading the directory (a file, a socket) failed.
    #[error("I/O error: {0:?}")]
    Io(std::io::ErrorKind),
    /// A CSV directory file is malformed.
    #[error("line {line}: {problem}")]
    Csv {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        problem: CsvProblem,
    },
    /// The directory's URL is not a usable `http://` URL template.
    #[error("bad directory URL")]
    BadUrl,
    /// The HTTP server answered with an error status.
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// The HTTP response is malformed (status line, headers, chunking) or not JSON.
    #[error("malformed response")]
    BadResponse,
    /// The response or file is larger than the limit.
    #[error("larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// The directory did not answer in time.
    #[error("the lookup timed out")]
    Timeout,
}

/// What is wrong with a CSV directory line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvProblem {
    /// The header has no phone column.
    #[error("no phone column in the header")]
    NoPhoneColumn,
    /// A quoted field is not closed.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// The line has more fields than the header.
    #[error("more fields than the header")]
    TooManyFields,
}
