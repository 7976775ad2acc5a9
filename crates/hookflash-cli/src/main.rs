//! The `hookflash` command: the offline protocol analyzer (`decode`, `encode`), benchmarks
//! (`bench`), and — as the product grows — the simulator, the bridge and the demo.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod analyzer;
mod bench;
mod bench_e2e;
mod bench_monitors;
mod bridge;
mod demo;
mod records;
mod sim;
mod tap;

/// Hookflash: CTI middleware between PBXs and CRM applications.
#[derive(Debug, Parser)]
#[command(name = "hookflash", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode PBX link captures to JSON lines, one document per PDU.
    Decode(DecodeArgs),
    /// Encode JSON lines (typed documents, or JER with --jer) to wire bytes.
    Encode(EncodeArgs),
    /// Measure decoding speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the bridge daemon: PBX links in; WebSocket, SSE, REST, webhooks and a web page out.
    Bridge(bridge::BridgeArgs),
    /// Run a simulated PBX, the bridge and the web page on this machine, no configuration needed.
    Demo(demo::DemoArgs),
    /// Run the simulated PBX (CSTA BER, CSTA XML or Asterisk AMI server) with generated traffic.
    Sim(sim::SimArgs),
    /// Connect to a PBX link and print normalized events as JSON lines, live.
    Tap(tap::TapArgs),
}

/// The link protocols the analyzer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// CSTA Phase III, ASN.1 BER (ECMA-285) with ROSE and ACSE.
    CstaBer,
    /// CSTA Phase III, XML (ECMA-323).
    CstaXml,
}

/// What `decode` reads: the CSTA protocols, or AMI and SMDR feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DecodeProtocol {
    /// CSTA Phase III, ASN.1 BER (ECMA-285) with ROSE and ACSE.
    CstaBer,
    /// CSTA Phase III, XML (ECMA-323).
    CstaXml,
    /// Asterisk Manager Interface: one JSON document per message (banner, response, event).
    Ami,
    /// SMDR/CDR call records (`--format`): one JSON document per record.
    Smdr,
}

impl DecodeProtocol {
    /// The CSTA protocol, if it is one.
    fn csta(self) -> Option<Protocol> {
        match self {
            Self::CstaBer => Some(Protocol::CstaBer),
            Self::CstaXml => Some(Protocol::CstaXml),
            Self::Ami | Self::Smdr => None,
        }
    }
}

/// How PDUs are delimited in the input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FramingArg {
    /// Back-to-back BER elements.
    None,
    /// A 2-byte big-endian length before each PDU.
    Len2,
    /// The HiPath header: 0x26, then a 15-bit length with the top bit set.
    Hipath,
    /// The ECMA-323 header: 00 00, the total length, 4 invoke-id digits.
    XmlHeader,
}

#[derive(Debug, Args)]
struct DecodeArgs {
    /// The link protocol.
    #[arg(long, value_enum)]
    protocol: DecodeProtocol,
    /// The SMDR record format (ipoffice, panasonic, nec, mitel).
    #[arg(long)]
    format: Option<String>,
    /// How PDUs are delimited (for XML, `none` reads one document per `<?xml` declaration).
    #[arg(long, value_enum, default_value = "none")]
    framing: FramingArg,
    /// Print the oracle's JSON shape (ROSE/ACSE envelope, X.697 JER values).
    #[arg(long)]
    jer: bool,
    /// The input is hex text (whitespace ignored) instead of binary.
    #[arg(long)]
    hex: bool,
    /// Largest PDU accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_pdu: usize,
    /// Input files; `-` or none reads standard input.
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct EncodeArgs {
    /// The link protocol.
    #[arg(long, value_enum)]
    protocol: Protocol,
    /// The input lines are in the oracle's JSON shape (ROSE/ACSE envelope, X.697 JER values).
    #[arg(long)]
    jer: bool,
    /// How PDUs are delimited in the output (for XML, `none` writes one document per line).
    #[arg(long, value_enum, default_value = "none")]
    framing: FramingArg,
    /// Write hex text, one PDU per line, instead of binary.
    #[arg(long)]
    hex: bool,
    /// For XML: the ECMA-323 edition to write (ed2 … ed6, or a namespace URI).
    #[arg(long, default_value = "ed3")]
    edition: String,
    /// Input file of JSON lines; `-` or none reads standard input.
    file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Decode the PDUs of the given files in a loop for at least two seconds.
    Decode(BenchDecodeArgs),
    /// The core engine: driver events per second, and memory per active call and per device.
    Core(BenchCoreArgs),
    /// End to end: simulated PBX, bridge and WebSocket subscribers under a call rate.
    E2e(bench_e2e::BenchE2eArgs),
    /// Memory of many monitored devices, and the resync after a reconnect.
    Monitors(bench_monitors::BenchMonitorsArgs),
}

#[derive(Debug, Args)]
struct BenchCoreArgs {
    /// How many calls to run through the engine for the throughput figure.
    #[arg(long, default_value_t = 200_000)]
    calls: u64,
    /// How many calls to hold at once for the memory figure.
    #[arg(long, default_value_t = 100_000)]
    active_calls: u64,
    /// How many monitored devices for the memory figure.
    #[arg(long, default_value_t = 100_000)]
    devices: u64,
}

#[derive(Debug, Args)]
struct BenchDecodeArgs {
    /// The link protocol.
    #[arg(long, value_enum)]
    protocol: Protocol,
    /// How PDUs are delimited in the files.
    #[arg(long, value_enum, default_value = "none")]
    framing: FramingArg,
    /// The input is hex text instead of binary.
    #[arg(long)]
    hex: bool,
    /// How long to run, in seconds (at least 2).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Files of PDUs.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Reads a whole input: a file, or standard input for `-`.
fn read_input(path: Option<&PathBuf>, hex: bool) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    match path {
        Some(p) if p.as_os_str() != "-" => {
            raw = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(|e| format!("stdin: {e}"))?;
        }
    }
    if hex {
        let text: Vec<u8> = raw
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        return hex::decode(&text).map_err(|e| format!("hex input: {e}"));
    }
    Ok(raw)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(a) => analyzer::decode(&a),
        Command::Encode(a) => analyzer::encode(&a),
        Command::Bench(BenchCommand::Decode(a)) => bench::decode(&a),
        Command::Bench(BenchCommand::Core(a)) => bench::core(&a),
        Command::Bench(BenchCommand::E2e(a)) => bench_e2e::e2e(&a),
        Command::Bench(BenchCommand::Monitors(a)) => bench_monitors::monitors(&a),
        Command::Bridge(a) => bridge::bridge(&a),
        Command::Demo(a) => demo::demo(&a),
        Command::Sim(a) => sim::sim(&a),
        Command::Tap(a) => tap::tap(&a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(msg) => {
            let _ = writeln!(std::io::stderr(), "hookflash: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Lines of a reader, for JSON-lines input.
fn lines(input: &[u8]) -> impl Iterator<Item = (usize, String)> + '_ {
    input.lines().enumerate().filter_map(|(i, l)| {
        let l = l.ok()?;
        if l.trim().is_empty() {
            None
        } else {
            Some((i + 1, l))
        }
    })
}
