//! CSTA as XML (ECMA-323): the same typed model as BER, as a second encoding.
//!
//! [`decode`] reads one ECMA-323 message (a request, a `…Response`, an `…Event` or a
//! `CSTAErrorCode`) into a [`Pdu`]; [`encode`] writes a [`Pdu`] as ECMA-323 in the namespace of
//! the peer's edition. The mapping is driven by the shape of the generated ECMA-285 types, with
//! the places where ECMA-323 departs from the ASN.1 structure handled explicitly:
//!
//! - a `DeviceID` is a text element; its form is the `typeOfNumber` attribute (absent for a
//!   dialling number, `deviceNumber`, `implicitPublic`, `explicitPublic:international`, …);
//! - a `ConnectionID` is `<callID>` and/or `<deviceID>` (`typeOfNumber="dynamic"` for a dynamic id);
//! - an event is its own root element (`DeliveredEvent`, …) with `<monitorCrossRefID>`;
//!   `TransferedEvent` (the ECMA-323 spelling) and `TransferredEvent` are both accepted;
//! - OCTET STRING values are hex (`hexBinary`), except that text which is not hex (Avaya's call
//!   ids) is kept as it stands and written back unchanged;
//! - vendor private data (`<extensions><privateData><private>…`) is kept as raw XML.
//!
//! Elements of every edition are accepted: ed2 (`ecma.ch`), ed3 to ed6, Avaya's `ed3/privN`,
//! prefixed or not. No DTD is read and no entity other than the predefined ones is expanded.

pub(crate) mod schema;
pub mod session;
pub(crate) mod tree;
pub(crate) mod typed;

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::ber::{hex_upper, parse_hex};
use crate::error::{Error, XmlProblem};
use crate::generated::schema::{ERRORS, OPERATIONS, TYPES};
use crate::pdu::Pdu;
use schema::{Kind, Member};
use tree::{Node, Tree};

/// The ECMA-323 namespace of an edition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edition(pub std::borrow::Cow<'static, str>);

impl Edition {
    /// ECMA-323 2nd edition.
    pub const ED2: Self = Self::of("http://www.ecma.ch/standards/ecma-323/csta/ed2");
    /// ECMA-323 3rd edition (Avaya AES DMCC, Eltex, Microsoft RCC).
    pub const ED3: Self = Self::of("http://www.ecma-international.org/standards/ecma-323/csta/ed3");
    /// ECMA-323 4th edition (Unify OpenScape Voice).
    pub const ED4: Self = Self::of("http://www.ecma-international.org/standards/ecma-323/csta/ed4");
    /// ECMA-323 5th edition (Mitel MiVoice Office 400).
    pub const ED5: Self = Self::of("http://www.ecma-international.org/standards/ecma-323/csta/ed5");
    /// ECMA-323 6th edition.
    pub const ED6: Self = Self::of("http://www.ecma-international.org/standards/ecma-323/csta/ed6");

    const fn of(ns: &'static str) -> Self {
        Self(std::borrow::Cow::Borrowed(ns))
    }

    /// The edition for a namespace or an ECMA-354 protocol version URI (Avaya `ed3/privN`
    /// versions use the ed3 namespace).
    pub fn from_uri(uri: &str) -> Self {
        let base = uri.trim_end_matches('/');
        for e in [Self::ED2, Self::ED3, Self::ED4, Self::ED5, Self::ED6] {
            if base == e.0 || base.starts_with(&format!("{}/", e.0)) {
                return e;
            }
        }
        Self(std::borrow::Cow::Owned(base.to_owned()))
    }

    /// The namespace URI.
    pub fn namespace(&self) -> &str {
        &self.0
    }
}

impl Default for Edition {
    fn default() -> Self {
        Self::ED3
    }
}

/// A decoded ECMA-323 message.
#[derive(Debug, Clone, PartialEq)]
pub struct XmlMessage {
    /// The typed message.
    pub pdu: Pdu,
    /// The namespace of the root element, when it had one.
    pub namespace: Option<String>,
}

fn xerr(problem: XmlProblem) -> Error {
    Error::Xml { offset: 0, problem }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The XML root element of an operation's request.
fn request_element(op: &str) -> String {
    match op {
        "singleStepTrans" => "SingleStepTransferCall".into(),
        "singleStepConf" => "SingleStepConferenceCall".into(),
        "requestSysStat" => "RequestSystemStatus".into(),
        other => upper_first(other),
    }
}

fn operation_for_element(el: &str) -> Option<&'static (&'static str, Option<u16>, Option<u16>)> {
    OPERATIONS
        .iter()
        .find(|(op, _, _)| request_element(op) == el)
}

/// Every event: (category, event, event type).
fn events() -> impl Iterator<Item = (&'static str, &'static str, u16)> {
    let esi = TYPES.iter().find(|t| t.name == "EventSpecificInfo");
    let cats: &[Member] = match esi.map(|t| t.kind) {
        Some(Kind::Choice(m)) => m,
        _ => &[],
    };
    cats.iter().flat_map(|c| {
        let evs: &[Member] = match TYPES.get(usize::from(c.ty)).map(|t| t.kind) {
            Some(Kind::Choice(m)) => m,
            _ => &[],
        };
        evs.iter().map(move |e| (c.name, e.name, e.ty))
    })
}

fn event_element(event: &str) -> String {
    match event {
        "transferred" => "TransferedEvent".into(),
        other if other.ends_with("Event") => upper_first(other),
        other => format!("{}Event", upper_first(other)),
    }
}

fn event_for_element(el: &str) -> Option<(&'static str, &'static str, u16)> {
    let base = el.strip_suffix("Event")?;
    let name = if base == "Transfered" {
        "transferred".to_owned()
    } else {
        lower_first(base)
    };
    let full = lower_first(el);
    events().find(|(_, e, _)| *e == name || *e == full)
}

/// XML element names that differ from the ASN.1 member names.
fn xml_name(member: &str) -> &str {
    match member {
        "crossRefIdentifier" => "monitorCrossRefID",
        // ECMA-323 spells it so (ECMA-285 does not).
        "systemResourceAvailability" => "systemResourceAvailibility",
        other => other,
    }
}

fn member_for<'m>(members: &'m [Member], el: &str) -> Option<&'m Member> {
    members
        .iter()
        .find(|m| xml_name(m.name) == el || m.name == el)
}

// ------------------------------------------------------------------------------- XML -> JER

struct Reader<'t> {
    tree: &'t Tree<'t>,
    input: &'t [u8],
}

impl Reader<'_> {
    fn value(&self, n: &Node<'_>, ty: u16) -> Result<Value, Error> {
        let info = TYPES
            .get(usize::from(ty))
            .ok_or_else(|| xerr(XmlProblem::Schema))?;
        match info.name {
            "DeviceID" => return self.device_id(n),
            "ConnectionID" => return self.connection_id(n),
            "CSTAPrivateData" => {
                return Ok(match self.tree.children(n).next() {
                    Some(c) => self.private_data(c),
                    None => {
                        crate::jer::choice("string", Value::String(octets_from_text(n.text.trim())))
                    }
                });
            }
            _ => {}
        }
        let text = || n.text.trim();
        Ok(match info.kind {
            Kind::Seq(members) => {
                let mut o = Map::new();
                for c in self.tree.children(n) {
                    // Unknown elements (vendor additions outside privateData) are skipped.
                    if let Some(m) = member_for(members, c.name) {
                        o.insert(m.name.to_owned(), self.value(c, m.ty)?);
                    }
                }
                Value::Object(o)
            }
            Kind::Choice(members) => {
                let mut found = None;
                for c in self.tree.children(n) {
                    if let Some(m) = member_for(members, c.name) {
                        found = Some(crate::jer::choice(m.name, self.value(c, m.ty)?));
                        break;
                    }
                }
                found.ok_or(Error::Xml {
                    offset: n.inner.0,
                    problem: XmlProblem::UnknownElement,
                })?
            }
            Kind::SeqOf(elem, _) => {
                let mut items = Vec::new();
                let choice = matches!(
                    TYPES.get(usize::from(elem)).map(|t| t.kind),
                    Some(Kind::Choice(_))
                );
                let private =
                    TYPES.get(usize::from(elem)).map(|t| t.name) == Some("CSTAPrivateData");
                for c in self.tree.children(n) {
                    if private {
                        items.push(self.private_data(c));
                        continue;
                    }
                    if choice
                        && let Some(Kind::Choice(members)) =
                            TYPES.get(usize::from(elem)).map(|t| t.kind)
                        && let Some(m) = member_for(members, c.name)
                    {
                        items.push(crate::jer::choice(m.name, self.value(c, m.ty)?));
                        continue;
                    }
                    items.push(self.value(c, elem)?);
                }
                Value::Array(items)
            }
            Kind::Enum | Kind::Oid => Value::String(text().to_owned()),
            // Character data is significant as written (a DTMF string may be one space).
            Kind::Text => Value::String(n.text.to_string()),
            Kind::Int => text()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| Error::Xml {
                    offset: n.inner.0,
                    problem: XmlProblem::BadValue,
                })?,
            Kind::Bool => match text() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => {
                    return Err(Error::Xml {
                        offset: n.inner.0,
                        problem: XmlProblem::BadValue,
                    });
                }
            },
            Kind::Null => Value::Null,
            Kind::Octets => Value::String(octets_from_text(text())),
            Kind::Any => Value::String(text().to_owned()),
            Kind::Bits => {
                let mut o = Map::new();
                o.insert("value".into(), Value::String(text().to_owned()));
                let len = n
                    .attr("length")
                    .and_then(|l| l.parse::<u64>().ok())
                    .unwrap_or_else(|| parse_hex(text()).map_or(0, |b| b.len() as u64 * 8));
                o.insert("length".into(), Value::from(len));
                Value::Object(o)
            }
        })
    }

    fn device_id(&self, n: &Node<'_>) -> Result<Value, Error> {
        let text = n.text.trim();
        let id = match n.attr("typeOfNumber").unwrap_or("dialingNumber") {
            "dialingNumber" => crate::jer::choice("dialingNumber", Value::String(text.to_owned())),
            "deviceNumber" => crate::jer::choice(
                "deviceNumber",
                text.parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| Error::Xml {
                        offset: n.inner.0,
                        problem: XmlProblem::BadValue,
                    })?,
            ),
            "implicitPublic" | "implicitPrivate" => crate::jer::choice(
                n.attr("typeOfNumber").unwrap_or_default(),
                Value::String(text.to_owned()),
            ),
            "other" => crate::jer::choice("other", Value::String(octets_from_text(text))),
            t => match t.split_once(':') {
                Some((kind @ ("explicitPublic" | "explicitPrivate"), ton)) => crate::jer::choice(
                    kind,
                    crate::jer::choice(ton, Value::String(text.to_owned())),
                ),
                // An unknown form: keep the digits as a dialling number.
                _ => crate::jer::choice("dialingNumber", Value::String(text.to_owned())),
            },
        };
        let mut o = Map::new();
        o.insert("deviceIdentifier".into(), id);
        for k in ["privateNumber", "privateName"] {
            if let Some(v) = n.attr(k) {
                o.insert(k.into(), Value::String(v.to_owned()));
            }
        }
        if let Some(v) = n.attr("mediaCallCharacteristics") {
            let m: Value = serde_json::from_str(v).map_err(|_| Error::Xml {
                offset: n.inner.0,
                problem: XmlProblem::BadValue,
            })?;
            o.insert("mediaCallCharacteristics".into(), m);
        }
        Ok(Value::Object(o))
    }

    fn connection_id(&self, n: &Node<'_>) -> Result<Value, Error> {
        let mut call = None;
        let mut dev = None;
        for c in self.tree.children(n) {
            match c.name {
                "callID" => call = Some(Value::String(octets_from_text(c.text.trim()))),
                "deviceID" if c.attr("typeOfNumber") == Some("dynamic") => {
                    dev = Some(crate::jer::choice(
                        "dynamicID",
                        Value::String(octets_from_text(c.text.trim())),
                    ));
                }
                "deviceID" => dev = Some(crate::jer::choice("staticID", self.device_id(c)?)),
                _ => {}
            }
        }
        Ok(match (call, dev) {
            (Some(c), Some(d)) => {
                let mut o = Map::new();
                o.insert("callID".into(), c);
                o.insert("deviceID".into(), d);
                crate::jer::choice("both", Value::Object(o))
            }
            (Some(c), None) => crate::jer::choice("callID", c),
            (None, Some(d)) => crate::jer::choice("deviceID", d),
            (None, None) => {
                return Err(Error::Xml {
                    offset: n.inner.0,
                    problem: XmlProblem::BadValue,
                });
            }
        })
    }

    /// `<private>` keeps its inner XML raw; `<string>` is hex.
    fn private_data(&self, n: &Node<'_>) -> Value {
        if n.name == "string" {
            return crate::jer::choice("string", Value::String(octets_from_text(n.text.trim())));
        }
        let raw = self.input.get(n.inner.0..n.inner.1).unwrap_or_default();
        if raw.is_empty() {
            return crate::jer::choice("private", Value::Null);
        }
        crate::jer::choice("string", Value::String(hex_upper(raw)))
    }
}

/// OCTET STRING text: hex when it is hex, otherwise the text itself (Avaya call ids).
fn octets_from_text(t: &str) -> String {
    if !t.is_empty() && t.len().is_multiple_of(2) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        t.to_ascii_uppercase()
    } else {
        hex_upper(t.as_bytes())
    }
}

/// The XML text of OCTET STRING bytes given as JER hex: the text itself when it is text that
/// would not read back as hex, hex otherwise.
fn octets_to_text(hex: &str) -> String {
    let Some(bytes) = parse_hex(hex) else {
        return hex.to_owned();
    };
    if let Ok(s) = std::str::from_utf8(&bytes)
        && !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@+*#".contains(&b))
        && octets_from_text(s) == hex_upper(&bytes)
    {
        return s.to_owned();
    }
    hex_upper(&bytes)
}

// ------------------------------------------------------------------------------- JER -> XML

/// Text content with the markup characters as references.
fn escape(s: &str, out: &mut String) {
    s.chars().for_each(|c| escape_char(c, out));
}

/// [`escape`] for an attribute value: tabs and line breaks as character references too, since
/// a reader normalizes literal ones in attribute values to spaces.
fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => escape_char(c, out),
        }
    }
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '&' => out.push_str("&amp;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&apos;"),
        c => out.push(c),
    }
}

fn leaf(name: &str, attrs: &[(&str, String)], text: &str, out: &mut String) {
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        let _ = write!(out, " {k}=\"");
        escape_attr(v, out);
        out.push('"');
    }
    if text.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    escape(text, out);
    let _ = write!(out, "</{name}>");
}

fn bad() -> Error {
    xerr(XmlProblem::NotRepresentable)
}

fn write_value(v: &Value, ty: u16, name: &str, out: &mut String) -> Result<(), Error> {
    let info = TYPES
        .get(usize::from(ty))
        .ok_or_else(|| xerr(XmlProblem::Schema))?;
    match info.name {
        "DeviceID" => return write_device_id(v, name, &[], out),
        "ConnectionID" => return write_connection_id(v, name, out),
        "CSTAPrivateData" => {
            if let Kind::Choice(members) = info.kind {
                let _ = write!(out, "<{name}>");
                write_private_data(v, members, out)?;
                let _ = write!(out, "</{name}>");
                return Ok(());
            }
        }
        _ => {}
    }
    match info.kind {
        Kind::Seq(members) => {
            let o = v.as_object().ok_or_else(bad)?;
            let _ = write!(out, "<{name}>");
            for m in members {
                if let Some(mv) = o.get(m.name) {
                    write_value(mv, m.ty, xml_name(m.name), out)?;
                }
            }
            let _ = write!(out, "</{name}>");
        }
        Kind::Choice(members) => {
            let (k, inner) = single(v)?;
            let m = members.iter().find(|m| m.name == k).ok_or_else(bad)?;
            let _ = write!(out, "<{name}>");
            write_value(inner, m.ty, xml_name(m.name), out)?;
            let _ = write!(out, "</{name}>");
        }
        Kind::SeqOf(elem, item) => {
            let items = v.as_array().ok_or_else(bad)?;
            let _ = write!(out, "<{name}>");
            let einfo = TYPES
                .get(usize::from(elem))
                .ok_or_else(|| xerr(XmlProblem::Schema))?;
            for e in items {
                match einfo.kind {
                    Kind::Choice(members) if einfo.name == "CSTAPrivateData" => {
                        write_private_data(e, members, out)?
                    }
                    Kind::Choice(members) => {
                        let (k, inner) = single(e)?;
                        let m = members.iter().find(|m| m.name == k).ok_or_else(bad)?;
                        write_value(inner, m.ty, xml_name(m.name), out)?;
                    }
                    _ => write_value(e, elem, item, out)?,
                }
            }
            let _ = write!(out, "</{name}>");
        }
        Kind::Enum | Kind::Text | Kind::Oid | Kind::Any => {
            leaf(name, &[], v.as_str().ok_or_else(bad)?, out)
        }
        Kind::Int => leaf(name, &[], &v.as_i64().ok_or_else(bad)?.to_string(), out),
        Kind::Bool => leaf(
            name,
            &[],
            if v.as_bool().ok_or_else(bad)? {
                "true"
            } else {
                "false"
            },
            out,
        ),
        Kind::Null => leaf(name, &[], "", out),
        Kind::Octets => leaf(name, &[], &octets_to_text(v.as_str().ok_or_else(bad)?), out),
        Kind::Bits => {
            let o = v.as_object().ok_or_else(bad)?;
            let len = o.get("length").and_then(Value::as_u64).ok_or_else(bad)?;
            let hex = o.get("value").and_then(Value::as_str).ok_or_else(bad)?;
            let _ = write!(out, "<{name} length=\"{len}\">{hex}</{name}>");
        }
    }
    Ok(())
}

fn single(v: &Value) -> Result<(&str, &Value), Error> {
    let o = v.as_object().ok_or_else(bad)?;
    let mut it = o.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => Err(bad()),
    }
}

fn write_device_id(
    v: &Value,
    name: &str,
    extra: &[(&str, String)],
    out: &mut String,
) -> Result<(), Error> {
    let o = v.as_object().ok_or_else(bad)?;
    let (form, id) = single(o.get("deviceIdentifier").ok_or_else(bad)?)?;
    let mut attrs: Vec<(&str, String)> = extra.to_vec();
    let text = match form {
        "dialingNumber" => id.as_str().ok_or_else(bad)?.to_owned(),
        "deviceNumber" => {
            attrs.push(("typeOfNumber", "deviceNumber".into()));
            id.as_i64().ok_or_else(bad)?.to_string()
        }
        "implicitPublic" | "implicitPrivate" => {
            attrs.push(("typeOfNumber", form.into()));
            id.as_str().ok_or_else(bad)?.to_owned()
        }
        "explicitPublic" | "explicitPrivate" => {
            let (ton, digits) = single(id)?;
            attrs.push(("typeOfNumber", format!("{form}:{ton}")));
            digits.as_str().ok_or_else(bad)?.to_owned()
        }
        "other" => {
            attrs.push(("typeOfNumber", "other".into()));
            octets_to_text(id.as_str().ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    for k in ["privateNumber", "privateName"] {
        if let Some(s) = o.get(k).and_then(Value::as_str) {
            attrs.push((k, s.to_owned()));
        }
    }
    if let Some(m) = o.get("mediaCallCharacteristics") {
        attrs.push(("mediaCallCharacteristics", m.to_string()));
    }
    if text.is_empty() {
        // An empty device number still needs an element that reads back as one.
        let _ = write!(out, "<{name}");
        for (k, v) in &attrs {
            let _ = write!(out, " {k}=\"");
            escape_attr(v, out);
            out.push('"');
        }
        let _ = write!(out, "></{name}>");
        return Ok(());
    }
    leaf(name, &attrs, &text, out);
    Ok(())
}

fn write_connection_id(v: &Value, name: &str, out: &mut String) -> Result<(), Error> {
    let (form, inner) = single(v)?;
    let _ = write!(out, "<{name}>");
    let dev = |d: &Value, out: &mut String| -> Result<(), Error> {
        let (k, dv) = single(d)?;
        match k {
            "staticID" => write_device_id(dv, "deviceID", &[], out),
            "dynamicID" => {
                leaf(
                    "deviceID",
                    &[("typeOfNumber", "dynamic".into())],
                    &octets_to_text(dv.as_str().ok_or_else(bad)?),
                    out,
                );
                Ok(())
            }
            _ => Err(bad()),
        }
    };
    match form {
        "callID" => leaf(
            "callID",
            &[],
            &octets_to_text(inner.as_str().ok_or_else(bad)?),
            out,
        ),
        "deviceID" => dev(inner, out)?,
        "both" => {
            let o = inner.as_object().ok_or_else(bad)?;
            leaf(
                "callID",
                &[],
                &octets_to_text(o.get("callID").and_then(Value::as_str).ok_or_else(bad)?),
                out,
            );
            dev(o.get("deviceID").ok_or_else(bad)?, out)?;
        }
        _ => return Err(bad()),
    }
    let _ = write!(out, "</{name}>");
    Ok(())
}

fn write_private_data(e: &Value, members: &[Member], out: &mut String) -> Result<(), Error> {
    let (k, inner) = single(e)?;
    if k == "string"
        && let Some(bytes) = inner.as_str().and_then(parse_hex)
        && let Ok(s) = std::str::from_utf8(&bytes)
        && !s.trim().is_empty()
        && s.trim() == s
        && Tree::parse(format!("<private>{s}</private>").as_bytes()).is_ok()
    {
        // Vendor XML kept raw.
        let _ = write!(out, "<private>{s}</private>");
        return Ok(());
    }
    let m = members.iter().find(|m| m.name == k).ok_or_else(bad)?;
    write_value(inner, m.ty, m.name, out)
}

// ------------------------------------------------------------------------------- messages

/// Decodes one ECMA-323 message (the XML after the 8-byte header). `invoke_id` is the header's.
pub fn decode(input: &[u8], invoke_id: Option<u16>) -> Result<XmlMessage, Error> {
    let tree = Tree::parse(input)?;
    let x = typed::X { tree: &tree, input };
    if let Some(event) = crate::generated::xml_de::event_from_xml(&x, tree.root()) {
        return event_message(&tree, event?, invoke_id);
    }
    decode_tree(&tree, input, invoke_id)
}

/// An event report from its typed event and the root's `monitorCrossRefID`.
fn event_message(
    tree: &Tree<'_>,
    event: crate::generated::types::EventSpecificInfo,
    invoke_id: Option<u16>,
) -> Result<XmlMessage, Error> {
    use crate::generated::{
        ops::{Argument, Operation},
        types::{CSTAEventReportArgument, Code},
    };
    use crate::pdu::{Invoke, Payload};
    let root = tree.root();
    let xref = tree
        .children(root)
        .find(|c| c.name == "monitorCrossRefID")
        .ok_or(Error::Xml {
            offset: root.inner.0,
            problem: XmlProblem::MissingElement("monitorCrossRefID"),
        })?;
    let argument = CSTAEventReportArgument {
        cross_ref_identifier: typed::octets(xref.text.trim()),
        event_specific_info: event,
        unrecognized: Default::default(),
    };
    Ok(XmlMessage {
        pdu: Pdu::Invoke(Invoke {
            invoke_id: invoke_id.map(i64::from),
            linked_id: None,
            opcode: Code::Local(Operation::CSTAEventReport.code()),
            argument: Some(Payload::Typed(Argument::CSTAEventReport(Box::new(
                argument,
            )))),
        }),
        namespace: tree.ns.clone(),
    })
}

/// The schema-driven path through the JER form: every message (events included, which
/// [`decode`] reads straight into their types instead).
pub(crate) fn decode_tree(
    tree: &Tree<'_>,
    input: &[u8],
    invoke_id: Option<u16>,
) -> Result<XmlMessage, Error> {
    let root = tree.root();
    let r = Reader { tree, input };
    let iid = invoke_id.map_or(Value::Null, Value::from);
    let mut jer = Map::new();
    let name = root.name;
    if let Some((cat, ev, ty)) = event_for_element(name) {
        let mut body = r.value(root, ty)?;
        let xref = body.as_object_mut().and_then(|o| {
            o.shift_remove("monitorCrossRefID")
                .or_else(|| o.shift_remove("crossRefIdentifier"))
        });
        // The event's own type has no cross reference: it belongs to the report.
        let xref = match xref {
            Some(v) => v,
            None => {
                let x = tree
                    .children(root)
                    .find(|c| c.name == "monitorCrossRefID")
                    .ok_or(Error::Xml {
                        offset: root.inner.0,
                        problem: XmlProblem::MissingElement("monitorCrossRefID"),
                    })?;
                Value::String(octets_from_text(x.text.trim()))
            }
        };
        let mut arg = Map::new();
        arg.insert("crossRefIdentifier".into(), xref);
        arg.insert(
            "eventSpecificInfo".into(),
            crate::jer::choice(cat, crate::jer::choice(ev, body)),
        );
        jer.insert("rose".into(), "invoke".into());
        jer.insert("invokeId".into(), iid);
        jer.insert("operation".into(), "cSTAEventReport".into());
        jer.insert("argument".into(), Value::Object(arg));
    } else if name == "CSTAErrorCode" {
        let (err, ty) = ERRORS
            .first()
            .copied()
            .ok_or_else(|| xerr(XmlProblem::Schema))?;
        jer.insert("rose".into(), "returnError".into());
        jer.insert("invokeId".into(), iid);
        jer.insert("error".into(), err.into());
        jer.insert("parameter".into(), r.value(root, ty)?);
    } else if let Some(base) = name.strip_suffix("Response")
        && let Some((op, _, res)) = operation_for_element(base)
    {
        jer.insert("rose".into(), "returnResult".into());
        jer.insert("invokeId".into(), iid);
        jer.insert("operation".into(), (*op).into());
        let res = res.ok_or(Error::Xml {
            offset: 0,
            problem: XmlProblem::UnknownMessage,
        })?;
        jer.insert("result".into(), result_value(&r, root, res)?);
    } else if let Some((op, Some(arg), _)) = operation_for_element(name) {
        jer.insert("rose".into(), "invoke".into());
        jer.insert("invokeId".into(), iid);
        jer.insert("operation".into(), (*op).into());
        jer.insert("argument".into(), r.value(root, *arg)?);
    } else {
        return Err(Error::Xml {
            offset: 0,
            problem: XmlProblem::UnknownMessage,
        });
    }
    let pdu = Pdu::from_jer(&Value::Object(jer))?;
    Ok(XmlMessage {
        pdu,
        namespace: tree.ns.clone(),
    })
}

/// A `…Response` whose result type is a CHOICE of `extensions` and `noData` is an empty
/// element when there is no data.
fn result_value(r: &Reader<'_>, root: &Node<'_>, ty: u16) -> Result<Value, Error> {
    if let Some(Kind::Choice(members)) = TYPES.get(usize::from(ty)).map(|t| t.kind)
        && members.iter().any(|m| m.name == "noData")
    {
        if root.children.is_empty() {
            return Ok(crate::jer::choice("noData", Value::Null));
        }
        if let Some(m) = members.iter().find(|m| m.name != "noData")
            && r.tree.children(root).all(|c| c.name == xml_name(m.name))
            && let Some(c) = r.tree.children(root).next()
        {
            return Ok(crate::jer::choice(m.name, r.value(c, m.ty)?));
        }
    }
    r.value(root, ty)
}

/// Encodes a message as ECMA-323 XML in `edition`'s namespace; returns the invoke id for the
/// 8-byte header (the PDU's own; events carry theirs, conventionally 9999).
pub fn encode(pdu: &Pdu, edition: &Edition, out: &mut Vec<u8>) -> Result<u16, Error> {
    let jer = pdu.to_jer();
    let o = jer.as_object().ok_or_else(bad)?;
    let invoke_id = match o.get("invokeId").and_then(Value::as_i64) {
        Some(n) if (0..=9999).contains(&n) => n as u16,
        Some(_) => return Err(bad()),
        None => crate::framing::XML_EVENT_INVOKE_ID,
    };
    let mut body = String::new();
    let op = o.get("operation").and_then(Value::as_str);
    let (root, ty, value): (String, u16, Value) = match (o.get("rose").and_then(Value::as_str), op)
    {
        (Some("invoke"), Some("cSTAEventReport")) => {
            let arg = o.get("argument").ok_or_else(bad)?;
            let xref = arg
                .get("crossRefIdentifier")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            let (cat, inner) = single(arg.get("eventSpecificInfo").ok_or_else(bad)?)?;
            let (ev, value) = single(inner)?;
            let (_, _, ty) = events()
                .find(|(c, e, _)| *c == cat && *e == ev)
                .ok_or_else(bad)?;
            leaf("monitorCrossRefID", &[], &octets_to_text(xref), &mut body);
            (event_element(ev), ty, value.clone())
        }
        (Some("invoke"), Some(op)) => {
            let (_, arg, _) = OPERATIONS
                .iter()
                .find(|(n, _, _)| *n == op)
                .ok_or_else(bad)?;
            (
                request_element(op),
                arg.ok_or_else(bad)?,
                o.get("argument").cloned().ok_or_else(bad)?,
            )
        }
        (Some("returnResult"), Some(op)) => {
            let (_, _, res) = OPERATIONS
                .iter()
                .find(|(n, _, _)| *n == op)
                .ok_or_else(bad)?;
            let res = res.ok_or_else(bad)?;
            let v = o.get("result").cloned().ok_or_else(bad)?;
            let root = format!("{}Response", request_element(op));
            // CHOICE { extensions, noData }: the alternative's content goes straight in.
            if let Some(Kind::Choice(members)) = TYPES.get(usize::from(res)).map(|t| t.kind)
                && members.iter().any(|m| m.name == "noData")
            {
                let (k, inner) = single(&v)?;
                if k != "noData" {
                    let m = members.iter().find(|m| m.name == k).ok_or_else(bad)?;
                    write_value(inner, m.ty, xml_name(m.name), &mut body)?;
                }
                return finish(&root, edition, &body, out, invoke_id);
            }
            (root, res, v)
        }
        (Some("returnError"), _)
            if o.get("error").and_then(Value::as_str) == Some("universalFailure") =>
        {
            let (_, ty) = ERRORS.first().copied().ok_or_else(bad)?;
            (
                "CSTAErrorCode".into(),
                ty,
                o.get("parameter").cloned().ok_or_else(bad)?,
            )
        }
        _ => return Err(bad()),
    };
    // Write the root's content: the members of a SEQUENCE, or the alternative of a CHOICE.
    let mut tmp = String::new();
    write_value(&value, ty, "x", &mut tmp)?;
    let inner = tmp
        .strip_prefix("<x>")
        .and_then(|s| s.strip_suffix("</x>"))
        .unwrap_or_default();
    body.push_str(inner);
    finish(&root, edition, &body, out, invoke_id)
}

fn finish(
    root: &str,
    edition: &Edition,
    body: &str,
    out: &mut Vec<u8>,
    invoke_id: u16,
) -> Result<u16, Error> {
    let mut s = String::with_capacity(body.len() + 128);
    let _ = write!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><{root} xmlns=\""
    );
    escape(edition.namespace(), &mut s);
    if body.is_empty() {
        s.push_str("\"/>");
    } else {
        let _ = write!(s, "\">{body}</{root}>");
    }
    out.extend_from_slice(s.as_bytes());
    Ok(invoke_id)
}

#[cfg(test)]
mod tests;
