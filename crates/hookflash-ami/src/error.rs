use thiserror::Error as ThisError;

/// Every failure this crate reports.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A line exceeded the configured maximum line length; bytes skipped to the next blank line.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A message exceeded the configured maximum size; bytes skipped to the next blank line.
    #[error("message larger than {limit} bytes")]
    MessageTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// A message carried too many header lines.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// The server refused the login.
    #[error("login failed: {message}")]
    LoginFailed {
        /// The server's `Message:` header, if any.
        message: String,
    },
    /// The server answered an action with `Response: Error`.
    #[error("action failed: {message}")]
    ActionFailed {
        /// The server's `Message:` header, if any.
        message: String,
    },
    /// No response arrived before the request deadline.
    #[error("action timed out")]
    Timeout,
    /// The connection went away while the action was pending.
    #[error("disconnected")]
    Disconnected,
    /// Too many actions pending at once.
    #[error("too many pending actions")]
    TooManyPending,
    /// An EventList collected more events than allowed.
    #[error("event list longer than {limit} events")]
    EventListTooLong {
        /// The limit in force.
        limit: usize,
    },
}
