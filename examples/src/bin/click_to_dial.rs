//! Click to dial: make a call from a device and follow it until it ends.
//!
//! ```text
//! cargo run -p hookflash-examples --bin click_to_dial -- --from 200000 --to 0891234567
//! ```

use clap::Parser;
use hookflash::Filter;
use hookflash::core::event::EventKind;
use hookflash_examples::{LinkArgs, Setup, deadline};

/// Call a number from a device and print what happens to the call.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// The calling device (default: the first extension).
    #[arg(long)]
    from: Option<String>,
    /// The number to call (default: the second extension).
    #[arg(long)]
    to: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let setup = Setup::connect(&args.link, |b| b).await?;
    let from = args
        .from
        .clone()
        .or_else(|| setup.extensions.first().cloned())
        .ok_or("no --from device")?;
    let to = args
        .to
        .clone()
        .or_else(|| setup.extensions.get(1).cloned())
        .ok_or("no --to number")?;
    let cti = &setup.cti;
    let mut events = cti.subscribe(Filter::all().device(from.as_str()));
    println!("dialling {to} from {from}");
    let done = cti.make_call(from.as_str(), to.as_str()).await?;
    println!(
        "the PBX accepted: call {}",
        done.native_call.as_deref().unwrap_or("(no id)")
    );
    let until = deadline(&args.link);
    let mut ours = done.call;
    let mut seen = 0u64;
    loop {
        if args.link.max_events.is_some_and(|max| seen >= max) {
            break;
        }
        let ev = tokio::select! {
            e = events.recv() => e,
            () = tokio::time::sleep_until(until) => break,
        };
        let Ok(ev) = ev else { break };
        let call = ev.kind.call();
        // The call is ours once the link reports it under the id the PBX gave.
        if ours.is_none()
            && let (Some(c), Some(native)) = (call, done.native_call.as_ref())
            && cti
                .call(c)
                .is_some_and(|k| k.aliases.iter().any(|a| a == native))
        {
            ours = Some(c);
        }
        if ours.is_none() || call != ours {
            continue;
        }
        seen += 1;
        match &ev.kind {
            EventKind::CallOffered { .. } => println!("#{} offered", ev.seq),
            EventKind::CallAlerting { device, .. } => println!("#{} ringing at {device}", ev.seq),
            EventKind::CallAnswered { device, .. } => println!("#{} answered by {device}", ev.seq),
            EventKind::PartyLeft { device, .. } => println!("#{} {device} hung up", ev.seq),
            EventKind::CallEnded { outcome, .. } => {
                println!("#{} ended: {outcome:?}", ev.seq);
                break;
            }
            other => println!("#{} {:?}", ev.seq, hookflash::EventType::of(other)),
        }
    }
    setup.shutdown().await;
    Ok(())
}
