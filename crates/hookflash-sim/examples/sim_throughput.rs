//! Measures engine throughput: `cargo run --release -p hookflash-sim --example sim_throughput`.

use std::time::Instant;

use hookflash_sim::{Command, Engine, SimConfig};

fn main() {
    let cfg = SimConfig {
        seed: 11,
        agents: 185,
        queues: 3,
        extensions: 200,
        trunks: 400,
        calls_per_minute: 300.0,
        talk_ms: 20_000,
        truth: true,
        poll_interval_ms: 30_000,
        monitor_limit: 10_000,
        ..SimConfig::default()
    };
    let mut e = Engine::new(cfg);
    for dn in e.device_numbers() {
        let _ = e.handle_command(0, Command::MonitorStart(dn));
    }
    let start = Instant::now();
    let mut outputs = 0u64;
    let mut truth = 0u64;
    let end = 6 * 3_600_000;
    let mut now = 0;
    while now < end {
        now += 1_000;
        e.step(now);
        while e.poll_output().is_some() {
            outputs += 1;
        }
        while e.poll_truth().is_some() {
            truth += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let st = e.stats();
    println!(
        "simulated {} calls, {} events ({} delivered outputs incl. polls: {outputs}), {truth} truth lines in {secs:.3} s",
        st.calls_ended, st.events, st.events_delivered
    );
    println!(
        "{:.0} calls/s, {:.0} events/s, {:.0} delivered events/s",
        st.calls_ended as f64 / secs,
        st.events as f64 / secs,
        st.events_delivered as f64 / secs
    );
}
