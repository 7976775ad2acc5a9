//! The simulated PBX on real sockets: [`SimServer`] runs the [`Engine`] in one tokio task and
//! gives every client connection its own [`Face`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), hookflash_sim::net::SimServerError> {
//! use hookflash_sim::face::FaceProtocol;
//! use hookflash_sim::net::{SimServer, SimServerConfig};
//! use hookflash_sim::SimConfig;
//!
//! let server = SimServer::start(SimServerConfig::new(FaceProtocol::CstaXml, SimConfig::default())).await?;
//! let addr = server.local_addr().expect("listening on TCP");
//! let mut truth = server.truth();          // ground-truth JSON lines
//! // … connect a client to `addr` …
//! server.control().drop_links().await;     // fault: every link drops
//! server.shutdown().await;
//! # let _ = (addr, truth.try_recv()); Ok(()) }
//! ```
//!
//! Time: engine milliseconds are real (tokio) milliseconds since start times
//! [`SimServerConfig::time_scale`], so `time_scale = 60.0` runs an hour of PBX traffic in a
//! minute, and tests under `tokio::time::pause` run as fast as the CPU allows.
//!
//! Transports: TCP ([`SimServerConfig::listen`]), TLS over it ([`SimServerConfig::tls`], with a
//! self-signed certificate made at start — its PEM is [`SimServer::certificate_pem`] for the
//! client to trust — or a certificate and key from PEM), and a serial line on a
//! pseudo-terminal ([`SimServerConfig::serial`]; the client opens [`SimServer::serial_path`]).

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::SimConfig;
use crate::engine::{Engine, GroupStats, Stats};
use crate::error::SimError;
use crate::face::{CloseReason, Face, FaceConfig, FaceProtocol};
use crate::model::{Command, Output, Response};

/// Frames queued for one connection before it is dropped as a slow consumer.
const CONN_QUEUE: usize = 100_000;
/// Messages queued for the engine task.
const ENGINE_QUEUE: usize = 1_024;
/// Read buffer per connection.
const READ_CHUNK: usize = 16 * 1024;
/// Truth lines kept for slow subscribers.
const TRUTH_CAPACITY: usize = 65_536;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimServerError {
    /// A socket, file or pseudo-terminal could not be opened.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS material could not be made or used.
    #[error("tls: {0}")]
    Tls(String),
    /// The pseudo-terminal could not be opened.
    #[error("serial: {0}")]
    Serial(String),
    /// Neither a TCP address nor a serial line was asked for.
    #[error("nothing to listen on")]
    NothingToListenOn,
}

/// Where the TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSetup {
    /// A self-signed certificate for `localhost` and `127.0.0.1`, made at start.
    SelfSigned,
    /// A certificate chain and private key, PEM.
    Pem {
        /// The certificate chain.
        cert: Vec<u8>,
        /// The private key.
        key: Vec<u8>,
    },
}

/// Everything [`SimServer::start`] needs.
#[derive(Debug, Clone)]
pub struct SimServerConfig {
    /// The TCP address to listen on (`127.0.0.1:0` picks a free port); `None` for none.
    pub listen: Option<SocketAddr>,
    /// TLS on the TCP listener.
    pub tls: Option<TlsSetup>,
    /// Also serve one client over a pseudo-terminal.
    pub serial: bool,
    /// The protocol, credentials and limits of every connection.
    pub face: FaceConfig,
    /// The call engine.
    pub sim: SimConfig,
    /// Engine ms per real ms (1.0: real time).
    pub time_scale: f64,
    /// Also append the ground-truth lines to this file.
    pub truth_file: Option<PathBuf>,
    /// Stamp every CSTA event with the wall-clock time it is handed to its connection
    /// (`security.timestamp` in its extensions, to the microsecond), as PBXs that report their
    /// own time do: a client can then measure delivery from the PBX's send.
    pub stamp_events: bool,
}

impl SimServerConfig {
    /// TCP on `127.0.0.1:0`, no TLS, no serial line, real time, no credentials.
    pub fn new(protocol: FaceProtocol, sim: SimConfig) -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tls: None,
            serial: false,
            face: FaceConfig {
                protocol,
                ..FaceConfig::default()
            },
            sim,
            time_scale: 1.0,
            truth_file: None,
            stamp_events: false,
        }
    }
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// The engine's counters.
    pub engine: Stats,
    /// Connections accepted so far.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: usize,
    /// Active monitors.
    pub monitors: usize,
    /// Malformed frames from all connections so far.
    pub malformed: u64,
    /// SystemStatus polls sent to clients so far (closed connections included).
    pub polls_sent: u64,
    /// Per-ACD-group statistics.
    pub groups: Vec<GroupStats>,
    /// Connections the server dropped because their output queue was full: the client did not
    /// read fast enough (a slow consumer).
    pub slow_consumer_drops: u64,
    /// Connections the client ended (end of stream or a socket error on its side).
    pub peer_closes: u64,
    /// Why the protocol face closed connections, most recent last (the last
    /// [`CLOSES_KEPT`] closes; a slow consumer is [`CloseReason::SlowConsumer`] here too).
    pub face_closes: Vec<CloseReason>,
}

/// How many close reasons [`ServerStats::face_closes`] keeps.
pub const CLOSES_KEPT: usize = 64;

enum Ctl {
    Command(Command, oneshot::Sender<Result<Response, SimError>>),
    Stats(oneshot::Sender<ServerStats>),
    DropLinks(oneshot::Sender<()>),
}

enum ToConn {
    Frame(Vec<u8>),
    Close,
}

enum Msg {
    Connected {
        id: u64,
        tx: mpsc::Sender<ToConn>,
        permanent: bool,
    },
    Input {
        id: u64,
        bytes: Vec<u8>,
    },
    Closed {
        id: u64,
    },
    Ctl(Ctl),
}

/// A handle to steer the running PBX: faults, commands, counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SimControl {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl SimControl {
    /// Runs an engine command (also the fault commands) and returns the engine's answer;
    /// `Err(LinkDown)` as well when the server is gone.
    pub async fn command(&self, cmd: Command) -> Result<Response, SimError> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Ctl(Ctl::Command(cmd, tx))).await.is_err() {
            return Err(SimError::LinkDown);
        }
        rx.await.unwrap_or(Err(SimError::LinkDown))
    }

    /// Fault: drops every link now (monitors are forgotten); new connections are served again
    /// at once.
    pub async fn drop_links(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Ctl(Ctl::DropLinks(tx))).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Fault: the PBX restarts and forgets all monitors; clients get a SystemStatus
    /// `initializing` poll.
    pub async fn restart(&self) {
        let _ = self.command(Command::FaultRestart).await;
    }

    /// Fault: the client's SystemStatus requests go unanswered until [`SimControl::recover`].
    pub async fn stop_answering_polls(&self) {
        let _ = self.command(Command::FaultStopAnsweringPolls).await;
    }

    /// Ends the fault modes.
    pub async fn recover(&self) {
        let _ = self.command(Command::FaultRecover).await;
    }

    /// The counters (default values when the server is gone).
    pub async fn stats(&self) -> ServerStats {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Ctl(Ctl::Stats(tx))).await.is_err() {
            return ServerStats::default();
        }
        rx.await.unwrap_or_default()
    }
}

/// The running simulated PBX. See the module documentation.
#[derive(Debug)]
pub struct SimServer {
    local_addr: Option<SocketAddr>,
    serial_path: Option<PathBuf>,
    certificate_pem: Option<String>,
    truth: broadcast::Sender<String>,
    control: SimControl,
    stop: Arc<AtomicBool>,
    stop_tx: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    serial_keep: Option<serialport::TTYPort>,
}

impl SimServer {
    /// Binds, starts the engine task and the listeners. Needs a tokio runtime (the serial line
    /// uses two blocking threads).
    pub async fn start(cfg: SimServerConfig) -> Result<Self, SimServerError> {
        if cfg.listen.is_none() && !cfg.serial {
            return Err(SimServerError::NothingToListenOn);
        }
        let (truth_tx, _) = broadcast::channel(TRUTH_CAPACITY);
        let (tx, rx) = mpsc::channel(ENGINE_QUEUE);
        let (stop_tx, stop_rx) = oneshot::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let mut certificate_pem = None;
        let acceptor = match &cfg.tls {
            None => None,
            Some(setup) => {
                let (cert, key) = match setup {
                    TlsSetup::SelfSigned => {
                        let ck = rcgen::generate_simple_self_signed(vec![
                            "localhost".to_owned(),
                            "127.0.0.1".to_owned(),
                        ])
                        .map_err(|e| SimServerError::Tls(e.to_string()))?;
                        let pem = ck.cert.pem();
                        certificate_pem = Some(pem.clone());
                        (
                            pem.into_bytes(),
                            ck.signing_key.serialize_pem().into_bytes(),
                        )
                    }
                    TlsSetup::Pem { cert, key } => {
                        certificate_pem = Some(String::from_utf8_lossy(cert).into_owned());
                        (cert.clone(), key.clone())
                    }
                };
                let pem = hookflash_link::transport::TlsPem {
                    ca: None,
                    cert: Some(cert),
                    key: Some(key),
                };
                Some(
                    hookflash_link::transport::server_acceptor(&pem)
                        .map_err(|e| SimServerError::Tls(e.to_string()))?,
                )
            }
        };
        let truth_file = match &cfg.truth_file {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        let mut local_addr = None;
        if let Some(addr) = cfg.listen {
            let listener = TcpListener::bind(addr).await?;
            local_addr = Some(listener.local_addr()?);
            tasks.push(tokio::spawn(accept_loop(listener, acceptor, tx.clone())));
        }
        let mut serial_path = None;
        let mut serial_keep = None;
        if cfg.serial {
            let (master, slave) =
                serialport::TTYPort::pair().map_err(|e| SimServerError::Serial(e.to_string()))?;
            serial_path = serialport::SerialPort::name(&slave).map(PathBuf::from);
            serial_keep = Some(slave);
            spawn_serial(master, tx.clone(), stop.clone())?;
        }
        let engine_task = EngineTask {
            engine: Engine::new(cfg.sim.clone()),
            face_cfg: cfg.face.clone(),
            scale: if cfg.time_scale.is_finite() && cfg.time_scale > 0.0 {
                cfg.time_scale
            } else {
                1.0
            },
            start: Instant::now(),
            last_now: 0,
            conns: HashMap::new(),
            owner: HashMap::new(),
            truth: truth_tx.clone(),
            truth_file,
            stamp_events: cfg.stamp_events,
            accepted: 0,
            malformed_closed: 0,
            polls_closed: 0,
            slow_consumer_drops: 0,
            peer_closes: 0,
            face_closes: VecDeque::new(),
        };
        tasks.push(tokio::spawn(engine_task.run(rx, stop_rx)));
        Ok(Self {
            local_addr,
            serial_path,
            certificate_pem,
            truth: truth_tx,
            control: SimControl { tx },
            stop,
            stop_tx: Some(stop_tx),
            tasks,
            serial_keep,
        })
    }

    /// The TCP address the server listens on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The pseudo-terminal the serial client opens.
    pub fn serial_path(&self) -> Option<&std::path::Path> {
        self.serial_path.as_deref()
    }

    /// The TLS certificate (PEM) clients must trust.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// A receiver of the ground-truth JSON lines from now on (needs [`SimConfig::truth`]).
    pub fn truth(&self) -> broadcast::Receiver<String> {
        self.truth.subscribe()
    }

    /// The control handle.
    pub fn control(&self) -> SimControl {
        self.control.clone()
    }

    /// Stops the engine, the listeners and every connection, and waits for them.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.stop_tx.take() {
            let _ = s.send(());
        }
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.serial_keep = None;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in &self.tasks {
            t.abort();
        }
    }
}

static NEXT_CONN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<Msg>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => {
                let Ok((sock, _)) = r else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = sock.set_nodelay(true);
                let tx = tx.clone();
                let acceptor = acceptor.clone();
                conns.spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(10), a.accept(sock)).await {
                                serve_stream(s, tx).await;
                            }
                        }
                        None => serve_stream(sock, tx).await,
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(stream: S, tx: mpsc::Sender<Msg>) {
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (out_tx, mut out_rx) = mpsc::channel(CONN_QUEUE);
    if tx
        .send(Msg::Connected {
            id,
            tx: out_tx,
            permanent: false,
        })
        .await
        .is_err()
    {
        return;
    }
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(Msg::Input { id, bytes: buf[..n].to_vec() }).await.is_err() {
                        break;
                    }
                }
            },
            m = out_rx.recv() => match m {
                Some(ToConn::Frame(f)) => {
                    if wr.write_all(&f).await.is_err() {
                        break;
                    }
                }
                Some(ToConn::Close) | None => {
                    let _ = wr.flush().await;
                    let _ = wr.shutdown().await;
                    break;
                }
            },
        }
    }
    let _ = tx.send(Msg::Closed { id }).await;
}

/// The serial line: a reader thread and a writer thread on the pty master. The line is one
/// connection that never ends: when its face closes, a fresh face takes over.
fn spawn_serial(
    master: serialport::TTYPort,
    tx: mpsc::Sender<Msg>,
    stop: Arc<AtomicBool>,
) -> Result<(), SimServerError> {
    use serialport::SerialPort as _;
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let mut reader = master;
    let _ = reader.set_timeout(Duration::from_millis(100));
    let mut writer = reader
        .try_clone_native()
        .map_err(|e| SimServerError::Serial(e.to_string()))?;
    let (out_tx, mut out_rx) = mpsc::channel::<ToConn>(CONN_QUEUE);
    tx.try_send(Msg::Connected {
        id,
        tx: out_tx,
        permanent: true,
    })
    .map_err(|_| SimServerError::Serial("engine not running".into()))?;
    let rtx = tx.clone();
    let rstop = stop.clone();
    std::thread::Builder::new()
        .name("sim-serial-rd".into())
        .spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !rstop.load(Ordering::SeqCst) {
                match std::io::Read::read(&mut reader, &mut buf) {
                    Ok(0) => std::thread::sleep(Duration::from_millis(20)),
                    Ok(n) => {
                        if rtx
                            .blocking_send(Msg::Input {
                                id,
                                bytes: buf[..n].to_vec(),
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO while no client has the line open.
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
    std::thread::Builder::new()
        .name("sim-serial-wr".into())
        .spawn(move || {
            while let Some(m) = out_rx.blocking_recv() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let ToConn::Frame(f) = m {
                    let _ = writer.write_all(&f);
                    let _ = writer.flush();
                }
            }
        })?;
    Ok(())
}

struct Conn {
    face: Face,
    tx: mpsc::Sender<ToConn>,
    /// A serial line: the face is replaced when it closes, the line stays.
    permanent: bool,
}

struct EngineTask {
    engine: Engine,
    face_cfg: FaceConfig,
    scale: f64,
    start: Instant,
    last_now: u64,
    conns: HashMap<u64, Conn>,
    owner: HashMap<u32, u64>,
    truth: broadcast::Sender<String>,
    truth_file: Option<std::io::BufWriter<std::fs::File>>,
    /// Stamp CSTA events with the wall clock ([`SimServerConfig::stamp_events`]).
    stamp_events: bool,
    accepted: u64,
    malformed_closed: u64,
    polls_closed: u64,
    slow_consumer_drops: u64,
    peer_closes: u64,
    face_closes: VecDeque<CloseReason>,
}

impl EngineTask {
    /// Engine ms now: never backwards, and never short of a deadline that has woken the task
    /// (so a rounding error cannot make the task spin, with real or paused time).
    fn now(&mut self) -> u64 {
        let real = Instant::now().duration_since(self.start).as_secs_f64() * 1000.0;
        self.last_now = self.last_now.max((real * self.scale) as u64);
        self.last_now
    }

    fn instant_at(&self, ms: u64) -> Instant {
        let real_ms = ms as f64 / self.scale;
        self.start + Duration::from_secs_f64((real_ms / 1000.0).min(1.0e9))
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, mut stop: oneshot::Receiver<()>) {
        loop {
            let deadline = self.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(self.instant_at(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => break,
                m = rx.recv() => match m {
                    Some(m) => self.message(m),
                    None => break,
                },
                () = sleep => {
                    if let Some(d) = deadline {
                        self.last_now = self.last_now.max(d);
                    }
                }
            }
            self.tick();
        }
        if let Some(f) = &mut self.truth_file {
            let _ = f.flush();
        }
        for c in self.conns.values() {
            let _ = c.tx.try_send(ToConn::Close);
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        let faces = self
            .conns
            .values()
            .filter_map(|c| c.face.poll_timeout())
            .min();
        match (self.engine.poll_timeout(), faces) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn message(&mut self, m: Msg) {
        let now = self.now();
        match m {
            Msg::Connected { id, tx, permanent } => {
                self.accepted += 1;
                let mut face = Face::new(self.face_cfg.clone(), now, id);
                if self.engine.link_is_down() {
                    // The PBX's link is down (fault): nobody gets in.
                    face.handle_output(now, &Output::LinkDropped { at_ms: now });
                }
                self.conns.insert(
                    id,
                    Conn {
                        face,
                        tx,
                        permanent,
                    },
                );
            }
            Msg::Input { id, bytes } => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.face.handle_input(now, &bytes, &mut self.engine);
                    for x in c.face.take_started() {
                        self.owner.insert(x, id);
                    }
                }
            }
            Msg::Closed { id } => {
                if let Some(mut c) = self.conns.remove(&id) {
                    if !c.face.is_closed() {
                        self.peer_closes += 1;
                    }
                    self.retire(now, &mut c.face);
                }
            }
            Msg::Ctl(Ctl::Command(cmd, reply)) => {
                let r = self.engine.handle_command(now, cmd);
                let _ = reply.send(r);
            }
            Msg::Ctl(Ctl::Stats(reply)) => {
                let malformed: u64 = self.conns.values().map(|c| c.face.stats().malformed).sum();
                let polls: u64 = self.conns.values().map(|c| c.face.stats().polls_sent).sum();
                let _ = reply.send(ServerStats {
                    engine: self.engine.stats().clone(),
                    connections_accepted: self.accepted,
                    connections_open: self.conns.len(),
                    monitors: self.engine.monitor_count(),
                    malformed: self.malformed_closed + malformed,
                    polls_sent: self.polls_closed + polls,
                    groups: self.engine.group_stats(),
                    slow_consumer_drops: self.slow_consumer_drops,
                    peer_closes: self.peer_closes,
                    face_closes: self.face_closes.iter().cloned().collect(),
                });
            }
            Msg::Ctl(Ctl::DropLinks(reply)) => {
                let _ = self.engine.handle_command(now, Command::FaultDropLink);
                self.route_outputs(now);
                let _ = self.engine.handle_command(now, Command::FaultRecover);
                let _ = reply.send(());
            }
        }
    }

    fn retire(&mut self, now: u64, face: &mut Face) {
        for x in face.monitors() {
            self.owner.remove(&x);
        }
        face.release(now, &mut self.engine);
        self.malformed_closed += face.stats().malformed;
        self.polls_closed += face.stats().polls_sent;
    }

    fn route_outputs(&mut self, now: u64) {
        // (The face encodes an event as it is handed over; the frame goes to the socket's
        // writer task at once.)
        while let Some(o) = self.engine.poll_output() {
            match &o {
                Output::Event(e) => {
                    if let Some(id) = self.owner.get(&e.cross_ref)
                        && let Some(c) = self.conns.get_mut(id)
                    {
                        if self.stamp_events {
                            c.face.set_send_time(Some(wall_clock_us()));
                        }
                        c.face.handle_output(now, &o);
                    }
                }
                Output::Restarted { .. } | Output::LinkDropped { .. } => {
                    self.owner.clear();
                    for c in self.conns.values_mut() {
                        c.face.handle_output(now, &o);
                    }
                }
                Output::SystemStatusPoll { .. } => {
                    for c in self.conns.values_mut() {
                        c.face.handle_output(now, &o);
                    }
                }
            }
        }
    }

    fn tick(&mut self) {
        let now = self.now();
        self.engine.step(now);
        for c in self.conns.values_mut() {
            c.face.handle_timeout(now);
        }
        self.route_outputs(now);
        let mut wrote = false;
        while let Some(line) = self.engine.poll_truth() {
            if let Some(f) = &mut self.truth_file {
                let _ = writeln!(f, "{line}");
                wrote = true;
            }
            let _ = self.truth.send(line);
        }
        if wrote && let Some(f) = &mut self.truth_file {
            let _ = f.flush();
        }
        let mut gone = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            let mut full = false;
            while let Some(f) = c.face.poll_transmit() {
                if c.tx.try_send(ToConn::Frame(f)).is_err() {
                    full = true;
                    break;
                }
            }
            if full {
                gone.push((*id, Some(CloseReason::SlowConsumer)));
            } else if let Some(r) = c.face.close_reason() {
                gone.push((*id, Some(r.clone())));
            }
        }
        for (id, reason) in gone {
            let Some(mut c) = self.conns.remove(&id) else {
                continue;
            };
            if let Some(r) = reason {
                if r == CloseReason::SlowConsumer {
                    self.slow_consumer_drops += 1;
                }
                if self.face_closes.len() == CLOSES_KEPT {
                    self.face_closes.pop_front();
                }
                self.face_closes.push_back(r);
            }
            self.retire(now, &mut c.face);
            if c.permanent {
                let face = Face::new(self.face_cfg.clone(), now, id);
                self.conns.insert(id, Conn { face, ..c });
            } else {
                let _ = c.tx.try_send(ToConn::Close);
            }
        }
    }
}

/// The wall clock in microseconds since the Unix epoch.
fn wall_clock_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
