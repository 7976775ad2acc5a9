//! A PBX vendor's Hookflash plugin, as an example: a driver for the *toy protocol*, a small
//! line-based protocol over TCP, written against the public `hookflash` API alone.
//!
//! # The toy protocol
//!
//! UTF-8 lines ending in `\n`, fields separated by single spaces, at most
//! [`MAX_LINE`] bytes. The PBX greets with `HELLO toy/1`. The client sends requests tagged
//! with a number; the PBX answers each with `OK <tag> [<call>]` or `ERR <tag> <reason>`:
//!
//! | client → PBX | meaning |
//! |---|---|
//! | `<tag> WATCH <device>` | report the device's calls |
//! | `<tag> UNWATCH <device>` | stop reporting them |
//! | `<tag> DIAL <from> <to>` | make a call (the `OK` names the new call) |
//! | `<tag> ANSWER <call> <device>` | answer |
//! | `<tag> HANGUP <call> <device>` | drop the device from the call |
//! | `<tag> HOLD <call> <device>` / `<tag> RESUME <call> <device>` | hold, retrieve |
//! | `<tag> PING` | keep-alive |
//!
//! | PBX → client | meaning |
//! |---|---|
//! | `DIALING <call> <device> <to>` | a watched device places a call |
//! | `RING <call> <device> <from>` | a call rings at a watched device |
//! | `TALK <call> <device>` | the device answered |
//! | `HOLD <call> <device>` / `RESUME <call> <device>` | held, retrieved |
//! | `LEFT <call> <device>` | the device left the call |
//! | `END <call>` | the call ended |
//!
//! # The driver
//!
//! [`ToyDriver`] implements [`hookflash::spi::Driver`]: [`Driver::run`] connects, reports
//! `LinkUp`, re-watches every monitored device after each reconnect, maps lines to
//! [`DriverEvent`]s, and reconnects with a growing delay after a drop; commands are tagged
//! requests matched to their answers. Malformed lines are counted and skipped; an over-long
//! line is discarded up to its end.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hookflash::Error> {
//! use hookflash::{Cti, Filter};
//! use hookflash_toy_driver::ToyDriver;
//!
//! let cti = Cti::builder()
//!     .driver(Box::new(ToyDriver::new("toy", "127.0.0.1:7070")))
//!     .build()?;
//! cti.monitor(&["100"]).await;
//! let mut events = cti.subscribe(Filter::all());
//! while let Ok(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

pub mod server;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hookflash::Error;
use hookflash::PbxCause;
use hookflash::core::command::{Command, Verbs};
use hookflash::core::driver::{CallEventKind, DriverEvent};
use hookflash::core::model::{DeviceId, LinkId};
use hookflash::spi::{
    Capabilities, CommandOutcome, Driver, DriverCommand, EventSink, MonitorResult,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, oneshot};

/// The longest line either side may send.
pub const MAX_LINE: usize = 1024;

/// Reads `\n`-terminated lines of at most [`MAX_LINE`] bytes from any byte stream.
pub struct LineReader<R> {
    io: R,
    buf: Vec<u8>,
    discarding: bool,
    /// Lines dropped for being too long or not UTF-8.
    pub malformed: u64,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader over `io`.
    pub fn new(io: R) -> Self {
        Self {
            io,
            buf: Vec::new(),
            discarding: false,
            malformed: 0,
        }
    }

    /// The next line without its end, `None` at the end of the stream.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                if std::mem::take(&mut self.discarding) {
                    continue;
                }
                match String::from_utf8(line) {
                    Ok(s) => return Ok(Some(s.trim_end_matches(['\r', '\n']).to_owned())),
                    Err(_) => {
                        self.malformed += 1;
                        continue;
                    }
                }
            }
            if self.buf.len() > MAX_LINE {
                // Too long: drop it, and the rest of it up to the next line end.
                self.buf.clear();
                if !self.discarding {
                    self.malformed += 1;
                }
                self.discarding = true;
            }
            let mut chunk = [0u8; 512];
            let n = self.io.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The driver's timing.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The first reconnect delay (doubling up to `max_backoff`).
    pub min_backoff: Duration,
    /// The longest reconnect delay.
    pub max_backoff: Duration,
    /// How long to wait for the connection and the greeting.
    pub connect_timeout: Duration,
    /// Keep-alive interval; the link is dropped when a `PING` goes unanswered.
    pub keep_alive: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(15),
        }
    }
}

type Reply = oneshot::Sender<Result<Option<String>, Error>>;

/// A request for the connection task.
struct Request {
    line: String,
    reply: Reply,
}

/// The toy-protocol driver.
pub struct ToyDriver {
    link: LinkId,
    addr: String,
    timing: Timing,
    /// The devices to watch, kept across reconnects.
    watched: Mutex<BTreeSet<DeviceId>>,
    /// The connection task's request queue while connected.
    conn: Mutex<Option<mpsc::Sender<Request>>>,
    /// Lines that could not be understood.
    malformed: Arc<AtomicU64>,
}

impl ToyDriver {
    /// A driver for the toy PBX at `addr` (`host:port`), naming the link `link`.
    pub fn new(link: &str, addr: &str) -> Self {
        Self {
            link: link.into(),
            addr: addr.to_owned(),
            timing: Timing::default(),
            watched: Mutex::new(BTreeSet::new()),
            conn: Mutex::new(None),
            malformed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The same driver with other timing.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// How many lines from the PBX could not be understood.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Sends one request on the current connection.
    async fn request(&self, line: String) -> Result<Option<String>, Error> {
        let tx = self.conn.lock().await.clone().ok_or(Error::LinkDown)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Request { line, reply })
            .await
            .map_err(|_| Error::LinkDown)?;
        rx.await.unwrap_or(Err(Error::LinkDown))
    }

    /// One connection, from connect to drop. `Ok(true)` once it was up (reset the backoff).
    async fn session(&self, sink: &EventSink) -> Result<bool, Error> {
        let t = self.timing;
        let stream = tokio::time::timeout(t.connect_timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(|_| Error::LinkDown)?;
        let (rd, mut wr) = stream.into_split();
        let mut lines = LineReader::new(rd);
        let hello = tokio::time::timeout(t.connect_timeout, lines.next_line())
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(|_| Error::LinkDown)?;
        if hello.as_deref() != Some("HELLO toy/1") {
            return Err(Error::LinkDown);
        }
        let (tx, mut rx) = mpsc::channel::<Request>(64);
        *self.conn.lock().await = Some(tx);
        sink.send(DriverEvent::LinkUp {
            link: self.link.clone(),
        })
        .await?;

        let mut next_tag: u64 = 1;
        // Requests in flight: who waits for the answer, and the device a WATCH is for (the
        // engine is told it is monitored once the PBX says OK).
        let mut pending: HashMap<u64, (Option<Reply>, Option<DeviceId>)> = HashMap::new();
        // Re-watch every monitored device: the PBX forgets watches with the connection.
        let watched: Vec<DeviceId> = self.watched.lock().await.iter().cloned().collect();
        for d in watched {
            let line = format!("{next_tag} WATCH {d}\n");
            if wr.write_all(line.as_bytes()).await.is_err() {
                return Ok(true);
            }
            pending.insert(next_tag, (None, Some(d)));
            next_tag += 1;
        }
        let mut ping = tokio::time::interval(t.keep_alive);
        ping.tick().await;
        let mut ping_unanswered = false;
        let result = loop {
            tokio::select! {
                req = rx.recv() => {
                    let Some(req) = req else { break Ok(true) };
                    let tag = next_tag;
                    next_tag += 1;
                    if wr.write_all(format!("{tag} {}\n", req.line).as_bytes()).await.is_err() {
                        let _ = req.reply.send(Err(Error::LinkDown));
                        break Ok(true);
                    }
                    let watch = req.line.strip_prefix("WATCH ").map(DeviceId::from);
                    pending.insert(tag, (Some(req.reply), watch));
                }
                line = lines.next_line() => {
                    let Ok(Some(line)) = line else { break Ok(true) };
                    match parse(&line) {
                        Some(Line::Ok(0, _)) => ping_unanswered = false,
                        Some(Line::Ok(tag, call)) => {
                            let Some((reply, watch)) = pending.remove(&tag) else { continue };
                            if let Some(device) = watch {
                                let ev = DriverEvent::Monitor { link: self.link.clone(), device, monitored: true };
                                if sink.send(ev).await.is_err() {
                                    break Err(Error::Closed);
                                }
                            }
                            if let Some(r) = reply {
                                let _ = r.send(Ok(call));
                            }
                        }
                        Some(Line::Err(tag, reason)) => {
                            if let Some((Some(r), _)) = pending.remove(&tag) {
                                let _ = r.send(Err(error_for(&reason)));
                            }
                        }
                        Some(Line::Event(call, event)) => {
                            let ev = DriverEvent::Call { link: self.link.clone(), call: call.into(), event, cause: None };
                            if sink.send(ev).await.is_err() {
                                break Err(Error::Closed);
                            }
                        }
                        None => {
                            self.malformed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ = ping.tick() => {
                    if ping_unanswered {
                        break Ok(true);
                    }
                    ping_unanswered = true;
                    if wr.write_all(b"0 PING\n").await.is_err() {
                        break Ok(true);
                    }
                }
            }
        };
        self.malformed.fetch_add(lines.malformed, Ordering::Relaxed);
        *self.conn.lock().await = None;
        // Requests in flight fail now rather than at their timeout.
        for (r, _) in pending.into_values() {
            if let Some(r) = r {
                let _ = r.send(Err(Error::LinkDown));
            }
        }
        result
    }
}

/// A parsed PBX line.
enum Line {
    Ok(u64, Option<String>),
    Err(u64, String),
    Event(String, CallEventKind),
}

fn parse(line: &str) -> Option<Line> {
    let f: Vec<&str> = line.split(' ').collect();
    let dev = |s: &str| DeviceId::from(s);
    Some(match f.as_slice() {
        ["OK", tag] => Line::Ok(tag.parse().ok()?, None),
        ["OK", tag, call] => Line::Ok(tag.parse().ok()?, Some((*call).to_owned())),
        ["ERR", tag, reason @ ..] => Line::Err(tag.parse().ok()?, reason.join(" ")),
        ["DIALING", call, device, to] => Line::Event(
            (*call).into(),
            CallEventKind::Originated {
                calling: dev(device),
                called: (*to).to_owned(),
            },
        ),
        ["RING", call, device, from] => Line::Event(
            (*call).into(),
            CallEventKind::Delivered {
                alerting: dev(device),
                calling: Some((*from).to_owned()),
                called: Some((*device).to_owned()),
                last_redirection: None,
            },
        ),
        ["TALK", call, device] => Line::Event(
            (*call).into(),
            CallEventKind::Established {
                answering: dev(device),
                calling: None,
                called: None,
            },
        ),
        ["HOLD", call, device] => Line::Event(
            (*call).into(),
            CallEventKind::Held {
                device: dev(device),
            },
        ),
        ["RESUME", call, device] => Line::Event(
            (*call).into(),
            CallEventKind::Retrieved {
                device: dev(device),
            },
        ),
        ["LEFT", call, device] => Line::Event(
            (*call).into(),
            CallEventKind::ConnectionCleared {
                device: dev(device),
            },
        ),
        ["END", call] => Line::Event((*call).into(), CallEventKind::CallCleared),
        _ => return None,
    })
}

/// The typed error for a PBX's `ERR` reason.
fn error_for(reason: &str) -> Error {
    match reason {
        "no-such-device" => Error::InvalidDevice(DeviceId::from("?")),
        "not-now" => Error::NotPermitted,
        other => Error::Pbx(PbxCause {
            code: None,
            name: other.to_owned(),
        }),
    }
}

/// A field must be one token: no spaces, no line ends.
fn token(s: &str) -> Result<&str, Error> {
    if s.is_empty() || s.len() > 64 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(Error::InvalidDevice(DeviceId::from(s)))
    } else {
        Ok(s)
    }
}

#[async_trait]
impl Driver for ToyDriver {
    fn link(&self) -> &LinkId {
        &self.link
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            verbs: Verbs::ANSWER | Verbs::CLEAR | Verbs::HOLD | Verbs::RETRIEVE,
            flags: Capabilities::MONITOR | Capabilities::MAKE_CALL | Capabilities::CALL_EVENTS,
        }
    }

    async fn run(&self, sink: EventSink) -> Result<(), Error> {
        let mut delay = self.timing.min_backoff;
        while !sink.is_closed() {
            match self.session(&sink).await {
                Err(Error::Closed) => return Ok(()),
                Ok(true) => delay = self.timing.min_backoff,
                _ => {}
            }
            if sink
                .send(DriverEvent::LinkDown {
                    link: self.link.clone(),
                })
                .await
                .is_err()
            {
                return Ok(());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.timing.max_backoff);
        }
        Ok(())
    }

    async fn monitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let mut out = Vec::new();
        for d in devices {
            let r = match token(d) {
                Err(e) => Err(e),
                Ok(_) => {
                    self.watched.lock().await.insert(d.clone());
                    // While down the watch is kept and sent on the next connection.
                    match self.request(format!("WATCH {d}")).await {
                        Ok(_) | Err(Error::LinkDown) => Ok(()),
                        Err(Error::InvalidDevice(_)) => {
                            self.watched.lock().await.remove(d);
                            Err(Error::InvalidDevice(d.clone()))
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            out.push(r);
        }
        out
    }

    async fn unmonitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let mut out = Vec::new();
        for d in devices {
            if !self.watched.lock().await.remove(d) {
                out.push(Err(Error::InvalidDevice(d.clone())));
                continue;
            }
            out.push(match self.request(format!("UNWATCH {d}")).await {
                Ok(_) | Err(Error::LinkDown) => Ok(()),
                Err(e) => Err(e),
            });
        }
        out
    }

    async fn execute(&self, cmd: DriverCommand) -> Result<CommandOutcome, Error> {
        let line = match &cmd.command {
            Command::MakeCall { from, to } => format!("DIAL {} {}", token(from)?, token(to)?),
            Command::Answer { call, device } => {
                format!("ANSWER {} {}", cmd.native(*call)?, token(device)?)
            }
            Command::Clear { call, device } => {
                format!("HANGUP {} {}", cmd.native(*call)?, token(device)?)
            }
            Command::Hold { call, device } => {
                format!("HOLD {} {}", cmd.native(*call)?, token(device)?)
            }
            Command::Retrieve { call, device } => {
                format!("RESUME {} {}", cmd.native(*call)?, token(device)?)
            }
            _ => return Err(Error::Unsupported),
        };
        let call = self.request(line).await?;
        Ok(match call {
            Some(c) => CommandOutcome::with_call(c.into()),
            None => CommandOutcome::default(),
        })
    }
}
