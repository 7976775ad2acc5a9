//! Streaming AMI decoder and action encoder.
//!
//! AMI is line based: a message is a block of `Key: Value` lines ended by a blank line. The
//! decoder accepts CRLF and bare LF, a banner line (`Asterisk Call Manager/x.y.z`) without a
//! blank line after it, `Response: Follows` blocks whose output runs until `--END COMMAND--`
//! (Asterisk ≤ 13), `Output:` headers (Asterisk 14+), repeated keys, and lines without a colon
//! (kept as output lines). Limits bound every line and message; an oversized block is reported
//! once, skipped up to the next blank line, and counted.
//!
//! Messages are zero-copy: a [`Message`] holds the block's bytes (`Bytes`) and the offsets of
//! its headers.

use bytes::{Buf, Bytes, BytesMut};

use crate::Error;

/// Size limits of the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted line, in bytes, without its line ending.
    pub max_line: usize,
    /// Largest accepted message, in bytes, including line endings.
    pub max_message: usize,
    /// Most header plus output lines in one message.
    pub max_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 16 * 1024,
            max_message: 1024 * 1024,
            max_lines: 16 * 1024,
        }
    }
}

/// What a block is, from its first header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// The `Asterisk Call Manager/x.y.z` greeting line.
    Banner,
    /// A `Response:` block (including `Response: Follows`).
    Response,
    /// An `Event:` block.
    Event,
    /// An `Action:` block (what a client sends; seen in transcripts).
    Action,
    /// Any other block; every header is still kept.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    key: (u32, u32),
    value: (u32, u32),
}

/// One decoded AMI message: a banner or a block of headers (plus output lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    raw: Bytes,
    kind: MessageKind,
    headers: Vec<Span>,
    output: Vec<(u32, u32)>,
}

fn slice(raw: &Bytes, (a, b): (u32, u32)) -> &str {
    raw.get(a as usize..b as usize)
        .and_then(|s| std::str::from_utf8(s).ok())
        .unwrap_or("")
}

impl Message {
    /// Builds a message from header pairs (for tests and synthesised messages).
    pub fn from_headers<'a>(
        kind: MessageKind,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut raw = Vec::new();
        let mut spans = Vec::new();
        for (k, v) in headers {
            let ks = raw.len() as u32;
            raw.extend_from_slice(k.as_bytes());
            let ke = raw.len() as u32;
            raw.extend_from_slice(b": ");
            let vs = raw.len() as u32;
            raw.extend_from_slice(v.as_bytes());
            let ve = raw.len() as u32;
            raw.extend_from_slice(b"\r\n");
            spans.push(Span {
                key: (ks, ke),
                value: (vs, ve),
            });
        }
        raw.extend_from_slice(b"\r\n");
        Self {
            raw: Bytes::from(raw),
            kind,
            headers: spans,
            output: Vec::new(),
        }
    }

    /// The kind of block.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The raw bytes of the block as received (invalid UTF-8 replaced by `?`).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// For a banner: the text after `Asterisk Call Manager/` (e.g. `7.0.3`).
    pub fn banner_version(&self) -> Option<&str> {
        if self.kind != MessageKind::Banner {
            return None;
        }
        let line = std::str::from_utf8(&self.raw).ok()?.trim_end();
        line.strip_prefix("Asterisk Call Manager/")
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|s| slice(&self.raw, s.key).eq_ignore_ascii_case(key))
            .map(|s| slice(&self.raw, s.value))
    }

    /// Every value of `key` (case-insensitive), in order — e.g. repeated `Variable:` lines.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |s| slice(&self.raw, s.key).eq_ignore_ascii_case(key))
            .map(|s| slice(&self.raw, s.value))
    }

    /// Every header in order, repeated keys included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.headers
            .iter()
            .map(|s| (slice(&self.raw, s.key), slice(&self.raw, s.value)))
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// Output lines: the body of `Response: Follows` (without `--END COMMAND--`), lines without a
    /// colon, and the values of Asterisk 14+ `Output:` headers.
    pub fn output(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.get_all("Output").collect();
        out.extend(self.output.iter().map(|&s| slice(&self.raw, s)));
        out
    }

    /// The `ActionID` header.
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID")
    }

    /// The `Event` header.
    pub fn event_name(&self) -> Option<&str> {
        self.get("Event")
    }

    /// The `Response` header.
    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }
}

/// Counters kept by the decoder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Messages produced (banners included).
    pub messages: u64,
    /// Malformed (oversized) blocks reported and skipped.
    pub malformed: u64,
    /// Bytes discarded while resynchronising.
    pub skipped_bytes: u64,
}

/// Streaming decoder: [`feed`](Self::feed) bytes split anywhere, then pull messages with
/// [`decode`](Self::decode) until it returns `None`.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    limits: Limits,
    pos: usize,
    /// How many bytes after `pos` are known to hold no `\n`: a line that arrives in many reads
    /// is searched once, not again from its start on every read (which is quadratic in the
    /// line's length).
    scanned: usize,
    /// Bytes searched for a line end so far (what the tests check `scanned` against).
    #[cfg(test)]
    searched: u64,
    headers: Vec<Span>,
    output: Vec<(u32, u32)>,
    in_block: bool,
    follows: bool,
    skipping: bool,
    skip_dirty: bool,
    stats: DecoderStats,
}

/// Headers reserved per message up front (a typical event has 8–20).
const HEADERS_CAPACITY: usize = 16;
const END_COMMAND: &[u8] = b"--END COMMAND--";
const BANNER: &[u8] = b"Asterisk Call Manager/";

fn is_blank(line: &[u8]) -> bool {
    match line.first() {
        None => true,
        Some(b' ' | b'\t') => line.iter().all(|&b| b == b' ' || b == b'\t'),
        Some(_) => false,
    }
}

/// memchr-backed search (through nom's `FindSubstring`).
fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    use nom::FindSubstring;
    hay.find_substring(std::slice::from_ref(&byte))
}

fn trim_spaces(line: &[u8], mut a: usize, mut b: usize) -> (usize, usize) {
    while a < b && matches!(line.get(a), Some(b' ' | b'\t')) {
        a += 1;
    }
    while b > a && matches!(line.get(b - 1), Some(b' ' | b'\t')) {
        b -= 1;
    }
    (a, b)
}

impl Decoder {
    /// A decoder with default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Forgets any partial message (on reconnect).
    pub fn reset(&mut self) {
        let stats = self.stats;
        *self = Self::with_limits(self.limits);
        self.stats = stats;
    }

    fn start_skipping(
        &mut self,
        consumed: usize,
        dirty: bool,
        err: Error,
    ) -> Option<Result<Message, Error>> {
        let consumed = consumed.min(self.buf.len());
        self.stats.skipped_bytes += consumed as u64;
        self.stats.malformed += 1;
        self.buf.advance(consumed);
        self.pos = 0;
        self.scanned = 0;
        self.headers.clear();
        self.output.clear();
        self.in_block = false;
        self.follows = false;
        self.skipping = true;
        self.skip_dirty = dirty;
        Some(Err(err))
    }

    fn complete(&mut self, end: usize, kind: Option<MessageKind>) -> Message {
        let mut raw = self.buf.split_to(end.min(self.buf.len()));
        sanitize_utf8(&mut raw);
        let raw = raw.freeze();
        self.pos = 0;
        self.scanned = 0;
        self.in_block = false;
        self.follows = false;
        let headers = std::mem::replace(&mut self.headers, Vec::with_capacity(HEADERS_CAPACITY));
        let output = std::mem::take(&mut self.output);
        let kind = kind.unwrap_or_else(|| match headers.first() {
            Some(s) => {
                let k = slice(&raw, s.key);
                if k.eq_ignore_ascii_case("Event") {
                    MessageKind::Event
                } else if k.eq_ignore_ascii_case("Response") {
                    MessageKind::Response
                } else if k.eq_ignore_ascii_case("Action") {
                    MessageKind::Action
                } else {
                    MessageKind::Other
                }
            }
            None => MessageKind::Other,
        });
        self.stats.messages += 1;
        Message {
            raw,
            kind,
            headers,
            output,
        }
    }

    /// End of stream: terminates a buffered final block that lacks its blank line (a capture
    /// cut short, a peer closing mid-block) and returns it; call [`decode`](Self::decode)-style
    /// until `None`. An unterminated `Response: Follows` block is returned with what arrived.
    pub fn finish(&mut self) -> Option<Result<Message, Error>> {
        if let Some(r) = self.decode() {
            return Some(r);
        }
        if self.skipping || is_blank(&self.buf) {
            self.stats.skipped_bytes += self.buf.len() as u64;
            self.reset();
            return None;
        }
        if self.buf.last() != Some(&b'\n') {
            // End the last line and decode it first: it may itself be the `Response: Follows`
            // that decides how the block has to be closed.
            self.buf.extend_from_slice(b"\r\n");
            return self.finish();
        }
        if self.follows {
            self.buf.extend_from_slice(END_COMMAND);
            self.buf.extend_from_slice(b"\r\n");
        }
        self.buf.extend_from_slice(b"\r\n");
        self.decode()
    }

    /// Decodes the next complete message. `None` means more bytes are needed; `Some(Err(_))`
    /// reports a malformed block that has been (or is being) skipped — keep calling.
    pub fn decode(&mut self) -> Option<Result<Message, Error>> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let from = self.scanned.min(rest.len());
            let unsearched = rest.get(from..).unwrap_or_default();
            #[cfg(test)]
            {
                self.searched += unsearched.len() as u64;
            }
            let found = find_byte(unsearched, b'\n').map(|i| from + i);
            self.scanned = rest.len();
            let Some(nl) = found else {
                if self.skipping {
                    // Keep a trailing CR: it may be the start of this line's CRLF.
                    let n = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
                    self.skip_dirty |= !is_blank(self.buf.get(..n).unwrap_or_default());
                    self.stats.skipped_bytes += n as u64;
                    self.buf.advance(n);
                    self.pos = 0;
                    self.scanned = 0;
                    return None;
                }
                if rest.len() > self.limits.max_line + 1 {
                    let limit = self.limits.max_line;
                    let n = self.buf.len();
                    return self.start_skipping(n, true, Error::LineTooLong { limit });
                }
                // The message size is judged when the line is complete, as it would be with the
                // whole input at hand, so the error does not depend on where reads end. The
                // buffer stays bounded: complete lines are checked against `max_message`, and
                // this partial line against `max_line`.
                return None;
            };
            // Every path from here moves `pos` or the buffer's start.
            self.scanned = 0;
            let start = self.pos;
            let next = start + nl + 1;
            let mut end = start + nl;
            if end > start && self.buf.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
            let line = self.buf.get(start..end).unwrap_or_default();
            let blank = is_blank(line);

            if self.skipping {
                let was_dirty = self.skip_dirty;
                self.stats.skipped_bytes += next as u64;
                self.buf.advance(next);
                self.pos = 0;
                self.skip_dirty = false;
                if blank && !was_dirty {
                    self.skipping = false;
                }
                continue;
            }
            if line.len() > self.limits.max_line {
                let limit = self.limits.max_line;
                return self.start_skipping(next, false, Error::LineTooLong { limit });
            }
            if next > self.limits.max_message {
                let limit = self.limits.max_message;
                let ends_block = blank && !self.follows;
                let r = self.start_skipping(next, false, Error::MessageTooLarge { limit });
                if ends_block {
                    self.skipping = false;
                }
                return r;
            }
            if !self.in_block {
                if blank {
                    self.buf.advance(next);
                    self.pos = 0;
                    continue;
                }
                if line.starts_with(BANNER) {
                    return Some(Ok(self.complete(next, Some(MessageKind::Banner))));
                }
                self.in_block = true;
            }
            if self.headers.len() + self.output.len() >= self.limits.max_lines {
                let limit = self.limits.max_lines;
                let ends_block = blank && !self.follows;
                let r = self.start_skipping(next, !ends_block, Error::TooManyHeaders { limit });
                if ends_block {
                    self.skipping = false;
                }
                return r;
            }
            if self.follows {
                if line == END_COMMAND {
                    return Some(Ok(self.complete(next, None)));
                }
                if self.output.is_empty()
                    && let Some(span) = header_span(line, start)
                {
                    self.headers.push(span);
                } else {
                    self.output.push((start as u32, end as u32));
                }
            } else {
                if blank {
                    return Some(Ok(self.complete(next, None)));
                }
                match header_span(line, start) {
                    Some(span) => {
                        if self.headers.is_empty() {
                            let k = self.buf.get(span.key.0 as usize..span.key.1 as usize);
                            let v = self.buf.get(span.value.0 as usize..span.value.1 as usize);
                            if k.is_some_and(|k| k.eq_ignore_ascii_case(b"Response"))
                                && v.is_some_and(|v| v.eq_ignore_ascii_case(b"Follows"))
                            {
                                self.follows = true;
                            }
                        }
                        self.headers.push(span);
                    }
                    None => self.output.push((start as u32, end as u32)),
                }
            }
            self.pos = next;
        }
    }
}

/// `Key: Value` → spans (absolute offsets); `None` when the line has no colon or an empty key,
/// or a key with spaces inside (then it is an output line).
fn header_span(line: &[u8], base: usize) -> Option<Span> {
    let colon = find_byte(line, b':')?;
    let (ka, kb) = trim_spaces(line, 0, colon);
    if ka == kb || line.get(ka..kb)?.contains(&b' ') {
        return None;
    }
    let (va, vb) = trim_spaces(line, colon + 1, line.len());
    Some(Span {
        key: ((base + ka) as u32, (base + kb) as u32),
        value: ((base + va) as u32, (base + vb) as u32),
    })
}

/// Replaces each byte of an invalid UTF-8 sequence by `?` (lengths, hence offsets, unchanged).
fn sanitize_utf8(raw: &mut [u8]) {
    let mut from = 0;
    loop {
        let Some(rest) = raw.get(from..) else { return };
        match std::str::from_utf8(rest) {
            Ok(_) => return,
            Err(e) => {
                let bad_start = from + e.valid_up_to();
                let bad_len = e
                    .error_len()
                    .unwrap_or_else(|| rest.len() - e.valid_up_to());
                for b in raw.iter_mut().skip(bad_start).take(bad_len) {
                    *b = b'?';
                }
                from = bad_start + bad_len.max(1);
            }
        }
    }
}

/// Appends one action block: `Action: name`, `ActionID: id`, then `headers`, then a blank line.
/// CR and LF inside values are replaced by spaces so a value can never inject a header.
pub fn encode_action<'a>(
    out: &mut Vec<u8>,
    name: &str,
    action_id: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    fn put(out: &mut Vec<u8>, k: &str, v: &str) {
        out.extend(k.bytes().filter(|&b| b != b'\r' && b != b'\n' && b != b':'));
        out.extend_from_slice(b": ");
        out.extend(
            v.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
    put(out, "Action", name);
    put(out, "ActionID", action_id);
    for (k, v) in headers {
        put(out, k, v);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut Decoder) -> Vec<Result<Message, Error>> {
        std::iter::from_fn(|| d.decode()).collect()
    }

    #[test]
    fn banner_then_block_without_blank_line() {
        let mut d = Decoder::new();
        d.feed(b"Asterisk Call Manager/7.0.3\r\nResponse: Success\r\nActionID: 1\r\nChallenge: 42\r\n\r\n");
        let m = all(&mut d);
        assert_eq!(m.len(), 2);
        let b = m[0].as_ref().unwrap();
        assert_eq!(b.kind(), MessageKind::Banner);
        assert_eq!(b.banner_version(), Some("7.0.3"));
        let r = m[1].as_ref().unwrap();
        assert_eq!(r.kind(), MessageKind::Response);
        assert_eq!(r.get("challenge"), Some("42"));
    }

    #[test]
    fn bare_lf_repeated_keys_and_empty_value() {
        let mut d = Decoder::new();
        d.feed(b"Event: Newchannel\nAccountCode:\nVariable: a=1\nVariable: b=2\n\n");
        let m = d.decode().unwrap().unwrap();
        assert_eq!(m.kind(), MessageKind::Event);
        assert_eq!(m.get("AccountCode"), Some(""));
        assert_eq!(m.get_all("variable").collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert!(d.decode().is_none());
    }

    #[test]
    fn follows_with_blank_output_lines() {
        let mut d = Decoder::new();
        d.feed(b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\nline one: x\r\n\r\n0 active calls\r\n--END COMMAND--\r\n\r\nEvent: Ping\r\n\r\n");
        let m = d.decode().unwrap().unwrap();
        assert_eq!(m.action_id(), Some("7"));
        assert_eq!(m.output(), ["line one: x", "", "0 active calls"]);
        let e = d.decode().unwrap().unwrap();
        assert_eq!(e.event_name(), Some("Ping"));
    }

    #[test]
    fn asterisk14_output_headers() {
        let mut d = Decoder::new();
        d.feed(b"Response: Success\r\nActionID: 2\r\nMessage: Command output follows\r\nOutput: a\r\nOutput: b\r\n\r\n");
        let m = d.decode().unwrap().unwrap();
        assert_eq!(m.output(), ["a", "b"]);
    }

    #[test]
    fn long_line_resyncs_at_blank_line() {
        let mut d = Decoder::with_limits(Limits {
            max_line: 32,
            max_message: 1024,
            max_lines: 64,
        });
        d.feed(b"Event: A\r\nX: ");
        d.feed(&[b'y'; 100]);
        assert!(matches!(
            d.decode(),
            Some(Err(Error::LineTooLong { limit: 32 }))
        ));
        d.feed(&[b'y'; 100]);
        d.feed(b"\r\nMore: z\r\n\r\nEvent: B\r\n\r\n");
        let m = all(&mut d);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].as_ref().unwrap().event_name(), Some("B"));
        assert_eq!(d.stats().malformed, 1);
        assert!(d.buffered() == 0);
    }

    #[test]
    fn big_message_is_skipped_and_counted() {
        let mut d = Decoder::with_limits(Limits {
            max_line: 64,
            max_message: 100,
            max_lines: 64,
        });
        let mut big = b"Event: Big\r\n".to_vec();
        for _ in 0..20 {
            big.extend_from_slice(b"Key: value\r\n");
        }
        big.extend_from_slice(b"\r\nEvent: Small\r\n\r\n");
        d.feed(&big);
        let m = all(&mut d);
        assert!(matches!(m[0], Err(Error::MessageTooLarge { limit: 100 })));
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].as_ref().unwrap().event_name(), Some("Small"));
    }

    #[test]
    fn finish_terminates_a_cut_block() {
        let mut d = Decoder::new();
        d.feed(b"Event: A\r\n\r\nEvent: B\r\nStatus: 0");
        assert_eq!(d.decode().unwrap().unwrap().event_name(), Some("A"));
        assert!(d.decode().is_none());
        let b = d.finish().unwrap().unwrap();
        assert_eq!(b.get("Status"), Some("0"));
        assert!(d.finish().is_none());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut d = Decoder::new();
        d.feed(b"Event: X\r\nCallerIDName: M\xfcller\r\n\r\n");
        let m = d.decode().unwrap().unwrap();
        assert_eq!(m.get("CallerIDName"), Some("M?ller"));
    }

    #[test]
    fn encoder_strips_injection() {
        let mut out = Vec::new();
        encode_action(&mut out, "Setvar", "1", [("Value", "x\r\nAction: Hangup")]);
        assert_eq!(
            out,
            b"Action: Setvar\r\nActionID: 1\r\nValue: x  Action: Hangup\r\n\r\n"
        );
    }

    /// The end of the stream in the middle of the line that opens a `Response: Follows`
    /// block: the block is returned with what arrived and nothing stays buffered (the block
    /// used to be closed as an ordinary one, which left it waiting for `--END COMMAND--`).
    #[test]
    fn finish_closes_a_follows_block_whose_first_line_is_unterminated() {
        for input in [
            &b"Response: Follows"[..],
            b"Event: A\r\n\r\nResponse: Follows",
            b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9",
            b"Response: Follows\r\n0 active calls",
        ] {
            let mut d = Decoder::new();
            d.feed(input);
            let mut m = all(&mut d);
            m.extend(std::iter::from_fn(|| d.finish()));
            assert_eq!(d.buffered(), 0, "{:?}", String::from_utf8_lossy(input));
            let last = m.last().unwrap().as_ref().unwrap();
            assert_eq!(last.response(), Some("Follows"));
        }
    }

    /// A stream fed one byte per read, its lines each searched for their end once in all:
    /// a partial line is not searched again from its start on every read (which made a
    /// hostile peer's long lines cost the square of their length).
    #[test]
    fn long_lines_fed_byte_by_byte_are_searched_once() {
        let mut block = b"Event: UserEvent\r\nVariable: ".to_vec();
        block.resize(block.len() + 16_000, b'a');
        block.extend_from_slice(b"\r\nOutput-less line without a colon\r\n\r\n");
        let mut input = Vec::new();
        while input.len() < 1 << 20 {
            input.extend_from_slice(&block);
        }
        // Lines over the limit too (skipped), and a last block without its blank line.
        input.extend(std::iter::repeat_n(b'b', 20_000));
        input.extend_from_slice(b"\r\n\r\nEvent: Last\r\nX: ");
        input.extend(std::iter::repeat_n(b'c', 10_000));

        let mut whole = Decoder::new();
        whole.feed(&input);
        let mut expected = all(&mut whole);
        expected.extend(std::iter::from_fn(|| whole.finish()));

        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in input.chunks(1) {
            d.feed(b);
            got.extend(std::iter::from_fn(|| d.decode()));
        }
        // (`finish` resets the decoder, counter included.)
        let searched = d.searched;
        got.extend(std::iter::from_fn(|| d.finish()));
        assert_eq!(got, expected);
        assert_eq!(got.len(), (1 << 20) / block.len() + 1 + 2);
        // Each byte searched once (a CR kept while a long line is skipped is looked at again):
        // before, the 16,000-byte lines made it 8,645,553,310 bytes, 7,929 times the input.
        assert!(
            searched <= input.len() as u64 + 16,
            "{searched} bytes searched for {} bytes of input",
            input.len()
        );
    }
}
