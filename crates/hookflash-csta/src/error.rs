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

/// What was wrong with an ECMA-323 XML message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlProblem {
    /// Not well-formed XML.
    Syntax,
    /// The document ends inside an element.
    Truncated,
    /// The text is not UTF-8.
    NotUtf8,
    /// A document type declaration: DTDs are never read.
    Dtd,
    /// An entity other than the five predefined ones or a character reference.
    Entity,
    /// Elements nested deeper than the reader follows.
    TooDeep,
    /// A root element that is no CSTA message this crate knows.
    UnknownMessage,
    /// An element where none of a CHOICE's alternatives was found.
    UnknownElement,
    /// A mandatory element is missing.
    MissingElement(&'static str),
    /// A value that does not parse as its type.
    BadValue,
    /// The message has no ECMA-323 form (ACSE, ROSE reject, a vendor operation).
    NotRepresentable,
    /// An inconsistency in the generated type tables.
    Schema,
}

impl std::fmt::Display for XmlProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Syntax => f.write_str("malformed XML"),
            Self::Truncated => f.write_str("truncated XML"),
            Self::NotUtf8 => f.write_str("not UTF-8"),
            Self::Dtd => f.write_str("document type declarations are not accepted"),
            Self::Entity => f.write_str("unknown entity reference"),
            Self::TooDeep => f.write_str("elements nested too deep"),
            Self::UnknownMessage => f.write_str("not a CSTA message"),
            Self::UnknownElement => f.write_str("no known alternative"),
            Self::MissingElement(e) => write!(f, "missing <{e}>"),
            Self::BadValue => f.write_str("bad value"),
            Self::NotRepresentable => f.write_str("no ECMA-323 form for this message"),
            Self::Schema => f.write_str("type table inconsistency"),
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
    /// An ECMA-323 XML message that cannot be read or written.
    #[error("XML at offset {offset}: {problem}")]
    Xml {
        /// Where in the XML text.
        offset: usize,
        /// What is wrong.
        problem: XmlProblem,
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
