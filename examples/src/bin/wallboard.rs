//! A wallboard: queue statistics and agent counts, redrawn every interval.
//!
//! ```text
//! cargo run -p hookflash-examples --bin wallboard -- --interval-ms 1000
//! ```

use std::time::Duration;

use clap::Parser;
use hookflash::core::model::Availability;
use hookflash_examples::{LinkArgs, Setup, deadline};

/// Show every queue's statistics, refreshing.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// Refresh interval.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Do not clear the screen between refreshes (for logs and pipes).
    #[arg(long)]
    plain: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let setup = Setup::connect(&args.link, |b| b).await?;
    let until = deadline(&args.link);
    let mut tick = tokio::time::interval(Duration::from_millis(args.interval_ms.max(50)));
    let mut refreshes = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = tokio::time::sleep_until(until) => break,
        }
        if !args.plain {
            print!("\x1b[2J\x1b[H");
        }
        let queues = setup.cti.queues();
        println!(
            "{:<10} {:>7} {:>9} {:>7} {:>8} {:>9} {:>6} {:>6} {:>5} {:>5}",
            "queue",
            "waiting",
            "longest",
            "offered",
            "answered",
            "abandoned",
            "SL%",
            "avail",
            "busy",
            "away"
        );
        for q in &queues {
            let s = &q.stats;
            println!(
                "{:<10} {:>7} {:>8}s {:>7} {:>8} {:>9} {:>5.1}% {:>6} {:>5} {:>5}",
                q.id.as_str(),
                s.waiting,
                s.longest_wait_ms / 1000,
                s.offered,
                s.answered,
                s.abandoned,
                f64::from(s.service_level_permille) / 10.0,
                s.agents_available,
                s.agents_busy,
                s.agents_away
            );
        }
        let agents = setup.cti.agents();
        let count = |a: Availability| agents.iter().filter(|x| x.availability() == a).count();
        println!(
            "agents: {} available, {} reserved, {} busy, {} wrap-up, {} away, {} offline; {} live calls",
            count(Availability::Available),
            count(Availability::Reserved),
            count(Availability::Busy),
            count(Availability::WrapUp),
            count(Availability::Away),
            count(Availability::Offline),
            setup.cti.calls().len()
        );
        refreshes += 1;
        if args.link.max_events.is_some_and(|max| refreshes >= max) {
            break;
        }
    }
    setup.shutdown().await;
    Ok(())
}
