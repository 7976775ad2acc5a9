//! The web page in a real headless Chromium, driven over the DevTools protocol.
//!
//! Chromium is Debian's `chromium` package (`apt-get install chromium`); set `HOOKFLASH_CHROMIUM`
//! to use another binary. Without a browser these tests fail with a message saying so: a browser
//! test that silently passes without a browser would prove nothing.
//!
//! - `desktop_and_wallboard_against_the_contract` serves the page from a small in-test server
//!   that speaks the bridge's HTTP contract (REST, WebSocket events with `since`), so the page's
//!   own behaviour is pinned down exactly: the verbs it enables, the requests it sends, the
//!   screen pop (customer shown as text, never markup), junk events dropped, the resume after a
//!   dropped event stream, a bridge whose journal restarted, the wallboard numbers.
//! - `simulator_call_answered_from_the_page` runs the whole product in-process: the simulated
//!   PBX on a CSTA XML link, the bridge over it, the page in the browser. A call rings at the
//!   agent's device, the agent answers it with a click and hangs up, and the simulator's ground
//!   truth says that device answered; an admin answers an ACD call from the page and the
//!   wallboard shows the queue's numbers as the API gives them.
//! - `agent_state_from_the_page_reaches_the_pbx`: not ready and ready again, from the page to
//!   the simulator's truth log (the agent is known from the link's GetAgentState answers).
//!
//! `HOOKFLASH_BROWSER_SCREENSHOTS=DIR` saves PNGs of what the browser showed.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

/// How long one wait for the page may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------------------------------
// Chromium and the DevTools protocol
// ------------------------------------------------------------------------------------------

/// A headless Chromium process with its own profile directory; killed and cleaned up on drop.
struct Chromium {
    child: Child,
    profile: PathBuf,
    ws_url: String,
}

impl Chromium {
    /// Starts Chromium and reads the DevTools WebSocket address from its stderr.
    fn launch() -> Self {
        let candidates: Vec<String> = match std::env::var("HOOKFLASH_CHROMIUM") {
            Ok(path) if !path.is_empty() => vec![path],
            _ => ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        let binary = candidates
            .iter()
            .find(|bin| {
                Command::new(bin)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            })
            .unwrap_or_else(|| {
                panic!(
                    "no Chromium found (tried {candidates:?}): the web page tests need a real \
                     browser. Install Debian's package with `apt-get install chromium` or point \
                     HOOKFLASH_CHROMIUM at a Chromium binary."
                )
            })
            .clone();

        static PROFILES: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "hookflash-browser-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");

        let mut child = Command::new(&binary)
            .args([
                "--headless",
                "--remote-debugging-port=0",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));

        // Chromium keeps writing to stderr: a thread drains it for as long as it runs.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("DevTools listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let Ok(ws_url) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} did not print \"DevTools listening on ...\" within 30 s");
        };
        Self {
            child,
            profile,
            ws_url,
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A DevTools protocol connection attached to one page (flattened session).
struct Page {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    session: Option<String>,
    /// Uncaught exceptions the page threw.
    exceptions: Arc<Mutex<Vec<String>>>,
}

impl Page {
    /// Connects to the browser and opens a fresh page.
    async fn open(browser: &Chromium) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(browser.ws_url.as_str())
            .await
            .expect("connect to the DevTools WebSocket");
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let exceptions: Arc<Mutex<Vec<String>>> = Arc::default();
        let (p, x) = (pending.clone(), exceptions.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    if let Some(tx) = p.lock().unwrap().remove(&id) {
                        let _ = tx.send(v);
                    }
                } else if v["method"] == "Runtime.exceptionThrown" {
                    let d = &v["params"]["exceptionDetails"];
                    let text = d["exception"]["description"]
                        .as_str()
                        .or_else(|| d["text"].as_str())
                        .unwrap_or("exception")
                        .to_string();
                    x.lock().unwrap().push(text);
                }
            }
        });
        let mut page = Self {
            out,
            pending,
            next_id: AtomicU64::new(1),
            session: None,
            exceptions,
        };
        let target = page
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = page
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        page.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("a session id")
                .to_string(),
        );
        page.call("Runtime.enable", json!({})).await;
        page.call("Page.enable", json!({})).await;
        page
    }

    /// Sends one command and returns its result; a protocol error fails the test.
    async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out
            .send(Message::text(msg.to_string()))
            .expect("the DevTools connection is open");
        let reply = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap_or_else(|_| panic!("{method}: no DevTools reply within 20 s"))
            .expect("DevTools reply");
        if let Some(err) = reply.get("error") {
            panic!("{method}: {err}");
        }
        reply["result"].clone()
    }

    /// Evaluates an expression in the page (awaiting a promise) and returns its value.
    async fn eval(&self, expr: &str) -> Result<Value, String> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(d) = r.get("exceptionDetails") {
            return Err(d["exception"]["description"]
                .as_str()
                .unwrap_or("exception")
                .to_string());
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expr` until it yields something other than `null`/`false`/`undefined`.
    async fn wait_for(&self, what: &str, expr: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = Ok(Value::Null);
        while tokio::time::Instant::now() < deadline {
            last = self.eval(expr).await;
            if let Ok(v) = &last
                && !v.is_null()
                && *v != Value::Bool(false)
            {
                return v.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let message = self
            .eval("document.getElementById('message')?.textContent")
            .await;
        panic!(
            "timed out waiting for {what}: last {last:?}; page message {message:?}; \
             exceptions {:?}",
            self.exceptions.lock().unwrap()
        );
    }

    /// Loads a URL and waits for the document to finish loading.
    async fn goto(&self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "the page to load",
            &format!(
                "document.readyState === 'complete' && location.href === {}",
                json!(url)
            ),
        )
        .await;
    }

    /// Clicks the element `selector` finds; fails the test if there is none or it is disabled.
    async fn click(&self, selector: &str) {
        let r = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({s}); \
                 if (!e) return 'missing'; if (e.disabled) return 'disabled'; \
                 e.click(); return 'clicked'; }})()",
                s = json!(selector)
            ))
            .await;
        assert_eq!(r, Ok(json!("clicked")), "click {selector}");
    }

    /// Saves a PNG of the page to `$HOOKFLASH_BROWSER_SCREENSHOTS/<name>.png` when that is set
    /// (for looking at the page a test saw); does nothing otherwise.
    async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("HOOKFLASH_BROWSER_SCREENSHOTS") else {
            return;
        };
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let data = base64_decode(shot["data"].as_str().unwrap_or(""));
        let path = PathBuf::from(dir).join(format!("{name}.png"));
        std::fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The uncaught exceptions so far.
    fn exceptions(&self) -> Vec<String> {
        self.exceptions.lock().unwrap().clone()
    }
}

/// Standard base64 (as DevTools sends screenshots); invalid characters are skipped.
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// A JavaScript expression: the text of the element `selector` finds, or null.
fn text_of(selector: &str) -> String {
    format!(
        "document.querySelector({})?.textContent ?? null",
        json!(selector)
    )
}

/// A JavaScript expression: the verbs enabled on a call's softphone bar, in order.
fn enabled_verbs(call: u64) -> String {
    format!(
        "Array.from(document.querySelectorAll('li[data-call=\"{call}\"] button[data-verb]'))\
         .filter(b => !b.disabled).map(b => b.dataset.verb)"
    )
}

// ------------------------------------------------------------------------------------------
// A small server speaking the bridge's HTTP contract
// ------------------------------------------------------------------------------------------

const TOKEN: &str = "agent-token";
const AGENT: &str = "A300000";
const DEVICE: &str = "300000";

/// What the contract server knows and what it was asked.
#[derive(Default)]
struct FakeState {
    seq: u64,
    journal: Vec<Value>,
    calls: BTreeMap<u64, Value>,
    agents: BTreeMap<String, Value>,
    queues: BTreeMap<String, Value>,
    /// Method, path and JSON body of every API request that changes something.
    commands: Vec<(String, String, Value)>,
    /// The `since` of every event stream connection, in order.
    stream_since: Vec<Option<u64>>,
    /// The `type` filter of every event stream connection, in order.
    stream_types: Vec<Option<String>>,
}

#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<FakeState>>,
    live: broadcast::Sender<Value>,
    /// Bumped to drop every open event stream (a network failure, as the page sees it).
    cut: Arc<watch::Sender<u64>>,
    addr: std::net::SocketAddr,
}

impl Fake {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (live, _) = broadcast::channel(1024);
        let (cut, _) = watch::channel(0);
        let fake = Self {
            state: Arc::default(),
            live,
            cut: Arc::new(cut),
            addr: listener.local_addr().unwrap(),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move { server.serve(sock).await });
            }
        });
        fake
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Journals and broadcasts an event, numbering it; returns its sequence number.
    fn emit(&self, mut event: Value) -> u64 {
        let mut st = self.state.lock().unwrap();
        st.seq += 1;
        event["seq"] = json!(st.seq);
        event["at"] = json!(1_700_000_000_000u64 + st.seq * 1000);
        event["link"] = json!("pbx");
        if event["type"] == "agentStateChanged" {
            // The REST view agrees with the events, as the bridge's does.
            if let Some(a) = event["agent"].as_str().and_then(|id| st.agents.get_mut(id)) {
                a["status"] = event["status"].clone();
                a["activity"] = event["activity"].clone();
            }
        }
        if event["type"] == "queueStatsChanged"
            && let Some(q) = event["queue"].as_str().and_then(|id| st.queues.get_mut(id))
        {
            q["stats"] = event["stats"].clone();
            // The queue's own fields mirror its stats, as the bridge's `/v1/queues` does.
            for k in ["waiting", "longestWaitMs", "serviceLevelPermille"] {
                if q.get(k).is_some() {
                    q[k] = event["stats"][k].clone();
                }
            }
        }
        st.journal.push(event.clone());
        let seq = st.seq;
        let _ = self.live.send(event);
        seq
    }

    fn drop_streams(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    async fn serve(&self, mut sock: tokio::net::TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 4096];
            let n = match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let target = first.next().unwrap_or("").to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let query = parse_query(query);
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            .min(1 << 20);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = [0u8; 4096];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

        let authorized = headers.get("authorization").map(String::as_str)
            == Some(&format!("Bearer {TOKEN}"))
            || query.get("token").map(String::as_str) == Some(TOKEN);

        if path == "/v1/events" && headers.contains_key("sec-websocket-key") {
            if !authorized {
                let _ = sock
                    .write_all(&respond(
                        401,
                        "application/json",
                        "{\"error\":\"unauthorized\"}",
                    ))
                    .await;
                return;
            }
            let key = headers["sec-websocket-key"].clone();
            return self.events(sock, &key, &query).await;
        }

        let (status, ctype, text) = match (method.as_str(), path) {
            ("GET", "/") => (
                200,
                "text/html",
                include_str!("../web/index.html").to_string(),
            ),
            ("GET", "/wallboard") => (
                200,
                "text/html",
                include_str!("../web/wallboard.html").to_string(),
            ),
            ("GET", "/app.js") => (
                200,
                "text/javascript",
                include_str!("../web/app.js").to_string(),
            ),
            ("GET", "/healthz") => (
                200,
                "application/json",
                json!({"status": "ok", "lastSeq": self.state.lock().unwrap().seq}).to_string(),
            ),
            ("GET", "/style.css") => (
                200,
                "text/css",
                include_str!("../web/style.css").to_string(),
            ),
            _ if !authorized => (
                401,
                "application/json",
                json!({"error": "unauthorized"}).to_string(),
            ),
            _ => {
                let (status, v) = self.api(&method, path, body);
                (status, "application/json", v.to_string())
            }
        };
        let _ = sock.write_all(&respond(status, ctype, &text)).await;
    }

    fn api(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let mut st = self.state.lock().unwrap();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["v1", "me"]) => (
                200,
                json!({"scope": "agent", "agent": AGENT, "devices": [DEVICE]}),
            ),
            ("GET", ["v1", "calls"]) => (200, Value::Array(st.calls.values().cloned().collect())),
            ("GET", ["v1", "agents"]) => (200, Value::Array(st.agents.values().cloned().collect())),
            ("GET", ["v1", "queues"]) => (200, Value::Array(st.queues.values().cloned().collect())),
            ("POST", ["v1", "calls", id, verb]) => {
                st.commands.push((method.into(), path.into(), body.clone()));
                let Some(id) = id
                    .parse::<u64>()
                    .ok()
                    .filter(|id| st.calls.contains_key(id))
                else {
                    return (404, json!({"error": "invalidCall", "detail": id}));
                };
                let device = body["device"].as_str().unwrap_or("").to_string();
                let camel = kebab_to_camel(verb);
                let call = st.calls.get_mut(&id).unwrap();
                let permitted = call["permitted"][&device]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|v| v == camel.as_str()));
                if !permitted {
                    return (409, json!({"error": "notPermitted", "detail": camel}));
                }
                if camel == "answer" {
                    for leg in call["legs"].as_array_mut().unwrap() {
                        if leg["device"] == device.as_str() {
                            leg["state"] = json!({"state": "connected"});
                        }
                    }
                    call["answeredBy"] = json!(device);
                    call["permitted"][&device] =
                        json!(["clear", "hold", "consult", "singleStepTransfer"]);
                    drop(st);
                    self.emit(json!({"type": "callAnswered", "call": id, "device": device}));
                }
                (200, json!({}))
            }
            ("PUT", ["v1", "agents", agent, "state"]) => {
                st.commands.push((method.into(), path.into(), body.clone()));
                let agent = agent.to_string();
                let status = match body["state"].as_str() {
                    Some("ready") => json!({"status": "ready"}),
                    Some("notReady") => json!({"status": "notReady", "reason": body["reason"]}),
                    Some("afterCallWork") => json!({"status": "workingAfterCall"}),
                    Some("loggedOut") => json!({"status": "loggedOut"}),
                    Some("loggedIn") => json!({"status": "notReady", "reason": null}),
                    _ => return (400, json!({"error": "invalidRequest"})),
                };
                let Some(a) = st.agents.get_mut(&agent) else {
                    return (404, json!({"error": "invalidAgent"}));
                };
                let device = a["device"].clone();
                drop(st);
                self.emit(
                    json!({"type": "agentStateChanged", "agent": agent, "device": device,
                    "status": status, "activity": {"activity": "idle"},
                    "availability": availability_of(&status)}),
                );
                (200, json!({}))
            }
            _ => (404, json!({"error": "notFound", "detail": path})),
        }
    }

    async fn events(
        &self,
        mut sock: tokio::net::TcpStream,
        key: &str,
        query: &HashMap<String, String>,
    ) {
        use tokio::io::AsyncWriteExt;
        use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
        use tokio_tungstenite::tungstenite::protocol::Role;
        let accept = derive_accept_key(key.as_bytes());
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        if sock.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        let ws =
            tokio_tungstenite::WebSocketStream::from_raw_socket(sock, Role::Server, None).await;
        let (mut tx, mut rx) = ws.split();
        let since = query.get("since").and_then(|s| s.parse::<u64>().ok());
        let types: Option<Vec<String>> = query
            .get("type")
            .map(|t| t.split(',').map(str::to_string).collect());
        let mut cut = self.cut.subscribe();
        // Subscribe and read the journal under one lock: replay then live, no gap, no duplicate.
        let (replay, mut live) = {
            let mut st = self.state.lock().unwrap();
            st.stream_since.push(since);
            st.stream_types.push(query.get("type").cloned());
            let replay: Vec<Value> = match since {
                Some(s) => st
                    .journal
                    .iter()
                    .filter(|e| e["seq"].as_u64() > Some(s))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            (replay, self.live.subscribe())
        };
        let wanted = |e: &Value| {
            types
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| e["type"] == t.as_str()))
        };
        for e in replay.into_iter().filter(|e| wanted(e)) {
            if tx.send(Message::text(e.to_string())).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                e = live.recv() => match e {
                    Ok(e) if wanted(&e) => {
                        if tx.send(Message::text(e.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                _ = cut.changed() => return, // dropped without a close frame
                m = rx.next() => if !matches!(m, Some(Ok(_))) { return },
            }
        }
    }
}

fn respond(status: u16, ctype: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Other",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn kebab_to_camel(s: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in s.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn availability_of(status: &Value) -> &'static str {
    match status["status"].as_str() {
        Some("ready") => "available",
        Some("notReady") => "away",
        Some("workingAfterCall") => "wrap-up",
        _ => "offline",
    }
}

// ------------------------------------------------------------------------------------------
// The tests
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_and_wallboard_against_the_contract() {
    let fake = Fake::start().await;
    {
        let mut st = fake.state.lock().unwrap();
        st.agents.insert(
            AGENT.into(),
            json!({"id": AGENT, "device": DEVICE, "status": {"status": "ready"},
                   "activity": {"activity": "idle"}, "queues": {"6000": false},
                   "since": 1_700_000_000_000u64}),
        );
        st.agents.insert(
            "A300001".into(),
            json!({"id": "A300001", "device": "300001", "status": {"status": "notReady", "reason": "2"},
                   "activity": {"activity": "idle"}, "queues": {"6000": false},
                   "since": 1_700_000_000_000u64}),
        );
        st.queues.insert(
            "6000".into(),
            json!({"id": "6000", "waiting": [[7, 1_700_000_000_000u64]], "stats": {
                "waiting": 1, "longestWaitMs": 12_000, "offered": 10, "answered": 8,
                "abandoned": 1, "answeredWithinSl": 6, "serviceLevelPermille": 750,
                "agentsAvailable": 1, "agentsBusy": 0, "agentsAway": 1}}),
        );
    }

    let browser = Chromium::launch();
    let page = Page::open(&browser).await;

    // A wrong token: the page says so instead of showing an empty desktop.
    page.goto(&fake.url("/?token=wrong")).await;
    page.wait_for(
        "the bad token to be reported",
        "document.getElementById('conn-state').dataset.state === 'unauthorized'",
    )
    .await;

    page.goto(&fake.url(&format!("/?token={TOKEN}"))).await;
    page.wait_for(
        "the event stream",
        "document.getElementById('conn-state').dataset.state === 'open'",
    )
    .await;
    assert_eq!(
        page.eval(&text_of("#agent-availability")).await,
        Ok(json!("available"))
    );
    // Ready: "Ready" is off, the others are on.
    let buttons = "['btn-login','btn-ready','btn-not-ready','btn-acw','btn-logout']\
                   .map(id => document.getElementById(id).disabled)";
    assert_eq!(
        page.eval(buttons).await,
        Ok(json!([true, true, false, false, false]))
    );

    // A call from the PBX rings at the agent's device.
    let ringing = json!({"id": 1, "link": "pbx", "aliases": ["c1"],
        "legs": [{"device": "+498912345", "state": {"state": "connected"}, "since": 1},
                 {"device": DEVICE, "state": {"state": "alerting"}, "since": 2}],
        "data": {"ani": {"raw": "0898912345", "e164": "+498912345"}, "dnis": {"raw": "6000", "e164": null},
                 "direction": "inbound", "correlator": null, "uui": null,
                 "attached": {"order": "A-17"}, "queuePath": ["6000"]},
        "offeredAt": 1, "answeredAt": null, "endedAt": null, "answeredBy": null, "agent": null,
        "queue": "6000", "waiting": false, "transfers": [], "conferenced": false, "outcome": null,
        "lastCause": null, "delivered": true, "failedBusy": null,
        "permitted": {DEVICE: ["answer", "deflect"]}});
    fake.state.lock().unwrap().calls.insert(1, ringing);
    fake.emit(json!({"type": "callOffered", "call": 1,
        "ani": {"raw": "0898912345", "e164": "+498912345"}, "dnis": {"raw": "6000", "e164": null},
        "direction": "inbound"}));
    fake.emit(json!({"type": "callAlerting", "call": 1, "device": DEVICE}));
    fake.emit(
        json!({"type": "screenPop", "call": 1, "agent": AGENT, "device": DEVICE,
        "ani": {"raw": "0898912345", "e164": "+498912345"}, "dnis": {"raw": "6000", "e164": null},
        "data": {"attached": {"order": "A-17"}, "queuePath": ["6000"]},
        "customer": {"name": "Ada <b>Lovelace</b>", "account": "4711"}}),
    );

    page.wait_for(
        "the ringing call",
        "document.querySelector('li[data-call=\"1\"]')?.dataset.state === 'alerting'",
    )
    .await;
    // Exactly the verbs the PBX permits at this device are enabled.
    page.wait_for(
        "answer and deflect to be enabled",
        &format!(
            "JSON.stringify({}) === '[\"answer\",\"deflect\"]'",
            enabled_verbs(1)
        ),
    )
    .await;
    assert_eq!(
        page.eval(&text_of("li[data-call=\"1\"] .call-parties"))
            .await,
        Ok(json!("+498912345 → 6000"))
    );
    // The screen pop: numbers, attached data, the customer lookup (as text, never as markup).
    page.wait_for(
        "the screen pop",
        "!document.getElementById('screen-pop').hidden",
    )
    .await;
    assert_eq!(
        page.eval(&text_of("#pop-ani")).await,
        Ok(json!("+498912345"))
    );
    assert_eq!(page.eval(&text_of("#pop-dnis")).await, Ok(json!("6000")));
    assert_eq!(
        page.eval(&text_of("#pop-data dd[data-key=\"order\"]"))
            .await,
        Ok(json!("A-17"))
    );
    page.wait_for(
        "the customer",
        "document.getElementById('pop-customer').dataset.found === 'yes'",
    )
    .await;
    assert_eq!(
        page.eval(&text_of("#pop-customer .customer-name")).await,
        Ok(json!("Ada <b>Lovelace</b>"))
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#pop-customer b').length")
            .await,
        Ok(json!(0))
    );

    // Events the page cannot place (no call, a call that is not a number, markup for a
    // device, not an object at all) are dropped without a trace on the page.
    let _ = fake.live.send(json!("not an event"));
    let _ = fake.live.send(json!([1, 2, 3]));
    fake.emit(json!({"type": "callAlerting", "device": DEVICE}));
    fake.emit(
        json!({"type": "callAnswered", "call": "<img src=x onerror=alert(1)>", "device": DEVICE}),
    );
    fake.emit(json!({"type": "callHeld", "call": 1, "device": {"nested": true}}));
    fake.emit(json!({"type": "agentStateChanged", "status": null}));
    let junk = fake.emit(json!({"type": "noSuchEvent", "call": 1e300}));
    page.wait_for(
        "the page to have read the junk",
        &format!("window.hookflash.stream.lastSeq === {junk}"),
    )
    .await;
    assert_eq!(
        page.eval("Array.from(document.querySelectorAll('#calls li')).map(li => li.dataset.call + ':' + li.dataset.state)")
            .await,
        Ok(json!(["1:alerting"]))
    );
    assert_eq!(
        page.eval("document.querySelectorAll('img').length").await,
        Ok(json!(0))
    );
    assert!(page.exceptions().is_empty(), "{:?}", page.exceptions());

    // Answer with a click: the page sends the verb for its device, the call shows connected and
    // the bar now offers what the PBX permits on a connected call.
    page.click("li[data-call=\"1\"] button[data-verb=\"answer\"]")
        .await;
    page.wait_for(
        "the call to be connected",
        "document.querySelector('li[data-call=\"1\"]')?.dataset.state === 'connected'",
    )
    .await;
    page.wait_for(
        "the connected call's verbs",
        &format!(
            "JSON.stringify({}) === '[\"clear\",\"hold\",\"consult\",\"singleStepTransfer\"]'",
            enabled_verbs(1)
        ),
    )
    .await;
    {
        let st = fake.state.lock().unwrap();
        assert_eq!(
            st.commands,
            vec![(
                "POST".to_string(),
                "/v1/calls/1/answer".to_string(),
                json!({"device": DEVICE})
            )]
        );
    }

    // A blind transfer takes the number from the dial box and goes to the kebab-case route.
    page.eval("document.getElementById('dial-number').value = '200001'")
        .await
        .unwrap();
    page.click("li[data-call=\"1\"] button[data-verb=\"singleStepTransfer\"]")
        .await;
    page.wait_for(
        "the transfer request",
        "document.getElementById('message').textContent.includes('singleStepTransfer sent')",
    )
    .await;
    assert_eq!(
        fake.state.lock().unwrap().commands.last().cloned(),
        Some((
            "POST".to_string(),
            "/v1/calls/1/single-step-transfer".to_string(),
            json!({"device": DEVICE, "to": "200001"})
        ))
    );

    // Not ready with a reason.
    page.eval("document.getElementById('not-ready-reason').value = '3'")
        .await
        .unwrap();
    page.click("#btn-not-ready").await;
    page.wait_for(
        "not ready",
        "document.getElementById('agent-status').dataset.status === 'notReady' && \
         document.getElementById('agent-reason').dataset.reason === '3'",
    )
    .await;
    assert_eq!(
        fake.state.lock().unwrap().commands.last().cloned(),
        Some((
            "PUT".to_string(),
            format!("/v1/agents/{AGENT}/state"),
            json!({"state": "notReady", "reason": "3", "device": DEVICE})
        ))
    );

    // The event stream drops; while it is down the call ends and the agent goes ready. The page
    // reconnects with since = the last sequence number it saw and catches up from the journal.
    let seen = fake.state.lock().unwrap().seq;
    page.wait_for(
        "the page to have seen every event",
        &format!("window.hookflash.stream.lastSeq === {seen}"),
    )
    .await;
    let connections = fake.state.lock().unwrap().stream_since.len();
    fake.drop_streams();
    page.wait_for(
        "the page to notice the drop",
        "document.getElementById('conn-state').dataset.state !== 'open'",
    )
    .await;
    fake.state.lock().unwrap().calls.remove(&1);
    fake.emit(json!({"type": "callEnded", "call": 1, "outcome": "answered"}));
    let last = fake.emit(
        json!({"type": "agentStateChanged", "agent": AGENT, "device": DEVICE,
        "status": {"status": "workingAfterCall"}, "activity": {"activity": "idle"},
        "availability": "wrap-up"}),
    );
    page.wait_for(
        "the replayed agent state",
        "document.getElementById('agent-availability').dataset.availability === 'wrap-up'",
    )
    .await;
    page.wait_for(
        "the call to go",
        "!document.querySelector('li[data-call=\"1\"]')",
    )
    .await;
    assert_eq!(
        page.eval("window.hookflash.stream.lastSeq").await,
        Ok(json!(last))
    );
    {
        let st = fake.state.lock().unwrap();
        assert_eq!(
            st.stream_since.first(),
            Some(&None),
            "first connect is live only"
        );
        assert_eq!(
            st.stream_since.get(connections),
            Some(&Some(seen)),
            "the reconnect resumes after the last event seen"
        );
    }

    // The bridge comes back with a fresh journal, numbering from 1 again: the page notices
    // (its since is beyond the newest number) and takes the new numbers.
    {
        let mut st = fake.state.lock().unwrap();
        st.seq = 0;
        st.journal.clear();
    }
    fake.drop_streams();
    page.wait_for(
        "the page to see the reset journal",
        "window.hookflash.stream.resets === 1",
    )
    .await;
    let first = fake.emit(
        json!({"type": "agentStateChanged", "agent": AGENT, "device": DEVICE,
        "status": {"status": "ready"}, "activity": {"activity": "idle"},
        "availability": "available"}),
    );
    assert_eq!(first, 1);
    page.wait_for(
        "the first event of the new journal",
        "window.hookflash.stream.lastSeq === 1",
    )
    .await;
    assert_eq!(
        page.eval(&text_of("#agent-availability")).await,
        Ok(json!("available"))
    );
    assert!(page.exceptions().is_empty(), "{:?}", page.exceptions());

    // The wallboard: queue numbers from /v1/queues, then live from the event stream.
    page.goto(&fake.url(&format!("/wallboard?token={TOKEN}")))
        .await;
    page.wait_for(
        "the queue row",
        "document.querySelector('tr[data-queue=\"6000\"] td[data-field=\"waiting\"]')?.textContent === '1'",
    )
    .await;
    let field = |f: &str| text_of(&format!("tr[data-queue=\"6000\"] td[data-field=\"{f}\"]"));
    assert_eq!(
        page.eval(&field("service-level")).await,
        Ok(json!("75.0 %"))
    );
    assert_eq!(page.eval(&field("offered")).await, Ok(json!("10")));
    assert_eq!(page.eval(&field("abandoned")).await, Ok(json!("1")));
    let longest = page.eval(&field("longest-wait")).await.unwrap();
    assert!(
        longest.as_str().is_some_and(|s| s.starts_with("0:1")),
        "longest wait {longest}"
    );
    assert_eq!(
        page.eval(&text_of("#count-available")).await,
        Ok(json!("1"))
    );
    assert_eq!(page.eval(&text_of("#count-away")).await, Ok(json!("1")));
    page.wait_for(
        "the wallboard stream",
        "document.getElementById('conn-state').dataset.state === 'open'",
    )
    .await;
    assert_eq!(
        fake.state.lock().unwrap().stream_types.last().cloned(),
        Some(Some("queueStatsChanged,agentStateChanged".to_string()))
    );
    fake.emit(
        json!({"type": "queueStatsChanged", "queue": "6000", "stats": {
        "waiting": 3, "longestWaitMs": 65_000, "offered": 12, "answered": 9, "abandoned": 1,
        "answeredWithinSl": 9, "serviceLevelPermille": 1000,
        "agentsAvailable": 0, "agentsBusy": 2, "agentsAway": 0}}),
    );
    fake.emit(json!({"type": "agentStateChanged", "agent": "A300001", "device": "300001",
        "status": {"status": "ready"}, "activity": {"activity": "onAcdCall"}, "availability": "busy"}));
    page.wait_for(
        "the live queue numbers",
        &format!(
            "({}) === '3' && ({}) === '100.0 %'",
            field("waiting"),
            field("service-level")
        ),
    )
    .await;
    assert!(
        page.eval(&field("longest-wait"))
            .await
            .unwrap()
            .as_str()
            .is_some_and(|s| s.starts_with("1:0"))
    );
    page.wait_for(
        "the busy agent",
        &format!("{} === '1'", text_of("#count-busy")),
    )
    .await;
    assert_eq!(page.eval(&text_of("#count-away")).await, Ok(json!("0")));
    assert!(page.exceptions().is_empty(), "{:?}", page.exceptions());
}

// ------------------------------------------------------------------------------------------
// The whole product: simulator, bridge, page
// ------------------------------------------------------------------------------------------

const ADMIN_TOKEN: &str = "admin-token-for-the-browser-test";
const AGENT_TOKEN: &str = "agent-token-for-the-browser-test";

/// GETs or POSTs JSON with a bearer token; returns the status and the JSON body.
async fn rest(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The simulated PBX, the bridge over a CSTA XML link to it, and an HTTP client.
struct Stack {
    sim: hookflash_sim::net::SimServer,
    truth: broadcast::Receiver<String>,
    bridge: hookflash_bridge::Bridge,
    base: String,
    http: reqwest::Client,
}

impl Stack {
    async fn start() -> Self {
        use hookflash_sim::SimConfig;
        use hookflash_sim::face::FaceProtocol;
        use hookflash_sim::net::{SimServer, SimServerConfig};

        // A quiet PBX: no generated traffic, two agents in one ACD group, two extensions; a call
        // nobody answers rings for two minutes.
        let sim_cfg = SimConfig {
            calls_per_minute: 0.0,
            agents: 2,
            queues: 1,
            extensions: 2,
            no_answer_ms: 120_000,
            truth: true,
            ..SimConfig::default()
        };
        let sim = SimServer::start(SimServerConfig::new(FaceProtocol::CstaXml, sim_cfg))
            .await
            .expect("start the simulated PBX");
        let truth = sim.truth();
        let pbx = sim.local_addr().expect("the simulator listens on TCP");

        let toml = format!(
            r#"
[http]
listen = "127.0.0.1:0"

[[links]]
name = "pbx"
url = "csta-xml+tcp://{pbx}"
monitor = ["300000", "300001", "200000", "200001", "6000"]

[[agents]]
id = "A300000"
devices = ["300000"]

[[tokens]]
name = "admin"
token = "{ADMIN_TOKEN}"
scope = "admin"

[[tokens]]
name = "agent"
token = "{AGENT_TOKEN}"
scope = "agent"
agent = "A300000"

[[customers]]
number = "200000"
name = "Ada Lovelace"
fields = {{ account = "4711" }}
"#
        );
        let cfg =
            hookflash_bridge::config::Config::parse("browser-test.toml".as_ref(), &toml, &|_| None)
                .expect("the bridge configuration");
        let backend = hookflash_bridge::open_links(&cfg).expect("open the link to the simulator");
        let bridge = hookflash_bridge::Bridge::start(&cfg, Arc::new(backend))
            .await
            .expect("start the bridge");
        let base = format!("http://{}", bridge.local_addr());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();

        // The link comes up.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, health) = rest(
                &http,
                reqwest::Method::GET,
                &format!("{base}/healthz"),
                ADMIN_TOKEN,
                None,
            )
            .await;
            if health["status"] == "ok" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bridge did not get the link up: {health}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            sim,
            truth,
            bridge,
            base,
            http,
        }
    }

    async fn stop(self) {
        self.bridge.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// The next line of the simulator's truth log that `pick` accepts, or `None` after [`WAIT`].
async fn truth_line(
    truth: &mut broadcast::Receiver<String>,
    pick: impl Fn(&Value) -> bool,
) -> Option<Value> {
    tokio::time::timeout(WAIT, async {
        loop {
            let line = truth.recv().await.expect("the truth log");
            let v: Value = serde_json::from_str(&line).expect("a truth line is JSON");
            if pick(&v) {
                return v;
            }
        }
    })
    .await
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_call_answered_from_the_page() {
    let Stack {
        sim,
        mut truth,
        bridge,
        base,
        http,
    } = Stack::start().await;
    let browser = Chromium::launch();
    let page = Page::open(&browser).await;
    page.goto(&format!("{base}/?token={AGENT_TOKEN}")).await;
    page.wait_for(
        "the event stream",
        "document.getElementById('conn-state').dataset.state === 'open'",
    )
    .await;
    assert_eq!(page.eval(&text_of("#me-scope")).await, Ok(json!("agent")));

    // Extension 200000 calls the agent's device; it rings there.
    let (status, made) = rest(
        &http,
        reqwest::Method::POST,
        &format!("{base}/v1/calls"),
        ADMIN_TOKEN,
        Some(json!({"from": "200000", "to": "300000"})),
    )
    .await;
    assert_eq!(status, 201, "make call: {made}");
    let call = page
        .wait_for(
            "the call ringing on the page",
            "document.querySelector('li.call[data-state=\"alerting\"]')?.dataset.call ?? null",
        )
        .await;
    let call = call.as_str().expect("a call id").to_string();
    page.wait_for(
        "answer to be enabled",
        &format!("{}.includes('answer')", enabled_verbs_of(&call)),
    )
    .await;
    let verbs = page.eval(&enabled_verbs_of(&call)).await.unwrap();
    assert!(
        !verbs.as_array().unwrap().iter().any(|v| v == "hold"),
        "a ringing call cannot be held: {verbs}"
    );
    // The screen pop with the customer lookup.
    page.wait_for(
        "the screen pop",
        "!document.getElementById('screen-pop').hidden",
    )
    .await;
    assert_eq!(page.eval(&text_of("#pop-ani")).await, Ok(json!("200000")));
    page.wait_for(
        "the customer lookup",
        "document.querySelector('#pop-customer .customer-name')?.textContent === 'Ada Lovelace'",
    )
    .await;

    page.screenshot("desktop-ringing").await;

    // The agent answers with a click.
    page.click(&format!(
        "li[data-call=\"{call}\"] button[data-verb=\"answer\"]"
    ))
    .await;
    page.wait_for(
        "the call connected on the page",
        &format!(
            "document.querySelector('li[data-call=\"{call}\"]')?.dataset.state === 'connected'"
        ),
    )
    .await;
    page.wait_for(
        "hang up to be enabled",
        &format!("{}.includes('clear')", enabled_verbs_of(&call)),
    )
    .await;
    page.screenshot("desktop-connected").await;
    // And hangs up.
    page.click(&format!(
        "li[data-call=\"{call}\"] button[data-verb=\"clear\"]"
    ))
    .await;
    page.wait_for(
        "the call to end on the page",
        &format!("!document.querySelector('li[data-call=\"{call}\"]')"),
    )
    .await;

    // The simulator's ground truth: answered at the agent's device.
    let record = truth_line(&mut truth, |v| v["kind"] == "call")
        .await
        .expect("a call in the simulator's truth log");
    assert_eq!(record["calling"], "200000", "{record}");
    assert_eq!(record["called"], "300000", "{record}");
    assert_eq!(record["answered_by"], "300000", "{record}");
    assert_eq!(record["outcome"], "answered", "{record}");

    // A call to the ACD group gives the queue numbers; the wallboard shows what the API gives.
    let (status, made) = rest(
        &http,
        reqwest::Method::POST,
        &format!("{base}/v1/calls"),
        ADMIN_TOKEN,
        Some(json!({"from": "200001", "to": "6000"})),
    )
    .await;
    assert_eq!(status, 201, "make call: {made}");
    // An admin sees every call and acts where it rings: the ACD call is answered from the page.
    page.goto(&format!("{base}/?token={ADMIN_TOKEN}")).await;
    let acd = page
        .wait_for(
            "the ACD call ringing at an agent",
            "document.querySelector('li.call[data-state=\"alerting\"]')?.dataset.call ?? null",
        )
        .await;
    let acd = acd.as_str().expect("a call id").to_string();
    let ringing_at = page
        .eval(&format!(
            "document.querySelector('li[data-call=\"{acd}\"]').dataset.device"
        ))
        .await
        .unwrap();
    assert!(
        ringing_at == "300000" || ringing_at == "300001",
        "the ACD call rings at {ringing_at}"
    );
    page.wait_for(
        "answer to be enabled for the admin",
        &format!("{}.includes('answer')", enabled_verbs_of(&acd)),
    )
    .await;
    page.click(&format!(
        "li[data-call=\"{acd}\"] button[data-verb=\"answer\"]"
    ))
    .await;
    page.wait_for(
        "the ACD call connected",
        &format!(
            "document.querySelector('li[data-call=\"{acd}\"]')?.dataset.state === 'connected'"
        ),
    )
    .await;

    page.goto(&format!("{base}/wallboard?token={ADMIN_TOKEN}"))
        .await;
    let field = |f: &str| text_of(&format!("tr[data-queue=\"6000\"] td[data-field=\"{f}\"]"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, queues) = rest(
            &http,
            reqwest::Method::GET,
            &format!("{base}/v1/queues"),
            ADMIN_TOKEN,
            None,
        )
        .await;
        let api = queues
            .as_array()
            .and_then(|l| l.iter().find(|q| q["id"] == "6000"))
            .map(|q| {
                ["waiting", "offered", "answered", "agentsBusy"]
                    .map(|k| q["stats"][k].to_string())
                    .to_vec()
            });
        let shown = page
            .eval(&format!(
                "[{}, {}, {}, {}]",
                field("waiting"),
                field("offered"),
                field("answered"),
                field("agents-busy")
            ))
            .await
            .unwrap();
        if let Some(api) = &api
            && api.iter().any(|v| v != "0")
            && shown == json!(api)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the wallboard shows {shown} for queue 6000, the API {api:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One call offered to the queue, answered by the admin's click, nobody waiting.
    assert_eq!(page.eval(&field("offered")).await, Ok(json!("1")));
    assert_eq!(page.eval(&field("answered")).await, Ok(json!("1")));
    assert_eq!(page.eval(&field("waiting")).await, Ok(json!("0")));
    page.screenshot("wallboard").await;
    let (_, agents) = rest(
        &http,
        reqwest::Method::GET,
        &format!("{base}/v1/agents"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    page.wait_for(
        "the agents on the wallboard",
        &format!(
            "document.querySelectorAll('#agent-rows tr[data-agent]').length === {}",
            agents.as_array().map_or(0, Vec::len)
        ),
    )
    .await;
    assert!(page.exceptions().is_empty(), "{:?}", page.exceptions());

    drop(page);
    drop(browser);
    bridge.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_state_from_the_page_reaches_the_pbx() {
    let mut stack = Stack::start().await;
    let browser = Chromium::launch();
    let page = Page::open(&browser).await;
    page.goto(&format!("{}/?token={AGENT_TOKEN}", stack.base))
        .await;
    page.wait_for(
        "the event stream",
        "document.getElementById('conn-state').dataset.state === 'open'",
    )
    .await;

    // Not ready (reason 2 chosen on the page) reaches the PBX and comes back as an event. CSTA
    // Phase III's SetAgentState has no reason code (vendors carry one in private data), so the
    // PBX learns the state, not the reason.
    page.eval("document.getElementById('not-ready-reason').value = '2'")
        .await
        .unwrap();
    page.click("#btn-not-ready").await;
    let line = truth_line(&mut stack.truth, |v| {
        v["kind"] == "agent" && v["agent"] == "A300000" && v["state"] == "notReady"
    })
    .await;
    let Some(_line) = line else {
        panic!(
            "no not-ready state for A300000 in the simulator's truth log; page message {:?}",
            page.eval(&text_of("#message")).await
        )
    };
    page.wait_for(
        "the agent's new state on the page",
        "document.getElementById('agent-status').dataset.status === 'notReady'",
    )
    .await;

    // Ready again.
    page.click("#btn-ready").await;
    let line = truth_line(&mut stack.truth, |v| {
        v["kind"] == "agent" && v["agent"] == "A300000" && v["state"] == "ready"
    })
    .await;
    assert!(
        line.is_some(),
        "no ready state for A300000 in the truth log"
    );
    page.wait_for(
        "the agent ready on the page",
        "document.getElementById('agent-availability').dataset.availability === 'available'",
    )
    .await;
    assert!(page.exceptions().is_empty(), "{:?}", page.exceptions());

    drop(page);
    drop(browser);
    stack.stop().await;
}

/// A JavaScript expression: the verbs enabled on a call's softphone bar (call id as text).
fn enabled_verbs_of(call: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll('li[data-call={}] button[data-verb]'))\
         .filter(b => !b.disabled).map(b => b.dataset.verb)",
        json!(call).to_string().replace('"', "\\\"")
    )
}
