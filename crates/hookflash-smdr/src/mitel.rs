//! Mitel MiVoice Business / 3300 classic SMDR.
//!
//! ```text
//! 06/13 11:42p 00:08:29 214 012 95551234 A T0012 T 215 4711
//! ```
//!
//! Read as whitespace-separated tokens: date `MM/DD` (the year comes from
//! [`ParseOptions::default_year`]), start time `hh:mm` with an optional `a`/`p` suffix (24-hour
//! otherwise), duration `hh:mm:ss`, calling party (extension, or `T`+trunk for incoming), an
//! optional time to answer (three digits, or `***` when unanswered), the digits dialled, an
//! optional one-letter completion status (`A` answered, `B` busy, `E` error, `T` toll denied,
//! `I` intercept, `D` do-not-disturb, `U` unanswered), the called party (extension or
//! `T`+trunk), an optional transfer/conference mark (`T`, `X` or `C`) with the third party, and a
//! trailing numeric account code.

use crate::SmdrError;
use crate::record::{CallRecord, DateTime, Direction, Format, Outcome, ParseOptions};
use crate::text::{hms, num, two, utf8};

fn clock(s: &str) -> Result<(u8, u8), SmdrError> {
    const F: &str = "time";
    let lower = s.to_ascii_lowercase();
    if lower.ends_with('a') || lower.ends_with('p') {
        return crate::panasonic::clock12(&lower, "A", "P");
    }
    let (h, m) = lower
        .split_once(':')
        .ok_or(SmdrError::InvalidField { field: F })?;
    let (h, m) = (two(h, F)?, two(m, F)?);
    if h > 23 || m > 59 {
        return Err(SmdrError::InvalidField { field: F });
    }
    Ok((h, m))
}

fn is_trunk(t: &str) -> bool {
    t.len() > 1 && t.starts_with('T') && t.bytes().skip(1).all(|b| b.is_ascii_digit())
}

fn is_party(t: &str) -> bool {
    !t.is_empty() && t.len() <= 16 && (is_trunk(t) || t.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses one Mitel classic SMDR line.
pub fn parse(record: &[u8], opts: &ParseOptions) -> Result<CallRecord, SmdrError> {
    let line = utf8(record)?.trim_end_matches(['\r', '\n']);
    if crate::split::is_line_noise(line.as_bytes()) {
        return Err(SmdrError::Noise);
    }
    let toks: Vec<&str> = line.split_ascii_whitespace().take(32).collect();
    if toks.len() < 5 {
        return Err(SmdrError::TooShort {
            len: toks.len(),
            min: 5,
        });
    }
    let tok = |i: usize| toks.get(i).copied().unwrap_or("");
    let mut r = CallRecord::new(Format::Mitel, record);
    let (mo, d) = tok(0)
        .split_once('/')
        .ok_or(SmdrError::InvalidField { field: "date" })?;
    let (mo, d) = (two(mo, "date")?, two(d, "date")?);
    let (h, mi) = clock(tok(1))?;
    r.start = Some(
        DateTime::new(opts.default_year, mo, d, h, mi, 0)
            .ok_or(SmdrError::InvalidField { field: "date" })?,
    );
    r.connected_secs = hms(tok(2), "duration")?;
    let calling = tok(3);
    if !is_party(calling) {
        return Err(SmdrError::InvalidField {
            field: "calling party",
        });
    }
    r.caller = calling.to_owned();
    let mut i = 4;
    let mut answered_in = None;
    if tok(i) == "***" {
        i += 1;
    } else if tok(i).len() == 3 && tok(i).bytes().all(|b| b.is_ascii_digit()) && toks.len() > i + 1
    {
        answered_in = Some(num(tok(i), "time to answer")?);
        i += 1;
    }
    r.ring_secs = answered_in.unwrap_or(0);
    let dialled = tok(i);
    if dialled.is_empty()
        || !dialled
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#'))
    {
        return Err(SmdrError::InvalidField {
            field: "digits dialled",
        });
    }
    r.dialled = dialled.to_owned();
    i += 1;
    let mut status = None;
    if tok(i).len() == 1
        && matches!(tok(i), "A" | "B" | "E" | "T" | "I" | "D" | "U")
        && is_party(tok(i + 1))
    {
        status = Some(tok(i));
        i += 1;
    }
    if is_party(tok(i)) {
        r.called = tok(i).to_owned();
        i += 1;
    } else {
        r.called = dialled.to_owned();
    }
    if matches!(tok(i), "T" | "X" | "C") {
        r.transferred = tok(i) != "C";
        i += 1;
        if is_party(tok(i)) {
            r.extension = Some(tok(i).to_owned());
            i += 1;
        }
    }
    if !tok(i).is_empty() {
        if tok(i).bytes().all(|b| b.is_ascii_digit()) {
            r.account = Some(tok(i).to_owned());
        } else {
            return Err(SmdrError::InvalidField {
                field: "account code",
            });
        }
    }
    r.direction = match (is_trunk(calling), is_trunk(&r.called)) {
        (true, _) => Direction::Incoming,
        (false, true) => Direction::Outgoing,
        (false, false) => Direction::Internal,
    };
    match r.direction {
        Direction::Incoming => {
            r.trunk = Some(calling.trim_start_matches('T').to_owned());
            if r.extension.is_none() {
                r.extension = Some(r.called.clone());
            }
        }
        Direction::Outgoing => {
            r.trunk = Some(r.called.trim_start_matches('T').to_owned());
            r.extension = Some(calling.to_owned());
        }
        _ => {
            r.extension.get_or_insert_with(|| calling.to_owned());
        }
    }
    r.record_type = status.map(str::to_owned);
    r.answered = match status {
        Some("A") => true,
        Some(_) => false,
        None => r.connected_secs > 0,
    };
    r.outcome = match status {
        Some("B") => Outcome::Busy,
        _ if r.transferred => Outcome::Transferred,
        _ if r.answered => Outcome::Answered,
        _ => Outcome::Unanswered,
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<CallRecord, SmdrError> {
        parse(
            s.as_bytes(),
            &ParseOptions::default().with_default_year(2026),
        )
    }

    #[test]
    fn outgoing_pm() {
        let r = p("06/13 11:42p 00:08:29 214 012 95551234 A T0012").unwrap();
        assert_eq!(r.start, DateTime::new(2026, 6, 13, 23, 42, 0));
        assert_eq!(r.connected_secs, 509);
        assert_eq!(r.caller, "214");
        assert_eq!(r.ring_secs, 12);
        assert_eq!(r.dialled, "95551234");
        assert_eq!(r.direction, Direction::Outgoing);
        assert_eq!(r.trunk.as_deref(), Some("0012"));
        assert_eq!(r.extension.as_deref(), Some("214"));
        assert_eq!(r.outcome, Outcome::Answered);
    }

    #[test]
    fn incoming_transferred_with_account() {
        let r = p("06/14 09:05 00:02:10 T0003 005 5000 A 215 T 216 4711").unwrap();
        assert_eq!(r.start, DateTime::new(2026, 6, 14, 9, 5, 0));
        assert_eq!(r.direction, Direction::Incoming);
        assert_eq!(r.trunk.as_deref(), Some("0003"));
        assert_eq!(r.called, "215");
        assert!(r.transferred);
        assert_eq!(r.extension.as_deref(), Some("216"));
        assert_eq!(r.account.as_deref(), Some("4711"));
        assert_eq!(r.outcome, Outcome::Transferred);
    }

    #[test]
    fn internal_unanswered_and_busy() {
        let r = p("06/14 12:00a 00:00:00 214 *** 215 U 215").unwrap();
        assert_eq!(r.start.unwrap().hour, 0);
        assert_eq!(r.direction, Direction::Internal);
        assert!(!r.answered);
        assert_eq!(
            p("06/14 08:00 00:00:00 214 *** 216 B 216").unwrap().outcome,
            Outcome::Busy
        );
    }

    #[test]
    fn malformed() {
        assert!(p("06/14 08:00").is_err());
        assert!(p("13/14 08:00 00:00:01 214 216 216").is_err());
        assert!(p("06/14 25:00 00:00:01 214 216 216").is_err());
        assert!(p("06/14 08:00 00:00:01 ab! 216 216").is_err());
        assert!(p("06/14 08:00 00:00:01 214 216 216 acct!").is_err());
        assert!(p("06/14 08:00 0:0 214 2x6 216").is_err());
    }
}
