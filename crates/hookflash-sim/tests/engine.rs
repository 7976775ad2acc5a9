//! Engine invariants under long seeded runs, command errors and fault modes.

use std::collections::{HashMap, HashSet};

use hookflash_sim::{
    AgentState, CallId, Command, ConnectionId, Engine, EventCause, EventKind,
    LocalConnectionState as Lcs, Output, Response, SimConfig, SimError,
};

fn monitor_all(e: &mut Engine) {
    for dn in e.device_numbers() {
        let r = e.handle_command(0, Command::MonitorStart(dn));
        assert!(matches!(r, Ok(Response::MonitorStarted(_))), "{r:?}");
    }
}

/// Runs `calls` generated calls to completion; returns outputs and truth lines.
fn run(cfg: SimConfig, until_ms: u64) -> (Engine, Vec<Output>, Vec<String>) {
    let mut e = Engine::new(cfg);
    monitor_all(&mut e);
    let mut outs = Vec::new();
    let mut truth = Vec::new();
    let mut now = 0;
    while now < until_ms {
        now += 1_000;
        e.step(now);
        while let Some(o) = e.poll_output() {
            outs.push(o);
        }
        while let Some(t) = e.poll_truth() {
            truth.push(t);
        }
    }
    (e, outs, truth)
}

fn busy_cfg(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        agents: 185,
        queues: 3,
        extensions: 200,
        trunks: 400,
        calls_per_minute: 300.0,
        talk_ms: 20_000,
        truth: true,
        poll_interval_ms: 0,
        monitor_limit: 10_000,
        ..SimConfig::default()
    }
}

#[test]
fn long_run_invariants() {
    // 300 calls/min for 2 hours ≈ 36k calls, parked calls among them.
    let mut cfg = busy_cfg(7);
    cfg.mix.park = 3;
    let (e, outs, truth) = run(cfg, 2 * 3_600_000);
    let st = e.stats().clone();
    assert!(st.calls_offered > 30_000, "{st:?}");
    // Every call ends exactly once: offered = ended + still alive (non-consultation).
    let alive = e.active_calls() as u64;
    assert!(st.calls_ended + alive >= st.calls_offered);
    assert!(st.calls_ended <= st.calls_offered);
    assert_eq!(
        truth
            .iter()
            .filter(|l| l.contains("\"kind\":\"call\""))
            .count() as u64,
        st.calls_ended
    );
    assert_eq!(
        st.answered + st.abandoned + st.busy + st.no_answer + st.failed,
        st.calls_ended
    );
    assert!(
        st.answered > 0 && st.abandoned > 0 && st.busy > 0 && st.no_answer > 0,
        "{st:?}"
    );
    assert!(st.answered_in_service_level <= st.acd_answered);
    // Queue counters consistent with the model.
    let queued: usize = e.queue_lengths().iter().sum();
    assert!(queued <= e.active_calls());
    assert!(e.trunks_in_use() <= 400);

    // Replay the event stream: no device in two connected calls, every CallCleared once.
    let mut state: HashMap<(CallId, String), Lcs> = HashMap::new();
    let mut cleared: HashSet<CallId> = HashSet::new();
    let mut busy_failed = 0u64;
    let mut noanswer_failed = 0u64;
    let mut transferred = 0u64;
    let mut conferenced = 0u64;
    let mut not_ready = 0u64;
    for o in &outs {
        let Output::Event(ev) = o else { continue };
        match &ev.kind {
            EventKind::CallCleared { call, .. } => {
                // Each monitored party reports it; dedupe by (call, device).
                state.retain(|(c, _), _| c != call);
                cleared.insert(call.clone());
            }
            EventKind::Failed {
                cause: EventCause::Busy,
                failing,
                ..
            } if failing == &ev.device => busy_failed += 1,
            EventKind::Failed {
                cause: EventCause::NoAnswer,
                failing,
                ..
            } if failing == &ev.device => noanswer_failed += 1,
            EventKind::Transferred {
                transferring,
                new_call,
                primary_old_call,
                secondary_old_call: Some(s),
                connections,
                ..
            } if transferring == &ev.device => {
                transferred += 1;
                assert_ne!(
                    new_call, primary_old_call,
                    "OpenScape mode changes the call id"
                );
                assert_ne!(new_call, s);
                assert!(!connections.is_empty());
                state.retain(|(c, _), _| c != primary_old_call && c != s);
                for (n, _) in connections {
                    state.insert((n.call.clone(), n.device.clone()), Lcs::Connected);
                }
            }
            EventKind::AgentNotReady {
                reason: Some(1..=3),
                ..
            } => not_ready += 1,
            EventKind::Transferred {
                transferring,
                primary_old_call,
                secondary_old_call: None,
                ..
            } => {
                state.remove(&(primary_old_call.clone(), transferring.clone()));
            }
            EventKind::Conferenced {
                conferencing,
                secondary_old_call,
                ..
            } => {
                state.retain(|(c, _), _| c != secondary_old_call);
                if conferencing == &ev.device {
                    conferenced += 1;
                }
            }
            _ => {}
        }
        let conn: Option<&ConnectionId> = match &ev.kind {
            EventKind::Established { conn, .. }
            | EventKind::Held { conn, .. }
            | EventKind::Retrieved { conn, .. }
            | EventKind::Delivered { conn, .. }
            | EventKind::ConnectionCleared { conn, .. }
            | EventKind::Diverted { conn, .. } => Some(conn),
            _ => None,
        };
        if let (Some(c), Some(ls)) = (conn, ev.local_state)
            && c.device == ev.device
        {
            state.insert((c.call.clone(), c.device.clone()), ls);
        }
        // Invariant: no device is connected in two calls at once.
        let mut per_dev: HashMap<&str, u32> = HashMap::new();
        if let Some(c) = conn {
            for ((_, d), s) in &state {
                if d == &c.device && *s == Lcs::Connected {
                    *per_dev.entry(d.as_str()).or_default() += 1;
                }
            }
            for (d, n) in per_dev {
                assert!(n <= 1, "device {d} connected in {n} calls at {}", ev.at_ms);
            }
        }
    }
    // Failed(busy) also occurs on consultation legs, which have no truth line of their own.
    assert!(busy_failed >= st.busy, "{st:?} busy_failed={busy_failed}");
    assert!(
        st.failed < st.calls_ended / 100,
        "dimensioned so trunks rarely run out: {st:?}"
    );
    assert_eq!(
        noanswer_failed, st.no_answer,
        "truth no-answer count matches Failed(noAnswer) events"
    );
    let truth_transfers = truth
        .iter()
        .filter(|l| l.contains("\"transfers\":[\""))
        .count() as u64;
    assert!(transferred > 0 && conferenced > 0 && not_ready > 0);
    assert!(
        truth_transfers + alive >= transferred,
        "{truth_transfers} {transferred}"
    );
    let truth_conf = truth
        .iter()
        .filter(|l| l.contains("\"conferenced\":true"))
        .count() as u64;
    assert!(truth_conf <= conferenced && truth_conf > 0);
    // Busy and trunk-failed calls never had a connection at a monitored device.
    assert!(cleared.len() as u64 + st.busy + st.failed >= st.calls_ended);
    assert_eq!(st.outputs_dropped, 0);
}

#[test]
fn same_seed_same_output() {
    let a = run(busy_cfg(99), 600_000);
    let b = run(busy_cfg(99), 600_000);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    let c = run(busy_cfg(100), 600_000);
    assert_ne!(a.2, c.2);
}

#[test]
fn truth_lines_have_the_issue_shape() {
    let (_, _, truth) = run(busy_cfg(3), 600_000);
    let mut saw_call = false;
    let mut saw_agent = false;
    for line in &truth {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        match v["kind"].as_str() {
            Some("call") => {
                saw_call = true;
                for k in [
                    "calling",
                    "called",
                    "answered_by",
                    "agent",
                    "queue",
                    "outcome",
                    "transfers",
                    "conferenced",
                    "offered_at",
                    "answered_at",
                    "ended_at",
                ] {
                    assert!(v.get(k).is_some(), "missing {k} in {line}");
                }
                let o = v["outcome"].as_str().unwrap_or("");
                assert!(["answered", "abandoned", "busy", "no-answer", "failed"].contains(&o));
                assert_eq!(o == "answered", !v["answered_at"].is_null(), "{line}");
                assert!(
                    v["offered_at"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("2026-11-23T") && s.ends_with('Z'))
                );
            }
            Some("agent") => {
                saw_agent = true;
                for k in ["agent", "device", "group", "state", "reason", "at"] {
                    assert!(v.get(k).is_some(), "missing {k} in {line}");
                }
            }
            other => panic!("unexpected kind {other:?}"),
        }
    }
    assert!(saw_call && saw_agent);
}

fn quiet() -> SimConfig {
    SimConfig {
        calls_per_minute: 0.0,
        agents: 2,
        queues: 1,
        extensions: 3,
        monitor_limit: 3,
        poll_interval_ms: 10_000,
        ..SimConfig::default()
    }
}

fn events(e: &mut Engine) -> Vec<EventKind> {
    let mut v = Vec::new();
    while let Some(o) = e.poll_output() {
        if let Output::Event(ev) = o {
            v.push(ev.kind);
        }
    }
    v
}

#[test]
fn monitor_limit_and_invalid_device() {
    let mut e = Engine::new(quiet());
    for dn in ["200000", "200001", "200002"] {
        assert!(
            e.handle_command(0, Command::MonitorStart(dn.into()))
                .is_ok()
        );
    }
    assert_eq!(
        e.handle_command(0, Command::MonitorStart("300000".into())),
        Err(SimError::MonitorLimitExceeded)
    );
    assert_eq!(
        e.handle_command(0, Command::MonitorStart("999".into())),
        Err(SimError::InvalidDevice("999".into()))
    );
    assert_eq!(
        e.handle_command(0, Command::MonitorStop(77)),
        Err(SimError::InvalidMonitor(77))
    );
    assert_eq!(
        e.handle_command(0, Command::MonitorStop(1)),
        Ok(Response::Ok)
    );
    assert!(
        e.handle_command(0, Command::MonitorStart("300000".into()))
            .is_ok()
    );
}

#[test]
fn make_answer_hold_transfer_clear_with_errors() {
    let mut e = Engine::new(quiet());
    for dn in ["200000", "200001", "200002"] {
        e.handle_command(0, Command::MonitorStart(dn.into())).ok();
    }
    assert_eq!(
        e.handle_command(
            0,
            Command::MakeCall {
                calling: "42".into(),
                called: "200001".into()
            }
        ),
        Err(SimError::InvalidDevice("42".into()))
    );
    let Ok(Response::CallStarted(a)) = e.handle_command(
        10,
        Command::MakeCall {
            calling: "200000".into(),
            called: "200001".into(),
        },
    ) else {
        panic!("make call")
    };
    // Busy originator.
    assert_eq!(
        e.handle_command(
            20,
            Command::MakeCall {
                calling: "200000".into(),
                called: "200002".into()
            }
        ),
        Err(SimError::NotPermittedInState)
    );
    let b = ConnectionId {
        call: a.call.clone(),
        device: "200001".into(),
    };
    assert_eq!(
        e.handle_command(30, Command::HoldCall(b.clone())),
        Err(SimError::NotPermittedInState)
    );
    assert_eq!(
        e.handle_command(30, Command::AnswerCall(a.clone())),
        Err(SimError::NotPermittedInState)
    );
    assert_eq!(
        e.handle_command(40, Command::AnswerCall(b.clone())),
        Ok(Response::Ok)
    );
    let ev = events(&mut e);
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::ServiceInitiated { .. }))
    );
    assert!(ev.iter().any(|k| matches!(k, EventKind::Delivered { .. })));
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::Established { .. }))
    );
    // Consultation from 200001 to 200002, answered, then transfer.
    let Ok(Response::CallStarted(c)) = e.handle_command(
        50,
        Command::ConsultationCall {
            held: b.clone(),
            consulted: "200002".into(),
        },
    ) else {
        panic!("consult")
    };
    let d = ConnectionId {
        call: c.call.clone(),
        device: "200002".into(),
    };
    assert_eq!(
        e.handle_command(60, Command::AnswerCall(d)),
        Ok(Response::Ok)
    );
    let bad = ConnectionId {
        call: CallId(b"nope".to_vec()),
        device: "200001".into(),
    };
    assert_eq!(
        e.handle_command(
            65,
            Command::TransferCall {
                held: bad,
                active: c.clone()
            }
        ),
        Err(SimError::InvalidConnection)
    );
    let Ok(Response::Joined(new_id)) = e.handle_command(
        70,
        Command::TransferCall {
            held: b.clone(),
            active: c.clone(),
        },
    ) else {
        panic!("transfer")
    };
    assert_ne!(new_id, a.call);
    assert_ne!(new_id, c.call);
    let ev = events(&mut e);
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::Transferred { new_call, .. } if *new_call == new_id))
    );
    // Old ids are gone, the new one is snapshot-able with both remaining parties.
    assert_eq!(
        e.handle_command(80, Command::SnapshotCall(a.call.clone())),
        Err(SimError::InvalidConnection)
    );
    let Ok(Response::Call(snap)) = e.handle_command(80, Command::SnapshotCall(new_id.clone()))
    else {
        panic!()
    };
    let mut devs: Vec<_> = snap
        .connections
        .iter()
        .map(|(c, _)| c.device.clone())
        .collect();
    devs.sort();
    assert_eq!(devs, ["200000", "200002"]);
    assert_eq!(
        e.handle_command(90, Command::ClearCall(new_id.clone())),
        Ok(Response::Ok)
    );
    assert!(
        events(&mut e)
            .iter()
            .any(|k| matches!(k, EventKind::CallCleared { call, .. } if *call == new_id))
    );
    assert_eq!(e.active_calls(), 0);
}

#[test]
fn busy_destination_fails_with_busy() {
    let mut e = Engine::new(quiet());
    e.handle_command(0, Command::MonitorStart("200002".into()))
        .ok();
    e.handle_command(
        0,
        Command::MakeCall {
            calling: "200000".into(),
            called: "200001".into(),
        },
    )
    .ok();
    let r = e.handle_command(
        0,
        Command::MakeCall {
            calling: "200002".into(),
            called: "200001".into(),
        },
    );
    assert!(r.is_ok());
    assert!(events(&mut e).iter().any(|k| matches!(
        k,
        EventKind::Failed {
            cause: EventCause::Busy,
            ..
        }
    )));
}

#[test]
fn agent_states_and_acd_distribution() {
    let mut e = Engine::new(quiet());
    e.handle_command(0, Command::MonitorStart("300000".into()))
        .ok();
    e.handle_command(0, Command::MonitorStart("6000".into()))
        .ok();
    assert_eq!(
        e.handle_command(
            0,
            Command::SetAgentState {
                device: "200000".into(),
                state: AgentState::Ready
            }
        ),
        Err(SimError::InvalidDevice("200000".into()))
    );
    assert_eq!(
        e.handle_command(
            0,
            Command::SetAgentState {
                device: "300000".into(),
                state: AgentState::Busy
            }
        ),
        Err(SimError::NotPermittedInState)
    );
    // Both agents not ready: the call queues.
    for d in ["300000", "300001"] {
        assert_eq!(
            e.handle_command(
                0,
                Command::SetAgentState {
                    device: d.into(),
                    state: AgentState::NotReady(Some(3))
                }
            ),
            Ok(Response::Ok)
        );
    }
    e.handle_command(
        0,
        Command::MakeCall {
            calling: "200000".into(),
            called: "6000".into(),
        },
    )
    .ok();
    assert_eq!(e.queue_lengths(), vec![1]);
    let ev = events(&mut e);
    assert!(ev.iter().any(|k| matches!(
        k,
        EventKind::AgentNotReady {
            reason: Some(3),
            ..
        }
    )));
    assert!(ev.iter().any(|k| matches!(
        k,
        EventKind::Queued {
            calls_in_queue: 1,
            ..
        }
    )));
    // Agent ready → distributed to it, alerting.
    e.handle_command(
        100,
        Command::SetAgentState {
            device: "300000".into(),
            state: AgentState::Ready,
        },
    )
    .ok();
    assert_eq!(e.queue_lengths(), vec![0]);
    let Ok(Response::Device(s)) = e.handle_command(100, Command::SnapshotDevice("300000".into()))
    else {
        panic!()
    };
    assert_eq!(s.agent, Some(AgentState::Busy));
    assert_eq!(s.connections.len(), 1);
    assert_eq!(s.connections[0].1, Lcs::Alerting);
    assert_eq!(
        e.handle_command(
            100,
            Command::SetAgentState {
                device: "300000".into(),
                state: AgentState::Ready
            }
        ),
        Err(SimError::NotPermittedInState)
    );
    let conn = s.connections[0].0.clone();
    e.handle_command(200, Command::AnswerCall(conn.clone()))
        .ok();
    e.handle_command(300, Command::ClearConnection(conn)).ok();
    let Ok(Response::Device(s)) = e.handle_command(300, Command::SnapshotDevice("300000".into()))
    else {
        panic!()
    };
    assert_eq!(s.agent, Some(AgentState::WorkingAfterCall));
    assert!(s.connections.is_empty());
    let ev = events(&mut e);
    assert!(ev.iter().any(|k| matches!(
        k,
        EventKind::Diverted {
            cause: EventCause::Distributed,
            ..
        }
    )));
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::AgentWorkingAfterCall { .. }))
    );
    // Wrap-up ends by itself.
    e.step(10_000_000);
    let Ok(Response::Device(s)) =
        e.handle_command(10_000_000, Command::SnapshotDevice("300000".into()))
    else {
        panic!()
    };
    assert_eq!(s.agent, Some(AgentState::Ready));
}

#[test]
fn fault_modes() {
    let mut e = Engine::new(quiet());
    e.handle_command(0, Command::MonitorStart("200000".into()))
        .ok();
    assert_eq!(
        e.handle_command(0, Command::SystemStatus),
        Ok(Response::Status(hookflash_sim::SystemStatus::Normal))
    );
    e.step(10_000);
    assert!(matches!(
        e.poll_output(),
        Some(Output::SystemStatusPoll { .. })
    ));
    e.handle_command(10_000, Command::FaultStopAnsweringPolls)
        .ok();
    assert_eq!(
        e.handle_command(10_000, Command::SystemStatus),
        Ok(Response::Silent)
    );
    e.handle_command(10_000, Command::FaultRestart).ok();
    assert_eq!(e.monitor_count(), 0);
    assert!(matches!(e.poll_output(), Some(Output::Restarted { .. })));
    e.handle_command(10_000, Command::FaultRecover).ok();
    e.handle_command(10_000, Command::MonitorStart("200000".into()))
        .ok();
    e.handle_command(10_000, Command::FaultDropLink).ok();
    assert!(e.link_is_down());
    assert_eq!(e.monitor_count(), 0);
    assert_eq!(
        e.handle_command(10_000, Command::SystemStatus),
        Err(SimError::LinkDown)
    );
    while e.poll_output().is_some() {}
    e.step(30_000);
    assert!(
        e.poll_output().is_none(),
        "nothing is sent while the link is down"
    );
    e.handle_command(30_000, Command::FaultRecover).ok();
    assert!(!e.link_is_down());
}

#[test]
fn random_faults_are_seeded() {
    let cfg = SimConfig {
        random_fault_ms: 60_000,
        ..busy_cfg(5)
    };
    let a = run(cfg.clone(), 1_800_000);
    let b = run(cfg, 1_800_000);
    let faults = |o: &Vec<Output>| {
        o.iter()
            .filter(|x| matches!(x, Output::Restarted { .. } | Output::LinkDropped { .. }))
            .count()
    };
    assert!(faults(&a.1) > 0);
    assert_eq!(a.1, b.1);
}

/// A monitored extension that a generated call finds busy hears of the call (Failed) and of its
/// end (CallCleared), so a client never keeps the call forever.
#[test]
fn a_busy_destination_hears_the_call_end() {
    let mut e = Engine::new(SimConfig {
        calls_per_minute: 120.0,
        seed: 9,
        mix: hookflash_sim::OutcomeMix {
            busy: 1,
            answered: 0,
            abandoned: 0,
            no_answer: 0,
            consult_transfer: 0,
            blind_transfer: 0,
            conference: 0,
            forward_no_answer: 0,
            pickup: 0,
            hold: 0,
            outbound: 0,
            park: 0,
        },
        ..SimConfig::default()
    });
    for d in e.device_numbers() {
        e.handle_command(0, Command::MonitorStart(d)).ok();
    }
    let mut failed: Vec<(String, CallId)> = Vec::new();
    let mut cleared: Vec<(String, CallId)> = Vec::new();
    let mut now = 0;
    while now < 600_000 {
        now = e.poll_timeout().unwrap_or(now + 1000).max(now + 1);
        e.step(now);
        while let Some(o) = e.poll_output() {
            if let Output::Event(ev) = o {
                match ev.kind {
                    EventKind::Failed {
                        conn,
                        cause: EventCause::Busy,
                        ..
                    } => failed.push((ev.device, conn.call)),
                    EventKind::CallCleared { call, .. } => cleared.push((ev.device, call)),
                    _ => {}
                }
            }
        }
    }
    assert!(failed.len() > 10, "{}", failed.len());
    for f in &failed {
        assert!(cleared.contains(f), "{f:?} never heard the call end");
    }
}
