//! The crate's one error type.

use hookflash_core::model::{CallId, DeviceId};

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
    /// The [`crate::Cti`] has shut down.
    #[error("the Cti handle is shut down")]
    Closed,
}
