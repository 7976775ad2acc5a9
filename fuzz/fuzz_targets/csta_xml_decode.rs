//! Any bytes into the ECMA-323 decoder: no panic; what decodes re-encodes to XML that decodes
//! to the same message.
#![no_main]

use hookflash_csta::xml::{self, Edition};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = xml::decode(data, Some(1)) {
        let mut out = Vec::new();
        if let Ok(id) = xml::encode(&m.pdu, &Edition::ED4, &mut out) {
            let again = xml::decode(&out, Some(id)).expect("encoded XML decodes");
            assert_eq!(again.pdu.to_json(), m.pdu.to_json());
        }
    }
});
