//! Panasonic KX-TD/TDA/TDE/NS fixed-width SMDR.
//!
//! ```text
//!   Date     Time    Ext CO        Dial Number        Ring Duration  Acc code  CD
//! 01/05/26 09:14AM   101 01 <I>5551234567              0'12 00:03'25            CA
//! ```
//!
//! Columns vary between models and firmware, so the record is read as whitespace-separated
//! tokens in the fixed order of the columns: date `MM/DD/YY`, 12-hour time `hh:mmAM`, extension,
//! CO line, the dial number (which may contain spaces and starts with `<I>` on incoming calls),
//! an optional ring time `m'ss`, the duration `hh:mm'ss`, then an optional account code and the
//! condition code (`CD`). Page headers are reported as [`SmdrError::Noise`].

use crate::SmdrError;
use crate::record::{CallRecord, DateTime, Direction, Format, Outcome, ParseOptions};
use crate::text::{hms, num, two, utf8};

/// True for a repeated page header (`Date Time Ext CO Dial Number …`).
pub fn is_page_header(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("Date") && l.contains("Time") && l.contains("Ext")
}

fn date(s: &str, opts: &ParseOptions) -> Result<(u16, u8, u8), SmdrError> {
    const F: &str = "date";
    let mut it = s.split('/');
    let m = two(it.next().unwrap_or(""), F)?;
    let d = two(it.next().unwrap_or(""), F)?;
    let y = two(it.next().unwrap_or(""), F)?;
    if it.next().is_some() {
        return Err(SmdrError::InvalidField { field: F });
    }
    Ok((opts.expand_year(y), m, d))
}

/// Parses a 12-hour `hh:mmAM` / `hh:mmPM` time into (hour, minute).
pub(crate) fn clock12(s: &str, am: &str, pm: &str) -> Result<(u8, u8), SmdrError> {
    const F: &str = "time";
    let e = SmdrError::InvalidField { field: F };
    let upper = s.to_ascii_uppercase();
    let (body, is_pm) = if let Some(b) = upper.strip_suffix(pm) {
        (b.to_owned(), true)
    } else if let Some(b) = upper.strip_suffix(am) {
        (b.to_owned(), false)
    } else {
        return Err(e);
    };
    let (h, m) = body.split_once(':').ok_or_else(|| e.clone())?;
    let h = num(h, F)?;
    let m = num(m, F)?;
    if !(1..=12).contains(&h) || m > 59 || body.len() > 5 {
        return Err(e);
    }
    let h24 = match (h, is_pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, false) => h,
        (h, true) => h + 12,
    };
    Ok((h24 as u8, m as u8))
}

fn is_ring(t: &str) -> bool {
    t.contains('\'') && !t.contains(':') && hms(t, "ring").is_ok()
}

fn is_duration(t: &str) -> bool {
    t.contains(':') && hms(t, "duration").is_ok()
}

/// Parses one Panasonic SMDR line.
pub fn parse(record: &[u8], opts: &ParseOptions) -> Result<CallRecord, SmdrError> {
    let line = utf8(record)?.trim_end_matches(['\r', '\n']);
    if is_page_header(line) || crate::split::is_line_noise(line.as_bytes()) {
        return Err(SmdrError::Noise);
    }
    let toks: Vec<&str> = line.split_ascii_whitespace().take(64).collect();
    if toks.len() < 5 {
        return Err(SmdrError::TooShort {
            len: toks.len(),
            min: 5,
        });
    }
    let mut r = CallRecord::new(Format::Panasonic, record);
    let (y, mo, d) = date(toks.first().copied().unwrap_or(""), opts)?;
    let (h, mi) = clock12(toks.get(1).copied().unwrap_or(""), "AM", "PM")?;
    r.start =
        Some(DateTime::new(y, mo, d, h, mi, 0).ok_or(SmdrError::InvalidField { field: "date" })?);
    let ext = toks.get(2).copied().unwrap_or("");
    if ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SmdrError::InvalidField { field: "extension" });
    }
    r.extension = Some(ext.to_owned());
    let co = toks.get(3).copied().unwrap_or("");
    if !co.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SmdrError::InvalidField { field: "co" });
    }
    r.trunk = Some(co.to_owned());
    let rest = toks.get(4..).unwrap_or(&[]);
    let dur_at = rest
        .iter()
        .position(|t| is_duration(t))
        .ok_or(SmdrError::InvalidField { field: "duration" })?;
    let mut dial_end = dur_at;
    if dur_at > 0 && rest.get(dur_at - 1).is_some_and(|t| is_ring(t)) {
        dial_end = dur_at - 1;
        r.ring_secs = hms(rest.get(dur_at - 1).copied().unwrap_or(""), "ring")?;
    }
    let dial = rest.get(..dial_end).unwrap_or(&[]).join(" ");
    r.connected_secs = hms(rest.get(dur_at).copied().unwrap_or(""), "duration")?;
    let after = rest.get(dur_at + 1..).unwrap_or(&[]);
    let (acc, cd) = match after {
        [] => (None, None),
        // A lone token is the account code when numeric (condition codes are letters).
        [one] if one.bytes().all(|b| b.is_ascii_digit()) => (Some(*one), None),
        [cd] => (None, Some(*cd)),
        [acc, cd, ..] => (Some(*acc), Some(*cd)),
    };
    r.account = acc.map(str::to_owned);
    r.record_type = cd.map(str::to_owned);
    if let Some(num) = dial.strip_prefix("<I>") {
        r.direction = Direction::Incoming;
        r.caller = num.trim().to_owned();
        r.called = ext.to_owned();
    } else {
        r.direction = if co.trim_start_matches('0').is_empty() {
            Direction::Internal
        } else {
            Direction::Outgoing
        };
        r.caller = ext.to_owned();
        r.called = dial.clone();
        r.dialled = dial;
    }
    r.answered = r.connected_secs > 0;
    r.transferred = matches!(cd, Some("TR"));
    r.outcome = match cd {
        Some("TR") => Outcome::Transferred,
        Some("FW") => Outcome::Forwarded,
        Some("NA") => Outcome::Unanswered,
        _ if r.answered => Outcome::Answered,
        _ => Outcome::Unanswered,
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<CallRecord, SmdrError> {
        parse(s.as_bytes(), &ParseOptions::default())
    }

    #[test]
    fn incoming_with_ring() {
        let r = p("01/05/26 09:14AM   101 01 <I>5551234567              0'12 00:03'25").unwrap();
        assert_eq!(r.start, DateTime::new(2026, 1, 5, 9, 14, 0));
        assert_eq!(r.direction, Direction::Incoming);
        assert_eq!(r.caller, "5551234567");
        assert_eq!(r.called, "101");
        assert_eq!(r.ring_secs, 12);
        assert_eq!(r.connected_secs, 205);
        assert_eq!(r.trunk.as_deref(), Some("01"));
    }

    #[test]
    fn outgoing_with_account_and_cd() {
        let r = p("12/31/98 12:05PM   203 02 9 1 555 0100                  00:10'00    4711   TR")
            .unwrap();
        assert_eq!(r.start, DateTime::new(1998, 12, 31, 12, 5, 0));
        assert_eq!(r.direction, Direction::Outgoing);
        assert_eq!(r.dialled, "9 1 555 0100");
        assert_eq!(r.ring_secs, 0);
        assert_eq!(r.connected_secs, 600);
        assert_eq!(r.account.as_deref(), Some("4711"));
        assert_eq!(r.record_type.as_deref(), Some("TR"));
        assert!(r.transferred);
    }

    #[test]
    fn twelve_hour_edges_and_pivot() {
        assert_eq!(clock12("12:00AM", "AM", "PM"), Ok((0, 0)));
        assert_eq!(clock12("12:30PM", "AM", "PM"), Ok((12, 30)));
        assert_eq!(clock12("01:59pm", "AM", "PM"), Ok((13, 59)));
        assert!(clock12("13:00PM", "AM", "PM").is_err());
        assert!(clock12("09:14", "AM", "PM").is_err());
        let o = ParseOptions::default().with_year_pivot(90);
        let r = parse(b"01/05/85 09:14AM 101 01 123 00:00'05", &o).unwrap();
        assert_eq!(r.start.unwrap().year, 2085);
    }

    #[test]
    fn headers_and_noise() {
        assert_eq!(
            p("  Date     Time    Ext CO        Dial Number        Ring Duration  Acc code  CD"),
            Err(SmdrError::Noise)
        );
        assert_eq!(
            p("--------------------------------------"),
            Err(SmdrError::Noise)
        );
        assert_eq!(p("ATZ"), Err(SmdrError::Noise));
    }

    #[test]
    fn malformed() {
        assert!(p("01/05/26 09:14AM 101").is_err());
        assert!(p("13/05/26 09:14AM 101 01 123 00:00'05").is_err());
        assert!(p("01/05/26 09:14XM 101 01 123 00:00'05").is_err());
        assert!(p("01/05/26 09:14AM 101 01 123 no-duration").is_err());
        assert!(p("01/05/2026 09:14AM 101 01 123 00:00'05").is_err());
    }
}
