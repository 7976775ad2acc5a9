//! Sans-IO sessions and the tokio runner that drives one over a [`Transport`].
//!
//! A protocol session (CSTA, AMI) is a plain state machine: bytes in, bytes out, timers and
//! events, with time passed in as milliseconds from the [`Clock`]'s origin (so protocol crates
//! need no tokio). [`run`] connects it to a transport; [`supervise`] reconnects
//! with backoff whenever the link goes down for a recoverable reason.

use std::{future::Future, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::Instant,
};

use crate::{LinkError, backoff::Backoff, transport::Transport};

/// The runner's time: milliseconds since an origin, on tokio's clock (so `tokio::time::pause`
/// drives it in tests). Keep one clock for the life of a session, across reconnects.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
    origin_ms: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock reading 0 now.
    pub fn new() -> Self {
        Self::with_origin(0)
    }

    /// A clock reading `origin_ms` now (e.g. milliseconds since the Unix epoch, taken once by
    /// the caller).
    pub fn with_origin(origin_ms: u64) -> Self {
        Self {
            base: Instant::now(),
            origin_ms,
        }
    }

    /// The time now, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        let e = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.origin_ms.saturating_add(e)
    }

    /// The instant a time in milliseconds stands for.
    pub fn instant_at(&self, ms: u64) -> Instant {
        let d = Duration::from_millis(ms.saturating_sub(self.origin_ms));
        self.base
            .checked_add(d)
            .unwrap_or(self.base + Duration::from_secs(86_400 * 365))
    }
}

/// A sans-IO protocol session. Times are milliseconds on the runner's [`Clock`].
pub trait Session {
    /// What the session reports (protocol events, answers).
    type Event;

    /// The link is up (send a login, reset state). Called before any input.
    fn handle_connect(&mut self, now: u64) {
        let _ = now;
    }

    /// Bytes arrived.
    fn handle_input(&mut self, now: u64, data: &[u8]);

    /// The next bytes to send.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;

    /// When [`Session::handle_timeout`] wants to be called.
    fn poll_timeout(&self) -> Option<u64>;

    /// A timer fired.
    fn handle_timeout(&mut self, now: u64);

    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// Nothing was sent for the keep-alive interval: queue a heartbeat if the protocol has one.
    fn handle_keep_alive(&mut self, now: u64) {
        let _ = now;
    }

    /// The link went down: fail requests in flight at once (with `error`).
    fn handle_disconnect(&mut self, now: u64, error: &LinkError) {
        let _ = (now, error);
    }
}

/// Runner settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    /// The link is dead after this long without a received byte.
    pub read_idle: Option<Duration>,
    /// The session's keep-alive hook is called after this long without a sent byte.
    pub keep_alive: Option<Duration>,
    /// Writing one chunk may take at most this long (a peer that stops reading is dead too).
    pub write_timeout: Option<Duration>,
    /// The read buffer size.
    pub read_buf: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            read_idle: Some(Duration::from_secs(90)),
            keep_alive: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            read_buf: 16 * 1024,
        }
    }
}

/// Drives `session` over `transport` until the link fails; returns why (always an error: the
/// link never ends "successfully"). The session's `handle_disconnect` has been called and its
/// events drained into `on_event` by then.
pub async fn run<S: Session>(
    session: &mut S,
    clock: &Clock,
    mut transport: Transport,
    config: &RunConfig,
    on_event: &mut impl FnMut(S::Event),
) -> LinkError {
    let start = Instant::now();
    session.handle_connect(clock.now_ms());
    let mut last_read = start;
    let mut last_write = start;
    let mut buf = vec![0u8; config.read_buf.max(1)];
    let error = loop {
        let mut write_error = None;
        while let Some(out) = session.poll_transmit() {
            let written = match config.write_timeout {
                Some(d) => tokio::time::timeout(d, transport.write_all(&out))
                    .await
                    .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
                None => transport.write_all(&out).await,
            };
            if let Err(e) = written {
                write_error = Some(LinkError::from(e));
                break;
            }
            last_write = Instant::now();
        }
        if let Some(e) = write_error {
            break e;
        }
        if let Err(e) = transport.flush().await {
            break e.into();
        }
        while let Some(ev) = session.poll_event() {
            on_event(ev);
        }
        let idle_at = config.read_idle.map(|d| last_read + d);
        let keep_alive_at = config.keep_alive.map(|d| last_write + d);
        let timer_at = session.poll_timeout().map(|ms| clock.instant_at(ms));
        let deadline = [idle_at, keep_alive_at, timer_at]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = transport.read(&mut buf) => match r {
                Ok(0) => break LinkError::Disconnected,
                Ok(n) => {
                    last_read = Instant::now();
                    session.handle_input(clock.now_ms(), buf.get(..n).unwrap_or_default());
                }
                Err(e) => break e.into(),
            },
            () = sleep => {
                let now = Instant::now();
                let now_ms = clock.now_ms();
                if let (Some(at), Some(d)) = (idle_at, config.read_idle)
                    && now >= at
                {
                    break LinkError::IdleTimeout(d);
                }
                if keep_alive_at.is_some_and(|at| now >= at) {
                    session.handle_keep_alive(now_ms);
                    // Count the hook as activity, so an idle session is not called in a loop.
                    last_write = now;
                }
                if session.poll_timeout().is_some_and(|at| now_ms >= at) {
                    session.handle_timeout(now_ms);
                }
            }
        }
    };
    session.handle_disconnect(clock.now_ms(), &error);
    while let Some(ev) = session.poll_event() {
        on_event(ev);
    }
    let _ = transport.shutdown().await;
    error
}

/// Keeps a session running: connect (through `connect`), run, and after a recoverable failure
/// wait a backoff delay and connect again. Returns the first unrecoverable error, or the last
/// error once `max_attempts` consecutive connection attempts failed (`None`: try forever).
/// The backoff is reset whenever a connection was up.
pub async fn supervise<S, C, F>(
    session: &mut S,
    clock: &Clock,
    mut connect: C,
    backoff: &mut Backoff,
    config: &RunConfig,
    max_attempts: Option<u32>,
    on_event: &mut impl FnMut(S::Event),
) -> LinkError
where
    S: Session,
    C: FnMut() -> F,
    F: Future<Output = Result<Transport, LinkError>>,
{
    let mut failures = 0u32;
    loop {
        let error = match connect().await {
            Ok(t) => {
                backoff.reset();
                failures = 0;
                run(session, clock, t, config, on_event).await
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                e
            }
        };
        if !error.is_recoverable() || max_attempts.is_some_and(|m| failures >= m) {
            return error;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn clock_counts_milliseconds_from_its_origin() {
        let c = Clock::with_origin(1_000);
        assert_eq!(c.now_ms(), 1_000);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(c.now_ms(), 3_500);
        assert_eq!(
            c.instant_at(4_000) - Instant::now(),
            Duration::from_millis(500)
        );
        // Times before the origin map to the origin; huge ones do not overflow.
        assert!(c.instant_at(0) <= Instant::now());
        let _ = c.instant_at(u64::MAX);
    }
}
