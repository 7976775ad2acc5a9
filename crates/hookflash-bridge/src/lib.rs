//! The Hookflash bridge daemon: PBX links in; WebSocket and SSE event streams, REST commands
//! and queries, signed webhooks and a web agent desktop out.
//!
//! - [`config`]: the TOML file, validated before anything starts (errors name file, line, key).
//! - [`backend`]: the seam to the CTI layer ([`backend::Backend`]); [`backend::CtiBackend`]
//!   puts a [`hookflash::Cti`] behind it.
//! - [`journal`]: the SQLite journal of events, call records and the webhook outbox.
//! - [`hub`]: numbers, journals and publishes events; feeds resumable streams.
//! - [`api`]: the HTTP routes; [`auth`]: tokens and scopes; [`webhook`]: signed delivery.
//!
//! ```no_run
//! # async fn run() -> Result<(), hookflash_bridge::BridgeError> {
//! let cfg = hookflash_bridge::config::Config::load("bridge.toml".as_ref())?;
//! let backend = hookflash_bridge::open_links(&cfg)?;
//! let bridge = hookflash_bridge::Bridge::start(&cfg, std::sync::Arc::new(backend)).await?;
//! println!("listening on {}", bridge.local_addr());
//! bridge.wait().await
//! # }
//! ```

pub mod api;
pub mod auth;
pub mod backend;
pub mod config;
mod error;
pub mod hub;
pub mod journal;
pub mod metrics;
pub mod redact;
pub mod tls;
pub mod web;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::{BridgeError, ConfigError};

use hookflash::{Cti, CtiBuilder};

use crate::backend::{Backend, CtiBackend};
use crate::config::Config;
use crate::hub::Hub;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::redact::{Redactor, log};

/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A Cti builder with the configured links and dial plan.
pub fn cti_builder(cfg: &Config) -> Result<CtiBuilder, BridgeError> {
    let mut b = Cti::builder().engine_config(hookflash_core::engine::Config {
        dial_plan: cfg.dial_plan.clone(),
        service_level_ms: cfg.service_level_ms,
        ..Default::default()
    });
    for l in &cfg.links {
        b = b.link(l.name.as_str(), &l.url)?;
    }
    Ok(b)
}

/// Opens the configured links (a Cti from [`cti_builder`]), continuing the journal's sequence
/// numbers, and monitors the configured devices of each link (in the background; failures are
/// logged). Must run inside a tokio runtime.
pub fn open_links(cfg: &Config) -> Result<CtiBackend, BridgeError> {
    open_links_with(cfg, cti_builder(cfg)?)
}

/// [`open_links`] with a builder of the caller's (extra drivers, a customer directory, ...).
pub fn open_links_with(cfg: &Config, builder: CtiBuilder) -> Result<CtiBackend, BridgeError> {
    let last = Journal::open(cfg.storage.path.as_deref())?.last_seq()?;
    let backend = CtiBackend::build(builder, last)?;
    for l in cfg.links.iter().filter(|l| !l.monitor.is_empty()) {
        let cti = backend.cti().clone();
        let link = l.name.clone();
        let devices = l.monitor.clone();
        let redact = Redactor {
            enabled: cfg.log.redact,
        };
        tokio::spawn(monitor_link(cti, link, devices, redact));
    }
    Ok(backend)
}

/// Monitors `devices` on `link` once the link is up, retrying refusals with backoff (the
/// driver keeps what it monitors across reconnects).
async fn monitor_link(cti: Cti, link: String, mut devices: Vec<String>, redact: Redactor) {
    let mut delay = Duration::from_millis(500);
    loop {
        while cti.link_state(&link) != hookflash_core::model::LinkState::Up {
            if cti.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let results = cti.monitor_on(&link, &devices).await;
        let mut failed = Vec::new();
        let mut last_error = None;
        for (d, r) in devices.iter().zip(results) {
            if let Err(e) = r {
                failed.push(d.clone());
                last_error = Some(e);
            }
        }
        let Some(e) = last_error else { return };
        log(&redact.text(&format!(
            "link {link}: {} of {} devices not monitored yet ({e}); retrying in {} s",
            failed.len(),
            devices.len(),
            delay.as_secs_f32()
        )));
        devices = failed;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}

/// A running bridge.
#[derive(Debug)]
pub struct Bridge {
    addr: SocketAddr,
    hub: Arc<Hub>,
    server: JoinHandle<Result<(), std::io::Error>>,
    tasks: Vec<JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Bridge {
    /// Opens the journal, starts the hub over `backend`, the webhook worker and retention,
    /// and listens.
    pub async fn start(cfg: &Config, backend: Arc<dyn Backend>) -> Result<Self, BridgeError> {
        let journal = Journal::open(cfg.storage.path.as_deref())?;
        journal.set_max_events(cfg.storage.max_events);
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(cfg, journal.clone(), backend, metrics.clone())?;
        let redact = Redactor {
            enabled: cfg.log.redact,
        };
        let tls = match &cfg.http.tls {
            Some(t) => Some(tls::server_config_with_clients(
                &t.cert,
                &t.key,
                t.client_ca.as_deref(),
            )?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(cfg.http.listen).await?;
        let addr = listener.local_addr()?;

        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(hub.clone().run()));
        tasks.push(tokio::spawn(webhook::run(
            journal.clone(),
            cfg.webhooks.clone(),
            hub.outbox_notify.clone(),
            metrics.clone(),
        )));
        let retention_ms = u64::from(cfg.storage.retention_days) * 86_400_000;
        let max_events = cfg.storage.max_events;
        let j = journal.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let cutoff = hookflash::spi::now().0.saturating_sub(retention_ms);
                let j2 = j.clone();
                if let Ok(Err(e)) =
                    tokio::task::spawn_blocking(move || j2.prune(cutoff, max_events)).await
                {
                    log(&format!("retention failed: {e}"));
                }
                tokio::time::sleep(PRUNE_EVERY).await;
            }
        }));

        let state = api::AppState {
            hub: hub.clone(),
            tokens: Arc::new(auth::Tokens::new(cfg)),
            max_message_bytes: cfg.http.max_message_bytes,
            redact,
        };
        let app = api::router(state, cfg.http.max_body_bytes);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let server = match tls {
            Some(tls_cfg) => {
                let l = tls::TlsListener::new(listener, tls_cfg)?;
                tokio::spawn(
                    async move { axum::serve(l, app).with_graceful_shutdown(shutdown).await },
                )
            }
            None => tokio::spawn(async move {
                // Events are small WebSocket frames written as they happen: without TCP_NODELAY,
                // Nagle holds a frame back until the client's delayed ACK (40 ms on Linux).
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }),
        };
        Ok(Self {
            addr,
            hub,
            server,
            tasks,
            stop: Some(stop),
        })
    }

    /// Where the bridge listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hub (journal, metrics, last sequence number).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Serves until the server stops.
    pub async fn wait(mut self) -> Result<(), BridgeError> {
        let r = (&mut self.server).await;
        self.stop_tasks();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(BridgeError::Stopped),
        }
    }

    /// Stops serving (open streams are closed) and stops the background tasks.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.stop_tasks();
        self.server.abort();
        let _ = (&mut self.server).await;
    }

    fn stop_tasks(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop_tasks();
        self.server.abort();
    }
}
