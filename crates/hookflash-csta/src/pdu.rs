//! Whole CSTA PDUs in BER: the ROSE envelope (X.880 invoke, returnResult, returnError, reject)
//! with typed CSTA arguments, results and errors, and the ACSE association APDUs with the CSTA
//! user information.
//!
//! [`decode`] and [`encode`] work on one unframed PDU; see [`crate::framing`] for the link
//! framings. [`Pdu::to_jer`] and [`Pdu::from_jer`] read and write the JSON shape of the
//! ECMA-285 reference oracle (ROSE/ACSE envelope, X.697 JER values, ASN.1 names).

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::ber::{Any, Dec, DecError, Oid, Tlv, read_tlv};
use crate::error::{Error, JsonProblem};
use crate::generated::ops::{self, Argument, ErrorCode, ErrorParameter, OpResult, Operation};
use crate::generated::types::{
    ACSEApdu, ACSEUserInformationForCSTA, AssociationData, Code, EXTERNALt, EXTERNALtEncoding,
    InvokeId, InvokeLinkedId, ROSEPDU, RejectProblem,
};
use crate::jer::Jer;

/// The default maximum size of one PDU.
pub const DEFAULT_MAX_PDU: usize = 64 * 1024;

/// The OID of `CSTA-application-context-information-csta3` (ECMA-285), the default direct
/// reference of the CSTA user information in ACSE.
pub const CSTA3_USER_INFORMATION_OID: &str = "1.3.12.0.285.200";

/// The ECMA-218 application context name many PBXs (HiPath, Panasonic) use in AARQ.
pub const ECMA218_CONTEXT_OID: &str = "1.3.12.0.218";

/// The value of a ROSE argument, result or error parameter: typed when the operation is known,
/// raw otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<T> {
    /// Decoded into the CSTA type of the operation.
    Typed(T),
    /// The operation is unknown (a vendor operation, or one without a RESULT): the element raw.
    Raw(Any),
}

/// A ROSE invoke: a CSTA service request, or an event report (`cSTAEventReport`).
#[derive(Debug, Clone, PartialEq)]
pub struct Invoke {
    /// The invoke id; `None` is the `absent` form.
    pub invoke_id: Option<i64>,
    /// The linked id, when present.
    pub linked_id: Option<InvokeLinkedId>,
    /// The operation code.
    pub opcode: Code,
    /// The argument.
    pub argument: Option<Payload<Argument>>,
}

/// A ROSE returnResult: the positive answer to an invoke.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnResult {
    /// The invoke id of the request.
    pub invoke_id: Option<i64>,
    /// The operation code and result, when the answer carries one.
    pub result: Option<(Code, Payload<OpResult>)>,
}

/// A ROSE returnError: the negative answer to an invoke.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnError {
    /// The invoke id of the request.
    pub invoke_id: Option<i64>,
    /// The error code.
    pub errcode: Code,
    /// The error parameter (for CSTA, `UniversalFailure`).
    pub parameter: Option<Payload<ErrorParameter>>,
}

/// A ROSE reject.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// The invoke id of the rejected PDU; `None` is the `absent` form.
    pub invoke_id: Option<i64>,
    /// What was wrong.
    pub problem: RejectProblem,
}

/// An ACSE APDU (AARQ, AARE, RLRQ, RLRE, ABRT …) with the CSTA user information taken out.
#[derive(Debug, Clone, PartialEq)]
pub struct Acse {
    /// The APDU, without the user information that is held in the fields below.
    pub apdu: ACSEApdu,
    /// `ACSEUserInformationForCSTA` (CSTA version, authentication), when present.
    pub csta_user_information: Option<ACSEUserInformationForCSTA>,
    /// The direct reference of the user information, when it is not the ECMA-285 default.
    pub user_information_oid: Option<Oid>,
}

/// One CSTA PDU.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Pdu {
    /// ROSE invoke.
    Invoke(Invoke),
    /// ROSE returnResult.
    ReturnResult(ReturnResult),
    /// ROSE returnError.
    ReturnError(ReturnError),
    /// ROSE reject.
    Reject(Reject),
    /// ACSE.
    Acse(Acse),
}

fn invoke_id(v: &InvokeId, tlv: &Tlv) -> Result<Option<i64>, Error> {
    match v {
        InvokeId::Present(n) => Ok(Some(*n)),
        InvokeId::Absent(()) => Ok(None),
        InvokeId::Unrecognized(_) => Err(Error::InvalidValue {
            offset: tlv.start,
            what: "InvokeId",
        }),
    }
}

fn to_invoke_id(v: Option<i64>) -> InvokeId {
    v.map_or(InvokeId::Absent(()), InvokeId::Present)
}

fn local_code(c: &Code) -> Option<i64> {
    match c {
        Code::Local(n) => Some(*n),
        _ => None,
    }
}

/// Decodes the value inside a raw element with `f`.
fn typed<T>(any: &Any, f: impl FnOnce(&Dec<'_>, &Tlv) -> Result<T, DecError>) -> Result<T, Error> {
    let d = Dec::new(&any.0);
    let t = read_tlv(&any.0, 0, any.0.len(), 0)?;
    Ok(f(&d, &t)?)
}

impl Pdu {
    /// The invoke id, for ROSE PDUs.
    pub fn invoke_id(&self) -> Option<i64> {
        match self {
            Self::Invoke(v) => v.invoke_id,
            Self::ReturnResult(v) => v.invoke_id,
            Self::ReturnError(v) => v.invoke_id,
            Self::Reject(v) => v.invoke_id,
            Self::Acse(_) => None,
        }
    }

    fn from_rose(r: ROSEPDU, tlv: &Tlv) -> Result<Self, Error> {
        Ok(match r {
            ROSEPDU::Invoke(i) => {
                let op = local_code(&i.opcode).and_then(Operation::from_code);
                let argument = match (i.argument, op) {
                    (None, _) => None,
                    (Some(a), Some(op)) => {
                        let mut p = None;
                        if typed(&a, |d, t| Argument::dec_payload(op, d, t, &mut p))? {
                            p
                        } else {
                            Some(Payload::Raw(a))
                        }
                    }
                    (Some(a), None) => Some(Payload::Raw(a)),
                };
                Self::Invoke(Invoke {
                    invoke_id: invoke_id(&i.invoke_id, tlv)?,
                    linked_id: i.linked_id,
                    opcode: i.opcode,
                    argument,
                })
            }
            ROSEPDU::ReturnResult(r) => {
                let result = match r.result {
                    None => None,
                    Some(rr) => {
                        let op = local_code(&rr.opcode).and_then(Operation::from_code);
                        let payload = match op {
                            Some(op) => match typed(&rr.result, |d, t| OpResult::dec(op, d, t))? {
                                Some(v) => Payload::Typed(v),
                                None => Payload::Raw(rr.result),
                            },
                            None => Payload::Raw(rr.result),
                        };
                        Some((rr.opcode, payload))
                    }
                };
                Self::ReturnResult(ReturnResult {
                    invoke_id: invoke_id(&r.invoke_id, tlv)?,
                    result,
                })
            }
            ROSEPDU::ReturnError(e) => {
                let code = local_code(&e.errcode).and_then(ErrorCode::from_code);
                let parameter = match (e.parameter, code) {
                    (None, _) => None,
                    (Some(p), Some(code)) => Some(Payload::Typed(typed(&p, |d, t| {
                        ErrorParameter::dec(code, d, t)
                    })?)),
                    (Some(p), None) => Some(Payload::Raw(p)),
                };
                Self::ReturnError(ReturnError {
                    invoke_id: invoke_id(&e.invoke_id, tlv)?,
                    errcode: e.errcode,
                    parameter,
                })
            }
            ROSEPDU::Reject(r) => Self::Reject(Reject {
                invoke_id: invoke_id(&r.invoke_id, tlv)?,
                problem: r.problem,
            }),
            ROSEPDU::Unrecognized(_) => {
                return Err(Error::UnexpectedTag {
                    offset: tlv.start,
                    found: tlv.tag,
                    context: "ROSE PDU",
                });
            }
        })
    }

    fn to_rose(&self) -> Option<ROSEPDU> {
        use crate::generated::types as t;
        let raw = |p: &Payload<Argument>| match p {
            Payload::Typed(a) => {
                let mut out = Vec::new();
                a.enc(&mut out);
                Any(Bytes::from(out))
            }
            Payload::Raw(a) => a.clone(),
        };
        Some(match self {
            Self::Invoke(i) => ROSEPDU::Invoke(t::Invoke {
                invoke_id: to_invoke_id(i.invoke_id),
                linked_id: i.linked_id.clone(),
                opcode: i.opcode.clone(),
                argument: i.argument.as_ref().map(raw),
                unrecognized: Default::default(),
            }),
            Self::ReturnResult(r) => ROSEPDU::ReturnResult(t::ReturnResult {
                invoke_id: to_invoke_id(r.invoke_id),
                result: r.result.as_ref().map(|(code, p)| t::ReturnResultResult {
                    opcode: code.clone(),
                    result: match p {
                        Payload::Typed(v) => {
                            let mut out = Vec::new();
                            v.enc(&mut out);
                            Any(Bytes::from(out))
                        }
                        Payload::Raw(a) => a.clone(),
                    },
                    unrecognized: Default::default(),
                }),
                unrecognized: Default::default(),
            }),
            Self::ReturnError(e) => ROSEPDU::ReturnError(t::ReturnError {
                invoke_id: to_invoke_id(e.invoke_id),
                errcode: e.errcode.clone(),
                parameter: e.parameter.as_ref().map(|p| match p {
                    Payload::Typed(v) => {
                        let mut out = Vec::new();
                        v.enc(&mut out);
                        Any(Bytes::from(out))
                    }
                    Payload::Raw(a) => a.clone(),
                }),
                unrecognized: Default::default(),
            }),
            Self::Reject(r) => ROSEPDU::Reject(t::Reject {
                invoke_id: to_invoke_id(r.invoke_id),
                problem: r.problem.clone(),
                unrecognized: Default::default(),
            }),
            Self::Acse(_) => return None,
        })
    }
}

fn user_information(apdu: &mut ACSEApdu) -> Option<&mut Option<AssociationData>> {
    match apdu {
        ACSEApdu::Aarq(a) => Some(&mut a.user_information),
        ACSEApdu::Aare(a) => Some(&mut a.user_information),
        ACSEApdu::Rlrq(a) => Some(&mut a.user_information),
        ACSEApdu::Rlre(a) => Some(&mut a.user_information),
        ACSEApdu::Abrt(a) => Some(&mut a.user_information),
        _ => None,
    }
}

impl Acse {
    fn from_apdu(mut apdu: ACSEApdu) -> Result<Self, Error> {
        let mut csta = None;
        let mut oid = None;
        if let Some(slot) = user_information(&mut apdu) {
            if let Some([ext]) = slot.as_deref()
                && let EXTERNALtEncoding::SingleASN1Type(any) = &ext.encoding
            {
                csta = Some(typed(any, ops::dec_csta_user_information)?);
                let default = Oid::from_dotted(CSTA3_USER_INFORMATION_OID);
                if ext.direct_reference != default {
                    oid = ext.direct_reference.clone();
                }
            }
            if csta.is_some() {
                *slot = None;
            }
        }
        Ok(Self {
            apdu,
            csta_user_information: csta,
            user_information_oid: oid,
        })
    }

    fn to_apdu(&self) -> ACSEApdu {
        let mut apdu = self.apdu.clone();
        if let (Some(ui), Some(slot)) = (&self.csta_user_information, user_information(&mut apdu)) {
            let mut out = Vec::new();
            ops::enc_csta_user_information(ui, &mut out);
            let oid = self
                .user_information_oid
                .clone()
                .or_else(|| Oid::from_dotted(CSTA3_USER_INFORMATION_OID));
            *slot = Some(vec![EXTERNALt {
                direct_reference: oid,
                indirect_reference: None,
                data_value_descriptor: None,
                encoding: EXTERNALtEncoding::SingleASN1Type(Any(Bytes::from(out))),
                unrecognized: Default::default(),
            }]);
        }
        apdu
    }
}

/// The hot path: a ROSE invoke (requests and every event report) decoded into `out`, its typed
/// argument written in place, without keeping the argument as a raw element first.
fn decode_invoke(d: &Dec<'_>, tlv: &Tlv, out: &mut Pdu) -> Result<(), Error> {
    use crate::ber::Ber;
    let missing = |field| Error::MissingField {
        offset: tlv.start,
        type_name: "Invoke",
        field,
    };
    d.need_constructed(tlv)?;
    let mut it = d.children(tlv)?;
    // One header slot for every child (see `Children::next_into`).
    let mut c = Tlv::EMPTY;
    if !it.next_into(&mut c)? {
        return Err(missing("invokeId"));
    }
    let invoke_id = match (c.tag.class(), c.tag.number()) {
        (0, 2) => Some(i64::dec(d, &c)?),
        (0, 5) => {
            <()>::dec(d, &c)?;
            None
        }
        _ => return Err(d.unexpected(&c, "InvokeId").into()),
    };
    if !it.next_into(&mut c)? {
        return Err(missing("opcode"));
    }
    let mut linked_id = None;
    if InvokeLinkedId::has_tag(c.tag) {
        linked_id = Some(InvokeLinkedId::dec(d, &c)?);
        if !it.next_into(&mut c)? {
            return Err(missing("opcode"));
        }
    }
    if !Code::has_tag(c.tag) {
        return Err(d.unexpected(&c, "Code").into());
    }
    let opcode = Code::dec(d, &c)?;
    let op = local_code(&opcode).and_then(Operation::from_code);
    *out = Pdu::Invoke(Invoke {
        invoke_id,
        linked_id,
        opcode,
        argument: None,
    });
    let Pdu::Invoke(inv) = out else {
        return Err(Error::InvalidValue {
            offset: tlv.start,
            what: "Invoke",
        });
    };
    if it.next_into(&mut c)? {
        let typed = match op {
            Some(op) => Argument::dec_payload(op, d, &c, &mut inv.argument)?,
            None => false,
        };
        if !typed {
            inv.argument = Some(Payload::Raw(d.any(&c)));
        }
    }
    if it.next_into(&mut c)? {
        return Err(d
            .unexpected(&c, "Invoke (element after the argument)")
            .into());
    }
    Ok(())
}

/// Decodes one unframed PDU that must fill `input` exactly.
pub fn decode(input: &Bytes) -> Result<Pdu, Error> {
    decode_with_limit(input, DEFAULT_MAX_PDU)
}

/// Like [`decode`], with a maximum PDU size.
pub fn decode_with_limit(input: &Bytes, max: usize) -> Result<Pdu, Error> {
    let mut pdu = placeholder();
    let used = decode_prefix_into(input, max, &mut pdu)?;
    if used != input.len() {
        return Err(Error::TrailingBytes {
            offset: used,
            count: input.len() - used,
        });
    }
    Ok(pdu)
}

/// Decodes the PDU at the start of `input`; returns it and the bytes it took.
pub fn decode_prefix(input: &Bytes, max: usize) -> Result<(Pdu, usize), Error> {
    let mut pdu = placeholder();
    let used = decode_prefix_into(input, max, &mut pdu)?;
    Ok((pdu, used))
}

/// A value to decode into: cheap to build and to drop.
fn placeholder() -> Pdu {
    Pdu::Reject(Reject {
        invoke_id: None,
        problem: RejectProblem::default(),
    })
}

/// Decodes the PDU at the start of `input` into `out`; returns the bytes it took.
fn decode_prefix_into(input: &Bytes, max: usize, out: &mut Pdu) -> Result<usize, Error> {
    let first = *input.first().ok_or(Error::Truncated { offset: 0 })?;
    let tlv = read_tlv(input, 0, input.len().min(max.saturating_add(8)), 0)?;
    if tlv.end > max {
        return Err(Error::TooLong { len: tlv.end, max });
    }
    let d = Dec::new(input);
    match first {
        0xA1 => decode_invoke(&d, &tlv, out)?,
        0xA2..=0xA4 => *out = Pdu::from_rose(ops::dec_rose_pdu(&d, &tlv)?, &tlv)?,
        0x60..=0x64 => *out = Pdu::Acse(Acse::from_apdu(ops::dec_acse_apdu(&d, &tlv)?)?),
        octet => return Err(Error::NotAPdu { offset: 0, octet }),
    }
    Ok(tlv.end)
}

/// Encodes one PDU (unframed), appending to `out`.
pub fn encode(pdu: &Pdu, out: &mut Vec<u8>) {
    match pdu {
        Pdu::Acse(a) => ops::enc_acse_apdu(&a.to_apdu(), out),
        rose => {
            if let Some(r) = rose.to_rose() {
                ops::enc_rose_pdu(&r, out);
            }
        }
    }
}

/// Encodes one PDU into a new buffer.
pub fn encode_to_vec(pdu: &Pdu) -> Vec<u8> {
    let mut out = Vec::new();
    encode(pdu, &mut out);
    out
}

// ------------------------------------------------------------------------------------- JER

fn code_jer(c: &Code) -> Value {
    match c {
        Code::Local(n) => Value::from(*n),
        Code::Global(o) => Value::String(o.to_string()),
        Code::Unrecognized(a) => a.to_jer(),
    }
}

fn code_from_jer(v: &Value) -> Result<Code, Error> {
    match v {
        Value::Number(n) => n.as_i64().map(Code::Local).ok_or(Error::Json {
            at: "opcode",
            problem: JsonProblem::WrongType,
        }),
        Value::String(s) => Oid::from_dotted(s).map(Code::Global).ok_or(Error::Json {
            at: "opcode",
            problem: JsonProblem::WrongType,
        }),
        _ => Err(Error::Json {
            at: "opcode",
            problem: JsonProblem::WrongType,
        }),
    }
}

fn iid_jer(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

fn iid_from_jer(o: &Map<String, Value>) -> Result<Option<i64>, Error> {
    match o.get("invokeId") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(Error::Json {
            at: "invokeId",
            problem: JsonProblem::WrongType,
        }),
    }
}

fn raw_from_hex(v: &Value, at: &'static str) -> Result<Any, Error> {
    Any::from_jer(v).map_err(|_| Error::Json {
        at,
        problem: JsonProblem::BadHex,
    })
}

fn acse_kind(apdu: &ACSEApdu) -> &'static str {
    match apdu {
        ACSEApdu::Aarq(_) => "aarq",
        ACSEApdu::Aare(_) => "aare",
        ACSEApdu::Rlrq(_) => "rlrq",
        ACSEApdu::Rlre(_) => "rlre",
        ACSEApdu::Abrt(_) => "abrt",
        ACSEApdu::Adt(_) => "adt",
        ACSEApdu::Acrq(_) => "acrq",
        ACSEApdu::Acrp(_) => "acrp",
        ACSEApdu::Unrecognized(_) => "unrecognized",
    }
}

/// Resolves the operation of a JER document from `operation` (a name) or `opcode`.
fn jer_operation(o: &Map<String, Value>) -> Result<(Code, Option<Operation>), Error> {
    if let Some(name) = o.get("operation").and_then(Value::as_str) {
        let op = Operation::from_name(name).ok_or(Error::Json {
            at: "operation",
            problem: JsonProblem::UnknownOperation,
        })?;
        return Ok((Code::Local(op.code()), Some(op)));
    }
    let code = code_from_jer(o.get("opcode").ok_or(Error::Json {
        at: "ROSE",
        problem: JsonProblem::Missing("opcode"),
    })?)?;
    let op = local_code(&code).and_then(Operation::from_code);
    Ok((code, op))
}

impl Pdu {
    /// The PDU in the reference oracle's JSON shape: `{"rose": "invoke", "invokeId", "operation",
    /// "opcode", "argument"}` and so on for ROSE, `{"acse": "aarq", "apdu",
    /// "cstaUserInformation"}` for ACSE, values in X.697 JER.
    pub fn to_jer(&self) -> Value {
        let mut m = Map::new();
        match self {
            Self::Invoke(i) => {
                m.insert("rose".into(), "invoke".into());
                m.insert("invokeId".into(), iid_jer(i.invoke_id));
                if let Some(op) = local_code(&i.opcode).and_then(Operation::from_code) {
                    m.insert("operation".into(), op.name().into());
                }
                m.insert("opcode".into(), code_jer(&i.opcode));
                if let Some(InvokeLinkedId::Present(n)) = &i.linked_id {
                    m.insert("linkedId".into(), Value::from(*n));
                }
                match &i.argument {
                    Some(Payload::Typed(a)) => {
                        m.insert("argument".into(), a.to_jer());
                    }
                    Some(Payload::Raw(a)) => {
                        m.insert("argumentHex".into(), a.to_jer());
                    }
                    None => {}
                }
            }
            Self::ReturnResult(r) => {
                m.insert("rose".into(), "returnResult".into());
                m.insert("invokeId".into(), iid_jer(r.invoke_id));
                if let Some((code, p)) = &r.result {
                    if let Some(op) = local_code(code).and_then(Operation::from_code) {
                        m.insert("operation".into(), op.name().into());
                    }
                    m.insert("opcode".into(), code_jer(code));
                    match p {
                        Payload::Typed(v) => m.insert("result".into(), v.to_jer()),
                        Payload::Raw(a) => m.insert("resultHex".into(), a.to_jer()),
                    };
                }
            }
            Self::ReturnError(e) => {
                m.insert("rose".into(), "returnError".into());
                m.insert("invokeId".into(), iid_jer(e.invoke_id));
                if let Some(code) = local_code(&e.errcode).and_then(ErrorCode::from_code) {
                    m.insert("error".into(), code.name().into());
                }
                m.insert("errcode".into(), code_jer(&e.errcode));
                match &e.parameter {
                    Some(Payload::Typed(v)) => {
                        m.insert("parameter".into(), v.to_jer());
                    }
                    Some(Payload::Raw(a)) => {
                        m.insert("parameterHex".into(), a.to_jer());
                    }
                    None => {}
                }
            }
            Self::Reject(r) => {
                m.insert("rose".into(), "reject".into());
                m.insert("invokeId".into(), iid_jer(r.invoke_id));
                m.insert("problem".into(), r.problem.to_jer());
            }
            Self::Acse(a) => {
                m.insert("acse".into(), acse_kind(&a.apdu).into());
                let apdu = match a.apdu.to_jer() {
                    Value::Object(mut o) => o
                        .values_mut()
                        .next()
                        .map(std::mem::take)
                        .unwrap_or(Value::Null),
                    v => v,
                };
                m.insert("apdu".into(), apdu);
                if let Some(ui) = &a.csta_user_information {
                    m.insert("cstaUserInformation".into(), ui.to_jer());
                }
                if let Some(oid) = &a.user_information_oid {
                    m.insert("userInformationOid".into(), oid.to_jer());
                }
            }
        }
        Value::Object(m)
    }

    /// Reads a PDU from the reference oracle's JSON shape (what [`Pdu::to_jer`] writes).
    pub fn from_jer(v: &Value) -> Result<Self, Error> {
        let o = v.as_object().ok_or(Error::Json {
            at: "PDU",
            problem: JsonProblem::WrongType,
        })?;
        if let Some(kind) = o.get("acse").and_then(Value::as_str) {
            let apdu_body = o
                .get("apdu")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            let apdu = ACSEApdu::from_jer(&crate::jer::choice(kind, apdu_body))?;
            let csta_user_information = o
                .get("cstaUserInformation")
                .map(ACSEUserInformationForCSTA::from_jer)
                .transpose()?;
            let user_information_oid =
                o.get("userInformationOid").map(Oid::from_jer).transpose()?;
            return Ok(Self::Acse(Acse {
                apdu,
                csta_user_information,
                user_information_oid,
            }));
        }
        let kind = o.get("rose").and_then(Value::as_str).ok_or(Error::Json {
            at: "PDU",
            problem: JsonProblem::Missing("rose"),
        })?;
        let invoke_id = iid_from_jer(o)?;
        Ok(match kind {
            "invoke" => {
                let (opcode, op) = jer_operation(o)?;
                let argument = match (o.get("argument"), o.get("argumentHex"), op) {
                    (Some(a), _, Some(op)) => Argument::from_jer(op, a)?.map(Payload::Typed),
                    (Some(_), _, None) => {
                        return Err(Error::Json {
                            at: "argument",
                            problem: JsonProblem::UnknownOperation,
                        });
                    }
                    (None, Some(h), _) => Some(Payload::Raw(raw_from_hex(h, "argumentHex")?)),
                    (None, None, _) => None,
                };
                let linked_id = o
                    .get("linkedId")
                    .map(|v| {
                        v.as_i64().map(InvokeLinkedId::Present).ok_or(Error::Json {
                            at: "linkedId",
                            problem: JsonProblem::WrongType,
                        })
                    })
                    .transpose()?;
                Self::Invoke(Invoke {
                    invoke_id,
                    linked_id,
                    opcode,
                    argument,
                })
            }
            "returnResult" => {
                let result = if o.contains_key("result") || o.contains_key("resultHex") {
                    let (code, op) = jer_operation(o)?;
                    let p = match (o.get("result"), o.get("resultHex"), op) {
                        (Some(r), _, Some(op)) => {
                            Payload::Typed(OpResult::from_jer(op, r)?.ok_or(Error::Json {
                                at: "result",
                                problem: JsonProblem::UnknownOperation,
                            })?)
                        }
                        (_, Some(h), _) => Payload::Raw(raw_from_hex(h, "resultHex")?),
                        _ => {
                            return Err(Error::Json {
                                at: "result",
                                problem: JsonProblem::UnknownOperation,
                            });
                        }
                    };
                    Some((code, p))
                } else {
                    None
                };
                Self::ReturnResult(ReturnResult { invoke_id, result })
            }
            "returnError" => {
                let (errcode, code) = if let Some(name) = o.get("error").and_then(Value::as_str) {
                    let e = ErrorCode::from_name(name).ok_or(Error::Json {
                        at: "error",
                        problem: JsonProblem::UnknownOperation,
                    })?;
                    (Code::Local(e.code()), Some(e))
                } else {
                    let c = code_from_jer(o.get("errcode").ok_or(Error::Json {
                        at: "returnError",
                        problem: JsonProblem::Missing("errcode"),
                    })?)?;
                    let e = local_code(&c).and_then(ErrorCode::from_code);
                    (c, e)
                };
                let parameter = match (o.get("parameter"), o.get("parameterHex"), code) {
                    (Some(p), _, Some(e)) => Some(Payload::Typed(ErrorParameter::from_jer(e, p)?)),
                    (_, Some(h), _) => Some(Payload::Raw(raw_from_hex(h, "parameterHex")?)),
                    (Some(_), None, None) => {
                        return Err(Error::Json {
                            at: "parameter",
                            problem: JsonProblem::UnknownOperation,
                        });
                    }
                    (None, None, _) => None,
                };
                Self::ReturnError(ReturnError {
                    invoke_id,
                    errcode,
                    parameter,
                })
            }
            "reject" => {
                let problem = RejectProblem::from_jer(o.get("problem").ok_or(Error::Json {
                    at: "reject",
                    problem: JsonProblem::Missing("problem"),
                })?)?;
                Self::Reject(Reject { invoke_id, problem })
            }
            _ => {
                return Err(Error::Json {
                    at: "rose",
                    problem: JsonProblem::UnknownAlternative,
                });
            }
        })
    }
}
