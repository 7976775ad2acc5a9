use thiserror::Error;

/// Everything that can go wrong while splitting or parsing SMDR records.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SmdrError {
    /// The record is shorter than the format requires.
    #[error("record too short: {len} bytes, at least {min} needed")]
    TooShort {
        /// Length of the record.
        len: usize,
        /// Minimum length of the format.
        min: usize,
    },
    /// A record exceeded the maximum record length and was discarded.
    #[error("record longer than {max} bytes discarded")]
    Oversized {
        /// The configured maximum.
        max: usize,
    },
    /// A field has an invalid value.
    #[error("invalid {field}")]
    InvalidField {
        /// Name of the field.
        field: &'static str,
    },
    /// A CSV record has too few or too many fields.
    #[error("wrong field count: {count}")]
    FieldCount {
        /// Number of fields found.
        count: usize,
    },
    /// An unbalanced quote in a CSV record.
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// The record type is not one this parser knows.
    #[error("unknown record type")]
    UnknownType,
    /// The line is a page header, ruler, modem response or blank (not a call record).
    #[error("noise line")]
    Noise,
}
