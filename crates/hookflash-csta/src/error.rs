//! The error type of this crate.

use crate::ber::Tag;

/// What was wrong with a JSON document that was to be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonProblem {
    /// The value has the wrong JSON type.
    WrongType,
    /// A mandatory member is missing.
    Missing(&'static str),
    /// A CHOICE object has no key or several keys.
    NotOneAlternative,
    /// A CHOICE alternative this type does not have.
    UnknownAlternative,
    /// An ENUMERATED identifier this type does not have.
    UnknownIdentifier,
    /// A hex string that is not hex (or a raw element that is not one BER element).
    BadHex,
    /// A number or length out of range.
    OutOfRange,
    /// The JSON text does not parse.
    Syntax,
    /// An operation or error name or code this crate does not know.
    UnknownOperation,
}

impl std::fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongType => f.write_str("wrong JSON type"),
            Self::Missing(k) => write!(f, "missing member `{k}`"),
            Self::NotOneAlternative => f.write_str("a CHOICE needs exactly one key"),
            Self::UnknownAlternative => f.write_str("unknown CHOICE alternative"),
            Self::UnknownIdentifier => f.write_str("unknown ENUMERATED identifier"),
            Self::BadHex => f.write_str("malformed hex"),
            Self::OutOfRange => f.write_str("value out of range"),
            Self::Syntax => f.write_str("malformed JSON"),
            Self::UnknownOperation => f.write_str("unknown operation or error"),
        }
    }
}

/// Everything that can go wrong while decoding or encoding CSTA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends inside an element.
    #[error("truncated element at offset {offset}")]
    Truncated {
        /// Where the element starts (or where more input was needed).
        offset: usize,
    },
    /// A length octet sequence that BER does not allow (or that overflows).
    #[error("invalid length at offset {offset}")]
    InvalidLength {
        /// Where the element starts.
        offset: usize,
    },
    /// A malformed identifier octet sequence.
    #[error("invalid tag at offset {offset}")]
    InvalidTag {
        /// Where the element starts.
        offset: usize,
    },
    /// A PDU or frame larger than the configured maximum.
    #[error("{len} bytes exceed the maximum of {max}")]
    TooLong {
        /// The announced or seen length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Elements nested deeper than the decoder follows.
    #[error("nesting deeper than {max} levels at offset {offset}")]
    TooDeep {
        /// Where the element starts.
        offset: usize,
        /// The limit.
        max: u32,
    },
    /// An element whose tag does not belong where it stands.
    #[error("unexpected tag {found} at offset {offset} in {context}")]
    UnexpectedTag {
        /// Where the element starts.
        offset: usize,
        /// The tag found.
        found: Tag,
        /// The type or place that was being decoded.
        context: &'static str,
    },
    /// A mandatory member is absent.
    #[error("missing `{field}` in {type_name} at offset {offset}")]
    MissingField {
        /// Where the enclosing element starts.
        offset: usize,
        /// The enclosing type.
        type_name: &'static str,
        /// The member.
        field: &'static str,
    },
    /// Contents that are not a valid value of their type.
    #[error("invalid {what} at offset {offset}")]
    InvalidValue {
        /// Where the element starts.
        offset: usize,
        /// What kind of value.
        what: &'static str,
    },
    /// Bytes after the end of the PDU.
    #[error("{count} trailing bytes after the PDU at offset {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// The first octet is neither a ROSE PDU nor an ACSE APDU.
    #[error("octet {octet:#04x} at offset {offset} starts neither a ROSE PDU nor an ACSE APDU")]
    NotAPdu {
        /// Where the PDU starts.
        offset: usize,
        /// The first octet.
        octet: u8,
    },
    /// A JSON document that does not describe a value of the expected type.
    #[error("JSON {at}: {problem}")]
    Json {
        /// The type being read.
        at: &'static str,
        /// What is wrong.
        problem: JsonProblem,
    },
}
