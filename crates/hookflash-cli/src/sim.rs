//! `hookflash sim`: the simulated PBX on a socket (and optionally a pseudo-terminal), speaking
//! CSTA BER, CSTA XML or the Asterisk Manager Interface, with generated traffic and an
//! optional ground-truth file.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use hookflash_csta::framing::Framing;
use hookflash_sim::face::{Credentials, FaceProtocol};
use hookflash_sim::net::{SimServer, SimServerConfig, TlsSetup};
use hookflash_sim::{OutcomeMix, SimConfig};

/// The protocol the simulated PBX speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimProtocol {
    /// CSTA Phase III BER (ECMA-285) with ACSE and ROSE.
    CstaBer,
    /// CSTA XML (ECMA-323) in ECMA-354 sessions, 8-byte header.
    CstaXml,
    /// Asterisk Manager Interface (as Asterisk 16 speaks it; devices are `PJSIP/<number>`).
    Ami,
}

/// BER framings the simulator offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimFraming {
    /// A 2-byte big-endian length before each PDU.
    Len2,
    /// The HiPath header: 0x26, then a 15-bit length with the top bit set.
    Hipath,
}

/// Arguments of `hookflash sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The protocol.
    #[arg(long, value_enum)]
    protocol: SimProtocol,
    /// The TCP address to listen on.
    #[arg(long, default_value = "127.0.0.1:7001")]
    listen: SocketAddr,
    /// TLS on the listener (a self-signed certificate unless --cert and --key are given).
    #[arg(long)]
    tls: bool,
    /// Certificate chain (PEM) for --tls.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) for --tls.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Write the certificate clients must trust (PEM) to this file.
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Also serve one client over a pseudo-terminal (its path is printed).
    #[arg(long)]
    serial: bool,
    /// BER framing.
    #[arg(long, value_enum, default_value = "len2")]
    framing: SimFraming,
    /// Agents (devices 300000…, logged on and ready at start).
    #[arg(long, default_value_t = 20)]
    agents: u32,
    /// ACD groups (6000…).
    #[arg(long, default_value_t = 2)]
    queues: u32,
    /// Plain extensions (200000…).
    #[arg(long, default_value_t = 20)]
    extensions: u32,
    /// Generated calls per minute (0: none).
    #[arg(long, default_value_t = 6.0)]
    rate: f64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run this many seconds, then stop (0: until interrupted).
    #[arg(long, default_value_t = 0)]
    duration: u64,
    /// Append the ground-truth JSON lines (finished calls, agent states) to this file.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// CTI user clients must log in with (with --password).
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// Password clients must log in with (with --user).
    #[arg(long, requires = "user")]
    password: Option<String>,
    /// Simulated time runs this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Monitors the PBX accepts before it answers `monitor limit exceeded`.
    #[arg(long, default_value_t = 20_000)]
    monitor_limit: usize,
    /// Seconds between the PBX's SystemStatus polls (0: none).
    #[arg(long, default_value_t = 30)]
    poll_interval: u64,
    /// Mean seconds between random faults: dropped links, silent polls, restarts (0: none).
    #[arg(long, default_value_t = 0)]
    random_faults: u64,
    /// Weight of parked-and-retrieved calls in the generated mix (the default outcomes weigh
    /// 105 together; 0: none).
    #[arg(long, default_value_t = 0)]
    park: u32,
}

fn config(a: &SimArgs) -> Result<SimServerConfig, String> {
    if !(a.time_scale.is_finite() && a.time_scale > 0.0) {
        return Err("--time-scale must be a positive number".into());
    }
    if !(a.rate.is_finite() && a.rate >= 0.0) {
        return Err("--rate must be zero or a positive number".into());
    }
    // Truth stamps in wall-clock time, so they compare with what a client records.
    let start_epoch_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let sim = SimConfig {
        seed: a.seed,
        start_epoch_secs,
        agents: a.agents,
        queues: a.queues,
        extensions: a.extensions,
        calls_per_minute: a.rate,
        monitor_limit: a.monitor_limit,
        poll_interval_ms: a.poll_interval.saturating_mul(1000),
        random_fault_ms: a.random_faults.saturating_mul(1000),
        truth: true,
        mix: OutcomeMix {
            park: a.park,
            ..OutcomeMix::default()
        },
        ..SimConfig::default()
    };
    let protocol = match a.protocol {
        SimProtocol::CstaXml => FaceProtocol::CstaXml,
        SimProtocol::Ami => FaceProtocol::Ami,
        SimProtocol::CstaBer => FaceProtocol::CstaBer(match a.framing {
            SimFraming::Len2 => Framing::Len2,
            SimFraming::Hipath => Framing::HiPath,
        }),
    };
    let mut cfg = SimServerConfig::new(protocol, sim);
    cfg.listen = Some(a.listen);
    cfg.serial = a.serial;
    cfg.time_scale = a.time_scale;
    cfg.truth_file = a.truth.clone();
    if let (Some(user), Some(password)) = (&a.user, &a.password) {
        cfg.face.credentials = Some(Credentials {
            user: user.clone(),
            password: password.clone(),
        });
    }
    if a.tls {
        cfg.tls = Some(match (&a.cert, &a.key) {
            (Some(c), Some(k)) => TlsSetup::Pem {
                cert: std::fs::read(c).map_err(|e| format!("{}: {e}", c.display()))?,
                key: std::fs::read(k).map_err(|e| format!("{}: {e}", k.display()))?,
            },
            _ => TlsSetup::SelfSigned,
        });
    }
    Ok(cfg)
}

/// Runs the simulated PBX until `--duration` passes or the process is interrupted.
pub(crate) fn sim(a: &SimArgs) -> Result<bool, String> {
    let cfg = config(a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        let server = SimServer::start(cfg).await.map_err(|e| e.to_string())?;
        let mut err = std::io::stderr();
        if let Some(addr) = server.local_addr() {
            let _ = writeln!(
                err,
                "hookflash sim: {:?} on {}{}",
                a.protocol,
                addr,
                if a.tls { " (TLS)" } else { "" }
            );
        }
        if let Some(p) = server.serial_path() {
            let _ = writeln!(err, "hookflash sim: serial line at {}", p.display());
        }
        if let (Some(out), Some(pem)) = (&a.cert_out, server.certificate_pem()) {
            std::fs::write(out, pem).map_err(|e| format!("{}: {e}", out.display()))?;
            let _ = writeln!(err, "hookflash sim: certificate written to {}", out.display());
        }
        let run = async {
            if a.duration == 0 {
                std::future::pending::<()>().await;
            } else {
                tokio::time::sleep(Duration::from_secs(a.duration)).await;
            }
        };
        tokio::select! {
            () = run => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let s = server.control().stats().await;
        let _ = writeln!(
            err,
            "hookflash sim: {} calls offered, {} ended ({} answered, {} abandoned), {} events delivered, {} connections, {} malformed frames",
            s.engine.calls_offered,
            s.engine.calls_ended,
            s.engine.answered,
            s.engine.abandoned,
            s.engine.events_delivered,
            s.connections_accepted,
            s.malformed
        );
        server.shutdown().await;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: SimArgs,
    }

    #[test]
    fn arguments_become_a_server_configuration() {
        let t = T::parse_from([
            "t",
            "--protocol",
            "csta-ber",
            "--framing",
            "hipath",
            "--listen",
            "127.0.0.1:0",
            "--agents",
            "7",
            "--extensions",
            "10000",
            "--rate",
            "12",
            "--user",
            "u",
            "--password",
            "p",
            "--tls",
            "--park",
            "4",
        ]);
        let c = config(&t.a).unwrap();
        assert_eq!(c.face.protocol, FaceProtocol::CstaBer(Framing::HiPath));
        assert_eq!(c.sim.agents, 7);
        assert_eq!(c.sim.extensions, 10_000);
        assert_eq!(c.sim.calls_per_minute, 12.0);
        assert_eq!(
            c.face.credentials.as_ref().map(|c| c.user.as_str()),
            Some("u")
        );
        assert_eq!(c.tls, Some(TlsSetup::SelfSigned));
        assert_eq!(c.sim.mix.park, 4);
        let ami = T::parse_from(["t", "--protocol", "ami", "--listen", "127.0.0.1:5038"]);
        assert_eq!(config(&ami.a).unwrap().face.protocol, FaceProtocol::Ami);
        let bad = T::parse_from(["t", "--protocol", "csta-xml", "--time-scale", "0"]);
        assert!(config(&bad.a).is_err());
    }

    #[test]
    fn a_short_run_serves_and_stops() {
        let t = T::parse_from([
            "t",
            "--protocol",
            "csta-xml",
            "--listen",
            "127.0.0.1:0",
            "--duration",
            "1",
            "--time-scale",
            "60",
            "--rate",
            "60",
        ]);
        assert_eq!(sim(&t.a), Ok(true));
    }
}
