//! The crate's error type.

/// Why a command was refused. The variants mirror CSTA universal errors so a face can map them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The device is not known to this PBX (CSTA `invalidDeviceID`).
    #[error("invalid device {0}")]
    InvalidDevice(String),
    /// The call or connection does not exist (CSTA `invalidConnectionID`).
    #[error("invalid connection")]
    InvalidConnection,
    /// The request is valid but not in the current state (CSTA `invalidObjectState`).
    #[error("not permitted in this state")]
    NotPermittedInState,
    /// The configured monitor limit is reached (CSTA `monitorLimitExceeded`… resource busy).
    #[error("monitor limit exceeded")]
    MonitorLimitExceeded,
    /// The monitor cross-reference id is unknown (CSTA `invalidMonitorCrossRefID`).
    #[error("invalid monitor cross reference id {0}")]
    InvalidMonitor(u32),
    /// The link is down (fault mode): nothing is answered until it is restored.
    #[error("link down")]
    LinkDown,
}
