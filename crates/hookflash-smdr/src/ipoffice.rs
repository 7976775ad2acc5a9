//! Avaya IP Office SMDR CSV records.
//!
//! Field order (0-based): 0 Call Start `YYYY/MM/DD HH:MM:SS`, 1 Connected Time `HH:MM:SS`,
//! 2 Ring Time (s), 3 Caller, 4 Direction `I`/`O`, 5 Called Number, 6 Dialled Number, 7 Account,
//! 8 Is Internal, 9 Call ID, 10 Continuation, 11 Party1Device, 12 Party1Name, 13 Party2Device,
//! 14 Party2Name, 15 Hold Time (s), 16 Park Time (s), 17–29 authorisation, charging and external
//! targeting fields, 30–34 (R11) server addresses, unique call ids and record time.
//! Records from releases with 17 to 40 fields are accepted.

use crate::SmdrError;
use crate::record::{CallRecord, DateTime, Direction, Format, Outcome};
use crate::text::{num, opt, utf8};

/// Minimum number of fields (up to Park Time).
pub const MIN_FIELDS: usize = 17;
/// Maximum number of fields accepted.
pub const MAX_FIELDS: usize = 40;

/// Splits one CSV record into at most [`MAX_FIELDS`] fields, honouring `"` quoting and `""`.
pub fn split_fields(line: &str) -> Result<Vec<String>, SmdrError> {
    let mut fields = Vec::with_capacity(36);
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut cur));
            if fields.len() >= MAX_FIELDS {
                return Err(SmdrError::FieldCount {
                    count: fields.len() + 1,
                });
            }
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err(SmdrError::UnterminatedQuote);
    }
    fields.push(cur);
    Ok(fields)
}

fn start_time(s: &str) -> Result<DateTime, SmdrError> {
    const F: &str = "call start";
    let e = SmdrError::InvalidField { field: F };
    let (date, time) = s.trim().split_once(' ').ok_or_else(|| e.clone())?;
    let mut d = date.split('/');
    let mut t = time.trim().split(':');
    let next = |it: &mut std::str::Split<'_, char>| {
        it.next().ok_or_else(|| e.clone()).and_then(|v| num(v, F))
    };
    let (y, mo, da) = (next(&mut d)?, next(&mut d)?, next(&mut d)?);
    let (h, mi, se) = (next(&mut t)?, next(&mut t)?, next(&mut t)?);
    if d.next().is_some() || t.next().is_some() || y > 9999 {
        return Err(e);
    }
    let small = |v: u32| u8::try_from(v).map_err(|_| e.clone());
    DateTime::new(
        y as u16,
        small(mo)?,
        small(da)?,
        small(h)?,
        small(mi)?,
        small(se)?,
    )
    .ok_or_else(|| e.clone())
}

fn secs(s: &str, field: &'static str) -> Result<u32, SmdrError> {
    let t = s.trim();
    if t.is_empty() { Ok(0) } else { num(t, field) }
}

fn flag(s: &str, field: &'static str) -> Result<bool, SmdrError> {
    match s.trim() {
        "" | "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(SmdrError::InvalidField { field }),
    }
}

/// Parses one IP Office SMDR CSV record.
pub fn parse(record: &[u8]) -> Result<CallRecord, SmdrError> {
    let line = utf8(record)?.trim_end_matches(['\r', '\n']);
    let f = split_fields(line)?;
    if f.len() < MIN_FIELDS {
        return Err(SmdrError::FieldCount { count: f.len() });
    }
    let get = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
    let mut r = CallRecord::new(Format::IpOffice, record);
    r.start = Some(start_time(get(0))?);
    r.connected_secs = crate::text::hms(get(1), "connected time")?;
    r.ring_secs = secs(get(2), "ring time")?;
    r.caller = get(3).trim().to_owned();
    let internal = flag(get(8), "is internal")?;
    r.direction = match (get(4).trim(), internal) {
        (_, true) => Direction::Internal,
        ("I", false) => Direction::Incoming,
        ("O", false) => Direction::Outgoing,
        _ => return Err(SmdrError::InvalidField { field: "direction" }),
    };
    r.called = get(5).trim().to_owned();
    r.dialled = get(6).trim().to_owned();
    r.account = opt(get(7));
    r.call_id = Some(num(get(9), "call id")?.to_string());
    r.continuation = flag(get(10), "continuation")?;
    let p1 = get(11).trim();
    let p2 = get(13).trim();
    // Party devices: `E` extensions, `T` trunk lines, `V` voicemail/services.
    let ext = [p1, p2].into_iter().find(|d| d.starts_with('E'));
    r.extension = ext.map(|d| d.trim_start_matches('E').to_owned());
    r.trunk = [p1, p2]
        .into_iter()
        .find(|d| d.starts_with('T'))
        .map(|d| d.trim_start_matches('T').to_owned());
    r.hold_secs = secs(get(15), "hold time")?;
    r.park_secs = secs(get(16), "park time")?;
    r.answered = r.connected_secs > 0;
    r.transferred = r.continuation;
    r.outcome = if r.continuation {
        Outcome::Transferred
    } else if r.answered {
        Outcome::Answered
    } else {
        Outcome::Unanswered
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "2026/01/05 09:30:00,00:01:05,4,201,O,5551234,95551234,ACC77,0,1000001,0,E201,Ann Lee,T9001,Line 1.1,3,0";

    #[test]
    fn outgoing_fields() {
        let r = parse(OUT.as_bytes()).unwrap();
        assert_eq!(r.start, DateTime::new(2026, 1, 5, 9, 30, 0));
        assert_eq!(r.connected_secs, 65);
        assert_eq!(r.ring_secs, 4);
        assert_eq!(r.caller, "201");
        assert_eq!(r.direction, Direction::Outgoing);
        assert_eq!(r.called, "5551234");
        assert_eq!(r.dialled, "95551234");
        assert_eq!(r.account.as_deref(), Some("ACC77"));
        assert_eq!(r.call_id.as_deref(), Some("1000001"));
        assert!(!r.continuation);
        assert_eq!(r.extension.as_deref(), Some("201"));
        assert_eq!(r.trunk.as_deref(), Some("9001"));
        assert_eq!(r.hold_secs, 3);
        assert_eq!(r.total_secs(), 72);
        assert_eq!(r.outcome, Outcome::Answered);
    }

    #[test]
    fn quoted_fields_with_commas() {
        let line = "2026/01/05 09:30:00,00:00:10,0,201,O,555,555,,0,7,0,E201,\"Lee, Ann \"\"A\"\"\",T9001,Line 1.1,0,0";
        let f = split_fields(line).unwrap();
        assert_eq!(f[12], "Lee, Ann \"A\"");
        assert!(parse(line.as_bytes()).is_ok());
        assert_eq!(split_fields("a,\"b"), Err(SmdrError::UnterminatedQuote));
    }

    #[test]
    fn r11_fields_accepted() {
        let line =
            format!("{OUT},,,,,,,,,,,,,,192.0.2.1,1400001,192.0.2.1,1400002,2026/01/05 09:31:10");
        assert_eq!(split_fields(&line).unwrap().len(), 35);
        assert_eq!(parse(line.as_bytes()).unwrap().connected_secs, 65);
    }

    #[test]
    fn internal_and_incoming() {
        let inc = "2026/01/05 10:00:00,00:00:00,12,01707555000,I,200,200,,0,1000002,0,E200,Bob,T9002,Line 1.2,0,0";
        let r = parse(inc.as_bytes()).unwrap();
        assert_eq!(r.direction, Direction::Incoming);
        assert_eq!(r.outcome, Outcome::Unanswered);
        let int = "2026/01/05 10:00:00,00:00:30,2,200,O,201,201,,1,1000003,0,E200,Bob,E201,Ann,0,0";
        assert_eq!(
            parse(int.as_bytes()).unwrap().direction,
            Direction::Internal
        );
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            parse(b"a,b,c"),
            Err(SmdrError::FieldCount { count: 3 })
        ));
        let bad_dir = OUT.replace(",O,", ",X,");
        assert_eq!(
            parse(bad_dir.as_bytes()),
            Err(SmdrError::InvalidField { field: "direction" })
        );
        let bad_time = OUT.replace("09:30:00", "09:30");
        assert!(parse(bad_time.as_bytes()).is_err());
        let bad_month = OUT.replace("2026/01/05", "2026/13/05");
        assert!(parse(bad_month.as_bytes()).is_err());
        let bad_conn = OUT.replace("00:01:05", "xx:01:05");
        assert!(parse(bad_conn.as_bytes()).is_err());
        let many = format!("{OUT}{}", ",".repeat(50));
        assert!(matches!(
            parse(many.as_bytes()),
            Err(SmdrError::FieldCount { .. })
        ));
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
