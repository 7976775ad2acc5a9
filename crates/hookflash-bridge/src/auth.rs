//! Bearer tokens and what each scope may see and do.

use std::collections::BTreeSet;

use hookflash_core::model::{Agent, Call};

use crate::config::{Config, Scope};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// The scope.
    pub scope: Scope,
    /// For agent tokens: the agent.
    pub agent: Option<String>,
    /// For agent tokens: the agent's devices (configured, plus where it is logged on).
    pub devices: BTreeSet<String>,
}

/// The configured tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<crate::config::Token>,
    agent_devices: Vec<(String, Vec<String>)>,
}

/// Compares in time independent of where the first difference is.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// The tokens of `cfg`.
    pub fn new(cfg: &Config) -> Self {
        Self {
            entries: cfg.tokens.clone(),
            agent_devices: cfg
                .agents
                .iter()
                .map(|a| (a.id.clone(), a.devices.clone()))
                .collect(),
        }
    }

    /// The principal for `token`; for an agent token, with the agent's current devices from
    /// `agents` (asked only then).
    pub fn authenticate(
        &self,
        token: &str,
        agents: impl FnOnce() -> Vec<Agent>,
    ) -> Option<Principal> {
        let mut found = None;
        for t in &self.entries {
            if same(&t.token, token) {
                found = Some(t);
            }
        }
        let t = found?;
        let mut devices: BTreeSet<String> = t.devices.iter().cloned().collect();
        if let Some(agent) = &t.agent {
            for (id, devs) in &self.agent_devices {
                if id == agent {
                    devices.extend(devs.iter().cloned());
                }
            }
            for a in agents() {
                if a.id.as_str() == agent {
                    devices.extend(a.device.iter().map(|d| d.to_string()));
                }
            }
        }
        Some(Principal {
            name: t.name.clone(),
            scope: t.scope,
            agent: t.agent.clone(),
            devices,
        })
    }

    /// Whether any token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Principal {
    /// Sees everything.
    pub fn reads_all(&self) -> bool {
        matches!(self.scope, Scope::Admin | Scope::Supervisor)
    }

    /// May send commands at all.
    pub fn commands(&self) -> bool {
        matches!(self.scope, Scope::Admin | Scope::Agent)
    }

    /// Whether `device` is one of the principal's (always for admin).
    pub fn owns_device(&self, device: &str) -> bool {
        self.scope == Scope::Admin || self.devices.contains(device)
    }

    /// Whether the principal may read about `agent`.
    pub fn sees_agent(&self, agent: &str) -> bool {
        self.reads_all() || self.agent.as_deref() == Some(agent)
    }

    /// Whether the principal may see a thing concerning these devices and agents.
    pub fn sees(&self, devices: &[String], agents: &[String]) -> bool {
        self.reads_all()
            || devices.iter().any(|d| self.devices.contains(d))
            || agents
                .iter()
                .any(|a| self.agent.as_deref() == Some(a.as_str()))
    }

    /// Whether the principal may see `call`.
    pub fn sees_call(&self, call: &Call) -> bool {
        self.reads_all()
            || call
                .legs
                .iter()
                .any(|l| self.devices.contains(l.device.as_str()))
            || call
                .agent
                .as_ref()
                .is_some_and(|a| self.agent.as_deref() == Some(a.as_str()))
    }
}
