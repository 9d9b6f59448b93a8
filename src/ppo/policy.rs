//! One policy of a run: its network, optimiser, observation normaliser, hyper-parameters and return
//! statistics, and how it acts on the rows of an environment output.

use std::collections::VecDeque;

use tch::{Device, Tensor};

use super::adam::Adam;
use super::checkpoint::PolicyState;
use super::error::TrainError;
use super::net::ActorCritic;
use super::normalizer::RunningNorm;
use super::sampling;
use crate::env::StepOutput;
use crate::run::training::PpoConfig;

/// How many agent returns and environment-episode means the statistics keep.
const LAST_RETURNS: usize = 100;
const LAST_EPISODE_MEANS: usize = 10;

/// A policy's return statistics (what the progress bar, `summary.json` and the checkpoint show).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReturnTracker {
    /// The last 100 agents' lifetime returns.
    pub returns: VecDeque<f32>,
    /// Agents finished.
    pub episodes: u64,
    /// The last 10 per-environment-episode mean returns.
    pub episode_means: VecDeque<f64>,
    /// Environment episodes finished with agents of this policy.
    pub env_episodes: u64,
}

impl ReturnTracker {
    /// Adds a finished agent's return.
    pub fn push_return(&mut self, r: f32) {
        if self.returns.len() == LAST_RETURNS {
            self.returns.pop_front();
        }
        self.returns.push_back(r);
        self.episodes += 1;
    }

    /// Adds a finished environment episode's mean return.
    pub fn push_episode_mean(&mut self, m: f64) {
        if self.episode_means.len() == LAST_EPISODE_MEANS {
            self.episode_means.pop_front();
        }
        self.episode_means.push_back(m);
        self.env_episodes += 1;
    }
}

/// One policy being trained (or played frozen).
pub struct Policy {
    /// Personality name.
    pub name: String,
    /// A frozen policy plays from its checkpoint and is never updated.
    pub frozen: bool,
    /// Network.
    pub net: ActorCritic,
    /// Optimiser.
    pub adam: Adam,
    /// Hyper-parameters.
    pub cfg: PpoConfig,
    /// Observation normaliser.
    pub norm: RunningNorm,
    /// Return statistics.
    pub stats: ReturnTracker,
}

impl Policy {
    /// A policy with network `net` and normaliser `norm`.
    pub fn new(
        name: &str,
        net: ActorCritic,
        norm: RunningNorm,
        cfg: PpoConfig,
        frozen: bool,
    ) -> Self {
        Policy {
            name: name.to_string(),
            frozen,
            adam: Adam::new(net.params(), cfg.learning_rate),
            net,
            cfg,
            norm,
            stats: ReturnTracker::default(),
        }
    }

    /// The learning rate at `fraction` of the schedule (the base rate without annealing).
    pub fn lr(&self, fraction: f64) -> f64 {
        if self.cfg.anneal_lr {
            fraction * self.cfg.learning_rate
        } else {
            self.cfg.learning_rate
        }
    }

    /// What a checkpoint keeps of this policy besides the network and optimiser moments.
    pub fn state(&self) -> PolicyState {
        PolicyState {
            name: self.name.clone(),
            normalizer: self.norm.clone(),
            returns: self.stats.returns.iter().copied().collect(),
            episodes: self.stats.episodes,
            episode_means: self.stats.episode_means.iter().copied().collect(),
            env_episodes: self.stats.env_episodes,
            adam_steps: (!self.frozen).then_some(self.adam.steps),
        }
    }

    /// Restores the normaliser and statistics of `s`.
    pub fn restore(&mut self, s: &PolicyState) {
        self.norm = s.normalizer.clone();
        self.stats = ReturnTracker {
            returns: s.returns.iter().copied().collect(),
            episodes: s.episodes,
            episode_means: s.episode_means.iter().copied().collect(),
            env_episodes: s.env_episodes,
        };
    }
}

/// What a policy did for its rows of one output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Acted {
    /// Rows of the output it acted for.
    pub rows: Vec<usize>,
    /// Their normalised observations, row-major.
    pub obs: Vec<f32>,
    /// The chosen bins, `heads` per row.
    pub actions: Vec<u32>,
    /// Log-probabilities of the chosen actions.
    pub logp: Vec<f32>,
    /// Values of the observations (empty when not asked for).
    pub values: Vec<f32>,
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>, TrainError> {
    Ok(Vec::<f32>::try_from(
        t.to_device(Device::Cpu).reshape([-1]),
    )?)
}

/// The live rows of `out` that policy `k` serves.
pub fn rows_of(out: &StepOutput, k: usize) -> Vec<usize> {
    (0..out.rows.len())
        .filter(|&i| out.rows[i].live() && out.rows[i].policy as usize == k)
        .collect()
}

/// How a network computes the logits and values of normalised observations: on the CPU path
/// ([`super::cpu`], plain numbers) or with libtorch on a device.
enum Forward<'a> {
    /// The CPU path over a flat parameter vector.
    Cpu {
        params: &'a [f32],
        layout: std::borrow::Cow<'a, super::cpu::Layout>,
    },
    /// libtorch.
    Torch {
        net: &'a ActorCritic,
        device: Device,
    },
}

impl<'a> Forward<'a> {
    /// The CPU path when `net` is on it, else libtorch on `device`.
    fn of(net: &'a ActorCritic, device: Device) -> Self {
        match (net.cpu_layout(), net.cpu_params()) {
            (Some(layout), Some(params)) => Forward::Cpu {
                params,
                layout: std::borrow::Cow::Owned(layout),
            },
            _ => Forward::Torch { net, device },
        }
    }

    /// Logits and values, row-major, of `n` normalised observations `obs` (row-major).
    fn run(&self, obs: &[f32], n: usize) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
        match self {
            Forward::Cpu { params, layout } => {
                let mut act = super::cpu::Activations::default();
                super::cpu::forward(params, layout, obs, n, &mut act);
                Ok((act.logits, act.values))
            }
            Forward::Torch { net, device } => {
                let t = Tensor::from_slice(obs)
                    .reshape([n as i64, (obs.len() / n.max(1)) as i64])
                    .to_device(*device);
                let (logits, values) = tch::no_grad(|| net.forward(&t));
                Ok((to_vec(&logits)?, to_vec(&values)?))
            }
        }
    }
}

/// The one way a policy acts: the observations of `rows` of `out` → normalised with `norm` (updated
/// first if `update_norm`) → one forward for logits and values → one masked sample per row with `rng`.
#[allow(clippy::too_many_arguments)]
fn act_rows(
    forward: &Forward,
    nvec: &[usize],
    norm: &mut RunningNorm,
    update_norm: bool,
    out: &StepOutput,
    rows: Vec<usize>,
    rng: &mut rand_pcg::Pcg32,
    with_values: bool,
) -> Result<Acted, TrainError> {
    if rows.is_empty() {
        return Ok(Acted::default());
    }
    let obs = normalised(out, &rows, norm, update_norm);
    let (logits, mut values) = forward.run(&obs, rows.len())?;
    if !with_values {
        values.clear();
    }
    let (actions, logp) = sample_rows(&logits, out, &rows, nvec, rng);
    Ok(Acted {
        rows,
        obs,
        actions,
        logp,
        values,
    })
}

/// Samples actions for `rows` of `out` with `net` (one forward for logits and values), normalising
/// the observations with `norm` (updated first if `update_norm`).
#[allow(clippy::too_many_arguments)]
pub fn act(
    net: &ActorCritic,
    norm: &mut RunningNorm,
    update_norm: bool,
    out: &StepOutput,
    rows: Vec<usize>,
    rng: &mut rand_pcg::Pcg32,
    device: Device,
    with_values: bool,
) -> Result<Acted, TrainError> {
    act_rows(
        &Forward::of(net, device),
        &net.nvec,
        norm,
        update_norm,
        out,
        rows,
        rng,
        with_values,
    )
}

impl Acted {
    /// Writes the chosen bins into `actions` (`heads` values per row of the whole output) at the rows
    /// acted for, and returns how many rows that was.
    pub fn scatter(&self, heads: usize, actions: &mut [u32]) -> usize {
        for (j, &i) in self.rows.iter().enumerate() {
            actions[i * heads..(i + 1) * heads]
                .copy_from_slice(&self.actions[j * heads..(j + 1) * heads]);
        }
        self.rows.len()
    }
}

/// One masked sample per row from row-major `logits` (one row per entry of `rows`): the bins, `heads`
/// per row, and their log-probabilities.
fn sample_rows(
    logits: &[f32],
    out: &StepOutput,
    rows: &[usize],
    nvec: &[usize],
    rng: &mut rand_pcg::Pcg32,
) -> (Vec<u32>, Vec<f32>) {
    let m: usize = nvec.iter().sum();
    let mut actions = Vec::with_capacity(rows.len() * nvec.len());
    let mut logp = Vec::with_capacity(rows.len());
    let mut chosen = Vec::with_capacity(nvec.len());
    for (j, &i) in rows.iter().enumerate() {
        chosen.clear();
        logp.push(sampling::sample(
            &logits[j * m..(j + 1) * m],
            out.mask_row(i),
            nvec,
            rng,
            &mut chosen,
        ));
        actions.extend_from_slice(&chosen);
    }
    (actions, logp)
}

/// A policy's parameters and normaliser as plain numbers: what [`act`] computes on the CPU path, without
/// libtorch, so that it can be shared by threads (evaluation episodes in parallel). It acts through the
/// same [`act_rows`] as [`act`] (the same normalisation, forward and sampling).
#[derive(Clone, Debug, PartialEq)]
pub struct CpuActor {
    layout: super::cpu::Layout,
    params: Vec<f32>,
    nvec: Vec<usize>,
    norm: RunningNorm,
}

impl CpuActor {
    /// The actor of `net` with `norm`, or None when `net` is not on the CPU path (e.g. on CUDA).
    pub fn of(net: &ActorCritic, norm: &RunningNorm) -> Option<Self> {
        let layout = net.cpu_layout()?;
        let params = net.cpu_params()?.to_vec();
        Some(CpuActor {
            layout,
            params,
            nvec: net.nvec.clone(),
            norm: norm.clone(),
        })
    }

    /// Samples actions for every live row of `out` served by policy `k` into `actions` (`heads` values
    /// per row) and returns how many rows it acted for.
    pub fn act(
        &self,
        k: usize,
        out: &StepOutput,
        rng: &mut rand_pcg::Pcg32,
        actions: &mut [u32],
    ) -> Result<usize, TrainError> {
        let forward = Forward::Cpu {
            params: &self.params,
            layout: std::borrow::Cow::Borrowed(&self.layout),
        };
        let mut norm = self.norm.clone();
        let acted = act_rows(
            &forward,
            &self.nvec,
            &mut norm,
            false,
            out,
            rows_of(out, k),
            rng,
            false,
        )?;
        Ok(acted.scatter(self.nvec.len(), actions))
    }
}

/// The values `V(obs)` of `rows` of `out` under `net` (normalised with a copy of `norm`).
pub fn values(
    net: &ActorCritic,
    norm: &RunningNorm,
    out: &StepOutput,
    rows: &[usize],
    device: Device,
) -> Result<Vec<f32>, TrainError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut norm = norm.clone();
    let obs = normalised(out, rows, &mut norm, false);
    Ok(Forward::of(net, device).run(&obs, rows.len())?.1)
}

/// The observations of `rows` of `out`, folded into `norm` first if `update`, then normalised.
fn normalised(out: &StepOutput, rows: &[usize], norm: &mut RunningNorm, update: bool) -> Vec<f32> {
    let l = out.obs_len;
    let mut raw = Vec::with_capacity(rows.len() * l);
    for &i in rows {
        raw.extend_from_slice(out.obs_row(i));
    }
    if update {
        norm.update(&raw);
    }
    for row in raw.chunks_mut(l) {
        norm.apply(row);
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{CommonsEnv, MultiAgentEnv};
    use rand::SeedableRng;

    /// The three ways a policy acts (training's `act`, evaluation's `CpuActor`, and libtorch's forward)
    /// are one path: the same actions from the same stream, and the same logits on both backends.
    #[test]
    fn every_actor_acts_through_one_path() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/commons.toml");
        let mut env = CommonsEnv::new(crate::scenario::load_env(path.as_ref()).unwrap());
        let out = env.reset(3).unwrap().clone();
        let (len, nvec) = (env.observation_spec(0).len, env.action_spec(0).nvec);
        let heads = nvec.len();
        tch::manual_seed(7);
        let net = ActorCritic::new(Device::Cpu, len, &nvec, 16);
        let mut norm = RunningNorm::new(len, true);
        norm.update(&out.obs);
        let cpu = CpuActor::of(&net, &norm).unwrap();
        let mut acted_rows = 0;
        for k in 0..env.policies().len() {
            let (mut a, mut b) = (
                vec![0; out.rows.len() * heads],
                vec![0; out.rows.len() * heads],
            );
            let mut r1 = rand_pcg::Pcg32::seed_from_u64(5);
            let mut r2 = rand_pcg::Pcg32::seed_from_u64(5);
            let n = cpu.act(k, &out, &mut r1, &mut a).unwrap();
            let acted = act(
                &net,
                &mut norm.clone(),
                false,
                &out,
                rows_of(&out, k),
                &mut r2,
                Device::Cpu,
                false,
            )
            .unwrap();
            assert_eq!(acted.scatter(heads, &mut b), n);
            assert_eq!(a, b, "policy {k}");
            acted_rows += n;
            // libtorch's forward agrees with the CPU path's on the same normalised rows.
            let rows = rows_of(&out, k);
            let obs = normalised(&out, &rows, &mut norm.clone(), false);
            if rows.is_empty() {
                continue;
            }
            let (l1, v1) = Forward::of(&net, Device::Cpu)
                .run(&obs, rows.len())
                .unwrap();
            let torch = Forward::Torch {
                net: &net,
                device: Device::Cpu,
            };
            let (l2, v2) = torch.run(&obs, rows.len()).unwrap();
            for (x, y) in l1.iter().chain(&v1).zip(l2.iter().chain(&v2)) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
        assert!(acted_rows > 0, "some rows were acted for");
    }
}
