//! The Asterisk Manager Interface face: the simulated PBX speaking AMI (Asterisk 12+/16+) to
//! one client.
//!
//! The face greets with `Asterisk Call Manager/5.0.2`, takes `Login` (plain `Secret`, or
//! `AuthType: MD5` with a `Key` over the `Challenge` it handed out; a wrong password is refused
//! and the connection closed), echoes every `ActionID`, and after the login reports everything
//! on the PBX, as Asterisk does: it starts a monitor on every device of the engine and turns
//! the engine's CSTA-shaped events into channel events.
//!
//! - Every party of a call is a channel: `PJSIP/<number>-<8 hex>` for the PBX's own devices,
//!   `DAHDI/i1/<number>-<8 hex>` for external parties on the trunk. A channel's name and
//!   `Uniqueid` are derived from the call and the device, so they stay the same across
//!   reconnects. `Linkedid` is the call: the `Uniqueid` of its first channel (or the
//!   `ChannelId` an `Originate` asked for).
//! - `Newchannel`/`Newstate` (state 4 `Ring` for the calling side, 5 `Ringing` for the alerted
//!   side, 6 `Up`), `DialBegin`/`DialEnd` (`ANSWER`, `BUSY`, `NOANSWER`, `CONGESTION`),
//!   `BridgeEnter`/`BridgeLeave`, `Hangup` with its cause (16 normal, 17 busy, 19 no answer,
//!   26 answered elsewhere, 34 congestion), `Hold`/`Unhold`, `AttendedTransfer`,
//!   `BlindTransfer`, `QueueCallerJoin`/`Leave`/`Abandon`, `AgentCalled`/`AgentConnect`/
//!   `AgentComplete`/`AgentRingNoAnswer`, `QueueMemberAdded`/`Removed`/`Pause`/`Status`,
//!   `DeviceStateChange`.
//! - Actions: `Login`, `Challenge`, `Logoff`, `Ping` (unanswered while the PBX's poll fault is
//!   on), `Events`, `CoreShowChannels`, `QueueStatus`, `DeviceStateList`,
//!   `ExtensionStateList`, `Originate` (with `ChannelId`), `Redirect`, `Atxfer`,
//!   `BlindTransfer`, `Hangup` (the transferring party hanging up its consultation completes
//!   the attended transfer), `QueueAdd`, `QueueRemove`, `QueuePause`, `Setvar`, `PlayDTMF`.
//!   Lists end with an `…Complete` event carrying `EventList: Complete` and `ListItems`.
//!
//! A PBX restart is a `Shutdown` event and a closed connection; the client logs in again.
//! The engine's monitor limit ([`crate::SimConfig::monitor_limit`]) bounds the devices a
//! session hears of: give it room for every device (agents, extensions, groups, park
//! positions) and for the other connections' monitors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use hookflash_ami::codec::{Message, MessageKind};

use super::{CloseReason, Face, State};
use crate::engine::Engine;
use crate::model::{
    AgentState, CallId, Command, ConnectionId, EventCause, EventKind, LocalConnectionState as Lcs,
    MonitorEvent, Output, Response,
};

/// The AMI version the banner announces (Asterisk 16).
pub(crate) const AMI_VERSION: &str = "5.0.2";
/// The `Uniqueid` epoch part (the simulation's start, 2026-11-23T14:00:00Z).
const UID_EPOCH: u64 = 1_795_442_400;
/// Most calls, channels or agents the face keeps track of.
const MAX_TRACKED: usize = 200_000;
/// The dial-plan context the face names in its events.
const CONTEXT: &str = "from-internal";

/// One channel: a party of a call.
#[derive(Debug, Clone)]
struct Chan {
    name: String,
    uniqueid: String,
    linkedid: String,
    state: u8,
    caller_num: String,
    connected_num: String,
    exten: String,
    bridged: bool,
}

/// One call as the face presents it.
#[derive(Debug, Clone, Default)]
struct Rec {
    linkedid: String,
    calling: Option<String>,
    called: Option<String>,
    /// Channels by device number.
    chans: BTreeMap<String, Chan>,
    /// The queue the call waits in, or waited in last.
    queue: Option<String>,
    waiting: bool,
    queued_at: u64,
    /// For a consultation made with `Atxfer`: the call it consults about.
    consult_of: Option<CallId>,
    /// The engine's id of the call now, when a transfer renamed it.
    live: Option<CallId>,
}

/// An agent as `QueueStatus` reports it.
#[derive(Debug, Clone)]
struct AgentInfo {
    id: String,
    queue: String,
    state: AgentState,
    /// A pause reason a client gave in words (the engine keeps codes only).
    reason_text: Option<String>,
}

/// The AMI-specific state of a [`Face`].
#[derive(Debug, Default)]
pub(super) struct AmiState {
    decoder: hookflash_ami::Decoder,
    challenge: Option<String>,
    conn_id: u64,
    /// Device numbers of the PBX (everything else is external).
    internal: HashSet<String>,
    groups: HashSet<String>,
    calls: HashMap<CallId, Rec>,
    /// Call ids that name another record (transfer results, merged consultations).
    alias: HashMap<CallId, CallId>,
    /// Channel name → (call, device).
    by_name: HashMap<String, (CallId, String)>,
    /// Agents by device number.
    agents: BTreeMap<String, AgentInfo>,
    /// The last event handled (copies for other monitored devices of the call are skipped).
    last: Option<(u64, EventKind)>,
}

/// A block being written: `Key: Value` lines, then a blank line.
struct Block(String);

impl Block {
    fn new(first: &str, value: &str) -> Self {
        let mut b = Self(String::with_capacity(256));
        b.h(first, value);
        b
    }

    fn h(&mut self, k: &str, v: &str) -> &mut Self {
        self.0.push_str(k);
        self.0.push_str(": ");
        for c in v.chars() {
            self.0.push(if c == '\r' || c == '\n' { ' ' } else { c });
        }
        self.0.push_str("\r\n");
        self
    }

    fn opt(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.h(k, v);
        }
        self
    }

    fn done(mut self) -> Vec<u8> {
        self.0.push_str("\r\n");
        self.0.into_bytes()
    }
}

fn state_desc(s: u8) -> &'static str {
    match s {
        0 => "Down",
        2 => "OffHook",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        7 => "Busy",
        _ => "Unknown",
    }
}

/// FNV-1a, for channel-name suffixes that stay the same across reconnects.
fn fnv(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

fn linkedid_of(call: &CallId) -> String {
    let text = String::from_utf8_lossy(&call.0);
    match u64::from_str_radix(&text, 16) {
        Ok(n) => format!("{UID_EPOCH}.{n}"),
        Err(_) => format!("{UID_EPOCH}.{}", fnv(&[&text])),
    }
}

fn hangup_cause(c: EventCause) -> (u16, &'static str) {
    match c {
        EventCause::Busy => (17, "User busy"),
        EventCause::NoAnswer | EventCause::CallForwardNoAnswer => (19, "User alerting, no answer"),
        EventCause::CallPickup => (26, "Answered elsewhere"),
        EventCause::TrunksBusy => (34, "Circuit/channel congestion"),
        _ => (16, "Normal Clearing"),
    }
}

/// The device number of an interface (`PJSIP/300000` → `300000`).
fn number_of(interface: &str) -> &str {
    interface.rsplit('/').next().unwrap_or(interface)
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

impl Face {
    pub(super) fn ami_banner(&mut self, id: u64) {
        let mut st = AmiState {
            conn_id: id,
            ..AmiState::default()
        };
        // An action longer than the face's frame limit is skipped and counted.
        st.decoder = hookflash_ami::Decoder::with_limits(hookflash_ami::Limits {
            max_message: self.cfg.max_frame.max(1024),
            max_line: self.cfg.max_frame.clamp(1024, 16 * 1024),
            ..hookflash_ami::Limits::default()
        });
        self.ami = Some(Box::new(st));
        self.out
            .push_back(format!("Asterisk Call Manager/{AMI_VERSION}\r\n").into_bytes());
    }

    fn ami(&mut self) -> &mut AmiState {
        self.ami.get_or_insert_with(Box::default)
    }

    fn push(&mut self, b: Block) {
        self.out.push_back(b.done());
    }

    fn respond(&mut self, id: Option<&str>, ok: bool, message: &str) {
        let mut b = Block::new("Response", if ok { "Success" } else { "Error" });
        b.opt("ActionID", id).h("Message", message);
        if ok {
            self.stats.results += 1;
        } else {
            self.stats.errors += 1;
        }
        self.push(b);
    }

    /// Bytes from the client.
    pub(super) fn ami_input(&mut self, now: u64, bytes: &[u8], engine: &mut Engine) {
        self.ami().decoder.feed(bytes);
        loop {
            if self.is_closed() {
                return;
            }
            let Some(r) = self.ami().decoder.decode() else {
                break;
            };
            match r {
                Ok(m) => {
                    self.stats.frames_in += 1;
                    self.ami_action(now, &m, engine);
                }
                Err(_) => self.stats.malformed += 1,
            }
        }
        if self.out.len() > self.cfg.max_pending_out {
            self.close(CloseReason::SlowConsumer);
        }
    }

    /// Bytes buffered in the decoder.
    pub(super) fn ami_buffered(&self) -> usize {
        self.ami.as_ref().map_or(0, |a| a.decoder.buffered())
    }

    fn ami_action(&mut self, now: u64, m: &Message, engine: &mut Engine) {
        if m.kind() != MessageKind::Action {
            self.stats.malformed += 1;
            return;
        }
        let name = m.get("Action").unwrap_or("").to_ascii_lowercase();
        let id = m.action_id().map(str::to_owned);
        let id = id.as_deref();
        match name.as_str() {
            "challenge" => {
                let c = format!(
                    "{:09}",
                    (self.ami().conn_id.wrapping_mul(2_654_435_761) ^ now) % 1_000_000_000
                );
                self.ami().challenge = Some(c.clone());
                let mut b = Block::new("Response", "Success");
                b.opt("ActionID", id).h("Challenge", &c);
                self.push(b);
                return;
            }
            "login" => return self.ami_login(now, m, id, engine),
            "logoff" => {
                let mut b = Block::new("Response", "Goodbye");
                b.opt("ActionID", id)
                    .h("Message", "Thanks for all the fish.");
                self.push(b);
                return self.close(CloseReason::Released);
            }
            _ => {}
        }
        if !self.is_active() {
            return self.respond(id, false, "Authentication Required");
        }
        match name.as_str() {
            "ping" => {
                // In the poll fault the PBX does not answer.
                if let Ok(Response::Status(_)) = engine.handle_command(now, Command::SystemStatus) {
                    let mut b = Block::new("Response", "Success");
                    b.opt("ActionID", id).h("Ping", "Pong").h(
                        "Timestamp",
                        &format!("{}.{:06}", UID_EPOCH + now / 1000, (now % 1000) * 1000),
                    );
                    self.stats.results += 1;
                    self.push(b);
                }
            }
            "events" => {
                let mut b = Block::new("Response", "Success");
                b.opt("ActionID", id).h("Events", "On");
                self.push(b);
            }
            "coreshowchannels" => self.ami_core_show_channels(id),
            "queuestatus" => self.ami_queue_status(now, id, m.get("Queue")),
            "devicestatelist" | "extensionstatelist" => {
                self.ami_device_states(id, name == "extensionstatelist")
            }
            "originate" => self.ami_originate(now, m, id, engine),
            "redirect" | "atxfer" | "blindtransfer" | "hangup" => {
                self.ami_call_control(now, &name, m, id, engine)
            }
            "queueadd" | "queueremove" | "queuepause" => {
                self.ami_queue_member(now, &name, m, id, engine)
            }
            "setvar" => self.respond(id, true, "Variable Set"),
            "playdtmf" => self.respond(id, true, "DTMF successfully queued"),
            _ => self.respond(id, false, "Invalid/unknown command"),
        }
    }

    fn ami_login(&mut self, now: u64, m: &Message, id: Option<&str>, engine: &mut Engine) {
        if self.is_active() {
            return self.respond(id, true, "Already authenticated");
        }
        let user = m.get("Username").unwrap_or("");
        let md5 = m
            .get("AuthType")
            .is_some_and(|a| a.eq_ignore_ascii_case("md5"));
        let challenge = if md5 {
            self.ami().challenge.take()
        } else {
            None
        };
        let ok = match &self.cfg.credentials {
            None => true,
            Some(c) if user != c.user => false,
            Some(c) if md5 => challenge.is_some_and(|ch| {
                m.get("Key").is_some_and(|k| {
                    k.eq_ignore_ascii_case(&hookflash_ami::action::md5_key(&ch, &c.password))
                })
            }),
            Some(c) => m.get("Secret") == Some(c.password.as_str()),
        };
        if !ok {
            self.respond(id, false, "Authentication failed");
            return self.close(CloseReason::LoginRefused);
        }
        self.respond(id, true, "Authentication accepted");
        self.state = State::Active;
        self.login_deadline = None;
        self.push(Block::new("Event", "FullyBooted"));
        self.ami_attach(now, engine);
    }

    /// After the login: a monitor on every device, and the picture of what is going on now.
    fn ami_attach(&mut self, now: u64, engine: &mut Engine) {
        let devices = engine.device_numbers();
        let mut calls: Vec<CallId> = Vec::new();
        for dn in &devices {
            match engine.handle_command(now, Command::MonitorStart(dn.clone())) {
                Ok(Response::MonitorStarted(x)) => {
                    self.monitors.insert(x);
                    self.started.push(x);
                }
                _ => self.stats.errors += 1,
            }
            if let Ok(Response::Device(s)) =
                engine.handle_command(now, Command::SnapshotDevice(dn.clone()))
            {
                let st = self.ami();
                st.internal.insert(dn.clone());
                if let (Some(agent), Some(aid), Some(group)) =
                    (s.agent.clone(), s.agent_id.clone(), s.agent_group.clone())
                {
                    st.agents.insert(
                        dn.clone(),
                        AgentInfo {
                            id: aid,
                            queue: group,
                            state: agent,
                            reason_text: None,
                        },
                    );
                }
                for (c, lcs) in &s.connections {
                    if *lcs == Lcs::Queued {
                        st.groups.insert(dn.clone());
                    }
                    if !calls.contains(&c.call) {
                        calls.push(c.call.clone());
                    }
                }
            }
        }
        // Groups are the devices agents work in.
        let groups: Vec<String> = self
            .ami()
            .agents
            .values()
            .map(|a| a.queue.clone())
            .collect();
        self.ami().groups.extend(groups);
        for dn in devices
            .iter()
            .filter(|d| d.len() == 4 && d.starts_with('6'))
        {
            self.ami().groups.insert(dn.clone());
        }
        for call in calls {
            let Ok(Response::Call(snap)) =
                engine.handle_command(now, Command::SnapshotCall(call.clone()))
            else {
                continue;
            };
            for (c, lcs) in snap.connections {
                let state = match lcs {
                    Lcs::Initiated => 4,
                    Lcs::Alerting => 5,
                    Lcs::Connected | Lcs::Hold => 6,
                    Lcs::Queued => {
                        let rec = self.rec(&call);
                        rec.queue = Some(c.device.clone());
                        rec.waiting = true;
                        rec.queued_at = now;
                        continue;
                    }
                    Lcs::Null | Lcs::Fail => continue,
                };
                let (is_new, _) = self.chan(&call, &c.device);
                if is_new && let Some(ch) = self.chan_mut(&call, &c.device) {
                    ch.state = state;
                    ch.bridged = state == 6;
                }
            }
        }
    }

    // ------------------------------------------------------------------ tables

    fn key(&self, call: &CallId) -> CallId {
        let st = self.ami.as_ref();
        let mut k = call.clone();
        for _ in 0..8 {
            match st.and_then(|s| s.alias.get(&k)) {
                Some(n) if *n != k => k = n.clone(),
                _ => break,
            }
        }
        k
    }

    fn rec(&mut self, call: &CallId) -> &mut Rec {
        let key = self.key(call);
        let st = self.ami();
        if !st.calls.contains_key(&key) && st.calls.len() >= MAX_TRACKED {
            // Bounded: the table is full, so the oldest entries go.
            st.calls.clear();
            st.by_name.clear();
            st.alias.clear();
        }
        st.calls.entry(key.clone()).or_insert_with(|| Rec {
            linkedid: linkedid_of(&key),
            ..Rec::default()
        })
    }

    fn chan_mut(&mut self, call: &CallId, dn: &str) -> Option<&mut Chan> {
        let key = self.key(call);
        self.ami().calls.get_mut(&key)?.chans.get_mut(dn)
    }

    fn chan_name(&mut self, call: &CallId, dn: &str) -> Option<String> {
        self.chan_mut(call, dn).map(|c| c.name.clone())
    }

    /// The channel of `dn` on `call`, created if needed: (created now, name).
    fn chan(&mut self, call: &CallId, dn: &str) -> (bool, String) {
        let key = self.key(call);
        let internal = self.ami().internal.contains(dn);
        let rec = self.rec(&key);
        if let Some(c) = rec.chans.get(dn) {
            return (false, c.name.clone());
        }
        let suffix = fnv(&[&rec.linkedid, dn]);
        let name = if internal {
            format!("PJSIP/{dn}-{suffix:08x}")
        } else {
            format!("DAHDI/i1/{dn}-{suffix:08x}")
        };
        let first = rec.chans.is_empty() || rec.calling.as_deref() == Some(dn);
        let uniqueid = if first && !rec.chans.values().any(|c| c.uniqueid == rec.linkedid) {
            rec.linkedid.clone()
        } else {
            format!("{}.{}", rec.linkedid, suffix % 100_000)
        };
        let ch = Chan {
            name: name.clone(),
            uniqueid,
            linkedid: rec.linkedid.clone(),
            state: 0,
            caller_num: dn.to_owned(),
            connected_num: String::new(),
            exten: rec.called.clone().unwrap_or_default(),
            bridged: false,
        };
        rec.chans.insert(dn.to_owned(), ch);
        self.ami()
            .by_name
            .insert(name.clone(), (key, dn.to_owned()));
        (true, name)
    }

    fn is_group(&self, dn: &str) -> bool {
        self.ami.as_ref().is_some_and(|s| s.groups.contains(dn))
    }

    /// Channel headers of `dn` on `call`.
    fn chan_block(&mut self, event: &str, call: &CallId, dn: &str) -> Option<Block> {
        let c = self.chan_mut(call, dn)?.clone();
        let mut b = Block::new("Event", event);
        b.h("Privilege", "call,all")
            .h("Channel", &c.name)
            .h("ChannelState", &c.state.to_string())
            .h("ChannelStateDesc", state_desc(c.state))
            .h("CallerIDNum", &c.caller_num)
            .h("CallerIDName", "<unknown>")
            .h(
                "ConnectedLineNum",
                if c.connected_num.is_empty() {
                    "<unknown>"
                } else {
                    &c.connected_num
                },
            )
            .h("ConnectedLineName", "<unknown>")
            .h("Language", "en")
            .h("AccountCode", "")
            .h("Context", CONTEXT)
            .h("Exten", &c.exten)
            .h("Priority", "1")
            .h("Uniqueid", &c.uniqueid)
            .h("Linkedid", &c.linkedid);
        Some(b)
    }

    /// `Dest…` headers of a second channel.
    fn dest_headers(&mut self, b: &mut Block, call: &CallId, dn: &str) {
        if let Some(c) = self.chan_mut(call, dn).cloned() {
            b.h("DestChannel", &c.name)
                .h("DestChannelState", &c.state.to_string())
                .h("DestChannelStateDesc", state_desc(c.state))
                .h("DestCallerIDNum", &c.caller_num)
                .h("DestConnectedLineNum", &c.connected_num)
                .h("DestUniqueid", &c.uniqueid)
                .h("DestLinkedid", &c.linkedid);
        }
    }

    fn emit_chan(&mut self, event: &str, call: &CallId, dn: &str, extra: &[(&str, &str)]) {
        if let Some(mut b) = self.chan_block(event, call, dn) {
            for (k, v) in extra {
                b.h(k, v);
            }
            self.stats.events += 1;
            self.push(b);
        }
    }

    fn device_state(&mut self, dn: &str, state: &str) {
        if !self.ami().internal.contains(dn) || self.is_group(dn) {
            return;
        }
        let mut b = Block::new("Event", "DeviceStateChange");
        b.h("Privilege", "call,all")
            .h("Device", &format!("PJSIP/{dn}"))
            .h("State", state);
        self.stats.events += 1;
        self.push(b);
    }

    /// Makes sure `dn` has a channel on `call` (a `Newchannel` if it is new) in `state`.
    fn ensure(&mut self, call: &CallId, dn: &str, state: u8, connected: &str, exten: &str) -> bool {
        if self.is_group(dn) || dn.is_empty() {
            return false;
        }
        let (new, _) = self.chan(call, dn);
        let Some(c) = self.chan_mut(call, dn) else {
            return false;
        };
        if !connected.is_empty() {
            c.connected_num = connected.to_owned();
        }
        if !exten.is_empty() && c.exten.is_empty() {
            c.exten = exten.to_owned();
        }
        let changed = c.state != state;
        c.state = state;
        if new {
            self.emit_chan("Newchannel", call, dn, &[]);
        } else if changed {
            self.emit_chan("Newstate", call, dn, &[]);
        }
        if new || changed {
            let ds = match state {
                4 | 6 => "INUSE",
                5 => "RINGING",
                _ => "NOT_INUSE",
            };
            self.device_state(dn, ds);
        }
        true
    }

    fn hangup(&mut self, call: &CallId, dn: &str, cause: EventCause) {
        let Some(c) = self.chan_mut(call, dn).cloned() else {
            return;
        };
        if c.bridged {
            self.emit_chan(
                "BridgeLeave",
                call,
                dn,
                &[("BridgeUniqueid", &bridge_id(&c.linkedid))],
            );
        }
        let (code, text) = hangup_cause(cause);
        self.emit_chan(
            "Hangup",
            call,
            dn,
            &[("Cause", &code.to_string()), ("Cause-txt", text)],
        );
        let key = self.key(call);
        let st = self.ami();
        st.by_name.remove(&c.name);
        if let Some(r) = st.calls.get_mut(&key) {
            r.chans.remove(dn);
        }
        self.device_state(dn, "NOT_INUSE");
    }

    fn caller_of(&mut self, call: &CallId) -> Option<String> {
        let key = self.key(call);
        let r = self.ami().calls.get(&key)?;
        r.calling
            .clone()
            .filter(|c| r.chans.contains_key(c))
            .or_else(|| r.chans.keys().next().cloned())
    }

    fn agent_headers(&mut self, b: &mut Block, dn: &str) {
        let a = self.ami().agents.get(dn).cloned();
        if let Some(a) = a {
            b.h("Queue", &a.queue)
                .h("MemberName", &a.id)
                .h("Interface", &format!("PJSIP/{dn}"));
        }
    }

    // ------------------------------------------------------------------ engine events

    /// An engine output.
    pub(super) fn ami_output(&mut self, now: u64, output: &Output) {
        match output {
            Output::Event(e) => {
                if !self.is_active() || !self.monitors.contains(&e.cross_ref) {
                    return;
                }
                let dup = self
                    .ami
                    .as_ref()
                    .and_then(|s| s.last.as_ref())
                    .is_some_and(|(at, k)| *at == e.at_ms && *k == e.kind);
                if dup {
                    return;
                }
                self.ami().last = Some((e.at_ms, e.kind.clone()));
                self.ami_event(now, e);
                if self.out.len() > self.cfg.max_pending_out {
                    self.close(CloseReason::SlowConsumer);
                }
            }
            Output::SystemStatusPoll { .. } => {}
            Output::Restarted { .. } => {
                if self.is_active() {
                    let mut b = Block::new("Event", "Shutdown");
                    b.h("Privilege", "system,all")
                        .h("Shutdown", "Cleanly")
                        .h("Restart", "True");
                    self.push(b);
                }
                self.monitors.clear();
                self.started.clear();
                self.close(CloseReason::LinkDropped);
            }
            Output::LinkDropped { .. } => {
                self.monitors.clear();
                self.close(CloseReason::LinkDropped);
            }
        }
    }

    fn set_numbers(&mut self, call: &CallId, calling: &str, called: &str) {
        let r = self.rec(call);
        if r.calling.is_none() && !calling.is_empty() {
            r.calling = Some(calling.to_owned());
        }
        if r.called.is_none() && !called.is_empty() {
            r.called = Some(called.to_owned());
        }
    }

    /// The calling party's channel, placing the call (state 4).
    fn caller_ring(&mut self, call: &CallId, calling: &str, called: &str) {
        let exists = self.chan_mut(call, calling).is_some();
        if !exists {
            self.ensure(call, calling, 4, "", called);
        }
    }

    fn ami_event(&mut self, now: u64, e: &MonitorEvent) {
        match &e.kind {
            EventKind::ServiceInitiated { conn, .. } => {
                self.set_numbers(&conn.call, &conn.device, "");
                self.ensure(&conn.call, &conn.device, 0, "", "");
            }
            EventKind::Originated {
                conn,
                calling,
                called,
                ..
            } => {
                self.set_numbers(&conn.call, calling, called);
                let dn = conn.device.clone();
                if let Some(c) = self.chan_mut(&conn.call, &dn) {
                    c.exten = called.clone();
                }
                self.ensure(&conn.call, &dn, 4, "", called);
            }
            EventKind::Delivered {
                conn,
                calling,
                called,
                ..
            } => self.on_delivered(now, conn, calling, called),
            EventKind::Queued {
                conn,
                queue,
                calling,
                called,
                calls_in_queue,
                ..
            } => {
                self.set_numbers(&conn.call, calling, called);
                self.ami().groups.insert(queue.clone());
                self.caller_ring(&conn.call, calling, called);
                let r = self.rec(&conn.call);
                r.queue = Some(queue.clone());
                r.waiting = true;
                r.queued_at = now;
                let n = calls_in_queue.to_string();
                self.emit_chan(
                    "QueueCallerJoin",
                    &conn.call,
                    calling,
                    &[("Queue", queue), ("Position", &n), ("Count", &n)],
                );
            }
            EventKind::Diverted {
                conn, from, cause, ..
            } => {
                let rec_queue = self.rec(&conn.call).queue.clone();
                if rec_queue.as_deref() == Some(from.as_str()) || self.is_group(from) {
                    let waiting = std::mem::replace(&mut self.rec(&conn.call).waiting, false);
                    if waiting && let Some(c) = self.caller_of(&conn.call) {
                        self.emit_chan(
                            "QueueCallerLeave",
                            &conn.call,
                            &c,
                            &[("Queue", from), ("Position", "1"), ("Count", "0")],
                        );
                    }
                } else if self.chan_mut(&conn.call, from).is_some() {
                    // Picked up or deflected elsewhere: the dial was cancelled; otherwise it
                    // rang out.
                    let cancelled =
                        matches!(cause, EventCause::CallPickup | EventCause::Redirected);
                    self.dial_end(
                        &conn.call,
                        from,
                        if cancelled { "CANCEL" } else { "NOANSWER" },
                    );
                    if !cancelled
                        && self.ami().agents.contains_key(from.as_str())
                        && rec_queue.is_some()
                    {
                        let mut b = Block::new("Event", "AgentRingNoAnswer");
                        self.agent_headers(&mut b, from);
                        b.h("RingTime", "0");
                        self.push(b);
                    }
                    let c = match cause {
                        EventCause::CallPickup => EventCause::CallPickup,
                        EventCause::Redirected => EventCause::NormalClearing,
                        _ => EventCause::NoAnswer,
                    };
                    self.hangup(&conn.call, from, c);
                }
            }
            EventKind::Established { conn, calling, .. } => self.on_established(now, conn, calling),
            EventKind::Held { conn, holding, .. } => {
                let dn = if self.chan_mut(&conn.call, holding).is_some() {
                    holding.clone()
                } else {
                    conn.device.clone()
                };
                self.emit_chan("Hold", &conn.call, &dn, &[("MusicClass", "default")]);
                self.device_state(&dn, "ONHOLD");
            }
            EventKind::Retrieved {
                conn, retrieving, ..
            } => {
                let dn = if self.chan_mut(&conn.call, retrieving).is_some() {
                    retrieving.clone()
                } else {
                    conn.device.clone()
                };
                self.emit_chan("Unhold", &conn.call, &dn, &[]);
                self.device_state(&dn, "INUSE");
            }
            EventKind::Transferred {
                primary_old_call,
                secondary_old_call,
                transferring,
                transferred_to,
                new_call,
                ..
            } => self.on_transferred(
                primary_old_call,
                secondary_old_call.as_ref(),
                transferring,
                transferred_to,
                new_call,
            ),
            EventKind::Conferenced {
                primary_old_call,
                secondary_old_call,
                conferencing,
                added,
                ..
            } => {
                let p = self.key(primary_old_call);
                let s = self.key(secondary_old_call);
                if p != s {
                    // The conferencing party's consultation channel goes; the added party
                    // joins the call's bridge.
                    self.hangup(&s, conferencing, EventCause::Conferenced);
                    self.merge(&s, &p);
                }
                let bridge = bridge_id(&self.rec(&p).linkedid);
                if let Some(c) = self.chan_mut(&p, added) {
                    c.bridged = true;
                }
                self.emit_chan(
                    "BridgeEnter",
                    &p,
                    added,
                    &[("BridgeUniqueid", &bridge), ("BridgeNumChannels", "3")],
                );
            }
            EventKind::ConnectionCleared { conn, cause, .. } => {
                if self.is_group(&conn.device) {
                    return;
                }
                self.agent_complete(&conn.call, &conn.device, now);
                self.hangup(&conn.call, &conn.device, *cause);
                self.forget_if_empty(&conn.call);
            }
            EventKind::CallCleared { call, cause } => {
                let key = self.key(call);
                let waiting = self.ami().calls.get(&key).is_some_and(|r| r.waiting);
                if waiting {
                    let q = self.rec(&key).queue.clone().unwrap_or_default();
                    if let Some(c) = self.caller_of(&key) {
                        self.emit_chan(
                            "QueueCallerAbandon",
                            &key,
                            &c,
                            &[
                                ("Queue", &q),
                                ("Position", "1"),
                                ("OriginalPosition", "1"),
                                ("HoldTime", "0"),
                            ],
                        );
                        self.emit_chan(
                            "QueueCallerLeave",
                            &key,
                            &c,
                            &[("Queue", &q), ("Count", "0")],
                        );
                    }
                    self.rec(&key).waiting = false;
                }
                let devs: Vec<String> = self
                    .ami()
                    .calls
                    .get(&key)
                    .map(|r| r.chans.keys().cloned().collect())
                    .unwrap_or_default();
                // Answered parties first, the caller last.
                let caller = self.rec(&key).calling.clone();
                let mut order: Vec<String> = devs
                    .iter()
                    .filter(|d| Some(*d) != caller.as_ref())
                    .cloned()
                    .collect();
                order.extend(devs.into_iter().filter(|d| Some(d) == caller.as_ref()));
                for d in order {
                    self.agent_complete(&key, &d, now);
                    self.hangup(&key, &d, *cause);
                }
                self.forget(&key);
            }
            EventKind::Failed {
                conn,
                failing,
                calling,
                called,
                cause,
            } => {
                self.set_numbers(&conn.call, calling, called);
                self.caller_ring(&conn.call, calling, called);
                let failing = if failing.is_empty() {
                    conn.device.clone()
                } else {
                    failing.clone()
                };
                if self.is_group(&failing) {
                    return;
                }
                let existed = self.chan_mut(&conn.call, &failing).is_some();
                if !existed {
                    self.ensure(&conn.call, &failing, 0, calling, called);
                    self.dial_begin(&conn.call, calling, &failing);
                }
                let status = match cause {
                    EventCause::Busy => "BUSY",
                    EventCause::NoAnswer | EventCause::CallForwardNoAnswer => "NOANSWER",
                    EventCause::TrunksBusy => "CONGESTION",
                    _ => "CHANUNAVAIL",
                };
                self.dial_end(&conn.call, &failing, status);
                self.hangup(&conn.call, &failing, *cause);
            }
            EventKind::AgentLoggedOn { agent, group } => {
                let dn = e.device.clone();
                self.ami().agents.insert(
                    dn.clone(),
                    AgentInfo {
                        id: agent.clone(),
                        queue: group.clone(),
                        state: AgentState::NotReady(None),
                        reason_text: None,
                    },
                );
                self.ami().groups.insert(group.clone());
                self.member_event("QueueMemberAdded", &dn);
            }
            EventKind::AgentLoggedOff { .. } => {
                self.set_agent_state(&e.device, AgentState::LoggedOff);
                self.member_event("QueueMemberRemoved", &e.device);
            }
            EventKind::AgentReady { .. } => {
                self.set_agent_state(&e.device, AgentState::Ready);
                if let Some(a) = self.ami().agents.get_mut(e.device.as_str()) {
                    a.reason_text = None;
                }
                self.member_event("QueueMemberPause", &e.device);
            }
            EventKind::AgentNotReady { reason, .. } => {
                self.set_agent_state(&e.device, AgentState::NotReady(*reason));
                self.member_event("QueueMemberPause", &e.device);
            }
            EventKind::AgentWorkingAfterCall { .. } => {
                self.set_agent_state(&e.device, AgentState::WorkingAfterCall);
                self.member_event("QueueMemberPause", &e.device);
            }
            EventKind::AgentBusy { .. } => {
                self.set_agent_state(&e.device, AgentState::Busy);
                self.member_event("QueueMemberStatus", &e.device);
            }
        }
    }

    fn set_agent_state(&mut self, dn: &str, state: AgentState) {
        if let Some(a) = self.ami().agents.get_mut(dn) {
            a.state = state;
        }
    }

    /// The member headers of the agent at `dn` (for events and `QueueStatus`).
    fn member_fields(&mut self, b: &mut Block, dn: &str, list: bool) {
        let Some(a) = self.ami().agents.get(dn).cloned() else {
            return;
        };
        let (paused, reason) = match &a.state {
            AgentState::NotReady(r) => (
                true,
                a.reason_text
                    .clone()
                    .or_else(|| r.map(|r| r.to_string()))
                    .unwrap_or_default(),
            ),
            AgentState::WorkingAfterCall => (true, "after-call-work".to_owned()),
            _ => (false, String::new()),
        };
        let status = match a.state {
            AgentState::Busy => "2",
            AgentState::LoggedOff => "5",
            _ => "1",
        };
        let iface = format!("PJSIP/{dn}");
        b.h("Queue", &a.queue);
        if list {
            b.h("Name", &a.id).h("Location", &iface);
        } else {
            b.h("MemberName", &a.id).h("Interface", &iface);
        }
        b.h("StateInterface", &iface)
            .h("Membership", "dynamic")
            .h("Penalty", "0")
            .h("CallsTaken", "0")
            .h("LastCall", "0")
            .h("LastPause", "0")
            .h(
                "InCall",
                if a.state == AgentState::Busy {
                    "1"
                } else {
                    "0"
                },
            )
            .h("Status", status)
            .h("Paused", if paused { "1" } else { "0" })
            .h("PausedReason", &reason)
            .h("Ringinuse", "0");
    }

    fn member_event(&mut self, event: &str, dn: &str) {
        let mut b = Block::new("Event", event);
        b.h("Privilege", "agent,all");
        self.member_fields(&mut b, dn, false);
        self.stats.events += 1;
        self.push(b);
    }

    fn dial_begin(&mut self, call: &CallId, from: &str, to: &str) {
        if self.chan_mut(call, from).is_none() {
            return;
        }
        if let Some(mut b) = self.chan_block("DialBegin", call, from) {
            self.dest_headers(&mut b, call, to);
            b.h("DialString", to);
            self.stats.events += 1;
            self.push(b);
        }
    }

    fn dial_end(&mut self, call: &CallId, to: &str, status: &str) {
        let Some(from) = self.caller_of(call).filter(|c| c != to) else {
            // No calling channel: the status is told on the dialled channel alone.
            if let Some(mut b) = self.chan_block("DialEnd", call, to) {
                self.dest_headers(&mut b, call, to);
                b.h("DialStatus", status);
                self.stats.events += 1;
                self.push(b);
            }
            return;
        };
        if let Some(mut b) = self.chan_block("DialEnd", call, &from) {
            self.dest_headers(&mut b, call, to);
            b.h("DialStatus", status);
            self.stats.events += 1;
            self.push(b);
        }
    }

    fn on_delivered(&mut self, now: u64, conn: &ConnectionId, calling: &str, called: &str) {
        let _ = now;
        let call = &conn.call;
        let dn = conn.device.clone();
        self.set_numbers(call, calling, called);
        if self.is_group(&dn) {
            return;
        }
        if calling != dn {
            self.caller_ring(call, calling, called);
        }
        let existed = self.chan_mut(call, &dn).is_some();
        if !existed {
            self.ensure(call, &dn, 5, calling, called);
            if let Some(c) = self.chan_mut(call, &dn) {
                c.exten = called.to_owned();
            }
            self.dial_begin(call, calling, &dn);
        } else {
            self.ensure(call, &dn, 5, calling, called);
        }
        let queue = self.rec(call).queue.clone();
        if let Some(q) = queue
            && self.ami().agents.contains_key(dn.as_str())
            && let Some(c) = self.caller_of(call)
            && let Some(mut b) = self.chan_block("AgentCalled", call, &c)
        {
            self.dest_headers(&mut b, call, &dn);
            b.h("Queue", &q);
            if let Some(a) = self.ami().agents.get(dn.as_str()).cloned() {
                b.h("MemberName", &a.id)
                    .h("Interface", &format!("PJSIP/{dn}"));
            }
            self.stats.events += 1;
            self.push(b);
        }
    }

    fn on_established(&mut self, now: u64, conn: &ConnectionId, calling: &str) {
        let call = &conn.call;
        let dn = conn.device.clone();
        if self.is_group(&dn) {
            return;
        }
        let caller = self
            .rec(call)
            .calling
            .clone()
            .unwrap_or_else(|| calling.to_owned());
        let existed = self.chan_mut(call, &dn).is_some();
        if !existed {
            // Picked up: the picking device's channel appears.
            self.ensure(call, &dn, 0, &caller, "");
        }
        if let Some(c) = self.chan_mut(call, &dn) {
            c.connected_num = caller.clone();
        }
        self.ensure(call, &dn, 6, &caller, "");
        let bridge = bridge_id(&self.rec(call).linkedid);
        if caller != dn && self.chan_mut(call, &caller).is_some() {
            self.dial_end(call, &dn, "ANSWER");
            let dn2 = dn.clone();
            if let Some(c) = self.chan_mut(call, &caller) {
                c.connected_num = dn2;
            }
            self.ensure(call, &caller, 6, &dn, "");
            let bridged = self.chan_mut(call, &caller).is_some_and(|c| c.bridged);
            if !bridged {
                if let Some(c) = self.chan_mut(call, &caller) {
                    c.bridged = true;
                }
                self.emit_chan(
                    "BridgeEnter",
                    call,
                    &caller,
                    &[("BridgeUniqueid", &bridge), ("BridgeNumChannels", "1")],
                );
            }
        }
        let bridged = self.chan_mut(call, &dn).is_some_and(|c| c.bridged);
        if !bridged {
            if let Some(c) = self.chan_mut(call, &dn) {
                c.bridged = true;
            }
            self.emit_chan(
                "BridgeEnter",
                call,
                &dn,
                &[("BridgeUniqueid", &bridge), ("BridgeNumChannels", "2")],
            );
        }
        let (queue, queued_at) = {
            let r = self.rec(call);
            (r.queue.clone(), r.queued_at)
        };
        if let Some(q) = queue
            && self.ami().agents.contains_key(dn.as_str())
            && let Some(c) = self.caller_of(call)
            && let Some(mut b) = self.chan_block("AgentConnect", call, &c)
        {
            self.dest_headers(&mut b, call, &dn);
            b.h("Queue", &q)
                .h(
                    "HoldTime",
                    &(now.saturating_sub(queued_at) / 1000).to_string(),
                )
                .h("RingTime", "0");
            if let Some(a) = self.ami().agents.get(dn.as_str()).cloned() {
                b.h("MemberName", &a.id)
                    .h("Interface", &format!("PJSIP/{dn}"));
            }
            self.stats.events += 1;
            self.push(b);
        }
    }

    fn agent_complete(&mut self, call: &CallId, dn: &str, now: u64) {
        let _ = now;
        let queue = self.rec(call).queue.clone();
        let answered = self.chan_mut(call, dn).is_some_and(|c| c.state == 6);
        if let Some(q) = queue
            && answered
            && self.ami().agents.contains_key(dn)
            && let Some(c) = self.caller_of(call).filter(|c| c != dn)
            && let Some(mut b) = self.chan_block("AgentComplete", call, &c)
        {
            self.dest_headers(&mut b, call, dn);
            b.h("Queue", &q).h("Reason", "agent").h("TalkTime", "0");
            if let Some(a) = self.ami().agents.get(dn).cloned() {
                b.h("MemberName", &a.id)
                    .h("Interface", &format!("PJSIP/{dn}"));
            }
            self.stats.events += 1;
            self.push(b);
        }
    }

    fn on_transferred(
        &mut self,
        primary: &CallId,
        secondary: Option<&CallId>,
        transferring: &str,
        to: &str,
        new_call: &CallId,
    ) {
        let p = self.key(primary);
        let s = secondary.map(|s| self.key(s)).filter(|s| *s != p);
        let p_link = self.rec(&p).linkedid.clone();
        let transferee = self
            .ami()
            .calls
            .get(&p)
            .and_then(|r| r.chans.keys().find(|d| *d != transferring).cloned());
        match &s {
            Some(s) => {
                let s_link = self.rec(s).linkedid.clone();
                let orig = self.chan_name(&p, transferring).unwrap_or_default();
                let second = self.chan_name(s, transferring).unwrap_or_default();
                let target = self.chan_name(s, to).unwrap_or_default();
                let mut b = Block::new("Event", "AttendedTransfer");
                b.h("Privilege", "call,all")
                    .h("Result", "Success")
                    .h("OrigTransfererChannel", &orig)
                    .h("OrigTransfererLinkedid", &p_link)
                    .h("OrigBridgeUniqueid", &bridge_id(&p_link))
                    .h("SecondTransfererChannel", &second)
                    .h("SecondTransfererLinkedid", &s_link)
                    .h("SecondBridgeUniqueid", &bridge_id(&s_link))
                    .h("TransferTargetChannel", &target)
                    .h("TransferTargetLinkedid", &s_link)
                    .opt(
                        "TransfereeChannel",
                        transferee
                            .as_deref()
                            .and_then(|t| self.ami.as_ref()?.calls.get(&p)?.chans.get(t))
                            .map(|c| c.name.as_str()),
                    )
                    .h("TransfereeLinkedid", &p_link)
                    .h("DestType", "Bridge")
                    .h("DestBridgeUniqueid", &bridge_id(&p_link))
                    .h("IsExternal", "No");
                self.stats.events += 1;
                self.push(b);
                self.hangup(s, transferring, EventCause::Transfer);
                self.hangup(&p, transferring, EventCause::Transfer);
                self.merge(s, &p);
            }
            None => {
                let chan = self.chan_name(&p, transferring).unwrap_or_default();
                let mut b = Block::new("Event", "BlindTransfer");
                b.h("Privilege", "call,all")
                    .h("Result", "Success")
                    .h("TransfererChannel", &chan)
                    .h("TransfererLinkedid", &p_link)
                    .h("BridgeUniqueid", &bridge_id(&p_link))
                    .opt(
                        "TransfereeChannel",
                        transferee
                            .as_deref()
                            .and_then(|t| self.ami.as_ref()?.calls.get(&p)?.chans.get(t))
                            .map(|c| c.name.as_str()),
                    )
                    .h("TransfereeLinkedid", &p_link)
                    .h("IsExternal", "No")
                    .h("Context", CONTEXT)
                    .h("Extension", to);
                self.stats.events += 1;
                self.push(b);
                self.hangup(&p, transferring, EventCause::SingleStepTransfer);
            }
        }
        if *new_call != p {
            self.ami().alias.insert(new_call.clone(), p.clone());
            self.rec(&p).live = Some(new_call.clone());
        }
    }

    /// Moves the channels of record `from` into record `into` (they keep their Linkedid).
    fn merge(&mut self, from: &CallId, into: &CallId) {
        let st = self.ami();
        let Some(r) = st.calls.remove(from) else {
            return;
        };
        for (dn, c) in r.chans {
            st.by_name
                .insert(c.name.clone(), (into.clone(), dn.clone()));
            if let Some(t) = st.calls.get_mut(into) {
                t.chans.entry(dn).or_insert(c);
            }
        }
        st.alias.insert(from.clone(), into.clone());
    }

    fn forget_if_empty(&mut self, call: &CallId) {
        let key = self.key(call);
        let empty = self
            .ami()
            .calls
            .get(&key)
            .is_some_and(|r| r.chans.is_empty() && !r.waiting);
        if empty {
            self.forget(&key);
        }
    }

    fn forget(&mut self, key: &CallId) {
        let st = self.ami();
        if let Some(r) = st.calls.remove(key) {
            for c in r.chans.values() {
                st.by_name.remove(&c.name);
            }
        }
        st.alias.retain(|_, v| v != key);
    }

    // ------------------------------------------------------------------ actions

    fn list_start(&mut self, id: Option<&str>, what: &str) {
        let mut b = Block::new("Response", "Success");
        b.opt("ActionID", id)
            .h("EventList", "start")
            .h("Message", &format!("{what} will follow"));
        self.stats.results += 1;
        self.push(b);
    }

    fn list_end(&mut self, id: Option<&str>, event: &str, items: usize) {
        let mut b = Block::new("Event", event);
        b.opt("ActionID", id)
            .h("EventList", "Complete")
            .h("ListItems", &items.to_string());
        self.push(b);
    }

    fn ami_core_show_channels(&mut self, id: Option<&str>) {
        self.list_start(id, "Channels");
        let mut chans: Vec<Chan> = self
            .ami()
            .calls
            .values()
            .flat_map(|r| r.chans.values().cloned())
            .collect();
        chans.sort_by(|a, b| a.name.cmp(&b.name));
        for c in &chans {
            let mut b = Block::new("Event", "CoreShowChannel");
            b.opt("ActionID", id)
                .h("Channel", &c.name)
                .h("ChannelState", &c.state.to_string())
                .h("ChannelStateDesc", state_desc(c.state))
                .h("CallerIDNum", &c.caller_num)
                .h("ConnectedLineNum", &c.connected_num)
                .h("Context", CONTEXT)
                .h("Exten", &c.exten)
                .h("Priority", "1")
                .h("Uniqueid", &c.uniqueid)
                .h("Linkedid", &c.linkedid)
                .h(
                    "BridgeId",
                    &if c.bridged {
                        bridge_id(&c.linkedid)
                    } else {
                        String::new()
                    },
                )
                .h("Application", if c.bridged { "Dial" } else { "AppDial" })
                .h("Duration", "00:00:00");
            self.push(b);
        }
        self.list_end(id, "CoreShowChannelsComplete", chans.len());
    }

    fn ami_queue_status(&mut self, now: u64, id: Option<&str>, only: Option<&str>) {
        self.list_start(id, "Queue status");
        let mut groups: Vec<String> = self.ami().groups.iter().cloned().collect();
        groups.sort();
        let mut items = 0;
        for g in groups
            .iter()
            .filter(|g| only.is_none_or(|o| o == g.as_str()))
        {
            let waiting: Vec<(CallId, u64)> = {
                let st = self.ami();
                let mut w: Vec<(CallId, u64)> = st
                    .calls
                    .iter()
                    .filter(|(_, r)| r.waiting && r.queue.as_deref() == Some(g.as_str()))
                    .map(|(k, r)| (k.clone(), r.queued_at))
                    .collect();
                w.sort_by_key(|(_, t)| *t);
                w
            };
            let mut b = Block::new("Event", "QueueParams");
            b.opt("ActionID", id)
                .h("Queue", g)
                .h("Max", "0")
                .h("Strategy", "leastrecent")
                .h("Calls", &waiting.len().to_string())
                .h("Holdtime", "0")
                .h("TalkTime", "0")
                .h("Completed", "0")
                .h("Abandoned", "0")
                .h("ServiceLevel", "20")
                .h("ServicelevelPerf", "0.0")
                .h("Weight", "0");
            self.push(b);
            items += 1;
            let members: Vec<String> = self
                .ami()
                .agents
                .iter()
                .filter(|(_, a)| a.queue == *g && a.state != AgentState::LoggedOff)
                .map(|(d, _)| d.clone())
                .collect();
            for dn in members {
                let mut b = Block::new("Event", "QueueMember");
                b.opt("ActionID", id);
                self.member_fields(&mut b, &dn, true);
                self.push(b);
                items += 1;
            }
            for (pos, (call, since)) in waiting.iter().enumerate() {
                let Some(c) = self.caller_of(call) else {
                    continue;
                };
                let Some(ch) = self.chan_mut(call, &c).cloned() else {
                    continue;
                };
                let mut b = Block::new("Event", "QueueEntry");
                b.opt("ActionID", id)
                    .h("Queue", g)
                    .h("Position", &(pos + 1).to_string())
                    .h("Channel", &ch.name)
                    .h("Uniqueid", &ch.uniqueid)
                    .h("CallerIDNum", &ch.caller_num)
                    .h("CallerIDName", "<unknown>")
                    .h("ConnectedLineNum", "<unknown>")
                    .h("Wait", &(now.saturating_sub(*since) / 1000).to_string())
                    .h("Priority", "0");
                self.push(b);
                items += 1;
            }
        }
        self.list_end(id, "QueueStatusComplete", items);
    }

    fn ami_device_states(&mut self, id: Option<&str>, extensions: bool) {
        self.list_start(
            id,
            if extensions {
                "Extension Statuses"
            } else {
                "Device State Changes"
            },
        );
        let mut busy: HashMap<String, u8> = HashMap::new();
        for r in self.ami().calls.values() {
            for (dn, c) in &r.chans {
                let e = busy.entry(dn.clone()).or_insert(0);
                *e = (*e).max(c.state);
            }
        }
        let mut devs: Vec<String> = self
            .ami()
            .internal
            .iter()
            .filter(|d| !(d.len() == 4 && (d.starts_with('6') || d.starts_with('7'))))
            .cloned()
            .collect();
        devs.sort();
        for dn in &devs {
            let s = busy.get(dn).copied().unwrap_or(0);
            let mut b = if extensions {
                let mut b = Block::new("Event", "ExtensionStatus");
                b.opt("ActionID", id)
                    .h("Exten", dn)
                    .h("Context", CONTEXT)
                    .h("Hint", &format!("PJSIP/{dn}"))
                    .h(
                        "Status",
                        match s {
                            5 => "8",
                            4 | 6 => "1",
                            _ => "0",
                        },
                    );
                b
            } else {
                let mut b = Block::new("Event", "DeviceStateChange");
                b.opt("ActionID", id).h("Device", &format!("PJSIP/{dn}"));
                b
            };
            b.h(
                if extensions { "StatusText" } else { "State" },
                match s {
                    5 => "RINGING",
                    4 | 6 => "INUSE",
                    _ => "NOT_INUSE",
                },
            );
            self.push(b);
        }
        self.list_end(
            id,
            if extensions {
                "ExtensionStateListComplete"
            } else {
                "DeviceStateListComplete"
            },
            devs.len(),
        );
    }

    fn ami_originate(&mut self, now: u64, m: &Message, id: Option<&str>, engine: &mut Engine) {
        let from = number_of(m.get("Channel").unwrap_or("")).to_owned();
        let to = m.get("Exten").unwrap_or("").to_owned();
        if from.is_empty() || to.is_empty() {
            return self.respond(id, false, "Channel and Exten are required");
        }
        match engine.handle_command(
            now,
            Command::MakeCall {
                calling: from.clone(),
                called: to.clone(),
            },
        ) {
            Ok(Response::CallStarted(conn)) => {
                if let Some(cid) = m.get("ChannelId").filter(|c| !c.is_empty()) {
                    let r = self.rec(&conn.call);
                    r.linkedid = cid.to_owned();
                }
                self.set_numbers(&conn.call, &from, &to);
                self.respond(id, true, "Originate successfully queued");
                let mut b = Block::new("Event", "OriginateResponse");
                let linkedid = self.rec(&conn.call).linkedid.clone();
                b.h("Privilege", "call,all")
                    .opt("ActionID", id)
                    .h("Response", "Success")
                    .h(
                        "Channel",
                        &format!("PJSIP/{from}-{:08x}", fnv(&[&linkedid, &from])),
                    )
                    .h("Context", CONTEXT)
                    .h("Exten", &to)
                    .h("Reason", "4")
                    .h("Uniqueid", &linkedid)
                    .h("CallerIDNum", &from);
                self.push(b);
            }
            Ok(_) => self.respond(id, true, "Originate successfully queued"),
            Err(e) => self.respond(id, false, &format!("Originate failed: {e}")),
        }
    }

    fn ami_call_control(
        &mut self,
        now: u64,
        name: &str,
        m: &Message,
        id: Option<&str>,
        engine: &mut Engine,
    ) {
        let channel = m.get("Channel").unwrap_or("");
        let Some((call, dn)) = self.ami().by_name.get(channel).cloned() else {
            return self.respond(id, false, "No such channel");
        };
        let exten = m.get("Exten").unwrap_or("").to_owned();
        let live = self.rec(&call).live.clone().unwrap_or_else(|| call.clone());
        let conn = |d: &str| ConnectionId {
            call: live.clone(),
            device: d.to_owned(),
        };
        // The engine's own call id for this record (an alias may name the live call).
        let cmd = match name {
            "hangup" => {
                let consult_of = self.rec(&call).consult_of.clone();
                match consult_of {
                    Some(primary) if self.chan_mut(&primary, &dn).is_some() => {
                        let held = self.rec(&primary).live.clone().unwrap_or(primary);
                        Command::TransferCall {
                            held: ConnectionId {
                                call: held,
                                device: dn.clone(),
                            },
                            active: conn(&dn),
                        }
                    }
                    _ => Command::ClearConnection(conn(&dn)),
                }
            }
            "blindtransfer" => Command::SingleStepTransfer {
                conn: conn(&dn),
                to: exten.clone(),
            },
            "atxfer" => Command::ConsultationCall {
                held: conn(&dn),
                consulted: exten.clone(),
            },
            _ => {
                // Redirect of the calling side: the call leaves the device it rings at.
                let key = self.key(&call);
                let ringing = self.ami().calls.get(&key).and_then(|r| {
                    r.chans
                        .iter()
                        .find(|(d, c)| **d != dn && c.state == 5)
                        .map(|(d, _)| d.clone())
                });
                match ringing {
                    Some(r) => Command::Deflect {
                        conn: conn(&r),
                        to: exten.clone(),
                    },
                    None if self.chan_mut(&call, &dn).is_some_and(|c| c.state == 5) => {
                        Command::Deflect {
                            conn: conn(&dn),
                            to: exten.clone(),
                        }
                    }
                    None => Command::SingleStepTransfer {
                        conn: conn(&dn),
                        to: exten.clone(),
                    },
                }
            }
        };
        let is_atxfer = name == "atxfer";
        match engine.handle_command(now, cmd) {
            Ok(r) => {
                if is_atxfer && let Response::CallStarted(c) = &r {
                    self.rec(&c.call).consult_of = Some(self.key(&call));
                }
                let msg = match name {
                    "hangup" => "Channel Hungup",
                    "redirect" => "Redirect successful",
                    "atxfer" => "Atxfer successfully queued",
                    _ => "Transfer successful",
                };
                self.respond(id, true, msg);
            }
            Err(e) => self.respond(id, false, &e.to_string()),
        }
    }

    fn ami_queue_member(
        &mut self,
        now: u64,
        name: &str,
        m: &Message,
        id: Option<&str>,
        engine: &mut Engine,
    ) {
        let dn = number_of(m.get("Interface").unwrap_or("")).to_owned();
        if !self.ami().agents.contains_key(dn.as_str()) {
            return self.respond(id, false, "Interface not found");
        }
        let reason = m.get("Reason").filter(|r| !r.is_empty()).map(str::to_owned);
        let paused = truthy(m.get("Paused"));
        let state = match name {
            "queueremove" => AgentState::LoggedOff,
            "queueadd" if paused => AgentState::NotReady(None),
            "queueadd" => AgentState::Ready,
            _ if !paused => AgentState::Ready,
            _ if reason.as_deref() == Some("after-call-work") => AgentState::WorkingAfterCall,
            _ => AgentState::NotReady(reason.as_deref().and_then(|r| r.parse().ok())),
        };
        if let Some(a) = self.ami().agents.get_mut(dn.as_str()) {
            a.reason_text = reason.filter(|_| paused);
        }
        let current = self.ami().agents.get(dn.as_str()).map(|a| a.state.clone());
        if name == "queueadd"
            && current
                .as_ref()
                .is_some_and(|s| *s != AgentState::LoggedOff)
        {
            return self.respond(id, false, "Unable to add interface: Already there");
        }
        if name == "queueremove" && current == Some(AgentState::LoggedOff) {
            return self.respond(id, false, "Unable to remove interface: Not there");
        }
        match engine.handle_command(
            now,
            Command::SetAgentState {
                device: dn.clone(),
                state,
            },
        ) {
            Ok(_) => {
                let msg = match name {
                    "queueadd" => "Added interface to queue",
                    "queueremove" => "Removed interface from queue",
                    _ => "Interface paused successfully",
                };
                self.respond(id, true, msg);
            }
            Err(e) => self.respond(id, false, &e.to_string()),
        }
    }
}

fn bridge_id(linkedid: &str) -> String {
    let mut s = String::with_capacity(40);
    let h = fnv(&["bridge", linkedid]);
    let _ = write!(s, "{h:08x}-0000-4000-8000-{:012x}", u64::from(h) * 7919);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;
    use crate::face::{Credentials, FaceConfig, FaceProtocol};
    use hookflash_ami::{Decoder, Event};

    fn face(creds: bool) -> Face {
        let cfg = FaceConfig {
            protocol: FaceProtocol::Ami,
            credentials: creds.then(|| Credentials {
                user: "crm".into(),
                password: "s3cret".into(),
            }),
            ..FaceConfig::default()
        };
        Face::new(cfg, 0, 7)
    }

    fn drain(f: &mut Face, d: &mut Decoder) -> Vec<Message> {
        while let Some(b) = f.poll_transmit() {
            d.feed(&b);
        }
        let mut out = Vec::new();
        while let Some(Ok(m)) = d.decode() {
            out.push(m);
        }
        out
    }

    fn engine() -> Engine {
        Engine::new(SimConfig {
            agents: 2,
            extensions: 2,
            queues: 1,
            calls_per_minute: 0.0,
            ..SimConfig::default()
        })
    }

    fn route(f: &mut Face, e: &mut Engine, now: u64) {
        while let Some(o) = e.poll_output() {
            f.handle_output(now, &o);
        }
    }

    #[test]
    fn md5_login_and_refusal() {
        let mut e = engine();
        let mut d = Decoder::new();
        let mut f = face(true);
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].banner_version(), Some(AMI_VERSION));
        f.handle_input(
            0,
            b"Action: Challenge\r\nActionID: 1\r\nAuthType: MD5\r\n\r\n",
            &mut e,
        );
        let m = drain(&mut f, &mut d);
        let ch = m[0].get("Challenge").unwrap().to_owned();
        assert_eq!(m[0].action_id(), Some("1"));
        let key = hookflash_ami::action::md5_key(&ch, "s3cret");
        f.handle_input(
            0,
            format!("Action: Login\r\nActionID: 2\r\nAuthType: MD5\r\nUsername: crm\r\nKey: {key}\r\n\r\n").as_bytes(),
            &mut e,
        );
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].response(), Some("Success"));
        assert!(f.is_active());
        assert!(f.monitors().count() >= 5);
        // A wrong password is refused and the link closed.
        let mut f = face(true);
        let mut d = Decoder::new();
        drain(&mut f, &mut d);
        f.handle_input(
            0,
            b"Action: Login\r\nActionID: 9\r\nUsername: crm\r\nSecret: nope\r\n\r\n",
            &mut e,
        );
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].response(), Some("Error"));
        assert_eq!(m[0].action_id(), Some("9"));
        assert_eq!(f.close_reason(), Some(&CloseReason::LoginRefused));
    }

    #[test]
    fn originate_answer_hangup_and_lists() {
        let mut e = engine();
        let mut d = Decoder::new();
        let mut f = face(false);
        f.handle_input(
            0,
            b"Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\n",
            &mut e,
        );
        drain(&mut f, &mut d);
        f.handle_input(
            10,
            b"Action: Originate\r\nActionID: o1\r\nChannel: PJSIP/200000\r\nExten: 200001\r\nContext: x\r\nChannelId: my-call-1\r\n\r\n",
            &mut e,
        );
        route(&mut f, &mut e, 10);
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].response(), Some("Success"));
        assert_eq!(m[0].action_id(), Some("o1"));
        let evs: Vec<Event> = m.into_iter().filter_map(Event::from_message).collect();
        assert!(
            evs.iter()
                .any(|ev| ev.name() == "Newchannel" && ev.get("Linkedid") == Some("my-call-1"))
        );
        let ringing = evs
            .iter()
            .find(|ev| ev.get("ChannelState") == Some("5"))
            .expect("the called side rings");
        assert!(ringing.get("Channel").unwrap().starts_with("PJSIP/200001-"));
        // The channel list shows both parties, and ends with a count.
        f.handle_input(
            20,
            b"Action: CoreShowChannels\r\nActionID: c\r\n\r\n",
            &mut e,
        );
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].get("EventList"), Some("start"));
        let last = m.last().unwrap();
        assert_eq!(last.event_name(), Some("CoreShowChannelsComplete"));
        assert_eq!(last.get("ListItems"), Some("2"));
        assert!(m.iter().all(|x| x.action_id() == Some("c")));
        // Hangup of an unknown channel is an error; of the ringing one clears it.
        f.handle_input(
            30,
            b"Action: Hangup\r\nActionID: h\r\nChannel: PJSIP/9-1\r\n\r\n",
            &mut e,
        );
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].response(), Some("Error"));
        let ch = ringing.get("Channel").unwrap().to_owned();
        f.handle_input(
            40,
            format!("Action: Hangup\r\nActionID: h2\r\nChannel: {ch}\r\n\r\n").as_bytes(),
            &mut e,
        );
        route(&mut f, &mut e, 40);
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].response(), Some("Success"));
        assert!(m.iter().any(|x| x.event_name() == Some("Hangup")));
        // Queue status: both agents, ready.
        f.handle_input(50, b"Action: QueueStatus\r\nActionID: q\r\n\r\n", &mut e);
        let m = drain(&mut f, &mut d);
        let members: Vec<&Message> = m
            .iter()
            .filter(|x| x.event_name() == Some("QueueMember"))
            .collect();
        assert_eq!(members.len(), 2);
        assert!(members.iter().all(|x| x.get("Paused") == Some("0")));
        assert_eq!(m.last().unwrap().event_name(), Some("QueueStatusComplete"));
    }

    #[test]
    fn pause_with_a_reason_and_log_off() {
        let mut e = engine();
        let mut d = Decoder::new();
        let mut f = face(false);
        f.handle_input(
            0,
            b"Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\n",
            &mut e,
        );
        drain(&mut f, &mut d);
        f.handle_input(
            5,
            b"Action: QueuePause\r\nActionID: p\r\nInterface: PJSIP/300000\r\nPaused: true\r\nReason: lunch\r\n\r\n",
            &mut e,
        );
        route(&mut f, &mut e, 5);
        let m = drain(&mut f, &mut d);
        assert_eq!(m[0].response(), Some("Success"));
        let p = m
            .iter()
            .find(|x| x.event_name() == Some("QueueMemberPause"))
            .expect("pause event");
        assert_eq!(p.get("Paused"), Some("1"));
        assert_eq!(p.get("PausedReason"), Some("lunch"));
        assert_eq!(p.get("MemberName"), Some("A300000"));
        f.handle_input(
            6,
            b"Action: QueueRemove\r\nActionID: r\r\nQueue: 6000\r\nInterface: PJSIP/300000\r\n\r\n",
            &mut e,
        );
        route(&mut f, &mut e, 6);
        let m = drain(&mut f, &mut d);
        assert!(
            m.iter()
                .any(|x| x.event_name() == Some("QueueMemberRemoved"))
        );
        // A restart is a Shutdown and a closed link.
        let _ = e.handle_command(7, Command::FaultRestart);
        route(&mut f, &mut e, 7);
        let m = drain(&mut f, &mut d);
        assert!(m.iter().any(|x| x.event_name() == Some("Shutdown")));
        assert!(f.is_closed());
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut e = engine();
        let mut f = face(false);
        f.handle_input(0, b"Response: nonsense\r\n\r\n\x00\xff\r\n\r\n", &mut e);
        assert!(f.stats().malformed >= 1);
        assert!(!f.is_closed());
        f.handle_input(0, b"Action: Ping\r\n\r\n", &mut e);
        assert!(!f.is_closed());
        // An action beyond the frame limit is skipped; the next one is answered.
        let before = f.stats().malformed;
        let mut big =
            b"Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\nAction: Setvar\r\n".to_vec();
        for _ in 0..100 {
            big.extend_from_slice(b"Variable: ");
            big.extend_from_slice(&[b'v'; 1000]);
            big.extend_from_slice(b"\r\n");
        }
        big.extend_from_slice(b"\r\nAction: Ping\r\nActionID: after\r\n\r\n");
        for c in big.chunks(777) {
            f.handle_input(0, c, &mut e);
        }
        assert!(f.stats().malformed > before);
        assert!(f.buffered() < 70 * 1024);
        let mut d = Decoder::new();
        let m = drain(&mut f, &mut d);
        assert!(m.iter().any(|m| m.action_id() == Some("after")), "{m:?}");
    }

    #[test]
    fn generated_traffic_maps_to_one_event_per_happening() {
        let mut e = Engine::new(SimConfig {
            agents: 4,
            extensions: 4,
            calls_per_minute: 120.0,
            ..SimConfig::default()
        });
        let mut d = Decoder::new();
        let mut f = face(false);
        f.handle_input(
            0,
            b"Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\n",
            &mut e,
        );
        drain(&mut f, &mut d);
        let mut hangups = 0;
        let mut newchannels = 0;
        for t in (0..600_000).step_by(500) {
            e.step(t);
            route(&mut f, &mut e, t);
            for m in drain(&mut f, &mut d) {
                match m.event_name() {
                    Some("Hangup") => hangups += 1,
                    Some("Newchannel") => newchannels += 1,
                    _ => {}
                }
            }
        }
        assert!(newchannels > 100, "{newchannels}");
        // Every channel that appeared and is gone hung up once.
        let open: usize = f
            .ami
            .as_ref()
            .map(|s| s.calls.values().map(|r| r.chans.len()).sum())
            .unwrap_or(0);
        assert_eq!(hangups + open, newchannels);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever a client sends, cut anywhere, the face neither panics nor buffers more
        /// than one message's worth, and a logged-in face keeps answering.
        #[test]
        fn arbitrary_input_never_panics(
            chunks in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                    proptest::sample::select(vec![
                        b"Action: Hangup\r\nChannel: PJSIP/200000-1\r\n\r\n".to_vec(),
                        b"Action: Originate\r\nChannel: PJSIP/200000\r\nExten: 200001\r\n\r\n".to_vec(),
                        b"Action: Redirect\r\nChannel: \r\nExten: x\r\n\r\n".to_vec(),
                        b"Action: QueuePause\r\nInterface: PJSIP/300000\r\nPaused: 1\r\nReason: \xff\r\n\r\n".to_vec(),
                        b"Action: QueueStatus\r\n\r\n".to_vec(),
                        b"Action: CoreShowChannels\r\n\r\n".to_vec(),
                        b"Action: Atxfer\r\nChannel: PJSIP/300000-0\r\nExten: 200000\r\n\r\n".to_vec(),
                        b"Action: Login\r\nAuthType: MD5\r\nKey: 00\r\n\r\n".to_vec(),
                    ]),
                ],
                0..20,
            )
        ) {
            let mut e = engine();
            let mut f = face(false);
            f.handle_input(0, b"Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\n", &mut e);
            let mut now = 0;
            for c in &chunks {
                now += 100;
                e.step(now);
                f.handle_input(now, c, &mut e);
                route(&mut f, &mut e, now);
                while f.poll_transmit().is_some() {}
                proptest::prop_assert!(f.buffered() <= 64 * 1024 + 16 * 1024);
            }
            if !f.is_closed() {
                f.handle_input(now, b"\r\n\r\nAction: Ping\r\nActionID: last\r\n\r\n", &mut e);
                let mut d = Decoder::new();
                let m = drain(&mut f, &mut d);
                proptest::prop_assert!(
                    m.iter().any(|m| m.action_id() == Some("last")),
                    "no answer to the last ping"
                );
            }
        }
    }
}
