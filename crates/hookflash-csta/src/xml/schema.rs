//! The shape of the generated types, as the XML codec walks them.

/// One member of a SEQUENCE or alternative of a CHOICE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    /// The ASN.1 identifier (and the XML element name).
    pub(crate) name: &'static str,
    /// The member's type, an index into `TYPES`.
    pub(crate) ty: u16,
    /// OPTIONAL or DEFAULT.
    #[allow(dead_code)]
    pub(crate) optional: bool,
}

/// What a type is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Seq(&'static [Member]),
    Choice(&'static [Member]),
    /// Element type, and the item element name used when writing.
    SeqOf(u16, &'static str),
    Enum,
    Octets,
    Text,
    Int,
    Bool,
    Null,
    Bits,
    Oid,
    Any,
}

/// One type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeInfo {
    /// The ASN.1 type name (or the generated name of an anonymous type).
    pub(crate) name: &'static str,
    /// Its shape.
    pub(crate) kind: Kind,
}
