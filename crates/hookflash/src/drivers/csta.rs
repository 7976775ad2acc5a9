//! The CSTA drivers: CSTA Phase III over BER (ECMA-285 with an ACSE association) or XML
//! (ECMA-323 in an ECMA-354 application session), on TCP, TLS or a serial line.
//!
//! The driver runs a sans-IO [`hookflash_csta::client::Client`] over a `hookflash-link`
//! transport: it connects (within the URL's `connect_timeout`), associates with the URL's
//! credentials, re-monitors and snapshots every monitored device after every (re)connect,
//! answers the PBX's polls, sends a `SystemStatus` keep-alive after `keep_alive` seconds of
//! silence, declares the link dead after `read_idle` seconds without a byte, and reconnects
//! with exponential backoff and jitter.
//!
//! URL options (besides the link layer's `framing`, `connect_timeout`, `ca`, `cert`, `key`
//! and serial settings): `window` (monitor requests in flight, default 256),
//! `request_timeout` (seconds, default 10), `keep_alive` (seconds, default 30), `read_idle`
//! (seconds, default 90), `acse=false` (BER links that take requests without an association),
//! `application` (the ECMA-354 application id), `session_duration` (seconds, the ECMA-354
//! session duration asked for, default 180).
//!
//! ```no_run
//! # async fn demo() -> Result<(), hookflash::Error> {
//! use hookflash::drivers::csta::CstaDriver;
//! use hookflash_link::url::LinkUrl;
//!
//! let url: LinkUrl = "csta-ber+tcp://cti:secret@pbx.example:7001?framing=len2".parse()?;
//! let driver = CstaDriver::new("pbx".into(), &url)?;
//! # let _ = driver; Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hookflash_core::{
    command::{Command, Verbs},
    model::{DeviceId, LinkId},
};
use hookflash_csta::client::{
    self, Client, ClientError, ClientEvent, Credentials, RequestId, Wire,
};
use hookflash_csta::framing::Framing;
use hookflash_csta::xml::session::{self as xml_session, Login};
use hookflash_link::{
    backoff::{Backoff, BackoffConfig},
    session::Clock,
    transport::{self, Transport},
    url::{LinkUrl, Protocol, UrlError},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{mpsc, oneshot},
    time::Instant,
};

use crate::{
    Error, PbxCause,
    spi::{Capabilities, CommandOutcome, Driver, DriverCommand, EventSink, MonitorResult},
};

/// Bytes written in one go at most.
const WRITE_CHUNK: usize = 256 * 1024;

/// Requests queued for the link task.
const OP_QUEUE: usize = 1_024;

/// What the application asks of the link task.
enum Op {
    Monitor(Vec<DeviceId>, oneshot::Sender<Vec<MonitorResult>>),
    Unmonitor(Vec<DeviceId>, oneshot::Sender<Vec<MonitorResult>>),
    Execute(
        DriverCommand,
        oneshot::Sender<Result<CommandOutcome, Error>>,
    ),
}

/// Link timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The link is dead after this long without a received byte.
    pub read_idle: Duration,
    /// A keep-alive goes out after this long without a sent byte.
    pub keep_alive: Duration,
    /// Writing one frame may take at most this long.
    pub write_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            read_idle: Duration::from_secs(90),
            keep_alive: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// The CSTA driver (BER or XML). See the [module docs](self).
pub struct CstaDriver {
    link: LinkId,
    url: LinkUrl,
    config: client::Config,
    timing: Timing,
    backoff: BackoffConfig,
    tx: mpsc::Sender<Op>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Op>>,
    malformed: Arc<AtomicU64>,
}

impl std::fmt::Debug for CstaDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CstaDriver")
            .field("link", &self.link)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Whether `n` is 1, 10, 100, …
fn power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

fn bad(name: &str) -> Error {
    Error::Config(UrlError::BadOption(name.to_owned()))
}

impl CstaDriver {
    /// A driver for a `csta-ber+…` or `csta-xml+…` URL.
    pub fn new(link: LinkId, url: &LinkUrl) -> Result<Self, Error> {
        let credentials = url.user.as_ref().map(|u| Credentials {
            user: u.clone(),
            password: url.password.clone().unwrap_or_default(),
        });
        let wire = match url.protocol {
            Protocol::CstaBer => Wire::Ber {
                framing: url.framing()?.unwrap_or(Framing::Len2),
                associate: !matches!(url.option("acse"), Some("false" | "0" | "no")),
                credentials,
            },
            Protocol::CstaXml => {
                let mut cfg = xml_session::Config::default();
                if let Some(app) = url.option("application") {
                    app.clone_into(&mut cfg.application_id);
                }
                if let Some(c) = credentials {
                    cfg.login = Login::Avaya {
                        user: c.user,
                        password: c.password,
                        cleanup_delay: 60,
                    };
                }
                cfg.response_timeout =
                    url.duration_option("request_timeout", cfg.response_timeout)?;
                cfg.requested_duration =
                    url.duration_option("session_duration", cfg.requested_duration)?;
                Wire::Xml(cfg)
            }
            _ => return Err(Error::Unsupported),
        };
        let mut config = client::Config::new(link.clone(), wire);
        let timeout = url.duration_option("request_timeout", Duration::from_secs(10))?;
        config.request_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        if let Some(w) = url.option("window") {
            config.monitor_window = w
                .parse::<usize>()
                .ok()
                .filter(|w| (1..=10_000).contains(w))
                .ok_or_else(|| bad("window"))?;
        }
        let timing = Timing {
            read_idle: url.duration_option("read_idle", Duration::from_secs(90))?,
            keep_alive: url.duration_option("keep_alive", Duration::from_secs(30))?,
            write_timeout: Duration::from_secs(30),
        };
        let (tx, rx) = mpsc::channel(OP_QUEUE);
        Ok(Self {
            link,
            url: url.clone(),
            config,
            timing,
            backoff: BackoffConfig::default(),
            tx,
            rx: tokio::sync::Mutex::new(rx),
            malformed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many frames or messages from the PBX could not be read (each was skipped).
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// The counter behind [`CstaDriver::malformed`], to read after the driver was handed to
    /// a [`Cti`](crate::Cti).
    pub fn malformed_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.malformed)
    }

    /// Sets the reconnect backoff (tests use short delays).
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the link timing.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Sets how many monitor and snapshot requests may be in flight at once.
    pub fn with_monitor_window(mut self, window: usize) -> Self {
        self.config.monitor_window = window.max(1);
        self
    }

    async fn op<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Op) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        rx.await.ok()
    }
}

/// Converts a client error to the API's error; `command` names the call for
/// [`Error::InvalidCall`].
fn error_of(e: ClientError, command: Option<&Command>) -> Error {
    match e {
        ClientError::NotPermitted => Error::NotPermitted,
        ClientError::InvalidDevice(d) => Error::InvalidDevice(d),
        ClientError::InvalidCall => match command.and_then(first_call) {
            Some(c) => Error::InvalidCall(c),
            None => Error::NotPermitted,
        },
        ClientError::MonitorLimit => Error::MonitorLimit,
        ClientError::Pbx { code, name } => Error::Pbx(PbxCause { code, name }),
        ClientError::Timeout => Error::Timeout,
        ClientError::LinkDown => Error::LinkDown,
        ClientError::Unsupported | ClientError::Encode(_) => Error::Unsupported,
        _ => Error::NotPermitted,
    }
}

fn first_call(c: &Command) -> Option<hookflash_core::model::CallId> {
    match c {
        Command::Answer { call, .. }
        | Command::Clear { call, .. }
        | Command::ClearCall { call }
        | Command::Hold { call, .. }
        | Command::Retrieve { call, .. }
        | Command::Consult { call, .. }
        | Command::SingleStepTransfer { call, .. }
        | Command::SingleStepConference { call, .. }
        | Command::Deflect { call, .. }
        | Command::SendDigits { call, .. }
        | Command::AttachData { call, .. } => Some(*call),
        Command::Transfer { held, .. }
        | Command::Conference { held, .. }
        | Command::Alternate { held, .. }
        | Command::Reconnect { held, .. } => Some(*held),
        _ => None,
    }
}

/// A batch of per-device results being collected.
struct Batch {
    results: Vec<Option<MonitorResult>>,
    missing: usize,
    reply: Option<oneshot::Sender<Vec<MonitorResult>>>,
}

/// The link task's bookkeeping of requests the application is waiting for.
#[derive(Default)]
struct Waiting {
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    monitors: HashMap<RequestId, (u64, usize)>,
    commands: HashMap<RequestId, (Command, oneshot::Sender<Result<CommandOutcome, Error>>)>,
}

impl Waiting {
    fn batch(&mut self, n: usize, reply: oneshot::Sender<Vec<MonitorResult>>) -> u64 {
        self.next_batch += 1;
        let id = self.next_batch;
        self.batches.insert(
            id,
            Batch {
                results: (0..n).map(|_| None).collect(),
                missing: n,
                reply: Some(reply),
            },
        );
        if n == 0 {
            self.finish(id);
        }
        id
    }

    fn resolve(&mut self, request: RequestId, result: MonitorResult) {
        let Some((batch, index)) = self.monitors.remove(&request) else {
            return;
        };
        let done = match self.batches.get_mut(&batch) {
            Some(b) => {
                if let Some(slot) = b.results.get_mut(index)
                    && slot.is_none()
                {
                    *slot = Some(result);
                    b.missing = b.missing.saturating_sub(1);
                }
                b.missing == 0
            }
            None => false,
        };
        if done {
            self.finish(batch);
        }
    }

    fn finish(&mut self, batch: u64) {
        if let Some(mut b) = self.batches.remove(&batch)
            && let Some(reply) = b.reply.take()
        {
            let results = b
                .results
                .into_iter()
                .map(|r| r.unwrap_or(Err(Error::LinkDown)))
                .collect();
            let _ = reply.send(results);
        }
    }
}

/// How one connection ended.
enum End {
    /// Reconnect.
    Retry,
    /// The sink closed: stop.
    Closed,
    /// The PBX refused the login: stop with this error.
    Fatal(Error),
}

struct Task<'a> {
    link: &'a LinkId,
    client: Client,
    malformed: &'a AtomicU64,
    clock: Clock,
    sink: &'a EventSink,
    waiting: Waiting,
}

impl Task<'_> {
    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn on_op(&mut self, op: Op) {
        let now = self.now();
        match op {
            Op::Monitor(devices, reply) => {
                let batch = self.waiting.batch(devices.len(), reply);
                for (i, d) in devices.into_iter().enumerate() {
                    let r = self.client.monitor(now, d);
                    self.waiting.monitors.insert(r, (batch, i));
                }
            }
            Op::Unmonitor(devices, reply) => {
                let batch = self.waiting.batch(devices.len(), reply);
                for (i, d) in devices.into_iter().enumerate() {
                    let r = self.client.unmonitor(now, d);
                    self.waiting.monitors.insert(r, (batch, i));
                }
            }
            Op::Execute(cmd, reply) => {
                let r = self.client.execute(now, &cmd.command, &cmd.native);
                self.waiting.commands.insert(r, (cmd.command, reply));
            }
        }
    }

    /// Hands the client's events on; `Some` when the connection must end.
    async fn drain(&mut self) -> Option<End> {
        let mut end = None;
        while let Some(ev) = self.client.poll_event() {
            match ev {
                ClientEvent::Driver(d) => {
                    let closed = self.sink.send(d).await.is_err();
                    if closed {
                        return Some(End::Closed);
                    }
                }
                ClientEvent::StampedDriver { event, pbx_time_us } => {
                    let closed = self.sink.send_stamped(event, pbx_time_us).await.is_err();
                    if closed {
                        return Some(End::Closed);
                    }
                }
                ClientEvent::Monitored {
                    request, result, ..
                }
                | ClientEvent::Unmonitored {
                    request, result, ..
                } => {
                    self.waiting
                        .resolve(request, result.map_err(|e| error_of(e, None)));
                }
                ClientEvent::Executed { request, result } => {
                    if let Some((cmd, reply)) = self.waiting.commands.remove(&request) {
                        let r = result
                            .map(|call| match call {
                                Some(c) => CommandOutcome::with_call(c),
                                None => CommandOutcome::default(),
                            })
                            .map_err(|e| error_of(e, Some(&cmd)));
                        let _ = reply.send(r);
                    }
                }
                ClientEvent::Refused { reason } => {
                    end = Some(End::Fatal(Error::LoginRefused {
                        reason: reason.to_string(),
                    }));
                }
                ClientEvent::Lost if end.is_none() => end = Some(End::Retry),
                ClientEvent::Malformed { error } => {
                    let n = self.malformed.fetch_add(1, Ordering::Relaxed) + 1;
                    // Logged at the 1st, 10th, 100th… so a hostile PBX cannot flood the log.
                    if power_of_ten(n) {
                        eprintln!(
                            "hookflash: link {}: a malformed frame was skipped ({error}); {n} so far",
                            self.link
                        );
                    }
                }
                _ => {}
            }
        }
        end
    }

    /// Runs one connection until it fails.
    async fn connection(
        &mut self,
        mut t: Transport,
        timing: Timing,
        ops: &mut mpsc::Receiver<Op>,
    ) -> End {
        let now = self.now();
        self.client.handle_connect(now);
        let mut last_read = Instant::now();
        let mut last_write = Instant::now();
        let mut buf = vec![0u8; 16 * 1024];
        let mut ops_open = true;
        let end = loop {
            // Everything queued goes out in one write (pipelined monitors are thousands of
            // small frames).
            let mut out = Vec::new();
            while let Some(frame) = self.client.poll_transmit() {
                out.extend_from_slice(&frame);
                if out.len() >= WRITE_CHUNK {
                    break;
                }
            }
            if !out.is_empty() {
                let written = tokio::time::timeout(timing.write_timeout, async {
                    t.write_all(&out).await?;
                    t.flush().await
                })
                .await;
                match written {
                    Ok(Ok(())) => last_write = Instant::now(),
                    _ => break End::Retry,
                }
                if out.len() >= WRITE_CHUNK {
                    continue;
                }
            }
            if let Some(end) = self.drain().await {
                break end;
            }
            // Events may have queued output (none do today), so loop back if there is any.
            let idle_at = last_read + timing.read_idle;
            let keep_at = last_write + timing.keep_alive;
            let timer_at = self
                .client
                .poll_timeout()
                .map(|ms| self.clock.instant_at(ms));
            let deadline = [Some(idle_at), Some(keep_at), timer_at]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(idle_at);
            tokio::select! {
                r = t.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break End::Retry,
                    Ok(n) => {
                        last_read = Instant::now();
                        let now = self.now();
                        self.client.handle_input(now, buf.get(..n).unwrap_or_default());
                    }
                },
                op = ops.recv(), if ops_open => match op {
                    Some(op) => self.on_op(op),
                    None => ops_open = false,
                },
                () = tokio::time::sleep_until(deadline) => {
                    let at = Instant::now();
                    if at >= idle_at {
                        break End::Retry;
                    }
                    let now = self.now();
                    if at >= keep_at {
                        self.client.handle_keep_alive(now);
                        last_write = at;
                    }
                    if self.client.poll_timeout().is_some_and(|d| now >= d) {
                        self.client.handle_timeout(now);
                    }
                }
            }
        };
        let _ = t.shutdown().await;
        end
    }

    /// Waits `delay` (or for the connect future) while answering the application.
    async fn wait_for<F: Future>(
        &mut self,
        fut: F,
        ops: &mut mpsc::Receiver<Op>,
    ) -> Result<F::Output, End> {
        tokio::pin!(fut);
        let mut ops_open = true;
        loop {
            tokio::select! {
                r = &mut fut => return Ok(r),
                op = ops.recv(), if ops_open => match op {
                    Some(op) => {
                        self.on_op(op);
                        if let Some(end) = self.drain().await {
                            return Err(end);
                        }
                    }
                    None => ops_open = false,
                },
            }
        }
    }
}

#[async_trait]
impl Driver for CstaDriver {
    fn link(&self) -> &LinkId {
        &self.link
    }

    fn capabilities(&self) -> Capabilities {
        let verbs = Verbs::NAMES
            .iter()
            .fold(Verbs(0), |a, (v, _)| Verbs(a.0 | v.0));
        Capabilities {
            verbs,
            flags: Capabilities::MONITOR
                | Capabilities::SNAPSHOT
                | Capabilities::MAKE_CALL
                | Capabilities::AGENT_CONTROL
                | Capabilities::AGENT_EVENTS
                | Capabilities::CALL_EVENTS,
        }
    }

    async fn run(&self, sink: EventSink) -> Result<(), Error> {
        let mut ops = self.rx.lock().await;
        let mut task = Task {
            client: Client::new(self.config.clone()),
            link: &self.link,
            malformed: &self.malformed,
            clock: Clock::with_origin(crate::spi::now().0),
            sink: &sink,
            waiting: Waiting::default(),
        };
        let mut backoff = Backoff::new(self.backoff);
        // The link starts down: the core hears it before anything else.
        task.client.handle_disconnect(task.now());
        if let Some(End::Closed) = task.drain().await {
            return Ok(());
        }
        loop {
            if sink.is_closed() {
                return Ok(());
            }
            let connected = match task.wait_for(transport::connect(&self.url), &mut ops).await {
                Ok(c) => c,
                Err(End::Fatal(e)) => return Err(e),
                Err(End::Closed) => return Ok(()),
                Err(End::Retry) => continue,
            };
            let end = match connected {
                Ok(t) => {
                    backoff.reset();
                    task.connection(t, self.timing, &mut ops).await
                }
                Err(e) if !e.is_recoverable() => return Err(Error::Link(e)),
                Err(_) => End::Retry,
            };
            task.client.handle_disconnect(task.now());
            let after = task.drain().await;
            match (end, after) {
                (End::Closed, _) | (_, Some(End::Closed)) => return Ok(()),
                (End::Fatal(e), _) | (_, Some(End::Fatal(e))) => return Err(e),
                _ => {}
            }
            match task
                .wait_for(tokio::time::sleep(backoff.next_delay()), &mut ops)
                .await
            {
                Ok(()) => {}
                Err(End::Fatal(e)) => return Err(e),
                Err(End::Closed) => return Ok(()),
                Err(End::Retry) => {}
            }
        }
    }

    async fn monitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let devs = devices.to_vec();
        self.op(|r| Op::Monitor(devs, r))
            .await
            .unwrap_or_else(|| devices.iter().map(|_| Err(Error::LinkDown)).collect())
    }

    async fn unmonitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let devs = devices.to_vec();
        self.op(|r| Op::Unmonitor(devs, r))
            .await
            .unwrap_or_else(|| devices.iter().map(|_| Err(Error::LinkDown)).collect())
    }

    async fn execute(&self, command: DriverCommand) -> Result<CommandOutcome, Error> {
        if !self.capabilities().allows(&command.command) {
            return Err(Error::Unsupported);
        }
        self.op(|r| Op::Execute(command, r))
            .await
            .unwrap_or(Err(Error::LinkDown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> LinkUrl {
        s.parse().expect("url")
    }

    #[test]
    fn urls_become_client_settings() {
        let d = CstaDriver::new(
            "pbx".into(),
            &url("csta-ber+tcp://cti:s%40cret@pbx:7001?framing=hipath&window=32&request_timeout=2.5&read_idle=40&keep_alive=15"),
        )
        .unwrap();
        assert_eq!(
            d.config.wire,
            Wire::Ber {
                framing: Framing::HiPath,
                associate: true,
                credentials: Some(Credentials {
                    user: "cti".into(),
                    password: "s@cret".into()
                }),
            }
        );
        assert_eq!(d.config.monitor_window, 32);
        assert_eq!(d.config.request_timeout_ms, 2_500);
        assert_eq!(d.timing.read_idle, Duration::from_secs(40));
        assert_eq!(d.timing.keep_alive, Duration::from_secs(15));
        // BER without association, default framing.
        let d = CstaDriver::new("pbx".into(), &url("csta-ber+tcp://pbx:7001?acse=false")).unwrap();
        assert!(matches!(
            d.config.wire,
            Wire::Ber {
                framing: Framing::Len2,
                associate: false,
                credentials: None
            }
        ));
        // XML: credentials as the login block, the session duration asked for.
        let d = CstaDriver::new(
            "pbx".into(),
            &url("csta-xml+tls://u:p@pbx:4722?session_duration=600&application=crm"),
        )
        .unwrap();
        match &d.config.wire {
            Wire::Xml(c) => {
                assert_eq!(c.requested_duration, Duration::from_secs(600));
                assert_eq!(c.application_id, "crm");
                assert!(
                    matches!(&c.login, Login::Avaya { user, password, .. } if user == "u" && password == "p")
                );
            }
            w => panic!("{w:?}"),
        }
    }

    #[test]
    fn bad_options_are_configuration_errors() {
        for bad in [
            "csta-ber+tcp://pbx:7001?window=0",
            "csta-ber+tcp://pbx:7001?window=many",
            "csta-ber+tcp://pbx:7001?request_timeout=-1",
            "csta-xml+tcp://pbx:4721?session_duration=0",
        ] {
            let r = CstaDriver::new("pbx".into(), &url(bad));
            assert!(matches!(r, Err(Error::Config(_))), "{bad}: {r:?}");
        }
        assert!(matches!(
            CstaDriver::new("pbx".into(), &url("ami+tcp://pbx:5038")),
            Err(Error::Unsupported)
        ));
    }

    #[test]
    fn client_errors_map_to_api_errors() {
        use hookflash_core::model::CallId;
        let hold = Command::Hold {
            call: CallId(4),
            device: "100".into(),
        };
        assert!(matches!(
            error_of(ClientError::InvalidCall, Some(&hold)),
            Error::InvalidCall(CallId(4))
        ));
        assert!(matches!(
            error_of(ClientError::MonitorLimit, None),
            Error::MonitorLimit
        ));
        assert!(matches!(
            error_of(ClientError::InvalidDevice("9".into()), None),
            Error::InvalidDevice(d) if d.as_str() == "9"
        ));
        assert!(matches!(
            error_of(
                ClientError::Pbx {
                    code: Some(2),
                    name: "requestIncompatibleWithObject".into()
                },
                None
            ),
            Error::Pbx(PbxCause { code: Some(2), .. })
        ));
        assert!(matches!(
            error_of(ClientError::Timeout, None),
            Error::Timeout
        ));
        assert!(matches!(
            error_of(ClientError::LinkDown, None),
            Error::LinkDown
        ));
        assert!(matches!(
            error_of(ClientError::NotPermitted, None),
            Error::NotPermitted
        ));
    }
}
