//! Rollout collection: `num_steps` steps of every environment, the policies acting in parallel (one
//! thread per policy at a time, each with its own seeded RNG, so the result is the same for any thread
//! count), stored per policy as per-agent transitions that know their successor, with the value of the
//! next observation where a trajectory is cut (horizon, or still running at the end of the rollout).

use std::collections::HashMap;

use rayon::prelude::*;
use tch::Device;

use super::error::TrainError;
use super::gae::Next;
use super::policy::{act, rows_of, values, Acted, Policy};
use crate::env::episodes::EpisodeTracker;
use crate::env::vec_env::VecEnv;
use crate::env::{MultiAgentEnv, StepOutput};

/// One policy's transitions of a rollout, in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transitions {
    /// Normalised observations, `len × obs_len`.
    pub obs: Vec<f32>,
    /// Action masks, `len × Σ nvec`.
    pub masks: Vec<bool>,
    /// Chosen bins, `len × heads`.
    pub actions: Vec<i64>,
    /// Log-probabilities of the actions.
    pub logp: Vec<f32>,
    /// Values of the observations.
    pub values: Vec<f32>,
    /// Rewards that followed.
    pub rewards: Vec<f32>,
    /// What follows each transition.
    pub next: Vec<Next>,
}

impl Transitions {
    /// Number of transitions.
    pub fn len(&self) -> usize {
        self.logp.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.logp.is_empty()
    }

    fn push(&mut self, a: &Acted, j: usize, mask: &[bool], heads: usize, obs_len: usize) -> usize {
        let idx = self.len();
        self.obs
            .extend_from_slice(&a.obs[j * obs_len..(j + 1) * obs_len]);
        self.masks.extend_from_slice(mask);
        self.actions.extend(
            a.actions[j * heads..(j + 1) * heads]
                .iter()
                .map(|&b| b as i64),
        );
        self.logp.push(a.logp[j]);
        self.values.push(a.values[j]);
        self.rewards.push(0.0);
        self.next.push(Next::Bootstrap(0.0));
        idx
    }
}

/// What a rollout produced.
#[derive(Clone, Debug, Default)]
pub struct Rollout {
    /// Per policy (empty for frozen policies).
    pub transitions: Vec<Transitions>,
    /// Per policy: lifetime returns of the agents that finished.
    pub finished: Vec<Vec<f64>>,
    /// Per policy: mean agent return of each environment episode that ended.
    pub episode_means: Vec<Vec<f64>>,
    /// Agent steps taken (frozen policies' included).
    pub agent_steps: u64,
    /// Environment steps taken.
    pub env_steps: u64,
}

/// The state a rollout carries over to the next: agents' running returns across rollouts, and the
/// action buffer.
pub struct Collector {
    tracker: EpisodeTracker,
    actions: Vec<u32>,
}

/// (environment, episode, agent): an agent's identity across the rows of successive outputs.
type Key = (usize, u64, u64);

impl Collector {
    /// A collector for `policies` policies.
    pub fn new(policies: usize) -> Self {
        Collector {
            tracker: EpisodeTracker::new(policies),
            actions: Vec::new(),
        }
    }

    /// Takes the output of `venv`'s reset (or resume): its agents start their tallies. Call once
    /// before the first [`Self::collect`].
    pub fn begin<E: MultiAgentEnv + Send>(&mut self, venv: &VecEnv<E>) {
        let out = venv.output();
        for (i, row) in out.rows.iter().enumerate() {
            self.tracker
                .observe(venv.row_env()[i], venv.row_episode()[i], row, None);
        }
    }

    /// Steps `venv` `num_steps` times with `policies` (`rngs`: one per policy) and returns the
    /// transitions. Non-frozen policies fold the observations they see into their normalisers.
    pub fn collect<E: MultiAgentEnv + Send>(
        &mut self,
        venv: &mut VecEnv<E>,
        policies: &mut [Policy],
        rngs: &mut [rand_pcg::Pcg32],
        num_steps: usize,
        device: Device,
    ) -> Result<Rollout, TrainError> {
        let n = policies.len();
        let heads = policies.first().map(|p| p.net.nvec.len()).unwrap_or(1);
        let mut r = Rollout {
            transitions: vec![Transitions::default(); n],
            finished: vec![Vec::new(); n],
            episode_means: vec![Vec::new(); n],
            ..Rollout::default()
        };
        // Per agent: its last transition, waiting for its reward and successor.
        let mut pending: HashMap<Key, (usize, usize)> = HashMap::new();
        for _ in 0..num_steps {
            let out = venv.output();
            let acted: Vec<Acted> = venv.install(|| {
                policies
                    .par_iter_mut()
                    .zip(rngs.par_iter_mut())
                    .enumerate()
                    .map(|(k, (p, rng))| {
                        let learn = !p.frozen;
                        act(
                            &p.net,
                            &mut p.norm,
                            learn,
                            out,
                            rows_of(out, k),
                            rng,
                            device,
                            learn,
                        )
                    })
                    .collect::<Result<_, _>>()
            })?;
            self.actions.clear();
            self.actions.resize(out.rows.len() * heads, 0);
            for (k, a) in acted.iter().enumerate() {
                r.agent_steps += a.rows.len() as u64;
                let (frozen, obs_len) = (policies[k].frozen, policies[k].net.obs_len);
                for (j, &i) in a.rows.iter().enumerate() {
                    self.actions[i * heads..(i + 1) * heads]
                        .copy_from_slice(&a.actions[j * heads..(j + 1) * heads]);
                    if frozen {
                        continue;
                    }
                    let idx = r.transitions[k].push(a, j, out.mask_row(i), heads, obs_len);
                    let key = (
                        venv.row_env()[i],
                        venv.row_episode()[i],
                        out.rows[i].agent.0,
                    );
                    if let Some((pk, pi)) = pending.insert(key, (k, idx)) {
                        // The agent's previous transition continues with this one.
                        r.transitions[pk].next[pi] = Next::Continue(idx);
                    }
                }
            }
            venv.step(&self.actions)?;
            r.env_steps += venv.len() as u64;
            let out = venv.output();
            // The results of the actions: rewards, and how trajectories end.
            let mut cut: Vec<(usize, usize, usize)> = Vec::new();
            for (i, row) in out.rows.iter().enumerate() {
                let key = (venv.row_env()[i], venv.row_episode()[i], row.agent.0);
                if let Some(done) = self.tracker.observe(key.0, key.1, row, None) {
                    r.finished[done.policy].push(done.ret);
                }
                if row.is_new {
                    continue;
                }
                if let Some(&(k, idx)) = pending.get(&key) {
                    r.transitions[k].rewards[idx] = row.reward;
                    if row.terminated {
                        r.transitions[k].next[idx] = Next::Terminated;
                        pending.remove(&key);
                    } else if row.truncated {
                        cut.push((k, idx, i));
                        pending.remove(&key);
                    }
                }
            }
            for means in self.tracker.close_finished(venv.episodes()) {
                for (k, m) in means.into_iter().enumerate() {
                    if let Some(m) = m {
                        r.episode_means[k].push(m);
                    }
                }
            }
            bootstrap(policies, &mut r.transitions, &cut, out, device)?;
        }
        // Agents still running at the end of the rollout: bootstrap with the value of their observation.
        let out = venv.output();
        let open: Vec<(usize, usize, usize)> = (0..out.rows.len())
            .filter(|&i| out.rows[i].live())
            .filter_map(|i| {
                let key = (
                    venv.row_env()[i],
                    venv.row_episode()[i],
                    out.rows[i].agent.0,
                );
                pending.get(&key).map(|&(k, idx)| (k, idx, i))
            })
            .collect();
        bootstrap(policies, &mut r.transitions, &open, out, device)?;
        Ok(r)
    }
}

/// Sets `Bootstrap(V(obs))` on the transitions `(policy, transition, row of out)`.
fn bootstrap(
    policies: &[Policy],
    transitions: &mut [Transitions],
    items: &[(usize, usize, usize)],
    out: &StepOutput,
    device: Device,
) -> Result<(), TrainError> {
    for (k, p) in policies.iter().enumerate() {
        let mine: Vec<&(usize, usize, usize)> = items.iter().filter(|x| x.0 == k).collect();
        if mine.is_empty() {
            continue;
        }
        let rows: Vec<usize> = mine.iter().map(|x| x.2).collect();
        let v = values(&p.net, &p.norm, out, &rows, device)?;
        for (j, &&(_, idx, _)) in mine.iter().enumerate() {
            transitions[k].next[idx] = Next::Bootstrap(v[j]);
        }
    }
    Ok(())
}
