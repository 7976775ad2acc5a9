//! Property test: arbitrary command sequences never panic and keep the model consistent.

use hookflash_sim::{
    AgentState, CallId, Command, ConnectionId, Engine, Output, Response, SimConfig,
};
use proptest::prelude::*;

const DEVICES: &[&str] = &[
    "6000", "300000", "300001", "200000", "200001", "200002", "+49891", "bogus", "",
];

fn dev() -> impl Strategy<Value = String> {
    prop::sample::select(DEVICES).prop_map(str::to_owned)
}

fn call_id() -> impl Strategy<Value = CallId> {
    prop_oneof![
        (1u64..40).prop_map(|n| CallId(format!("{n:08X}").into_bytes())),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(CallId),
    ]
}

fn conn() -> impl Strategy<Value = ConnectionId> {
    (call_id(), dev()).prop_map(|(call, device)| ConnectionId { call, device })
}

fn state() -> impl Strategy<Value = AgentState> {
    prop_oneof![
        Just(AgentState::LoggedOff),
        any::<Option<u16>>().prop_map(AgentState::NotReady),
        Just(AgentState::Ready),
        Just(AgentState::Busy),
        Just(AgentState::WorkingAfterCall),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (dev(), dev()).prop_map(|(calling, called)| Command::MakeCall { calling, called }),
        conn().prop_map(Command::AnswerCall),
        conn().prop_map(Command::HoldCall),
        conn().prop_map(Command::RetrieveCall),
        (conn(), dev()).prop_map(|(held, consulted)| Command::ConsultationCall { held, consulted }),
        (conn(), conn()).prop_map(|(held, active)| Command::TransferCall { held, active }),
        (conn(), conn()).prop_map(|(held, active)| Command::ConferenceCall { held, active }),
        (conn(), dev()).prop_map(|(conn, to)| Command::SingleStepTransfer { conn, to }),
        (conn(), dev()).prop_map(|(conn, to)| Command::Deflect { conn, to }),
        (conn(), dev()).prop_map(|(conn, picker)| Command::DirectedPickup { conn, picker }),
        dev().prop_map(|picker| Command::GroupPickup { picker }),
        conn().prop_map(Command::ClearConnection),
        call_id().prop_map(Command::ClearCall),
        (dev(), state()).prop_map(|(device, state)| Command::SetAgentState { device, state }),
        dev().prop_map(Command::SnapshotDevice),
        call_id().prop_map(Command::SnapshotCall),
        dev().prop_map(Command::MonitorStart),
        (0u32..10).prop_map(Command::MonitorStop),
        Just(Command::SystemStatus),
        Just(Command::FaultRestart),
        Just(Command::FaultStopAnsweringPolls),
        Just(Command::FaultDropLink),
        Just(Command::FaultRecover),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_commands_keep_the_model_sane(
        seed in any::<u64>(),
        cmds in prop::collection::vec((0u64..5_000, command()), 1..80),
    ) {
        let cfg = SimConfig {
            seed,
            agents: 2,
            queues: 1,
            extensions: 3,
            trunks: 4,
            calls_per_minute: 30.0,
            monitor_limit: 4,
            truth: true,
            ..SimConfig::default()
        };
        let mut e = Engine::new(cfg);
        let mut now = 0;
        for (dt, cmd) in cmds {
            now += dt;
            let _ = e.handle_command(now, cmd);
            while let Some(o) = e.poll_output() {
                if let Output::Event(ev) = o {
                    prop_assert!(ev.at_ms <= now);
                }
            }
            while let Some(line) = e.poll_truth() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok());
            }
            prop_assert!(e.monitor_count() <= 4);
            prop_assert!(e.trunks_in_use() <= 4);
            let queued: usize = e.queue_lengths().iter().sum();
            prop_assert!(queued <= e.active_calls());
            // Every device snapshot lists live calls only.
            for d in e.device_numbers() {
                if let Ok(Response::Device(s)) = e.handle_command(now, Command::SnapshotDevice(d)) {
                    for (c, _) in s.connections {
                        prop_assert!(e.handle_command(now, Command::SnapshotCall(c.call)).is_ok());
                    }
                }
            }
        }
        // Let everything run out: all generated calls end.
        e.handle_command(now, Command::FaultRecover).ok();
        let st = e.stats().clone();
        prop_assert!(st.calls_ended <= st.calls_offered);
    }
}
