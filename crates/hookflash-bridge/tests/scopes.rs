//! Token scopes on every route: a table of (route, request) × (admin, supervisor, agent on its
//! own device, agent without the device, no token, wrong token) with the exact status each gets.
//! The table is checked against the routes `api.rs` registers, so a route added later without
//! rows here fails this test.

mod common;

use std::sync::Arc;

use common::*;
use hookflash_bridge::Bridge;
use reqwest::Method;
use serde_json::{Value, json};

const WRONG: &str = "wrong-token-wrong-token-0123";

/// Who asks, in the order of a row's statuses.
const WHO: [(&str, Option<&str>); 6] = [
    ("admin", Some(ADMIN)),
    ("supervisor", Some(SUPERVISOR)),
    ("agent A (device 300000)", Some(AGENT_A)),
    ("agent B (device 300001)", Some(AGENT_B)),
    ("no token", None),
    ("wrong token", Some(WRONG)),
];

/// How a request is sent.
#[derive(Clone, Copy, Debug)]
enum How {
    /// Plain HTTP with `Authorization: Bearer`.
    Http,
    /// A WebSocket handshake with `Authorization: Bearer`.
    WebSocket,
    /// A WebSocket handshake with `?token=`.
    WebSocketQuery,
    /// Plain HTTP with `?token=` (only the event streams accept it).
    Query,
}

struct Row {
    method: Method,
    path: &'static str,
    body: Value,
    how: How,
    /// admin, supervisor, agent A, agent B, none, wrong.
    expect: [u16; 6],
}

fn row(method: Method, path: &'static str, body: Value, expect: [u16; 6]) -> Row {
    Row {
        method,
        path,
        body,
        how: How::Http,
        expect,
    }
}

/// Calls 1 and 3 ring at agent A's device 300000, call 2 at agent B's 300001.
fn table() -> Vec<Row> {
    use Method as M;
    let none = json!(null);
    let open = [200; 6];
    let read = [200, 200, 200, 200, 401, 401];
    let verb = |to: &str| json!({"device": "300000", "to": to, "other": "c3", "digits": "12", "data": {"k": "v"}});
    let mut rows = vec![
        // The page, its assets, the API description, health and metrics are public.
        row(M::GET, "/", none.clone(), open),
        row(M::GET, "/wallboard", none.clone(), open),
        row(M::GET, "/app.js", none.clone(), open),
        row(M::GET, "/style.css", none.clone(), open),
        row(M::GET, "/v1/openapi.json", none.clone(), open),
        row(M::GET, "/healthz", none.clone(), open),
        row(M::GET, "/metrics", none.clone(), open),
        // Reads: every token, filtered to its scope (content checked below).
        row(M::GET, "/v1/me", none.clone(), read),
        row(M::GET, "/v1/calls", none.clone(), read),
        row(M::GET, "/v1/agents", none.clone(), read),
        row(M::GET, "/v1/queues", none.clone(), read),
        row(M::GET, "/v1/call-records", none.clone(), read),
        row(M::GET, "/v1/links", none.clone(), read),
        row(M::GET, "/v1/events/sse", none.clone(), read),
        // A call another agent's token cannot see looks absent.
        row(
            M::GET,
            "/v1/calls/1",
            none.clone(),
            [200, 200, 200, 404, 401, 401],
        ),
        row(
            M::GET,
            "/v1/calls/2",
            none.clone(),
            [200, 200, 404, 200, 401, 401],
        ),
        // Commands: admin anywhere, an agent at its own devices, never a supervisor.
        row(
            M::POST,
            "/v1/calls",
            json!({"from": "300000", "to": "200000"}),
            [201, 403, 201, 403, 401, 401],
        ),
        row(
            M::POST,
            "/v1/calls",
            json!({"from": "300001", "to": "200000"}),
            [201, 403, 403, 201, 401, 401],
        ),
        row(
            M::PUT,
            "/v1/agents/A300000/state",
            json!({"state": "ready"}),
            [200, 403, 200, 403, 401, 401],
        ),
        row(
            M::PUT,
            "/v1/agents/A300000/state",
            json!({"state": "loggedIn", "device": "300001"}),
            [200, 403, 403, 403, 401, 401],
        ),
        // A call verb the agent's device has no leg for is refused as out of scope.
        row(
            M::POST,
            "/v1/calls/1/hold",
            json!({"device": "300001"}),
            [200, 403, 403, 404, 401, 401],
        ),
        // The other call of a two-call verb must be one the token can see.
        row(
            M::POST,
            "/v1/calls/1/transfer",
            json!({"device": "300000", "other": "c2"}),
            [200, 403, 404, 404, 401, 401],
        ),
        row(
            M::POST,
            "/v1/calls/1/fly",
            json!({}),
            [404, 403, 404, 404, 401, 401],
        ),
        row(M::DELETE, "/v1/calls", none.clone(), [405; 6]),
        row(M::GET, "/v1/nothing", none.clone(), [404; 6]),
    ];
    for v in [
        "answer",
        "clear",
        "hold",
        "retrieve",
        "consult",
        "transfer",
        "conference",
        "alternate",
        "reconnect",
        "single-step-transfer",
        "single-step-conference",
        "deflect",
        "send-digits",
        "attach-data",
        "clear-call",
    ] {
        let path: &'static str = Box::leak(format!("/v1/calls/1/{v}").into_boxed_str());
        rows.push(row(
            M::POST,
            path,
            verb("200000"),
            [200, 403, 200, 404, 401, 401],
        ));
    }
    // The event streams: a WebSocket upgrade (101) with the header or `?token=`.
    for how in [How::WebSocket, How::WebSocketQuery] {
        rows.push(Row {
            method: M::GET,
            path: "/v1/events",
            body: none.clone(),
            how,
            expect: [101, 101, 101, 101, 401, 401],
        });
    }
    rows.push(Row {
        method: M::GET,
        path: "/v1/events/sse",
        body: none.clone(),
        how: How::Query,
        expect: read,
    });
    // `?token=` is for the streams only.
    rows.push(Row {
        method: M::GET,
        path: "/v1/calls",
        body: none,
        how: How::Query,
        expect: [401; 6],
    });
    rows
}

/// The routes `api.rs` registers, as (method, path template), read from its source.
fn registered_routes() -> Vec<(String, String)> {
    let src = include_str!("../src/api.rs");
    let start = src
        .find("pub fn router(")
        .expect("api.rs has a router function");
    let body = &src[start..];
    let end = body.find(".fallback(").expect("the router has a fallback");
    let body = &body[..end];
    let mut out = Vec::new();
    for part in body.split(".route(").skip(1) {
        let q1 = part.find('"').expect("a route path");
        let q2 = q1 + 1 + part[q1 + 1..].find('"').expect("a closed route path");
        let path = &part[q1 + 1..q2];
        let rest = &part[q2..];
        for m in ["get", "post", "put", "delete", "patch"] {
            let called = |prefix: &str| rest.contains(&format!("{prefix}{m}("));
            if called(" ") || called(".") || called("(") || called("\n") {
                out.push((m.to_uppercase(), path.to_string()));
            }
        }
    }
    out
}

fn matches(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
}

#[test]
fn every_registered_route_has_rows_for_every_method() {
    let routes = registered_routes();
    assert!(routes.len() >= 19, "parsed {routes:?}");
    let rows = table();
    for (method, template) in &routes {
        assert!(
            rows.iter()
                .any(|r| r.method.as_str() == method && matches(template, r.path)),
            "{method} {template} is registered in api.rs but has no row in the scope table"
        );
    }
    for r in &rows {
        let known = routes.iter().any(|(_, t)| matches(t, r.path));
        assert!(
            known || r.expect == [404; 6],
            "{} {} is in the table but not registered",
            r.method,
            r.path
        );
    }
}

async fn fresh() -> (Arc<Fake>, Bridge, String) {
    let fake = Fake::new();
    let b = Bridge::start(&config(""), fake.clone()).await.unwrap();
    let base = format!("http://{}", b.local_addr());
    fake.ring(1, "+498912345", "300000", Some("A300000")).await;
    fake.ring(2, "+4930999", "300001", Some("A300001")).await;
    fake.ring(3, "+4940777", "300000", Some("A300000")).await;
    until(|| b.hub().last_seq() == 9).await;
    (fake, b, base)
}

async fn status(base: &str, r: &Row, token: Option<&str>) -> u16 {
    match r.how {
        How::Http | How::Query => {
            let mut url = format!("{base}{}", r.path);
            let mut req;
            if let How::Query = r.how {
                if let Some(t) = token {
                    url.push_str(&format!("?token={t}"));
                }
                req = client().request(r.method.clone(), url);
            } else {
                req = client().request(r.method.clone(), url);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
            }
            if !r.body.is_null() {
                req = req.json(&r.body);
            }
            req.send().await.unwrap().status().as_u16()
        }
        How::WebSocket | How::WebSocketQuery => {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut url = format!("{}{}", base.replace("http://", "ws://"), r.path);
            if let (How::WebSocketQuery, Some(t)) = (r.how, token) {
                url.push_str(&format!("?token={t}"));
            }
            let mut req = url.into_client_request().unwrap();
            if let (How::WebSocket, Some(t)) = (r.how, token) {
                req.headers_mut()
                    .insert("authorization", format!("Bearer {t}").parse().unwrap());
            }
            match tokio_tungstenite::connect_async(req).await {
                Ok((_, resp)) => resp.status().as_u16(),
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
                Err(e) => panic!("{}: {e}", r.path),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_scope_with_the_exact_status() {
    let mut failures = Vec::new();
    for r in table() {
        for (i, (who, token)) in WHO.iter().enumerate() {
            // A fresh bridge per cell: commands change the scripted calls.
            let (_fake, b, base) = fresh().await;
            let got = status(&base, &r, *token).await;
            if got != r.expect[i] {
                failures.push(format!(
                    "{} {} ({:?}) as {who}: {got}, expected {}",
                    r.method, r.path, r.how, r.expect[i]
                ));
            }
            b.shutdown().await;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn reads_are_filtered_to_the_scope() {
    let (_fake, b, base) = fresh().await;
    let ids = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        ids(&get(&base, "/v1/calls", Some(ADMIN)).await.1),
        [1, 2, 3]
    );
    assert_eq!(
        ids(&get(&base, "/v1/calls", Some(SUPERVISOR)).await.1),
        [1, 2, 3]
    );
    assert_eq!(ids(&get(&base, "/v1/calls", Some(AGENT_A)).await.1), [1, 3]);
    assert_eq!(ids(&get(&base, "/v1/calls", Some(AGENT_B)).await.1), [2]);
    async fn agents(base: &str, t: &str) -> Vec<String> {
        get(base, "/v1/agents", Some(t))
            .await
            .1
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    }
    assert_eq!(agents(&base, SUPERVISOR).await, ["A300000", "A300001"]);
    assert_eq!(agents(&base, AGENT_A).await, ["A300000"]);
    assert_eq!(agents(&base, AGENT_B).await, ["A300001"]);
    b.shutdown().await;
}

#[tokio::test]
async fn a_supervisor_and_an_agent_command_nothing_out_of_scope() {
    // Every refused command in the table must also never reach the backend.
    let (fake, b, base) = fresh().await;
    for r in table().iter().filter(|r| r.method != Method::GET) {
        for (i, (_, token)) in WHO.iter().enumerate().skip(1) {
            if matches!(r.expect[i], 200..=299) {
                continue;
            }
            let before = fake.executed().len();
            let _ = status(&base, r, *token).await;
            assert_eq!(
                fake.executed().len(),
                before,
                "{} {} refused for {:?} but executed: {:?}",
                r.method,
                r.path,
                token,
                fake.executed()
            );
        }
    }
    b.shutdown().await;
}
