//! Executions running per agent on this host, capped so that one account cannot take the
//! runtime's whole pool (or the CPU) from the others. An agent counts once for each run it
//! pays for and once for each run it works.

use std::sync::Arc;

use dashmap::DashMap;

pub struct Slots {
    max_per_agent: u32,
    running: Arc<DashMap<String, u32>>,
}

/// Held while a run is in progress; frees its slots when dropped.
#[derive(Debug)]
pub struct SlotGuard {
    running: Arc<DashMap<String, u32>>,
    agents: Vec<String>,
}

/// The agent already has as many runs in progress as it may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtCapacity {
    pub agent_id: String,
    pub max: u32,
}

impl Slots {
    pub fn new(max_per_agent: u32) -> Self {
        Slots { max_per_agent, running: Arc::default() }
    }

    /// Takes a slot for each agent, or none if any of them is at its cap.
    pub fn acquire(&self, agents: &[&str]) -> Result<SlotGuard, AtCapacity> {
        let mut guard = SlotGuard { running: self.running.clone(), agents: Vec::new() };
        for agent in agents {
            if guard.agents.iter().any(|a| a == agent) {
                continue;
            }
            let mut count = self.running.entry(agent.to_string()).or_insert(0);
            if *count >= self.max_per_agent {
                drop(count);
                return Err(AtCapacity { agent_id: agent.to_string(), max: self.max_per_agent });
            }
            *count += 1;
            drop(count);
            guard.agents.push(agent.to_string());
        }
        Ok(guard)
    }

    /// Runs in progress for `agent` on this host.
    pub fn running(&self, agent: &str) -> u32 {
        self.running.get(agent).map_or(0, |c| *c)
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        for agent in &self.agents {
            if let Some(mut count) = self.running.get_mut(agent) {
                *count = count.saturating_sub(1);
            }
        }
        self.running.retain(|_, count| *count > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_agent_and_frees_on_drop() {
        let slots = Slots::new(2);
        let a = slots.acquire(&["buyer", "worker"]).unwrap();
        let b = slots.acquire(&["buyer", "other"]).unwrap();
        let refused = slots.acquire(&["other", "buyer"]).unwrap_err();
        assert_eq!(refused, AtCapacity { agent_id: "buyer".into(), max: 2 });
        assert_eq!(slots.running("other"), 1, "a refused acquire takes nothing");
        drop(a);
        assert_eq!(slots.running("buyer"), 1);
        let c = slots.acquire(&["buyer"]).unwrap();
        drop((b, c));
        assert_eq!(slots.running("buyer"), 0);
        assert_eq!(slots.running("worker"), 0);
    }
}
