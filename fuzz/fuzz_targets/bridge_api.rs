//! Any request a northbound client can send (route, token, path segments, query and JSON body
//! chosen by the data) through the bridge's HTTP router over a scripted backend: no panic, no
//! 500, unauthenticated requests are refused, a supervisor never commands, and an agent token
//! only ever commands its own device, agent and calls.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, header};
use hookflash::spi::Capabilities;
use hookflash_bridge::api::{AppState, router};
use hookflash_bridge::auth::Tokens;
use hookflash_bridge::backend::{Backend, LinkInfo};
use hookflash_bridge::config::Config;
use hookflash_bridge::hub::Hub;
use hookflash_bridge::journal::Journal;
use hookflash_bridge::metrics::Metrics;
use hookflash_bridge::redact::Redactor;
use hookflash_core::command::{Command, Verbs, permitted};
use hookflash_core::event::Event;
use hookflash_core::model::{
    Agent, AgentActivity, AgentStatus, Call, CallData, CallId, ConnectionState, Leg, LinkState,
    Queue, Timestamp,
};
use libfuzzer_sys::fuzz_target;
use tokio::sync::mpsc;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-0123456789";
const SUPERVISOR: &str = "supervisor-token-0123456789";
const AGENT_A: &str = "agent-a-token-0123456789";
const TOKENS: [Option<&str>; 5] = [
    Some(ADMIN),
    Some(SUPERVISOR),
    Some(AGENT_A),
    Some("wrong-token-0123456789"),
    None,
];

fn call(id: u64, device: &str, state: ConnectionState) -> Call {
    Call {
        id: CallId(id),
        link: "pbx".into(),
        aliases: vec![],
        legs: vec![Leg {
            device: device.into(),
            state,
            since: Timestamp(0),
        }],
        data: CallData::default(),
        offered_at: Timestamp(0),
        answered_at: None,
        ended_at: None,
        answered_by: None,
        agent: None,
        queue: None,
        waiting: false,
        transfers: vec![],
        conferenced: false,
        outcome: None,
        last_cause: None,
        delivered: true,
        failed_busy: None,
    }
}

/// Two calls: 1 rings at agent A's device 300000, 2 is connected at agent B's 300001.
struct Fake {
    calls: Vec<Call>,
    executed: Mutex<Vec<Command>>,
}

#[async_trait]
impl Backend for Fake {
    fn take_events(&self) -> Option<mpsc::Receiver<Event>> {
        None
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.clone()
    }
    fn call(&self, id: CallId) -> Option<Call> {
        self.calls.iter().find(|c| c.id == id).cloned()
    }
    fn permitted(&self, call: CallId, device: &str) -> Verbs {
        self.call(call)
            .map_or_else(Verbs::default, |c| permitted(&c, device, &[]))
    }
    fn calls_at(&self, device: &str) -> Vec<Call> {
        self.calls
            .iter()
            .filter(|c| c.leg(device).is_some())
            .cloned()
            .collect()
    }
    fn agents(&self) -> Vec<Agent> {
        [("A300000", "300000"), ("A300001", "300001")]
            .into_iter()
            .map(|(id, dev)| Agent {
                id: id.into(),
                device: Some(dev.into()),
                status: AgentStatus::Ready,
                activity: AgentActivity::Idle,
                queues: BTreeMap::from([("6000".into(), false)]),
                since: Timestamp(0),
            })
            .collect()
    }
    fn queues(&self, _now: Timestamp) -> Vec<Queue> {
        vec![Queue {
            id: "6000".into(),
            waiting: vec![],
            stats: Default::default(),
        }]
    }
    fn links(&self) -> Vec<LinkInfo> {
        vec![LinkInfo {
            name: "pbx".into(),
            state: LinkState::Up,
            capabilities: Capabilities {
                verbs: Verbs(u32::MAX >> 18),
                flags: Capabilities::MONITOR | Capabilities::MAKE_CALL,
            },
        }]
    }
    async fn execute(&self, command: Command) -> Result<Option<CallId>, hookflash::Error> {
        self.executed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(command);
        Ok(None)
    }
}

struct World {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    fake: Arc<Fake>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let text = format!(
            "[http]\nmax_body_bytes = 2048\n[[agents]]\nid = \"A300000\"\ndevices = [\"300000\"]\n\
             [[tokens]]\nname = \"admin\"\ntoken = \"{ADMIN}\"\nscope = \"admin\"\n\
             [[tokens]]\nname = \"wall\"\ntoken = \"{SUPERVISOR}\"\nscope = \"supervisor\"\n\
             [[tokens]]\nname = \"alice\"\ntoken = \"{AGENT_A}\"\nscope = \"agent\"\nagent = \"A300000\"\n"
        );
        let cfg = Config::parse("fuzz.toml".as_ref(), &text, &|_| None).expect("config");
        let fake = Arc::new(Fake {
            calls: vec![
                call(1, "300000", ConnectionState::Alerting),
                call(2, "300001", ConnectionState::Connected),
            ],
            executed: Mutex::new(Vec::new()),
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let hub = Hub::new(
            &cfg,
            Journal::open(None).expect("journal"),
            fake.clone(),
            Arc::new(Metrics::default()),
        )
        .expect("hub");
        let st = AppState {
            hub,
            tokens: Arc::new(Tokens::new(&cfg)),
            max_message_bytes: 4096,
            redact: Redactor { enabled: true },
        };
        World {
            rt,
            app: router(st, cfg.http.max_body_bytes),
            fake,
        }
    })
}

const IDS: [&str; 6] = ["1", "2", "c1", "3", "x", "18446744073709551616"];
const VERBS: [&str; 16] = [
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
    "fly",
];
const AGENTS: [&str; 3] = ["A300000", "A300001", "x"];

/// Percent-encodes everything but unreserved characters and `=&`.
fn encode(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-._~=&,".contains(&c) {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

/// The devices, agents and calls a command acts on.
fn acts_on(c: &Command) -> (Vec<String>, Vec<String>, Vec<CallId>) {
    match c {
        Command::MakeCall { from, .. } => (vec![from.to_string()], vec![], vec![]),
        Command::Answer { call, device }
        | Command::Clear { call, device }
        | Command::Hold { call, device }
        | Command::Retrieve { call, device }
        | Command::Consult { call, device, .. }
        | Command::SingleStepTransfer { call, device, .. }
        | Command::SingleStepConference { call, device, .. }
        | Command::Deflect { call, device, .. }
        | Command::SendDigits { call, device, .. } => {
            (vec![device.to_string()], vec![], vec![*call])
        }
        Command::Transfer {
            held,
            active,
            device,
        }
        | Command::Conference {
            held,
            active,
            device,
        }
        | Command::Alternate {
            held,
            active,
            device,
        }
        | Command::Reconnect {
            held,
            active,
            device,
        } => (vec![device.to_string()], vec![], vec![*held, *active]),
        Command::ClearCall { call } | Command::AttachData { call, .. } => {
            (vec![], vec![], vec![*call])
        }
        Command::AgentLogin { agent, device, .. } => {
            (vec![device.to_string()], vec![agent.to_string()], vec![])
        }
        Command::AgentLogout { agent }
        | Command::AgentReady { agent }
        | Command::AgentNotReady { agent, .. }
        | Command::AgentAfterCallWork { agent } => (vec![], vec![agent.to_string()], vec![]),
        other => panic!("a command the bridge should not send: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let [route, tok, a, b, rest @ ..] = data else {
        return;
    };
    let w = world();
    let token = TOKENS[usize::from(*tok) % TOKENS.len()];
    let (query, body) = match rest.iter().position(|&c| c == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let id = IDS[usize::from(*a) % IDS.len()];
    let (method, path, command, rest_route) = match route % 14 {
        0 => (Method::GET, "/v1/me".to_string(), false, true),
        1 => (Method::GET, "/v1/calls".to_string(), false, true),
        2 => (Method::POST, "/v1/calls".to_string(), true, true),
        3 => (Method::GET, format!("/v1/calls/{id}"), false, true),
        4 => (
            Method::POST,
            format!("/v1/calls/{id}/{}", VERBS[usize::from(*b) % VERBS.len()]),
            true,
            true,
        ),
        5 => (Method::GET, "/v1/agents".to_string(), false, true),
        6 => (
            Method::PUT,
            format!(
                "/v1/agents/{}/state",
                AGENTS[usize::from(*b) % AGENTS.len()]
            ),
            true,
            true,
        ),
        7 => (Method::GET, "/v1/queues".to_string(), false, true),
        8 => (
            Method::GET,
            format!("/v1/call-records?{}", encode(query)),
            false,
            true,
        ),
        9 => (Method::GET, "/v1/links".to_string(), false, true),
        10 => (
            Method::GET,
            format!("/v1/events/sse?{}", encode(query)),
            false,
            false,
        ),
        11 => (Method::GET, "/v1/events".to_string(), false, false),
        12 => (Method::GET, "/healthz".to_string(), false, false),
        _ => (
            [Method::DELETE, Method::PATCH, Method::POST][usize::from(*b) % 3].clone(),
            format!("/v1/{}", encode(query)),
            false,
            false,
        ),
    };
    let mut req = Request::builder().method(method.clone()).uri(&path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    w.fake
        .executed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    let resp =
        w.rt.block_on(w.app.clone().oneshot(req))
            .expect("infallible");
    let status = resp.status().as_u16();
    drop(resp);
    let executed = std::mem::take(&mut *w.fake.executed.lock().unwrap_or_else(|p| p.into_inner()));

    assert_ne!(status, 500, "{method} {path}");
    if rest_route && matches!(token, None | Some("wrong-token-0123456789")) {
        assert_eq!(status, 401, "{method} {path} without a valid token");
    }
    if token == Some(SUPERVISOR) && command {
        assert!(
            !(200..300).contains(&status),
            "a supervisor commanded: {path}"
        );
    }
    if token != Some(ADMIN) {
        assert!(
            executed.is_empty() || token == Some(AGENT_A),
            "{executed:?} under {token:?}"
        );
    }
    if token == Some(AGENT_A) {
        for c in &executed {
            let (devices, agents, calls) = acts_on(c);
            assert!(devices.iter().all(|d| d == "300000"), "{c:?}");
            assert!(agents.iter().all(|a| a == "A300000"), "{c:?}");
            assert!(calls.iter().all(|c| *c == CallId(1)), "{c:?}");
        }
    }
});
