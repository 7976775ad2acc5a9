//! From SMDR records to the core's driver events (`DriverEvent::CallRecord`), for a
//! "records only" link.
//!
//! SMDR times are the PBX's local wall-clock time without a zone; the caller passes the PBX's
//! offset from UTC. A record without a start time maps to `None` (the engine needs a time).

use hookflash_core::calendar::days_from_civil;
use hookflash_core::driver::{CallRecordInput, DriverEvent};
use hookflash_core::model::{LinkId, Timestamp};

use crate::record::{CallRecord, DateTime, Direction};
use crate::stitch::StitchedCall;

/// Milliseconds since the Unix epoch of a PBX local time with the given UTC offset (seconds
/// east of UTC); `None` before 1970.
pub fn timestamp(t: &DateTime, utc_offset_secs: i32) -> Option<Timestamp> {
    let days = days_from_civil(i64::from(t.year), u32::from(t.month), u32::from(t.day));
    let secs =
        days * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second)
            - i64::from(utc_offset_secs);
    u64::try_from(secs).ok().map(|s| Timestamp(s * 1000))
}

/// The core's record input for one SMDR record.
pub fn call_record_input(r: &CallRecord, utc_offset_secs: i32) -> Option<CallRecordInput> {
    let started_at = timestamp(r.start.as_ref()?, utc_offset_secs)?;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let answered_by = match r.direction {
        Direction::Outgoing => None,
        _ if r.answered => r.extension.as_deref().map(Into::into),
        _ => None,
    };
    Some(CallRecordInput {
        call: r.call_id.as_deref().map(Into::into),
        calling: non_empty(&r.caller),
        called: non_empty(if r.called.is_empty() {
            &r.dialled
        } else {
            &r.called
        }),
        answered_by,
        started_at,
        ring_ms: u64::from(r.ring_secs) * 1000,
        talk_ms: if r.answered {
            u64::from(r.connected_secs) * 1000
        } else {
            0
        },
        answered: r.answered,
    })
}

/// The driver event for one SMDR record on `link`.
pub fn driver_event(link: &LinkId, r: &CallRecord, utc_offset_secs: i32) -> Option<DriverEvent> {
    Some(DriverEvent::CallRecord {
        link: link.clone(),
        record: call_record_input(r, utc_offset_secs)?,
    })
}

/// The driver event for a stitched call: the first segment's parties and ring time, talk time
/// summed over the segments (connected + hold + park of every segment, plus later segments'
/// ring time), and the last answering extension.
pub fn stitched_event(
    link: &LinkId,
    c: &StitchedCall,
    utc_offset_secs: i32,
) -> Option<DriverEvent> {
    let first = c.segments.first()?;
    let mut input = call_record_input(first, utc_offset_secs)?;
    let answered = c.answered();
    input.answered = answered;
    input.talk_ms = if answered {
        u64::from(c.total_secs().saturating_sub(first.ring_secs)) * 1000
    } else {
        0
    };
    input.answered_by = c
        .segments
        .iter()
        .rev()
        .find(|s| s.answered && s.direction != Direction::Outgoing)
        .and_then(|s| s.extension.as_deref())
        .map(Into::into);
    Some(DriverEvent::CallRecord {
        link: link.clone(),
        record: input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_conversion() {
        let t = DateTime::new(1970, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(timestamp(&t, 0), Some(Timestamp(0)));
        let t = DateTime::new(2026, 3, 2, 9, 1, 40).unwrap();
        // 2026-03-02T09:01:40Z
        assert_eq!(timestamp(&t, 0), Some(Timestamp(1_772_442_100_000)));
        assert_eq!(timestamp(&t, 3600), Some(Timestamp(1_772_438_500_000)));
        let leap = DateTime::new(2024, 2, 29, 0, 0, 0).unwrap();
        assert_eq!(timestamp(&leap, 0), Some(Timestamp(1_709_164_800_000)));
        let before = DateTime::new(1969, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(timestamp(&before, 0), None);
    }

    #[test]
    fn incoming_record_maps() {
        let r = crate::ipoffice::parse(
            b"2026/03/02 09:01:40,00:00:22,9,01632960777,I,300,300,,0,1001002,0,E300,Reception,T9002,Line 1.2,0,0",
        )
        .unwrap();
        let link: LinkId = "smdr-1".into();
        let Some(DriverEvent::CallRecord { link: l, record }) = driver_event(&link, &r, 0) else {
            panic!("no event");
        };
        assert_eq!(l, link);
        assert_eq!(record.call, Some("1001002".into()));
        assert_eq!(record.calling.as_deref(), Some("01632960777"));
        assert_eq!(record.called.as_deref(), Some("300"));
        assert_eq!(record.answered_by, Some("300".into()));
        assert_eq!(record.ring_ms, 9000);
        assert_eq!(record.talk_ms, 22_000);
        assert!(record.answered);
    }

    #[test]
    fn stitched_call_sums_segments() {
        let mut st = crate::Stitcher::new(4);
        let a = crate::ipoffice::parse(
            b"2026/03/02 09:01:40,00:00:22,9,0163,I,300,300,,0,7,1,E300,R,T9002,L,15,0",
        )
        .unwrap();
        let b = crate::ipoffice::parse(
            b"2026/03/02 09:01:40,00:06:03,4,0163,I,300,300,,0,7,0,E214,P,T9002,L,0,40",
        )
        .unwrap();
        assert!(st.push(a).is_empty());
        let calls = st.push(b);
        let Some(DriverEvent::CallRecord { record, .. }) =
            stitched_event(&"l".into(), &calls[0], 0)
        else {
            panic!("no event");
        };
        assert_eq!(record.ring_ms, 9000);
        assert_eq!(record.talk_ms, (22 + 15 + 363 + 4 + 40) * 1000);
        assert_eq!(record.answered_by, Some("214".into()));
    }

    #[test]
    fn no_start_no_event() {
        let mut r = crate::mitel::parse(
            b"03/02 09:07 00:00:00 215 *** 216 B 216",
            &crate::ParseOptions::default(),
        )
        .unwrap();
        r.start = None;
        assert!(driver_event(&"l".into(), &r, 0).is_none());
    }
}
