//! A scripted backend for route tests: calls and agents set up by the test, events emitted by
//! the test, commands recorded (answer also changes the call and emits its event).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hookflash::Error;
use hookflash::spi::Capabilities;
use hookflash_bridge::backend::{Backend, LinkInfo};
use hookflash_bridge::config::Config;
use hookflash_core::command::{Command, Verbs, permitted};
use hookflash_core::event::{Event, EventKind};
use hookflash_core::model::{
    Agent, AgentActivity, AgentStatus, Call, CallData, CallId, ConnectionState, Leg, LinkState,
    Number, Outcome, Queue, Timestamp,
};
use tokio::sync::mpsc;

pub const ADMIN: &str = "admin-token-0123456789";
pub const SUPERVISOR: &str = "supervisor-token-0123456789";
pub const AGENT_A: &str = "agent-a-token-0123456789";
pub const AGENT_B: &str = "agent-b-token-0123456789";

#[derive(Default)]
pub struct State {
    pub calls: BTreeMap<CallId, Call>,
    pub ended: BTreeMap<CallId, Call>,
    pub agents: Vec<Agent>,
    pub executed: Vec<Command>,
    pub seq: u64,
}

pub struct Fake {
    pub st: Mutex<State>,
    tx: mpsc::Sender<Event>,
    rx: Mutex<Option<mpsc::Receiver<Event>>>,
}

pub fn now() -> Timestamp {
    hookflash::spi::now()
}

impl Fake {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = mpsc::channel(100_000);
        let mut st = State::default();
        for (id, dev) in [("A300000", "300000"), ("A300001", "300001")] {
            st.agents.push(Agent {
                id: id.into(),
                device: Some(dev.into()),
                status: AgentStatus::Ready,
                activity: AgentActivity::Idle,
                queues: BTreeMap::from([("6000".into(), false)]),
                since: Timestamp(0),
            });
        }
        Arc::new(Self {
            st: Mutex::new(st),
            tx,
            rx: Mutex::new(Some(rx)),
        })
    }

    /// How many events this backend has emitted.
    pub fn emitted(&self) -> u64 {
        self.st.lock().unwrap().seq
    }

    pub async fn emit(&self, kind: EventKind) {
        let seq = {
            let mut st = self.st.lock().unwrap();
            st.seq += 1;
            st.seq
        };
        self.tx
            .send(Event {
                seq,
                at: now(),
                pbx_time_us: None,
                link: Some("pbx".into()),
                kind,
            })
            .await
            .unwrap();
    }

    /// A call from `ani` ringing at `device` (an agent's), with its events.
    pub async fn ring(&self, id: u64, ani: &str, device: &str, agent: Option<&str>) {
        let call = Call {
            id: CallId(id),
            link: "pbx".into(),
            aliases: vec![format!("n{id}").into()],
            legs: vec![Leg {
                device: device.into(),
                state: ConnectionState::Alerting,
                since: now(),
            }],
            data: CallData {
                ani: Some(Number {
                    raw: ani.into(),
                    e164: Some(ani.into()),
                }),
                dnis: Some(Number {
                    raw: "6000".into(),
                    e164: None,
                }),
                ..CallData::default()
            },
            offered_at: now(),
            answered_at: None,
            ended_at: None,
            answered_by: None,
            agent: None,
            queue: Some("6000".into()),
            waiting: false,
            transfers: vec![],
            conferenced: false,
            outcome: None,
            last_cause: None,
            delivered: true,
            failed_busy: None,
        };
        self.st
            .lock()
            .unwrap()
            .calls
            .insert(CallId(id), call.clone());
        self.emit(EventKind::CallOffered {
            call: CallId(id),
            ani: call.data.ani.clone(),
            dnis: call.data.dnis.clone(),
            direction: None,
        })
        .await;
        self.emit(EventKind::CallAlerting {
            call: CallId(id),
            device: device.into(),
        })
        .await;
        self.emit(EventKind::ScreenPop {
            call: CallId(id),
            agent: agent.map(Into::into),
            device: device.into(),
            ani: call.data.ani.clone(),
            dnis: call.data.dnis.clone(),
            data: Box::new(call.data.clone()),
        })
        .await;
    }

    pub async fn answer(&self, id: u64, device: &str, agent: Option<&str>) {
        {
            let mut st = self.st.lock().unwrap();
            let c = st.calls.get_mut(&CallId(id)).unwrap();
            for l in &mut c.legs {
                if l.device.as_str() == device {
                    l.state = ConnectionState::Connected;
                }
            }
            c.answered_at = Some(now());
            c.answered_by = Some(device.into());
            c.agent = agent.map(Into::into);
        }
        self.emit(EventKind::CallAnswered {
            call: CallId(id),
            device: device.into(),
        })
        .await;
    }

    pub async fn end(&self, id: u64) {
        {
            let mut st = self.st.lock().unwrap();
            let mut c = st.calls.remove(&CallId(id)).unwrap();
            c.ended_at = Some(now());
            c.outcome = Some(Outcome::Answered);
            c.legs.clear();
            st.ended.insert(CallId(id), c);
        }
        self.emit(EventKind::CallEnded {
            call: CallId(id),
            outcome: Outcome::Answered,
        })
        .await;
    }

    pub fn executed(&self) -> Vec<Command> {
        self.st.lock().unwrap().executed.clone()
    }
}

#[async_trait]
impl Backend for Fake {
    fn take_events(&self) -> Option<mpsc::Receiver<Event>> {
        self.rx.lock().unwrap().take()
    }
    fn calls(&self) -> Vec<Call> {
        self.st.lock().unwrap().calls.values().cloned().collect()
    }
    fn call(&self, id: CallId) -> Option<Call> {
        let st = self.st.lock().unwrap();
        st.calls.get(&id).or_else(|| st.ended.get(&id)).cloned()
    }
    fn permitted(&self, call: CallId, device: &str) -> Verbs {
        let st = self.st.lock().unwrap();
        st.calls
            .get(&call)
            .map_or_else(Verbs::default, |c| permitted(c, device, &[]))
    }
    fn calls_at(&self, device: &str) -> Vec<Call> {
        let st = self.st.lock().unwrap();
        st.calls
            .values()
            .filter(|c| c.leg(device).is_some())
            .cloned()
            .collect()
    }
    fn agents(&self) -> Vec<Agent> {
        self.st.lock().unwrap().agents.clone()
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
    async fn execute(&self, command: Command) -> Result<Option<CallId>, Error> {
        let verbs = match &command {
            Command::Answer { call, device } => {
                let v = self.permitted(*call, device);
                if !v.contains(Verbs::ANSWER) {
                    return Err(Error::NotPermitted);
                }
                Some((*call, device.clone()))
            }
            _ => None,
        };
        self.st.lock().unwrap().executed.push(command);
        if let Some((call, device)) = verbs {
            let agent = self
                .agents()
                .into_iter()
                .find(|a| a.device.as_ref() == Some(&device))
                .map(|a| a.id.to_string());
            self.answer(call.0, &device, agent.as_deref()).await;
        }
        Ok(None)
    }
}

/// A configuration with the four test tokens, listening on a free port.
pub fn config(extra: &str) -> Config {
    let text = format!(
        r#"
[http]
listen = "127.0.0.1:0"
max_body_bytes = 2048

[[agents]]
id = "A300000"
devices = ["300000"]

[[tokens]]
name = "admin"
token = "{ADMIN}"
scope = "admin"

[[tokens]]
name = "wallboard"
token = "{SUPERVISOR}"
scope = "supervisor"

[[tokens]]
name = "alice"
token = "{AGENT_A}"
scope = "agent"
agent = "A300000"

[[tokens]]
name = "bob"
token = "{AGENT_B}"
scope = "agent"
agent = "A300001"

[[customers]]
number = "+498912345"
name = "Example GmbH"
fields = {{ account = "4711" }}
{extra}
"#
    );
    Config::parse("test.toml".as_ref(), &text, &|_| None).unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

pub async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut r = client().get(format!("{base}{path}"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

pub async fn send(
    method: reqwest::Method,
    base: &str,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = client()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Waits until `f` holds, at most five seconds.
pub async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("condition not reached in time");
}
