//! NEC NEAX / SV8100 / SV9100 SMDR: `STX`…`ETX` fixed-position records.
//!
//! The splitter removes `STX`/`ETX`; a record starts with a two-byte header, then the two-letter
//! record type at offset 2: `KA` outgoing, `KB` station to station, `KE` incoming, `KH` outgoing
//! extended (normal layouts), and the flexible layouts `KK` outgoing, `KL` incoming,
//! `KM` station to station.
//!
//! Normal layouts (offsets after `STX`): 4..7 route, 7..10 trunk, 10 party identification,
//! 11..13 tenant, 13..19 station, 19..29 start `MMDDhhmmss`, 29..39 end `MMDDhhmmss`,
//! 39..49 account code, 61..85 dialled digits (`KA`/`KH`; the other party for `KB`/`KE`),
//! 115..117 and 117..119 start/end year (`YY`, optional — otherwise
//! [`ParseOptions::default_year`]).
//!
//! Flexible layouts are sequences of `tag(2 digits) length(2 digits) data`; this parser reads
//! them as far as they are consistent and takes the call times from tag `06`
//! (`YYYYMMDDhhmmssfff` start then end). Other flexible fields are kept only in the raw text.

use crate::SmdrError;
use crate::record::{CallRecord, DateTime, Direction, Format, Outcome, ParseOptions};
use crate::text::{col, num, opt, two, utf8};

/// Minimum length of a normal-layout record (up to the end time).
pub const MIN_NORMAL: usize = 39;

fn mmddhhmmss(s: &str, year: u16, field: &'static str) -> Result<DateTime, SmdrError> {
    let g = |a: usize| col(s, a, a + 2, field).and_then(|v| two(v, field));
    DateTime::new(year, g(0)?, g(2)?, g(4)?, g(6)?, g(8)?).ok_or(SmdrError::InvalidField { field })
}

fn secs_between(a: &DateTime, b: &DateTime) -> u32 {
    // Day-of-year arithmetic good enough for call lengths; a call over a year boundary gets
    // the end year from the record, so both ends carry their own year.
    fn abs(d: &DateTime) -> i64 {
        const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let y = i64::from(d.year);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let m = usize::from(d.month.clamp(1, 12)) - 1;
        let days_before_year = 365 * y + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
        let yday = CUM.get(m).copied().unwrap_or(0) + i64::from(d.day) + i64::from(leap && m >= 2);
        ((days_before_year + yday) * 24 + i64::from(d.hour)) * 3600
            + i64::from(d.minute) * 60
            + i64::from(d.second)
    }
    u32::try_from((abs(b) - abs(a)).max(0)).unwrap_or(u32::MAX)
}

fn year_at(s: &str, a: usize, opts: &ParseOptions) -> Result<u16, SmdrError> {
    match s.get(a..a + 2) {
        Some(y) if !y.trim().is_empty() => Ok(opts.expand_year(two(y, "year")?)),
        _ => Ok(opts.default_year),
    }
}

fn normal(
    s: &str,
    kind: &str,
    mut r: CallRecord,
    opts: &ParseOptions,
) -> Result<CallRecord, SmdrError> {
    if s.len() < MIN_NORMAL {
        return Err(SmdrError::TooShort {
            len: s.len(),
            min: MIN_NORMAL,
        });
    }
    let route = col(s, 4, 7, "route")?.trim();
    let trunk = col(s, 7, 10, "trunk")?.trim();
    let station = col(s, 13, 19, "station")?.trim();
    if !station.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SmdrError::InvalidField { field: "station" });
    }
    let sy = year_at(s, 115, opts)?;
    let ey = year_at(s, 117, opts)?;
    let start = mmddhhmmss(col(s, 19, 29, "start")?, sy, "start")?;
    let end = mmddhhmmss(col(s, 29, 39, "end")?, ey, "end")?;
    r.start = Some(start);
    r.connected_secs = secs_between(&start, &end);
    r.account = s.get(39..49).and_then(opt);
    let other = s.get(61..85).map(str::trim).unwrap_or("").to_owned();
    r.extension = opt(station);
    if kind != "KB" && !trunk.is_empty() {
        r.trunk = Some(format!("{route}-{trunk}"));
    }
    match kind {
        "KA" | "KH" => {
            r.direction = Direction::Outgoing;
            r.caller = station.to_owned();
            r.dialled = other.clone();
            r.called = other;
        }
        "KE" => {
            r.direction = Direction::Incoming;
            r.caller = other;
            r.called = station.to_owned();
        }
        _ => {
            r.direction = Direction::Internal;
            r.caller = station.to_owned();
            r.called = other;
        }
    }
    if let Some(c) = s.get(52..53) {
        r.transferred = c != "0" && c != " ";
    }
    Ok(r)
}

fn flexible(s: &str, kind: &str, mut r: CallRecord) -> Result<CallRecord, SmdrError> {
    r.direction = match kind {
        "KK" => Direction::Outgoing,
        "KL" => Direction::Incoming,
        _ => Direction::Internal,
    };
    let mut rest = s.get(4..).unwrap_or("");
    let mut found = false;
    while rest.len() >= 4 {
        let (Ok(tag), Ok(len)) = (
            num(col(rest, 0, 2, "tag")?, "tag"),
            num(col(rest, 2, 4, "length")?, "length"),
        ) else {
            break;
        };
        let len = len as usize;
        let Some(data) = rest.get(4..4 + len) else {
            break;
        };
        if tag == 6 && len >= 28 {
            let dt = |o: usize| -> Result<DateTime, SmdrError> {
                let f = "call time";
                let y = num(col(data, o, o + 4, f)?, f)?;
                let g = |a: usize| col(data, o + a, o + a + 2, f).and_then(|v| two(v, f));
                DateTime::new(y as u16, g(4)?, g(6)?, g(8)?, g(10)?, g(12)?)
                    .ok_or(SmdrError::InvalidField { field: f })
            };
            let half = len / 2;
            let start = dt(0)?;
            let end = dt(half)?;
            r.start = Some(start);
            r.connected_secs = secs_between(&start, &end);
            found = true;
        }
        rest = rest.get(4 + len..).unwrap_or("");
    }
    if !found {
        return Err(SmdrError::InvalidField { field: "call time" });
    }
    Ok(r)
}

/// Parses one NEC record (the bytes between `STX` and `ETX`).
pub fn parse(record: &[u8], opts: &ParseOptions) -> Result<CallRecord, SmdrError> {
    let s = utf8(record)?;
    if s.len() < 4 {
        return Err(SmdrError::TooShort {
            len: s.len(),
            min: 4,
        });
    }
    let kind = col(s, 2, 4, "record type")?;
    let mut r = CallRecord::new(Format::Nec, record);
    r.record_type = Some(kind.to_owned());
    let mut r = match kind {
        "KA" | "KB" | "KE" | "KH" => normal(s, kind, r, opts)?,
        "KK" | "KL" | "KM" => flexible(s, kind, r)?,
        _ => {
            r.record_type = None;
            return Err(SmdrError::UnknownType);
        }
    };
    r.answered = true;
    r.outcome = if r.transferred {
        Outcome::Transferred
    } else {
        Outcome::Answered
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a normal-layout record with fields at their offsets.
    pub(crate) fn normal_record(
        kind: &str,
        station: &str,
        start: &str,
        end: &str,
        acc: &str,
        other: &str,
        years: &str,
    ) -> String {
        let mut b = vec![b' '; 119];
        let mut put = |at: usize, s: &str| b[at..at + s.len()].copy_from_slice(s.as_bytes());
        put(0, "0!");
        put(2, kind);
        put(4, "001");
        put(7, "005");
        put(10, "0");
        put(11, "01");
        put(13, station);
        put(19, start);
        put(29, end);
        put(39, acc);
        put(50, "000");
        put(61, other);
        put(115, years);
        String::from_utf8(b).unwrap()
    }

    fn p(s: &str) -> Result<CallRecord, SmdrError> {
        parse(s.as_bytes(), &ParseOptions::default())
    }

    #[test]
    fn ka_outgoing() {
        let rec = normal_record(
            "KA",
            "2101",
            "0105093000",
            "0105093145",
            "1234",
            "915555550123",
            "2626",
        );
        let r = p(&rec).unwrap();
        assert_eq!(r.record_type.as_deref(), Some("KA"));
        assert_eq!(r.direction, Direction::Outgoing);
        assert_eq!(r.start, DateTime::new(2026, 1, 5, 9, 30, 0));
        assert_eq!(r.connected_secs, 105);
        assert_eq!(r.caller, "2101");
        assert_eq!(r.dialled, "915555550123");
        assert_eq!(r.account.as_deref(), Some("1234"));
        assert_eq!(r.trunk.as_deref(), Some("001-005"));
    }

    #[test]
    fn ke_over_midnight_and_year_end() {
        let rec = normal_record(
            "KE",
            "2102",
            "1231235950",
            "0101000010",
            "",
            "5551000",
            "2627",
        );
        let r = p(&rec).unwrap();
        assert_eq!(r.direction, Direction::Incoming);
        assert_eq!(r.connected_secs, 20);
        assert_eq!(r.caller, "5551000");
        assert_eq!(r.called, "2102");
    }

    #[test]
    fn kb_without_years_uses_default() {
        let rec = normal_record("KB", "2103", "0229120000", "0229120100", "", "2104", "");
        let r = parse(
            rec.trim_end().as_bytes(),
            &ParseOptions::default().with_default_year(2028),
        )
        .unwrap();
        assert_eq!(r.start.unwrap().year, 2028);
        assert_eq!(r.direction, Direction::Internal);
        assert_eq!(r.trunk, None);
        assert_eq!(r.connected_secs, 60);
    }

    #[test]
    fn flexible_times() {
        let rec = "0!KL0112002001020302041000012000  0634202601050930001002026010509320050000711234567890";
        let r = p(rec).unwrap();
        assert_eq!(r.direction, Direction::Incoming);
        assert_eq!(r.start, DateTime::new(2026, 1, 5, 9, 30, 0));
        assert_eq!(r.connected_secs, 120);
        assert!(p("0!KK0112001001020302").is_err());
    }

    #[test]
    fn malformed() {
        assert_eq!(
            p("0!ZZ0000000000000000000000000000000000000000"),
            Err(SmdrError::UnknownType)
        );
        assert!(matches!(p("0!KA"), Err(SmdrError::TooShort { .. })));
        let bad = normal_record("KA", "2101", "1305093000", "0105093145", "", "9", "26");
        assert!(p(&bad).is_err());
        assert!(p("0!").is_err());
    }
}
