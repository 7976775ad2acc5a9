use std::collections::VecDeque;

/// Default maximum record length in bytes (longest real records are ~250 bytes).
pub const DEFAULT_MAX_RECORD: usize = 1024;

const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// How records are delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// One record per line, ended by LF (a preceding CR is removed).
    Lines,
    /// One record between `STX` (0x02) and `ETX` (0x03); bytes outside frames are noise.
    StxEtx,
}

/// What the splitter produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SplitEvent {
    /// A record, without delimiters.
    Record(Vec<u8>),
    /// A record longer than the maximum was discarded; the splitter resynchronised at the next
    /// delimiter.
    Oversized,
}

/// Streaming record splitter: feed bytes in any chunking, pull records.
///
/// Memory is bounded by the maximum record length plus the records not yet pulled.
/// Generic noise is dropped here: blank lines, modem `AT…` commands and `OK`/`CONNECT`/`NO CARRIER`
/// responses, and rulers made of `-`, `=` or `*`.
#[derive(Debug, Clone)]
pub struct Splitter {
    framing: Framing,
    max: usize,
    cur: Vec<u8>,
    in_frame: bool,
    discarding: bool,
    out: VecDeque<SplitEvent>,
    noise: u64,
}

impl Splitter {
    /// A splitter with the given framing and maximum record length (at least 16 bytes).
    pub fn new(framing: Framing, max_record: usize) -> Self {
        Self {
            framing,
            max: max_record.max(16),
            cur: Vec::new(),
            in_frame: false,
            discarding: false,
            out: VecDeque::new(),
            noise: 0,
        }
    }

    /// Number of noise lines or stray bytes outside frames skipped so far.
    pub fn noise(&self) -> u64 {
        self.noise
    }

    /// Bytes buffered in the current partial record.
    pub fn buffered(&self) -> usize {
        self.cur.len()
    }

    /// Feeds bytes.
    pub fn push(&mut self, data: &[u8]) {
        match self.framing {
            Framing::Lines => self.push_lines(data),
            Framing::StxEtx => self.push_frames(data),
        }
    }

    /// Pulls the next record or event, if any is complete.
    pub fn next_event(&mut self) -> Option<SplitEvent> {
        self.out.pop_front()
    }

    /// Ends the stream: a final unterminated line is emitted; an unterminated frame is dropped
    /// (and counted as noise).
    pub fn finish(&mut self) {
        match self.framing {
            Framing::Lines => {
                if self.discarding {
                    self.discarding = false;
                } else if !self.cur.is_empty() {
                    self.end_line();
                }
            }
            Framing::StxEtx => {
                if self.in_frame && !self.discarding {
                    self.noise += 1;
                }
                self.in_frame = false;
                self.discarding = false;
            }
        }
        self.cur.clear();
    }

    fn push_lines(&mut self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (part, tail) = rest.split_at(i);
                    self.append(part);
                    if self.discarding {
                        self.discarding = false;
                        self.cur.clear();
                    } else {
                        self.end_line();
                    }
                    rest = tail.get(1..).unwrap_or(&[]);
                }
                None => {
                    self.append(rest);
                    rest = &[];
                }
            }
        }
    }

    fn append(&mut self, part: &[u8]) {
        if self.discarding {
            return;
        }
        if self.cur.len() + part.len() > self.max + 1 {
            // +1 allows for the CR before LF.
            self.cur.clear();
            self.discarding = true;
            self.out.push_back(SplitEvent::Oversized);
        } else {
            self.cur.extend_from_slice(part);
        }
    }

    fn end_line(&mut self) {
        let mut line = std::mem::take(&mut self.cur);
        while matches!(line.last(), Some(b'\r')) {
            line.pop();
        }
        if line.len() > self.max {
            self.out.push_back(SplitEvent::Oversized);
        } else if is_line_noise(&line) {
            self.noise += 1;
        } else {
            self.out.push_back(SplitEvent::Record(line));
        }
    }

    fn push_frames(&mut self, data: &[u8]) {
        for &b in data {
            match b {
                STX => {
                    if self.in_frame && !self.discarding {
                        // A frame restarted before its ETX: drop the partial one.
                        self.noise += 1;
                    }
                    self.cur.clear();
                    self.in_frame = true;
                    self.discarding = false;
                }
                ETX if self.in_frame => {
                    if !self.discarding {
                        let rec = std::mem::take(&mut self.cur);
                        self.out.push_back(SplitEvent::Record(rec));
                    }
                    self.cur.clear();
                    self.in_frame = false;
                    self.discarding = false;
                }
                _ if self.in_frame => {
                    if self.discarding {
                        continue;
                    }
                    if self.cur.len() >= self.max {
                        self.cur.clear();
                        self.discarding = true;
                        self.out.push_back(SplitEvent::Oversized);
                    } else {
                        self.cur.push(b);
                    }
                }
                b'\r' | b'\n' | b' ' => {}
                _ => {
                    // A stray byte outside a frame (e.g. a modem response).
                    self.noise += 1;
                }
            }
        }
    }
}

/// True for lines that are never call records in any format.
pub(crate) fn is_line_noise(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    if t.is_empty() {
        return true;
    }
    if t.iter()
        .all(|b| matches!(b, b'-' | b'=' | b'*' | b' ' | b'+' | b'|'))
    {
        return true;
    }
    let upper = |p: &[u8]| {
        t.len() >= p.len() && t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    if upper(b"AT")
        && t.get(2)
            .is_none_or(|b| b.is_ascii_alphabetic() || matches!(b, b'&' | b'+' | b'\\'))
    {
        return true;
    }
    matches!(
        t.to_ascii_uppercase().as_slice(),
        b"OK" | b"ERROR" | b"RING" | b"NO CARRIER"
    ) || upper(b"CONNECT")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &mut Splitter) -> Vec<SplitEvent> {
        std::iter::from_fn(|| s.next_event()).collect()
    }

    #[test]
    fn lines_crlf_and_lf() {
        let mut s = Splitter::new(Framing::Lines, 100);
        s.push(b"one\r\ntwo\nthr");
        s.push(b"ee\r");
        s.push(b"\n");
        assert_eq!(
            collect(&mut s),
            vec![
                SplitEvent::Record(b"one".to_vec()),
                SplitEvent::Record(b"two".to_vec()),
                SplitEvent::Record(b"three".to_vec()),
            ]
        );
    }

    #[test]
    fn noise_lines_skipped() {
        let mut s = Splitter::new(Framing::Lines, 100);
        s.push(b"\r\nATZ\r\nOK\r\nAT&F1\r\n------ ----\r\n=====\r\nCONNECT 9600\r\nrecord\r\n");
        assert_eq!(
            collect(&mut s),
            vec![SplitEvent::Record(b"record".to_vec())]
        );
        assert_eq!(s.noise(), 7);
    }

    #[test]
    fn attendant_like_record_not_noise() {
        assert!(!is_line_noise(b"AT1 01/05 ..."));
        assert!(is_line_noise(b"AT"));
        assert!(is_line_noise(b"at+cgmi"));
    }

    #[test]
    fn oversized_line_resyncs() {
        let mut s = Splitter::new(Framing::Lines, 16);
        s.push(&[b'x'; 40]);
        assert!(s.buffered() <= 17);
        s.push(&[b'y'; 40]);
        s.push(b"\nok line\n");
        assert_eq!(
            collect(&mut s),
            vec![
                SplitEvent::Oversized,
                SplitEvent::Record(b"ok line".to_vec())
            ]
        );
    }

    #[test]
    fn frames_with_garbage() {
        let mut s = Splitter::new(Framing::StxEtx, 64);
        s.push(b"junk\x02KAone\x03\r\n\x02partial\x02KBtwo\x03xx");
        assert_eq!(
            collect(&mut s),
            vec![
                SplitEvent::Record(b"KAone".to_vec()),
                SplitEvent::Record(b"KBtwo".to_vec()),
            ]
        );
        assert_eq!(s.noise(), 4 + 1 + 2);
    }

    #[test]
    fn oversized_frame_resyncs_at_next_stx() {
        let mut s = Splitter::new(Framing::StxEtx, 16);
        s.push(b"\x02");
        s.push(&[b'z'; 100]);
        s.push(b"\x03\x02KEok\x03");
        assert_eq!(
            collect(&mut s),
            vec![SplitEvent::Oversized, SplitEvent::Record(b"KEok".to_vec())]
        );
    }

    #[test]
    fn finish_flushes_last_line() {
        let mut s = Splitter::new(Framing::Lines, 64);
        s.push(b"last");
        assert_eq!(s.next_event(), None);
        s.finish();
        assert_eq!(s.next_event(), Some(SplitEvent::Record(b"last".to_vec())));
    }
}
