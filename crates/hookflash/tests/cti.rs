//! The Cti handle against scripted fake drivers: events, filters, lag, queries, commands,
//! monitors, several links, call records, shutdown.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Reply, all_caps, fake, next, until};
use hookflash::core::command::{Command, Verbs};
use hookflash::core::driver::{AgentEventKind, CallEventKind, DriverEvent};
use hookflash::core::event::EventKind;
use hookflash::core::model::{AgentStatus, CallId, LinkState, Outcome};
use hookflash::spi::{Capabilities, CommandOutcome};
use hookflash::{Cti, Error, EventType, Filter, PbxCause, RecvError};

fn is_type(t: EventType) -> impl Fn(&hookflash::core::event::Event) -> bool {
    move |e| EventType::of(&e.kind) == t
}

/// A Cti on one fake link that is up with 1001 and 1002 monitored, and a call `c1` from
/// outside ringing at 1001; returns its id.
async fn ringing() -> (Cti, common::Handle, CallId) {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut sub = cti.subscribe(Filter::all());
    h.up();
    h.monitored("1001");
    h.monitored("1002");
    h.ring("c1", "1001", "030123456");
    let e = until(&mut sub, is_type(EventType::CallAlerting)).await;
    let call = e.kind.call().unwrap();
    (cti, h, call)
}

#[tokio::test]
async fn driver_events_become_normalized_events_and_state() {
    let (cti, h, call) = ringing().await;
    assert_eq!(cti.link_state("pbx"), LinkState::Up);
    let calls = cti.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, call);
    assert_eq!(
        calls[0].data.ani.as_ref().unwrap().e164.as_deref(),
        Some("+4930123456")
    );
    assert_eq!(cti.calls_at("1001").len(), 1);
    assert!(cti.calls_at("1002").is_empty());
    assert_eq!(cti.call_by_native("pbx", "c1").map(|c| c.id), Some(call));
    let devices = cti.devices();
    let d1001 = devices.iter().find(|d| d.id.as_str() == "1001").unwrap();
    assert!(d1001.monitored);
    assert_eq!(d1001.link.as_deref(), Some("pbx"));
    assert_eq!(cti.device_link("1001").as_deref(), Some("pbx"));
    // The core's permitted verbs, narrowed by the link's capabilities.
    assert!(cti.permitted(call, "1001").contains(Verbs::ANSWER));
    assert!(!cti.permitted(call, "1001").contains(Verbs::HOLD));
    assert_eq!(cti.permitted(call, "1002"), Verbs::PICKUP);
    drop(h);
}

#[tokio::test]
async fn the_events_arrive_in_sequence_without_gaps() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut sub = cti.subscribe(Filter::all());
    h.up();
    h.monitored("1001");
    h.ring("c1", "1001", "030123456");
    h.answer("c1", "1001", "030123456");
    h.hang_up("c1");
    let mut seqs = Vec::new();
    loop {
        let e = next(&mut sub).await.unwrap();
        seqs.push(e.seq);
        if matches!(e.kind, EventKind::CallEnded { .. }) {
            break;
        }
    }
    assert_eq!(seqs[0], 1);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(cti.last_seq(), *seqs.last().unwrap());
}

#[tokio::test]
async fn a_device_filter_follows_its_calls_to_the_end_and_skips_others() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut all = cti.subscribe(Filter::all());
    let mut only_1002 = cti.subscribe(Filter::all().device("1002"));
    h.up();
    h.monitored("1001");
    h.monitored("1002");
    h.ring("a", "1001", "030111");
    h.ring("b", "1002", "030222");
    h.answer("b", "1002", "030222");
    h.call(
        "b",
        CallEventKind::ConnectionCleared {
            device: "1002".into(),
        },
    );
    h.hang_up("b");
    h.hang_up("a");
    let a_ended = until(&mut all, |e| {
        matches!(e.kind, EventKind::CallEnded { .. }) && all_calls_named(&cti, e.kind.call(), "a")
    })
    .await;
    let a = a_ended.kind.call().unwrap();
    let mut got = Vec::new();
    while let Some(Ok(e)) = only_1002.try_recv() {
        got.push(e);
    }
    assert!(!got.is_empty());
    assert!(got.iter().all(|e| e.kind.call() != Some(a)), "{got:?}");
    // Link state passes every entity filter; the 1002 call is followed to its end.
    assert!(
        got.iter()
            .any(|e| matches!(e.kind, EventKind::LinkStateChanged { .. }))
    );
    assert!(
        got.iter()
            .any(|e| matches!(e.kind, EventKind::CallAnswered { .. }))
    );
    assert!(
        got.iter()
            .any(|e| matches!(e.kind, EventKind::CallEnded { .. }))
    );
}

fn all_calls_named(cti: &Cti, call: Option<CallId>, native: &str) -> bool {
    call.and_then(|c| cti.call(c))
        .is_some_and(|c| c.aliases.iter().any(|a| a.as_str() == native))
}

#[tokio::test]
async fn a_type_filter_passes_only_its_types() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut pops =
        cti.subscribe(Filter::all().event_types([EventType::ScreenPop, EventType::CallEnded]));
    h.up();
    h.monitored("1001");
    h.ring("c1", "1001", "030123456");
    h.hang_up("c1");
    let first = next(&mut pops).await.unwrap();
    assert_eq!(EventType::of(&first.kind), EventType::ScreenPop);
    let second = next(&mut pops).await.unwrap();
    assert_eq!(EventType::of(&second.kind), EventType::CallEnded);
}

#[tokio::test]
async fn agent_and_queue_filters() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut all = cti.subscribe(Filter::all());
    let mut agent = cti.subscribe(Filter::all().agent("A7"));
    let mut queue = cti.subscribe(Filter::all().queue("sales"));
    h.up();
    h.monitored("1001");
    h.push(DriverEvent::Agent {
        link: "pbx".into(),
        agent: "A7".into(),
        event: AgentEventKind::LoggedOn {
            device: Some("1001".into()),
            queues: vec!["sales".into()],
        },
    });
    h.call(
        "q1",
        CallEventKind::Queued {
            queue: "sales".into(),
            calling: Some("030999".into()),
            called: Some("500".into()),
        },
    );
    h.ring("q1", "1001", "030999");
    h.ring("x", "1002", "030555");
    h.hang_up("x");
    until(&mut all, |e| matches!(e.kind, EventKind::CallEnded { .. })).await;
    let drain = |s: &mut hookflash::Subscription| {
        let mut v = Vec::new();
        while let Some(Ok(e)) = s.try_recv() {
            v.push(e);
        }
        v
    };
    let a = drain(&mut agent);
    let q = drain(&mut queue);
    assert!(
        a.iter()
            .any(|e| matches!(e.kind, EventKind::AgentStateChanged { .. }))
    );
    assert!(
        a.iter()
            .any(|e| matches!(e.kind, EventKind::ScreenPop { .. }))
    );
    assert!(
        q.iter()
            .any(|e| matches!(e.kind, EventKind::CallQueued { .. }))
    );
    // The call at the unrelated device 1002 reaches neither.
    let x = cti
        .finished_calls()
        .into_iter()
        .find(|c| c.aliases.iter().any(|n| n.as_str() == "x"))
        .unwrap();
    assert!(
        a.iter()
            .chain(q.iter())
            .all(|e| e.kind.call() != Some(x.id))
    );
}

#[tokio::test]
async fn a_slow_subscriber_is_told_what_it_missed_and_never_blocks_the_engine() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut slow = cti.subscribe_with_capacity(Filter::all(), 2);
    let mut fast = cti.subscribe(Filter::all());
    h.up();
    h.monitored("1001");
    for i in 0..20 {
        let n = format!("c{i}");
        h.ring(&n, "1001", "030123456");
        h.hang_up(&n);
    }
    // The fast subscriber sees everything up to the last call's end: the engine never waited.
    let mut seen = 0u64;
    let mut ended = 0;
    while ended < 20 {
        let e = next(&mut fast).await.unwrap();
        seen += 1;
        if matches!(e.kind, EventKind::CallEnded { .. }) {
            ended += 1;
        }
    }
    assert_eq!(seen, cti.last_seq());
    let a = next(&mut slow).await.unwrap();
    let b = next(&mut slow).await.unwrap();
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(
        next(&mut slow).await,
        Err(RecvError::Lagged { missed: seen - 2 })
    );
    // After the gap the stream goes on with new events.
    h.ring("late", "1001", "030123456");
    let e = next(&mut slow).await.unwrap();
    assert_eq!(e.seq, seen + 1);
}

#[tokio::test]
async fn commands_go_to_the_driver_with_native_call_ids() {
    let (cti, h, call) = ringing().await;
    let done = cti.answer(call, "1001").await.unwrap();
    assert_eq!(done.link.as_str(), "pbx");
    let cmds = h.commands();
    assert_eq!(cmds.len(), 1);
    assert_eq!(
        cmds[0].command,
        Command::Answer {
            call,
            device: "1001".into()
        }
    );
    assert_eq!(cmds[0].native(call).unwrap().as_str(), "c1");
}

#[tokio::test]
async fn make_call_reports_the_new_call() {
    let (cti, h, _) = ringing().await;
    h.call(
        "out1",
        CallEventKind::Originated {
            calling: "1002".into(),
            called: "030777".into(),
        },
    );
    let mut sub = cti.subscribe(Filter::all());
    h.ring("probe", "1002", "1");
    until(&mut sub, is_type(EventType::CallAlerting)).await;
    h.reply(Reply::Ok(CommandOutcome::with_call("out1".into())));
    let done = cti.make_call("1002", "030777").await.unwrap();
    assert_eq!(done.native_call.as_deref(), Some("out1"));
    assert_eq!(done.call, cti.call_by_native("pbx", "out1").map(|c| c.id));
    assert!(done.call.is_some());
    assert_eq!(
        h.commands()[0].command,
        Command::MakeCall {
            from: "1002".into(),
            to: "030777".into()
        }
    );
}

#[tokio::test]
async fn commands_are_refused_before_the_pbx_is_asked() {
    let (cti, h, call) = ringing().await;
    // Hold is not permitted on a ringing call.
    assert!(matches!(
        cti.hold(call, "1001").await,
        Err(Error::NotPermitted)
    ));
    // An unknown call.
    assert!(matches!(
        cti.clear_call(CallId(999)).await,
        Err(Error::InvalidCall(CallId(999)))
    ));
    assert!(h.commands().is_empty());

    // A link without agent control or deflect.
    let caps = Capabilities {
        verbs: Verbs::ANSWER | Verbs::CLEAR,
        flags: Capabilities::MONITOR,
    };
    let (d, h2) = fake("small", caps);
    let cti2 = Cti::builder().driver(d).build().unwrap();
    let mut sub = cti2.subscribe(Filter::all());
    h2.up();
    h2.monitored("2001");
    h2.ring("z", "2001", "030123456");
    let z = until(&mut sub, is_type(EventType::CallAlerting))
        .await
        .kind
        .call()
        .unwrap();
    assert!(matches!(
        cti2.deflect(z, "2001", "2002").await,
        Err(Error::Unsupported)
    ));
    assert!(matches!(
        cti2.agent_ready("A1").await,
        Err(Error::Unsupported)
    ));
    assert!(matches!(
        cti2.make_call("2001", "2002").await,
        Err(Error::Unsupported)
    ));
    assert!(cti2.answer(z, "2001").await.is_ok());
    assert_eq!(h2.commands().len(), 1);
    assert_eq!(cti2.permitted(z, "2001"), Verbs::ANSWER | Verbs::CLEAR);
}

#[tokio::test]
async fn a_down_link_refuses_commands() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    assert!(matches!(
        cti.make_call("1001", "1002").await,
        Err(Error::LinkDown)
    ));
    let mut sub = cti.subscribe(Filter::all());
    h.up();
    until(&mut sub, is_type(EventType::LinkStateChanged)).await;
    assert!(cti.make_call("1001", "1002").await.is_ok());
    h.down();
    until(&mut sub, is_type(EventType::LinkStateChanged)).await;
    assert!(matches!(
        cti.make_call("1001", "1002").await,
        Err(Error::LinkDown)
    ));
    assert_eq!(h.commands().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_request_times_out() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder()
        .driver(d)
        .request_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut sub = cti.subscribe(Filter::all());
    h.up();
    until(&mut sub, is_type(EventType::LinkStateChanged)).await;
    h.reply(Reply::Hang);
    let started = tokio::time::Instant::now();
    assert!(matches!(
        cti.make_call("1001", "1002").await,
        Err(Error::Timeout)
    ));
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test]
async fn a_request_in_flight_fails_when_the_link_drops() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut sub = cti.subscribe(Filter::all());
    h.up();
    until(&mut sub, is_type(EventType::LinkStateChanged)).await;
    h.reply(Reply::Hang);
    let c2 = cti.clone();
    let pending = tokio::spawn(async move { c2.make_call("1001", "1002").await });
    while h.commands().is_empty() {
        tokio::task::yield_now().await;
    }
    h.down();
    let r = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r, Err(Error::LinkDown)), "{r:?}");
}

#[tokio::test]
async fn the_pbx_cause_comes_back_typed() {
    let (cti, h, call) = ringing().await;
    let cause = PbxCause {
        code: Some(12),
        name: "invalidDeviceID".into(),
    };
    h.reply(Reply::Err(Error::Pbx(cause.clone())));
    match cti.answer(call, "1001").await {
        Err(Error::Pbx(c)) => assert_eq!(c, cause),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn two_call_verbs_send_both_native_ids() {
    let (cti, h, held) = ringing().await;
    let mut sub = cti.subscribe(Filter::all());
    h.answer("c1", "1001", "030123456");
    h.call(
        "c1",
        CallEventKind::Held {
            device: "1001".into(),
        },
    );
    h.call(
        "c2",
        CallEventKind::Originated {
            calling: "1001".into(),
            called: "1002".into(),
        },
    );
    h.ring("c2", "1002", "1001");
    h.answer("c2", "1002", "1001");
    let active = until(
        &mut sub,
        |e| matches!(&e.kind, EventKind::CallAnswered { device, .. } if device.as_str() == "1002"),
    )
    .await
    .kind
    .call()
    .unwrap();
    assert!(cti.permitted(active, "1001").contains(Verbs::TRANSFER));
    cti.transfer(held, active, "1001").await.unwrap();
    let cmd = &h.commands()[0];
    assert_eq!(cmd.native(held).unwrap().as_str(), "c1");
    assert_eq!(cmd.native(active).unwrap().as_str(), "c2");
    // Conference is permitted the same way; retrieve at the wrong device is not.
    assert!(matches!(
        cti.retrieve(held, "1002").await,
        Err(Error::NotPermitted)
    ));
}

#[tokio::test]
async fn agent_commands_route_by_the_agents_device() {
    let (cti, h, _) = ringing().await;
    let mut sub = cti.subscribe(Filter::all().agent("A7"));
    h.push(DriverEvent::Agent {
        link: "pbx".into(),
        agent: "A7".into(),
        event: AgentEventKind::LoggedOn {
            device: Some("1001".into()),
            queues: vec![],
        },
    });
    until(&mut sub, is_type(EventType::AgentStateChanged)).await;
    assert!(cti.agents().iter().any(|a| a.id.as_str() == "A7"));
    cti.agent_not_ready("A7", Some("lunch".into()))
        .await
        .unwrap();
    cti.agent_ready("A7").await.unwrap();
    cti.agent_after_call_work("A7").await.unwrap();
    cti.agent_logout("A7").await.unwrap();
    cti.agent_login("A7", "1001", vec!["sales".into()])
        .await
        .unwrap();
    let verbs: Vec<Command> = h.commands().into_iter().map(|c| c.command).collect();
    assert_eq!(
        verbs[0],
        Command::AgentNotReady {
            agent: "A7".into(),
            reason: Some("lunch".into())
        }
    );
    assert_eq!(verbs.len(), 5);
    assert!(!matches!(
        cti.agent("A7").unwrap().status,
        AgentStatus::LoggedOut
    ));
    // An agent no link knows, with two links able to control agents: no route.
    let (da, _) = fake("a", all_caps());
    let (db, _) = fake("b", all_caps());
    let two = Cti::builder().driver(da).driver(db).build().unwrap();
    assert!(matches!(
        two.agent_ready("nobody").await,
        Err(Error::NoLink(_))
    ));
}

#[tokio::test]
async fn one_pbx_monitor_serves_every_holder() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    assert!(
        cti.monitor(&["1001", "1002"])
            .await
            .iter()
            .all(Result::is_ok)
    );
    assert!(cti.monitor(&["1001"]).await[0].is_ok());
    assert_eq!(h.log.lock().unwrap().monitored.len(), 2);
    assert!(cti.unmonitor(&["1001"]).await[0].is_ok());
    assert!(h.log.lock().unwrap().unmonitored.is_empty());
    assert!(cti.unmonitor(&["1001"]).await[0].is_ok());
    assert_eq!(h.log.lock().unwrap().unmonitored.len(), 1);
    assert!(matches!(
        cti.unmonitor(&["1001"]).await[0],
        Err(Error::InvalidDevice(_))
    ));
}

#[tokio::test]
async fn with_several_links_each_device_belongs_to_one() {
    let (da, ha) = fake("a", all_caps());
    let (db, hb) = fake("b", all_caps());
    let cti = Cti::builder().driver(da).driver(db).build().unwrap();
    let mut sub = cti.subscribe(Filter::all());
    ha.up();
    hb.up();
    let mut ups = 0;
    while ups < 2 {
        if matches!(
            next(&mut sub).await.unwrap().kind,
            EventKind::LinkStateChanged { .. }
        ) {
            ups += 1;
        }
    }
    // Ambiguous: two links could monitor it.
    assert!(matches!(
        cti.monitor(&["3001"]).await[0],
        Err(Error::NoLink(_))
    ));
    assert!(cti.monitor_on("b", &["3001"]).await[0].is_ok());
    assert!(matches!(
        cti.monitor_on("a", &["3001"]).await[0],
        Err(Error::InvalidDevice(_))
    ));
    assert!(cti.monitor(&["3001"]).await[0].is_ok(), "known owner");
    assert_eq!(hb.log.lock().unwrap().monitored.len(), 1);
    assert!(ha.log.lock().unwrap().monitored.is_empty());
    cti.make_call("3001", "030123").await.unwrap();
    assert_eq!(hb.commands().len(), 1);
    assert!(ha.commands().is_empty());
    // A device first reported by link a belongs to a.
    ha.monitored("4001");
    ha.ring("k", "4001", "0301");
    until(&mut sub, is_type(EventType::CallAlerting)).await;
    assert_eq!(cti.device_link("4001").as_deref(), Some("a"));
    let call = cti.calls_at("4001")[0].id;
    // 3001 belongs to link b: it cannot answer a call of link a.
    assert!(
        matches!(cti.answer(call, "3001").await, Err(Error::InvalidDevice(d)) if d.as_str() == "3001")
    );
    cti.answer(call, "4001").await.unwrap();
    assert_eq!(ha.commands().len(), 1);
    let links = cti.links();
    assert_eq!(
        links.iter().map(|l| l.link.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(links.iter().all(|l| l.state == LinkState::Up));
    assert!(matches!(cti.capabilities("nope"), Err(Error::NoLink(_))));
}

#[tokio::test]
async fn finished_calls_come_as_records() {
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(d).build().unwrap();
    let mut records = cti.call_records();
    h.up();
    h.monitored("1001");
    h.ring("c1", "1001", "030123456");
    h.answer("c1", "1001", "030123456");
    h.hang_up("c1");
    let r = tokio::time::timeout(Duration::from_secs(5), records.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.outcome, Some(Outcome::Answered));
    assert_eq!(r.answered_by.as_deref(), Some("1001"));
    assert!(r.answered_at.is_some() && r.ended_at.is_some());
    assert_eq!(cti.finished_calls().len(), 1);
    assert!(cti.calls().is_empty());
}

#[tokio::test]
async fn sequence_numbers_resume_and_the_hook_sees_every_event() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let (d, h) = fake("pbx", all_caps());
    let cti = Cti::builder()
        .driver(d)
        .resume_seq(100)
        .on_event(move |e| s2.lock().unwrap().push(e.seq))
        .build()
        .unwrap();
    let mut sub = cti.subscribe(Filter::all());
    h.up();
    assert_eq!(next(&mut sub).await.unwrap().seq, 101);
    assert_eq!(*seen.lock().unwrap(), vec![101]);
}

#[tokio::test]
async fn shutdown_closes_streams_and_refuses_commands() {
    let (cti, _h, call) = ringing().await;
    let mut sub = cti.subscribe(Filter::all());
    cti.shutdown().await;
    assert!(cti.is_closed());
    assert_eq!(next(&mut sub).await, Err(RecvError::Closed));
    assert!(matches!(cti.answer(call, "1001").await, Err(Error::Closed)));
    let mut late = cti.subscribe(Filter::all());
    assert_eq!(next(&mut late).await, Err(RecvError::Closed));
}

#[tokio::test(start_paused = true)]
async fn wait_up_waits_for_every_link() {
    let (da, ha) = fake("a", all_caps());
    let (db, hb) = fake("b", all_caps());
    let cti = Cti::builder().driver(da).driver(db).build().unwrap();
    ha.up();
    assert!(matches!(
        cti.wait_up(Duration::from_secs(1)).await,
        Err(Error::Timeout)
    ));
    hb.up();
    cti.wait_up(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test]
async fn a_driver_that_cannot_run_is_reported() {
    let cti = Cti::builder()
        .driver(common::failing("bad", Error::Unsupported))
        .build()
        .unwrap();
    let r = cti.wait_up(Duration::from_secs(5)).await;
    assert!(matches!(r, Err(Error::Unsupported)), "{r:?}");
    // Every driver stopped, and still the handle lives: state can be read, subscribers wait.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!cti.is_closed());
    let mut sub = cti.subscribe(Filter::all());
    assert_eq!(sub.try_recv(), None);
    for _ in 0..100 {
        if cti.links()[0].error.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let l = &cti.links()[0];
    assert!(matches!(l.error, Some(Error::Unsupported)));
    assert_eq!(l.state, LinkState::Down);
}

#[test]
fn build_needs_a_runtime_and_unique_links() {
    assert!(matches!(Cti::builder().build(), Err(Error::NoRuntime)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (a, _) = fake("x", all_caps());
        let (b, _) = fake("x", all_caps());
        assert!(matches!(
            Cti::builder().driver(a).driver(b).build(),
            Err(Error::DuplicateLink(_))
        ));
        assert!(matches!(
            Cti::builder().link("p", "nonsense"),
            Err(Error::Config(_))
        ));
    });
}

#[tokio::test]
async fn monitors_go_to_each_link_in_one_batch() {
    let (da, ha) = fake("a", all_caps());
    let (db, hb) = fake("b", all_caps());
    let cti = Cti::builder().driver(da).driver(db).build().unwrap();
    let r = cti.monitor_on("a", &["1", "2", "bad3"]).await;
    assert!(r[0].is_ok() && r[1].is_ok());
    assert!(
        matches!(&r[2], Err(Error::InvalidDevice(d)) if d.as_str() == "bad3"),
        "{r:?}"
    );
    assert_eq!(ha.log.lock().unwrap().monitor_batches.len(), 1);
    assert!(cti.monitor_on("b", &["9"]).await[0].is_ok());
    // 1 and 9 are held already (no PBX request); 5 has no owner and two links could take it.
    let r = cti.monitor(&["1", "9", "5"]).await;
    assert!(r[0].is_ok() && r[1].is_ok());
    assert!(matches!(r[2], Err(Error::NoLink(_))));
    assert_eq!(ha.log.lock().unwrap().monitor_batches.len(), 1);
    assert_eq!(hb.log.lock().unwrap().monitor_batches.len(), 1);
    // A refused device holds nothing: asking again asks the PBX again.
    assert!(cti.monitor_on("a", &["bad3"]).await[0].is_err());
    assert_eq!(ha.log.lock().unwrap().monitor_batches.len(), 2);
}

#[test]
fn the_handles_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    send_sync::<Cti>();
    send_sync::<hookflash::Subscription>();
    send::<hookflash::ScreenPops>();
    send::<hookflash::Stream<hookflash::core::model::Call>>();
    send_sync::<Error>();
}
