//! ECMA-323 XML straight into the typed values, without the JER detour: the fast path for
//! events. The per-type code is generated (`generated/xml_de.rs`); this module has the trait,
//! the primitives and the three types whose XML form differs from their ASN.1 structure
//! (`DeviceID`, `ConnectionID`, `CSTAPrivateData`). It decodes exactly what the schema-driven
//! JER path decodes (a test compares the two over the oracle corpora).

use serde_json::Value;

use super::tree::{Node, Tree};
use crate::ber::{Any, BitString, OctetString, Oid, Text, parse_hex};
use crate::error::{Error, XmlProblem};
use crate::generated::types::{
    CSTAPrivateData, ConnectionID, ConnectionIDBoth, DeviceID, DeviceIDDeviceIdentifier,
    LocalDeviceID,
};
use crate::jer::Jer;

/// The document being read.
pub(crate) struct X<'t, 'a> {
    pub(crate) tree: &'t Tree<'a>,
    pub(crate) input: &'a [u8],
}

/// A type read from its XML element.
pub(crate) trait FromXml: Sized {
    /// Reads the value of element `n`.
    fn from_xml(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error>;

    /// Reads one item of a SEQUENCE OF from its element (a CHOICE item is its alternative's
    /// element itself).
    fn from_xml_item(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        Self::from_xml(x, n)
    }
}

pub(crate) fn bad(n: &Node<'_>, problem: XmlProblem) -> Error {
    Error::Xml {
        offset: n.inner.0,
        problem,
    }
}

/// The JER value rejected by a primitive's `from_jer`, as an XML error at `n`.
fn jer<T: Jer>(n: &Node<'_>, v: &Value) -> Result<T, Error> {
    T::from_jer(v).map_err(|_| bad(n, XmlProblem::BadValue))
}

/// OCTET STRING text: hex when it is hex, otherwise the text's bytes (Avaya call ids).
pub(crate) fn octets(t: &str) -> OctetString {
    if !t.is_empty() && t.len().is_multiple_of(2) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        parse_hex(t).map_or_else(|| OctetString::from(t.as_bytes()), OctetString::from)
    } else {
        OctetString::from(t.as_bytes())
    }
}

impl FromXml for i64 {
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        n.text
            .trim()
            .parse()
            .map_err(|_| bad(n, XmlProblem::BadValue))
    }
}

impl FromXml for bool {
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        match n.text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(bad(n, XmlProblem::BadValue)),
        }
    }
}

impl FromXml for () {
    fn from_xml(_: &X<'_, '_>, _: &Node<'_>) -> Result<Self, Error> {
        Ok(())
    }
}

impl FromXml for OctetString {
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        Ok(octets(n.text.trim()))
    }
}

impl FromXml for Text {
    /// Character data is significant as written (a DTMF string may be one space).
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        Ok(Self::from(n.text.as_ref()))
    }
}

impl FromXml for Any {
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        jer(n, &Value::String(n.text.trim().to_owned()))
    }
}

impl FromXml for Oid {
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        Self::from_dotted(n.text.trim()).ok_or_else(|| bad(n, XmlProblem::BadValue))
    }
}

impl FromXml for BitString {
    fn from_xml(_: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        let text = n.text.trim();
        let len = n
            .attr("length")
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or_else(|| parse_hex(text).map_or(0, |b| b.len() as u64 * 8));
        let mut o = serde_json::Map::new();
        o.insert("value".into(), Value::String(text.to_owned()));
        o.insert("length".into(), Value::from(len));
        jer(n, &Value::Object(o))
    }
}

impl<T: FromXml> FromXml for Box<T> {
    fn from_xml(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        T::from_xml(x, n).map(Self::new)
    }
    fn from_xml_item(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        T::from_xml_item(x, n).map(Self::new)
    }
}

impl<T: FromXml> FromXml for Vec<T> {
    fn from_xml(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {
        x.tree.children(n).map(|c| T::from_xml_item(x, c)).collect()
    }
}

/// A `DeviceID`: the number is the text, its form the `typeOfNumber` attribute.
pub(crate) fn device_id(_: &X<'_, '_>, n: &Node<'_>) -> Result<DeviceID, Error> {
    let text = n.text.trim();
    let ton = n.attr("typeOfNumber").unwrap_or("dialingNumber");
    let device_identifier = match ton {
        "dialingNumber" => DeviceIDDeviceIdentifier::DialingNumber(Text::from(text)),
        "deviceNumber" => DeviceIDDeviceIdentifier::DeviceNumber(
            text.parse().map_err(|_| bad(n, XmlProblem::BadValue))?,
        ),
        "implicitPublic" => DeviceIDDeviceIdentifier::ImplicitPublic(Text::from(text)),
        "implicitPrivate" => DeviceIDDeviceIdentifier::ImplicitPrivate(Text::from(text)),
        "other" => DeviceIDDeviceIdentifier::Other(octets(text)),
        t => match t.split_once(':') {
            Some((kind @ ("explicitPublic" | "explicitPrivate"), ton)) => {
                let v = crate::jer::choice(
                    kind,
                    crate::jer::choice(ton, Value::String(text.to_owned())),
                );
                jer(n, &v)?
            }
            _ => DeviceIDDeviceIdentifier::DialingNumber(Text::from(text)),
        },
    };
    let media_call_characteristics = match n.attr("mediaCallCharacteristics") {
        Some(v) => {
            let m: Value = serde_json::from_str(v).map_err(|_| bad(n, XmlProblem::BadValue))?;
            Some(jer(n, &m)?)
        }
        None => None,
    };
    Ok(DeviceID {
        device_identifier,
        private_number: n.attr("privateNumber").map(Text::from),
        private_name: n.attr("privateName").map(Text::from),
        media_call_characteristics,
        unrecognized: Default::default(),
    })
}

/// A `ConnectionID`: `callID` and/or `deviceID` children (a dynamic device id is marked by
/// `typeOfNumber="dynamic"`).
pub(crate) fn connection_id(x: &X<'_, '_>, n: &Node<'_>) -> Result<ConnectionID, Error> {
    let mut call = None;
    let mut dev = None;
    for c in x.tree.children(n) {
        match c.name {
            "callID" => call = Some(octets(c.text.trim())),
            "deviceID" if c.attr("typeOfNumber") == Some("dynamic") => {
                dev = Some(LocalDeviceID::DynamicID(octets(c.text.trim())));
            }
            "deviceID" => dev = Some(LocalDeviceID::StaticID(device_id(x, c)?)),
            _ => {}
        }
    }
    Ok(match (call, dev) {
        (Some(call_id), Some(device_id)) => ConnectionID::Both(ConnectionIDBoth {
            call_id,
            device_id,
            unrecognized: Default::default(),
        }),
        (Some(c), None) => ConnectionID::CallID(c),
        (None, Some(d)) => ConnectionID::DeviceID(d),
        (None, None) => return Err(bad(n, XmlProblem::BadValue)),
    })
}

/// One private-data item: `<string>` is hex; `<private>` keeps its inner XML raw.
pub(crate) fn private_item(x: &X<'_, '_>, n: &Node<'_>) -> CSTAPrivateData {
    if n.name == "string" {
        return CSTAPrivateData::String(octets(n.text.trim()));
    }
    let raw = x.input.get(n.inner.0..n.inner.1).unwrap_or_default();
    if raw.is_empty() {
        return CSTAPrivateData::Private(());
    }
    CSTAPrivateData::String(OctetString::from(raw))
}

/// A `CSTAPrivateData` element: its first child is the item, or its text is hex.
pub(crate) fn private_data(x: &X<'_, '_>, n: &Node<'_>) -> CSTAPrivateData {
    match x.tree.children(n).next() {
        Some(c) => private_item(x, c),
        None => CSTAPrivateData::String(octets(n.text.trim())),
    }
}

/// Whether `v`'s JER form equals a DEFAULT value (so the member is left absent, as the JER
/// path does).
pub(crate) fn is_default<T: Jer>(v: &T, default: &str) -> bool {
    crate::jer::same_value(&v.to_jer(), &crate::jer::parse_default(default))
}
