//! Park and retrieval from park: commanded and generated.

use hookflash_sim::{
    CallId, Command, ConnectionId, Engine, EventCause, EventKind, LocalConnectionState, OutcomeMix,
    Output, Response, SimConfig, SimError,
};

fn quiet() -> SimConfig {
    SimConfig {
        calls_per_minute: 0.0,
        poll_interval_ms: 0,
        agents: 2,
        extensions: 4,
        park_positions: 2,
        truth: true,
        ..SimConfig::default()
    }
}

fn conn(call: &CallId, d: &str) -> ConnectionId {
    ConnectionId {
        call: call.clone(),
        device: d.into(),
    }
}

fn events(e: &mut Engine) -> Vec<EventKind> {
    let mut out = Vec::new();
    while let Some(o) = e.poll_output() {
        if let Output::Event(m) = o {
            out.push(m.kind);
        }
    }
    out
}

#[test]
fn a_parked_call_waits_at_the_park_position_until_retrieved() {
    let mut e = Engine::new(quiet());
    for d in ["200000", "200001", "200002", "7000"] {
        e.handle_command(0, Command::MonitorStart(d.into()))
            .unwrap();
    }
    let Ok(Response::CallStarted(c)) = e.handle_command(
        0,
        Command::MakeCall {
            calling: "200000".into(),
            called: "200001".into(),
        },
    ) else {
        panic!("make call");
    };
    let call = c.call.clone();
    e.handle_command(10, Command::AnswerCall(conn(&call, "200001")))
        .unwrap();
    events(&mut e);
    // Parking a connection that is not connected is refused; so is a position that is no
    // park position.
    assert_eq!(
        e.handle_command(
            20,
            Command::ParkCall {
                conn: conn(&call, "200001"),
                to: Some("200003".into())
            }
        ),
        Err(SimError::InvalidDevice("200003".into()))
    );
    let r = e
        .handle_command(
            20,
            Command::ParkCall {
                conn: conn(&call, "200001"),
                to: None,
            },
        )
        .unwrap();
    assert_eq!(r, Response::Parked(conn(&call, "7000")));
    let ev = events(&mut e);
    assert!(ev.iter().any(|k| matches!(k, EventKind::ConnectionCleared { releasing, cause: EventCause::Park, .. } if releasing == "200001")));
    assert!(ev.iter().any(
        |k| matches!(k, EventKind::Queued { queue, cause: EventCause::Park, .. } if queue == "7000")
    ));
    let Ok(Response::Device(s)) = e.handle_command(30, Command::SnapshotDevice("7000".into()))
    else {
        panic!("snapshot");
    };
    assert_eq!(
        s.connections,
        vec![(conn(&call, "7000"), LocalConnectionState::Queued)]
    );
    // 200001 is free again and can be called; 7000 cannot be called.
    assert_eq!(
        e.handle_command(
            30,
            Command::MakeCall {
                calling: "200003".into(),
                called: "7000".into()
            }
        ),
        Err(SimError::InvalidDevice("7000".into()))
    );
    // Retrieval: a directed pickup of the park position's connection.
    e.handle_command(
        40,
        Command::DirectedPickup {
            conn: conn(&call, "7000"),
            picker: "200002".into(),
        },
    )
    .unwrap();
    let ev = events(&mut e);
    assert!(ev.iter().any(|k| matches!(k, EventKind::Diverted { from, to, cause: EventCause::Park, .. } if from == "7000" && to == "200002")));
    assert!(ev.iter().any(|k| matches!(k, EventKind::Established { conn: c, cause: EventCause::Park, .. } if c.device == "200002")));
    e.handle_command(50, Command::ClearCall(call.clone()))
        .unwrap();
    let truth: Vec<String> = std::iter::from_fn(|| e.poll_truth()).collect();
    let line = truth
        .iter()
        .find(|l| l.contains("\"kind\":\"call\""))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["outcome"], "answered");
    assert_eq!(v["answered_by"], "200001");
}

#[test]
fn park_positions_fill_up() {
    let mut e = Engine::new(SimConfig {
        park_positions: 1,
        ..quiet()
    });
    let mut calls = Vec::new();
    for (a, b) in [("200000", "200001"), ("200002", "200003")] {
        let Ok(Response::CallStarted(c)) = e.handle_command(
            0,
            Command::MakeCall {
                calling: a.into(),
                called: b.into(),
            },
        ) else {
            panic!()
        };
        e.handle_command(0, Command::AnswerCall(conn(&c.call, b)))
            .unwrap();
        calls.push((c.call, b));
    }
    let park = |e: &mut Engine, i: usize| {
        e.handle_command(
            0,
            Command::ParkCall {
                conn: conn(&calls[i].0, calls[i].1),
                to: None,
            },
        )
    };
    assert!(park(&mut e, 0).is_ok());
    assert_eq!(park(&mut e, 1), Err(SimError::NotPermittedInState));
}

#[test]
fn generated_park_calls_are_retrieved_and_end() {
    let mut e = Engine::new(SimConfig {
        seed: 5,
        calls_per_minute: 4.0,
        agents: 4,
        extensions: 6,
        truth: true,
        mix: OutcomeMix {
            answered: 0,
            abandoned: 0,
            busy: 0,
            no_answer: 0,
            consult_transfer: 0,
            blind_transfer: 0,
            conference: 0,
            forward_no_answer: 0,
            pickup: 0,
            hold: 0,
            outbound: 0,
            park: 1,
        },
        ..SimConfig::default()
    });
    e.handle_command(0, Command::MonitorStart("7000".into()))
        .unwrap();
    let mut parked = 0;
    let mut retrieved = 0;
    for t in 1..=360 {
        e.step(t * 10_000);
        for k in events(&mut e) {
            match k {
                EventKind::Queued {
                    cause: EventCause::Park,
                    ..
                } => parked += 1,
                EventKind::Diverted {
                    cause: EventCause::Park,
                    ..
                } => retrieved += 1,
                _ => {}
            }
        }
    }
    assert!(parked > 10, "{parked}");
    assert!(retrieved > 10, "{retrieved}");
    let s = e.stats();
    assert!(s.answered > 10 && s.calls_ended + e.active_calls() as u64 >= s.calls_offered);
}
