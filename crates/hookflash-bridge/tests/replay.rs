//! Clients that catch up: from the events published last while they are in memory, else from
//! the journal in blocks of sequence numbers, clients that fell behind together sharing each
//! complete block's events instead of each reading and parsing the same rows; the block still
//! being written is never kept, and holes (events trimmed by retention) are skipped.

mod common;

use std::sync::Arc;

use common::*;
use hookflash_bridge::Bridge;
use hookflash_bridge::hub::Hub;

/// Every sequence number a client catching up from `after` is given, in order.
fn walk(hub: &Hub, mut after: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        let page = hub.replay_after(after).unwrap();
        let Some(last) = page.last() else {
            return seqs;
        };
        seqs.extend(page.iter().map(|e| e.seq));
        after = last.seq;
    }
}

async fn emit_calls(fake: &Fake, ids: std::ops::RangeInclusive<u64>) {
    for id in ids {
        fake.ring(id, "+498912345", "300000", Some("A300000")).await;
        fake.answer(id, "300000", Some("A300000")).await;
        fake.end(id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_catching_up_share_complete_blocks_and_never_a_stale_one() {
    let dir = std::env::temp_dir().join(format!("hookflash-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let extra = format!("[storage]\npath = \"{}\"\n", dir.join("j.sqlite").display());
    // A first life journals the events; the second starts with none of them in memory, so
    // clients catching up read the journal.
    let fake = Fake::new();
    let bridge = Bridge::start(&config(&extra), fake.clone()).await.unwrap();
    // Each call is several events (offered, alerting, answered, ended, a screen pop...):
    // count what the backend emitted rather than assume.
    emit_calls(&fake, 1..=700).await;
    let total = fake.emitted();
    assert!(total > 2_000, "{total} events");
    until(|| bridge.hub().last_seq() == total).await;
    bridge.shutdown().await;
    drop(fake);

    let fake = Fake::new();
    let bridge = Bridge::start(&config(&extra), fake.clone()).await.unwrap();
    let hub = bridge.hub().clone();
    assert_eq!(hub.last_seq(), total);

    // Everything, once, in order.
    let h = hub.clone();
    let all = tokio::task::spawn_blocking(move || walk(&h, 0))
        .await
        .unwrap();
    assert_eq!(all, (1..=total).collect::<Vec<_>>());

    // Two clients in the same complete block get the same events (one read, shared).
    let h = hub.clone();
    let (a, b) = tokio::task::spawn_blocking(move || {
        (h.replay_after(0).unwrap(), h.replay_after(100).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(a.len(), 512);
    assert_eq!(b.first().map(|e| e.seq), Some(101));
    assert_eq!(b.len(), 412);
    assert!(Arc::ptr_eq(&a[100], &b[0]));
    assert!(Arc::ptr_eq(&a[511], &b[411]));

    // The block still being written was read (by the walk) but not kept: a client inside it
    // is given the events published since, up to the block's end.
    emit_calls(&fake, 701..=720).await;
    let more = total + fake.emitted();
    until(|| hub.last_seq() == more).await;
    let high = ((total - 1) / 512 + 1) * 512;
    let h = hub.clone();
    let page = tokio::task::spawn_blocking(move || h.replay_after(total - 1).unwrap())
        .await
        .unwrap();
    let seqs: Vec<u64> = page.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (total..=more.min(high)).collect::<Vec<_>>());
    // And a client a little behind catches up from the events in memory, to the last.
    let h = hub.clone();
    let rest = tokio::task::spawn_blocking(move || walk(&h, total))
        .await
        .unwrap();
    assert_eq!(rest, (total + 1..=more).collect::<Vec<_>>());

    bridge.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_catching_up_skips_events_the_journal_no_longer_holds() {
    let dir = std::env::temp_dir().join(format!("hookflash-replay-trim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let extra = format!(
        "[storage]\npath = \"{}\"\nmax_events = 1000\n",
        dir.join("j.sqlite").display()
    );
    let fake = Fake::new();
    let bridge = Bridge::start(&config(&extra), fake.clone()).await.unwrap();
    emit_calls(&fake, 1..=800).await;
    let total = fake.emitted();
    until(|| bridge.hub().last_seq() == total).await;
    bridge.shutdown().await;
    drop(fake);
    // Started again: nothing in memory, what is left is in the journal.
    let bridge = Bridge::start(&config(&extra), Fake::new()).await.unwrap();
    let hub = bridge.hub().clone();
    let h = hub.clone();
    let got = tokio::task::spawn_blocking(move || walk(&h, 0))
        .await
        .unwrap();
    // The oldest were trimmed (whole blocks of them): what is left comes in order, without a
    // hole, up to the last.
    let first = *got.first().expect("events kept");
    assert!(first > 1_000, "first kept {first}");
    assert_eq!(got, (first..=total).collect::<Vec<_>>());
    bridge.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
