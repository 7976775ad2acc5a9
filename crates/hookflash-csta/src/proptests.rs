//! Property tests over the whole generated type space.

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use proptest::prelude::*;

use crate::generated::ops::{Argument, OpResult};
use crate::generated::types::{Code, InvokeLinkedId};
use crate::pdu::{self, Invoke, Payload, Pdu, ReturnResult};

fn invoke(argument: Argument, invoke_id: Option<i64>) -> Pdu {
    Pdu::Invoke(Invoke {
        invoke_id,
        linked_id: None::<InvokeLinkedId>,
        opcode: Code::Local(argument.operation().code()),
        argument: Some(Payload::Typed(argument)),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// encode → decode is the identity for every generated argument of every operation.
    #[test]
    fn arguments_round_trip(seed in proptest::collection::vec(any::<u8>(), 64..2048), iid in proptest::option::of(any::<i64>())) {
        let mut u = Unstructured::new(&seed);
        if let Ok(arg) = Argument::arbitrary(&mut u) {
            let p = invoke(arg, iid);
            let wire = Bytes::from(pdu::encode_to_vec(&p));
            let back = pdu::decode_with_limit(&wire, usize::MAX).map_err(|e| TestCaseError::fail(format!("{e}: {p:?}")))?;
            prop_assert_eq!(back, p);
        }
    }

    /// encode → decode is the identity for every generated result.
    #[test]
    fn results_round_trip(seed in proptest::collection::vec(any::<u8>(), 64..2048), iid in any::<i64>()) {
        let mut u = Unstructured::new(&seed);
        if let Ok(res) = OpResult::arbitrary(&mut u) {
            let p = Pdu::ReturnResult(ReturnResult {
                invoke_id: Some(iid),
                result: Some((Code::Local(res.operation().code()), Payload::Typed(res))),
            });
            let wire = Bytes::from(pdu::encode_to_vec(&p));
            let back = pdu::decode_with_limit(&wire, usize::MAX).map_err(|e| TestCaseError::fail(format!("{e}: {p:?}")))?;
            prop_assert_eq!(back, p);
        }
    }

    /// JER → value → JER is the identity for every generated argument (text kept to UTF-8).
    #[test]
    fn typed_documents_round_trip(seed in proptest::collection::vec(any::<u8>(), 64..2048)) {
        let mut u = Unstructured::new(&seed);
        if let Ok(arg) = Argument::arbitrary(&mut u) {
            let p = invoke(arg, Some(1));
            let doc = p.to_json();
            // Character strings from arbitrary bytes may not be UTF-8; JSON carries text only.
            if !doc.to_string().contains('\u{fffd}') {
                let back = Pdu::from_json(&doc).map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
                prop_assert_eq!(back.to_json(), doc);
            }
        }
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = pdu::decode(&Bytes::from(b));
    }

    /// Damaged real PDUs (bytes flipped, truncated, extended) never panic the decoder, and
    /// whatever decodes re-encodes without panicking.
    #[test]
    fn damaged_pdus_never_panic(which in 0usize..1000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let corpus = corpus();
        let mut b = corpus[which % corpus.len()].clone();
        for (at, v) in flips {
            let n = b.len();
            b[at % n] = v;
        }
        let cut = cut % (b.len() + 1);
        for candidate in [b.clone(), b[..cut].to_vec()] {
            if let Ok(p) = pdu::decode(&Bytes::from(candidate)) {
                let _ = pdu::encode_to_vec(&p);
                let _ = p.to_json();
            }
        }
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/seed0");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ber"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    v.sort();
    v
}

/// The generators above must produce values, not mostly give up.
#[test]
fn generators_mostly_succeed() {
    let mut ok = 0;
    let mut ops = std::collections::HashSet::new();
    for i in 0..500u32 {
        let seed: Vec<u8> = (0..1024u32)
            .map(|k| (k.wrapping_mul(2654435761).wrapping_add(i * 7919) >> 13) as u8)
            .collect();
        if let Ok(a) = Argument::arbitrary(&mut Unstructured::new(&seed)) {
            ok += 1;
            ops.insert(a.operation());
        }
    }
    assert!(ok > 400, "only {ok} of 500 seeds gave an argument");
    assert!(ops.len() > 30, "only {} operations generated", ops.len());
}
