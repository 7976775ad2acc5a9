use bytes::Bytes;

use super::*;
use crate::pdu;

fn corpus(seed: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(seed);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ber"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Every corpus message that has an ECMA-323 form survives BER → XML → typed value unchanged.
#[test]
fn ber_to_xml_and_back_is_the_identity() {
    let mut converted = 0;
    let mut failures = Vec::new();
    for seed in ["seed0", "seed1", "seed42"] {
        for (name, ber) in corpus(seed) {
            let mut p = pdu::decode(&Bytes::from(ber)).unwrap();
            // The ECMA-323 header carries 4-digit invoke ids.
            match &mut p {
                Pdu::Acse(_) | Pdu::Reject(_) => continue,
                Pdu::Invoke(i) => i.invoke_id = i.invoke_id.map(|n| n.rem_euclid(9999)),
                Pdu::ReturnResult(r) => r.invoke_id = r.invoke_id.map(|n| n.rem_euclid(9999)),
                Pdu::ReturnError(e) => e.invoke_id = e.invoke_id.map(|n| n.rem_euclid(9999)),
            }
            let mut xml = Vec::new();
            let iid = match encode(&p, &Edition::ED4, &mut xml) {
                Ok(i) => i,
                Err(e) => {
                    failures.push(format!("{seed}/{name}: encode: {e}"));
                    continue;
                }
            };
            match decode(&xml, Some(iid)) {
                Ok(m) if m.pdu == p => converted += 1,
                Ok(m) => failures.push(format!(
                    "{seed}/{name}: differs\n  xml  {}\n  got  {}\n  want {}",
                    String::from_utf8_lossy(&xml),
                    m.pdu.to_json(),
                    p.to_json()
                )),
                Err(e) => failures.push(format!(
                    "{seed}/{name}: decode: {e}\n  xml {}",
                    String::from_utf8_lossy(&xml)
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(converted > 800, "{converted}");
}

fn event_doc(xml: &str) -> Value {
    decode(xml.as_bytes(), Some(9999))
        .unwrap_or_else(|e| panic!("{e}: {xml}"))
        .pdu
        .to_json()
}

/// The shape Unify OpenScape Voice sends (ECMA-323 ed4, unprefixed, SIP-style devices,
/// hex call ids, Siemens private data in its own namespace).
#[test]
fn openscape_style_delivered_event() {
    let xml = OPENSCAPE_DELIVERED;
    let m = decode(xml.as_bytes(), Some(9999)).unwrap();
    assert_eq!(m.namespace.as_deref(), Some(Edition::ED4.namespace()));
    let d = m.pdu.to_json();
    assert_eq!(d["kind"], "event");
    assert_eq!(d["event"], "delivered");
    assert_eq!(d["invokeId"], 9999);
    assert_eq!(d["crossRefIdentifier"], "1136370025");
    let v = &d["value"];
    assert_eq!(
        v["connection"]["both"]["callID"],
        "FF00010000000000CFB6706408000000"
    );
    assert_eq!(
        v["connection"]["both"]["deviceID"]["staticID"]["deviceIdentifier"]["dialingNumber"],
        "+15551230001"
    );
    assert_eq!(
        v["callingDevice"]["deviceIdentifier"]["deviceIdentifier"]["explicitPublic"]["international"],
        "4930123456"
    );
    assert_eq!(v["lastRedirectionDevice"]["notKnown"], Value::Null);
    assert_eq!(v["cause"], "newCall");
    // The vendor's private data is kept, as raw XML.
    let raw = v["extensions"]["privateData"][0]["string"]
        .as_str()
        .unwrap();
    let raw = String::from_utf8(parse_hex(raw).unwrap()).unwrap();
    assert!(
        raw.contains("scx:callingDeviceName") && raw.contains("Alice &amp; Co"),
        "{raw}"
    );
    // And written back as XML, not as hex.
    let mut out = Vec::new();
    encode(&m.pdu, &Edition::ED4, &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("<private><scx:callingDeviceName"), "{text}");
    assert_eq!(decode(&out, Some(9999)).unwrap().pdu, m.pdu);
}

/// Avaya AES DMCC style: ed3 namespace, decimal call ids that are not hex, `csta:` prefixes,
/// and the one-r `TransferedEvent`.
#[test]
fn avaya_style_transfered_event_with_prefixes() {
    let xml = AVAYA_TRANSFERED;
    let d = event_doc(xml);
    assert_eq!(d["event"], "transferred");
    let v = &d["value"];
    // "123" is not hex: it is kept as the characters it is.
    assert_eq!(v["primaryOldCall"]["both"]["callID"], "313233");
    let items = v["transferredConnections"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["newConnection"]["both"]["callID"], "313234");
    // Written back, the call id is "123" again, not hex.
    let p = Pdu::from_json(&d).unwrap();
    let mut out = Vec::new();
    encode(&p, &Edition::ED3, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("<callID>123</callID>") && text.starts_with("<?xml"),
        "{text}"
    );
    assert!(text.contains("<TransferedEvent xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\">"), "{text}");
    // The two-r spelling reads the same.
    let two_r = xml.replace("TransferedEvent", "TransferredEvent");
    assert_eq!(event_doc(&two_r), d);
}

#[test]
fn every_edition_namespace_is_read() {
    for ns in [
        "http://www.ecma.ch/standards/ecma-323/csta/ed2",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed3",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed4",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed5",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed6",
    ] {
        let xml = format!(
            r#"<HeldEvent xmlns="{ns}"><monitorCrossRefID>01</monitorCrossRefID><heldConnection><callID>02</callID><deviceID>100</deviceID></heldConnection><holdingDevice><deviceIdentifier>100</deviceIdentifier></holdingDevice><localConnectionInfo>hold</localConnectionInfo><cause>normal</cause></HeldEvent>"#
        );
        let m = decode(xml.as_bytes(), Some(9999)).unwrap();
        assert_eq!(m.namespace.as_deref(), Some(ns));
        assert_eq!(Edition::from_uri(ns).namespace(), ns);
    }
    assert_eq!(
        Edition::from_uri("http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6"),
        Edition::ED3
    );
}

#[test]
fn requests_responses_and_errors() {
    let make = r#"<MakeCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><callingDevice typeOfNumber="explicitPublic:subscriber">4711</callingDevice><calledDirectoryNumber>+4930123456</calledDirectoryNumber></MakeCall>"#;
    let d = decode(make.as_bytes(), Some(12)).unwrap().pdu.to_json();
    assert_eq!(
        (
            d["kind"].as_str(),
            d["service"].as_str(),
            d["invokeId"].as_i64()
        ),
        (Some("request"), Some("makeCall"), Some(12))
    );
    assert_eq!(
        d["argument"]["callingDevice"]["deviceIdentifier"]["explicitPublic"]["subscriber"],
        "4711"
    );
    assert_eq!(
        d["argument"]["calledDirectoryNumber"]["deviceIdentifier"]["dialingNumber"],
        "+4930123456"
    );

    let resp = r#"<MonitorStartResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><monitorCrossRefID>1136370025</monitorCrossRefID></MonitorStartResponse>"#;
    let d = decode(resp.as_bytes(), Some(3)).unwrap().pdu.to_json();
    assert_eq!(
        (d["kind"].as_str(), d["service"].as_str()),
        (Some("result"), Some("monitorStart"))
    );
    assert_eq!(d["result"]["crossRefIdentifier"], "1136370025");

    let empty = r#"<ClearConnectionResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"/>"#;
    let d = decode(empty.as_bytes(), Some(4)).unwrap().pdu.to_json();
    assert_eq!(d["result"]["noData"], Value::Null);

    let err = r#"<CSTAErrorCode xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><systemResourceAvailibility>overallMonitorLimitExceeded</systemResourceAvailibility></CSTAErrorCode>"#;
    let d = decode(err.as_bytes(), Some(5)).unwrap().pdu.to_json();
    assert_eq!(d["kind"], "error");
    assert_eq!(
        d["parameter"]["systemResourceAvailability"],
        "overallMonitorLimitExceeded"
    );
}

#[test]
fn hostile_documents_are_refused() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><SystemStatus xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><systemStatus>&lol2;</systemStatus></SystemStatus>"#;
    assert!(matches!(
        decode(laughs.as_bytes(), Some(1)),
        Err(Error::Xml {
            problem: XmlProblem::Dtd,
            ..
        })
    ));
    let external =
        r#"<SystemStatus xmlns="urn:x"><systemStatus>&xxe;</systemStatus></SystemStatus>"#;
    assert!(matches!(
        decode(external.as_bytes(), Some(1)),
        Err(Error::Xml {
            problem: XmlProblem::Entity,
            ..
        })
    ));
    let deep = format!(
        "<MakeCall>{}{}</MakeCall>",
        "<a>".repeat(500),
        "</a>".repeat(500)
    );
    assert!(matches!(
        decode(deep.as_bytes(), Some(1)),
        Err(Error::Xml {
            problem: XmlProblem::TooDeep,
            ..
        })
    ));
    for bad in [
        &b"<MakeCall><callingDevice>1</callingDevice>"[..],
        b"<MakeCall></Wrong>",
        b"\xff\xfe<x/>",
        b"",
        b"<Nonsense xmlns=\"urn:x\"/>",
        b"<MakeCall/><MakeCall/>",
    ] {
        assert!(
            decode(bad, Some(1)).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn system_status_has_a_request_and_a_response() {
    let req = r#"<SystemStatus xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><systemStatus>normal</systemStatus></SystemStatus>"#;
    let m = decode(req.as_bytes(), Some(17)).unwrap();
    assert_eq!(m.pdu.to_json()["argument"]["systemStatus"], "normal");
}

const OPENSCAPE_DELIVERED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4">
  <monitorCrossRefID>1136370025</monitorCrossRefID>
  <connection><callID>FF00010000000000CFB6706408000000</callID><deviceID>+15551230001</deviceID></connection>
  <alertingDevice><deviceIdentifier>+15551230001</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier typeOfNumber="explicitPublic:international">4930123456</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>+15551230001</deviceIdentifier></calledDevice>
  <lastRedirectionDevice><notKnown/></lastRedirectionDevice>
  <localConnectionInfo>alerting</localConnectionInfo>
  <cause>newCall</cause>
  <extensions><privateData><private><scx:callingDeviceName xmlns:scx="http://www.siemens.com/schema/csta">Alice &amp; Co</scx:callingDeviceName></private></privateData></extensions>
</DeliveredEvent>"#;

const AVAYA_TRANSFERED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><csta:TransferedEvent xmlns:csta="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><csta:monitorCrossRefID>7</csta:monitorCrossRefID><csta:primaryOldCall><csta:callID>123</csta:callID><csta:deviceID>5001</csta:deviceID></csta:primaryOldCall><csta:transferringDevice><csta:deviceIdentifier>5001</csta:deviceIdentifier></csta:transferringDevice><csta:transferredToDevice><csta:deviceIdentifier>5002</csta:deviceIdentifier></csta:transferredToDevice><csta:transferredConnections><csta:connectionListItem><csta:newConnection><csta:callID>124</csta:callID><csta:deviceID>5002</csta:deviceID></csta:newConnection><csta:oldConnection><csta:callID>123</csta:callID><csta:deviceID>5002</csta:deviceID></csta:oldConnection></csta:connectionListItem></csta:transferredConnections><csta:localConnectionInfo>null</csta:localConnectionInfo><csta:cause>transfer</csta:cause></csta:TransferedEvent>"#;

/// The JER-path reading of `xml`, for comparison with the typed fast path.
fn via_jer(xml: &[u8], iid: Option<u16>) -> Result<XmlMessage, Error> {
    let tree = Tree::parse(xml)?;
    decode_tree(&tree, xml, iid)
}

fn same_reading(xml: &[u8], iid: Option<u16>) -> Result<(), String> {
    match (decode(xml, iid), via_jer(xml, iid)) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        (a, b) => Err(format!(
            "fast {:?}\n  jer  {:?}\n  xml  {}",
            a.map(|m| m.pdu.to_json()),
            b.map(|m| m.pdu.to_json()),
            String::from_utf8_lossy(xml)
        )),
    }
}

/// Events are read straight into their types; that reading equals the schema-driven JER
/// path's for every corpus event, in every edition, and for vendor-style documents.
#[test]
fn typed_event_path_equals_the_jer_path() {
    let mut events = 0;
    let mut failures = Vec::new();
    for seed in ["seed0", "seed1", "seed42"] {
        for (name, ber) in corpus(seed) {
            let mut p = pdu::decode(&Bytes::from(ber)).unwrap();
            let Pdu::Invoke(i) = &mut p else { continue };
            if i.opcode != crate::generated::types::Code::Local(21) {
                continue;
            }
            i.invoke_id = Some(9999);
            for ed in [Edition::ED2, Edition::ED4, Edition::ED6] {
                let mut xml = Vec::new();
                let Ok(iid) = encode(&p, &ed, &mut xml) else {
                    continue;
                };
                events += 1;
                if let Err(e) = same_reading(&xml, Some(iid)) {
                    failures.push(format!("{seed}/{name}: {e}"));
                }
            }
        }
    }
    for doc in [
        OPENSCAPE_DELIVERED,
        AVAYA_TRANSFERED,
        "<DeliveredEvent><monitorCrossRefID>01</monitorCrossRefID></DeliveredEvent>",
        "<DeliveredEvent><connection><callID>1</callID></connection></DeliveredEvent>",
        "<HeldEvent xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed4\"><monitorCrossRefID>7</monitorCrossRefID><heldConnection/><holdingDevice><deviceIdentifier typeOfNumber=\"deviceNumber\">x1</deviceIdentifier></holdingDevice><cause>bogus</cause></HeldEvent>",
    ] {
        if let Err(e) = same_reading(doc.as_bytes(), Some(9999)) {
            failures.push(format!("sample: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(events > 300, "{events}");
}

proptest::proptest! {
    /// Damaged real documents (bytes replaced, inserted, cut) are refused or read, never a
    /// panic, and the typed and JER paths still agree.
    #[test]
    fn damaged_documents_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>(), 0u8..3), 1..6),
    ) {
        let base = [OPENSCAPE_DELIVERED, AVAYA_TRANSFERED, "<a:HeldEvent xmlns:a=\"urn:x\"><monitorCrossRefID>1</monitorCrossRefID><![CDATA[x]]><!-- c --><?pi x?></a:HeldEvent>"][which];
        let mut doc = base.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = at % (doc.len() + 1);
            match op {
                0 if at < doc.len() => doc[at] = byte,
                1 => doc.insert(at, byte),
                _ => doc.truncate(at),
            }
        }
        let _ = Tree::parse(&doc);
        if let Err(e) = same_reading(&doc, Some(9999)) {
            return Err(proptest::test_runner::TestCaseError::fail(e));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let _ = decode(&b, Some(1));
    }

    #[test]
    fn generated_messages_round_trip_through_xml(seed in proptest::collection::vec(proptest::prelude::any::<u8>(), 64..1024)) {
        use arbitrary::Arbitrary;
        let mut u = arbitrary::Unstructured::new(&seed);
        if let Ok(a) = crate::generated::ops::Argument::arbitrary(&mut u) {
            let p = Pdu::Invoke(pdu::Invoke {
                invoke_id: Some(42),
                linked_id: None,
                opcode: crate::generated::types::Code::Local(a.operation().code()),
                argument: Some(pdu::Payload::Typed(a)),
            });
            // Text from arbitrary bytes may not be UTF-8; XML carries text only.
            let doc = p.to_json();
            if !doc.to_string().contains('\u{fffd}') {
                let mut xml = Vec::new();
                if encode(&p, &Edition::ED5, &mut xml).is_ok() {
                    let back = decode(&xml, Some(42)).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&xml))))?;
                    proptest::prop_assert_eq!(back.pdu.to_json(), doc);
                }
            }
        }
    }
}
