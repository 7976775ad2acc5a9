//! Helpers shared by the end-to-end comparisons against the simulator's ground truth.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hookflash::Cti;
use hookflash_core::model::LinkState;

/// Multiset difference: what `a` has that `b` does not.
pub fn missing<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut counts: BTreeMap<&T, i64> = BTreeMap::new();
    for r in b {
        *counts.entry(r).or_default() += 1;
    }
    let mut out = Vec::new();
    for r in a {
        let c = counts.entry(r).or_default();
        if *c > 0 {
            *c -= 1;
        } else {
            out.push(r.clone());
        }
    }
    out
}

/// Waits until the link called `sim` is up, failing the test after `limit`.
pub async fn wait_up(cti: &Cti, limit: Duration) {
    let t0 = Instant::now();
    while cti.link_state("sim") != LinkState::Up {
        assert!(t0.elapsed() < limit, "link not up in {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
