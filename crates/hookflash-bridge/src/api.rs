//! The northbound HTTP API: REST, WebSocket and SSE event streams, the OpenAPI document,
//! health, metrics and the web page. The contract is in `openapi.json` next to `Cargo.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hookflash::Error as CtiError;
use hookflash_core::command::Command;
use hookflash_core::model::{Call, CallId, ConnectionState, LinkState};
use serde_json::{Value, json};

use crate::auth::{Principal, Tokens};
use crate::config::Scope;
use crate::hub::{Filter, Hub};
use crate::metrics::{Metrics, Sample};
use crate::redact::{Redactor, log};
use crate::web;

/// The longest query string accepted.
const MAX_QUERY: usize = 4096;
/// How long a stream client may take to accept one event before it is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle WebSocket is pinged.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Most queued events written to a WebSocket in one flush.
const WS_BATCH: usize = 64;
/// The read buffer of a WebSocket. Clients send little (pongs, a close); the reader zeroes
/// its whole buffer before every read attempt, and the session polls for input each time it
/// writes events, so the default 128 KiB cost a 128 KiB memset per client and batch (7.6 % of
/// the bridge's time at 2,000 calls/s). Larger frames still arrive: the buffer grows for them.
const WS_READ_BUFFER: usize = 4096;
/// The most call records one request returns.
const MAX_RECORDS: usize = 10_000;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The hub.
    pub hub: Arc<Hub>,
    /// The tokens.
    pub tokens: Arc<Tokens>,
    /// The largest WebSocket message a client may send.
    pub max_message_bytes: usize,
    /// Log redaction.
    pub redact: Redactor,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// An error answer: `{"error": code, "detail": ...}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine-readable code.
    pub code: &'static str,
    /// A human-readable detail.
    pub detail: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }
    fn bad(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "badRequest", detail)
    }
    fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "out of the token's scope",
        )
    }
    fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", format!("no such {what}"))
    }
}

impl From<CtiError> for ApiError {
    fn from(e: CtiError) -> Self {
        let detail = e.to_string();
        let (status, code) = match e {
            CtiError::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
            CtiError::NotPermitted => (StatusCode::CONFLICT, "notPermitted"),
            CtiError::InvalidDevice(_) => (StatusCode::NOT_FOUND, "invalidDevice"),
            CtiError::InvalidCall(_) => (StatusCode::NOT_FOUND, "invalidCall"),
            CtiError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            CtiError::LinkDown => (StatusCode::SERVICE_UNAVAILABLE, "linkDown"),
            CtiError::Pbx(_) => (StatusCode::BAD_GATEWAY, "pbx"),
            CtiError::MonitorLimit => (StatusCode::BAD_GATEWAY, "monitorLimit"),
            CtiError::NoLink(_) => (StatusCode::NOT_FOUND, "noLink"),
            CtiError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "closed"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, detail)
    }
}

impl From<crate::BridgeError> for ApiError {
    fn from(e: crate::BridgeError) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"error": self.code, "detail": self.detail})),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The query string as pairs, percent-decoded, with a size limit.
pub fn query_pairs(raw: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    let Some(q) = raw else { return Ok(Vec::new()) };
    if q.len() > MAX_QUERY {
        return Err(ApiError::bad("query string too long"));
    }
    let dec = |s: &str| -> ApiResult<String> {
        let s = s.replace('+', " ");
        hookflash_link::url::percent_decode(&s).map_err(|_| ApiError::bad("bad percent-encoding"))
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((dec(k)?, dec(v)?))
        })
        .collect()
}

/// The token from `Authorization: Bearer` or, where allowed, `?token=`.
fn principal(
    st: &AppState,
    headers: &HeaderMap,
    query: &[(String, String)],
    query_token_ok: bool,
) -> ApiResult<Principal> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let from_query = query_token_ok
        .then(|| {
            query
                .iter()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.as_str())
        })
        .flatten();
    let token = from_header.or(from_query);
    let found = token.and_then(|t| st.tokens.authenticate(t, || st.hub.backend.agents()));
    found.ok_or_else(|| {
        Metrics::inc(&st.hub.metrics.unauthorized);
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    })
}

/// Bearer authentication as an extractor (header only).
struct Auth(Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, ApiError> {
        Metrics::inc(&st.hub.metrics.http_requests);
        principal(st, &parts.headers, &[], false).map(Self)
    }
}

fn forbidden(st: &AppState) -> ApiError {
    Metrics::inc(&st.hub.metrics.forbidden);
    ApiError::forbidden()
}

/// The router.
pub fn router(st: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { web::page(web::INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/wallboard",
            get(|| async { web::page(web::WALLBOARD_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { web::page(web::APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/style.css",
            get(|| async { web::page(web::STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/v1/openapi.json",
            get(|| async { web::page(web::OPENAPI_JSON, "application/json") }),
        )
        .route("/v1/me", get(me))
        .route("/v1/events", get(events_ws))
        .route("/v1/events/sse", get(events_sse))
        .route("/v1/calls", get(calls).post(make_call))
        .route("/v1/calls/{id}", get(call))
        .route("/v1/calls/{id}/{verb}", post(call_verb))
        .route("/v1/agents", get(agents))
        .route("/v1/agents/{id}/state", put(agent_state))
        .route("/v1/queues", get(queues))
        .route("/v1/call-records", get(call_records))
        .route("/v1/links", get(links))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(st)
}

async fn me(State(st): State<AppState>, Auth(p): Auth) -> impl IntoResponse {
    let _ = st;
    axum::Json(json!({
        "scope": p.scope.name(),
        "agent": p.agent,
        "devices": p.devices,
        "name": p.name,
    }))
}

async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let links: Vec<Value> = st
        .hub
        .backend
        .links()
        .into_iter()
        .map(|l| json!({"name": l.name, "state": l.state}))
        .collect();
    let all_up = st
        .hub
        .backend
        .links()
        .iter()
        .all(|l| l.state == LinkState::Up);
    axum::Json(json!({
        "status": if all_up { "ok" } else { "degraded" },
        "links": links,
        "lastSeq": st.hub.last_seq(),
    }))
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    let mut extra = Vec::new();
    for l in st.hub.backend.links() {
        extra.push(Sample {
            name: "hookflash_link_up",
            labels: vec![("link", l.name.to_string())],
            value: u64::from(l.state == LinkState::Up),
        });
    }
    extra.push(Sample {
        name: "hookflash_calls_active",
        labels: vec![],
        value: st.hub.backend.calls().len() as u64,
    });
    extra.push(Sample {
        name: "hookflash_last_seq",
        labels: vec![],
        value: st.hub.last_seq(),
    });
    let j = st.hub.journal.clone();
    let counts = tokio::task::spawn_blocking(move || j.outbox_counts())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    for state in ["pending", "delivered", "dead"] {
        let v = counts
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n);
        extra.push(Sample {
            name: "hookflash_webhook_outbox",
            labels: vec![("state", state.to_string())],
            value: v,
        });
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        st.hub.metrics.render(&extra),
    )
}

/// The stream filter and `since` from the query.
fn stream_params(q: &[(String, String)]) -> ApiResult<(Filter, Option<u64>)> {
    let mut f = Filter::default();
    let mut since = None;
    let mut total = 0usize;
    for (k, v) in q {
        let set: Option<&mut BTreeSet<String>> = match k.as_str() {
            "device" => Some(&mut f.devices),
            "agent" => Some(&mut f.agents),
            "queue" => Some(&mut f.queues),
            "type" => Some(&mut f.types),
            "since" => {
                since = Some(
                    v.parse::<u64>()
                        .map_err(|_| ApiError::bad("since must be a sequence number"))?,
                );
                None
            }
            _ => None,
        };
        if let Some(set) = set {
            for x in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                total += 1;
                if total > 256 {
                    return Err(ApiError::bad("too many filter values"));
                }
                set.insert(x.to_string());
            }
        }
    }
    Ok((f, since))
}

async fn events_ws(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    Metrics::inc(&st.hub.metrics.http_requests);
    let q = query_pairs(raw.as_deref())?;
    let p = principal(&st, &headers, &q, true)?;
    let (filter, since) = stream_params(&q)?;
    let max = st.max_message_bytes;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(WS_READ_BUFFER)
        .on_upgrade(move |socket| ws_session(st, socket, p, filter, since)))
}

/// Counts a stream client while it lives.
struct ClientGuard(Arc<Metrics>);

impl ClientGuard {
    fn new(m: &Arc<Metrics>) -> Self {
        Metrics::inc(&m.stream_clients);
        Self(m.clone())
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0
            .stream_clients
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn ws_session(
    st: AppState,
    mut socket: WebSocket,
    p: Principal,
    filter: Filter,
    since: Option<u64>,
) {
    let _guard = ClientGuard::new(&st.hub.metrics);
    let mut feed = st.hub.feed(p, filter, since);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    loop {
        tokio::select! {
            _ = ping.tick() => {
                // A client that vanished without closing shows up as a failed or stuck send.
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Vec::new().into()))).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
            }
            ev = feed.next() => {
                let Some(ev) = ev else { break };
                // What is already at hand goes out with it: frames are fed, then flushed in
                // one write (a busy full stream is thousands of small frames a second).
                let batch = async {
                    use futures_util::SinkExt as _;
                    socket.feed(Message::Text(ev.json.clone())).await?;
                    for _ in 1..WS_BATCH {
                        let Some(more) = feed.try_next() else { break };
                        socket.feed(Message::Text(more.json.clone())).await?;
                    }
                    socket.flush().await
                };
                match tokio::time::timeout(SEND_TIMEOUT, batch).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        Metrics::inc(&st.hub.metrics.slow_clients);
                        break;
                    }
                }
            }
            msg = socket.recv() => {
                match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

async fn events_sse(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Metrics::inc(&st.hub.metrics.http_requests);
    let q = query_pairs(raw.as_deref())?;
    let p = principal(&st, &headers, &q, true)?;
    let (filter, mut since) = stream_params(&q)?;
    if since.is_none() {
        since = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
    }
    let feed = st.hub.feed(p, filter, since);
    let guard = ClientGuard::new(&st.hub.metrics);
    let stream = futures_util::stream::unfold((feed, guard), |(mut feed, guard)| async move {
        let ev = feed.next().await?;
        let item = SseEvent::default()
            .id(ev.seq.to_string())
            .data(ev.json.as_str());
        Some((Ok::<_, Infallible>(item), (feed, guard)))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// A call as JSON with the verbs permitted at each of its devices the principal owns.
fn call_json(st: &AppState, p: &Principal, c: &Call) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    let mut permitted = BTreeMap::new();
    for l in &c.legs {
        if p.reads_all() || p.owns_device(&l.device) {
            let verbs = st.hub.backend.permitted(c.id, &l.device);
            permitted.insert(l.device.to_string(), verbs.names());
        }
    }
    if let Value::Object(m) = &mut v {
        m.insert("permitted".into(), json!(permitted));
    }
    v
}

fn parse_call_id(s: &str) -> ApiResult<CallId> {
    s.strip_prefix('c')
        .unwrap_or(s)
        .parse::<u64>()
        .map(CallId)
        .map_err(|_| ApiError::bad("a call id is a number"))
}

async fn calls(State(st): State<AppState>, Auth(p): Auth) -> impl IntoResponse {
    let mut list: Vec<Call> = st
        .hub
        .backend
        .calls()
        .into_iter()
        .filter(|c| p.sees_call(c))
        .collect();
    list.sort_by_key(|c| c.id);
    axum::Json(Value::Array(
        list.iter().map(|c| call_json(&st, &p, c)).collect(),
    ))
}

async fn call(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_call_id(&id)?;
    let c = st.hub.backend.call(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalidCall",
            format!("no call {id}"),
        )
    })?;
    if !p.sees_call(&c) {
        // Out of scope looks like absent, so that ids cannot be probed.
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalidCall",
            format!("no call {id}"),
        ));
    }
    Ok(axum::Json(call_json(&st, &p, &c)))
}

fn body_json(body: &Bytes) -> ApiResult<Value> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("bad JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad("the body must be a JSON object"));
    }
    Ok(v)
}

fn str_field<'a>(v: &'a Value, key: &str) -> ApiResult<Option<&'a str>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 256 => Ok(Some(s)),
        Some(Value::String(_)) => Err(ApiError::bad(format!("`{key}` is too long"))),
        Some(_) => Err(ApiError::bad(format!("`{key}` must be a string"))),
    }
}

fn need<'a>(v: &'a Value, key: &str) -> ApiResult<&'a str> {
    str_field(v, key)?.ok_or_else(|| ApiError::bad(format!("`{key}` is required")))
}

async fn run_command(st: &AppState, p: &Principal, cmd: Command) -> ApiResult<Option<CallId>> {
    let verb = format!("{cmd:?}");
    let verb = verb.split([' ', '{']).next().unwrap_or("").to_string();
    match st.hub.backend.execute(cmd).await {
        Ok(c) => {
            Metrics::inc(&st.hub.metrics.commands_ok);
            Ok(c)
        }
        Err(e) => {
            Metrics::inc(&st.hub.metrics.commands_failed);
            log(&st.redact.text(&format!("{verb} by {} failed: {e}", p.name)));
            Err(e.into())
        }
    }
}

async fn make_call(State(st): State<AppState>, Auth(p): Auth, body: Bytes) -> ApiResult<Response> {
    if !p.commands() {
        return Err(forbidden(&st));
    }
    let v = body_json(&body)?;
    let from = need(&v, "from")?.to_string();
    let to = need(&v, "to")?.to_string();
    if !p.owns_device(&from) {
        return Err(forbidden(&st));
    }
    let call = run_command(
        &st,
        &p,
        Command::MakeCall {
            from: from.into(),
            to,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"call": call}))).into_response())
}

/// The device a verb acts at: the body's, else the principal's (or the only suitable) leg.
fn pick_device(
    p: &Principal,
    c: &Call,
    v: &Value,
    want: Option<&ConnectionState>,
) -> ApiResult<String> {
    if let Some(d) = str_field(v, "device")? {
        return Ok(d.to_string());
    }
    let fits = |l: &&hookflash_core::model::Leg| {
        (p.scope == Scope::Admin || p.owns_device(&l.device)) && want.is_none_or(|w| &l.state == w)
    };
    let legs: Vec<_> = c.legs.iter().filter(fits).collect();
    match legs.as_slice() {
        [one] => Ok(one.device.to_string()),
        _ => Err(ApiError::bad("`device` is required")),
    }
}

async fn call_verb(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path((id, verb)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    if !p.commands() {
        return Err(forbidden(&st));
    }
    let id = parse_call_id(&id)?;
    let v = body_json(&body)?;
    let c = st.hub.backend.call(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalidCall",
            format!("no call {id}"),
        )
    })?;
    if !p.sees_call(&c) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalidCall",
            format!("no call {id}"),
        ));
    }
    let device = |want: Option<ConnectionState>| -> ApiResult<hookflash_core::model::DeviceId> {
        let d = pick_device(&p, &c, &v, want.as_ref())?;
        if !p.owns_device(&d) {
            return Err(forbidden(&st));
        }
        Ok(d.into())
    };
    let to = || need(&v, "to").map(str::to_string);
    // The other call of a two-call verb: the body's, else the device's one other call.
    let pair = |dev: &hookflash_core::model::DeviceId| -> ApiResult<(CallId, CallId)> {
        let other = match str_field(&v, "other")? {
            Some(o) => parse_call_id(o)?,
            None => match v.get("other").and_then(Value::as_u64) {
                Some(n) => CallId(n),
                None => {
                    let others: Vec<CallId> = st
                        .hub
                        .backend
                        .calls_at(dev)
                        .iter()
                        .map(|x| x.id)
                        .filter(|x| *x != id)
                        .collect();
                    match others.as_slice() {
                        [one] => *one,
                        _ => return Err(ApiError::bad("`other` (the other call) is required")),
                    }
                }
            },
        };
        // An agent names only a call it can see (out of scope looks like absent).
        if p.scope != Scope::Admin && !st.hub.backend.call(other).is_some_and(|o| p.sees_call(&o)) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalidCall",
                format!("no call {other}"),
            ));
        }
        let held_here = c.leg(dev).is_some_and(|l| l.state == ConnectionState::Held);
        Ok(if held_here { (id, other) } else { (other, id) })
    };
    let cmd = match verb.as_str() {
        "answer" => Command::Answer {
            call: id,
            device: device(Some(ConnectionState::Alerting))?,
        },
        "clear" => Command::Clear {
            call: id,
            device: device(None)?,
        },
        "hold" => Command::Hold {
            call: id,
            device: device(Some(ConnectionState::Connected))?,
        },
        "retrieve" => Command::Retrieve {
            call: id,
            device: device(Some(ConnectionState::Held))?,
        },
        "consult" => Command::Consult {
            call: id,
            device: device(None)?,
            to: to()?,
        },
        "transfer" | "conference" | "alternate" | "reconnect" => {
            let dev = device(None)?;
            let (held, active) = pair(&dev)?;
            match verb.as_str() {
                "transfer" => Command::Transfer {
                    held,
                    active,
                    device: dev,
                },
                "conference" => Command::Conference {
                    held,
                    active,
                    device: dev,
                },
                "alternate" => Command::Alternate {
                    held,
                    active,
                    device: dev,
                },
                _ => Command::Reconnect {
                    held,
                    active,
                    device: dev,
                },
            }
        }
        "single-step-transfer" => Command::SingleStepTransfer {
            call: id,
            device: device(None)?,
            to: to()?,
        },
        "single-step-conference" => Command::SingleStepConference {
            call: id,
            device: device(None)?,
            to: to()?,
        },
        "deflect" => Command::Deflect {
            call: id,
            device: device(Some(ConnectionState::Alerting))?,
            to: to()?,
        },
        "send-digits" => Command::SendDigits {
            call: id,
            device: device(None)?,
            digits: need(&v, "digits")?.to_string(),
        },
        "attach-data" => {
            // An agent attaches data only to calls at its own devices (checked above: sees_call).
            let Some(Value::Object(m)) = v.get("data") else {
                return Err(ApiError::bad("`data` must be an object of strings"));
            };
            let mut data = Vec::new();
            for (k, val) in m {
                let s = match val {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                data.push((k.clone(), s));
            }
            Command::AttachData { call: id, data }
        }
        "clear-call" => {
            if p.scope == Scope::Agent && !c.legs.iter().any(|l| p.owns_device(&l.device)) {
                return Err(forbidden(&st));
            }
            Command::ClearCall { call: id }
        }
        _ => return Err(ApiError::not_found("verb")),
    };
    run_command(&st, &p, cmd).await?;
    Ok(axum::Json(json!({})))
}

async fn agents(State(st): State<AppState>, Auth(p): Auth) -> impl IntoResponse {
    let mut list: Vec<_> = st
        .hub
        .backend
        .agents()
        .into_iter()
        .filter(|a| p.sees_agent(&a.id))
        .collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    axum::Json(Value::Array(
        list.iter()
            .map(|a| {
                let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("availability".into(), json!(a.availability()));
                }
                v
            })
            .collect(),
    ))
}

async fn agent_state(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    if !p.commands() || !(p.scope == Scope::Admin || p.agent.as_deref() == Some(id.as_str())) {
        return Err(forbidden(&st));
    }
    let v = body_json(&body)?;
    let agent: hookflash_core::model::AgentId = id.as_str().into();
    let reason = str_field(&v, "reason")?.map(str::to_string);
    let cmd = match need(&v, "state")? {
        "ready" => Command::AgentReady { agent },
        "notReady" => Command::AgentNotReady { agent, reason },
        "afterCallWork" => Command::AgentAfterCallWork { agent },
        "loggedOut" => Command::AgentLogout { agent },
        "loggedIn" => {
            let known = st
                .hub
                .backend
                .agents()
                .into_iter()
                .find(|a| a.id.as_str() == id);
            let device = match str_field(&v, "device")? {
                Some(d) => d.to_string(),
                None => known
                    .as_ref()
                    .and_then(|a| a.device.as_ref().map(|d| d.to_string()))
                    .or_else(|| {
                        (p.devices.len() == 1)
                            .then(|| p.devices.iter().next().cloned())
                            .flatten()
                    })
                    .ok_or_else(|| ApiError::bad("`device` is required"))?,
            };
            if !p.owns_device(&device) {
                return Err(forbidden(&st));
            }
            let queues = known
                .map(|a| a.queues.keys().cloned().collect())
                .unwrap_or_default();
            Command::AgentLogin {
                agent,
                device: device.into(),
                queues,
            }
        }
        other => return Err(ApiError::bad(format!("unknown state `{other}`"))),
    };
    run_command(&st, &p, cmd).await?;
    Ok(axum::Json(json!({})))
}

async fn queues(State(st): State<AppState>, Auth(p): Auth) -> impl IntoResponse {
    let now = hookflash::spi::now();
    let mine: BTreeSet<String> = if p.reads_all() {
        BTreeSet::new()
    } else {
        st.hub
            .backend
            .agents()
            .into_iter()
            .filter(|a| p.agent.as_deref() == Some(a.id.as_str()))
            .flat_map(|a| a.queues.into_keys().map(|q| q.to_string()))
            .collect()
    };
    let mut list: Vec<_> = st
        .hub
        .backend
        .queues(now)
        .into_iter()
        .filter(|q| p.reads_all() || mine.contains(q.id.as_str()))
        .collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    axum::Json(Value::Array(
        list.iter()
            .map(|q| {
                json!({
                    "id": q.id,
                    "waiting": q.stats.waiting,
                    "longestWaitMs": q.stats.longest_wait_ms,
                    "serviceLevelPermille": q.stats.service_level_permille,
                    "agents": {
                        "available": q.stats.agents_available,
                        "busy": q.stats.agents_busy,
                        "away": q.stats.agents_away,
                    },
                    "stats": q.stats,
                    "calls": q.waiting.iter().map(|(c, t)| json!({"call": c, "since": t})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}

async fn call_records(
    State(st): State<AppState>,
    Auth(p): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let q = query_pairs(raw.as_deref())?;
    let mut since = 0u64;
    let mut limit = 1000usize;
    for (k, v) in &q {
        match k.as_str() {
            "since" => {
                since = v
                    .parse()
                    .map_err(|_| ApiError::bad("since is milliseconds since the epoch"))?
            }
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad("bad limit"))?
                    .clamp(1, MAX_RECORDS)
            }
            _ => {}
        }
    }
    let j = st.hub.journal.clone();
    let rows = tokio::task::spawn_blocking(move || j.records_since(since, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "journal task failed",
            )
        })??;
    let out: Vec<Value> = rows
        .into_iter()
        .filter(|r| p.sees(&r.devices, &r.agents))
        .filter_map(|r| serde_json::from_str(&r.json).ok())
        .collect();
    Ok(axum::Json(Value::Array(out)))
}

async fn links(State(st): State<AppState>, Auth(_p): Auth) -> impl IntoResponse {
    axum::Json(Value::Array(
        st.hub
            .backend
            .links()
            .into_iter()
            .map(|l| {
                json!({
                    "name": l.name,
                    "state": l.state,
                    "capabilities": l.capabilities.names(),
                })
            })
            .collect(),
    ))
}
