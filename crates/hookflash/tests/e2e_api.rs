//! The API end to end: a Cti on a link URL (the built-in CSTA XML driver) against the
//! simulated PBX with no traffic of its own — click to dial, answer, hold, retrieve, clear,
//! the call record, the state checks, and monitors restored after the link drops.

use std::time::Duration;

use hookflash::core::command::Verbs;
use hookflash::core::event::{Event, EventKind};
use hookflash::core::model::{LinkState, Outcome};
use hookflash::{Cti, Error, Filter, Subscription};
use hookflash_sim::SimConfig;
use hookflash_sim::face::FaceProtocol;
use hookflash_sim::net::{SimServer, SimServerConfig};

async fn until(sub: &mut Subscription, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 10 s"))
            .expect("the stream goes on");
        if pred(&e) {
            return e;
        }
    }
}

fn at(e: &Event, kind: &str, dev: &str) -> bool {
    let (k, d) = match &e.kind {
        EventKind::CallAlerting { device, .. } => ("alerting", device),
        EventKind::CallAnswered { device, .. } => ("answered", device),
        EventKind::CallHeld { device, .. } => ("held", device),
        EventKind::CallRetrieved { device, .. } => ("retrieved", device),
        _ => return false,
    };
    k == kind && d.as_str() == dev
}

#[tokio::test]
async fn click_to_dial_and_call_control_through_the_csta_xml_driver() {
    let sim = SimConfig {
        calls_per_minute: 0.0,
        agents: 2,
        queues: 1,
        extensions: 4,
        ..SimConfig::default()
    };
    let server = SimServer::start(SimServerConfig::new(FaceProtocol::CstaXml, sim))
        .await
        .expect("simulator");
    let url = format!("csta-xml+tcp://{}", server.local_addr().unwrap());
    let cti = Cti::builder()
        .link("sim", &url)
        .unwrap()
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut events = cti.subscribe(Filter::all());
    let mut records = cti.call_records();
    until(&mut events, "link up", |e| {
        matches!(
            e.kind,
            EventKind::LinkStateChanged {
                state: LinkState::Up
            }
        )
    })
    .await;
    let caps = cti.capabilities("sim").unwrap();
    assert!(caps.verbs.contains(Verbs::ANSWER | Verbs::HOLD));
    let r = cti.monitor(&["200000", "200001"]).await;
    assert!(r.iter().all(Result::is_ok), "{r:?}");

    let done = cti.make_call("200000", "200001").await.unwrap();
    assert_eq!(done.link.as_str(), "sim");
    assert!(done.native_call.is_some());
    let ringing = until(&mut events, "ringing at 200001", |e| {
        at(e, "alerting", "200001")
    })
    .await;
    let call = ringing.kind.call().unwrap();
    assert!(cti.permitted(call, "200001").contains(Verbs::ANSWER));
    assert!(matches!(
        cti.hold(call, "200001").await,
        Err(Error::NotPermitted)
    ));

    cti.answer(call, "200001").await.unwrap();
    until(&mut events, "answered", |e| at(e, "answered", "200001")).await;
    cti.hold(call, "200000").await.unwrap();
    until(&mut events, "held", |e| at(e, "held", "200000")).await;
    cti.retrieve(call, "200000").await.unwrap();
    until(&mut events, "retrieved", |e| at(e, "retrieved", "200000")).await;
    cti.clear(call, "200000").await.unwrap();
    let record = tokio::time::timeout(Duration::from_secs(10), records.recv())
        .await
        .expect("a call record")
        .unwrap();
    assert_eq!(record.id, call);
    assert_eq!(record.outcome, Some(Outcome::Answered));
    assert_eq!(record.answered_by.as_deref(), Some("200001"));
    assert!(matches!(
        cti.answer(call, "200001").await,
        Err(Error::InvalidCall(c)) if c == call
    ));

    // The link drops; the driver reconnects and re-monitors: a new call still rings.
    server.control().drop_links().await;
    until(&mut events, "link down", |e| {
        matches!(
            e.kind,
            EventKind::LinkStateChanged {
                state: LinkState::Down
            }
        )
    })
    .await;
    until(&mut events, "link up again", |e| {
        matches!(
            e.kind,
            EventKind::LinkStateChanged {
                state: LinkState::Up
            }
        )
    })
    .await;
    let again = loop {
        match cti.make_call("200000", "200001").await {
            Ok(done) => break done,
            // Up, but the monitors may still be on their way back.
            Err(Error::LinkDown) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    };
    assert!(again.native_call.is_some());
    until(&mut events, "ringing after the reconnect", |e| {
        at(e, "alerting", "200001")
    })
    .await;
    cti.shutdown().await;
    server.shutdown().await;
}
