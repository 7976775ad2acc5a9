//! Scenario tests: scripted driver event sequences (as a CSTA PBX sends them) with the expected
//! normalized stream, one compact line per event.

use hookflash_core::driver::{
    AgentEventKind as A, CallEventKind as C, Cause, DriverEvent, SnapshotEntry,
};
use hookflash_core::engine::Engine;
use hookflash_core::event::EventKind as K;
use hookflash_core::model::{Availability, ConnectionState, Outcome, Timestamp};

struct Script {
    e: Engine,
    t: u64,
}

const LINK: &str = "pbx";

impl Script {
    fn new(monitored: &[&str]) -> Self {
        let mut e = Engine::default();
        e.handle(Timestamp(0), DriverEvent::LinkUp { link: LINK.into() });
        for d in monitored {
            e.handle(
                Timestamp(0),
                DriverEvent::Monitor {
                    link: LINK.into(),
                    device: (*d).into(),
                    monitored: true,
                },
            );
        }
        e.drain_events().for_each(drop);
        Self { e, t: 1_000 }
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        self.t = ms;
        self
    }

    fn call(&mut self, call: &str, ev: C) -> &mut Self {
        self.call_c(call, ev, None)
    }

    fn call_c(&mut self, call: &str, ev: C, cause: Option<Cause>) -> &mut Self {
        self.t += 100;
        self.e.handle(
            Timestamp(self.t),
            DriverEvent::Call {
                link: LINK.into(),
                call: call.into(),
                event: ev,
                cause,
            },
        );
        self
    }

    fn agent(&mut self, agent: &str, ev: A) -> &mut Self {
        self.t += 100;
        self.e.handle(
            Timestamp(self.t),
            DriverEvent::Agent {
                link: LINK.into(),
                agent: agent.into(),
                event: ev,
            },
        );
        self
    }

    fn raw(&mut self, ev: DriverEvent) -> &mut Self {
        self.t += 100;
        self.e.handle(Timestamp(self.t), ev);
        self
    }

    /// The events since the last call, one line each, in order; sequence numbers checked.
    fn out(&mut self) -> Vec<String> {
        let evs: Vec<_> = self.e.drain_events().collect();
        for w in evs.windows(2) {
            assert_eq!(w[1].seq, w[0].seq + 1, "sequence numbers are gap-free");
        }
        evs.into_iter()
            .map(|ev| line(&ev.kind))
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Like `out`, without queue statistics and agent lines (for call-flow scenarios).
    fn calls_only(&mut self) -> Vec<String> {
        self.out()
            .into_iter()
            .filter(|l| !l.starts_with("queue ") && !l.starts_with("agent "))
            .collect()
    }
}

fn num(n: Option<&hookflash_core::model::Number>) -> String {
    n.map_or_else(
        || "-".to_owned(),
        |n| n.e164.clone().unwrap_or_else(|| n.raw.clone()),
    )
}

fn line(k: &K) -> String {
    match k {
        K::CallOffered {
            call,
            ani,
            dnis,
            direction,
        } => format!(
            "offered {call} ani={} dnis={} {}",
            num(ani.as_ref()),
            num(dnis.as_ref()),
            direction.map_or("-".into(), |d| format!("{d:?}").to_lowercase())
        ),
        K::CallAlerting { call, device } => format!("alerting {call} {device}"),
        K::CallAnswered { call, device } => format!("answered {call} {device}"),
        K::CallHeld { call, device } => format!("held {call} {device}"),
        K::CallRetrieved { call, device } => format!("retrieved {call} {device}"),
        K::CallQueued { call, queue } => format!("queued {call} {queue}"),
        K::CallDiverted { call, from, to } => format!(
            "diverted {call} {from}->{}",
            to.as_ref().map_or("?", |t| t.as_str())
        ),
        K::CallTransferred {
            call,
            merged,
            from,
            to,
            new_alias,
        } => format!(
            "transferred {call} from={from} to={} merged={} alias={}",
            to.as_ref().map_or("?", |t| t.as_str()),
            merged.map_or("-".into(), |m| m.to_string()),
            new_alias.as_ref().map_or("-", |a| a.as_str())
        ),
        K::CallConferenced {
            call,
            merged,
            parties,
        } => format!(
            "conferenced {call} merged={} parties={}",
            merged.map_or("-".into(), |m| m.to_string()),
            parties
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        K::CallFailed { call, device } => format!("failed {call} {device}"),
        K::PartyLeft { call, device } => format!("left {call} {device}"),
        K::ConnectionStateChanged {
            call,
            device,
            state,
        } => format!("state {call} {device} {state:?}"),
        K::CallEnded { call, outcome } => format!("ended {call} {outcome:?}"),
        K::CallDataChanged { call, .. } => format!("data {call}"),
        K::AgentStateChanged {
            agent,
            availability,
            status,
            ..
        } => format!("agent {agent} {availability:?} {status:?}"),
        K::QueueStatsChanged { queue, stats } => format!(
            "queue {queue} waiting={} offered={} answered={} abandoned={} sl={}",
            stats.waiting,
            stats.offered,
            stats.answered,
            stats.abandoned,
            stats.service_level_permille
        ),
        K::LinkStateChanged { state } => format!("link {state:?}"),
        K::ScreenPop {
            call,
            agent,
            device,
            ..
        } => format!(
            "pop {call} {}@{device}",
            agent.as_ref().map_or("-", |a| a.as_str())
        ),
    }
}

fn delivered(alerting: &str, calling: &str, called: &str) -> C {
    C::Delivered {
        alerting: alerting.into(),
        calling: Some(calling.into()),
        called: Some(called.into()),
        last_redirection: None,
    }
}

fn established(answering: &str, calling: &str, called: &str) -> C {
    C::Established {
        answering: answering.into(),
        calling: Some(calling.into()),
        called: Some(called.into()),
    }
}

fn cleared(d: &str) -> C {
    C::ConnectionCleared { device: d.into() }
}

#[test]
fn inbound_answered() {
    let mut s = Script::new(&["1001"]);
    s.call("002A", delivered("1001", "+4930123456", "1001"))
        .call("002A", established("1001", "+4930123456", "1001"))
        .call("002A", cleared("+4930123456"))
        .call("002A", cleared("1001"));
    assert_eq!(
        s.out(),
        [
            "offered c1 ani=+4930123456 dnis=1001 inbound",
            "alerting c1 1001",
            "pop c1 -@1001",
            "answered c1 1001",
            "left c1 +4930123456",
            "ended c1 Answered",
        ]
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.outcome, Some(Outcome::Answered));
    assert_eq!(c.answered_by.as_deref(), Some("1001"));
    // A late event for the ended call neither resurrects nor changes it.
    s.call("002A", cleared("1001"));
    assert!(s.out().is_empty());
    assert_eq!(s.e.calls().count(), 0);
}

#[test]
fn outbound_with_service_initiated_and_originated() {
    let mut s = Script::new(&["1001"]);
    s.call(
        "0030",
        C::ServiceInitiated {
            device: "1001".into(),
        },
    )
    .call(
        "0030",
        C::Originated {
            calling: "1001".into(),
            called: "030123456".into(),
        },
    )
    .call("0030", delivered("+4930123456", "1001", "030123456"))
    .call("0030", established("+4930123456", "1001", "030123456"))
    .call("0030", cleared("1001"));
    assert_eq!(
        s.out(),
        [
            "offered c1 ani=- dnis=- -",
            "state c1 1001 Initiated",
            "data c1",
            "alerting c1 +4930123456",
            "answered c1 +4930123456",
            "left c1 1001",
            "ended c1 Answered",
        ]
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(
        c.data.direction,
        Some(hookflash_core::model::Direction::Outbound)
    );
    assert_eq!(
        c.data.dnis.as_ref().and_then(|n| n.e164.as_deref()),
        Some("+4930123456")
    );
}

#[test]
fn busy_and_unreachable() {
    let mut s = Script::new(&["1001"]);
    s.call(
        "0040",
        C::Originated {
            calling: "1001".into(),
            called: "2001".into(),
        },
    )
    .call_c(
        "0040",
        C::Failed {
            device: "2001".into(),
            calling: None,
            called: None,
        },
        Some(Cause::Busy),
    )
    .call("0040", cleared("1001"));
    s.call(
        "0041",
        C::Originated {
            calling: "1001".into(),
            called: "0999".into(),
        },
    )
    .call_c(
        "0041",
        C::Failed {
            device: "0999".into(),
            calling: None,
            called: None,
        },
        Some(Cause::Unreachable),
    )
    .call("0041", C::CallCleared);
    let out = s.calls_only();
    assert!(out.contains(&"ended c1 Busy".to_string()), "{out:?}");
    assert!(out.contains(&"failed c2 0999".to_string()), "{out:?}");
    assert!(out.contains(&"ended c2 Failed".to_string()), "{out:?}");
}

fn acd(s: &mut Script) {
    s.agent(
        "A100",
        A::LoggedOn {
            device: Some("2001".into()),
            queues: vec!["8000".into()],
        },
    )
    .agent("A100", A::Ready);
    s.out();
}

#[test]
fn acd_queue_to_agent_with_one_pop_and_service_level() {
    let mut s = Script::new(&["2001", "8000"]);
    acd(&mut s);
    s.call(
        "0050",
        C::Queued {
            queue: "8000".into(),
            calling: Some("+4930123456".into()),
            called: Some("8000".into()),
        },
    );
    s.at(5_000)
        .call("0050", delivered("2001", "+4930123456", "8000"));
    s.call("0050", established("2001", "+4930123456", "8000"));
    s.agent("A100", A::WorkingAfterCall);
    s.call("0050", cleared("+4930123456"))
        .call("0050", cleared("2001"));
    let out = s.out();
    assert_eq!(
        out,
        [
            "offered c1 ani=+4930123456 dnis=8000 inbound",
            "queued c1 8000",
            "queue 8000 waiting=1 offered=1 answered=0 abandoned=0 sl=0",
            "queue 8000 waiting=0 offered=1 answered=0 abandoned=0 sl=0",
            "alerting c1 2001",
            "agent A100 Reserved Ready",
            "queue 8000 waiting=0 offered=1 answered=0 abandoned=0 sl=0",
            "pop c1 A100@2001",
            "answered c1 2001",
            "queue 8000 waiting=0 offered=1 answered=1 abandoned=0 sl=1000",
            "agent A100 Busy Ready",
            "queue 8000 waiting=0 offered=1 answered=1 abandoned=0 sl=1000",
            "agent A100 Busy WorkingAfterCall",
            "queue 8000 waiting=0 offered=1 answered=1 abandoned=0 sl=1000",
            "left c1 +4930123456",
            "ended c1 Answered",
            "agent A100 WrapUp WorkingAfterCall",
            "queue 8000 waiting=0 offered=1 answered=1 abandoned=0 sl=1000",
        ]
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.agent.as_deref(), Some("A100"));
    assert_eq!(
        c.data
            .queue_path
            .iter()
            .map(|q| q.as_str())
            .collect::<Vec<_>>(),
        ["8000"]
    );
}

#[test]
fn abandoned_in_queue() {
    let mut s = Script::new(&["8000"]);
    s.call(
        "0060",
        C::Queued {
            queue: "8000".into(),
            calling: Some("+4930999".into()),
            called: Some("8000".into()),
        },
    )
    .call("0060", cleared("+4930999"));
    let out = s.out();
    assert!(out.contains(&"ended c1 Abandoned".to_string()), "{out:?}");
    assert!(out.iter().any(|l| l.contains("abandoned=1")), "{out:?}");
    let q = s.e.queue("8000", Timestamp(10_000)).unwrap();
    assert_eq!(
        (
            q.stats.waiting,
            q.stats.offered,
            q.stats.abandoned,
            q.stats.answered
        ),
        (0, 1, 1, 0)
    );
}

#[test]
fn hold_and_retrieve_with_permitted_verbs() {
    use hookflash_core::command::Verbs;
    let mut s = Script::new(&["1001"]);
    s.call("0070", delivered("1001", "+4930123456", "1001"));
    let id = hookflash_core::model::CallId(1);
    assert!(s.e.permitted(id, "1001").contains(Verbs::ANSWER));
    s.call("0070", established("1001", "+4930123456", "1001"));
    assert!(s.e.permitted(id, "1001").contains(Verbs::HOLD));
    s.call(
        "0070",
        C::Held {
            device: "1001".into(),
        },
    );
    assert!(s.e.permitted(id, "1001").contains(Verbs::RETRIEVE));
    assert!(!s.e.permitted(id, "1001").contains(Verbs::HOLD));
    s.call(
        "0070",
        C::Held {
            device: "1001".into(),
        },
    ); // duplicated: no second event
    s.call(
        "0070",
        C::Retrieved {
            device: "1001".into(),
        },
    );
    let out = s.calls_only();
    assert_eq!(
        out.iter().filter(|l| l.starts_with("held")).count(),
        1,
        "{out:?}"
    );
    assert!(out.contains(&"retrieved c1 1001".to_string()));
}

/// Consultation and transfer where the PBX gives the result a new call id (OpenScape style).
#[test]
fn consultation_transfer_with_call_id_change() {
    let mut s = Script::new(&["1001", "1002"]);
    // Customer calls 1001.
    s.call("X1", delivered("1001", "+4930123456", "1001"))
        .call("X1", established("1001", "+4930123456", "1001"));
    // 1001 holds and consults 1002.
    s.call(
        "X1",
        C::Held {
            device: "1001".into(),
        },
    );
    s.call(
        "Y2",
        C::Originated {
            calling: "1001".into(),
            called: "1002".into(),
        },
    )
    .call("Y2", delivered("1002", "1001", "1002"))
    .call("Y2", established("1002", "1001", "1002"));
    s.out();
    // Transfer: the primary X1 survives, the consultation Y2 merges, the result is named Z3.
    s.call(
        "X1",
        C::Transferred {
            secondary: Some("Y2".into()),
            new_call: Some("Z3".into()),
            transferring: "1001".into(),
            transferred_to: Some("1002".into()),
        },
    );
    let out = s.calls_only();
    assert_eq!(
        out,
        [
            "ended c2 TransferredAway",
            "transferred c1 from=1001 to=1002 merged=c2 alias=Z3",
            "pop c1 -@1002"
        ]
    );
    // Later events under the new id reach the same call; the customer's call id never changed.
    s.call("Z3", cleared("1002"))
        .call("Z3", cleared("+4930123456"));
    let out = s.calls_only();
    assert_eq!(
        out.last().map(String::as_str),
        Some("ended c1 Answered"),
        "{out:?}"
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.transfers.len(), 1);
    assert_eq!(c.transfers[0].to.as_deref(), Some("1002"));
    // Late events for the merged consultation call are ignored.
    s.call("Y2", cleared("1002"));
    assert!(s.out().is_empty());
}

/// A PBX reports one transfer to every monitor on the call: three monitored parties, three
/// identical Transferred events; the call records one transfer.
#[test]
fn a_transfer_reported_by_every_monitor_counts_once() {
    let mut s = Script::new(&["1001", "1002", "1003"]);
    s.call("X1", delivered("1001", "1003", "1001"))
        .call("X1", established("1001", "1003", "1001"));
    s.call(
        "X1",
        C::Held {
            device: "1001".into(),
        },
    );
    s.call(
        "Y2",
        C::Originated {
            calling: "1001".into(),
            called: "1002".into(),
        },
    )
    .call("Y2", delivered("1002", "1001", "1002"))
    .call("Y2", established("1002", "1001", "1002"));
    s.out();
    let transferred = C::Transferred {
        secondary: Some("Y2".into()),
        new_call: Some("Z3".into()),
        transferring: "1001".into(),
        transferred_to: Some("1002".into()),
    };
    for _ in 0..3 {
        s.call("X1", transferred.clone());
    }
    let out = s.calls_only();
    assert_eq!(
        out.iter().filter(|l| l.starts_with("transferred")).count(),
        1,
        "{out:?}"
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.transfers.len(), 1);
    // A later, real second transfer (1002 passes the call on to 1001 again) still counts.
    s.call("Z3", delivered("1001", "1002", "1001"));
    s.call(
        "Z3",
        C::Transferred {
            secondary: None,
            new_call: None,
            transferring: "1002".into(),
            transferred_to: Some("1001".into()),
        },
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.transfers.len(), 2);
    // A copy that names the target the first report left out completes the record.
    s.call(
        "Z3",
        C::Transferred {
            secondary: None,
            new_call: None,
            transferring: "1001".into(),
            transferred_to: None,
        },
    );
    s.call(
        "Z3",
        C::Transferred {
            secondary: None,
            new_call: None,
            transferring: "1001".into(),
            transferred_to: Some("1003".into()),
        },
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.transfers.len(), 3, "{:?}", c.transfers);
    assert_eq!(c.transfers[2].to.as_deref(), Some("1003"));
}

#[test]
fn single_step_and_blind_transfer_to_a_ringing_party() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("S1", delivered("1001", "+4930123456", "1001"))
        .call("S1", established("1001", "+4930123456", "1001"));
    s.out();
    // Blind transfer: 1001 leaves at once; 1002 only rings.
    s.call(
        "S1",
        C::Transferred {
            secondary: None,
            new_call: None,
            transferring: "1001".into(),
            transferred_to: None,
        },
    )
    .call("S1", delivered("1002", "+4930123456", "1002"));
    let out = s.calls_only();
    assert_eq!(
        out,
        [
            "transferred c1 from=1001 to=? merged=- alias=-",
            "alerting c1 1002",
            "pop c1 -@1002"
        ]
    );
    // Nobody answers; the caller gives up: the call was answered once, so it stays answered.
    s.call("S1", cleared("+4930123456"));
    s.call("S1", C::CallCleared);
    assert!(s.calls_only().contains(&"ended c1 Answered".to_string()));
}

#[test]
fn three_party_conference_and_a_party_leaving() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("P1", delivered("1001", "+4930123456", "1001"))
        .call("P1", established("1001", "+4930123456", "1001"));
    s.call(
        "P1",
        C::Held {
            device: "1001".into(),
        },
    );
    s.call(
        "P2",
        C::Originated {
            calling: "1001".into(),
            called: "1002".into(),
        },
    )
    .call("P2", established("1002", "1001", "1002"));
    s.out();
    s.call(
        "P1",
        C::Conferenced {
            secondary: Some("P2".into()),
            new_call: None,
            controller: "1001".into(),
            added: Some("1002".into()),
        },
    );
    let out = s.calls_only();
    assert_eq!(
        out,
        [
            "ended c2 TransferredAway",
            "conferenced c1 merged=c2 parties=+4930123456,1001,1002"
        ]
    );
    s.call("P1", cleared("1002"));
    assert_eq!(s.calls_only(), ["left c1 1002"]);
    assert_eq!(
        s.e.call(hookflash_core::model::CallId(1))
            .unwrap()
            .legs
            .len(),
        2
    );
    assert!(
        s.e.call(hookflash_core::model::CallId(1))
            .unwrap()
            .conferenced
    );
}

#[test]
fn forward_on_no_answer_and_deflect() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("F1", delivered("1001", "+4930123456", "1001"));
    s.call_c(
        "F1",
        C::Diverted {
            from: "1001".into(),
            to: Some("1002".into()),
        },
        Some(Cause::NoAnswer),
    );
    s.call(
        "F1",
        C::Delivered {
            alerting: "1002".into(),
            calling: Some("+4930123456".into()),
            called: Some("1001".into()),
            last_redirection: Some("1001".into()),
        },
    );
    s.call("F1", established("1002", "+4930123456", "1001"));
    let out = s.calls_only();
    assert_eq!(
        out,
        [
            "offered c1 ani=+4930123456 dnis=1001 inbound",
            "alerting c1 1001",
            "pop c1 -@1001",
            "diverted c1 1001->1002",
            "alerting c1 1002",
            "pop c1 -@1002",
            "answered c1 1002",
        ]
    );
}

#[test]
fn directed_and_group_pickup() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("G1", delivered("1001", "+4930123456", "1001"));
    s.out();
    // 1002 picks up the call ringing at 1001.
    s.call_c(
        "G1",
        established("1002", "+4930123456", "1001"),
        Some(Cause::Pickup),
    );
    assert_eq!(s.calls_only(), ["left c1 1001", "answered c1 1002"]);
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.answered_by.as_deref(), Some("1002"));
    assert!(c.leg("1001").is_none());
}

#[test]
fn park_and_retrieve() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("K1", delivered("1001", "+4930123456", "1001"))
        .call("K1", established("1001", "+4930123456", "1001"));
    s.out();
    // Parked: the call leaves 1001 for the park orbit 700, then 1002 retrieves it.
    s.call_c(
        "K1",
        C::Diverted {
            from: "1001".into(),
            to: Some("700".into()),
        },
        Some(Cause::Park),
    );
    s.call(
        "K1",
        C::State {
            device: "700".into(),
            state: ConnectionState::Held,
        },
    );
    s.call_c(
        "K1",
        C::Diverted {
            from: "700".into(),
            to: Some("1002".into()),
        },
        Some(Cause::Park),
    );
    s.call("K1", established("1002", "+4930123456", "1001"));
    assert_eq!(
        s.calls_only(),
        [
            "diverted c1 1001->700",
            "state c1 700 Held",
            "diverted c1 700->1002",
            "answered c1 1002"
        ]
    );
    assert_eq!(s.e.calls().count(), 1);
}

#[test]
fn forked_ringing_on_two_devices_of_one_agent_pops_once() {
    let mut s = Script::new(&["2001", "2002", "2003"]);
    // The agent's desk phone and softphone: logged on at both.
    s.agent(
        "A100",
        A::LoggedOn {
            device: Some("2001".into()),
            queues: vec![],
        },
    );
    s.agent(
        "A100",
        A::LoggedOn {
            device: Some("2002".into()),
            queues: vec![],
        },
    );
    s.agent("A100", A::Ready);
    s.out();
    // The call rings at both devices of the agent, and at another device (2003, no agent).
    s.call("R1", delivered("2001", "+4930123456", "2001"));
    s.call("R1", delivered("2002", "+4930123456", "2001"));
    s.call("R1", delivered("2003", "+4930123456", "2001"));
    let pops: Vec<String> = s
        .out()
        .into_iter()
        .filter(|l| l.starts_with("pop"))
        .collect();
    assert_eq!(
        pops,
        ["pop c1 A100@2001", "pop c1 -@2003"],
        "one pop for the agent, one for the other device"
    );
    s.call("R1", delivered("2001", "+4930123456", "2001")); // duplicate delivered
    assert!(s.out().iter().all(|l| !l.starts_with("pop")));
    s.call("R1", established("2002", "+4930123456", "2001"));
    assert_eq!(
        s.calls_only(),
        ["left c1 2001", "left c1 2003", "answered c1 2002"]
    );
    assert_eq!(
        s.e.call(hookflash_core::model::CallId(1))
            .unwrap()
            .agent
            .as_deref(),
        Some("A100")
    );
    // Never a pop on hangup.
    s.call("R1", cleared("2002"));
    assert!(s.out().iter().all(|l| !l.starts_with("pop")));
    // Logging off frees both devices.
    s.agent("A100", A::LoggedOff);
    s.out();
    s.call("R2", delivered("2002", "+4930123456", "2002"));
    assert!(s.out().contains(&"pop c2 -@2002".to_string()));
}

#[test]
fn late_and_duplicated_events_change_nothing() {
    let mut s = Script::new(&["1001"]);
    // Established arrives before Delivered: the call is built from whichever comes first.
    s.call("L1", established("1001", "+4930123456", "1001"));
    s.call("L1", delivered("1001", "+4930123456", "1001"));
    let out = s.calls_only();
    assert_eq!(out[0], "offered c1 ani=+4930123456 dnis=1001 inbound");
    assert!(out.contains(&"answered c1 1001".to_string()));
    s.call("L1", established("1001", "+4930123456", "1001"));
    s.call("L1", established("1001", "+4930123456", "1001"));
    s.call("L1", C::CallCleared);
    s.call("L1", C::CallCleared);
    s.call("L1", delivered("1001", "+4930123456", "1001"));
    assert_eq!(s.e.calls().count(), 0, "an ended call is never resurrected");
}

#[test]
fn resync_finds_a_call_that_ended_while_the_link_was_down() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("R1", delivered("1001", "+4930123456", "1001"))
        .call("R1", established("1001", "+4930123456", "1001"));
    s.call("R2", delivered("1002", "+4930555", "1002"));
    s.out();
    s.raw(DriverEvent::LinkDown { link: LINK.into() })
        .raw(DriverEvent::LinkResyncing { link: LINK.into() });
    // After the reconnect: R1 is gone from 1001; R2 is now answered; R3 is new.
    s.raw(DriverEvent::DeviceSnapshot {
        link: LINK.into(),
        device: "1001".into(),
        calls: vec![],
    });
    s.raw(DriverEvent::DeviceSnapshot {
        link: LINK.into(),
        device: "1002".into(),
        calls: vec![
            SnapshotEntry {
                call: "R2".into(),
                state: ConnectionState::Connected,
            },
            SnapshotEntry {
                call: "R3".into(),
                state: ConnectionState::Held,
            },
        ],
    });
    s.raw(DriverEvent::LinkUp { link: LINK.into() });
    let out = s.calls_only();
    assert_eq!(
        out,
        [
            "link Down",
            "link Resyncing",
            "left c1 1001",
            "answered c2 1002",
            "offered c3 ani=- dnis=- -",
            "held c3 1002",
            // No snapshot of the resync listed R1: it ends once all are in.
            "ended c1 Answered",
            "link Up",
        ]
    );
    // The same snapshot again emits nothing: only corrective events, only once.
    s.raw(DriverEvent::DeviceSnapshot {
        link: LINK.into(),
        device: "1002".into(),
        calls: vec![
            SnapshotEntry {
                call: "R2".into(),
                state: ConnectionState::Connected,
            },
            SnapshotEntry {
                call: "R3".into(),
                state: ConnectionState::Held,
            },
        ],
    });
    assert!(s.out().is_empty());
}

#[test]
fn resync_keeps_a_queued_call_that_moved_to_an_agent_while_the_link_was_down() {
    let mut s = Script::new(&["6000", "3001"]);
    s.call(
        "Q1",
        C::Queued {
            queue: "6000".into(),
            calling: Some("+4930123456".into()),
            called: Some("6000".into()),
        },
    );
    s.out();
    s.raw(DriverEvent::LinkDown { link: LINK.into() })
        .raw(DriverEvent::LinkResyncing { link: LINK.into() });
    // The queue's snapshot comes first and no longer lists the call; the agent's lists it
    // ringing there.
    s.raw(DriverEvent::DeviceSnapshot {
        link: LINK.into(),
        device: "6000".into(),
        calls: vec![],
    });
    s.raw(DriverEvent::DeviceSnapshot {
        link: LINK.into(),
        device: "3001".into(),
        calls: vec![SnapshotEntry {
            call: "Q1".into(),
            state: ConnectionState::Alerting,
        }],
    });
    s.raw(DriverEvent::LinkUp { link: LINK.into() });
    let out = s.calls_only();
    assert!(!out.iter().any(|l| l.starts_with("ended")), "{out:?}");
    // The agent answers after the reconnect: the call is answered, not abandoned.
    s.call("Q1", established("3001", "+4930123456", "6000"))
        .call("Q1", C::CallCleared);
    let ended = s.e.ended_calls().last().cloned().expect("ended");
    assert_eq!(ended.outcome, Some(Outcome::Answered));
    assert_eq!(ended.answered_by.as_deref(), Some("3001"));
    assert_eq!(
        ended.data.ani.as_ref().map(|n| n.raw.as_str()),
        Some("+4930123456")
    );
}

#[test]
fn resync_ends_a_call_no_snapshot_lists_only_when_the_link_is_up() {
    let mut s = Script::new(&["6000", "3001"]);
    s.call(
        "Q2",
        C::Queued {
            queue: "6000".into(),
            calling: Some("+4930123456".into()),
            called: Some("6000".into()),
        },
    );
    s.out();
    s.raw(DriverEvent::LinkResyncing { link: LINK.into() });
    for d in ["6000", "3001"] {
        s.raw(DriverEvent::DeviceSnapshot {
            link: LINK.into(),
            device: d.into(),
            calls: vec![],
        });
    }
    assert!(!s.calls_only().iter().any(|l| l.starts_with("ended")));
    s.raw(DriverEvent::LinkUp { link: LINK.into() });
    let out = s.calls_only();
    assert_eq!(out, ["ended c1 Abandoned", "link Up"]);
}

#[test]
fn resync_ends_a_call_that_had_no_monitored_party_left_when_the_link_went_down() {
    // The call leaves the queue; the events of where it went (an agent's ringing, then the
    // end) are lost with the link. Only the caller's (unmonitored) party is left, so no
    // device's snapshot can list the call or leave it out: the resync must still end it.
    let mut s = Script::new(&["6000", "3001"]);
    s.raw(DriverEvent::LinkVisibility {
        link: LINK.into(),
        through_monitors_only: true,
    });
    s.call(
        "Q3",
        C::Queued {
            queue: "6000".into(),
            calling: Some("+4930123456".into()),
            called: Some("6000".into()),
        },
    )
    .call(
        "Q3",
        C::ConnectionCleared {
            device: "6000".into(),
        },
    );
    assert_eq!(s.e.calls().count(), 1, "the call waits for its next party");
    s.out();
    s.raw(DriverEvent::LinkDown { link: LINK.into() })
        .raw(DriverEvent::LinkResyncing { link: LINK.into() });
    for d in ["6000", "3001"] {
        s.raw(DriverEvent::DeviceSnapshot {
            link: LINK.into(),
            device: d.into(),
            calls: vec![],
        });
    }
    assert!(!s.calls_only().iter().any(|l| l.starts_with("ended")));
    s.raw(DriverEvent::LinkUp { link: LINK.into() });
    let out = s.calls_only();
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with("ended c1 "), "{out:?}");
    assert_eq!(out[1], "link Up");
    assert_eq!(s.e.calls().count(), 0);
    // A call that still has a monitored party after the resync is kept.
    s.call(
        "Q4",
        C::Queued {
            queue: "6000".into(),
            calling: Some("+4930999".into()),
            called: Some("6000".into()),
        },
    );
    s.out();
    s.raw(DriverEvent::LinkDown { link: LINK.into() })
        .raw(DriverEvent::LinkResyncing { link: LINK.into() })
        .raw(DriverEvent::DeviceSnapshot {
            link: LINK.into(),
            device: "6000".into(),
            calls: vec![SnapshotEntry {
                call: "Q4".into(),
                state: ConnectionState::Queued,
            }],
        })
        .raw(DriverEvent::LinkUp { link: LINK.into() });
    assert!(!s.calls_only().iter().any(|l| l.starts_with("ended")));
    assert_eq!(s.e.calls().count(), 1);
}

#[test]
fn a_link_that_reports_every_call_keeps_one_with_no_monitored_party_through_a_resync() {
    // AMI reports every channel, monitored or not: the same call is still reported after the
    // reconnect, so the resync leaves it alone.
    let mut s = Script::new(&["6000", "3001"]);
    s.call(
        "Q5",
        C::Queued {
            queue: "6000".into(),
            calling: Some("+4930123456".into()),
            called: Some("6000".into()),
        },
    )
    .call(
        "Q5",
        C::ConnectionCleared {
            device: "6000".into(),
        },
    );
    s.out();
    s.raw(DriverEvent::LinkDown { link: LINK.into() })
        .raw(DriverEvent::LinkResyncing { link: LINK.into() })
        .raw(DriverEvent::DeviceSnapshot {
            link: LINK.into(),
            device: "6000".into(),
            calls: vec![],
        })
        .raw(DriverEvent::LinkUp { link: LINK.into() });
    assert!(!s.calls_only().iter().any(|l| l.starts_with("ended")));
    assert_eq!(s.e.calls().count(), 1);
}

#[test]
fn unknown_native_states_surface() {
    let mut s = Script::new(&["1001"]);
    s.call(
        "U1",
        C::State {
            device: "1001".into(),
            state: ConnectionState::Unknown {
                raw: "vendorState7".into(),
            },
        },
    );
    assert_eq!(
        s.calls_only()[1],
        "state c1 1001 Unknown { raw: \"vendorState7\" }"
    );
}

#[test]
fn agent_login_ready_acd_call_wrap_up_not_ready_logout() {
    let mut s = Script::new(&["2001", "8000"]);
    s.agent(
        "A200",
        A::LoggedOn {
            device: Some("2001".into()),
            queues: vec!["8000".into()],
        },
    );
    s.agent("A200", A::Ready);
    let a = |s: &Script| s.e.agent("A200").unwrap().availability();
    assert_eq!(a(&s), Availability::Available);
    s.call(
        "Q1",
        C::Queued {
            queue: "8000".into(),
            calling: Some("+4930123456".into()),
            called: Some("8000".into()),
        },
    );
    s.call("Q1", delivered("2001", "+4930123456", "8000"));
    assert_eq!(a(&s), Availability::Reserved);
    s.call("Q1", established("2001", "+4930123456", "8000"));
    assert_eq!(a(&s), Availability::Busy);
    s.call("Q1", cleared("2001"));
    s.agent("A200", A::WorkingAfterCall);
    assert_eq!(a(&s), Availability::WrapUp);
    s.agent(
        "A200",
        A::NotReady {
            reason: Some("lunch".into()),
        },
    );
    assert_eq!(a(&s), Availability::Away);
    // A non-ACD call while not ready: busy, and back to away after it.
    s.call(
        "O1",
        C::Originated {
            calling: "2001".into(),
            called: "1002".into(),
        },
    );
    s.call("O1", established("1002", "2001", "1002"));
    assert_eq!(a(&s), Availability::Busy);
    assert!(matches!(
        s.e.agent("A200").unwrap().activity,
        hookflash_core::model::AgentActivity::OnOtherCall { .. }
    ));
    s.call("O1", C::CallCleared);
    assert_eq!(a(&s), Availability::Away);
    s.agent("A200", A::LoggedOff);
    assert_eq!(a(&s), Availability::Offline);
    let lines: Vec<String> = s
        .out()
        .into_iter()
        .filter(|l| l.starts_with("agent"))
        .collect();
    assert!(
        lines.contains(&"agent A200 Away NotReady { reason: Some(\"lunch\") }".to_string()),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("agent A200 Offline LoggedOut")
    );
}

#[test]
fn queue_overflow_moves_the_call_without_counting_it_twice() {
    let mut s = Script::new(&["8000", "8001"]);
    s.call(
        "V1",
        C::Queued {
            queue: "8000".into(),
            calling: Some("+4930123456".into()),
            called: Some("8000".into()),
        },
    );
    s.call(
        "V1",
        C::Queued {
            queue: "8001".into(),
            calling: None,
            called: None,
        },
    );
    s.call("V1", cleared("+4930123456"));
    let q0 = s.e.queue("8000", Timestamp(0)).unwrap();
    let q1 = s.e.queue("8001", Timestamp(0)).unwrap();
    assert_eq!(
        (q0.stats.offered, q0.stats.waiting, q0.stats.abandoned),
        (1, 0, 0)
    );
    assert_eq!(
        (q1.stats.offered, q1.stats.waiting, q1.stats.abandoned),
        (1, 0, 1)
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(c.data.queue_path.len(), 2);
    assert_eq!(c.outcome, Some(Outcome::Abandoned));
}

#[test]
fn call_data_is_kept_within_its_limit() {
    let mut s = Script::new(&["1001"]);
    s.call("D1", delivered("1001", "+4930123456", "1001"));
    s.call(
        "D1",
        C::CallData {
            correlator: Some("UCID-1".into()),
            uui: None,
            attached: vec![("account".into(), "4711".into())],
        },
    );
    let big = "x".repeat(70 * 1024);
    s.call(
        "D1",
        C::CallData {
            correlator: None,
            uui: None,
            attached: vec![("blob".into(), big)],
        },
    );
    let c = s.e.calls().next().unwrap();
    assert_eq!(c.data.correlator.as_deref(), Some("UCID-1"));
    assert_eq!(
        c.data.attached.get("account").map(String::as_str),
        Some("4711")
    );
    assert!(!c.data.attached.contains_key("blob"));
    let half = "y".repeat(60 * 1024);
    s.call(
        "D1",
        C::CallData {
            correlator: None,
            uui: None,
            attached: vec![("notes".into(), half)],
        },
    );
    assert!(s.e.calls().next().unwrap().data.attached_size() >= 60 * 1024);
}

#[test]
fn group_pickup_and_deflect() {
    let mut s = Script::new(&["1001", "1002", "1003"]);
    // Deflect: the ringing device sends the call on before anyone answers.
    s.call("H1", delivered("1001", "+4930123456", "1001"));
    s.call_c(
        "H1",
        C::Diverted {
            from: "1001".into(),
            to: Some("1003".into()),
        },
        Some(Cause::Redirected),
    );
    s.call("H1", delivered("1003", "+4930123456", "1001"));
    // Group pickup: 1002, in 1003's pickup group, takes the call.
    s.call_c(
        "H1",
        established("1002", "+4930123456", "1001"),
        Some(Cause::Pickup),
    );
    assert_eq!(
        s.calls_only(),
        [
            "offered c1 ani=+4930123456 dnis=1001 inbound",
            "alerting c1 1001",
            "pop c1 -@1001",
            "diverted c1 1001->1003",
            "alerting c1 1003",
            "pop c1 -@1003",
            "left c1 1003",
            "answered c1 1002",
        ]
    );
    assert_eq!(
        s.e.call(hookflash_core::model::CallId(1))
            .unwrap()
            .answered_by
            .as_deref(),
        Some("1002")
    );
}

#[test]
fn single_step_transfer_of_an_answered_call() {
    let mut s = Script::new(&["1001", "1002"]);
    s.call("T1", delivered("1001", "+4930123456", "1001"))
        .call("T1", established("1001", "+4930123456", "1001"));
    s.out();
    s.call_c(
        "T1",
        C::Transferred {
            secondary: None,
            new_call: None,
            transferring: "1001".into(),
            transferred_to: Some("1002".into()),
        },
        Some(Cause::Transfer),
    );
    s.call("T1", established("1002", "+4930123456", "1001"));
    assert_eq!(
        s.calls_only(),
        [
            "transferred c1 from=1001 to=1002 merged=- alias=-",
            "pop c1 -@1002",
            "answered c1 1002"
        ]
    );
    let c = s.e.call(hookflash_core::model::CallId(1)).unwrap();
    assert_eq!(
        c.answered_by.as_deref(),
        Some("1001"),
        "first answered by 1001"
    );
    assert!(c.leg("1001").is_none() && c.leg("1002").is_some());
}

#[test]
fn outside_numbers_are_forgotten_when_their_calls_end() {
    let mut s = Script::new(&["1001"]);
    for i in 0..100 {
        let call = format!("X{i}");
        let from = format!("+49301234{i:03}");
        s.call(&call, delivered("1001", &from, "1001"))
            .call(&call, established("1001", &from, "1001"))
            .call(
                &call,
                C::State {
                    device: from.as_str().into(),
                    state: ConnectionState::Connected,
                },
            )
            .call(&call, C::CallCleared);
    }
    let devices: Vec<String> = s.e.devices().map(|(d, _)| d.to_string()).collect();
    assert_eq!(devices, ["1001"], "only the monitored device is kept");
}
