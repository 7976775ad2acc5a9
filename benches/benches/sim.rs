//! hookflash-sim engine throughput: one simulated hour of a 185-agent contact centre.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookflash_sim::{Command, Engine, SimConfig};
use std::hint::black_box;

fn cfg() -> SimConfig {
    SimConfig {
        seed: 11,
        agents: 185,
        queues: 3,
        extensions: 200,
        trunks: 400,
        calls_per_minute: 300.0,
        talk_ms: 20_000,
        truth: true,
        monitor_limit: 10_000,
        ..SimConfig::default()
    }
}

/// Runs one simulated hour with every device monitored; returns events produced.
fn run_hour() -> u64 {
    let mut e = Engine::new(cfg());
    for dn in e.device_numbers() {
        let _ = e.handle_command(0, Command::MonitorStart(dn));
    }
    let mut now = 0;
    while now < 3_600_000 {
        now += 1_000;
        e.step(now);
        while let Some(o) = e.poll_output() {
            black_box(o);
        }
        while let Some(t) = e.poll_truth() {
            black_box(t);
        }
    }
    e.stats().events
}

fn bench(c: &mut Criterion) {
    let events = run_hour();
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("one_hour_300_calls_per_min_all_monitored", |b| {
        b.iter(run_hour)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
