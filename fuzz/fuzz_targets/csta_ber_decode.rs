//! Any bytes into the CSTA BER decoder: no panic, and what decodes re-encodes and re-decodes
//! to the same value.
#![no_main]

use bytes::Bytes;
use hookflash_csta::pdu;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(p) = pdu::decode(&input) {
        let wire = Bytes::from(pdu::encode_to_vec(&p));
        let again = pdu::decode_with_limit(&wire, usize::MAX).expect("re-encoded PDU decodes");
        assert_eq!(again, p);
        let _ = p.to_json();
        let _ = p.to_jer();
    }
});
