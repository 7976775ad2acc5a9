//! The SQLite journal: normalized events (for `since=` replay), call records, and the webhook
//! outbox. A restart resumes sequence numbers from it and keeps the history.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use axum::extract::ws::Utf8Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::BridgeError;

/// The separator of the device, agent and queue lists stored with each event.
const SEP: char = '\u{1f}';

/// One journaled event with what scopes and filters need to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The sequence number.
    pub seq: u64,
    /// When it happened (ms since the epoch).
    pub at: u64,
    /// The event type (`callOffered`, ...).
    pub kind: String,
    /// The devices it concerns (its own fields and the call's parties).
    pub devices: Vec<String>,
    /// The agents it concerns.
    pub agents: Vec<String>,
    /// The queues it concerns.
    pub queues: Vec<String>,
    /// The JSON text sent to clients, serialized once and shared (cloning it copies no text).
    pub json: Utf8Bytes,
}

/// One finished call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// When the call ended (ms since the epoch).
    pub ended_at: u64,
    /// The devices that took part.
    pub devices: Vec<String>,
    /// The agents that took part.
    pub agents: Vec<String>,
    /// The JSON document.
    pub json: String,
}

/// A webhook delivery waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The row id (also the delivery id sent along).
    pub id: i64,
    /// The target URL.
    pub url: String,
    /// `screenPop` or `callRecord`.
    pub kind: String,
    /// The JSON body.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// The journal. Cheap to clone; every method takes the connection's lock briefly.
#[derive(Debug, Clone)]
pub struct Journal {
    conn: Arc<Mutex<Connection>>,
    /// The most events kept (0: no limit), enforced as events are appended.
    max_events: Arc<AtomicU64>,
    /// Events up to this sequence number have been deleted for `max_events`.
    trimmed_to: Arc<AtomicU64>,
}

/// How far past `max_events` the journal may run before [`Journal::append`] deletes the
/// oldest: a few hundred rows at a time keeps the cost of the deletes spread over the batches
/// (one statement per couple of batches) instead of one long pause.
const TRIM_SLACK: u64 = 256;

fn join(v: &[String]) -> String {
    let mut s = String::new();
    for x in v {
        s.push(SEP);
        s.push_str(x);
    }
    if !s.is_empty() {
        s.push(SEP);
    }
    s
}

fn split(s: &str) -> Vec<String> {
    s.split(SEP)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// How often the checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Once the write-ahead log holds this much, the checkpointer catches up with the writer held
/// off, so that the log starts again from its beginning (see [`spawn_checkpointer`]).
/// (Smaller in the unit tests, so that a few seconds of appends cross it many times.)
const RESTART_LOG_BYTES: u64 = if cfg!(test) { 2 << 20 } else { 64 << 20 };

/// One PASSIVE checkpoint; the number of frames in the log.
fn checkpoint_passive(c: &Connection) -> Option<u64> {
    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
        .ok()
        .map(to_u64)
}

/// Checkpoints the journal at `path` from a connection of its own, every [`CHECKPOINT_EVERY`],
/// until the journal is dropped.
///
/// A PASSIVE checkpoint never waits for the writer, but it copies only the frames that are in
/// the log when it starts, and SQLite starts the log again from its beginning only when a
/// write transaction begins with every frame copied — which, with events appended every few
/// milliseconds, never happens by itself: the log would grow without bound (7.8 GB in four
/// minutes of a soak at 570 calls/s). So once the log holds [`RESTART_LOG_BYTES`], the
/// checkpointer takes the writer's lock for a second PASSIVE checkpoint, which copies only
/// what was appended during the first; the writer's next transaction then reuses the log from
/// its start. The log stays near that size; the writer waits for the copy of what arrived
/// during the first checkpoint and one sync (1–5 ms at 2,000 calls/s), at most once per round.
fn spawn_checkpointer(path: &Path, journal: Weak<Mutex<Connection>>) -> Result<(), BridgeError> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    let page = to_u64(c.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?).max(512);
    std::thread::Builder::new()
        .name("journal-checkpoint".into())
        .spawn(move || {
            lower_this_threads_priority();
            let mut pause = CHECKPOINT_EVERY;
            loop {
                std::thread::sleep(pause);
                pause = CHECKPOINT_EVERY;
                if journal.strong_count() == 0 {
                    return;
                }
                // A failed checkpoint is retried on the next round; the log keeps the data.
                let Some(log) = checkpoint_passive(&c) else {
                    continue;
                };
                let log_bytes = log.saturating_mul(page);
                if log_bytes >= RESTART_LOG_BYTES / 2 {
                    // Busy: the next round comes sooner, so the log does not outrun the limit.
                    pause = CHECKPOINT_EVERY / 10;
                }
                if log_bytes < RESTART_LOG_BYTES {
                    continue;
                }
                let Some(writer) = journal.upgrade() else {
                    return;
                };
                let _held = writer.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = checkpoint_passive(&c);
            }
        })?;
    Ok(())
}

/// How much the checkpoint thread lowers its priority (added to its nice value): when the
/// bridge's CPUs are busy, the threads that carry events (the hub, the WebSocket writers)
/// preempt the checkpointer rather than wait behind it; it still gets its share, and its work
/// is bounded by what was written since the last round.
const CHECKPOINT_NICE: i32 = 10;

/// Adds [`CHECKPOINT_NICE`] to the calling thread's nice value (on Linux the nice value belongs
/// to the thread, not the process); where that is not possible the thread keeps its priority.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::nice(CHECKPOINT_NICE);
    }
}

impl Journal {
    /// Opens (creating, with mode 0600 on Unix) the journal at `path`, or an in-memory one.
    pub fn open(path: Option<&Path>) -> Result<Self, BridgeError> {
        let conn = match path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                // Call records hold personal data: a new journal is readable by its owner only
                // (SQLite gives its -wal and -shm files the same mode).
                #[cfg(unix)]
                if !p.exists() {
                    use std::os::unix::fs::OpenOptionsExt;
                    match std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(p)
                    {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Connection::open(p)?
            }
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        if path.is_some() {
            // Checkpoints (copying the write-ahead log into the database, with an fsync) run
            // on a thread of their own, not in the commit that happens to cross the log's
            // threshold: the event path only appends to the log.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS events(
                seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, type TEXT NOT NULL,
                devices TEXT NOT NULL, agents TEXT NOT NULL, queues TEXT NOT NULL,
                json TEXT NOT NULL);
             DROP INDEX IF EXISTS events_at;
             CREATE TABLE IF NOT EXISTS call_records(
                id INTEGER PRIMARY KEY AUTOINCREMENT, ended_at INTEGER NOT NULL,
                devices TEXT NOT NULL, agents TEXT NOT NULL, json TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS call_records_ended ON call_records(ended_at);
             CREATE TABLE IF NOT EXISTS outbox(
                id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, kind TEXT NOT NULL,
                body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                next_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending', last_error TEXT);
             CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at);
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )?;
        let conn = Arc::new(Mutex::new(conn));
        if let Some(p) = path {
            spawn_checkpointer(p, Arc::downgrade(&conn))?;
        }
        Ok(Self {
            conn,
            max_events: Arc::new(AtomicU64::new(0)),
            trimmed_to: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Keeps at most about `n` events (0: no limit): once the newest event is more than `n`
    /// (plus a few hundred) past the oldest kept, appending deletes the oldest.
    pub fn set_max_events(&self, n: u64) {
        self.max_events.store(n, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last sequence number ever journaled (0 for a new journal), even if retention has
    /// deleted the event since.
    pub fn last_seq(&self) -> Result<u64, BridgeError> {
        let c = self.lock();
        let meta: Option<i64> = c
            .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let max: Option<i64> = c.query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
        Ok(to_u64(meta.unwrap_or(0).max(max.unwrap_or(0))))
    }

    /// Appends events, call records and outbox items in one transaction.
    pub fn append(
        &self,
        events: &[StoredEvent],
        records: &[StoredRecord],
        outbox: &[(String, String, String)],
        now: u64,
    ) -> Result<(), BridgeError> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO events(seq, at, type, devices, agents, queues, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in events {
                ins.execute(params![
                    to_i64(e.seq),
                    to_i64(e.at),
                    e.kind,
                    join(&e.devices),
                    join(&e.agents),
                    join(&e.queues),
                    e.json.as_str()
                ])?;
            }
            if let Some(last) = events.iter().map(|e| e.seq).max() {
                tx.prepare_cached(
                    "INSERT INTO meta(key, value) VALUES ('last_seq', ?1)
                     ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                )?
                .execute(params![to_i64(last)])?;
                // The event limit holds while the bridge runs, not only at the hourly
                // retention: at a busy site an hour is millions of events.
                let max = self.max_events.load(Ordering::Relaxed);
                let upto = last.saturating_sub(max);
                if max > 0 && upto >= self.trimmed_to.load(Ordering::Relaxed) + TRIM_SLACK {
                    tx.execute("DELETE FROM events WHERE seq <= ?1", params![to_i64(upto)])?;
                    self.trimmed_to.store(upto, Ordering::Relaxed);
                }
            }
            let mut rec = tx.prepare_cached(
                "INSERT INTO call_records(ended_at, devices, agents, json) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for r in records {
                rec.execute(params![
                    to_i64(r.ended_at),
                    join(&r.devices),
                    join(&r.agents),
                    r.json
                ])?;
            }
            let mut ob = tx.prepare_cached(
                "INSERT INTO outbox(url, kind, body, next_at, created_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )?;
            for (url, kind, body) in outbox {
                ob.execute(params![url, kind, body, to_i64(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` events after `since`, in order.
    pub fn events_after(&self, since: u64, limit: usize) -> Result<Vec<StoredEvent>, BridgeError> {
        self.events_in(since, u64::MAX, limit)
    }

    /// Events numbered above `after` and at most `through`, oldest first, at most `limit`.
    pub fn events_in(
        &self,
        after: u64,
        through: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, BridgeError> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT seq, at, type, devices, agents, queues, json FROM events
             WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
        )?;
        let bounds = params![to_i64(after), to_i64(through), to_i64(limit as u64)];
        let rows = st.query_map(bounds, |r| {
            Ok(StoredEvent {
                seq: to_u64(r.get(0)?),
                at: to_u64(r.get(1)?),
                kind: r.get(2)?,
                devices: split(&r.get::<_, String>(3)?),
                agents: split(&r.get::<_, String>(4)?),
                queues: split(&r.get::<_, String>(5)?),
                json: r.get::<_, String>(6)?.into(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Call records that ended at or after `since` (ms), oldest first, at most `limit`.
    pub fn records_since(
        &self,
        since: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, BridgeError> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT ended_at, devices, agents, json FROM call_records
             WHERE ended_at >= ?1 ORDER BY ended_at, id LIMIT ?2",
        )?;
        let rows = st.query_map(params![to_i64(since), to_i64(limit as u64)], |r| {
            Ok(StoredRecord {
                ended_at: to_u64(r.get(0)?),
                devices: split(&r.get::<_, String>(1)?),
                agents: split(&r.get::<_, String>(2)?),
                json: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Outbox items due at `now`, oldest first.
    pub fn outbox_due(&self, now: u64, limit: usize) -> Result<Vec<OutboxItem>, BridgeError> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT id, url, kind, body, attempts FROM outbox
             WHERE state = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
        )?;
        let rows = st.query_map(params![to_i64(now), to_i64(limit as u64)], |r| {
            Ok(OutboxItem {
                id: r.get(0)?,
                url: r.get(1)?,
                kind: r.get(2)?,
                body: r.get(3)?,
                attempts: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(u32::MAX),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next pending outbox item is due.
    pub fn outbox_next_due(&self) -> Result<Option<u64>, BridgeError> {
        let c = self.lock();
        let v: Option<i64> = c.query_row(
            "SELECT MIN(next_at) FROM outbox WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(v.map(to_u64))
    }

    /// Counts of outbox items by state (`pending`, `delivered`, `dead`).
    pub fn outbox_counts(&self) -> Result<Vec<(String, u64)>, BridgeError> {
        let c = self.lock();
        let mut st = c.prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, to_u64(r.get(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a successful delivery.
    pub fn outbox_delivered(&self, id: i64) -> Result<(), BridgeError> {
        self.lock().execute(
            "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_error = NULL
             WHERE id = ?1",
            params![id],
        )?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_at`, or given up (`dead`).
    pub fn outbox_failed(
        &self,
        id: i64,
        next_at: Option<u64>,
        error: &str,
    ) -> Result<(), BridgeError> {
        let c = self.lock();
        match next_at {
            Some(t) => c.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, to_i64(t), error],
            )?,
            None => c.execute(
                "UPDATE outbox SET attempts = attempts + 1, state = 'dead', last_error = ?2 WHERE id = ?1",
                params![id, error],
            )?,
        };
        Ok(())
    }

    /// Deletes events and records older than `cutoff` (ms), events beyond the newest
    /// `max_events`, and settled outbox items older than `cutoff`. Returns the events deleted.
    pub fn prune(&self, cutoff: u64, max_events: u64) -> Result<usize, BridgeError> {
        let last = self.last_seq()?;
        // Events are numbered as they arrive, so the old ones are the low numbers: they go from
        // the oldest up, a chunk at a time, until a chunk holds none older than the cutoff.
        // (No index on `at`: every append would pay for keeping it.) The journal's lock is
        // taken per chunk, so that the hub's appends go on in between.
        let mut n = 0;
        loop {
            let c = self.lock();
            let first: Option<i64> =
                c.query_row("SELECT MIN(seq) FROM events", [], |r| r.get(0))?;
            let Some(first) = first else { break };
            let k = c.execute(
                "DELETE FROM events WHERE seq < ?1 AND at < ?2",
                params![first.saturating_add(PRUNE_CHUNK), to_i64(cutoff)],
            )?;
            n += k;
            if k == 0 {
                break;
            }
        }
        let c = self.lock();
        n += c.execute(
            "DELETE FROM events WHERE seq <= ?1",
            params![to_i64(last.saturating_sub(max_events))],
        )?;
        c.execute(
            "DELETE FROM call_records WHERE ended_at < ?1",
            params![to_i64(cutoff)],
        )?;
        c.execute(
            "DELETE FROM outbox WHERE state != 'pending' AND created_at < ?1",
            params![to_i64(cutoff)],
        )?;
        Ok(n)
    }
}

/// How many sequence numbers [`Journal::prune`] looks at per statement.
const PRUNE_CHUNK: i64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, at: u64) -> StoredEvent {
        StoredEvent {
            seq,
            at,
            kind: "callOffered".into(),
            devices: vec!["300000".into(), "200001".into()],
            agents: vec![],
            queues: vec!["6000".into()],
            json: format!("{{\"seq\":{seq}}}").into(),
        }
    }

    #[test]
    fn events_round_trip_and_sequence_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("hf-journal-{}", std::process::id()));
        let path = dir.join("j.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let j = Journal::open(Some(&path)).unwrap();
            assert_eq!(j.last_seq().unwrap(), 0);
            j.append(&[ev(1, 10), ev(2, 20), ev(3, 30)], &[], &[], 0)
                .unwrap();
            let got = j.events_after(1, 10).unwrap();
            assert_eq!(got, vec![ev(2, 20), ev(3, 30)]);
        }
        let j = Journal::open(Some(&path)).unwrap();
        assert_eq!(j.last_seq().unwrap(), 3);
        // Retention deletes old events, never the sequence.
        assert_eq!(j.prune(25, 1_000).unwrap(), 2);
        assert_eq!(j.last_seq().unwrap(), 3);
        assert_eq!(j.events_after(0, 10).unwrap(), vec![ev(3, 30)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn retention_deletes_by_age_from_the_oldest_without_an_index_on_time() {
        let dir = std::env::temp_dir().join(format!("hf-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("j.sqlite");
        {
            // A journal from before: with the index on `at`, which opening drops.
            std::fs::create_dir_all(&dir).unwrap();
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE events(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,
                   type TEXT NOT NULL, devices TEXT NOT NULL, agents TEXT NOT NULL,
                   queues TEXT NOT NULL, json TEXT NOT NULL);
                 CREATE INDEX events_at ON events(at);",
            )
            .unwrap();
        }
        let j = Journal::open(Some(&path)).unwrap();
        let indexes: i64 = j
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'events_at'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
        // 25,000 events, one a millisecond from 0, two of them out of order near the cutoff.
        let mut evs: Vec<_> = (1..=25_000).map(|s| ev(s, s - 1)).collect();
        evs[19_989].at = 20_050; // seq 19,990: newer than the cutoff, among older ones
        evs[20_009].at = 19_990; // seq 20,010: older than the cutoff, after newer ones
        for chunk in evs.chunks(500) {
            j.append(chunk, &[], &[], 0).unwrap();
        }
        let n = j.prune(20_000, 1_000_000).unwrap();
        let left: Vec<u64> = j
            .events_after(0, 100_000)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        // Everything older than the cutoff went (over three chunks), and nothing newer.
        assert_eq!(n, 20_000);
        assert_eq!(left.len(), 5_000);
        assert!(left.contains(&19_990));
        assert!(!left.contains(&20_010));
        assert!(left.iter().all(|s| *s >= 19_990));
        assert_eq!(j.last_seq().unwrap(), 25_000);
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_log_is_checkpointed_in_the_background() {
        let dir = std::env::temp_dir().join(format!("hf-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("j.sqlite");
        let j = Journal::open(Some(&path)).unwrap();
        let evs: Vec<_> = (1..=2_000).map(|s| ev(s, 100)).collect();
        j.append(&evs, &[], &[], 0).unwrap();
        // The writer never checkpoints: the events reach the database file itself (read here
        // without its log) only through the checkpointer.
        let copy = dir.join("copy.sqlite");
        let mut found = 0;
        for _ in 0..50 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::fs::copy(&path, &copy).unwrap();
            let c = Connection::open(&copy).unwrap();
            found = c
                .query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
                .unwrap_or(0);
            if found == 2_000 {
                break;
            }
        }
        assert_eq!(found, 2_000);
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// How many times the write-ahead log at `path` has been started again from its beginning:
    /// the checkpoint sequence number in its header (bytes 12..16, big-endian), which SQLite
    /// increments at each restart.
    fn log_restarts(path: &Path) -> u32 {
        let mut header = [0u8; 16];
        match std::fs::File::open(path).and_then(|mut f| {
            use std::io::Read;
            f.read_exact(&mut header)
        }) {
            Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
            Err(_) => 0,
        }
    }

    #[test]
    fn the_log_stays_bounded_under_continuous_appends() {
        // A writer that never stops for long: a checkpoint copies only what is in the log when
        // it starts, and SQLite starts the log again from its beginning only when a write
        // begins with all of it copied, so without the checkpointer's catch-up the log (and
        // its file) grows by every page written.
        let dir = std::env::temp_dir().join(format!("hf-ckpt-bound-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("j.sqlite");
        let wal = dir.join("j.sqlite-wal");
        let j = Journal::open(Some(&path)).unwrap();
        j.set_max_events(50_000);
        let body = "x".repeat(600);
        let target = 64 * RESTART_LOG_BYTES;
        let start = std::time::Instant::now();
        let mut seq = 0u64;
        let mut written = 0u64;
        let mut wal_at_half = None;
        while written < target && start.elapsed() < std::time::Duration::from_secs(60) {
            let evs: Vec<_> = (0..20)
                .map(|_| {
                    seq += 1;
                    let mut e = ev(seq, seq);
                    e.json = format!("{{\"seq\":{seq},\"pad\":\"{body}\"}}").into();
                    e
                })
                .collect();
            j.append(&evs, &[], &[], 0).unwrap();
            written += evs.iter().map(|e| e.json.len() as u64).sum::<u64>();
            if wal_at_half.is_none() && written >= target / 2 {
                wal_at_half = Some((
                    written,
                    std::fs::metadata(&wal).unwrap().len(),
                    log_restarts(&wal),
                ));
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let wal_at_end = std::fs::metadata(&wal).unwrap().len();
        let restarts_at_end = log_restarts(&wal);
        let (written_at_half, wal_at_half, restarts_at_half) =
            wal_at_half.expect("half the events written");
        eprintln!(
            "{written} bytes of events in {:?}; the log file {wal_at_half} bytes at half, \
             {wal_at_end} at the end; the log restarted {restarts_at_half} times by half, \
             {restarts_at_end} by the end",
            start.elapsed()
        );
        assert!(
            written >= target,
            "too slow to tell: {written} bytes of events in 60 s"
        );
        // The log was started again from its beginning over and over, in the second half too
        // (SQLite counts restarts in the log's header); without the catch-up it never is.
        assert!(
            restarts_at_end >= restarts_at_half + 2 && restarts_at_half >= 1,
            "the log restarted {restarts_at_half} times by half, {restarts_at_end} by the end"
        );
        // And its file holds far less than went through it (without the catch-up it holds
        // every page written, about four times the events' bytes).
        assert!(
            wal_at_end < written - written_at_half,
            "the log's file grew to {wal_at_end} bytes while {written} bytes of events were \
             appended"
        );
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The nice value of this process's thread whose name starts with `name` (Linux `/proc`).
    #[cfg(target_os = "linux")]
    fn nice_of_thread(name: &str) -> Option<i64> {
        std::fs::read_dir("/proc/self/task")
            .ok()?
            .flatten()
            .find(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|comm| comm.trim_end().starts_with(name))
            })
            .and_then(|t| nice_in_stat(&t.path().join("stat")))
    }

    /// The nice value of the calling thread.
    #[cfg(target_os = "linux")]
    fn nice_of_thread_self() -> Option<i64> {
        nice_in_stat(Path::new("/proc/thread-self/stat"))
    }

    /// The nice value in a `/proc/.../stat` file: after the command (in parentheses) state is
    /// field 3, nice field 19.
    #[cfg(target_os = "linux")]
    fn nice_in_stat(path: &Path) -> Option<i64> {
        let stat = std::fs::read_to_string(path).ok()?;
        stat[stat.rfind(')')? + 2..]
            .split(' ')
            .nth(16)?
            .parse()
            .ok()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_checkpointer_runs_at_a_lower_priority() {
        let dir = std::env::temp_dir().join(format!("hf-ckpt-nice-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let own_nice = nice_of_thread_self().unwrap();
        let want = (own_nice + i64::from(CHECKPOINT_NICE)).min(19);
        let j = Journal::open(Some(&dir.join("j.sqlite"))).unwrap();
        // The thread lowers its own priority as it starts (it inherits this thread's).
        let mut nice = None;
        for _ in 0..100 {
            nice = nice_of_thread("journal-checkpo");
            if nice == Some(want) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(nice, Some(want));
        // Only that thread: this one keeps its priority.
        if own_nice < 19 {
            assert_ne!(nice_of_thread_self(), Some(want));
        }
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn max_events_holds_while_appending() {
        let j = Journal::open(None).unwrap();
        j.set_max_events(1_000);
        for batch in 0..100u64 {
            let evs: Vec<_> = (1..=100).map(|i| ev(batch * 100 + i, 100)).collect();
            j.append(&evs, &[], &[], 0).unwrap();
            let (n, first): (i64, i64) = j
                .lock()
                .query_row("SELECT COUNT(*), MIN(seq) FROM events", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert!(
                n as u64 <= 1_000 + TRIM_SLACK + 100,
                "{n} events after batch {batch}"
            );
            assert!(n >= 1_000.min(100 * (batch as i64 + 1)));
            // The oldest go first: what is kept is a contiguous run up to the newest.
            assert_eq!(first as u64 + n as u64 - 1, (batch + 1) * 100);
        }
        let last: Vec<u64> = j
            .events_after(9_990, 100)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(last, (9_991..=10_000).collect::<Vec<_>>());
    }

    #[test]
    fn max_events_keeps_the_newest() {
        let j = Journal::open(None).unwrap();
        let evs: Vec<_> = (1..=10).map(|s| ev(s, 100)).collect();
        j.append(&evs, &[], &[], 0).unwrap();
        j.prune(0, 4).unwrap();
        let seqs: Vec<u64> = j
            .events_after(0, 100)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, vec![7, 8, 9, 10]);
    }

    #[test]
    fn outbox_retries_then_gives_up() {
        let j = Journal::open(None).unwrap();
        j.append(
            &[],
            &[],
            &[("http://x/".into(), "callRecord".into(), "{}".into())],
            5,
        )
        .unwrap();
        assert!(j.outbox_due(4, 10).unwrap().is_empty());
        let item = j.outbox_due(5, 10).unwrap().remove(0);
        j.outbox_failed(item.id, Some(50), "500").unwrap();
        assert!(j.outbox_due(49, 10).unwrap().is_empty());
        assert_eq!(j.outbox_next_due().unwrap(), Some(50));
        let item = j.outbox_due(50, 10).unwrap().remove(0);
        assert_eq!(item.attempts, 1);
        j.outbox_failed(item.id, None, "500").unwrap();
        assert!(j.outbox_due(u64::MAX >> 2, 10).unwrap().is_empty());
        assert_eq!(j.outbox_counts().unwrap(), vec![("dead".to_string(), 1)]);
    }

    #[test]
    fn records_filter_by_time() {
        let j = Journal::open(None).unwrap();
        let r = |t: u64| StoredRecord {
            ended_at: t,
            devices: vec!["300000".into()],
            agents: vec!["A300000".into()],
            json: format!("{{\"t\":{t}}}"),
        };
        j.append(&[], &[r(10), r(20), r(30)], &[], 0).unwrap();
        let got = j.records_since(20, 10).unwrap();
        assert_eq!(got, vec![r(20), r(30)]);
    }
}
