//! Screen pops with a CSV customer directory: every call ringing at a monitored device or an
//! agent is printed with who is calling.
//!
//! ```text
//! cargo run -p hookflash-examples --bin screen_pop -- --csv examples/data/customers.csv
//! ```

use std::path::PathBuf;

use clap::Parser;
use hookflash::Lookup;
use hookflash::core::dialplan::DialPlan;
use hookflash::directory::CsvDirectory;
use hookflash_examples::{LinkArgs, Setup, deadline, show_number};

/// Print a screen pop for every ringing call, with the caller looked up in a CSV file.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// The customer directory: a CSV file with a `phone` column.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/customers.csv"))]
    csv: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let directory = CsvDirectory::load(&args.csv, &DialPlan::default())?;
    eprintln!(
        "{} customers loaded from {}",
        directory.len(),
        args.csv.display()
    );
    let setup = Setup::connect(&args.link, |b| b.directory(directory)).await?;
    let mut pops = setup.cti.screen_pops();
    let until = deadline(&args.link);
    let mut shown = 0u64;
    while args.link.max_events.is_none_or(|max| shown < max) {
        let pop = tokio::select! {
            p = pops.recv() => p,
            () = tokio::time::sleep_until(until) => break,
        };
        let pop = match pop {
            Ok(p) => p,
            Err(hookflash::RecvError::Lagged { missed }) => {
                eprintln!("(missed {missed} events)");
                continue;
            }
            Err(_) => break,
        };
        shown += 1;
        let who = match &pop.lookup {
            Lookup::Found(c) => format!(
                "{} [{}]{}",
                c.name.as_deref().unwrap_or("(no name)"),
                c.id.as_deref().unwrap_or("-"),
                c.fields
                    .get("company")
                    .map(|co| format!(", {co}"))
                    .unwrap_or_default()
            ),
            Lookup::NotFound => "unknown caller".to_owned(),
            Lookup::NoNumber => "number withheld".to_owned(),
            Lookup::NoDirectory => "no directory".to_owned(),
            Lookup::Failed(e) => format!("lookup failed: {e}"),
            _ => "?".to_owned(),
        };
        println!(
            "POP {} at {}{}: {} -> {}: {}",
            pop.call,
            pop.device,
            pop.agent
                .as_ref()
                .map(|a| format!(" (agent {a})"))
                .unwrap_or_default(),
            show_number(pop.ani.as_ref()),
            show_number(pop.dnis.as_ref()),
            who
        );
    }
    setup.shutdown().await;
    Ok(())
}
