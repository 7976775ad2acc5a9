//! The toy driver under a Cti against the toy PBX: events, commands, monitors across a
//! reconnect, garbage lines.

use std::time::Duration;

use hookflash::core::event::{Event, EventKind};
use hookflash::core::model::LinkState;
use hookflash::{Cti, Error, EventType, Filter, Subscription};
use hookflash_toy_driver::server::ToyPbx;
use hookflash_toy_driver::{Timing, ToyDriver};

async fn until(sub: &mut Subscription, pred: impl Fn(&Event) -> bool) -> Event {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), sub.recv())
            .await
            .expect("an event within 5 s")
            .expect("the stream goes on");
        if pred(&e) {
            return e;
        }
    }
}

fn is(t: EventType) -> impl Fn(&Event) -> bool {
    move |e| EventType::of(&e.kind) == t
}

fn fast() -> Timing {
    Timing {
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..Timing::default()
    }
}

#[tokio::test]
async fn calls_ring_get_answered_and_end() {
    let pbx = ToyPbx::start().await.unwrap();
    let driver = ToyDriver::new("toy", &pbx.addr().to_string()).with_timing(fast());
    let cti = Cti::builder().driver(Box::new(driver)).build().unwrap();
    let mut sub = cti.subscribe(Filter::all());
    until(&mut sub, is(EventType::LinkStateChanged)).await;
    assert!(cti.monitor(&["100", "101"]).await.iter().all(Result::is_ok));

    let native = pbx.ring("0301234567", "100");
    let pop = until(&mut sub, is(EventType::ScreenPop)).await;
    let EventKind::ScreenPop {
        call, device, ani, ..
    } = pop.kind
    else {
        unreachable!()
    };
    assert_eq!(device.as_str(), "100");
    assert_eq!(ani.unwrap().e164.as_deref(), Some("+49301234567"));
    assert_eq!(cti.call_by_native("toy", &native).map(|c| c.id), Some(call));

    // Unsupported verbs are refused by the API from the driver's capabilities.
    assert!(matches!(
        cti.deflect(call, "100", "101").await,
        Err(Error::Unsupported)
    ));
    cti.answer(call, "100").await.unwrap();
    until(&mut sub, is(EventType::CallAnswered)).await;
    cti.hold(call, "100").await.unwrap();
    until(&mut sub, is(EventType::CallHeld)).await;
    cti.retrieve(call, "100").await.unwrap();
    until(&mut sub, is(EventType::CallRetrieved)).await;
    cti.clear(call, "100").await.unwrap();
    until(&mut sub, is(EventType::CallEnded)).await;
    let reqs = pbx.requests();
    assert!(
        reqs.iter()
            .any(|r| r.ends_with(&format!("ANSWER {native} 100"))),
        "{reqs:?}"
    );

    // Click to dial: the new call is reported with its id.
    let done = cti.make_call("101", "100").await.unwrap();
    let new = done.native_call.unwrap();
    until(&mut sub, is(EventType::CallAlerting)).await;
    assert!(cti.call_by_native("toy", &new).is_some());
    cti.shutdown().await;
}

#[tokio::test]
async fn monitors_survive_a_reconnect_and_garbage_is_skipped() {
    let pbx = ToyPbx::start().await.unwrap();
    let driver = ToyDriver::new("toy", &pbx.addr().to_string()).with_timing(fast());
    let cti = Cti::builder().driver(Box::new(driver)).build().unwrap();
    let mut sub = cti.subscribe(Filter::all());
    until(&mut sub, is(EventType::LinkStateChanged)).await;
    assert!(cti.monitor(&["100"]).await[0].is_ok());
    pbx.broadcast_raw("NONSENSE \u{1} here");
    pbx.broadcast_raw(&"x".repeat(5000));
    pbx.drop_connections();
    until(&mut sub, |e| {
        matches!(
            e.kind,
            EventKind::LinkStateChanged {
                state: LinkState::Down
            }
        )
    })
    .await;
    until(&mut sub, |e| {
        matches!(
            e.kind,
            EventKind::LinkStateChanged {
                state: LinkState::Up
            }
        )
    })
    .await;
    // The driver re-watched 100 on the new connection.
    for _ in 0..100 {
        if pbx.watched().iter().any(|w| w.contains("100")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pbx.ring("0301234567", "100");
    until(&mut sub, is(EventType::CallAlerting)).await;
    assert_eq!(cti.link_state("toy"), LinkState::Up);
}

#[tokio::test]
async fn a_pbx_that_is_not_there_leaves_the_link_down() {
    let pbx = ToyPbx::start().await.unwrap();
    let addr = pbx.addr().to_string();
    drop(pbx);
    let driver = ToyDriver::new("toy", &addr).with_timing(fast());
    let cti = Cti::builder().driver(Box::new(driver)).build().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(cti.link_state("toy"), LinkState::Down);
    assert!(matches!(
        cti.make_call("100", "101").await,
        Err(Error::LinkDown)
    ));
    // Monitoring while down is kept for the next connection.
    assert!(cti.monitor(&["100"]).await[0].is_ok());
}

#[test]
fn the_tap_binary_runs_a_call_cycle_against_an_in_process_toy_pbx() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_toy_tap"))
        .args(["--max-events", "12", "--ring-ms", "300"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{text}");
    assert!(lines[0].starts_with("#1 toy LinkStateChanged"), "{text}");
    for t in ["CallAlerting", "ScreenPop", "CallAnswered", "CallEnded"] {
        assert!(text.contains(t), "{t} missing:\n{text}");
    }
}
