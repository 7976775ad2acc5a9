//! An agent bar in the terminal: the agent's state and calls as they change, and commands
//! typed on stdin (`ready`, `notready [reason]`, `acw`, `login [device]`, `logout`, `answer`,
//! `hold`, `retrieve`, `hangup`, `dial NUMBER`, `blind NUMBER`, `quit`).
//!
//! ```text
//! cargo run -p hookflash-examples --bin agent_bar -- --agent A300000
//! ```

use std::io::BufRead;

use clap::Parser;
use hookflash::core::model::{AgentStatus, Call, ConnectionState};
use hookflash::{Cti, Filter};
use hookflash_examples::{LinkArgs, Setup, deadline, show_number};
use tokio::sync::mpsc;

/// Follow one agent and control it from the keyboard.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// The agent (default: the simulator's first agent).
    #[arg(long)]
    agent: Option<String>,
    /// The agent's device, when the PBX has not reported it yet.
    #[arg(long)]
    agent_device: Option<String>,
}

/// The agent's device: as the PBX reports it, else as given.
fn device_of(cti: &Cti, agent: &str, given: Option<&String>) -> Option<String> {
    cti.agent(agent)
        .and_then(|a| a.device.map(|d| d.to_string()))
        .or_else(|| given.cloned())
}

/// The call to act on: ringing first, then talking, then held.
fn current_call(cti: &Cti, device: &str) -> Option<Call> {
    let calls = cti.calls_at(device);
    let rank = |c: &Call| match c.leg(device).map(|l| &l.state) {
        Some(ConnectionState::Alerting) => 0,
        Some(ConnectionState::Connected) => 1,
        Some(ConnectionState::Held) => 2,
        _ => 3,
    };
    calls.into_iter().min_by_key(rank)
}

fn status_line(cti: &Cti, agent: &str, device: Option<&str>) -> String {
    let state = match cti.agent(agent) {
        Some(a) => {
            let status = match &a.status {
                AgentStatus::LoggedOut => "logged out".to_owned(),
                AgentStatus::Ready => "ready".to_owned(),
                AgentStatus::NotReady { reason } => {
                    format!("not ready ({})", reason.as_deref().unwrap_or("-"))
                }
                AgentStatus::WorkingAfterCall => "after-call work".to_owned(),
            };
            format!("{status}, {:?}", a.availability())
        }
        None => "unknown to the PBX".to_owned(),
    };
    let call = device.and_then(|d| current_call(cti, d).map(|c| (d, c)));
    let call = match call {
        Some((d, c)) => format!(
            " | {} {} {:?} [{}]",
            c.id,
            show_number(c.data.ani.as_ref()),
            c.leg(d).map(|l| &l.state),
            cti.permitted(c.id, d).names().join(" ")
        ),
        None => String::new(),
    };
    format!("[{agent} @{}] {state}{call}", device.unwrap_or("?"))
}

async fn command(cti: &Cti, agent: &str, device: Option<&str>, line: &str) -> Result<bool, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let arg = words.collect::<Vec<_>>().join(" ");
    let dev = || device.ok_or_else(|| "the agent has no device".to_owned());
    let call = || {
        let d = dev()?;
        current_call(cti, d)
            .map(|c| (c.id, d))
            .ok_or_else(|| "no call".to_owned())
    };
    let r = match verb {
        "" => return Ok(true),
        "quit" | "exit" => return Ok(false),
        "ready" => cti.agent_ready(agent).await,
        "notready" => {
            cti.agent_not_ready(agent, (!arg.is_empty()).then_some(arg))
                .await
        }
        "acw" => cti.agent_after_call_work(agent).await,
        "logout" => cti.agent_logout(agent).await,
        "login" => {
            let d = if arg.is_empty() {
                dev()?.to_owned()
            } else {
                arg
            };
            cti.agent_login(agent, d.as_str(), Vec::new()).await
        }
        "answer" => {
            let (c, d) = call()?;
            cti.answer(c, d).await
        }
        "hold" => {
            let (c, d) = call()?;
            cti.hold(c, d).await
        }
        "retrieve" => {
            let (c, d) = call()?;
            cti.retrieve(c, d).await
        }
        "hangup" => {
            let (c, d) = call()?;
            cti.clear(c, d).await
        }
        "dial" => cti.make_call(dev()?, arg).await,
        "blind" => {
            let (c, d) = call()?;
            cti.single_step_transfer(c, d, arg).await
        }
        other => return Err(format!("unknown command {other:?}")),
    };
    r.map(|_| true).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let setup = Setup::connect(&args.link, |b| b).await?;
    let cti = setup.cti.clone();
    let agent = args
        .agent
        .clone()
        .or_else(|| setup.agents.first().cloned())
        .ok_or("no --agent")?;
    // Stdin on a thread of its own (it blocks); lines arrive over a channel.
    let (tx, mut lines) = mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    // The simulator's agent `A300000` sits at device `300000`.
    let given_device = args.agent_device.clone().or_else(|| {
        setup
            .agents
            .contains(&agent)
            .then(|| agent.trim_start_matches('A').to_owned())
    });
    let mut device = device_of(&cti, &agent, given_device.as_ref());
    let mut events = match &device {
        Some(d) => cti.subscribe(Filter::all().agent(agent.as_str()).device(d.as_str())),
        None => cti.subscribe(Filter::all().agent(agent.as_str())),
    };
    println!("{}", status_line(&cti, &agent, device.as_deref()));
    let until = deadline(&args.link);
    let mut seen = 0u64;
    let mut stdin_open = true;
    loop {
        if args.link.max_events.is_some_and(|max| seen >= max) {
            break;
        }
        tokio::select! {
            ev = events.recv() => {
                match ev {
                    Ok(ev) => {
                        seen += 1;
                        println!("#{} {:?}", ev.seq, hookflash::EventType::of(&ev.kind));
                    }
                    Err(hookflash::RecvError::Lagged { missed }) => println!("(missed {missed} events; state re-read)"),
                    Err(_) => break,
                }
                device = device_of(&cti, &agent, given_device.as_ref());
                println!("{}", status_line(&cti, &agent, device.as_deref()));
            }
            line = lines.recv(), if stdin_open => {
                let Some(line) = line else {
                    stdin_open = false;
                    continue;
                };
                match command(&cti, &agent, device.as_deref(), line.trim()).await {
                    Ok(true) => println!("ok: {}", line.trim()),
                    Ok(false) => break,
                    Err(e) => println!("refused: {} ({e})", line.trim()),
                }
            }
            () = tokio::time::sleep_until(until) => break,
        }
    }
    setup.shutdown().await;
    Ok(())
}
