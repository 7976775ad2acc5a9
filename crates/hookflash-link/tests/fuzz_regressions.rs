//! Inputs the fuzz targets once failed on, replayed as plain tests.

use bytes::BytesMut;
use hookflash_link::codec::{BlockCodec, Item};
use tokio_util::codec::Decoder;

/// The frames a codec finds in `data` fed in chunks of `chunk` bytes, then EOF.
fn frames(mut d: BlockCodec, data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut push = |item: Item| {
        if let Item::Frame { payload, .. } = item {
            out.push(payload.to_vec());
        }
    };
    for part in data.chunks(chunk) {
        buf.extend_from_slice(part);
        while let Some(item) = d.decode(&mut buf).unwrap() {
            push(item);
        }
    }
    while let Some(item) = d.decode_eof(&mut buf).unwrap() {
        push(item);
    }
    out
}

/// `link_codecs`: a first line longer than the maximum (548 bytes, maximum 512) was delivered
/// as a banner when it arrived in one read, and discarded when it arrived in pieces.
#[test]
fn a_leading_line_over_the_maximum_is_never_delivered() {
    let data = include_bytes!("data/fuzz/link_codecs-leading-line-over-max.bin");
    let rest = &data[1..];
    let codec = || BlockCodec::new(512).with_leading_line();
    let whole = frames(codec(), rest, rest.len());
    let pieces = frames(codec(), rest, 17);
    assert_eq!(whole, pieces);
    assert!(
        whole.iter().all(|f| f.len() <= 512),
        "{:?}",
        whole.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // A banner within the maximum is still delivered, in one read or byte by byte.
    let banner = b"Asterisk Call Manager/5.0.1\r\nResponse: Success\r\n\r\n";
    for chunk in [banner.len(), 1] {
        assert_eq!(
            frames(codec(), banner, chunk),
            vec![
                b"Asterisk Call Manager/5.0.1".to_vec(),
                b"Response: Success\r\n".to_vec()
            ]
        );
    }
}

/// `link_codecs`: a block of exactly the maximum (512 bytes) ended by `\n\r\n` was delivered in
/// one read but discarded when fed byte by byte (the limit was checked before the terminator's
/// `\r\n` could arrive).
#[test]
fn a_block_of_the_maximum_is_delivered_however_it_arrives() {
    let data = include_bytes!("data/fuzz/link_codecs-block-of-max-with-crlf-terminator.bin");
    let rest = &data[1..];
    let whole = frames(BlockCodec::new(512), rest, rest.len());
    assert_eq!(frames(BlockCodec::new(512), rest, 1), whole);
    assert_eq!(whole.len(), 2);
    assert_eq!(whole[1].len(), 512);
    // The same at its simplest, with both terminators; one byte more is discarded either way.
    for term in [&b"\n\r\n"[..], b"\n\n"] {
        for len in [511, 512, 513] {
            let mut block = vec![b'x'; len - 1];
            block.push(b'\n');
            block.extend_from_slice(&term[1..]);
            block.extend_from_slice(b"next\n\n");
            let want: Vec<Vec<u8>> = if len <= 512 {
                vec![
                    [&vec![b'x'; len - 1][..], b"\n"].concat(),
                    b"next\n".to_vec(),
                ]
            } else {
                vec![b"next\n".to_vec()]
            };
            for chunk in [block.len(), 1, 7] {
                assert_eq!(
                    frames(BlockCodec::new(512), &block, chunk),
                    want,
                    "{len} {chunk}"
                );
            }
        }
    }
}
