//! The PBX's own time of an event: ECMA-269's `security.timestamp` in an event's `extensions`
//! (`TimeInfo`: an ASN.1 GeneralizedTime in ECMA-285, an `xsd:dateTime` in ECMA-323).

use hookflash_core::calendar::{civil_from_days, days_from_civil, days_in_month};

use crate::generated::types::{
    CSTAEventReportArgument, CallAssociatedEvents, CallControlEvents, DeviceMaintenanceEvents,
    EventSpecificInfo, LogicalDeviceFeatureEvents,
};

/// The time the PBX stamped on an event report, in microseconds since the Unix epoch; `None`
/// when it sent none, or one that is not a time this reads (see [`parse_time`]).
pub fn event_time_us(arg: &CSTAEventReportArgument) -> Option<u64> {
    macro_rules! extensions {
        ($ev:expr, $ty:ident: $($v:ident),+ $(,)?) => {
            match $ev {
                $($ty::$v(e) => e.extensions.as_deref(),)+
                _ => None,
            }
        };
    }
    let ext = match &arg.event_specific_info {
        EventSpecificInfo::CallControlEvents(ev) => extensions!(ev, CallControlEvents:
            Bridged, CallCleared, Conferenced, ConnectionCleared, Delivered, DigitsDialed,
            Diverted, Established, Failed, Held, NetworkCapabilitiesChanged, NetworkReached,
            Offered, Originated, Queued, Retrieved, ServiceInitiated, Transferred),
        EventSpecificInfo::CallAssociatedEvents(ev) => extensions!(ev, CallAssociatedEvents:
            CallInformation, Charging, ServiceCompletionFailure),
        EventSpecificInfo::LogicalDeviceFeatureEvents(ev) => {
            extensions!(ev, LogicalDeviceFeatureEvents:
                AgentBusy, AgentLoggedOn, AgentLoggedOff, AgentNotReady, AgentReady,
                AgentWorkingAfterCall, DoNotDisturb, Forwarding)
        }
        EventSpecificInfo::DeviceMaintenanceEvents(ev) => {
            extensions!(ev, DeviceMaintenanceEvents: BackInService, OutOfService)
        }
        _ => None,
    }?;
    parse_time(ext.security.as_deref()?.timestamp.as_ref()?.as_str()?)
}

/// Microseconds since the Unix epoch of a GeneralizedTime (`YYYYMMDDHHMMSS`, then optionally a
/// fraction after `.` or `,` and `Z` or an offset `+hhmm`/`-hhmm`) or of an `xsd:dateTime`
/// (`YYYY-MM-DDTHH:MM:SS`, the same fraction and zone, the offset as `+hh:mm`). A time without
/// a zone is read as UTC (the PBX's local zone is not known). Digits past the microsecond are
/// dropped. `None` for anything else, or a time before 1970.
pub fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    };
    // (year, month, day, hour, minute, second) and where the rest starts.
    let (fields, rest) = if b.get(4) == Some(&b'-') {
        if b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
            return None;
        }
        if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let f = [
            digits(0..4)?,
            digits(5..7)?,
            digits(8..10)?,
            digits(11..13)?,
            digits(14..16)?,
            digits(17..19)?,
        ];
        (f, 19)
    } else {
        let f = [
            digits(0..4)?,
            digits(4..6)?,
            digits(6..8)?,
            digits(8..10)?,
            digits(10..12)?,
            digits(12..14)?,
        ];
        (f, 14)
    };
    let [year, month, day, hour, minute, second] = fields;
    if !(1..=12).contains(&month)
        || day == 0
        || day > u64::from(days_in_month(year as i64, month as u32))
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = rest;
    let mut micros = 0u64;
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 6 {
                micros = micros * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..6 {
            micros *= 10;
        }
    }
    // The zone: offset seconds east of UTC.
    let offset: i64 = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let (h, m) = match b.len() - i - 1 {
                4 => (digits(i + 1..i + 3)?, digits(i + 3..i + 5)?),
                5 if b.get(i + 3) == Some(&b':') => (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::try_from(h * 3600 + m * 60).ok()?;
            if sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    // (Four digits each: the casts cannot truncate.)
    let days = days_from_civil(year as i64, month as u32, day as u32);
    let secs = days * 86_400 + i64::try_from(hour * 3600 + minute * 60 + second).ok()? - offset;
    let secs = u64::try_from(secs).ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// A GeneralizedTime in UTC with microseconds, `YYYYMMDDHHMMSS.ffffffZ`, of microseconds since
/// the Unix epoch (what [`parse_time`] reads back).
pub fn format_generalized_time(us: u64) -> String {
    let (y, mo, d, h, mi, sec, frac) = fields(us);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{sec:02}.{frac:06}Z")
}

/// (year, month, day, hour, minute, second, microseconds) of microseconds since the epoch.
fn fields(us: u64) -> (i64, u32, u32, u64, u64, u64, u64) {
    let secs = us / 1_000_000;
    let (year, month, day) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let sod = secs % 86_400;
    (
        year,
        month,
        day,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        us % 1_000_000,
    )
}

/// An `xsd:dateTime` in UTC with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, of microseconds
/// since the Unix epoch (what [`parse_time`] reads back).
pub fn format_date_time(us: u64) -> String {
    let (y, mo, d, h, mi, sec, frac) = fields(us);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{frac:06}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_generalized_times_and_date_times() {
        // 2026-11-24T04:05:33Z = 1,795,493,133 s.
        let t = 1_795_493_133_000_000;
        assert_eq!(parse_time("20261124040533Z"), Some(t));
        assert_eq!(parse_time("20261124040533"), Some(t));
        assert_eq!(parse_time("20261124040533.5Z"), Some(t + 500_000));
        assert_eq!(parse_time("20261124040533,123456789Z"), Some(t + 123_456));
        assert_eq!(parse_time("20261124050533+0100"), Some(t));
        assert_eq!(parse_time("20261123230533-0500"), Some(t));
        assert_eq!(parse_time("2026-11-24T04:05:33.25Z"), Some(t + 250_000));
        assert_eq!(parse_time("2026-11-24T05:05:33+01:00"), Some(t));
        assert_eq!(parse_time(" 2026-11-24T04:05:33 "), Some(t));
        assert_eq!(parse_time("20000229000000Z"), Some(951_782_400_000_000));
        assert_eq!(parse_time("19700101000000Z"), Some(0));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2026",
            "20261324040533Z",
            "20261131040533Z",
            "20250229000000Z",
            "20261124240533Z",
            "20261124046033Z",
            "20261124040533.Z",
            "20261124040533Zx",
            "20261124040533+01",
            "2026-11-24 04:05:33",
            "2026-11-24T04:05",
            "19691231235959Z",
            "２026-11-24T04:05:33Z",
            "20261124040533+2400",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_what_it_reads() {
        for us in [
            0,
            1,
            951_782_400_000_000,
            1_795_493_133_123_456,
            4_102_444_799_999_999,
        ] {
            let s = format_generalized_time(us);
            assert_eq!(parse_time(&s), Some(us), "{s}");
        }
        assert_eq!(
            format_generalized_time(1_795_493_133_000_001),
            "20261124040533.000001Z"
        );
        assert_eq!(
            format_date_time(1_795_493_133_000_001),
            "2026-11-24T04:05:33.000001Z"
        );
        assert_eq!(
            parse_time(&format_date_time(951_782_400_000_000)),
            Some(951_782_400_000_000)
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_instant_to_year_9999_reads_back(us in 0u64..253_402_300_800_000_000) {
            prop_assert_eq!(parse_time(&format_generalized_time(us)), Some(us));
        }

        #[test]
        fn any_text_is_read_or_refused_without_a_panic(s in "\\PC{0,40}") {
            let _ = parse_time(&s);
        }

        #[test]
        fn time_like_text_is_read_or_refused_without_a_panic(
            s in "[0-9]{4}-?[0-9]{2}-?[0-9]{2}T?[0-9]{2}:?[0-9]{2}:?[0-9]{2}([.,][0-9]{0,12})?(Z|[+-][0-9]{2}:?[0-9]{2})?"
        ) {
            let _ = parse_time(&s);
        }
    }
}
