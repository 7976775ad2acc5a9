//! The framings of CSTA links, as plain functions over bytes (no IO): the link layer's codecs,
//! the simulator and the analyzer all cut and write frames with these.
//!
//! | framing | bytes before each PDU | seen on |
//! |---|---|---|
//! | [`Framing::None`] | none: a frame ends where its top-level BER element ends | serial links, captures |
//! | [`Framing::Len2`] | 2-byte big-endian length of the PDU | many CSTA-over-TCP links (Ericsson/Mitel App Link, Panasonic) |
//! | [`Framing::HiPath`] | `0x26`, then the 15-bit length with the top bit set | Siemens/Unify HiPath |
//! | [`Framing::XmlHeader`] | `00 00`, 2-byte big-endian TOTAL length (header included), 4 ASCII invoke-id digits | ECMA-323 XML over TCP (Avaya AES, OpenScape Voice, Mitel) |
//!
//! [`next_frame`] returns `Ok(None)` while a frame is incomplete (never an error for that),
//! an error for a header that cannot be right, and never reads or allocates past the frame.
//! After an error, [`resync`] says how many bytes to skip to the next plausible frame start.

use std::ops::Range;

use crate::ber::read_tlv;

/// The default largest frame accepted.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// The invoke id reserved for unsolicited events in the ECMA-323 header.
pub const XML_EVENT_INVOKE_ID: u16 = 9999;

/// How PDUs are delimited on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No framing: the BER element's own length delimits it.
    None,
    /// A 2-byte big-endian length prefix (excluding itself).
    Len2,
    /// The HiPath header `0x26`, `0x80 | len_hi`, `len_lo` (length excluding the header).
    HiPath,
    /// The ECMA-323 8-byte header: `00 00`, total length, 4 ASCII invoke-id digits.
    XmlHeader,
}

impl Framing {
    /// The name used in link URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Len2 => "len2",
            Self::HiPath => "hipath",
            Self::XmlHeader => "xml-header",
        }
    }
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Framing {
    type Err = FrameError;
    fn from_str(s: &str) -> Result<Self, FrameError> {
        match s {
            "none" => Ok(Self::None),
            "len2" => Ok(Self::Len2),
            "hipath" => Ok(Self::HiPath),
            "xml-header" | "xml" => Ok(Self::XmlHeader),
            _ => Err(FrameError::UnknownFraming),
        }
    }
}

/// One frame found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Where the PDU is, relative to the start of the buffer.
    pub payload: Range<usize>,
    /// How many bytes the frame takes (header and PDU).
    pub consumed: usize,
    /// The invoke id of an ECMA-323 header.
    pub invoke_id: Option<u16>,
}

/// A frame header that cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame announces more bytes than the maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// The announced length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The header is not a header of this framing.
    #[error("bad {framing} frame header")]
    BadHeader {
        /// The framing.
        framing: Framing,
    },
    /// A BER element header that does not parse.
    #[error("bad BER element header")]
    BadElement,
    /// A framing name that is not known.
    #[error("unknown framing (none, len2, hipath, xml-header)")]
    UnknownFraming,
    /// An invoke id that does not fit the 4-digit header.
    #[error("invoke id {0} does not fit 4 digits")]
    InvokeId(u32),
}

/// Finds the frame at the start of `buf`: `Ok(None)` if more bytes are needed.
pub fn next_frame(framing: Framing, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
    match framing {
        Framing::None => {
            if buf.is_empty() {
                return Ok(None);
            }
            match read_tlv(buf, 0, buf.len(), 0) {
                Ok(t) if t.end > max => Err(FrameError::TooLong { len: t.end, max }),
                Ok(t) => Ok(Some(Frame {
                    payload: 0..t.end,
                    consumed: t.end,
                    invoke_id: None,
                })),
                Err(e) if matches!(e.error(), crate::Error::Truncated { .. }) => {
                    // Incomplete, unless the header already announces too much, or (an indefinite
                    // length announces nothing) more than the maximum is buffered already.
                    match announced_ber_len(buf) {
                        Some(n) if n > max => Err(FrameError::TooLong { len: n, max }),
                        _ if buf.len() > max => Err(FrameError::TooLong {
                            len: buf.len(),
                            max,
                        }),
                        _ => Ok(None),
                    }
                }
                Err(_) => Err(FrameError::BadElement),
            }
        }
        Framing::Len2 => {
            let [a, b, ..] = *buf else { return Ok(None) };
            let len = usize::from(u16::from_be_bytes([a, b]));
            if len > max {
                return Err(FrameError::TooLong { len, max });
            }
            if len == 0 {
                return Err(FrameError::BadHeader { framing });
            }
            if buf.len() < 2 + len {
                return Ok(None);
            }
            Ok(Some(Frame {
                payload: 2..2 + len,
                consumed: 2 + len,
                invoke_id: None,
            }))
        }
        Framing::HiPath => {
            let [h, a, b, ..] = *buf else {
                return if buf.first().is_some_and(|h| *h != 0x26) {
                    Err(FrameError::BadHeader { framing })
                } else {
                    Ok(None)
                };
            };
            if h != 0x26 || a & 0x80 == 0 {
                return Err(FrameError::BadHeader { framing });
            }
            let len = usize::from(u16::from_be_bytes([a & 0x7F, b]));
            if len > max {
                return Err(FrameError::TooLong { len, max });
            }
            if len == 0 {
                return Err(FrameError::BadHeader { framing });
            }
            if buf.len() < 3 + len {
                return Ok(None);
            }
            Ok(Some(Frame {
                payload: 3..3 + len,
                consumed: 3 + len,
                invoke_id: None,
            }))
        }
        Framing::XmlHeader => {
            let Some(hdr) = buf.get(..8) else {
                // Reject early what can never become a header.
                if buf.len() >= 2 && buf[..2] != [0, 0] {
                    return Err(FrameError::BadHeader { framing });
                }
                return Ok(None);
            };
            if hdr[0] != 0 || hdr[1] != 0 || !hdr[4..8].iter().all(u8::is_ascii_digit) {
                return Err(FrameError::BadHeader { framing });
            }
            let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
            if total < 8 {
                return Err(FrameError::BadHeader { framing });
            }
            if total - 8 > max {
                return Err(FrameError::TooLong {
                    len: total - 8,
                    max,
                });
            }
            if buf.len() < total {
                return Ok(None);
            }
            let id = hdr[4..8]
                .iter()
                .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
            Ok(Some(Frame {
                payload: 8..total,
                consumed: total,
                invoke_id: Some(id),
            }))
        }
    }
}

/// The total length a BER header announces, when the header itself is complete.
fn announced_ber_len(buf: &[u8]) -> Option<usize> {
    let mut p = 1;
    if buf.first()? & 0x1F == 0x1F {
        while buf.get(p)? & 0x80 != 0 {
            p += 1;
        }
        p += 1;
    }
    let l0 = *buf.get(p)?;
    p += 1;
    if l0 < 0x80 {
        return Some(p + usize::from(l0));
    }
    let n = usize::from(l0 & 0x7F);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*buf.get(p + i)?);
    }
    Some(p + n + len)
}

/// After a bad header at the start of `buf`, how many bytes to skip to reach the next place a
/// frame could start (at least 1; `buf.len()` when there is none).
pub fn resync(framing: Framing, buf: &[u8]) -> usize {
    let plausible = |i: usize| -> bool {
        let rest = &buf[i..];
        match framing {
            Framing::None => rest
                .first()
                .is_some_and(|b| matches!(b, 0xA1..=0xA4 | 0x60..=0x64)),
            Framing::Len2 => {
                rest.len() < 3
                    || (u16::from_be_bytes([rest[0], rest[1]]) >= 2
                        && matches!(rest[2], 0xA1..=0xA4 | 0x60..=0x64))
            }
            Framing::HiPath => {
                rest.first() == Some(&0x26) && rest.get(1).is_none_or(|b| b & 0x80 != 0)
            }
            Framing::XmlHeader => {
                rest.len() < 8
                    || (rest[0] == 0 && rest[1] == 0 && rest[4..8].iter().all(u8::is_ascii_digit))
            }
        }
    };
    (1..buf.len()).find(|&i| plausible(i)).unwrap_or(buf.len())
}

/// Appends one framed PDU. `invoke_id` is written into the ECMA-323 header (0 when `None`);
/// the other framings ignore it.
pub fn write_frame(
    framing: Framing,
    payload: &[u8],
    invoke_id: Option<u16>,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    match framing {
        Framing::None => out.extend_from_slice(payload),
        Framing::Len2 => {
            let len = u16::try_from(payload.len()).map_err(|_| FrameError::TooLong {
                len: payload.len(),
                max: 0xFFFF,
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(payload);
        }
        Framing::HiPath => {
            if payload.len() > 0x7FFF {
                return Err(FrameError::TooLong {
                    len: payload.len(),
                    max: 0x7FFF,
                });
            }
            let len = payload.len() as u16 | 0x8000;
            out.push(0x26);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(payload);
        }
        Framing::XmlHeader => {
            let total = u16::try_from(payload.len() + 8).map_err(|_| FrameError::TooLong {
                len: payload.len(),
                max: 0xFFFF - 8,
            })?;
            let id = invoke_id.unwrap_or(0);
            if id > 9999 {
                return Err(FrameError::InvokeId(u32::from(id)));
            }
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(format!("{id:04}").as_bytes());
            out.extend_from_slice(payload);
        }
    }
    Ok(())
}

/// Hands out ECMA-323 invoke ids 0001–9998 in turn, never 9999 (reserved for events).
#[derive(Debug, Clone, Default)]
pub struct InvokeIds {
    last: u16,
}

impl InvokeIds {
    /// A new allocator; the first id is 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next id, wrapping from 9998 to 1.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u16 {
        self.last = if self.last >= 9998 { 1 } else { self.last + 1 };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PDU: &[u8] = &[0xA1, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x15];

    #[test]
    fn each_framing_writes_what_it_reads() {
        for f in [
            Framing::None,
            Framing::Len2,
            Framing::HiPath,
            Framing::XmlHeader,
        ] {
            let mut out = Vec::new();
            write_frame(f, PDU, Some(42), &mut out).unwrap();
            let fr = next_frame(f, &out, DEFAULT_MAX_FRAME).unwrap().unwrap();
            assert_eq!(&out[fr.payload.clone()], PDU, "{f}");
            assert_eq!(fr.consumed, out.len());
            for cut in 0..out.len() {
                assert_eq!(
                    next_frame(f, &out[..cut], DEFAULT_MAX_FRAME),
                    Ok(None),
                    "{f} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn hipath_and_xml_headers_are_exact() {
        let mut out = Vec::new();
        write_frame(Framing::HiPath, PDU, None, &mut out).unwrap();
        assert_eq!(&out[..3], &[0x26, 0x80, 0x08]);
        out.clear();
        write_frame(Framing::XmlHeader, b"<x/>", Some(7), &mut out).unwrap();
        assert_eq!(out, b"\x00\x00\x00\x0c0007<x/>");
        let fr = next_frame(Framing::XmlHeader, &out, 100).unwrap().unwrap();
        assert_eq!(fr.invoke_id, Some(7));
    }

    #[test]
    fn large_xml_messages_use_the_whole_unsigned_length() {
        let body = vec![b'a'; 40_000];
        let mut out = Vec::new();
        write_frame(Framing::XmlHeader, &body, Some(9999), &mut out).unwrap();
        let fr = next_frame(Framing::XmlHeader, &out, 64 * 1024)
            .unwrap()
            .unwrap();
        assert_eq!(fr.payload.len(), 40_000);
        assert_eq!(fr.invoke_id, Some(9999));
    }

    #[test]
    fn oversized_and_bad_headers_are_errors() {
        assert_eq!(
            next_frame(Framing::Len2, &[0xFF, 0xFF], 1000),
            Err(FrameError::TooLong {
                len: 0xFFFF,
                max: 1000
            })
        );
        assert!(matches!(
            next_frame(Framing::HiPath, &[0x27, 0x80, 1], 1000),
            Err(FrameError::BadHeader { .. })
        ));
        assert!(matches!(
            next_frame(Framing::XmlHeader, b"\x00\x00\x00\x04abcd", 1000),
            Err(FrameError::BadHeader { .. })
        ));
        assert!(matches!(
            next_frame(Framing::None, &[0x30, 0x84, 0x7F, 0, 0, 0], 1000),
            Err(FrameError::TooLong { .. })
        ));
    }

    #[test]
    fn resync_finds_the_next_frame_after_garbage() {
        let mut buf = b"garbage!".to_vec();
        write_frame(Framing::HiPath, PDU, None, &mut buf).unwrap();
        let skip = resync(Framing::HiPath, &buf);
        assert_eq!(skip, 8);
        assert!(
            next_frame(Framing::HiPath, &buf[skip..], 1000)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn invoke_ids_wrap_and_skip_9999() {
        let mut ids = InvokeIds::new();
        let mut seen = 0;
        for _ in 0..30_000 {
            let id = ids.next();
            assert!((1..=9998).contains(&id));
            seen += 1;
        }
        assert_eq!(seen, 30_000);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(f in 0usize..4, b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let f = [Framing::None, Framing::Len2, Framing::HiPath, Framing::XmlHeader][f];
            let _ = next_frame(f, &b, 32);
            let n = resync(f, &b);
            prop_assert!(n <= b.len().max(1));
        }

        #[test]
        fn any_chunking_gives_the_same_frames(f in 0usize..4, sizes in proptest::collection::vec(1usize..200, 1..6), cuts in proptest::collection::vec(1usize..50, 1..20)) {
            let f = [Framing::None, Framing::Len2, Framing::HiPath, Framing::XmlHeader][f];
            let mut stream = Vec::new();
            let mut payloads = Vec::new();
            for (i, n) in sizes.iter().enumerate() {
                // A BER OCTET STRING-like element inside an invoke tag, so that `None` works too.
                let mut p = vec![0xA1, 0x82, (n >> 8) as u8, *n as u8];
                p.extend(std::iter::repeat_n(i as u8, *n));
                write_frame(f, &p, Some(i as u16), &mut stream).unwrap();
                payloads.push(p);
            }
            // Feed the stream in chunks, as a socket would.
            let mut buf = Vec::new();
            let mut got = Vec::new();
            let mut pos = 0;
            let mut ci = 0;
            while pos < stream.len() {
                let step = cuts[ci % cuts.len()].min(stream.len() - pos);
                ci += 1;
                buf.extend_from_slice(&stream[pos..pos + step]);
                pos += step;
                while let Some(fr) = next_frame(f, &buf, 1 << 16).unwrap() {
                    got.push(buf[fr.payload.clone()].to_vec());
                    buf.drain(..fr.consumed);
                }
            }
            prop_assert_eq!(got, payloads);
        }
    }
}
