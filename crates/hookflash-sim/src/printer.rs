//! The simulated PBX's SMDR printer: one Avaya IP Office style CSV record per finished call,
//! made from the ground-truth log, served over TCP to every connected reader (as an IP Office
//! sends SMDR to a configured TCP receiver) or printed on a serial line — a pseudo-terminal
//! whose path the reader opens, paced at the line's baud rate (10 bits a character) as a
//! printer port is.
//!
//! [`ipoffice_record`] is pure (truth line in, record out); [`SmdrPrinter`] is the tokio side.
//! Records carry the call's start, ring and connected times, the caller and called numbers,
//! the direction and the answering extension, so a records-only link can be checked against
//! the same truth as the live CSTA links: calling, called, answered or not, answered by.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    net::TcpListener,
    sync::{broadcast, watch},
};

/// The trunk line the printer names as the outside party.
const TRUNK: &str = "T9001";

/// `2026-11-23T14:00:00.250Z` → (`2026/11/23 14:00:00`, milliseconds since the epoch).
fn parse_time(s: &str) -> Option<(String, i64)> {
    let ms = crate::time::parse_rfc3339(s)?;
    let shown = format!("{} {}", s.get(0..10)?.replace('-', "/"), s.get(11..19)?);
    Some((shown, ms))
}

fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Whether a number is one of the PBX's own extensions (not an outside number).
fn internal(n: &str) -> bool {
    !n.is_empty() && !n.starts_with('+') && n.len() <= 7
}

/// The IP Office SMDR record for a truth `call` line (`None` for other lines). `call_id` is
/// the record's Call ID field.
pub fn ipoffice_record(truth: &str, call_id: u64) -> Option<String> {
    let v: Value = serde_json::from_str(truth).ok()?;
    if v.get("kind")?.as_str()? != "call" {
        return None;
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let calling = s("calling");
    let called = s("called");
    let (start, offered) = parse_time(s("offered_at"))?;
    let (_, ended) = parse_time(s("ended_at"))?;
    let answered = v
        .get("answered_at")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .map(|(_, t)| t);
    let answered_by = v.get("answered_by").and_then(Value::as_str);
    let ring_ms = answered.unwrap_or(ended) - offered;
    // An answered call shows at least one second connected (that is how the format says
    // "answered").
    let connected = answered
        .map_or(0, |a| ((ended - a) + 999) / 1000)
        .max(i64::from(answered.is_some()));
    let both_internal = internal(calling) && internal(called);
    let direction = if internal(calling) && !both_internal {
        "O"
    } else {
        "I"
    };
    let ext = match (answered_by, direction) {
        (Some(a), _) => a,
        (None, "O") => calling,
        (None, _) => called,
    };
    let party1 = format!("E{ext}");
    let party2 = if both_internal {
        format!("E{}", if ext == calling { called } else { calling })
    } else {
        TRUNK.to_owned()
    };
    let field = |x: &str| x.replace(',', " ");
    Some(format!(
        "{start},{},{},{},{direction},{},{},,{},{call_id},0,{party1},,{party2},,0,0\r\n",
        hms(connected),
        (ring_ms.max(0) + 500) / 1000,
        field(calling),
        field(called),
        field(called),
        u8::from(both_internal),
    ))
}

/// The SMDR printer: every reader connected over TCP (or the reader of the serial line)
/// receives every record from then on.
#[derive(Debug)]
pub struct SmdrPrinter {
    local_addr: Option<SocketAddr>,
    serial_path: Option<PathBuf>,
    stop: watch::Sender<bool>,
    stopped: Arc<AtomicBool>,
    /// The pseudo-terminal's reader side, kept open so the line never hangs up.
    _serial_keep: Option<serialport::TTYPort>,
}

/// Turns truth lines into records on a broadcast channel until stopped.
fn feed(
    mut truth: broadcast::Receiver<String>,
    mut stop: watch::Receiver<bool>,
) -> broadcast::Sender<String> {
    let (records, _) = broadcast::channel::<String>(4096);
    let tx = records.clone();
    tokio::spawn(async move {
        let mut next_id: u64 = 1_000_001;
        loop {
            tokio::select! {
                line = truth.recv() => match line {
                    Ok(line) => {
                        if let Some(r) = ipoffice_record(&line, next_id) {
                            next_id += 1;
                            let _ = tx.send(r);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = stop.changed() => break,
            }
        }
    });
    records
}

impl SmdrPrinter {
    /// Listens on `listen` and prints a record for every finished call in `truth` (from
    /// [`crate::net::SimServer::truth`]).
    pub async fn start(
        listen: SocketAddr,
        truth: broadcast::Receiver<String>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let records = feed(truth, stopped.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut sock, _)) = accepted else { continue };
                        let mut rx = records.subscribe();
                        let mut stop_conn = stopped.clone();
                        tokio::spawn(async move {
                            loop {
                                tokio::select! {
                                    r = rx.recv() => match r {
                                        Ok(rec) => {
                                            if sock.write_all(rec.as_bytes()).await.is_err() {
                                                break;
                                            }
                                        }
                                        // A reader too slow for the PBX loses records, as
                                        // on a real printer port.
                                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                                        Err(broadcast::error::RecvError::Closed) => break,
                                    },
                                    _ = stop_conn.changed() => break,
                                }
                            }
                        });
                    }
                    _ = stopped.changed() => break,
                }
            }
        });
        Ok(Self {
            local_addr: Some(local_addr),
            serial_path: None,
            stop,
            stopped: Arc::new(AtomicBool::new(false)),
            _serial_keep: None,
        })
    }

    /// Prints on a serial line: a pseudo-terminal (its path is [`SmdrPrinter::serial_path`]),
    /// paced at `baud` (10 bits a character; records a slow line cannot carry in time queue
    /// up, and beyond 4096 waiting records the oldest are lost, as on a printer port). Needs a
    /// tokio runtime; the line is written from one thread of its own.
    pub async fn start_serial(
        truth: broadcast::Receiver<String>,
        baud: u32,
    ) -> std::io::Result<Self> {
        let (master, slave) =
            serialport::TTYPort::pair().map_err(|e| std::io::Error::other(e.to_string()))?;
        let serial_path = serialport::SerialPort::name(&slave).map(PathBuf::from);
        let (stop, stopped_rx) = watch::channel(false);
        let mut rx = feed(truth, stopped_rx).subscribe();
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopped);
        let mut writer = master;
        let per_byte = Duration::from_secs_f64(10.0 / f64::from(baud.max(50)));
        std::thread::Builder::new()
            .name("smdr-printer-serial".into())
            .spawn(move || {
                loop {
                    let rec = match rx.blocking_recv() {
                        Ok(r) => r,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                    // Nobody reading (EIO before a reader opens the line) loses the record.
                    let _ = std::io::Write::write_all(&mut writer, rec.as_bytes());
                    let _ = std::io::Write::flush(&mut writer);
                    std::thread::sleep(per_byte * rec.len() as u32);
                }
            })?;
        Ok(Self {
            local_addr: None,
            serial_path,
            stop,
            stopped,
            _serial_keep: Some(slave),
        })
    }

    /// Where TCP readers connect (`None` for a serial printer).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The serial line's device path (`None` for a TCP printer).
    pub fn serial_path(&self) -> Option<&Path> {
        self.serial_path.as_deref()
    }

    /// Stops printing and closes every reader.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
    }
}

impl Drop for SmdrPrinter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_inbound_call() {
        let line = r#"{"kind":"call","calling":"+4930123456","called":"6000","answered_by":"300001","agent":"A300001","queue":"6000","outcome":"answered","transfers":[],"conferenced":false,"offered_at":"2026-11-23T14:00:00.250Z","answered_at":"2026-11-23T14:00:04.250Z","ended_at":"2026-11-23T14:01:09.000Z"}"#;
        let r = ipoffice_record(line, 1_000_001).unwrap();
        assert_eq!(
            r,
            "2026/11/23 14:00:00,00:01:05,4,+4930123456,I,6000,6000,,0,1000001,0,E300001,,T9001,,0,0\r\n"
        );
    }

    #[test]
    fn unanswered_and_internal_calls() {
        let line = r#"{"kind":"call","calling":"+4930123456","called":"200001","answered_by":null,"outcome":"no-answer","offered_at":"2026-11-23T14:00:00.000Z","answered_at":null,"ended_at":"2026-11-23T14:00:20.000Z"}"#;
        let r = ipoffice_record(line, 7).unwrap();
        assert!(
            r.starts_with("2026/11/23 14:00:00,00:00:00,20,+4930123456,I,200001,"),
            "{r}"
        );
        let line = r#"{"kind":"call","calling":"200000","called":"200001","answered_by":"200001","outcome":"answered","offered_at":"2026-11-23T14:00:00.000Z","answered_at":"2026-11-23T14:00:00.400Z","ended_at":"2026-11-23T14:00:00.900Z"}"#;
        let r = ipoffice_record(line, 8).unwrap();
        assert!(
            r.contains(",00:00:01,0,200000,I,200001,200001,,1,8,0,E200001,,E200000,"),
            "{r}"
        );
        assert_eq!(ipoffice_record(r#"{"kind":"agent"}"#, 1), None);
        assert_eq!(ipoffice_record("not json", 1), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_serial_line_carries_records_at_its_baud_rate() {
        let (tx, rx) = broadcast::channel(64);
        let printer = SmdrPrinter::start_serial(rx, 9_600).await.expect("pty");
        let path = printer.serial_path().expect("a path").to_owned();
        assert!(printer.local_addr().is_none());
        let mut port = serialport::new(path.to_string_lossy(), 9_600)
            .timeout(Duration::from_millis(100))
            .open()
            .expect("open the line");
        let line = r#"{"kind":"call","calling":"+4930123456","called":"6000","answered_by":"300001","outcome":"answered","offered_at":"2026-11-23T14:00:00.250Z","answered_at":"2026-11-23T14:00:04.250Z","ended_at":"2026-11-23T14:01:09.000Z"}"#;
        let one = ipoffice_record(line, 1_000_001).unwrap().len();
        let t0 = std::time::Instant::now();
        for _ in 0..12 {
            tx.send(line.to_owned()).unwrap();
        }
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let until = std::time::Instant::now() + Duration::from_secs(10);
            while got.len() < 12 * one && std::time::Instant::now() < until {
                if let Ok(n) = std::io::Read::read(&mut port, &mut buf) {
                    got.extend_from_slice(&buf[..n]);
                }
            }
            got
        });
        let got = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        let took = t0.elapsed();
        let text = String::from_utf8_lossy(&got);
        assert_eq!(text.lines().count(), 12, "{text}");
        assert!(text.lines().all(|l| l.contains(",E300001,")), "{text}");
        // 12 records of about 90 characters at 960 characters a second: over a second.
        let expected = Duration::from_secs_f64((12 * one) as f64 / 960.0);
        assert!(took >= expected.mul_f64(0.8), "{took:?} for {expected:?}");
        printer.shutdown();
    }
}
