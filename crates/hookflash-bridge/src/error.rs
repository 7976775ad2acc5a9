//! The bridge's one error type.

use std::path::PathBuf;

/// A configuration error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line (from 1; 0 when the file could not be read).
    pub line: usize,
    /// The column (from 1).
    pub column: usize,
    /// The key, as a dotted path where known (`tokens.scope`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            if self.key.is_empty() { "-" } else { &self.key },
            self.message
        )
    }
}

/// Everything that can go wrong in the bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The configuration is wrong.
    #[error("configuration error: {0}")]
    Config(Box<ConfigError>),
    /// The journal failed.
    #[error("journal: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Listening or another IO operation failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key cannot be used.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// The certificate file holds no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// The key file holds no private key.
    #[error("no private key in {0}")]
    NoPrivateKey(PathBuf),
    /// The API (links, commands) failed.
    #[error("cti: {0}")]
    Cti(#[from] hookflash::Error),
    /// A background task stopped.
    #[error("the bridge has stopped")]
    Stopped,
}
