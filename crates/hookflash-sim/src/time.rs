//! RFC 3339 formatting from the engine's own clock; no clock reads.

use hookflash_core::calendar::{civil_from_days, days_from_civil};

/// Formats `epoch_secs` (Unix seconds) plus `offset_ms` as RFC 3339 UTC with milliseconds,
/// e.g. `2026-11-23T14:00:00.250Z`.
pub fn format_rfc3339(epoch_secs: i64, offset_ms: u64) -> String {
    let total_ms = i128::from(epoch_secs) * 1000 + i128::from(offset_ms);
    let ms = total_ms.rem_euclid(1000) as u32;
    let secs = total_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400) as i64;
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Reads what [`format_rfc3339`] writes (`2026-11-23T14:00:00.250Z`, UTC, milliseconds
/// optional) back into milliseconds since the Unix epoch; `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let ms = if b.get(19) == Some(&b'.') {
        n(20..23)?
    } else {
        0
    };
    // (Month and day checked above: the casts cannot truncate.)
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_what_format_writes() {
        for (secs, ms) in [(0, 0), (951_782_400, 0), (1_795_442_400, 1_250), (-1, 0)] {
            let text = format_rfc3339(secs, ms);
            assert_eq!(
                parse_rfc3339(&text),
                Some(secs * 1000 + ms as i64),
                "{text}"
            );
        }
        assert_eq!(
            parse_rfc3339("2026-11-23T14:00:00Z"),
            Some(1_795_442_400_000)
        );
        assert_eq!(parse_rfc3339("2026-13-23T14:00:00Z"), None);
        assert_eq!(parse_rfc3339("not a time"), None);
    }

    #[test]
    fn known_dates() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_795_442_400, 1_250),
            "2026-11-23T14:00:01.250Z"
        );
        assert_eq!(format_rfc3339(-1, 0), "1969-12-31T23:59:59.000Z");
    }
}
