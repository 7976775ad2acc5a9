//! Shared plumbing of the Hookflash examples: the command line every example takes, and a
//! [`Cti`] connected to a link URL or, by default, to a simulated PBX started in-process.
//!
//! Each example is a binary in `src/bin/`:
//!
//! - `screen_pop` — pops with a CSV customer directory;
//! - `click_to_dial` — makes a call and follows it;
//! - `agent_bar` — an agent's state and calls in the terminal, commands from stdin;
//! - `wallboard` — queue statistics, refreshing.
//!
//! ```text
//! cargo run -p hookflash-examples --bin screen_pop                       # against a simulator
//! cargo run -p hookflash-examples --bin screen_pop -- --link csta-xml+tcp://pbx:4721 --device 2001
//! ```

use std::time::Duration;

use hookflash::{Cti, CtiBuilder, Error};
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};

/// The options every example takes.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkArgs {
    /// The PBX link URL (`csta-xml+tcp://pbx:4721`, `ami+tcp://user:secret@pbx:5038`, …).
    /// Without one, a simulated PBX is started in-process.
    #[arg(long)]
    pub link: Option<String>,
    /// The devices to monitor (with `--link`; against the simulator, all of its devices).
    #[arg(long = "device")]
    pub devices: Vec<String>,
    /// Stop after this many events (or pops, or refreshes).
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub seconds: Option<u64>,
    /// The simulator's speed: simulated milliseconds per real millisecond.
    #[arg(long, default_value_t = 1.0)]
    pub sim_speed: f64,
    /// The simulator's calls per minute (simulated time).
    #[arg(long, default_value_t = 60.0)]
    pub sim_calls_per_minute: f64,
    /// The simulator's random seed.
    #[arg(long, default_value_t = 1)]
    pub sim_seed: u64,
}

/// Why an example could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The API refused (a bad URL, a driver not compiled in, …).
    Api(Error),
    /// The simulator could not start.
    Sim(hookflash_sim::net::SimServerError),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api(e) => write!(f, "{e}"),
            Self::Sim(e) => write!(f, "simulator: {e}"),
        }
    }
}

impl std::error::Error for SetupError {}

impl From<Error> for SetupError {
    fn from(e: Error) -> Self {
        Self::Api(e)
    }
}

/// A connected [`Cti`], and the simulator behind it when one was started.
pub struct Setup {
    /// The handle.
    pub cti: Cti,
    /// The simulator, when no link URL was given.
    pub sim: Option<SimServer>,
    /// The devices monitored.
    pub devices: Vec<String>,
    /// The simulator's agents (empty with `--link`).
    pub agents: Vec<String>,
    /// Plain extensions to call from and to: the simulator's, or the `--device`s.
    pub extensions: Vec<String>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("cti", &self.cti)
            .field("sim", &self.sim.as_ref().map(SimServer::local_addr))
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// Connects as `args` say, with `configure` applied to the builder (a directory, …),
    /// and monitors the devices. Waits up to 10 s for the link to come up.
    pub async fn connect(
        args: &LinkArgs,
        configure: impl FnOnce(CtiBuilder) -> CtiBuilder,
    ) -> Result<Self, SetupError> {
        let (url, sim, devices, agents) = match &args.link {
            Some(url) => (url.clone(), None, args.devices.clone(), Vec::new()),
            None => {
                let sim_cfg = SimConfig {
                    seed: args.sim_seed,
                    calls_per_minute: args.sim_calls_per_minute,
                    agents: 6,
                    queues: 2,
                    extensions: 4,
                    ..SimConfig::default()
                };
                let devices = hookflash_sim::Engine::new(sim_cfg.clone()).device_numbers();
                let agents = devices
                    .iter()
                    .filter(|d| d.starts_with('3') && d.len() == 6)
                    .map(|d| format!("A{d}"))
                    .collect();
                let mut cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim_cfg);
                cfg.time_scale = args.sim_speed.max(0.001);
                let server = SimServer::start(cfg).await.map_err(SetupError::Sim)?;
                let addr = server
                    .local_addr()
                    .ok_or(SetupError::Api(Error::LinkDown))?;
                let url = format!("csta-xml+tcp://{addr}");
                (url, Some(server), devices, agents)
            }
        };
        let cti = configure(Cti::builder().link("pbx", &url)?).build()?;
        cti.wait_up(Duration::from_secs(10)).await?;
        for (d, r) in devices.iter().zip(cti.monitor(&devices).await) {
            if let Err(e) = r {
                eprintln!("monitor {d}: {e}");
            }
        }
        // The simulator numbers extensions from 200000, agents' devices from 300000.
        let extensions = if sim.is_some() {
            devices
                .iter()
                .filter(|d| d.len() == 6 && d.starts_with('2'))
                .cloned()
                .collect()
        } else {
            devices.clone()
        };
        Ok(Self {
            cti,
            sim,
            devices,
            agents,
            extensions,
        })
    }

    /// Stops the handle and the simulator.
    pub async fn shutdown(self) {
        self.cti.shutdown().await;
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}

/// A deadline from `--seconds` (far away without one).
pub fn deadline(args: &LinkArgs) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(args.seconds.unwrap_or(365 * 24 * 3600))
}

/// A number for display: E.164 when normalized, else raw, else `unknown`.
pub fn show_number(n: Option<&hookflash::core::model::Number>) -> String {
    match n {
        Some(n) => n.e164.clone().unwrap_or_else(|| n.raw.clone()),
        None => "unknown".to_owned(),
    }
}
