//! `tokio_util::codec` wrappers: the CSTA framings ([`FrameCodec`]), delimited records such as
//! SMDR lines ([`RecordCodec`]) and blank-line-terminated blocks such as AMI messages
//! ([`BlockCodec`]). None of them knows any protocol. Bytes that do not fit are skipped and
//! reported as [`Item::Malformed`]: the stream goes on.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use hookflash_csta::framing::{self, Framing};
use tokio_util::codec::{Decoder, Encoder};

use crate::{LinkError, MalformedKind};

/// One thing a decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A frame, record or block (without its header or delimiter).
    Frame {
        /// The payload.
        payload: Bytes,
        /// The ECMA-323 invoke id, for the XML header framing.
        invoke_id: Option<u16>,
    },
    /// Bytes that were skipped.
    Malformed {
        /// The stream offset of the first skipped byte.
        offset: u64,
        /// How many bytes were skipped.
        len: usize,
        /// Why.
        error: MalformedKind,
    },
}

/// A decoder/encoder for one of the CSTA framings.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    framing: Framing,
    max: usize,
    offset: u64,
    malformed: u64,
    scratch: Vec<u8>,
}

impl FrameCodec {
    /// A codec with the default maximum frame size (64 KiB).
    pub fn new(framing: Framing) -> Self {
        Self::with_max(framing, framing::DEFAULT_MAX_FRAME)
    }

    /// A codec with a maximum frame size.
    pub fn with_max(framing: Framing, max: usize) -> Self {
        Self {
            framing,
            max,
            offset: 0,
            malformed: 0,
            scratch: Vec::new(),
        }
    }

    /// How many stretches of malformed bytes were skipped.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

impl Decoder for FrameCodec {
    type Item = Item;
    type Error = LinkError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, LinkError> {
        match framing::next_frame(self.framing, src, self.max) {
            Ok(Some(fr)) => {
                let whole = src.split_to(fr.consumed).freeze();
                self.offset += fr.consumed as u64;
                Ok(Some(Item::Frame {
                    payload: whole.slice(fr.payload),
                    invoke_id: fr.invoke_id,
                }))
            }
            Ok(None) => {
                // Never grow past one frame: at most the header plus the maximum.
                src.reserve(64.min(self.max));
                Ok(None)
            }
            Err(e) => {
                let skip = framing::resync(self.framing, src).clamp(1, src.len().max(1));
                let skip = skip.min(src.len());
                src.advance(skip);
                let offset = self.offset;
                self.offset += skip as u64;
                self.malformed += 1;
                Ok(Some(Item::Malformed {
                    offset,
                    len: skip,
                    error: MalformedKind::Frame(e),
                }))
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Item>, LinkError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if src.is_empty() {
            return Ok(None);
        }
        let len = src.len();
        src.clear();
        let offset = self.offset;
        self.offset += len as u64;
        self.malformed += 1;
        Ok(Some(Item::Malformed {
            offset,
            len,
            error: MalformedKind::Truncated,
        }))
    }
}

/// A PDU to send, with the ECMA-323 invoke id (ignored by the BER framings).
#[derive(Debug, Clone, Copy)]
pub struct OutFrame<'a> {
    /// The PDU.
    pub payload: &'a [u8],
    /// The invoke id for the XML header.
    pub invoke_id: Option<u16>,
}

impl Encoder<OutFrame<'_>> for FrameCodec {
    type Error = LinkError;

    fn encode(&mut self, item: OutFrame<'_>, dst: &mut BytesMut) -> Result<(), LinkError> {
        if item.payload.len() > self.max {
            return Err(LinkError::Frame(framing::FrameError::TooLong {
                len: item.payload.len(),
                max: self.max,
            }));
        }
        self.scratch.clear();
        framing::write_frame(
            self.framing,
            item.payload,
            item.invoke_id,
            &mut self.scratch,
        )?;
        dst.put_slice(&self.scratch);
        Ok(())
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = LinkError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), LinkError> {
        self.encode(
            OutFrame {
                payload: &item,
                invoke_id: None,
            },
            dst,
        )
    }
}

/// Records ended by any of a set of delimiter bytes (e.g. `\r` and `\n`); empty records are
/// skipped, so `\r\n` ends one record. A record longer than the maximum is discarded up to its
/// delimiter and reported once.
#[derive(Debug, Clone)]
pub struct RecordCodec {
    delimiters: Vec<u8>,
    max: usize,
    /// Bytes of the current record already searched.
    searched: usize,
    discarding: Option<(u64, usize)>,
    offset: u64,
    malformed: u64,
}

impl RecordCodec {
    /// Records ended by `\r` or `\n`, at most `max` bytes.
    pub fn lines(max: usize) -> Self {
        Self::new(b"\r\n", max)
    }

    /// Records ended by any byte of `delimiters`, at most `max` bytes.
    pub fn new(delimiters: &[u8], max: usize) -> Self {
        Self {
            delimiters: delimiters.to_vec(),
            max: max.max(1),
            searched: 0,
            discarding: None,
            offset: 0,
            malformed: 0,
        }
    }

    /// How many records were discarded.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

impl Decoder for RecordCodec {
    type Item = Item;
    type Error = LinkError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, LinkError> {
        loop {
            let found = src
                .get(self.searched..)
                .and_then(|rest| rest.iter().position(|b| self.delimiters.contains(b)))
                .map(|i| i + self.searched);
            match (found, self.discarding) {
                (Some(i), Some((offset, n))) => {
                    src.advance(i + 1);
                    self.offset += (i + 1) as u64;
                    self.searched = 0;
                    self.discarding = None;
                    return Ok(Some(Item::Malformed {
                        offset,
                        len: n + i + 1,
                        error: MalformedKind::TooLong { max: self.max },
                    }));
                }
                (None, Some((offset, n))) => {
                    let len = src.len();
                    src.clear();
                    self.offset += len as u64;
                    self.discarding = Some((offset, n + len));
                    self.searched = 0;
                    return Ok(None);
                }
                (Some(0), None) => {
                    src.advance(1);
                    self.offset += 1;
                    self.searched = 0;
                }
                (Some(i), None) if i <= self.max => {
                    let rec = src.split_to(i).freeze();
                    src.advance(1);
                    self.offset += (i + 1) as u64;
                    self.searched = 0;
                    return Ok(Some(Item::Frame {
                        payload: rec,
                        invoke_id: None,
                    }));
                }
                (Some(_), None) | (None, None) if src.len() > self.max => {
                    self.malformed += 1;
                    self.discarding = Some((self.offset, 0));
                    self.searched = 0;
                }
                _ => {
                    self.searched = src.len();
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Item>, LinkError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if let Some((offset, n)) = self.discarding.take() {
            return Ok(Some(Item::Malformed {
                offset,
                len: n,
                error: MalformedKind::TooLong { max: self.max },
            }));
        }
        if src.is_empty() {
            return Ok(None);
        }
        // A last record without delimiter.
        let len = src.len();
        self.offset += len as u64;
        self.searched = 0;
        Ok(Some(Item::Frame {
            payload: src.split().freeze(),
            invoke_id: None,
        }))
    }
}

impl Encoder<&[u8]> for RecordCodec {
    type Error = LinkError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), LinkError> {
        dst.put_slice(item);
        dst.put_slice(b"\r\n");
        Ok(())
    }
}

/// Blocks of lines ended by an empty line (`\r\n\r\n`, also `\n\n`), like AMI messages.
/// Optionally the very first line is a block of its own (a banner without blank line).
#[derive(Debug, Clone)]
pub struct BlockCodec {
    max: usize,
    leading_line: bool,
    discarding: Option<(u64, usize)>,
    searched: usize,
    offset: u64,
    malformed: u64,
}

impl BlockCodec {
    /// Blocks of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(4),
            leading_line: false,
            discarding: None,
            searched: 0,
            offset: 0,
            malformed: 0,
        }
    }

    /// The first line of the stream is delivered as a block of its own.
    pub fn with_leading_line(mut self) -> Self {
        self.leading_line = true;
        self
    }

    /// How many blocks were discarded.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The end of the first blank line: (index of block end, length of the terminator).
    fn find_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
        let start = from.saturating_sub(3);
        let mut i = start;
        while let Some(&b) = buf.get(i) {
            if b == b'\n' {
                if buf.get(i + 1) == Some(&b'\n') {
                    return Some((i + 1, 2));
                }
                if buf.get(i + 1..i + 3) == Some(b"\r\n") {
                    return Some((i + 1, 3));
                }
            }
            i += 1;
        }
        None
    }
}

impl Decoder for BlockCodec {
    type Item = Item;
    type Error = LinkError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, LinkError> {
        if self.leading_line {
            // A first line longer than the maximum is no banner: it is handled (and discarded)
            // as a block, whether it arrived in one read or in many.
            let Some(i) = src
                .iter()
                .position(|b| *b == b'\n')
                .filter(|&i| i <= self.max)
            else {
                if src.len() > self.max {
                    self.leading_line = false;
                } else {
                    return Ok(None);
                }
                return self.decode(src);
            };
            self.leading_line = false;
            let mut line = src.split_to(i + 1);
            self.offset += (i + 1) as u64;
            line.truncate(i);
            if line.last() == Some(&b'\r') {
                line.truncate(i - 1);
            }
            return Ok(Some(Item::Frame {
                payload: line.freeze(),
                invoke_id: None,
            }));
        }
        loop {
            // Blank lines between blocks are skipped.
            while matches!(src.first(), Some(b'\r' | b'\n')) && self.discarding.is_none() {
                src.advance(1);
                self.offset += 1;
            }
            let found = Self::find_end(src, self.searched);
            match (found, self.discarding) {
                (Some((i, t)), Some((offset, n))) => {
                    src.advance(i + t - 1);
                    self.offset += (i + t - 1) as u64;
                    self.discarding = None;
                    self.searched = 0;
                    return Ok(Some(Item::Malformed {
                        offset,
                        len: n + i + t - 1,
                        error: MalformedKind::TooLong { max: self.max },
                    }));
                }
                (None, Some((offset, n))) => {
                    // Keep the last 3 bytes: a terminator may straddle reads.
                    let drop = src.len().saturating_sub(3);
                    src.advance(drop);
                    self.offset += drop as u64;
                    self.discarding = Some((offset, n + drop));
                    self.searched = src.len();
                    return Ok(None);
                }
                (Some((i, t)), None) if i <= self.max => {
                    let block = src.split_to(i).freeze();
                    src.advance(t - 1);
                    self.offset += (i + t - 1) as u64;
                    self.searched = 0;
                    return Ok(Some(Item::Frame {
                        payload: block,
                        invoke_id: None,
                    }));
                }
                // A blank line after too long a block, or none yet and none can come soon enough:
                // a block of `max` bytes may still be ended by the `\r\n` of a `\n\r\n`.
                (Some(_), None) | (None, None) if found.is_some() || src.len() > self.max + 2 => {
                    self.malformed += 1;
                    self.discarding = Some((self.offset, 0));
                    self.searched = 0;
                }
                _ => {
                    self.searched = src.len();
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Item>, LinkError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        let len = src.len();
        src.clear();
        self.searched = 0;
        if let Some((offset, n)) = self.discarding.take() {
            return Ok(Some(Item::Malformed {
                offset,
                len: n + len,
                error: MalformedKind::TooLong { max: self.max },
            }));
        }
        if len == 0 {
            return Ok(None);
        }
        let offset = self.offset;
        self.offset += len as u64;
        self.malformed += 1;
        Ok(Some(Item::Malformed {
            offset,
            len,
            error: MalformedKind::Truncated,
        }))
    }
}

impl Encoder<&[u8]> for BlockCodec {
    type Error = LinkError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), LinkError> {
        dst.put_slice(item);
        dst.put_slice(b"\r\n\r\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn frames<D: Decoder<Item = Item, Error = LinkError>>(
        d: &mut D,
        chunks: &[&[u8]],
    ) -> Vec<Item> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(i) = d.decode(&mut buf).unwrap() {
                out.push(i);
            }
        }
        while let Some(i) = d.decode_eof(&mut buf).unwrap() {
            out.push(i);
        }
        out
    }

    fn payloads(items: &[Item]) -> Vec<&[u8]> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Frame { payload, .. } => Some(&payload[..]),
                Item::Malformed { .. } => None,
            })
            .collect()
    }

    const PDU: &[u8] = &[0xA1, 0x03, 0x02, 0x01, 0x07];

    #[test]
    fn garbage_between_frames_is_reported_and_skipped() {
        let mut c = FrameCodec::new(Framing::HiPath);
        let mut wire = BytesMut::new();
        c.encode(Bytes::from_static(PDU), &mut wire).unwrap();
        wire.extend_from_slice(b"noise");
        c.encode(Bytes::from_static(PDU), &mut wire).unwrap();
        let items = frames(&mut c, &[&wire]);
        assert_eq!(payloads(&items), vec![PDU, PDU]);
        assert_eq!(c.malformed(), 1);
        assert!(matches!(
            items[1],
            Item::Malformed {
                offset: 8,
                len: 5,
                ..
            }
        ));
    }

    #[test]
    fn xml_header_carries_the_invoke_id_and_truncation_is_reported() {
        let mut c = FrameCodec::new(Framing::XmlHeader);
        let mut wire = BytesMut::new();
        c.encode(
            OutFrame {
                payload: b"<a/>",
                invoke_id: Some(12),
            },
            &mut wire,
        )
        .unwrap();
        wire.extend_from_slice(b"\x00\x00\x00\x20000");
        let items = frames(&mut c, &[&wire]);
        assert_eq!(
            items[0],
            Item::Frame {
                payload: Bytes::from_static(b"<a/>"),
                invoke_id: Some(12)
            }
        );
        assert!(matches!(
            items[1],
            Item::Malformed {
                offset: 12,
                len: 7,
                error: MalformedKind::Truncated
            }
        ));
    }

    #[test]
    fn oversized_frames_are_refused_both_ways() {
        let mut c = FrameCodec::with_max(Framing::Len2, 4);
        let mut wire = BytesMut::new();
        assert!(c.encode(Bytes::from_static(PDU), &mut wire).is_err());
        let items = frames(&mut c, &[&[0x00, 0x05, 1, 2, 3, 4, 5]]);
        assert!(matches!(
            items[0],
            Item::Malformed {
                error: MalformedKind::Frame(framing::FrameError::TooLong { .. }),
                ..
            }
        ));
    }

    #[test]
    fn records_split_on_crlf_and_long_ones_are_discarded() {
        let mut c = RecordCodec::lines(8);
        let items = frames(
            &mut c,
            &[
                b"one\r\ntwo\r",
                b"\nthis one is far too long",
                b" indeed\r\nthree\n",
                b"tail",
            ],
        );
        assert_eq!(
            payloads(&items),
            vec![&b"one"[..], b"two", b"three", b"tail"]
        );
        assert_eq!(c.malformed(), 1);
        assert!(matches!(
            items[2],
            Item::Malformed {
                offset: 10,
                len: 32,
                error: MalformedKind::TooLong { max: 8 }
            }
        ));
    }

    #[test]
    fn blocks_end_at_blank_lines_with_banner() {
        let mut c = BlockCodec::new(64).with_leading_line();
        let items = frames(
            &mut c,
            &[
                b"Asterisk Call Manager/5.0.2\r\nResponse: Success\r\nMessage: ok\r\n\r",
                b"\nEvent: X\n\nEvent: Y\r\n",
                b"\r\n",
            ],
        );
        assert_eq!(
            payloads(&items),
            vec![
                &b"Asterisk Call Manager/5.0.2"[..],
                b"Response: Success\r\nMessage: ok\r\n",
                b"Event: X\n",
                b"Event: Y\r\n"
            ]
        );
    }

    #[test]
    fn oversized_block_is_discarded_to_its_end() {
        let mut c = BlockCodec::new(16);
        let big = vec![b'x'; 100];
        let items = frames(&mut c, &[b"A: 1\r\n\r\n", &big, b"\r\n\r\nB: 2\r\n\r\n"]);
        assert_eq!(payloads(&items), vec![&b"A: 1\r\n"[..], b"B: 2\r\n"]);
        assert_eq!(c.malformed(), 1);
    }

    proptest! {
        #[test]
        fn codecs_never_panic_and_stay_bounded(data in proptest::collection::vec(any::<u8>(), 0..400), cut in 1usize..40) {
            let chunks: Vec<&[u8]> = data.chunks(cut).collect();
            for f in [Framing::None, Framing::Len2, Framing::HiPath, Framing::XmlHeader] {
                let mut c = FrameCodec::with_max(f, 64);
                let items = frames(&mut c, &chunks);
                let total: usize = items.iter().map(|i| match i {
                    Item::Frame { .. } => 0,
                    Item::Malformed { len, .. } => *len,
                }).sum();
                prop_assert!(total <= data.len());
            }
            frames(&mut RecordCodec::lines(16), &chunks);
            frames(&mut BlockCodec::new(16).with_leading_line(), &chunks);
        }

        #[test]
        fn record_chunking_does_not_matter(lines in proptest::collection::vec("[a-z]{1,10}", 1..10), cut in 1usize..7) {
            let text = lines.join("\r\n") + "\r\n";
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(cut).collect();
            let items = frames(&mut RecordCodec::lines(32), &chunks);
            let got: Vec<&[u8]> = payloads(&items);
            let want: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn block_chunking_does_not_matter(blocks in proptest::collection::vec("[a-z]{1,10}: [a-z]{1,5}", 1..8), cut in 1usize..7) {
            let text: String = blocks.iter().map(|b| format!("{b}\r\n\r\n")).collect();
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(cut).collect();
            let items = frames(&mut BlockCodec::new(64), &chunks);
            let want: Vec<String> = blocks.iter().map(|b| format!("{b}\r\n")).collect();
            let got: Vec<String> = payloads(&items).iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
