//! Parse rate of the AMI decoder over the panoramisk transcripts.
//!
//! `cargo run --release -p hookflash-ami --example ami_throughput [MiB]`: every transcript is
//! concatenated, repeated into a stream of about `MiB` mebibytes (default 32) and fed in 4 KiB
//! chunks; each event is also typed ([`Event::from_message`]) and its `Channel` looked up.

use std::time::Instant;

use hookflash_ami::{Decoder, Event, MessageKind};

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(32);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/panoramisk");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("transcripts")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    let mut one = Vec::new();
    for n in names {
        one.extend_from_slice(&std::fs::read(n).expect("read"));
        // Some captures end mid-block: terminate them so they do not swallow the next file.
        one.extend_from_slice(b"\r\n\r\n");
    }
    let mut stream = Vec::with_capacity(mib << 20);
    while stream.len() < mib << 20 {
        stream.extend_from_slice(&one);
    }
    let start = Instant::now();
    let mut d = Decoder::new();
    let (mut events, mut messages, mut channels) = (0u64, 0u64, 0u64);
    for chunk in stream.chunks(4096) {
        d.feed(chunk);
        while let Some(r) = d.decode() {
            let Ok(m) = r else { continue };
            messages += 1;
            if m.kind() == MessageKind::Event
                && let Some(ev) = Event::from_message(m)
            {
                events += 1;
                channels += u64::from(ev.get("Channel").is_some());
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} MiB, {messages} messages, {events} events ({channels} with Channel), {} malformed: \
         {:.0} events/s, {:.0} messages/s, {:.0} MiB/s",
        stream.len() >> 20,
        d.stats().malformed,
        events as f64 / secs,
        messages as f64 / secs,
        stream.len() as f64 / secs / 1048576.0
    );
}
