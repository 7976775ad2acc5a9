//! The typed JSON document of a CSTA message: what `hookflash decode` prints and `hookflash
//! encode` reads. It describes the CSTA message, not its encoding, so the same message has the
//! same document whether it came over BER (ROSE/ACSE) or XML (ECMA-323):
//!
//! ```json
//! {"kind": "request", "invokeId": 7, "service": "holdCall", "argument": {...}}
//! {"kind": "result", "invokeId": 7, "service": "holdCall", "result": {...}}
//! {"kind": "error", "invokeId": 7, "error": "universalFailure", "parameter": {...}}
//! {"kind": "reject", "invokeId": 7, "problem": {"invoke": 1}}
//! {"kind": "event", "invokeId": 3, "crossRefIdentifier": "0001",
//!  "category": "callControlEvents", "event": "delivered", "value": {...}}
//! {"kind": "association", "acse": "aarq", "apdu": {...}, "cstaUserInformation": {...}}
//! ```
//!
//! Values are X.697 JER of the ECMA-285 types (ASN.1 member names, OCTET STRING as hex,
//! ENUMERATED as identifiers). Vendor operations keep their raw BER as `argumentHex` /
//! `resultHex` with the numeric `opcode`.

use serde_json::{Map, Value};

use crate::error::{Error, JsonProblem};
use crate::pdu::Pdu;

const EVENT_REPORT: &str = "cSTAEventReport";

fn take(o: &mut Map<String, Value>, k: &str) -> Option<Value> {
    o.shift_remove(k)
}

fn single(v: Value) -> Option<(String, Value)> {
    match v {
        Value::Object(o) if o.len() == 1 => o.into_iter().next(),
        _ => None,
    }
}

impl Pdu {
    /// The typed JSON document of the message (see the module documentation).
    pub fn to_json(&self) -> Value {
        let Value::Object(mut o) = self.to_jer() else {
            return Value::Null;
        };
        let mut out = Map::new();
        if let Some(kind) = take(&mut o, "acse") {
            out.insert("kind".into(), "association".into());
            out.insert("acse".into(), kind);
            out.extend(o);
            return Value::Object(out);
        }
        let rose = take(&mut o, "rose")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let invoke_id = take(&mut o, "invokeId").unwrap_or(Value::Null);
        match rose.as_str() {
            "invoke" => {
                let op = o
                    .get("operation")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if op.as_deref() == Some(EVENT_REPORT)
                    && let Some(Value::Object(mut arg)) = take(&mut o, "argument")
                    && let Some((category, inner)) =
                        arg.shift_remove("eventSpecificInfo").and_then(single)
                    && let Some((event, value)) = single(inner)
                {
                    out.insert("kind".into(), "event".into());
                    out.insert("invokeId".into(), invoke_id);
                    if let Some(x) = arg.shift_remove("crossRefIdentifier") {
                        out.insert("crossRefIdentifier".into(), x);
                    }
                    out.insert("category".into(), category.into());
                    out.insert("event".into(), event.into());
                    out.insert("value".into(), value);
                    out.extend(arg);
                    return Value::Object(out);
                }
                out.insert("kind".into(), "request".into());
                out.insert("invokeId".into(), invoke_id);
                match op {
                    Some(name) => {
                        o.shift_remove("operation");
                        o.shift_remove("opcode");
                        out.insert("service".into(), name.into());
                    }
                    None => {
                        o.shift_remove("operation");
                        if let Some(code) = take(&mut o, "opcode") {
                            out.insert("opcode".into(), code);
                        }
                    }
                }
                out.extend(o);
            }
            "returnResult" => {
                out.insert("kind".into(), "result".into());
                out.insert("invokeId".into(), invoke_id);
                if let Some(name) = take(&mut o, "operation") {
                    o.shift_remove("opcode");
                    out.insert("service".into(), name);
                }
                out.extend(o);
            }
            "returnError" => {
                out.insert("kind".into(), "error".into());
                out.insert("invokeId".into(), invoke_id);
                if let Some(name) = take(&mut o, "error") {
                    o.shift_remove("errcode");
                    out.insert("error".into(), name);
                }
                out.extend(o);
            }
            _ => {
                out.insert("kind".into(), "reject".into());
                out.insert("invokeId".into(), invoke_id);
                out.extend(o);
            }
        }
        Value::Object(out)
    }

    /// Reads a typed JSON document (what [`Pdu::to_json`] writes).
    pub fn from_json(v: &Value) -> Result<Self, Error> {
        let mut o = v.as_object().cloned().ok_or(Error::Json {
            at: "message",
            problem: JsonProblem::WrongType,
        })?;
        let kind = take(&mut o, "kind")
            .and_then(|k| k.as_str().map(str::to_owned))
            .ok_or(Error::Json {
                at: "message",
                problem: JsonProblem::Missing("kind"),
            })?;
        let mut jer = Map::new();
        match kind.as_str() {
            "association" => {
                jer.extend(o);
            }
            "event" => {
                jer.insert("rose".into(), "invoke".into());
                jer.insert(
                    "invokeId".into(),
                    take(&mut o, "invokeId").unwrap_or(Value::Null),
                );
                jer.insert("operation".into(), EVENT_REPORT.into());
                let missing = |k| Error::Json {
                    at: "event",
                    problem: JsonProblem::Missing(k),
                };
                let category = take(&mut o, "category").ok_or_else(|| missing("category"))?;
                let event = take(&mut o, "event").ok_or_else(|| missing("event"))?;
                let value = take(&mut o, "value").ok_or_else(|| missing("value"))?;
                let (Some(category), Some(event)) = (category.as_str(), event.as_str()) else {
                    return Err(Error::Json {
                        at: "event",
                        problem: JsonProblem::WrongType,
                    });
                };
                let mut arg = Map::new();
                if let Some(x) = take(&mut o, "crossRefIdentifier") {
                    arg.insert("crossRefIdentifier".into(), x);
                }
                arg.insert(
                    "eventSpecificInfo".into(),
                    crate::jer::choice(category, crate::jer::choice(event, value)),
                );
                arg.extend(o);
                jer.insert("argument".into(), Value::Object(arg));
            }
            "request" | "result" => {
                jer.insert(
                    "rose".into(),
                    if kind == "request" {
                        "invoke"
                    } else {
                        "returnResult"
                    }
                    .into(),
                );
                jer.insert(
                    "invokeId".into(),
                    take(&mut o, "invokeId").unwrap_or(Value::Null),
                );
                if let Some(s) = take(&mut o, "service") {
                    jer.insert("operation".into(), s);
                }
                jer.extend(o);
            }
            "error" => {
                jer.insert("rose".into(), "returnError".into());
                jer.extend(o);
            }
            "reject" => {
                jer.insert("rose".into(), "reject".into());
                jer.extend(o);
            }
            _ => {
                return Err(Error::Json {
                    at: "kind",
                    problem: JsonProblem::UnknownAlternative,
                });
            }
        }
        Self::from_jer(&Value::Object(jer))
    }
}
