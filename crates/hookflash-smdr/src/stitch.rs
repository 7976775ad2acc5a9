use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::record::CallRecord;

/// The segments of one call joined by call id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StitchedCall {
    /// The shared call id.
    pub call_id: String,
    /// The segments in arrival order; the last has `continuation == false` unless
    /// `complete` is false.
    pub segments: Vec<CallRecord>,
    /// False when the call was flushed (window full or [`Stitcher::flush`]) before its last
    /// segment arrived.
    pub complete: bool,
}

impl StitchedCall {
    /// Sum of connected + ring + hold + park over every segment.
    pub fn total_secs(&self) -> u32 {
        self.segments
            .iter()
            .fold(0u32, |a, s| a.saturating_add(s.total_secs()))
    }

    /// Sum of connected time over every segment.
    pub fn connected_secs(&self) -> u32 {
        self.segments
            .iter()
            .fold(0u32, |a, s| a.saturating_add(s.connected_secs))
    }

    /// True when any segment was answered.
    pub fn answered(&self) -> bool {
        self.segments.iter().any(|s| s.answered)
    }
}

/// Joins the segments of transferred calls (IP Office `Call ID` + `Continuation`).
///
/// Records without a call id pass through as single-segment calls. At most `max_open` calls
/// wait for their last segment; beyond that the oldest is emitted incomplete.
#[derive(Debug, Clone)]
pub struct Stitcher {
    open: HashMap<String, Vec<CallRecord>>,
    order: VecDeque<String>,
    max_open: usize,
    max_segments: usize,
}

impl Stitcher {
    /// A stitcher keeping at most `max_open` calls open (at least 1), each with at most 64
    /// segments.
    pub fn new(max_open: usize) -> Self {
        Self {
            open: HashMap::new(),
            order: VecDeque::new(),
            max_open: max_open.max(1),
            max_segments: 64,
        }
    }

    /// Number of calls waiting for more segments.
    pub fn open_calls(&self) -> usize {
        self.open.len()
    }

    /// Adds a record; returns the calls completed (or evicted) by it.
    pub fn push(&mut self, mut rec: CallRecord) -> Vec<StitchedCall> {
        let mut done = Vec::new();
        let Some(id) = rec.call_id.clone() else {
            done.push(StitchedCall {
                call_id: String::new(),
                segments: vec![rec],
                complete: true,
            });
            return done;
        };
        if !self.open.contains_key(&id) {
            if self.open.len() >= self.max_open
                && let Some(old) = self.order.pop_front()
                && let Some(segments) = self.open.remove(&old)
            {
                done.push(StitchedCall {
                    call_id: old,
                    segments,
                    complete: false,
                });
            }
            self.order.push_back(id.clone());
        }
        let segs = self.open.entry(id.clone()).or_default();
        rec.segment = u32::try_from(segs.len()).unwrap_or(u32::MAX);
        let last = !rec.continuation;
        segs.push(rec);
        if (last || segs.len() >= self.max_segments)
            && let Some(segments) = self.open.remove(&id)
        {
            self.order.retain(|k| k != &id);
            done.push(StitchedCall {
                call_id: id,
                segments,
                complete: last,
            });
        }
        done
    }

    /// Emits every open call as incomplete.
    pub fn flush(&mut self) -> Vec<StitchedCall> {
        self.order
            .drain(..)
            .filter_map(|id| {
                self.open.remove(&id).map(|segments| StitchedCall {
                    call_id: id,
                    segments,
                    complete: false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> CallRecord {
        crate::ipoffice::parse(line.as_bytes()).unwrap()
    }

    #[test]
    fn transfer_to_voicemail_stitched() {
        let mut s = Stitcher::new(8);
        let a = rec(
            "2026/02/02 14:00:00,00:00:20,6,01632960001,I,300,300,,0,1000050,1,E300,Cara,T9003,Line 2.1,4,0",
        );
        let b = rec(
            "2026/02/02 14:00:00,00:00:35,2,01632960001,I,300,300,,0,1000050,0,V9501,VM Channel 1,T9003,Line 2.1,0,5",
        );
        assert!(s.push(a).is_empty());
        assert_eq!(s.open_calls(), 1);
        let done = s.push(b);
        assert_eq!(done.len(), 1);
        let call = &done[0];
        assert!(call.complete);
        assert_eq!(call.segments.len(), 2);
        assert_eq!(call.segments[1].segment, 1);
        assert_eq!(call.total_secs(), 20 + 6 + 4 + 35 + 2 + 5);
        assert_eq!(s.open_calls(), 0);
    }

    #[test]
    fn bounded_window_evicts_oldest() {
        let mut s = Stitcher::new(2);
        for id in 1..=3 {
            let l =
                format!("2026/02/02 14:00:00,00:00:20,6,1,I,300,300,,0,{id},1,E300,C,T9003,L,0,0");
            let out = s.push(rec(&l));
            if id == 3 {
                assert_eq!(out.len(), 1);
                assert_eq!(out[0].call_id, "1");
                assert!(!out[0].complete);
            }
        }
        assert_eq!(s.open_calls(), 2);
        assert_eq!(s.flush().len(), 2);
        assert_eq!(s.open_calls(), 0);
    }
}
