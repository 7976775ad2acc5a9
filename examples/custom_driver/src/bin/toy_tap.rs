//! Taps a toy-protocol PBX through the plugin: prints every normalized event.
//!
//! ```text
//! cargo run -p hookflash-toy-driver --bin toy_tap -- --link 127.0.0.1:7070 --device 100
//! cargo run -p hookflash-toy-driver --bin toy_tap -- --max-events 10   # an in-process toy PBX
//! ```
//!
//! Without `--link` a toy PBX is started in-process and rings device `100` every
//! `--ring-ms` milliseconds; the tap answers each call and hangs it up, so the whole call
//! cycle goes through the driver.

use std::time::Duration;

use hookflash::core::event::EventKind;
use hookflash::{Cti, EventType, Filter};
use hookflash_toy_driver::ToyDriver;
use hookflash_toy_driver::server::ToyPbx;

struct Args {
    link: Option<String>,
    devices: Vec<String>,
    max_events: Option<u64>,
    ring_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        link: None,
        devices: Vec::new(),
        max_events: None,
        ring_ms: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--link" => args.link = Some(value()?),
            "--device" => args.devices.push(value()?),
            "--max-events" => {
                args.max_events = Some(value()?.parse().map_err(|_| "--max-events: a number")?)
            }
            "--ring-ms" => args.ring_ms = value()?.parse().map_err(|_| "--ring-ms: a number")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = parse_args()?;
    let pbx = match &args.link {
        Some(_) => None,
        None => Some(ToyPbx::start().await?),
    };
    let addr = match (&args.link, &pbx) {
        (Some(a), _) => a.clone(),
        (None, Some(p)) => p.addr().to_string(),
        (None, None) => unreachable!("a toy PBX was started"),
    };
    if args.devices.is_empty() {
        args.devices.push("100".to_owned());
    }
    let cti = Cti::builder()
        .driver(Box::new(ToyDriver::new("toy", &addr)))
        .build()?;
    let mut events = cti.subscribe(Filter::all());
    for (d, r) in args.devices.iter().zip(cti.monitor(&args.devices).await) {
        if let Err(e) = r {
            eprintln!("monitor {d}: {e}");
        }
    }
    let mut ring = tokio::time::interval(Duration::from_millis(args.ring_ms.max(10)));
    let mut seen = 0u64;
    while args.max_events.is_none_or(|m| seen < m) {
        tokio::select! {
            ev = events.recv() => {
                let Ok(ev) = ev else { break };
                seen += 1;
                println!("#{} {} {:?}", ev.seq, ev.link.as_deref().unwrap_or("-"), EventType::of(&ev.kind));
                // Against the in-process PBX, play the agent: answer, then hang up.
                if pbx.is_some() {
                    let cti = cti.clone();
                    match ev.kind {
                        EventKind::CallAlerting { call, device } => {
                            tokio::spawn(async move { cti.answer(call, device).await });
                        }
                        EventKind::CallAnswered { call, device } => {
                            tokio::spawn(async move { cti.clear(call, device).await });
                        }
                        _ => {}
                    }
                }
            }
            _ = ring.tick(), if pbx.is_some() => {
                if let (Some(p), Some(d)) = (&pbx, args.devices.first()) {
                    p.ring("0301234567", d);
                }
            }
        }
    }
    cti.shutdown().await;
    Ok(())
}
