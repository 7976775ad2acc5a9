use crate::SmdrError;
use crate::record::{CallRecord, Format, ParseOptions};
use crate::split::{DEFAULT_MAX_RECORD, SplitEvent, Splitter};

/// Counters kept by a [`Decoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderStats {
    /// Records parsed successfully.
    pub records: u64,
    /// Records that failed to parse (reported and skipped).
    pub malformed: u64,
    /// Records discarded for exceeding the maximum length.
    pub oversized: u64,
    /// Noise lines (headers, rulers, modem chatter, blank lines) and stray bytes skipped.
    pub noise: u64,
}

/// Splitter plus parser for one format: feed bytes, pull records or errors.
#[derive(Debug, Clone)]
pub struct Decoder {
    format: Format,
    opts: ParseOptions,
    split: Splitter,
    stats: DecoderStats,
    noise_parsed: u64,
    max_record: usize,
}

impl Decoder {
    /// A decoder with the default maximum record length.
    pub fn new(format: Format, opts: ParseOptions) -> Self {
        Self::with_max_record(format, opts, DEFAULT_MAX_RECORD)
    }

    /// A decoder with an explicit maximum record length.
    pub fn with_max_record(format: Format, opts: ParseOptions, max_record: usize) -> Self {
        Self {
            format,
            opts,
            split: Splitter::new(format.framing(), max_record),
            stats: DecoderStats::default(),
            noise_parsed: 0,
            max_record: max_record.max(16),
        }
    }

    /// The format decoded.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Feeds bytes from the link.
    pub fn push(&mut self, data: &[u8]) {
        self.split.push(data);
    }

    /// Ends the stream (flushes a final unterminated line).
    pub fn finish(&mut self) {
        self.split.finish();
    }

    /// The next parsed record, or the error of a record that was skipped; `None` when more bytes
    /// are needed. Noise is skipped silently (and counted).
    pub fn next_record(&mut self) -> Option<Result<CallRecord, SmdrError>> {
        loop {
            let ev = self.split.next_event()?;
            match ev {
                SplitEvent::Oversized => {
                    self.stats.oversized += 1;
                    return Some(Err(SmdrError::Oversized {
                        max: self.max_record,
                    }));
                }
                SplitEvent::Record(rec) => match self.format.parse(&rec, &self.opts) {
                    Ok(r) => {
                        self.stats.records += 1;
                        return Some(Ok(r));
                    }
                    Err(SmdrError::Noise) => self.noise_parsed += 1,
                    Err(e) => {
                        self.stats.malformed += 1;
                        return Some(Err(e));
                    }
                },
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DecoderStats {
        DecoderStats {
            noise: self.split.noise() + self.noise_parsed,
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_kind() {
        let mut d = Decoder::with_max_record(Format::Mitel, ParseOptions::default(), 64);
        d.push(
            b"ATZ
OK

03/02 09:07 00:00:10 215 216
",
        );
        d.push(&[b'9'; 200]);
        d.push(
            b"
03/02 99:07 00:00:10 215 216
",
        );
        assert!(matches!(d.next_record(), Some(Ok(_))));
        assert_eq!(d.next_record(), Some(Err(SmdrError::Oversized { max: 64 })));
        assert!(matches!(
            d.next_record(),
            Some(Err(SmdrError::InvalidField { .. }))
        ));
        assert_eq!(d.next_record(), None);
        let s = d.stats();
        assert_eq!((s.records, s.oversized, s.malformed, s.noise), (1, 1, 1, 3));
    }
}
