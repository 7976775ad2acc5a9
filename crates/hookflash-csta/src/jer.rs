//! X.697 JER (JSON encoding rules) for the generated types, in the shape the asn1tools `jer`
//! codec uses: SEQUENCE as an object without absent OPTIONAL members (DEFAULT members filled in),
//! CHOICE as a one-key object, OCTET STRING as hex, BIT STRING as `{"value", "length"}`,
//! ENUMERATED as its identifier.

use serde_json::{Map, Value};

use crate::error::{Error, JsonProblem};

/// The key under which an unrecognized CHOICE alternative is written (as raw BER hex).
pub const UNRECOGNIZED: &str = "$unrecognizedTlv";

/// Conversion of one ASN.1 type to and from its JER form.
pub trait Jer: Sized {
    /// The JER value.
    fn to_jer(&self) -> Value;
    /// Reads the JER value.
    fn from_jer(v: &Value) -> Result<Self, Error>;
}

impl Jer for i64 {
    fn to_jer(&self) -> Value {
        Value::from(*self)
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        v.as_i64().ok_or(Error::Json {
            at: "INTEGER",
            problem: JsonProblem::WrongType,
        })
    }
}

impl Jer for bool {
    fn to_jer(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        v.as_bool().ok_or(Error::Json {
            at: "BOOLEAN",
            problem: JsonProblem::WrongType,
        })
    }
}

impl Jer for () {
    fn to_jer(&self) -> Value {
        Value::Null
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        if v.is_null() {
            Ok(())
        } else {
            Err(Error::Json {
                at: "NULL",
                problem: JsonProblem::WrongType,
            })
        }
    }
}

impl<T: Jer> Jer for Box<T> {
    fn to_jer(&self) -> Value {
        (**self).to_jer()
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        T::from_jer(v).map(Self::new)
    }
}

impl<T: Jer> Jer for Vec<T> {
    fn to_jer(&self) -> Value {
        Value::Array(self.iter().map(Jer::to_jer).collect())
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        v.as_array()
            .ok_or(Error::Json {
                at: "SEQUENCE OF",
                problem: JsonProblem::WrongType,
            })?
            .iter()
            .map(T::from_jer)
            .collect()
    }
}

/// The object of a SEQUENCE.
pub fn object<'v>(v: &'v Value, at: &'static str) -> Result<&'v Map<String, Value>, Error> {
    v.as_object().ok_or(Error::Json {
        at,
        problem: JsonProblem::WrongType,
    })
}

/// A mandatory member.
pub fn req<T: Jer>(
    o: &Map<String, Value>,
    key: &'static str,
    at: &'static str,
) -> Result<T, Error> {
    match o.get(key) {
        Some(v) => T::from_jer(v),
        None => Err(Error::Json {
            at,
            problem: JsonProblem::Missing(key),
        }),
    }
}

/// An OPTIONAL member.
pub fn opt<T: Jer>(o: &Map<String, Value>, key: &'static str) -> Result<Option<T>, Error> {
    o.get(key).map(T::from_jer).transpose()
}

/// A member with a DEFAULT: absent, or equal to the default, reads as `None` (and is then not
/// encoded, as BER encoders conventionally do).
pub fn opt_default<T: Jer>(
    o: &Map<String, Value>,
    key: &'static str,
    default: &str,
) -> Result<Option<T>, Error> {
    match o.get(key) {
        None => Ok(None),
        Some(v) if same_value(v, &parse_default(default)) => Ok(None),
        Some(v) => T::from_jer(v).map(Some),
    }
}

pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// The JER value of a DEFAULT, written by the generator as JSON text.
pub fn parse_default(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// A CHOICE value: an object with the alternative as its one key.
pub fn choice(key: &str, v: Value) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(key.to_owned(), v);
    Value::Object(m)
}

/// The alternative and value of a CHOICE.
pub fn single_key<'v>(v: &'v Value, at: &'static str) -> Result<(&'v str, &'v Value), Error> {
    let o = v.as_object().ok_or(Error::Json {
        at,
        problem: JsonProblem::WrongType,
    })?;
    let mut it = o.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => Err(Error::Json {
            at,
            problem: JsonProblem::NotOneAlternative,
        }),
    }
}

/// An ENUMERATED value: its identifier, or its number when the identifier is unknown.
pub fn enumerated(name: Option<&'static str>, value: i64) -> Value {
    match name {
        Some(n) => Value::String(n.to_owned()),
        None => Value::from(value),
    }
}

/// Reads an ENUMERATED value from its identifier (or a number).
pub fn from_enumerated<T>(
    v: &Value,
    at: &'static str,
    by_name: fn(&str) -> Option<T>,
    by_value: fn(i64) -> T,
) -> Result<T, Error> {
    match v {
        Value::String(s) => by_name(s).ok_or(Error::Json {
            at,
            problem: JsonProblem::UnknownIdentifier,
        }),
        Value::Number(n) => n.as_i64().map(by_value).ok_or(Error::Json {
            at,
            problem: JsonProblem::WrongType,
        }),
        _ => Err(Error::Json {
            at,
            problem: JsonProblem::WrongType,
        }),
    }
}
