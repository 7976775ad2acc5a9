use std::collections::{HashSet, VecDeque};

use crate::record::{CallRecord, DateTime, Format};

/// The identity of a record for replay de-duplication.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupKey {
    /// Record format.
    pub format: Format,
    /// The call id, or a key rebuilt from the parties, trunk and durations.
    pub id: String,
    /// Segment (IP Office continuation records share the id and start time).
    pub segment: u32,
    /// Start of the call.
    pub start: Option<DateTime>,
}

impl DedupKey {
    /// The key of a record. Without a call id the key is rebuilt from extension, trunk, caller,
    /// called/dialled number and durations, so only an exact replay matches.
    pub fn of(r: &CallRecord) -> Self {
        let id = match &r.call_id {
            Some(id) => format!("{id}|{}|{}", r.connected_secs, r.caller),
            None => format!(
                "{}|{}|{}|{}|{}|{}|{}",
                r.extension.as_deref().unwrap_or(""),
                r.trunk.as_deref().unwrap_or(""),
                r.caller,
                r.called,
                r.dialled,
                r.connected_secs,
                r.ring_secs
            ),
        };
        Self {
            format: r.format,
            id,
            segment: r.segment,
            start: r.start,
        }
    }
}

/// Drops records replayed after an outage, remembering the last `capacity` keys.
#[derive(Debug, Clone)]
pub struct Deduplicator {
    seen: HashSet<DedupKey>,
    order: VecDeque<DedupKey>,
    capacity: usize,
    duplicates: u64,
}

impl Deduplicator {
    /// A window of `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            duplicates: 0,
        }
    }

    /// True when the record was not seen within the window (and remembers it).
    pub fn is_new(&mut self, r: &CallRecord) -> bool {
        let key = DedupKey::of(r);
        if self.seen.contains(&key) {
            self.duplicates += 1;
            return false;
        }
        if self.order.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Duplicates dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    #[test]
    fn replay_dropped_within_window() {
        let lines = [
            "2026/01/05 09:30:00,00:01:05,4,201,O,555,555,,0,1000001,0,E201,A,T9001,L,0,0",
            "2026/01/05 09:31:00,00:00:05,1,202,O,556,556,,0,1000002,0,E202,B,T9001,L,0,0",
        ];
        let recs: Vec<_> = lines
            .iter()
            .map(|l| crate::ipoffice::parse(l.as_bytes()).unwrap())
            .collect();
        let mut d = Deduplicator::new(10);
        assert!(d.is_new(&recs[0]));
        assert!(d.is_new(&recs[1]));
        assert!(!d.is_new(&recs[0]));
        assert!(!d.is_new(&recs[1]));
        assert_eq!(d.duplicates(), 2);
    }

    #[test]
    fn window_is_bounded() {
        let mut d = Deduplicator::new(3);
        let opts = ParseOptions::default();
        let mk = |m: u32| {
            let l = format!("01/05/26 09:{m:02}AM 101 01 123 00:00'05");
            crate::panasonic::parse(l.as_bytes(), &opts).unwrap()
        };
        for m in 0..10 {
            assert!(d.is_new(&mk(m)));
        }
        assert_eq!(d.len(), 3);
        assert!(!d.is_new(&mk(9)));
        assert!(d.is_new(&mk(0)), "forgotten beyond the window");
    }

    #[test]
    fn segments_are_distinct() {
        let mut a = crate::ipoffice::parse(
            b"2026/01/05 09:30:00,00:01:05,4,201,I,555,555,,0,7,1,E201,A,T9001,L,0,0",
        )
        .unwrap();
        let mut d = Deduplicator::new(4);
        assert!(d.is_new(&a));
        a.segment = 1;
        assert!(d.is_new(&a));
    }
}
