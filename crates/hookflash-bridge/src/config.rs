//! The bridge's TOML configuration.
//!
//! ```toml
//! [http]
//! listen = "127.0.0.1:8080"      # where the REST/WebSocket/SSE API and the web page listen
//! max_body_bytes = 65536          # largest request body
//! max_message_bytes = 65536       # largest WebSocket message from a client
//! # [http.tls]                    # optional: serve HTTPS
//! # cert = "/etc/hookflash/cert.pem"
//! # key = "/etc/hookflash/key.pem"
//! # client_ca = "/etc/hookflash/clients-ca.pem"  # optional: require client certificates
//!
//! [storage]
//! path = "/var/lib/hookflash/journal.sqlite"
//! retention_days = 30             # events and call records older than this are deleted
//! max_events = 1000000            # at most about this many events (the oldest go as new arrive)
//!
//! [log]
//! redact = true                   # numbers and names are masked in logs
//!
//! [dial_plan]                     # see hookflash_core::dialplan::DialPlan
//! country_code = "49"
//!
//! [[links]]
//! name = "pbx"
//! url = "csta-xml+tcp://pbx.example:4721"
//! monitor = ["300000", "300001"]  # devices to monitor on this link
//!
//! [[agents]]                      # agents and their usual devices (for scopes and the page)
//! id = "A300000"
//! devices = ["300000"]
//!
//! [[tokens]]
//! name = "crm"
//! token = "${HOOKFLASH_CRM_TOKEN}" # `${NAME}` reads the environment
//! scope = "admin"                 # admin | supervisor | agent
//! # agent = "A300000"             # for scope = "agent"
//!
//! [[webhooks]]
//! url = "https://crm.example/hooks/cti"
//! secret = "${HOOKFLASH_WEBHOOK_SECRET}"
//! events = ["screenPop", "callRecord"]
//!
//! [[customers]]                   # the customer lookup behind screen pops
//! number = "+498912345"
//! name = "Example GmbH"
//! ```
//!
//! Secrets (`tokens.token`, `webhooks.secret`, `links.url`) may name environment variables as
//! `${NAME}`. Every error names the file, the line and the key, and is reported before anything
//! starts. [`Config::load`] refuses a file that every user may write, and a file with a secret
//! written in it that every user may read (see [`Config::check_permissions`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hookflash_core::dialplan::DialPlan;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{BridgeError, ConfigError};

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The HTTP side.
    pub http: Http,
    /// The journal.
    pub storage: Storage,
    /// Logging.
    pub log: Log,
    /// The dial plan.
    pub dial_plan: DialPlan,
    /// The service-level threshold for queue statistics, in milliseconds.
    pub service_level_ms: u64,
    /// The PBX links.
    pub links: Vec<Link>,
    /// Known agents.
    pub agents: Vec<AgentEntry>,
    /// API tokens.
    pub tokens: Vec<Token>,
    /// Webhooks.
    pub webhooks: Vec<Webhook>,
    /// The customer lookup table.
    pub customers: Vec<Customer>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: Http::default(),
            storage: Storage::default(),
            log: Log::default(),
            dial_plan: DialPlan::default(),
            service_level_ms: 20_000,
            links: Vec::new(),
            agents: Vec::new(),
            tokens: Vec::new(),
            webhooks: Vec::new(),
            customers: Vec::new(),
        }
    }
}

/// The HTTP side.
#[derive(Debug, Clone)]
pub struct Http {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// The largest WebSocket message a client may send, in bytes.
    pub max_message_bytes: usize,
    /// HTTPS, when set.
    pub tls: Option<Tls>,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 * 1024,
            max_message_bytes: 64 * 1024,
            tls: None,
        }
    }
}

/// Certificate and key files (PEM).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
    /// Mutual TLS: when set, clients must present a certificate issued by this CA (PEM).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// The journal.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The SQLite file; `None` keeps the journal in memory (lost on exit).
    pub path: Option<PathBuf>,
    /// Events and call records older than this many days are deleted.
    pub retention_days: u32,
    /// At most about this many events are kept: once the journal holds more (by a few hundred),
    /// appending deletes the oldest.
    pub max_events: u64,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            path: None,
            retention_days: 30,
            max_events: 1_000_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone)]
pub struct Log {
    /// Mask numbers and names in logs.
    pub redact: bool,
}

impl Default for Log {
    fn default() -> Self {
        Self { redact: true }
    }
}

/// A PBX link.
#[derive(Debug, Clone)]
pub struct Link {
    /// Its name (events carry it).
    pub name: String,
    /// Its URL (`csta-xml+tcp://pbx:4721`, ...), environment variables expanded.
    pub url: String,
    /// Devices to monitor on it.
    pub monitor: Vec<String>,
}

/// A known agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    /// The agent id.
    pub id: String,
    /// The agent's devices.
    #[serde(default)]
    pub devices: Vec<String>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything.
    Admin,
    /// Read everything, no commands.
    Supervisor,
    /// Only its own agent id and devices.
    Agent,
}

impl Scope {
    /// The scope's name in configuration and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
        }
    }
}

/// An API token.
#[derive(Debug, Clone)]
pub struct Token {
    /// A name for logs.
    pub name: String,
    /// The secret.
    pub token: String,
    /// The scope.
    pub scope: Scope,
    /// For agent tokens: the agent.
    pub agent: Option<String>,
    /// For agent tokens: the devices (besides the agent's configured and current ones).
    pub devices: Vec<String>,
}

/// A webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// The HMAC-SHA256 key.
    pub secret: String,
    /// Which documents: `screenPop`, `callRecord`.
    pub events: Vec<String>,
    /// How many attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Request timeout, in milliseconds.
    pub timeout_ms: u64,
    /// The delay before the first retry, in milliseconds; doubled per attempt up to ten minutes.
    pub retry_initial_ms: u64,
}

/// A customer in the lookup table.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The number (as dialled or E.164).
    pub number: String,
    /// The name.
    pub name: String,
    /// Anything else a CRM wants shown.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

// ---- raw (as written) ----

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    dial_plan: Option<DialPlan>,
    #[serde(default)]
    service_level_ms: Option<u64>,
    #[serde(default)]
    links: Vec<RawLink>,
    #[serde(default)]
    agents: Vec<AgentEntry>,
    #[serde(default)]
    tokens: Vec<RawToken>,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    #[serde(default)]
    customers: Vec<Customer>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<Spanned<String>>,
    max_body_bytes: Option<usize>,
    max_message_bytes: Option<usize>,
    tls: Option<Tls>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<PathBuf>,
    retention_days: Option<u32>,
    max_events: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    redact: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    name: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    monitor: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: Spanned<String>,
    token: Spanned<String>,
    scope: Spanned<String>,
    agent: Option<Spanned<String>>,
    #[serde(default)]
    devices: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Spanned<String>,
    secret: Spanned<String>,
    #[serde(default)]
    events: Option<Spanned<Vec<String>>>,
    max_attempts: Option<u32>,
    timeout_ms: Option<u64>,
    retry_initial_ms: Option<u64>,
}

/// The shortest token accepted.
const MIN_TOKEN_LEN: usize = 16;

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, key: &str, message: impl Into<String>) -> BridgeError {
        let (line, column) = line_col(self.text, offset);
        BridgeError::Config(Box::new(ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        }))
    }

    /// Expands `${NAME}` from the environment.
    fn expand(&self, v: &Spanned<String>, key: &str) -> Result<String, BridgeError> {
        let s = v.get_ref();
        let mut out = String::with_capacity(s.len());
        let mut rest = s.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find('}') else {
                return Err(self.err(v.span().start, key, "unterminated `${` in value"));
            };
            let name = &after[..j];
            match (self.env)(name) {
                Some(val) => out.push_str(&val),
                None => {
                    return Err(self.err(
                        v.span().start,
                        key,
                        format!("environment variable {name} is not set"),
                    ));
                }
            }
            rest = &after[j + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Line and column (both from 1) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The key a parser error is about: a name in backticks in the message (`missing field `url``),
/// else the key written at the start of the error's line.
fn key_of(text: &str, offset: usize, message: &str) -> String {
    if let Some(start) = message.find('`')
        && let Some(len) = message[start + 1..].find('`')
    {
        return message[start + 1..start + 1 + len].to_string();
    }
    let offset = offset.min(text.len());
    let line_start = text
        .get(..offset)
        .and_then(|b| b.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((k, _)) => k.trim().to_string(),
        None => line.trim().to_string(),
    }
}

impl Config {
    /// Reads and validates `file`, expanding `${NAME}` from the process environment.
    pub fn load(file: &Path) -> Result<Self, BridgeError> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            BridgeError::Config(Box::new(ConfigError {
                file: file.to_path_buf(),
                line: 0,
                column: 0,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }))
        })?;
        let cfg = Self::parse(file, &text, &|n| std::env::var(n).ok())?;
        let meta = std::fs::metadata(file).map_err(|e| {
            BridgeError::Config(Box::new(ConfigError {
                file: file.to_path_buf(),
                line: 0,
                column: 0,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }))
        })?;
        cfg.check_permissions(file, &text, &meta)?;
        Ok(cfg)
    }

    /// The secrets written in the file itself (not read from the environment), as (key, value).
    pub fn inline_secrets<'a>(&'a self, text: &str) -> Vec<(&'static str, &'a str)> {
        let mut out = Vec::new();
        for t in &self.tokens {
            if text.contains(t.token.as_str()) {
                out.push(("tokens.token", t.token.as_str()));
            }
        }
        for w in &self.webhooks {
            if text.contains(w.secret.as_str()) {
                out.push(("webhooks.secret", w.secret.as_str()));
            }
        }
        for l in &self.links {
            let has_password = l
                .url
                .parse::<hookflash_link::url::LinkUrl>()
                .is_ok_and(|u| u.password.is_some_and(|p| !p.is_empty()));
            if has_password && text.contains(l.url.as_str()) {
                out.push(("links.url", l.url.as_str()));
            }
        }
        out
    }

    /// Refuses a file that every user may change (anyone could add a token), and a file that
    /// holds a secret (a token, a webhook secret, a link password written in it rather than
    /// read from the environment) and that every user may read. The group bits are left to the
    /// administrator: `root:hookflash` with mode 0640 is how a daemon reads a file it does not
    /// own. Unix only.
    pub fn check_permissions(
        &self,
        file: &Path,
        text: &str,
        meta: &std::fs::Metadata,
    ) -> Result<(), BridgeError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            let refuse = |offset: usize, key: &str, message: String| {
                let (line, column) = line_col(text, offset);
                BridgeError::Config(Box::new(ConfigError {
                    file: file.to_path_buf(),
                    line,
                    column,
                    key: key.to_string(),
                    message,
                }))
            };
            if mode & 0o002 != 0 {
                return Err(refuse(
                    0,
                    "",
                    format!(
                        "the file is writable by every user (mode {mode:03o}), who could add \
                         a token: chmod o-w it"
                    ),
                ));
            }
            if mode & 0o004 != 0
                && let Some((key, secret)) = self.inline_secrets(text).into_iter().next()
            {
                return Err(refuse(
                    text.find(secret).unwrap_or(0),
                    key,
                    format!(
                        "the file holds a secret and every user can read it (mode {mode:03o}): \
                         chmod o-r (or 600) it, or read the secret from the environment \
                         (`${{NAME}}`)"
                    ),
                ));
            }
        }
        #[cfg(not(unix))]
        let _ = (file, text, meta);
        Ok(())
    }

    /// Parses and validates `text` (named `file` in errors), reading `${NAME}` from `env`.
    pub fn parse(
        file: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BridgeError> {
        let ctx = Ctx { file, text, env };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let msg = e.message().to_string();
            let key = key_of(text, offset, &msg);
            ctx.err(offset, &key, msg)
        })?;
        let mut cfg = Self::default();

        if let Some(listen) = raw.http.listen {
            cfg.http.listen = listen.get_ref().parse().map_err(|_| {
                ctx.err(
                    listen.span().start,
                    "http.listen",
                    format!("`{}` is not an address:port", listen.get_ref()),
                )
            })?;
        }
        if let Some(n) = raw.http.max_body_bytes {
            cfg.http.max_body_bytes = n.clamp(1024, 16 * 1024 * 1024);
        }
        if let Some(n) = raw.http.max_message_bytes {
            cfg.http.max_message_bytes = n.clamp(1024, 16 * 1024 * 1024);
        }
        cfg.http.tls = raw.http.tls;
        cfg.storage.path = raw.storage.path;
        if let Some(d) = raw.storage.retention_days {
            cfg.storage.retention_days = d.max(1);
        }
        if let Some(n) = raw.storage.max_events {
            cfg.storage.max_events = n.max(1000);
        }
        if let Some(r) = raw.log.redact {
            cfg.log.redact = r;
        }
        if let Some(dp) = raw.dial_plan {
            cfg.dial_plan = dp;
        }
        if let Some(sl) = raw.service_level_ms {
            cfg.service_level_ms = sl;
        }

        for l in raw.links {
            let name = l.name.get_ref().trim().to_string();
            if name.is_empty() || name.len() > 64 {
                return Err(ctx.err(
                    l.name.span().start,
                    "links.name",
                    "a name of 1 to 64 characters",
                ));
            }
            if cfg.links.iter().any(|x| x.name == name) {
                return Err(ctx.err(
                    l.name.span().start,
                    "links.name",
                    format!("link `{name}` is defined twice"),
                ));
            }
            let url = ctx.expand(&l.url, "links.url")?;
            if let Err(e) = url.parse::<hookflash_link::url::LinkUrl>() {
                return Err(ctx.err(
                    l.url.span().start,
                    "links.url",
                    format!("bad link URL: {e}"),
                ));
            }
            cfg.links.push(Link {
                name,
                url,
                monitor: l.monitor,
            });
        }
        cfg.agents = raw.agents;
        for t in raw.tokens {
            let scope = match t.scope.get_ref().as_str() {
                "admin" => Scope::Admin,
                "supervisor" => Scope::Supervisor,
                "agent" => Scope::Agent,
                other => {
                    return Err(ctx.err(
                        t.scope.span().start,
                        "tokens.scope",
                        format!("unknown scope `{other}` (admin, supervisor or agent)"),
                    ));
                }
            };
            let token = ctx.expand(&t.token, "tokens.token")?;
            if token.len() < MIN_TOKEN_LEN {
                return Err(ctx.err(
                    t.token.span().start,
                    "tokens.token",
                    format!("a token needs at least {MIN_TOKEN_LEN} characters"),
                ));
            }
            if cfg.tokens.iter().any(|x| x.token == token) {
                return Err(ctx.err(t.token.span().start, "tokens.token", "the same token twice"));
            }
            let agent = t.agent.as_ref().map(|a| a.get_ref().clone());
            if scope == Scope::Agent && agent.is_none() {
                return Err(ctx.err(
                    t.scope.span().start,
                    "tokens.agent",
                    "an agent token needs `agent = \"...\"`",
                ));
            }
            cfg.tokens.push(Token {
                name: t.name.get_ref().clone(),
                token,
                scope,
                agent,
                devices: t.devices,
            });
        }
        for w in raw.webhooks {
            let url = ctx.expand(&w.url, "webhooks.url")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ctx.err(
                    w.url.span().start,
                    "webhooks.url",
                    "an http:// or https:// URL",
                ));
            }
            let secret = ctx.expand(&w.secret, "webhooks.secret")?;
            if secret.is_empty() {
                return Err(ctx.err(w.secret.span().start, "webhooks.secret", "an empty secret"));
            }
            let events = match w.events {
                Some(ev) => {
                    for e in ev.get_ref() {
                        if e != "screenPop" && e != "callRecord" {
                            return Err(ctx.err(
                                ev.span().start,
                                "webhooks.events",
                                format!("unknown webhook event `{e}` (screenPop, callRecord)"),
                            ));
                        }
                    }
                    ev.into_inner()
                }
                None => vec!["screenPop".into(), "callRecord".into()],
            };
            cfg.webhooks.push(Webhook {
                url,
                secret,
                events,
                max_attempts: w.max_attempts.unwrap_or(20).clamp(1, 1000),
                timeout_ms: w.timeout_ms.unwrap_or(10_000).clamp(100, 120_000),
                retry_initial_ms: w.retry_initial_ms.unwrap_or(1_000).clamp(10, 3_600_000),
            });
        }
        cfg.customers = raw.customers;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn err(text: &str) -> ConfigError {
        match Config::parse(Path::new("bridge.toml"), text, &no_env) {
            Err(BridgeError::Config(e)) => *e,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_full_file_parses() {
        let text = r#"
[http]
listen = "0.0.0.0:9000"
[storage]
path = "/tmp/x.sqlite"
retention_days = 7
[dial_plan]
country_code = "44"
[[links]]
name = "pbx"
url = "csta-xml+tcp://pbx:4721"
monitor = ["300000"]
[[agents]]
id = "A300000"
devices = ["300000"]
[[tokens]]
name = "crm"
token = "${CRM_TOKEN}"
scope = "admin"
[[tokens]]
name = "alice"
token = "alice-alice-alice-alice"
scope = "agent"
agent = "A300000"
[[webhooks]]
url = "https://crm.example/hook"
secret = "s3cret"
events = ["callRecord"]
"#;
        let env = |n: &str| (n == "CRM_TOKEN").then(|| "0123456789abcdef0123".to_string());
        let cfg = Config::parse(Path::new("b.toml"), text, &env).unwrap();
        assert_eq!(cfg.http.listen.port(), 9000);
        assert_eq!(cfg.dial_plan.country_code, "44");
        assert_eq!(cfg.links[0].monitor, vec!["300000".to_string()]);
        assert_eq!(cfg.tokens[0].token, "0123456789abcdef0123");
        assert_eq!(cfg.tokens[1].scope, Scope::Agent);
        assert_eq!(cfg.webhooks[0].events, vec!["callRecord".to_string()]);
        assert_eq!(cfg.storage.retention_days, 7);
    }

    #[test]
    fn an_unknown_scope_names_line_and_key() {
        let e = err("[[tokens]]\nname = \"x\"\ntoken = \"0123456789abcdef\"\nscope = \"root\"\n");
        assert_eq!(e.line, 4);
        assert_eq!(e.key, "tokens.scope");
        assert!(e.message.contains("root"), "{}", e.message);
    }

    #[test]
    fn a_missing_env_var_names_line_and_key() {
        let e = err("\n\n[[webhooks]]\nurl = \"http://x/\"\nsecret = \"${NOPE_NOT_SET}\"\n");
        assert_eq!(e.line, 5);
        assert_eq!(e.key, "webhooks.secret");
        assert!(e.message.contains("NOPE_NOT_SET"));
    }

    #[test]
    fn an_unknown_key_names_line_and_key() {
        let e = err("[http]\nlisten = \"127.0.0.1:1\"\nlsiten = 3\n");
        assert_eq!(e.line, 3);
        assert_eq!(e.key, "lsiten");
    }

    #[test]
    fn a_bad_type_names_line_and_key() {
        let e = err("[storage]\nretention_days = \"ten\"\n");
        assert_eq!(e.line, 2);
        assert_eq!(e.key, "retention_days");
    }

    #[test]
    fn a_bad_link_url_and_address_are_reported() {
        let e = err("[[links]]\nname = \"a\"\nurl = \"gopher://x\"\n");
        assert_eq!((e.line, e.key.as_str()), (3, "links.url"));
        let e = err("[http]\nlisten = \"nowhere\"\n");
        assert_eq!((e.line, e.key.as_str()), (2, "http.listen"));
    }

    #[test]
    fn a_toml_syntax_error_has_a_line() {
        let e = err("[http\nlisten = 1\n");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn short_tokens_and_agent_tokens_without_agent_are_refused() {
        let e = err("[[tokens]]\nname = \"x\"\ntoken = \"short\"\nscope = \"admin\"\n");
        assert_eq!((e.line, e.key.as_str()), (3, "tokens.token"));
        let e = err("[[tokens]]\nname = \"x\"\ntoken = \"0123456789abcdef\"\nscope = \"agent\"\n");
        assert_eq!(e.key, "tokens.agent");
    }
}
