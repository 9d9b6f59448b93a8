//! Episode bookkeeping shared by training and evaluation: each agent's lifetime return (and reward
//! components and net-worth gain when the environment reports them), and each environment episode's
//! mean return per policy, for agents that arrive and leave at any time.
//!
//! The per-episode sample types that `commons eval` writes and `commons compare` reads are in
//! [`crate::eval::samples`].

use std::collections::{BTreeMap, HashMap};

use super::api::AgentRow;
use super::personality::{Component, RewardParts};

/// Number of reward components.
pub const COMPONENTS: usize = Component::ALL.len();

/// A per-agent measure of an evaluation: what one finished agent contributes to its personality's
/// per-episode mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentMeasure {
    /// The sum of its rewards.
    Return,
    /// Net worth in DAI when it finished minus when it joined.
    NetWorthGain,
    /// Its `impact` reward component summed over its life.
    Impact,
}

impl AgentMeasure {
    /// Every measure, in display order.
    pub const ALL: [AgentMeasure; 3] = [
        AgentMeasure::Return,
        AgentMeasure::NetWorthGain,
        AgentMeasure::Impact,
    ];

    /// Its name in sample files and series (`<personality>/<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            AgentMeasure::Return => "return",
            AgentMeasure::NetWorthGain => "net_worth_gain",
            AgentMeasure::Impact => "impact",
        }
    }

    /// Its unit (U = 10 % of the initial funding pool).
    pub const fn unit(self) -> &'static str {
        match self {
            AgentMeasure::Return => "reward",
            AgentMeasure::NetWorthGain => "DAI",
            AgentMeasure::Impact => "U",
        }
    }
}

/// Names of the per-agent measures ([`AgentMeasure::ALL`]), in display order.
pub const AGENT_MEASURES: [&str; 3] = [
    AgentMeasure::Return.name(),
    AgentMeasure::NetWorthGain.name(),
    AgentMeasure::Impact.name(),
];
/// Units of [`AGENT_MEASURES`], in the same order.
pub const AGENT_MEASURE_UNITS: [&str; 3] = [
    AgentMeasure::Return.unit(),
    AgentMeasure::NetWorthGain.unit(),
    AgentMeasure::Impact.unit(),
];

/// One agent's tally while it lives.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    policy: usize,
    ret: f64,
    components: [f64; COMPONENTS],
    joined_net_worth: f64,
}

/// An agent that left (terminated) or reached the horizon (truncated).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FinishedAgent {
    /// Its policy.
    pub policy: usize,
    /// The sum of its rewards.
    pub ret: f64,
    /// The sums of its reward components (zeros when the environment gave none).
    pub components: [f64; COMPONENTS],
    /// Net worth when it finished minus when it joined (0 when the environment gave none).
    pub net_worth_gain: f64,
}

impl FinishedAgent {
    /// Its value of measure `m`.
    pub fn measure(&self, m: AgentMeasure) -> f64 {
        match m {
            AgentMeasure::Return => self.ret,
            AgentMeasure::NetWorthGain => self.net_worth_gain,
            AgentMeasure::Impact => self.components[Component::Impact.index()],
        }
    }
}

/// Agents' tallies keyed by (environment, episode, agent), and per environment episode the summed
/// returns of each policy's finished agents.
#[derive(Clone, Debug, Default)]
pub struct EpisodeTracker {
    policies: usize,
    live: HashMap<(usize, u64, u64), Tally>,
    episodes: BTreeMap<(usize, u64), Vec<(f64, usize)>>,
}

impl EpisodeTracker {
    /// Nothing tracked yet, for `policies` policies.
    pub fn new(policies: usize) -> Self {
        EpisodeTracker {
            policies,
            ..Default::default()
        }
    }

    /// Takes one row of an output (after `reset` or `step`) of environment `env` in episode `episode`,
    /// with its reward parts if the environment has them: a new live agent starts a tally, any other
    /// adds its reward (and components), and one that is terminated or truncated is returned, finished.
    /// A new agent that is already done (it joined on the last day) never acts and is not tracked.
    pub fn observe(
        &mut self,
        env: usize,
        episode: u64,
        row: &AgentRow,
        parts: Option<&RewardParts>,
    ) -> Option<FinishedAgent> {
        let key = (env, episode, row.agent.0);
        if row.is_new {
            if row.live() {
                self.live.insert(
                    key,
                    Tally {
                        policy: row.policy as usize,
                        joined_net_worth: parts.map_or(0.0, |p| p.net_worth),
                        ..Tally::default()
                    },
                );
            }
            return None;
        }
        let tally = self.live.get_mut(&key)?;
        tally.ret += row.reward as f64;
        if let Some(p) = parts {
            for (sum, c) in tally.components.iter_mut().zip(Component::ALL) {
                *sum += p.get(c);
            }
        }
        if row.live() {
            return None;
        }
        let t = self.live.remove(&key)?;
        let acc = self
            .episodes
            .entry((env, episode))
            .or_insert_with(|| vec![(0.0, 0); self.policies]);
        if let Some(slot) = acc.get_mut(t.policy) {
            slot.0 += t.ret;
            slot.1 += 1;
        }
        Some(FinishedAgent {
            policy: t.policy,
            ret: t.ret,
            components: t.components,
            net_worth_gain: parts.map_or(0.0, |p| p.net_worth - t.joined_net_worth),
        })
    }

    /// Closes the environment episodes that are over (`episode < current[env]`) and returns, for each,
    /// per policy the mean return of its finished agents (`None`: it had none), in (env, episode) order.
    pub fn close_finished(&mut self, current: &[u64]) -> Vec<Vec<Option<f64>>> {
        let over: Vec<(usize, u64)> = self
            .episodes
            .keys()
            .filter(|&&(env, episode)| current.get(env).is_some_and(|&c| episode < c))
            .copied()
            .collect();
        over.into_iter()
            .filter_map(|k| self.episodes.remove(&k))
            .map(|acc| {
                acc.iter()
                    .map(|&(sum, n)| (n > 0).then(|| sum / n as f64))
                    .collect()
            })
            .collect()
    }

    /// Forgets every tally (the environments were reset).
    pub fn clear(&mut self) {
        self.live.clear();
        self.episodes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::api::AgentId;

    fn row(agent: u64, policy: u16, reward: f32, is_new: bool, done: bool) -> AgentRow {
        AgentRow {
            agent: AgentId(agent),
            policy,
            reward,
            terminated: done,
            truncated: false,
            is_new,
        }
    }

    #[test]
    fn returns_are_summed_per_agent_and_averaged_per_episode_and_policy() {
        let mut t = EpisodeTracker::new(2);
        assert_eq!(t.observe(0, 0, &row(1, 0, 0.0, true, false), None), None);
        assert_eq!(t.observe(0, 0, &row(2, 1, 0.0, true, false), None), None);
        // Joined on the last day: never tracked.
        assert_eq!(t.observe(0, 0, &row(3, 1, 0.0, true, true), None), None);
        assert_eq!(t.observe(0, 0, &row(1, 0, 1.5, false, false), None), None);
        let done = t.observe(0, 0, &row(1, 0, 2.0, false, true), None).unwrap();
        assert_eq!((done.policy, done.ret), (0, 3.5));
        let done = t
            .observe(0, 0, &row(2, 1, -1.0, false, true), None)
            .unwrap();
        assert_eq!(done.measure(AgentMeasure::Return), -1.0);
        // An unknown agent (started before a reset) is ignored.
        assert_eq!(t.observe(0, 0, &row(9, 0, 5.0, false, true), None), None);
        // Episode 0 of env 0 is not over while env 0 is still in it.
        assert!(t.close_finished(&[0]).is_empty());
        assert_eq!(t.close_finished(&[1]), vec![vec![Some(3.5), Some(-1.0)]]);
        assert!(t.close_finished(&[1]).is_empty(), "closed once");
    }
}
