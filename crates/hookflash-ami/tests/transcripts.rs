//! Every panoramisk transcript decodes completely, whatever the read boundaries.

use std::path::PathBuf;

use hookflash_ami::agent::{AgentState, AgentTracker};
use hookflash_ami::event::{AsteriskGeneration, ChannelState, VersionDetector};
use hookflash_ami::{Decoder, Event, EventKind, Message, MessageKind};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/panoramisk")
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).expect("transcript")
}

fn decode_chunks(data: &[u8], chunk: usize) -> (Vec<Message>, u64) {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        d.feed(c);
        while let Some(r) = d.decode() {
            out.push(r.expect("no malformed block"));
        }
    }
    // Some captures end mid-block: end of stream terminates the last one.
    while let Some(r) = d.finish() {
        out.push(r.expect("no malformed block"));
    }
    assert_eq!(d.buffered(), 0);
    (out, d.stats().malformed)
}

fn events(msgs: &[Message]) -> Vec<Event> {
    msgs.iter()
        .cloned()
        .filter_map(Event::from_message)
        .collect()
}

#[test]
fn all_transcripts_parse_without_malformed_at_any_chunking() {
    let mut files = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        files += 1;
        let data = std::fs::read(&path).unwrap();
        let (whole, malformed) = decode_chunks(&data, usize::MAX);
        assert_eq!(malformed, 0, "{path:?}");
        assert!(!whole.is_empty(), "{path:?}");
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let (split, malformed) = decode_chunks(&data, chunk);
            assert_eq!(malformed, 0);
            assert_eq!(split, whole, "{path:?} chunk {chunk}");
        }
    }
    assert_eq!(files, 17);
}

#[test]
fn originate_with_events_is_typed() {
    let (msgs, _) = decode_chunks(&load("originate_with_events.yaml"), 4096);
    let evs = events(&msgs);
    assert!(evs.len() > 700, "{}", evs.len());
    let count = |k| evs.iter().filter(|e| e.kind == k).count();
    assert!(count(EventKind::Newchannel) > 0);
    assert!(count(EventKind::Hangup) > 0);
    assert!(count(EventKind::Dial) > 0);
    assert!(count(EventKind::Bridge) > 0);
    assert!(count(EventKind::Masquerade) > 0);
    assert!(count(EventKind::Cel) > 0);
    let mut v = VersionDetector::default();
    evs.iter().for_each(|e| v.observe(e));
    assert_eq!(v.generation(), Some(AsteriskGeneration::Legacy));
    for e in evs.iter().filter(|e| e.kind == EventKind::Newstate) {
        let c = e.channel().expect("Newstate names a channel");
        assert!(c.state.is_some(), "{e:?}");
        assert!(!matches!(c.state, Some(ChannelState::Unknown(_))));
    }
}

#[test]
fn command_follows_output() {
    let (msgs, _) = decode_chunks(&load("command_core_show_version.yaml"), 5);
    let r = msgs
        .iter()
        .find(|m| m.kind() == MessageKind::Response)
        .unwrap();
    assert_eq!(r.response(), Some("Follows"));
    assert_eq!(r.action_id(), Some("action/transaction_uid/1/1"));
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("Asterisk 11.11.0"));
    let (msgs, _) = decode_chunks(&load("rasterisk_command.yaml"), 3);
    let r = msgs
        .iter()
        .find(|m| m.kind() == MessageKind::Response)
        .unwrap();
    assert_eq!(r.output().len(), 4);
    assert_eq!(r.output()[3], "2 calls processed");
}

#[test]
fn login_md5_banner_and_challenge() {
    let (msgs, _) = decode_chunks(&load("login_md5.yaml"), 1);
    assert_eq!(msgs[0].banner_version(), Some("7.0.3"));
    assert_eq!(msgs[1].kind(), MessageKind::Action);
    assert_eq!(msgs[2].get("Challenge"), Some("145769581"));
}

#[test]
fn queue_status_event_list() {
    let (msgs, _) = decode_chunks(&load("queue_status.yaml"), 9);
    let evs = events(&msgs);
    assert!(evs.iter().any(|e| e.kind == EventKind::QueueParams));
    assert!(evs.last().unwrap().is_list_complete());
}

#[test]
fn agent_login_flow_makes_agent_ready() {
    let (msgs, _) = decode_chunks(&load("agent_loggued_in.yaml"), 17);
    let mut t = AgentTracker::new();
    for e in events(&msgs) {
        t.apply(&e);
    }
    let m = t
        .member("general_queue", "Local/id-3@agentcallback")
        .expect("agent 402");
    assert_eq!(m.name.as_deref(), Some("Agent/402"));
    assert_eq!(m.state, AgentState::Ready);
    let m = t
        .member("general_queue", "Local/id-1@agentcallback")
        .expect("agent 401");
    assert_eq!(m.state, AgentState::Ready);
}

#[test]
fn agent_pause_flow_goes_paused_then_ready() {
    let (msgs, _) = decode_chunks(&load("agent_not_in_pause.yaml"), 13);
    let mut t = AgentTracker::new();
    let mut seen = Vec::new();
    for e in events(&msgs) {
        if t.apply(&e) {
            let m = t.member("maisonvoyance-tous", "Local/id-12@agentcallback");
            if let Some(m) = m {
                seen.push(m.state.clone());
            }
        }
    }
    assert!(
        matches!(seen.first(), Some(AgentState::Paused { .. })),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&AgentState::Ready));
}

#[test]
fn transcripts_map_to_driver_events() {
    use hookflash_ami::mapping::map_event;
    use hookflash_core::driver::{AgentEventKind, CallEventKind, DriverEvent};
    let link = hookflash_core::model::Name::from("asterisk");

    let (msgs, _) = decode_chunks(&load("originate_with_events.yaml"), 4096);
    let mapped: Vec<DriverEvent> = events(&msgs)
        .iter()
        .filter_map(|e| map_event(&link, e))
        .collect();
    let count = |f: fn(&CallEventKind) -> bool| {
        mapped
            .iter()
            .filter(|d| matches!(d, DriverEvent::Call { event, .. } if f(event)))
            .count()
    };
    assert!(count(|e| matches!(e, CallEventKind::Delivered { .. })) > 0);
    assert!(count(|e| matches!(e, CallEventKind::Established { .. })) > 0);
    assert!(count(|e| matches!(e, CallEventKind::ConnectionCleared { .. })) > 0);

    let (msgs, _) = decode_chunks(&load("agent_not_in_pause.yaml"), 4096);
    let agent: Vec<AgentEventKind> = events(&msgs)
        .iter()
        .filter_map(|e| match map_event(&link, e) {
            Some(DriverEvent::Agent { agent, event, .. }) if agent.as_str() == "Agent/999" => {
                Some(event)
            }
            _ => None,
        })
        .collect();
    assert!(
        matches!(agent.first(), Some(AgentEventKind::NotReady { .. })),
        "{agent:?}"
    );
    assert_eq!(agent.last(), Some(&AgentEventKind::Ready));
}
