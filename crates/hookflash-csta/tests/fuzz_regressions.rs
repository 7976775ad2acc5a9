//! Inputs the fuzz targets once failed on, replayed as plain tests.

use hookflash_csta::framing::{self, FrameError, Framing};

/// Feeds `data` byte by byte to the framing as a link codec does (frames taken, bad headers
/// skipped with `resync`); the most bytes ever buffered.
fn most_buffered(f: Framing, data: &[u8], max: usize) -> usize {
    let mut buf = Vec::new();
    let mut most = 0;
    for &b in data {
        buf.push(b);
        loop {
            match framing::next_frame(f, &buf, max) {
                Ok(Some(fr)) => {
                    buf.drain(..fr.consumed);
                }
                Ok(None) => break,
                Err(_) => {
                    let skip = framing::resync(f, &buf).clamp(1, buf.len());
                    buf.drain(..skip);
                }
            }
            if buf.is_empty() {
                break;
            }
        }
        most = most.max(buf.len());
    }
    most
}

/// `link_codecs`: an element of indefinite length that never ends was buffered without bound
/// on a raw BER link (no length announced, so the maximum was never checked).
#[test]
fn an_endless_indefinite_length_element_is_refused_at_the_maximum() {
    let data = include_bytes!("data/fuzz/link_codecs-indefinite-length-unbounded.bin");
    assert!(most_buffered(Framing::None, &data[1..], 512) <= 512);

    // The same in its simplest form: SEQUENCE, indefinite length, then octet strings forever.
    let mut endless = vec![0x30, 0x80];
    for _ in 0..300 {
        endless.extend_from_slice(&[0x04, 0x01, 0x41]);
    }
    assert_eq!(
        framing::next_frame(Framing::None, &endless[..512], 512),
        Ok(None),
        "within the maximum it is only incomplete"
    );
    assert_eq!(
        framing::next_frame(Framing::None, &endless[..513], 512),
        Err(FrameError::TooLong { len: 513, max: 512 })
    );
    assert!(most_buffered(Framing::None, &endless, 512) <= 512);
    // A complete element of indefinite length within the maximum still frames.
    let mut whole = vec![0x30, 0x80, 0x04, 0x01, 0x41, 0x00, 0x00];
    whole.extend_from_slice(&[0x02, 0x01, 0x05]);
    let fr = framing::next_frame(Framing::None, &whole, 512)
        .unwrap()
        .unwrap();
    assert_eq!(fr.consumed, 7);
}
