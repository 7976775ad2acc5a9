//! A scripted fake driver for the API tests: events pushed by the test, commands recorded and
//! answered from a script.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hookflash::Error;
use hookflash::core::driver::{CallEventKind, DriverEvent};
use hookflash::core::event::Event;
use hookflash::core::model::{DeviceId, LinkId};
use hookflash::spi::{
    Capabilities, CommandOutcome, Driver, DriverCommand, EventSink, MonitorResult,
};
use hookflash::{RecvError, Subscription};
use tokio::sync::mpsc;

/// How a fake answers a command.
#[derive(Debug, Clone)]
pub enum Reply {
    Ok(CommandOutcome),
    Err(Error),
    /// Never answers.
    Hang,
}

#[derive(Default)]
pub struct Log {
    pub commands: Vec<DriverCommand>,
    pub monitored: Vec<DeviceId>,
    pub monitor_batches: Vec<Vec<DeviceId>>,
    pub unmonitored: Vec<DeviceId>,
    pub replies: VecDeque<Reply>,
}

pub struct Fake {
    link: LinkId,
    caps: Capabilities,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<DriverEvent>>,
    pub log: Arc<Mutex<Log>>,
    fail_run: Option<Error>,
}

/// The test's end of a fake: push events, read the log.
#[derive(Clone)]
pub struct Handle {
    pub link: LinkId,
    tx: mpsc::UnboundedSender<DriverEvent>,
    pub log: Arc<Mutex<Log>>,
}

pub fn all_caps() -> Capabilities {
    Capabilities {
        verbs: hookflash::core::command::Verbs(u32::MAX >> 18),
        flags: Capabilities::MONITOR
            | Capabilities::MAKE_CALL
            | Capabilities::AGENT_CONTROL
            | Capabilities::AGENT_EVENTS
            | Capabilities::ATTACH_DATA
            | Capabilities::CALL_EVENTS,
    }
}

pub fn fake(link: &str, caps: Capabilities) -> (Box<dyn Driver>, Handle) {
    let (tx, rx) = mpsc::unbounded_channel();
    let log = Arc::new(Mutex::new(Log::default()));
    let f = Fake {
        link: link.into(),
        caps,
        events: tokio::sync::Mutex::new(rx),
        log: log.clone(),
        fail_run: None,
    };
    (
        Box::new(f),
        Handle {
            link: link.into(),
            tx,
            log,
        },
    )
}

pub fn failing(link: &str, error: Error) -> Box<dyn Driver> {
    let (_tx, rx) = mpsc::unbounded_channel();
    Box::new(Fake {
        link: link.into(),
        caps: Capabilities::NONE,
        events: tokio::sync::Mutex::new(rx),
        log: Arc::default(),
        fail_run: Some(error),
    })
}

#[async_trait]
impl Driver for Fake {
    fn link(&self) -> &LinkId {
        &self.link
    }
    fn capabilities(&self) -> Capabilities {
        self.caps
    }
    async fn run(&self, sink: EventSink) -> Result<(), Error> {
        if let Some(e) = &self.fail_run {
            return Err(e.clone());
        }
        let mut rx = self.events.lock().await;
        while let Some(ev) = rx.recv().await {
            if sink.send(ev).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
    async fn monitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        let mut log = self.log.lock().unwrap();
        log.monitored.extend(devices.iter().cloned());
        log.monitor_batches.push(devices.to_vec());
        // The PBX refuses devices named `bad…`.
        devices
            .iter()
            .map(|d| {
                if d.starts_with("bad") {
                    Err(Error::InvalidDevice(d.clone()))
                } else {
                    Ok(())
                }
            })
            .collect()
    }
    async fn unmonitor(&self, devices: &[DeviceId]) -> Vec<MonitorResult> {
        self.log
            .lock()
            .unwrap()
            .unmonitored
            .extend(devices.iter().cloned());
        devices.iter().map(|_| Ok(())).collect()
    }
    async fn execute(&self, command: DriverCommand) -> Result<CommandOutcome, Error> {
        let reply = {
            let mut log = self.log.lock().unwrap();
            log.commands.push(command);
            log.replies
                .pop_front()
                .unwrap_or(Reply::Ok(CommandOutcome::default()))
        };
        match reply {
            Reply::Ok(o) => Ok(o),
            Reply::Err(e) => Err(e),
            Reply::Hang => std::future::pending().await,
        }
    }
}

impl Handle {
    pub fn push(&self, ev: DriverEvent) {
        self.tx.send(ev).expect("fake driver runs");
    }
    pub fn up(&self) {
        self.push(DriverEvent::LinkUp {
            link: self.link.clone(),
        });
    }
    pub fn down(&self) {
        self.push(DriverEvent::LinkDown {
            link: self.link.clone(),
        });
    }
    pub fn monitored(&self, device: &str) {
        self.push(DriverEvent::Monitor {
            link: self.link.clone(),
            device: device.into(),
            monitored: true,
        });
    }
    pub fn call(&self, native: &str, event: CallEventKind) {
        self.push(DriverEvent::Call {
            link: self.link.clone(),
            call: native.into(),
            event,
            cause: None,
        });
    }
    pub fn ring(&self, native: &str, at: &str, from: &str) {
        self.call(
            native,
            CallEventKind::Delivered {
                alerting: at.into(),
                calling: Some(from.into()),
                called: Some(at.into()),
                last_redirection: None,
            },
        );
    }
    pub fn answer(&self, native: &str, at: &str, from: &str) {
        self.call(
            native,
            CallEventKind::Established {
                answering: at.into(),
                calling: Some(from.into()),
                called: Some(at.into()),
            },
        );
    }
    pub fn hang_up(&self, native: &str) {
        self.call(native, CallEventKind::CallCleared);
    }
    pub fn reply(&self, r: Reply) {
        self.log.lock().unwrap().replies.push_back(r);
    }
    pub fn commands(&self) -> Vec<DriverCommand> {
        self.log.lock().unwrap().commands.clone()
    }
}

/// The next event, failing the test after 5 s (no test hangs).
pub async fn next(sub: &mut Subscription) -> Result<Event, RecvError> {
    tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("an event within 5 s")
}

/// Receives until `pred` matches; returns the matching event.
pub async fn until(sub: &mut Subscription, pred: impl Fn(&Event) -> bool) -> Event {
    loop {
        match next(sub).await {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("stream ended before the event: {e}"),
        }
    }
}
