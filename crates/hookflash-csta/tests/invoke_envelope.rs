//! The ROSE invoke envelope around event reports: every shape the direct decoding path takes
//! (typed, raw, absent argument, linked id) and every way it can be malformed, against one
//! event PDU of the reference corpus.

use bytes::Bytes;
use hookflash_csta::error::Error;
use hookflash_csta::pdu::{self, Payload, Pdu};

/// `delivered_1` of the reference corpus: invoke id 10, opcode 21 (cSTAEventReport), and an
/// 73-octet argument at offset 8.
fn delivered() -> Vec<u8> {
    let b = include_bytes!("vectors/seed0/delivered_1.ber").to_vec();
    assert_eq!(
        &b[..9],
        &[0xA1, 0x51, 0x02, 0x01, 0x0A, 0x02, 0x01, 0x15, 0x30]
    );
    assert_eq!(b.len(), 0x53);
    b
}

fn invoke(p: &Pdu) -> &pdu::Invoke {
    match p {
        Pdu::Invoke(i) => i,
        other => panic!("not an invoke: {other:?}"),
    }
}

#[test]
fn an_event_report_decodes_typed_and_writes_back_the_same_bytes() {
    let b = delivered();
    let p = pdu::decode(&Bytes::from(b.clone())).unwrap();
    let i = invoke(&p);
    assert_eq!(i.invoke_id, Some(10));
    assert!(i.linked_id.is_none());
    assert!(matches!(i.argument, Some(Payload::Typed(_))));
    assert_eq!(pdu::encode_to_vec(&p), b);
}

#[test]
fn an_unknown_operation_keeps_its_argument_raw() {
    let mut b = delivered();
    b[7] = 0x7F; // opcode 127: no CSTA operation
    let p = pdu::decode(&Bytes::from(b.clone())).unwrap();
    let i = invoke(&p);
    match &i.argument {
        Some(Payload::Raw(a)) => assert_eq!(a.as_bytes(), &b[8..]),
        other => panic!("argument {other:?}"),
    }
    assert_eq!(pdu::encode_to_vec(&p), b);
}

#[test]
fn an_invoke_without_argument_and_one_with_a_linked_id() {
    let p = pdu::decode(&Bytes::from_static(&[
        0xA1, 0x06, 0x02, 0x01, 0x0A, 0x02, 0x01, 0x15,
    ]))
    .unwrap();
    assert!(invoke(&p).argument.is_none());
    let mut b = delivered();
    b.splice(5..5, [0x80, 0x01, 0x03]);
    b[1] += 3;
    let p = pdu::decode(&Bytes::from(b.clone())).unwrap();
    assert!(invoke(&p).linked_id.is_some());
    assert!(matches!(invoke(&p).argument, Some(Payload::Typed(_))));
    assert_eq!(pdu::encode_to_vec(&p), b);
}

#[test]
fn malformed_envelopes_are_errors_that_name_what_is_wrong() {
    // The argument of a known operation with the wrong tag.
    let mut b = delivered();
    b[8] = 0x31;
    assert!(matches!(
        pdu::decode(&Bytes::from(b)),
        Err(Error::UnexpectedTag { offset: 8, .. })
    ));
    // An element after the argument.
    let mut b = delivered();
    b.extend_from_slice(&[0x05, 0x00]);
    b[1] += 2;
    assert!(matches!(
        pdu::decode(&Bytes::from(b)),
        Err(Error::UnexpectedTag { offset: 0x53, .. })
    ));
    // No opcode; no invoke id.
    for short in [&[0xA1, 0x03, 0x02, 0x01, 0x0A][..], &[0xA1, 0x00]] {
        assert!(matches!(
            pdu::decode(&Bytes::copy_from_slice(short)),
            Err(Error::MissingField { .. })
        ));
    }
    // An invoke id of the wrong type.
    let mut b = delivered();
    b[2] = 0x04;
    assert!(matches!(
        pdu::decode(&Bytes::from(b)),
        Err(Error::UnexpectedTag { offset: 2, .. })
    ));
}

#[test]
fn trailing_bytes_are_refused_by_decode_and_left_by_decode_prefix() {
    let mut b = delivered();
    b.extend_from_slice(&[0xA1, 0x00]);
    let b = Bytes::from(b);
    assert!(matches!(
        pdu::decode(&b),
        Err(Error::TrailingBytes {
            offset: 0x53,
            count: 2
        })
    ));
    let (p, used) = pdu::decode_prefix(&b, pdu::DEFAULT_MAX_PDU).unwrap();
    assert_eq!(used, 0x53);
    assert_eq!(pdu::encode_to_vec(&p), &b[..used]);
    // A PDU longer than the maximum is refused, however the limit cuts it.
    for max in [0x40, 0x50] {
        assert!(matches!(
            pdu::decode_prefix(&b, max),
            Err(Error::TooLong { .. } | Error::Truncated { .. })
        ));
    }
}
