//! Any bytes, cut into data-chosen chunks, through the link layer's tokio codecs (the four CSTA
//! framings, delimited records, blank-line blocks): no panic, no error, no more payload and
//! skipped bytes than input, buffering within one frame, frames within the maximum, and the same
//! frames whatever the chunking (for the CSTA framings: of a stream that needed no resync).
#![no_main]

use bytes::BytesMut;
use hookflash_csta::framing::Framing;
use hookflash_link::codec::{BlockCodec, FrameCodec, Item, RecordCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const MAX: usize = 512;

/// Feeds `data` in chunks of `chunk` bytes; returns the items and the bytes they skipped.
fn run<D: Decoder<Item = Item>>(mut d: D, data: &[u8], chunk: usize) -> (Vec<Item>, usize)
where
    D::Error: std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(part);
        while let Some(item) = d.decode(&mut buf).expect("decoders never fail on input") {
            items.push(item);
        }
        // What stays buffered is at most one frame: header, maximum payload, delimiter.
        assert!(buf.len() <= MAX + 16 + part.len(), "buffered {}", buf.len());
    }
    while let Some(item) = d.decode_eof(&mut buf).expect("decoders never fail at EOF") {
        items.push(item);
    }
    assert!(buf.is_empty(), "EOF drains the buffer");
    let skipped = items
        .iter()
        .map(|i| match i {
            Item::Malformed { len, .. } => *len,
            Item::Frame { .. } => 0,
        })
        .sum();
    (items, skipped)
}

/// The frames' payloads only.
fn frames(items: &[Item]) -> Vec<&[u8]> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Frame { payload, .. } => Some(&payload[..]),
            Item::Malformed { .. } => None,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(sel >> 3) + 1;
    match sel % 6 {
        s @ 0..=3 => {
            let f = [
                Framing::None,
                Framing::Len2,
                Framing::HiPath,
                Framing::XmlHeader,
            ][usize::from(s)];
            let (items, skipped) = run(FrameCodec::with_max(f, MAX), rest, chunk);
            let payload: usize = items
                .iter()
                .map(|i| match i {
                    Item::Frame { payload, .. } => payload.len(),
                    Item::Malformed { .. } => 0,
                })
                .sum();
            assert!(payload + skipped <= rest.len());
            for i in &items {
                if let Item::Frame { payload, .. } = i {
                    assert!(payload.len() <= MAX + 8);
                }
            }
            // A stream that needed no resync frames the same in one piece.
            let whole = run(FrameCodec::with_max(f, MAX), rest, rest.len()).0;
            if skipped == 0 && whole.iter().all(|i| matches!(i, Item::Frame { .. })) {
                assert_eq!(whole, items);
            }
        }
        4 => {
            let (items, _) = run(RecordCodec::lines(MAX), rest, chunk);
            for i in &items {
                if let Item::Frame { payload, .. } = i {
                    assert!(payload.len() <= MAX);
                    assert!(!payload.contains(&b'\n') && !payload.contains(&b'\r'));
                }
            }
            assert_eq!(
                frames(&run(RecordCodec::lines(MAX), rest, rest.len()).0),
                frames(&items)
            );
        }
        _ => {
            let leading = sel & 0x80 != 0;
            let codec = || {
                let c = BlockCodec::new(MAX);
                if leading { c.with_leading_line() } else { c }
            };
            let (items, _) = run(codec(), rest, chunk);
            for i in &items {
                if let Item::Frame { payload, .. } = i {
                    assert!(payload.len() <= MAX + 4);
                }
            }
            assert_eq!(frames(&run(codec(), rest, rest.len()).0), frames(&items));
        }
    }
});
