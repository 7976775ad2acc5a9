//! The core call-model engine: driver events per second over a stream of interleaved ACD calls,
//! and memory per monitored device and per active call, counted by a global allocator that
//! tracks live heap bytes (printed before the criterion runs).

// The counting allocator below is the only unsafe code: it forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookflash_core::driver::{CallEventKind as C, DriverEvent};
use hookflash_core::engine::Engine;
use hookflash_core::model::{DeviceId, NativeCallId, Timestamp};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The seven driver events of one ACD call: queued, delivered to an agent device, answered,
/// held, retrieved, and cleared by both parties.
fn acd_call(n: u64, devices: u64) -> [DriverEvent; 7] {
    let call: NativeCallId = format!("{n:08X}").into();
    let agent = DeviceId::from(format!("{}", 10_000 + n % devices));
    let caller = format!("+4930{n:07}");
    let ev = |e: C| DriverEvent::Call {
        link: "pbx".into(),
        call: call.clone(),
        event: e,
        cause: None,
    };
    [
        ev(C::Queued {
            queue: "8000".into(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
        }),
        ev(C::Delivered {
            alerting: agent.clone(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
            last_redirection: None,
        }),
        ev(C::Established {
            answering: agent.clone(),
            calling: Some(caller.clone()),
            called: Some("8000".into()),
        }),
        ev(C::Held {
            device: agent.clone(),
        }),
        ev(C::Retrieved {
            device: agent.clone(),
        }),
        ev(C::ConnectionCleared { device: agent }),
        ev(C::ConnectionCleared {
            device: caller.as_str().into(),
        }),
    ]
}

fn monitor(e: &mut Engine, devices: u64) {
    for d in 0..devices {
        e.handle(
            Timestamp(0),
            DriverEvent::Monitor {
                link: "pbx".into(),
                device: format!("{}", 10_000 + d).into(),
                monitored: true,
            },
        );
    }
    e.drain_events().for_each(drop);
}

/// Calls interleaved 100 at a time, as a busy link delivers them.
fn interleaved(calls: u64, devices: u64) -> Vec<DriverEvent> {
    let mut input = Vec::with_capacity(calls as usize * 7);
    let all: Vec<u64> = (0..calls).collect();
    for chunk in all.chunks(100) {
        let per_call: Vec<[DriverEvent; 7]> = chunk.iter().map(|&n| acd_call(n, devices)).collect();
        for step in 0..7 {
            for c in &per_call {
                input.push(c[step].clone());
            }
        }
    }
    input
}

/// Live heap bytes per monitored device (100,000 devices) and per active (answered) call
/// (100,000 calls), printed once.
fn memory() {
    const N: u64 = 100_000;
    let base = live();
    let mut e = Engine::default();
    monitor(&mut e, N);
    let per_device = (live() - base) as f64 / N as f64;
    let before = live();
    for n in 0..N {
        for ev in acd_call(n, N).into_iter().take(3) {
            e.handle(Timestamp(n), ev);
        }
        e.drain_events().for_each(drop);
    }
    let per_call = (live().saturating_sub(before)) as f64 / N as f64;
    println!(
        "core_engine memory: {per_device:.0} bytes per monitored device ({N} devices), \
         {per_call:.0} bytes per active call ({} calls live)",
        e.calls().count()
    );
    black_box(e);
}

fn engine(c: &mut Criterion) {
    memory();
    let devices = 10_000;
    let input = interleaved(2_000, devices);
    let mut g = c.benchmark_group("core_engine");
    g.throughput(Throughput::Elements(input.len() as u64));
    g.bench_function("acd_calls_interleaved", |b| {
        b.iter_batched(
            || {
                let mut e = Engine::default();
                monitor(&mut e, devices);
                (e, input.clone())
            },
            |(mut e, input)| {
                for (i, ev) in input.into_iter().enumerate() {
                    e.handle(Timestamp(1_000 + i as u64), ev);
                    for out in e.drain_events() {
                        black_box(&out);
                    }
                }
                e
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
