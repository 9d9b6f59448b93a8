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
            adam: Adam::new(&net.params, cfg.learning_rate),
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

/// The normalised observations of `rows` of `out` (folded into `norm` first if `update`), row-major,
/// and as a `[rows, obs_len]` tensor on `device`.
pub fn observation_batch(
    out: &StepOutput,
    rows: &[usize],
    norm: &mut RunningNorm,
    update: bool,
    device: Device,
) -> (Vec<f32>, Tensor) {
    let l = out.obs_len;
    let raw = normalised(out, rows, norm, update);
    let t = Tensor::from_slice(&raw)
        .reshape([rows.len() as i64, l as i64])
        .to_device(device);
    (raw, t)
}

/// The live rows of `out` that policy `k` serves.
pub fn rows_of(out: &StepOutput, k: usize) -> Vec<usize> {
    (0..out.rows.len())
        .filter(|&i| out.rows[i].live() && out.rows[i].policy as usize == k)
        .collect()
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
    if rows.is_empty() {
        return Ok(Acted::default());
    }
    let (obs, logits, mut values) = forward_rows(net, norm, update_norm, out, &rows, device)?;
    if !with_values {
        values.clear();
    }
    let (actions, logp) = sample_rows(&logits, out, &rows, &net.nvec, rng);
    Ok(Acted {
        rows,
        obs,
        actions,
        logp,
        values,
    })
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
/// libtorch, so that it can be shared by threads (evaluation episodes in parallel). It acts exactly like
/// [`act`] does on the CPU (the same forward, normalisation and sampling).
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
        let params = super::cpu::slice(&net.params)?.to_vec();
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
    ) -> usize {
        let rows = rows_of(out, k);
        if rows.is_empty() {
            return 0;
        }
        let mut norm = self.norm.clone();
        let obs = normalised(out, &rows, &mut norm, false);
        let mut act = super::cpu::Activations::default();
        super::cpu::forward(&self.params, &self.layout, &obs, rows.len(), &mut act);
        let (chosen, _) = sample_rows(&act.logits, out, &rows, &self.nvec, rng);
        let heads = self.nvec.len();
        for (j, &i) in rows.iter().enumerate() {
            actions[i * heads..(i + 1) * heads]
                .copy_from_slice(&chosen[j * heads..(j + 1) * heads]);
        }
        rows.len()
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
    Ok(forward_rows(net, &mut norm, false, out, rows, device)?.2)
}

/// Normalised observations, logits and values of some rows, row-major.
type Forwarded = (Vec<f32>, Vec<f32>, Vec<f32>);

/// The normalised observations of `rows` of `out`, their logits and values: on the CPU path
/// ([`super::cpu`]) in Rust, else with libtorch.
fn forward_rows(
    net: &ActorCritic,
    norm: &mut RunningNorm,
    update_norm: bool,
    out: &StepOutput,
    rows: &[usize],
    device: Device,
) -> Result<Forwarded, TrainError> {
    if let (Some(lay), Some(params)) = (net.cpu_layout(), super::cpu::slice(&net.params)) {
        let obs = normalised(out, rows, norm, update_norm);
        let mut act = super::cpu::Activations::default();
        super::cpu::forward(params, &lay, &obs, rows.len(), &mut act);
        return Ok((obs, act.logits, act.values));
    }
    let (obs, t) = observation_batch(out, rows, norm, update_norm, device);
    let (logits, values) = tch::no_grad(|| net.forward(&t));
    Ok((obs, to_vec(&logits)?, to_vec(&values)?))
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
