//! A toy PBX speaking the toy protocol, for tests and for trying the driver without a PBX.
//!
//! Calls are scripted by the caller ([`ToyPbx::ring`], [`ToyPbx::hang_up`]) or made by clients
//! (`DIAL`); every event of a call goes to each connection that watches one of its devices.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::LineReader;

#[derive(Default)]
struct State {
    next_call: u64,
    /// Call id → its devices.
    calls: HashMap<String, BTreeSet<String>>,
    conns: Vec<Conn>,
    requests: Vec<String>,
}

struct Conn {
    id: u64,
    watched: HashSet<String>,
    tx: mpsc::UnboundedSender<String>,
}

impl State {
    fn emit(&mut self, call: &str, line: String) {
        let devices = self.calls.get(call).cloned().unwrap_or_default();
        self.conns.retain(|c| {
            if devices.iter().any(|d| c.watched.contains(d)) {
                c.tx.send(line.clone()).is_ok()
            } else {
                !c.tx.is_closed()
            }
        });
    }

    fn new_call(&mut self, devices: &[&str]) -> String {
        self.next_call += 1;
        let id = format!("T{}", self.next_call);
        self.calls.insert(
            id.clone(),
            devices.iter().map(|d| (*d).to_owned()).collect(),
        );
        id
    }

    fn end(&mut self, call: &str) {
        self.emit(call, format!("END {call}"));
        self.calls.remove(call);
    }

    /// Handles one request line from connection `conn`; the answer line.
    fn request(&mut self, conn: u64, line: &str) -> String {
        self.requests.push(line.to_owned());
        let f: Vec<&str> = line.split(' ').collect();
        let Some(tag) = f.first().and_then(|t| t.parse::<u64>().ok()) else {
            return "ERR 0 bad-request".to_owned();
        };
        let known = |s: &Self, c: &str| s.calls.contains_key(c);
        match &f[1..] {
            ["PING"] => format!("OK {tag}"),
            ["WATCH", d] | ["UNWATCH", d] => {
                if let Some(c) = self.conns.iter_mut().find(|c| c.id == conn) {
                    if f[1] == "WATCH" {
                        c.watched.insert((*d).to_owned());
                    } else {
                        c.watched.remove(*d);
                    }
                }
                format!("OK {tag}")
            }
            ["DIAL", from, to] => {
                let call = self.new_call(&[from, to]);
                self.emit(&call, format!("DIALING {call} {from} {to}"));
                self.emit(&call, format!("RING {call} {to} {from}"));
                format!("OK {tag} {call}")
            }
            ["ANSWER", call, d] if known(self, call) => {
                self.emit(call, format!("TALK {call} {d}"));
                format!("OK {tag}")
            }
            ["HOLD", call, d] if known(self, call) => {
                self.emit(call, format!("HOLD {call} {d}"));
                format!("OK {tag}")
            }
            ["RESUME", call, d] if known(self, call) => {
                self.emit(call, format!("RESUME {call} {d}"));
                format!("OK {tag}")
            }
            ["HANGUP", call, d] if known(self, call) => {
                self.emit(call, format!("LEFT {call} {d}"));
                self.end(call);
                format!("OK {tag}")
            }
            ["ANSWER" | "HOLD" | "RESUME" | "HANGUP", ..] => format!("ERR {tag} no-such-call"),
            _ => format!("ERR {tag} bad-request"),
        }
    }
}

/// A running toy PBX on `127.0.0.1`.
pub struct ToyPbx {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for ToyPbx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToyPbx").field("addr", &self.addr).finish()
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ToyPbx {
    /// Starts a toy PBX on a free port of `127.0.0.1`.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut next_conn = 0u64;
            while let Ok((stream, _)) = listener.accept().await {
                next_conn += 1;
                let id = next_conn;
                let (tx, mut rx) = mpsc::unbounded_channel::<String>();
                lock(&st).conns.push(Conn {
                    id,
                    watched: HashSet::new(),
                    tx,
                });
                let (rd, mut wr) = stream.into_split();
                tokio::spawn(async move {
                    if wr.write_all(b"HELLO toy/1\n").await.is_err() {
                        return;
                    }
                    while let Some(line) = rx.recv().await {
                        if wr.write_all(format!("{line}\n").as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
                let st = st.clone();
                tokio::spawn(async move {
                    let mut lines = LineReader::new(rd);
                    while let Ok(Some(line)) = lines.next_line().await {
                        let mut state = lock(&st);
                        let answer = state.request(id, &line);
                        // A dropped connection has no entry any more: stop reading.
                        let Some(conn) = state.conns.iter().find(|c| c.id == id) else {
                            break;
                        };
                        if conn.tx.send(answer).is_err() {
                            break;
                        }
                    }
                    lock(&st).conns.retain(|c| c.id != id);
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A call from `from` ringing at `device`; its id.
    pub fn ring(&self, from: &str, device: &str) -> String {
        let mut st = lock(&self.state);
        let call = st.new_call(&[device]);
        st.emit(&call, format!("RING {call} {device} {from}"));
        call
    }

    /// Ends `call`.
    pub fn hang_up(&self, call: &str) {
        lock(&self.state).end(call);
    }

    /// Sends a raw line to every connection (to test how clients take garbage).
    pub fn broadcast_raw(&self, line: &str) {
        for c in &lock(&self.state).conns {
            let _ = c.tx.send(line.to_owned());
        }
    }

    /// Drops every client connection.
    pub fn drop_connections(&self) {
        lock(&self.state).conns.clear();
    }

    /// How many clients are connected.
    pub fn connections(&self) -> usize {
        lock(&self.state).conns.len()
    }

    /// Every request line received, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// The devices each connection watches.
    pub fn watched(&self) -> Vec<BTreeSet<String>> {
        lock(&self.state)
            .conns
            .iter()
            .map(|c| c.watched.iter().cloned().collect())
            .collect()
    }
}

impl Drop for ToyPbx {
    fn drop(&mut self) {
        self.task.abort();
    }
}
