//! Simulation configuration.

/// Relative weights of the outcomes of generated calls. Weights need not add up to anything;
/// a weight of 0 disables the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeMix {
    /// Inbound ACD call answered by an agent, talk, hang up.
    pub answered: u32,
    /// Inbound ACD call whose caller hangs up in the queue (short patience).
    pub abandoned: u32,
    /// Call to an extension that is busy (`Failed`, cause `busy`).
    pub busy: u32,
    /// Call to an extension that rings out (`Failed`, cause `noAnswer`).
    pub no_answer: u32,
    /// Agent answers, consults another extension, completes the transfer.
    pub consult_transfer: u32,
    /// Agent answers, single-step (blind) transfers to an extension.
    pub blind_transfer: u32,
    /// Agent answers, consults an extension and conferences it in.
    pub conference: u32,
    /// Call to an extension forwarded on no answer to another extension.
    pub forward_no_answer: u32,
    /// Call to an extension picked up by another extension (directed pickup).
    pub pickup: u32,
    /// Agent answers, holds and retrieves once during the talk.
    pub hold: u32,
    /// Outbound call from an agent to an external number over a trunk.
    pub outbound: u32,
    /// Agent answers and parks the call; an extension retrieves it from the park position.
    /// Off (0) by default, so that seeded runs of earlier versions stay as they were.
    pub park: u32,
}

impl Default for OutcomeMix {
    fn default() -> Self {
        Self {
            answered: 60,
            abandoned: 8,
            busy: 4,
            no_answer: 4,
            consult_transfer: 5,
            blind_transfer: 5,
            conference: 3,
            forward_no_answer: 3,
            pickup: 2,
            hold: 6,
            outbound: 5,
            park: 0,
        }
    }
}

/// Everything the engine needs to run; all durations in milliseconds (means of exponential
/// distributions unless noted).
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// PRNG seed; same seed and config give identical output.
    pub seed: u64,
    /// Unix seconds of simulated time 0 (for RFC 3339 stamps in the truth log).
    pub start_epoch_secs: i64,
    /// Number of agents (each with its own device, logged on at start).
    pub agents: u32,
    /// Number of ACD groups; agents are spread over them round-robin.
    pub queues: u32,
    /// Number of plain (non-agent) extensions.
    pub extensions: u32,
    /// Number of park positions (`7000`…).
    pub park_positions: u32,
    /// Number of trunks; a call that finds none free fails with cause `trunksBusy`.
    pub trunks: u32,
    /// Generated call arrivals per minute (Poisson process); 0 disables generation.
    pub calls_per_minute: f64,
    /// Mean ring time before an agent or extension answers.
    pub ring_ms: u64,
    /// Ring time after which an unanswered extension call fails with `noAnswer` (fixed).
    pub no_answer_ms: u64,
    /// Mean talk time.
    pub talk_ms: u64,
    /// Mean hold time (hold outcome, consultation phases).
    pub hold_ms: u64,
    /// Mean after-call work (wrap-up) time.
    pub acw_ms: u64,
    /// Mean patience of callers that abandon.
    pub patience_ms: u64,
    /// Time in queue after which a call overflows to the next ACD group (fixed); 0 disables.
    pub overflow_ms: u64,
    /// Service-level threshold: answered within this many ms of being queued counts as in SL.
    pub service_level_ms: u64,
    /// Outcome weights.
    pub mix: OutcomeMix,
    /// Maximum number of active monitors; further MonitorStart fail with `monitor limit exceeded`.
    pub monitor_limit: usize,
    /// Interval of SystemStatus polls sent to the client; 0 disables.
    pub poll_interval_ms: u64,
    /// Consultation transfer gives the resulting call a new call id (OpenScape style).
    pub new_call_id_on_transfer: bool,
    /// Mean time between random faults (drop link, stop answering polls, restart); 0 disables.
    pub random_fault_ms: u64,
    /// Produce ground-truth JSON lines.
    pub truth: bool,
    /// Bound on queued outputs; beyond it the oldest are dropped and counted.
    pub max_pending_outputs: usize,
    /// Bound on simultaneously active calls; further arrivals are rejected and counted.
    pub max_active_calls: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start_epoch_secs: 1_795_442_400, // 2026-11-23T14:00:00Z
            agents: 20,
            queues: 2,
            extensions: 20,
            park_positions: 10,
            trunks: 60,
            calls_per_minute: 60.0,
            ring_ms: 4_000,
            no_answer_ms: 20_000,
            talk_ms: 120_000,
            hold_ms: 20_000,
            acw_ms: 15_000,
            patience_ms: 30_000,
            overflow_ms: 60_000,
            service_level_ms: 20_000,
            mix: OutcomeMix::default(),
            monitor_limit: 500,
            poll_interval_ms: 30_000,
            new_call_id_on_transfer: true,
            random_fault_ms: 0,
            truth: false,
            max_pending_outputs: 1_000_000,
            max_active_calls: 100_000,
        }
    }
}
