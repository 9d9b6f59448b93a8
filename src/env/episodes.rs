//! Episode bookkeeping shared by training and evaluation: each agent's lifetime return (and reward
//! components and net-worth gain when the environment reports them), and each environment episode's
//! mean return per policy, for agents that arrive and leave at any time.
//!
//! Also the per-episode sample types that `commons eval` writes and `commons compare` reads.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::api::AgentRow;
use super::personality::{Component, RewardParts};

/// Number of reward components.
pub const COMPONENTS: usize = Component::ALL.len();

/// Names of the per-agent measures in [`SideSamples`], in display order (the fields of
/// [`FinishedAgent`]: `ret`, `net_worth_gain`, and the `impact` component).
pub const AGENT_MEASURES: [&str; 3] = ["return", "net_worth_gain", "impact"];
/// Units of [`AGENT_MEASURES`], in the same order (U = 10 % of the initial funding pool).
pub const AGENT_MEASURE_UNITS: [&str; 3] = ["reward", "DAI", "U"];
/// Unit of the behaviour rates.
pub const BEHAVIOUR_UNIT: &str = "share of days";
/// The staking measure of an evaluation (both sides): per episode, the mean over the personality's
/// agent-days with a stake of the share of its staked tokens on its favourite candidate (the one it
/// has the highest affinity to, observation slot 0). 1: everything on the favourite; the reference's
/// "by affinity" rule splits by affinity above a cutoff.
pub const STAKE_MEASURE: &str = "stake_on_favourite";
/// Unit of [`STAKE_MEASURE`].
pub const STAKE_MEASURE_UNIT: &str = "share of own stake";

/// Per action head, per bin: one value per episode (`None` where the episode had no choice).
pub type HeadShares = BTreeMap<String, Vec<Vec<Option<f64>>>>;

/// Per-episode values of one side of an evaluation (trained or scripted).
/// `None` where an episode had no agent of that personality (or, for behaviour, no action).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SideSamples {
    /// Per personality, per measure (`return`, `net_worth_gain`, `impact`, and for trained policies the
    /// behaviour rates `buy`, `sell`, `stake`, `propose`, `exit`): one value per episode.
    pub personalities: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>>,
    /// Final Commons metrics (keys as in `commons simulate`), one value per episode.
    pub outcomes: BTreeMap<String, Vec<f64>>,
    /// Trained policies only: per personality, per action head, per bin, one value per episode: the
    /// share of the personality's daily choices on that head that picked the bin (its behaviour
    /// fingerprint; `None` where an episode had no choice). Empty in files from before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shares: BTreeMap<String, HeadShares>,
}

/// The per-episode samples behind `eval.json`'s intervals.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EvalSamples {
    /// Trained policies.
    pub trained: SideSamples,
    /// Scripted participants in the same roles.
    pub scripted: SideSamples,
}

/// The per-episode returns behind a best-response check (`commons eval --against-fixed`): every learned
/// personality replaced in turn by every fixed strategy, on the evaluation's seeds, the rest of the
/// population as trained. `None` where an episode had no agent of the personality.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FixedSamples {
    /// Per personality: the trained policy's per-episode mean return (the trained side's `return`).
    pub trained: BTreeMap<String, Vec<Option<f64>>>,
    /// Per personality, per strategy: the per-episode mean return of the personality's agents when
    /// the strategy plays them.
    pub fixed: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>>,
    /// Per personality, per strategy: `[decisions, masked trade, support, propose, exit]`, the choices
    /// that the mask forbade and that fell back to the head's no-op.
    pub fallbacks: BTreeMap<String, BTreeMap<String, [u64; 5]>>,
}

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
    /// The [`AGENT_MEASURES`] of this agent, in their order.
    pub fn measures(&self) -> [f64; 3] {
        [
            self.ret,
            self.net_worth_gain,
            self.components[Component::Impact.index()],
        ]
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
        assert_eq!(done.measures()[0], -1.0);
        // An unknown agent (started before a reset) is ignored.
        assert_eq!(t.observe(0, 0, &row(9, 0, 5.0, false, true), None), None);
        // Episode 0 of env 0 is not over while env 0 is still in it.
        assert!(t.close_finished(&[0]).is_empty());
        assert_eq!(t.close_finished(&[1]), vec![vec![Some(3.5), Some(-1.0)]]);
        assert!(t.close_finished(&[1]).is_empty(), "closed once");
    }
}
