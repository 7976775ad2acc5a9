//! The HTTP contract over a scripted backend: auth and scopes, calls and verbs, event streams
//! (WebSocket and SSE) with resume, sequence numbers across a restart, limits, health, metrics.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use hookflash_bridge::Bridge;
use hookflash_core::command::Command;
use hookflash_core::model::CallId;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start(fake: &Arc<Fake>, extra: &str) -> (Bridge, String) {
    let b = Bridge::start(&config(extra), fake.clone()).await.unwrap();
    let base = format!("http://{}", b.local_addr());
    (b, base)
}

async fn ws(base: &str, query: &str) -> Ws {
    let url = format!("{}/v1/events?{query}", base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next event, or None after `wait` of silence.
async fn next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn tokens_and_me() {
    let fake = Fake::new();
    let (_b, base) = start(&fake, "").await;
    assert_eq!(get(&base, "/v1/calls", None).await.0, 401);
    assert_eq!(
        get(&base, "/v1/calls", Some("wrong-token-wrong-token"))
            .await
            .0,
        401
    );
    let (s, me) = get(&base, "/v1/me", Some(AGENT_A)).await;
    assert_eq!(s, 200);
    assert_eq!(me["scope"], "agent");
    assert_eq!(me["agent"], "A300000");
    assert_eq!(me["devices"], json!(["300000"]));
    let (_, me) = get(&base, "/v1/me", Some(SUPERVISOR)).await;
    assert_eq!(
        (me["scope"].as_str(), me["agent"].is_null()),
        (Some("supervisor"), true)
    );
    let (_, me) = get(&base, "/v1/me", Some(ADMIN)).await;
    assert_eq!(me["scope"], "admin");
    // A token in the query string is only for the event streams.
    assert_eq!(
        get(&base, &format!("/v1/calls?token={ADMIN}"), None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn an_agent_token_sees_and_commands_only_its_own_calls() {
    let fake = Fake::new();
    let (b, base) = start(&fake, "").await;
    let mut alice = ws(&base, &format!("token={AGENT_A}")).await;
    let mut admin = ws(&base, &format!("token={ADMIN}")).await;
    fake.ring(1, "+498912345", "300000", Some("A300000")).await;
    fake.ring(2, "+4930999", "300001", Some("A300001")).await;
    until(|| b.hub().last_seq() == 6).await;

    // REST: calls.
    let (_, calls) = get(&base, "/v1/calls", Some(AGENT_A)).await;
    let ids: Vec<u64> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1]);
    assert_eq!(
        calls[0]["permitted"],
        json!({"300000": ["answer", "clear", "deflect"]})
    );
    let (_, calls) = get(&base, "/v1/calls", Some(SUPERVISOR)).await;
    assert_eq!(calls.as_array().unwrap().len(), 2);
    assert_eq!(get(&base, "/v1/calls/2", Some(AGENT_A)).await.0, 404);
    assert_eq!(get(&base, "/v1/calls/c1", Some(AGENT_A)).await.0, 200);

    // Commands: not on another agent's call, not at another agent's device, not as supervisor.
    let (s, e) = send(
        Method::POST,
        &base,
        "/v1/calls/2/answer",
        AGENT_A,
        json!({}),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (404, Some("invalidCall")));
    let (s, _) = send(
        Method::POST,
        &base,
        "/v1/calls/1/answer",
        AGENT_A,
        json!({"device": "300001"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = send(
        Method::POST,
        &base,
        "/v1/calls/1/answer",
        SUPERVISOR,
        json!({}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = send(
        Method::PUT,
        &base,
        "/v1/agents/A300001/state",
        AGENT_A,
        json!({"state": "ready"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = send(
        Method::POST,
        &base,
        "/v1/calls",
        AGENT_A,
        json!({"from": "300001", "to": "200000"}),
    )
    .await;
    assert_eq!(s, 403);
    assert!(fake.executed().is_empty());

    // The own call: answered (device taken from the token), agent state set.
    let (s, body) = send(
        Method::POST,
        &base,
        "/v1/calls/1/answer",
        AGENT_A,
        json!({}),
    )
    .await;
    assert_eq!((s, body), (200, json!({})));
    let (s, _) = send(
        Method::PUT,
        &base,
        "/v1/agents/A300000/state",
        AGENT_A,
        json!({"state": "notReady", "reason": "7"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        fake.executed(),
        vec![
            Command::Answer {
                call: CallId(1),
                device: "300000".into()
            },
            Command::AgentNotReady {
                agent: "A300000".into(),
                reason: Some("7".into())
            },
        ]
    );
    // A verb the state does not permit is a typed conflict.
    let (s, e) = send(
        Method::POST,
        &base,
        "/v1/calls/1/answer",
        ADMIN,
        json!({"device": "300000"}),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (409, Some("notPermitted")));

    // Agents: only its own.
    let (_, agents) = get(&base, "/v1/agents", Some(AGENT_A)).await;
    assert_eq!(agents.as_array().unwrap().len(), 1);
    assert_eq!(agents[0]["id"], "A300000");
    assert_eq!(agents[0]["availability"], "available");

    // Events: alice sees call 1 only (offered, alerting, pop with the customer, answered).
    let mut seen = Vec::new();
    while let Some(e) = next(&mut alice, Duration::from_millis(300)).await {
        seen.push(e);
    }
    assert!(seen.iter().all(|e| e["call"] == 1), "{seen:?}");
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec!["callOffered", "callAlerting", "screenPop", "callAnswered"]
    );
    assert_eq!(seen[2]["customer"]["name"], "Example GmbH");
    assert_eq!(seen[2]["customer"]["fields"]["account"], "4711");
    let mut all = Vec::new();
    while let Some(e) = next(&mut admin, Duration::from_millis(300)).await {
        all.push(e);
    }
    assert_eq!(all.len(), 7);
    assert!(
        all[5]["customer"].is_null(),
        "an unknown caller pops with customer null"
    );
}

#[tokio::test]
async fn a_websocket_client_resumes_with_since_without_gap_or_duplicate() {
    let fake = Fake::new();
    let (b, base) = start(&fake, "").await;
    let f = fake.clone();
    // Calls keep coming while the client connects, reads, drops and resumes.
    let producer = tokio::spawn(async move {
        for i in 0..60u64 {
            f.ring(100 + i, "+4930111", "300000", Some("A300000")).await;
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let mut got: Vec<u64> = Vec::new();
    let mut client = ws(&base, &format!("token={ADMIN}&since=0")).await;
    while got.len() < 40 {
        let e = next(&mut client, Duration::from_secs(5))
            .await
            .expect("an event");
        got.push(e["seq"].as_u64().unwrap());
    }
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last = *got.last().unwrap();
    let mut client = ws(&base, &format!("token={ADMIN}&since={last}")).await;
    while got.len() < 180 {
        let e = next(&mut client, Duration::from_secs(5))
            .await
            .expect("an event");
        got.push(e["seq"].as_u64().unwrap());
    }
    producer.await.unwrap();
    assert_eq!(got, (1..=180).collect::<Vec<u64>>());
    assert!(
        next(&mut client, Duration::from_millis(200))
            .await
            .is_none()
    );
    assert_eq!(b.hub().last_seq(), 180);
}

#[tokio::test]
async fn stream_filters_by_type_device_and_queue() {
    let fake = Fake::new();
    let (b, base) = start(&fake, "").await;
    fake.ring(1, "+498912345", "300000", Some("A300000")).await;
    fake.ring(2, "+4930999", "300001", Some("A300001")).await;
    until(|| b.hub().last_seq() == 6).await;
    let mut c = ws(
        &base,
        &format!("token={ADMIN}&since=0&type=screenPop,callAlerting&device=300001"),
    )
    .await;
    let mut seen = Vec::new();
    while let Some(e) = next(&mut c, Duration::from_millis(300)).await {
        seen.push((
            e["type"].as_str().unwrap().to_string(),
            e["call"].as_u64().unwrap(),
        ));
    }
    assert_eq!(
        seen,
        vec![("callAlerting".into(), 2), ("screenPop".into(), 2)]
    );
    // Queue filter: both calls went through 6000.
    let mut c = ws(
        &base,
        &format!("token={ADMIN}&since=0&queue=6000&type=callOffered"),
    )
    .await;
    let mut n = 0;
    while next(&mut c, Duration::from_millis(300)).await.is_some() {
        n += 1;
    }
    assert_eq!(n, 2);
}

#[tokio::test]
async fn sse_replays_and_continues() {
    let fake = Fake::new();
    let (b, base) = start(&fake, "").await;
    fake.ring(1, "+498912345", "300000", Some("A300000")).await;
    until(|| b.hub().last_seq() == 3).await;
    let resp = client()
        .get(format!("{base}/v1/events/sse?since=1&token={AGENT_A}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut resp = resp;
    let f = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        f.answer(1, "300000", Some("A300000")).await;
    });
    let mut text = String::new();
    let mut ids = BTreeSet::new();
    while ids.len() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("sse data in time")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        ids = text
            .lines()
            .filter_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")))
            .map(|s| s.trim().parse::<u64>().unwrap())
            .collect();
    }
    assert_eq!(ids, BTreeSet::from([2, 3, 4]));
    assert!(text.contains("\"type\":\"callAnswered\""));
}

#[tokio::test]
async fn sequence_numbers_and_history_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("hf-bridge-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let extra = format!("[storage]\npath = \"{}\"\n", dir.join("j.sqlite").display());
    {
        let fake = Fake::new();
        let (b, _base) = start(&fake, &extra).await;
        fake.ring(1, "+498912345", "300000", Some("A300000")).await;
        fake.answer(1, "300000", Some("A300000")).await;
        fake.end(1).await;
        until(|| b.hub().last_seq() == 5).await;
        b.shutdown().await;
    }
    let fake = Fake::new();
    let (b, base) = start(&fake, &extra).await;
    assert_eq!(b.hub().last_seq(), 5);
    fake.ring(2, "+4930999", "300001", None).await;
    until(|| b.hub().last_seq() == 8).await;
    let mut c = ws(&base, &format!("token={ADMIN}&since=0")).await;
    let mut seqs = Vec::new();
    while let Some(e) = next(&mut c, Duration::from_millis(300)).await {
        seqs.push(e["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    let (_, records) = get(&base, "/v1/call-records?since=0", Some(ADMIN)).await;
    assert_eq!(records.as_array().unwrap().len(), 1);
    let r = &records[0];
    assert_eq!(
        (r["calling"].as_str(), r["answered_by"].as_str()),
        (Some("+498912345"), Some("300000"))
    );
    assert_eq!(
        (r["agent"].as_str(), r["outcome"].as_str()),
        (Some("A300000"), Some("answered"))
    );
    // Agent B's token sees no record of agent A's call.
    let (_, records) = get(&base, "/v1/call-records", Some(AGENT_B)).await;
    assert_eq!(records, json!([]));
    let (_, records) = get(&base, "/v1/call-records", Some(AGENT_A)).await;
    assert_eq!(records.as_array().unwrap().len(), 1);
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn limits_health_metrics_openapi_and_page() {
    let fake = Fake::new();
    let (_b, base) = start(&fake, "").await;
    let big = json!({"from": "300000", "to": "x".repeat(4000)});
    let (s, _) = send(Method::POST, &base, "/v1/calls", ADMIN, big).await;
    assert_eq!(s, 413);
    let (s, e) = send(Method::POST, &base, "/v1/calls/1/fly", ADMIN, json!({})).await;
    assert_eq!(s, 404, "{e}");
    let resp = client()
        .post(format!("{base}/v1/calls"))
        .bearer_auth(ADMIN)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let (s, r) = send(
        Method::POST,
        &base,
        "/v1/calls",
        ADMIN,
        json!({"from": "300000", "to": "200000"}),
    )
    .await;
    assert_eq!((s, r), (201, json!({"call": null})));

    let (s, h) = get(&base, "/healthz", None).await;
    assert_eq!(s, 200);
    assert_eq!(h["links"], json!([{"name": "pbx", "state": "up"}]));
    let (_, links) = get(&base, "/v1/links", Some(SUPERVISOR)).await;
    assert!(
        links[0]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("answer"))
    );
    let (_, q) = get(&base, "/v1/queues", Some(SUPERVISOR)).await;
    assert_eq!(q[0]["id"], "6000");
    let (s, m) = get(&base, "/metrics", None).await;
    assert_eq!(s, 200);
    let m = m.as_str().unwrap().to_string();
    assert!(m.contains("hookflash_link_up{link=\"pbx\"} 1"), "{m}");
    assert!(m.contains("hookflash_http_unauthorized_total"));
    let (s, doc) = get(&base, "/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(
        doc["paths"]["/v1/events"].is_object(),
        "the OpenAPI document describes the streams"
    );
    let page = client().get(format!("{base}/")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let wall = client()
        .get(format!("{base}/wallboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(wall.status().as_u16(), 200);
}

#[test]
fn config_errors_name_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("hf-bridge-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bridge.toml");
    std::fs::write(&path, "[http]\nlisten = \"127.0.0.1:8080\"\n\n[[tokens]]\nname = \"x\"\ntoken = \"0123456789abcdef\"\nscope = \"superuser\"\n").unwrap();
    let e = hookflash_bridge::config::Config::load(&path).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("bridge.toml:7:"), "{text}");
    assert!(text.contains("tokens.scope"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_example_configuration_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bridge.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let env = |n: &str| Some(format!("{n}-value-0123456789"));
    let cfg = hookflash_bridge::config::Config::parse(&path, &text, &env).unwrap();
    assert_eq!(cfg.links[0].url, "csta-xml+tcp://pbx.example:4721");
    assert_eq!(cfg.tokens.len(), 3);
    assert_eq!(
        cfg.webhooks[0].secret,
        "HOOKFLASH_WEBHOOK_SECRET-value-0123456789"
    );
    // Without the environment, the first missing secret is named with its line.
    let e = hookflash_bridge::config::Config::parse(&path, &text, &|_| None).unwrap_err();
    assert!(e.to_string().contains("HOOKFLASH_CRM_TOKEN"), "{e}");
    assert!(e.to_string().contains("tokens.token"), "{e}");
}

#[tokio::test]
async fn an_oversized_websocket_message_closes_the_stream_and_agent_events_are_scoped() {
    use futures_util::SinkExt;
    use hookflash_core::event::EventKind;
    use hookflash_core::model::{AgentActivity, AgentStatus, Availability};

    let fake = Fake::new();
    let (b, base) = start(&fake, "").await;
    let mut alice = ws(&base, &format!("token={AGENT_A}")).await;
    for (agent, device) in [("A300001", "300001"), ("A300000", "300000")] {
        fake.emit(EventKind::AgentStateChanged {
            agent: agent.into(),
            device: Some(device.into()),
            status: AgentStatus::Ready,
            activity: AgentActivity::Idle,
            availability: Availability::Available,
        })
        .await;
    }
    until(|| b.hub().last_seq() == 2).await;
    let e = next(&mut alice, Duration::from_secs(2)).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["agent"].as_str()),
        (Some("agentStateChanged"), Some("A300000"))
    );
    assert!(next(&mut alice, Duration::from_millis(200)).await.is_none());

    // A small message is ignored; the stream stays open.
    alice.send(Message::Text("hello".into())).await.unwrap();
    let open = tokio::time::timeout(Duration::from_millis(300), alice.next()).await;
    assert!(open.is_err(), "the stream stays open: {open:?}");
    // The test configuration allows messages of 64 KiB from clients.
    let _ = alice.send(Message::Text("x".repeat(200_000).into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match alice.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true));
}
