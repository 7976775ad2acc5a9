//! `hookflash demo`: the simulated PBX on a loopback CSTA XML link, the bridge and the web
//! page, with one command and no configuration file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use hookflash_bridge::Bridge;
use hookflash_bridge::config::{AgentEntry, Config, Link, Scope, Token};
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};

/// The demo's arguments.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where the bridge (API and web page) listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// How many agents the simulated PBX has.
    #[arg(long, default_value_t = 8)]
    agents: u32,
    /// Generated calls per minute.
    #[arg(long, default_value_t = 6.0)]
    rate: f64,
    /// The simulation's seed (same seed, same calls).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The admin token (random when not given).
    #[arg(long)]
    token: Option<String>,
    /// Write the simulated PBX's ground-truth log (JSON lines) to this file.
    #[arg(long)]
    truth: Option<PathBuf>,
}

/// A random token: 32 hex digits.
fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// The simulator's configuration for the demo: a small contact center.
fn sim_config(args: &DemoArgs) -> SimConfig {
    let agents = args.agents.clamp(1, 500);
    SimConfig {
        seed: args.seed,
        start_epoch_secs: i64::try_from(hookflash::spi::now().0 / 1000).unwrap_or(0),
        agents,
        queues: (agents / 4).clamp(1, 8),
        extensions: 4,
        calls_per_minute: args.rate.clamp(0.0, 10_000.0),
        ring_ms: 6_000,
        talk_ms: 45_000,
        acw_ms: 10_000,
        truth: true,
        ..SimConfig::default()
    }
}

/// The bridge's configuration for the demo: one link, every simulated device monitored.
fn bridge_config(
    args: &DemoArgs,
    sim: &SimConfig,
    pbx: SocketAddr,
    token: &str,
    agent_token: &str,
) -> Config {
    let mut cfg = Config::default();
    cfg.http.listen = args.http;
    let mut monitor = Vec::new();
    for i in 0..sim.agents {
        let device = (300_000 + i).to_string();
        cfg.agents.push(AgentEntry {
            id: format!("A{device}"),
            devices: vec![device.clone()],
        });
        monitor.push(device);
    }
    for i in 0..sim.extensions {
        monitor.push((200_000 + i).to_string());
    }
    for i in 0..sim.queues {
        monitor.push((6_000 + i).to_string());
    }
    cfg.links.push(Link {
        name: "sim".into(),
        url: format!("csta-xml+tcp://{pbx}"),
        monitor,
    });
    cfg.tokens.push(Token {
        name: "admin".into(),
        token: token.to_string(),
        scope: Scope::Admin,
        agent: None,
        devices: Vec::new(),
    });
    // One token for the first agent, to show the desktop as an agent sees it.
    cfg.tokens.push(Token {
        name: "agent".into(),
        token: agent_token.to_string(),
        scope: Scope::Agent,
        agent: Some("A300000".into()),
        devices: vec!["300000".into()],
    });
    cfg
}

/// Runs the demo until Ctrl-C.
pub(crate) fn demo(args: &DemoArgs) -> Result<bool, String> {
    let token = match &args.token {
        Some(t) if t.trim().is_empty() => return Err("--token must not be empty".into()),
        Some(t) => t.clone(),
        None => random_token(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let sim_cfg = sim_config(args);
        let mut server_cfg = SimServerConfig::new(FaceProtocol::CstaXml, sim_cfg.clone());
        server_cfg.truth_file = args.truth.clone();
        let sim = SimServer::start(server_cfg)
            .await
            .map_err(|e| format!("cannot start the simulated PBX: {e}"))?;
        let pbx = sim
            .local_addr()
            .ok_or("the simulated PBX has no TCP address")?;
        let agent_token = random_token();
        let cfg = bridge_config(args, &sim_cfg, pbx, &token, &agent_token);
        let backend = hookflash_bridge::open_links(&cfg).map_err(|e| e.to_string())?;
        let bridge = Bridge::start(&cfg, Arc::new(backend)).await.map_err(|e| {
            format!(
                "cannot start the bridge on {}: {e} (try --http 127.0.0.1:0 for any free port)",
                args.http
            )
        })?;
        let base = format!("http://{}", bridge.local_addr());
        println!("Hookflash demo: a simulated PBX ({} agents, {} calls/min, seed {}) on a CSTA XML link at {pbx}", sim_cfg.agents, sim_cfg.calls_per_minute, sim_cfg.seed);
        println!();
        println!("  agent desktop  {base}/?token={token}");
        println!("  as A300000     {base}/?token={agent_token}");
        println!("  wallboard      {base}/wallboard?token={token}");
        println!("  events         {base}/v1/events?token={token}  (WebSocket)");
        println!("  API            {base}/v1/openapi.json");
        println!("  admin token    {token}");
        if let Some(t) = &args.truth {
            println!("  truth log      {}", t.display());
        }
        println!();
        println!("Press Ctrl-C to stop.");
        crate::bridge::wait_for_stop().await;
        bridge.shutdown().await;
        sim.shutdown().await;
        Ok(true)
    })
}
