//! Inputs the fuzz targets once failed on, replayed as plain tests.

use hookflash_ami::codec::Limits;
use hookflash_ami::{Decoder, Error, Message};

/// The limits of the `ami_decode` target.
const LIMITS: Limits = Limits {
    max_line: 256,
    max_message: 4096,
    max_lines: 64,
};

/// What `ami_decode` checks: the messages of `data` fed in two parts, split at `cut`, then the
/// end of the stream; nothing may stay buffered after `finish`.
fn decode(data: &[u8], cut: usize) -> Vec<Result<Message, Error>> {
    let mut d = Decoder::with_limits(LIMITS);
    let mut out = Vec::new();
    for part in [&data[..cut], &data[cut..]] {
        d.feed(part);
        out.extend(std::iter::from_fn(|| d.decode()));
        assert!(d.buffered() <= LIMITS.max_message + LIMITS.max_line + 2);
    }
    out.extend(std::iter::from_fn(|| d.finish()));
    assert_eq!(d.buffered(), 0, "bytes left after finish");
    out
}

/// `ami_decode`: a stream ending in an unterminated `Response: Follows` line (after a block
/// with too many headers) left 21 bytes buffered after `finish`, and the block was never
/// returned: `finish` decided how to close the block before it had decoded that last line.
#[test]
fn a_response_follows_as_the_last_unterminated_line_is_returned_at_the_end() {
    let data = include_bytes!("data/fuzz/ami_decode-follows-as-last-unterminated-line.bin");
    let cut = usize::from(data[0]) % (data.len() + 1);
    let whole = decode(data, 0);
    assert_eq!(whole, decode(data, cut));
    let last = whole.last().unwrap().as_ref().unwrap();
    assert_eq!(last.response(), Some("Follows"));
    assert!(last.output().is_empty());
}
