//! Property tests of the decoder: split invariance and no panics on arbitrary bytes.

use hookflash_ami::codec::Limits;
use hookflash_ami::{Decoder, Message};
use proptest::prelude::*;

fn decode_all(data: &[u8], cuts: &[usize], limits: Limits) -> (Vec<Result<Message, String>>, u64) {
    let mut d = Decoder::with_limits(limits);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.push(data.len());
    for p in points {
        d.feed(&data[pos..p]);
        pos = p;
        while let Some(r) = d.decode() {
            out.push(r.map_err(|e| e.to_string()));
        }
    }
    while let Some(r) = d.finish() {
        out.push(r.map_err(|e| e.to_string()));
    }
    assert_eq!(d.buffered(), 0);
    (out, d.stats().malformed)
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[A-Za-z]{1,10}", "[ -~]{0,20}").prop_map(|(k, v)| format!("{k}: {v}")),
        Just(String::new()),
        Just("Response: Follows".to_owned()),
        Just("--END COMMAND--".to_owned()),
        Just("Asterisk Call Manager/5.0.1".to_owned()),
        "[ -~]{0,30}",
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec((line(), any::<bool>()), 0..60)).prop_map(|ls| {
        let mut v = Vec::new();
        for (l, crlf) in ls {
            v.extend_from_slice(l.as_bytes());
            v.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        v
    })
}

const SMALL: Limits = Limits {
    max_line: 24,
    max_message: 200,
    max_lines: 12,
};

proptest! {
    #[test]
    fn any_split_gives_the_same_messages(data in stream(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let whole = decode_all(&data, &[], Limits::default());
        let split = decode_all(&data, &cuts, Limits::default());
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn any_split_same_with_tight_limits(data in stream(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let whole = decode_all(&data, &[], SMALL);
        let split = decode_all(&data, &cuts, SMALL);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2000), cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let (msgs, _) = decode_all(&data, &cuts, SMALL);
        for m in msgs.into_iter().flatten() {
            let _ = m.headers().count();
            let _ = m.output();
            prop_assert!(m.raw().len() <= SMALL.max_message + 64);
        }
    }

    #[test]
    fn headers_round_trip(pairs in prop::collection::vec(("[A-Za-z][A-Za-z0-9]{0,10}", "[!-~]([ -~]{0,20}[!-~])?"), 1..20)) {
        let mut data = Vec::new();
        hookflash_ami::codec::encode_action(&mut data, "Test", "1", pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (msgs, malformed) = decode_all(&data, &[], Limits::default());
        prop_assert_eq!(malformed, 0);
        prop_assert_eq!(msgs.len(), 1);
        let m = msgs[0].as_ref().unwrap();
        let got: Vec<(String, String)> = m.headers().skip(2).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(got, pairs);
    }
}
