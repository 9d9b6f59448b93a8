//! The PPO training loop (CleanRL's `ppo.py` structure): rollout → GAE → update → log, for every policy
//! of a multi-agent environment, with agents that arrive and leave.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

use super::config::{PpoConfig, TrainingFile};
use super::gae::{gae, Next};
use super::net::ActorCritic;
use super::normalizer::RunningNorm;
use super::sampling;
use crate::env::vec_env::{episode_seed, VecEnv};
use crate::env::MultiAgentEnv;

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The environment refused something.
    #[error("environment: {0}")]
    Env(crate::env::EnvError),
    /// libtorch failed.
    #[error("libtorch: {0}")]
    Torch(tch::TchError),
    /// A run folder's configuration could not be read.
    #[error(transparent)]
    RunConfig(#[from] super::run_config::RunConfigError),
    /// An evaluation series that should exist does not (a bug).
    #[error("internal: evaluation series `{0}` is missing")]
    MissingSeries(String),
    /// `train` was given no environment to step.
    #[error("no environments to train on (train.num_envs must be at least 1)")]
    NoEnvironments,
    /// A file could not be written or read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

// Without `source`, so that `{:#}` at the CLI prints the inner message once.
impl From<crate::env::EnvError> for TrainError {
    fn from(e: crate::env::EnvError) -> Self {
        TrainError::Env(e)
    }
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(e)
    }
}

fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Settings of one run.
pub struct TrainSettings {
    /// Run folder (created if needed).
    pub run_dir: PathBuf,
    /// Where tensors live.
    pub device: Device,
    /// Run settings and hyper-parameters.
    pub file: TrainingFile,
    /// Worker threads for the environments (0 = all cores).
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Set to stop after the current step (Ctrl-C): a checkpoint is saved.
    pub stop: Arc<AtomicBool>,
    /// Continue from the run folder's latest checkpoint.
    pub resume: bool,
    /// Policies played from another run's checkpoint and never updated: (personality, run folder or
    /// checkpoint folder).
    pub frozen: Vec<(String, PathBuf)>,
}

/// Episodic-return statistics of one policy in `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReturnStats {
    /// Mean of the last 100 episodic returns.
    pub last_100_mean: f64,
    /// Standard deviation of the last 100.
    pub last_100_std: f64,
    /// Episodes finished.
    pub episodes: u64,
}

/// Per-environment-episode mean returns of one policy in `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpisodeMeanStats {
    /// Mean over the last 10 finished environment episodes of the policy's mean agent return.
    pub last_10_mean: f64,
    /// Standard deviation of those 10.
    pub last_10_std: f64,
    /// Environment episodes finished with agents of this policy.
    pub episodes: u64,
}

/// `summary.json` of a training run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainSummary {
    /// Environment steps taken.
    pub global_step: u64,
    /// Wall-clock seconds of this invocation.
    pub wall_seconds: f64,
    /// Environment steps per second.
    pub sps: f64,
    /// Per policy.
    pub episodic_return: std::collections::BTreeMap<String, ReturnStats>,
    /// Per policy: the mean return of its agents per finished environment episode (what `commons eval`
    /// compares; in the Commons far steadier than `episodic_return`).
    pub episode_mean_return: std::collections::BTreeMap<String, EpisodeMeanStats>,
    /// Agent steps taken.
    pub agent_steps: u64,
    /// Whether the run stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// What a checkpoint restores besides the networks.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrainerState {
    global_step: u64,
    agent_steps: u64,
    update: usize,
    normalizers: Vec<RunningNorm>,
    returns: Vec<Vec<f32>>,
    episodes: Vec<u64>,
    policies: Vec<String>,
    /// Per policy: the last per-environment-episode mean returns (absent in older checkpoints).
    #[serde(default)]
    episode_means: Vec<Vec<f64>>,
    /// Per policy: environment episodes finished (absent in older checkpoints).
    #[serde(default)]
    env_episodes: Vec<u64>,
    /// The learning-rate schedule (absent in older checkpoints: from the start to the run's total).
    #[serde(default)]
    lr_schedule: Option<LrSchedule>,
    /// The schedule's fraction used by the last update before the checkpoint.
    #[serde(default)]
    last_lr_fraction: Option<f64>,
}

/// The learning-rate annealing, in environment steps: the fraction of the base rate falls linearly from
/// `from_fraction` at `from_step` to 0 at `to_step`. A new run goes from (0, 1) to its total steps. A
/// run resumed with another `--total-steps` continues from where it was to the new total: an
/// interrupted run from the rate its next update would have had, a finished run (whose rate reached 0)
/// from the rate of its last update. The rate never jumps back up.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct LrSchedule {
    from_step: u64,
    from_fraction: f64,
    to_step: u64,
}

impl LrSchedule {
    /// From the start of a run to `to_step`.
    fn new(to_step: u64) -> Self {
        LrSchedule {
            from_step: 0,
            from_fraction: 1.0,
            to_step,
        }
    }

    /// The fraction of the base rate at `step`: `1 − step/to` for a new run, else
    /// `from_fraction · (1 − (step − from)/(to − from))`; 0 from `to_step` on.
    fn fraction(&self, step: u64) -> f64 {
        if step >= self.to_step {
            return 0.0;
        }
        if self.from_step == 0 && self.from_fraction == 1.0 {
            return 1.0 - step as f64 / self.to_step as f64;
        }
        let done = step.saturating_sub(self.from_step) as f64;
        self.from_fraction * (1.0 - done / (self.to_step - self.from_step) as f64)
    }

    /// The schedule for a run that continues at `step` towards `to_step`, whose last update used
    /// `last`: unchanged if the target is the same, else re-anchored at the current rate (see the type).
    fn continued(self, step: u64, to_step: u64, last: Option<f64>) -> Self {
        if to_step == self.to_step {
            return self;
        }
        let from_fraction = if step < self.to_step {
            self.fraction(step)
        } else {
            last.unwrap_or(0.0)
        };
        LrSchedule {
            from_step: step,
            from_fraction,
            to_step,
        }
    }
}

struct Policy {
    name: String,
    /// A frozen policy plays from its checkpoint and is never updated.
    frozen: bool,
    net: ActorCritic,
    opt: nn::Optimizer,
    cfg: PpoConfig,
    norm: RunningNorm,
    returns: VecDeque<f32>,
    episodes: u64,
    /// The last 10 per-environment-episode mean returns.
    episode_means: VecDeque<f64>,
    /// Environment episodes finished with agents of this policy.
    env_episodes: u64,
}

/// One policy's rollout storage.
#[derive(Default)]
struct Rollout {
    obs: Vec<f32>,
    masks: Vec<bool>,
    actions: Vec<i64>,
    logp: Vec<f32>,
    values: Vec<f32>,
    rewards: Vec<f32>,
    next: Vec<Next>,
}

impl Rollout {
    fn len(&self) -> usize {
        self.logp.len()
    }
}

type Key = (usize, u64, u64);

/// Losses and diagnostics of one update.
#[derive(Default, Clone, Copy)]
struct UpdateStats {
    policy_loss: f64,
    value_loss: f64,
    entropy: f64,
    approx_kl: f64,
    clipfrac: f64,
    explained_variance: f64,
}

fn to_tensor(v: &[f32], shape: [i64; 2], device: Device) -> Tensor {
    Tensor::from_slice(v).reshape(shape).to_device(device)
}

/// A tensor's values, flattened, on the CPU.
fn to_vec(t: Tensor) -> Result<Vec<f32>, TrainError> {
    Ok(Vec::<f32>::try_from(
        t.to_device(Device::Cpu).reshape([-1]),
    )?)
}

/// The observations of `rows` of `out`, stacked (`raw`, optionally folded into the normaliser first),
/// normalised, and as a `[rows, obs_len]` tensor.
fn observation_batch(
    out: &crate::env::StepOutput,
    rows: &[usize],
    norm: &mut RunningNorm,
    update_norm: bool,
    device: Device,
) -> (Vec<f32>, Tensor) {
    let l = out.obs_len;
    let mut raw = Vec::with_capacity(rows.len() * l);
    for &i in rows {
        raw.extend_from_slice(out.obs_row(i));
    }
    if update_norm {
        norm.update(&raw);
    }
    for row in raw.chunks_mut(l) {
        norm.apply(row);
    }
    let t = to_tensor(&raw, [rows.len() as i64, l as i64], device);
    (raw, t)
}

fn ppo_update(
    p: &mut Policy,
    r: &Rollout,
    adv: &[f32],
    ret: &[f32],
    rng: &mut rand_pcg::Pcg32,
    device: Device,
) -> UpdateStats {
    let n = r.len();
    let (l, m, h) = (
        p.net.obs_len as i64,
        p.net.nvec.iter().sum::<usize>() as i64,
        p.net.nvec.len() as i64,
    );
    let obs = to_tensor(&r.obs, [n as i64, l], device);
    let masks = Tensor::from_slice(&r.masks)
        .reshape([n as i64, m])
        .to_device(device);
    let actions = Tensor::from_slice(&r.actions)
        .reshape([n as i64, h])
        .to_device(device);
    let old_logp = Tensor::from_slice(&r.logp).to_device(device);
    let old_values = Tensor::from_slice(&r.values).to_device(device);
    let advantages = Tensor::from_slice(adv).to_device(device);
    let returns = Tensor::from_slice(ret).to_device(device);
    let cfg = p.cfg.clone();
    let mb = (n / cfg.num_minibatches).max(1);
    let mut idx: Vec<i64> = (0..n as i64).collect();
    let mut stats = UpdateStats::default();
    let mut clipfracs = Vec::new();
    'epochs: for _ in 0..cfg.update_epochs {
        idx.shuffle(rng);
        for chunk in idx.chunks(mb) {
            let i = Tensor::from_slice(chunk).to_device(device);
            let (new_logp, entropy) = p.net.evaluate(
                &obs.index_select(0, &i),
                &masks.index_select(0, &i),
                &actions.index_select(0, &i),
            );
            let new_value = p.net.value(&obs.index_select(0, &i));
            let logratio = &new_logp - old_logp.index_select(0, &i);
            let ratio = logratio.exp();
            let (approx_kl, clipfrac) = tch::no_grad(|| {
                let kl = ((&ratio - 1.0) - &logratio)
                    .mean(Kind::Float)
                    .double_value(&[]);
                let cf = (&ratio - 1.0)
                    .abs()
                    .gt(cfg.clip_coef)
                    .to_kind(Kind::Float)
                    .mean(Kind::Float)
                    .double_value(&[]);
                (kl, cf)
            });
            clipfracs.push(clipfrac);
            let mut a = advantages.index_select(0, &i);
            if cfg.norm_adv && chunk.len() > 1 {
                a = (&a - a.mean(Kind::Float)) / (a.std(true) + 1e-8);
            }
            let pg1 = -&a * &ratio;
            let pg2 = -&a * ratio.clamp(1.0 - cfg.clip_coef, 1.0 + cfg.clip_coef);
            let pg_loss = pg1.maximum(&pg2).mean(Kind::Float);
            let ret_mb = returns.index_select(0, &i);
            let v_loss: Tensor = if cfg.clip_vloss {
                let old_v = old_values.index_select(0, &i);
                let unclipped = (&new_value - &ret_mb).square();
                let clipped = &old_v + (&new_value - &old_v).clamp(-cfg.clip_coef, cfg.clip_coef);
                unclipped
                    .maximum(&(clipped - &ret_mb).square())
                    .mean(Kind::Float)
                    * 0.5
            } else {
                (&new_value - &ret_mb).square().mean(Kind::Float) * 0.5
            };
            let ent = entropy.mean(Kind::Float);
            let loss: Tensor = &pg_loss - &ent * cfg.ent_coef + &v_loss * cfg.vf_coef;
            p.opt.zero_grad();
            loss.backward();
            p.opt.clip_grad_norm(cfg.max_grad_norm);
            p.opt.step();
            stats.policy_loss = pg_loss.double_value(&[]);
            stats.value_loss = v_loss.double_value(&[]);
            stats.entropy = ent.double_value(&[]);
            stats.approx_kl = approx_kl;
            if cfg.target_kl > 0.0 && approx_kl > cfg.target_kl {
                break 'epochs;
            }
        }
    }
    stats.clipfrac = clipfracs.iter().sum::<f64>() / clipfracs.len().max(1) as f64;
    let var_y = variance(ret);
    let resid: Vec<f32> = ret.iter().zip(&r.values).map(|(y, v)| y - v).collect();
    stats.explained_variance = if var_y == 0.0 {
        f64::NAN
    } else {
        1.0 - variance(&resid) / var_y
    };
    stats
}

fn variance(x: &[f32]) -> f64 {
    let n = x.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n
}

fn mean_std(x: &VecDeque<f32>) -> (f64, f64) {
    let n = x.len() as f64;
    if n == 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    (
        m,
        (x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    crate::simulate::write_atomic(path, bytes).map_err(file_err(path))
}

fn save_checkpoint(
    dir: &Path,
    policies: &[Policy],
    state: &TrainerState,
) -> Result<PathBuf, TrainError> {
    let root = dir.join("checkpoints");
    std::fs::create_dir_all(&root).map_err(file_err(&root))?;
    let final_dir = root.join(state.global_step.to_string());
    let tmp = root.join(format!(".tmp-{}", state.global_step));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(file_err(&tmp))?;
    for p in policies {
        let path = tmp.join(format!("{}.ot", p.name));
        p.net.vs.save(&path).map_err(|e| TrainError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
    }
    let state_path = tmp.join("state.json");
    let json = serde_json::to_string_pretty(state).map_err(|e| TrainError::File {
        path: state_path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&state_path, json).map_err(file_err(&state_path))?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(file_err(&final_dir))?;
    write_atomic(
        &root.join("latest"),
        state.global_step.to_string().as_bytes(),
    )?;
    Ok(final_dir)
}

/// The latest checkpoint folder of a run, checked to be complete.
pub fn latest_checkpoint(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let pointer = run_dir.join("checkpoints").join("latest");
    let text = std::fs::read_to_string(&pointer).map_err(|e| TrainError::File {
        path: pointer.clone(),
        message: format!("no checkpoint to resume from ({e})"),
    })?;
    let step: u64 = text.trim().parse().map_err(|_| TrainError::File {
        path: pointer.clone(),
        message: format!(
            "corrupt checkpoint pointer `{}` (expected a step number)",
            text.trim()
        ),
    })?;
    Ok(run_dir.join("checkpoints").join(step.to_string()))
}

impl TrainerState {
    /// Checks the lengths and ranges of everything a checkpoint restores against the policies that will
    /// use it (`(name, observation length)` in policy order; `None`: check only the lists' lengths).
    /// A bad field is an error naming the file and the field, never an index panic later.
    fn validate(&self, path: &Path, policies: Option<&[(&str, usize)]>) -> Result<(), TrainError> {
        let bad = |message: String| TrainError::File {
            path: path.to_path_buf(),
            message,
        };
        if let Some(expected) = policies {
            let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
            if self.policies != names {
                return Err(bad(format!(
                    "this checkpoint is for policies [{}], this run has [{}]",
                    self.policies.join(", "),
                    names.join(", ")
                )));
            }
        }
        let n = self.policies.len();
        for (field, len, optional) in [
            ("normalizers", self.normalizers.len(), false),
            ("returns", self.returns.len(), false),
            ("episodes", self.episodes.len(), false),
            ("episode_means", self.episode_means.len(), true),
            ("env_episodes", self.env_episodes.len(), true),
        ] {
            if len != n && !(optional && len == 0) {
                return Err(bad(format!(
                    "field `{field}` has {len} entries for {n} policies (corrupt checkpoint state)"
                )));
            }
        }
        if let Some(lr) = &self.lr_schedule {
            if lr.from_step >= lr.to_step || !(0.0..=1.0).contains(&lr.from_fraction) {
                return Err(bad(format!(
                    "field `lr_schedule` = {{from_step {}, from_fraction {}, to_step {}}} is out of range (allowed: from_step < to_step, from_fraction 0 to 1)",
                    lr.from_step, lr.from_fraction, lr.to_step
                )));
            }
        }
        if let Some(f) = self.last_lr_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(bad(format!(
                    "field `last_lr_fraction` = {f} is out of range (allowed: 0 to 1)"
                )));
            }
        }
        if self.update as u64 > self.global_step || self.agent_steps > u64::MAX / 2 {
            return Err(bad(format!(
                "fields `update` = {} / `agent_steps` = {} are out of range (allowed: update <= global_step = {})",
                self.update, self.agent_steps, self.global_step
            )));
        }
        for (k, norm) in self.normalizers.iter().enumerate() {
            let want = policies.map(|p| p[k].1).unwrap_or(norm.mean.len());
            for (what, v) in [("mean", &norm.mean), ("var", &norm.var)] {
                if v.len() != want {
                    return Err(bad(format!(
                        "field `normalizers[{k}].{what}` has {} entries, the observation has {want} (corrupt checkpoint state, or another scenario)",
                        v.len()
                    )));
                }
                if let Some(j) = v
                    .iter()
                    .position(|x| !x.is_finite() || (what == "var" && *x < 0.0))
                {
                    return Err(bad(format!(
                        "field `normalizers[{k}].{what}[{j}]` = {} is out of range (allowed: finite{})",
                        v[j],
                        if what == "var" { ", >= 0" } else { "" }
                    )));
                }
            }
            if !(norm.count.is_finite() && norm.count > 0.0) {
                return Err(bad(format!(
                    "field `normalizers[{k}].count` = {} is out of range (allowed: > 0)",
                    norm.count
                )));
            }
        }
        Ok(())
    }
}

/// Reads a checkpoint's `state.json`.
fn read_state(path: &Path) -> Result<TrainerState, TrainError> {
    let text = std::fs::read_to_string(path).map_err(file_err(path))?;
    serde_json::from_str(&text).map_err(|e| TrainError::File {
        path: path.to_path_buf(),
        message: format!("corrupt checkpoint state: {e}"),
    })
}

fn load_checkpoint(dir: &Path, policies: &mut [Policy]) -> Result<TrainerState, TrainError> {
    let state_path = dir.join("state.json");
    let state = read_state(&state_path)?;
    let expected: Vec<(&str, usize)> = policies
        .iter()
        .map(|p| (p.name.as_str(), p.net.obs_len))
        .collect();
    state.validate(&state_path, Some(&expected))?;
    for (k, p) in policies.iter_mut().enumerate() {
        let path = dir.join(format!("{}.ot", p.name));
        p.net.vs.load(&path).map_err(|e| TrainError::File {
            path: path.clone(),
            message: format!(
                "cannot load the network (corrupt or missing, or saved with another `hidden` width than the run's config.toml gives): {}",
                e.to_string().lines().next().unwrap_or("unreadable")
            ),
        })?;
        p.norm = state.normalizers[k].clone();
        p.returns = state.returns[k].iter().copied().collect();
        p.episodes = state.episodes[k];
        if let Some(m) = state.episode_means.get(k) {
            p.episode_means = m.iter().copied().collect();
        }
        p.env_episodes = state.env_episodes.get(k).copied().unwrap_or(0);
    }
    Ok(state)
}

/// A trained policy loaded for playing: network and observation normaliser.
pub struct LoadedPolicy {
    /// Personality name.
    pub name: String,
    /// Network.
    pub net: ActorCritic,
    /// Observation normaliser as at the checkpoint.
    pub norm: RunningNorm,
}

impl LoadedPolicy {
    /// Samples actions for every live row of `out` served by policy `k` (writing them into `actions`,
    /// `heads` values per row) and returns how many rows it acted for.
    pub fn act(
        &self,
        k: usize,
        out: &crate::env::StepOutput,
        rng: &mut rand_pcg::Pcg32,
        device: Device,
        actions: &mut [u32],
    ) -> Result<usize, TrainError> {
        let rows: Vec<usize> = (0..out.rows.len())
            .filter(|&i| out.rows[i].live() && out.rows[i].policy as usize == k)
            .collect();
        if rows.is_empty() {
            return Ok(0);
        }
        let heads = self.net.nvec.len();
        let m: usize = self.net.nvec.iter().sum();
        let mut norm = self.norm.clone();
        let (_, obs) = observation_batch(out, &rows, &mut norm, false, device);
        let logits = to_vec(tch::no_grad(|| self.net.logits(&obs)))?;
        let mut chosen = Vec::with_capacity(heads);
        for (j, &i) in rows.iter().enumerate() {
            chosen.clear();
            sampling::sample(
                &logits[j * m..(j + 1) * m],
                out.mask_row(i),
                &self.net.nvec,
                rng,
                &mut chosen,
            );
            actions[i * heads..(i + 1) * heads].copy_from_slice(&chosen);
        }
        Ok(rows.len())
    }
}

/// Loads one personality's network and normaliser from a run folder (its latest checkpoint) or from a
/// checkpoint folder, for a frozen controller. The hidden width comes from that run's `config.toml`.
pub fn load_frozen(
    path: &Path,
    name: &str,
    obs_len: usize,
    nvec: &[usize],
    device: Device,
) -> Result<(ActorCritic, RunningNorm), TrainError> {
    let (run_dir, dir) = if path.join("checkpoints").join("latest").exists() {
        (path.to_path_buf(), latest_checkpoint(path)?)
    } else {
        let run = path
            .parent()
            .and_then(Path::parent)
            .unwrap_or(path)
            .to_path_buf();
        (run, path.to_path_buf())
    };
    let state_path = dir.join("state.json");
    let state = read_state(&state_path)?;
    state.validate(&state_path, None)?;
    // The network's width is the one that run trained with.
    let hidden = super::run_config::RunConfig::load(&run_dir)?
        .training
        .ppo_for(name)
        .hidden;
    let k = state
        .policies
        .iter()
        .position(|p| p == name)
        .ok_or_else(|| TrainError::File {
            path: state_path.clone(),
            message: format!(
                "no policy `{name}` in this checkpoint (it has {:?})",
                state.policies
            ),
        })?;
    let mut net = ActorCritic::new(device, obs_len, nvec, hidden);
    let file = dir.join(format!("{name}.ot"));
    net.vs.load(&file).map_err(|e| TrainError::File {
        path: file.clone(),
        message: format!(
            "cannot load the network (corrupt or missing, or saved with another `hidden` width than its run's config.toml gives): {}",
            e.to_string().lines().next().unwrap_or("unreadable")
        ),
    })?;
    let norm = state.normalizers[k].clone();
    if norm.mean.len() != obs_len {
        return Err(TrainError::File {
            path: state_path,
            message: format!(
                "field `normalizers[{k}].mean` has {} entries, this scenario's observation has {obs_len}",
                norm.mean.len()
            ),
        });
    }
    Ok((net, norm))
}

/// Loads the policies of a run's latest checkpoint for the policies `env` serves.
pub fn load_policies<E: MultiAgentEnv>(
    run_dir: &Path,
    env: &E,
    file: &TrainingFile,
    device: Device,
) -> Result<(Vec<LoadedPolicy>, u64), TrainError> {
    let dir = latest_checkpoint(run_dir)?;
    let mut policies = Vec::new();
    for (k, name) in env.policies().iter().enumerate() {
        let cfg = file.ppo_for(name);
        let obs_len = env.observation_spec(k as u16).len;
        let nvec = env.action_spec(k as u16).nvec;
        let net = ActorCritic::new(device, obs_len, &nvec, cfg.hidden);
        let opt = nn::Adam::default()
            .eps(1e-5)
            .build(&net.vs, cfg.learning_rate)?;
        policies.push(Policy {
            name: name.clone(),
            frozen: false,
            norm: RunningNorm::new(obs_len, cfg.normalize_observations),
            net,
            opt,
            cfg: cfg.clone(),
            returns: VecDeque::new(),
            episodes: 0,
            episode_means: VecDeque::new(),
            env_episodes: 0,
        });
    }
    let state = load_checkpoint(&dir, &mut policies)?;
    Ok((
        policies
            .into_iter()
            .map(|p| LoadedPolicy {
                name: p.name,
                net: p.net,
                norm: p.norm,
            })
            .collect(),
        state.global_step,
    ))
}

/// Trains every policy of `envs` (one per personality) with PPO; writes TensorBoard events, checkpoints
/// and `summary.json` into the run folder.
pub fn train<E: MultiAgentEnv + Send>(
    envs: Vec<E>,
    s: &TrainSettings,
) -> Result<TrainSummary, TrainError> {
    let t = &s.file.train;
    std::fs::create_dir_all(&s.run_dir).map_err(file_err(&s.run_dir))?;
    tch::manual_seed(t.seed as i64);
    tch::set_num_threads(1);
    let names: Vec<String> = envs
        .first()
        .ok_or(TrainError::NoEnvironments)?
        .policies()
        .to_vec();
    let mut policies: Vec<Policy> = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let env0 = &envs[0];
        let obs_len = env0.observation_spec(k as u16).len;
        let nvec = env0.action_spec(k as u16).nvec;
        let cfg = s.file.ppo_for(name).clone();
        let frozen = s.frozen.iter().position(|(n, _)| n == name);
        let (net, norm) = match frozen {
            Some(i) => load_frozen(&s.frozen[i].1, name, obs_len, &nvec, s.device)?,
            None => (
                ActorCritic::new(s.device, obs_len, &nvec, cfg.hidden),
                RunningNorm::new(obs_len, cfg.normalize_observations),
            ),
        };
        let opt = nn::Adam::default()
            .eps(1e-5)
            .build(&net.vs, cfg.learning_rate)?;
        policies.push(Policy {
            name: name.clone(),
            frozen: frozen.is_some(),
            norm,
            net,
            opt,
            cfg,
            returns: VecDeque::with_capacity(100),
            episodes: 0,
            episode_means: VecDeque::with_capacity(10),
            env_episodes: 0,
        });
    }
    let mut venv = VecEnv::new(envs, s.threads).map_err(|e| TrainError::File {
        path: s.run_dir.clone(),
        message: format!("cannot start worker threads: {e}"),
    })?;
    // The schedule counts environment steps: whole updates up to at least `total_steps`.
    let per_update = (t.num_envs * t.num_steps) as u64;
    let end_step = t.total_steps.div_ceil(per_update) * per_update;
    let (mut global_step, mut agent_steps, mut start_update) = (0u64, 0u64, 0usize);
    let mut schedule = LrSchedule::new(end_step);
    if s.resume {
        let dir = latest_checkpoint(&s.run_dir)?;
        let state = load_checkpoint(&dir, &mut policies)?;
        global_step = state.global_step;
        agent_steps = state.agent_steps;
        start_update = state.update;
        schedule = state.lr_schedule.unwrap_or(schedule).continued(
            global_step,
            end_step,
            state.last_lr_fraction,
        );
    }
    // Episodes in flight are not part of a checkpoint: a resumed run starts new ones.
    venv.reset(episode_seed(t.seed, usize::MAX, start_update as u64))?;
    let mut writer = tensorboard_rs::summary_writer::SummaryWriter::new(&s.run_dir);
    let bar = if s.progress {
        indicatif::ProgressBar::new(t.total_steps)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} train [{elapsed_precise}] {wide_bar} {pos}/{len} steps (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(global_step);
    let started = Instant::now();
    let start_step = global_step;
    let mut returns_acc: HashMap<Key, f32> = HashMap::new();
    // Per (env, episode): per policy, the summed lifetime returns of its finished agents and their count.
    let mut episode_acc: HashMap<(usize, u64), Vec<(f64, usize)>> = HashMap::new();
    // Per policy: the latest per-environment-episode mean return (for the progress bar).
    let mut latest_episode_mean: Vec<Option<f64>> = vec![None; policies.len()];
    let mut actions: Vec<u32> = Vec::new();
    let mut interrupted = false;
    let mut last_checkpoint_update = start_update;
    let heads: Vec<usize> = policies.iter().map(|p| p.net.nvec.len()).collect();
    let n_heads = heads.first().copied().unwrap_or(1);
    let mut update = start_update;
    let mut lr_fraction = schedule.fraction(global_step);
    while global_step < end_step {
        if s.stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let mut rng = rand_pcg::Pcg32::seed_from_u64(episode_seed(t.seed, 0, update as u64));
        lr_fraction = schedule.fraction(global_step);
        for p in &mut policies {
            let lr = p.opt_lr(lr_fraction);
            p.opt.set_lr(lr);
        }
        let mut rollouts: Vec<Rollout> = (0..policies.len()).map(|_| Rollout::default()).collect();
        let mut pending: HashMap<Key, (usize, usize)> = HashMap::new();
        let mut finished: Vec<Vec<f32>> = vec![Vec::new(); policies.len()];
        // Per policy: the mean agent return of each environment episode that ended in this update.
        let mut episode_means: Vec<Vec<f64>> = vec![Vec::new(); policies.len()];
        // ---- rollout ----
        for _ in 0..t.num_steps {
            let out = venv.output();
            let rows = out.rows.len();
            actions.clear();
            actions.resize(rows * n_heads, 0);
            for (k, p) in policies.iter_mut().enumerate() {
                let live: Vec<usize> = (0..rows)
                    .filter(|&i| out.rows[i].live() && out.rows[i].policy as usize == k)
                    .collect();
                if live.is_empty() {
                    continue;
                }
                let l = p.net.obs_len;
                let (raw, obs) = observation_batch(out, &live, &mut p.norm, !p.frozen, s.device);
                let (logits, values) = tch::no_grad(|| (p.net.logits(&obs), p.net.value(&obs)));
                let (logits, values) = (to_vec(logits)?, to_vec(values)?);
                let m = p.net.nvec.iter().sum::<usize>();
                let mut chosen = Vec::with_capacity(n_heads);
                for (j, &i) in live.iter().enumerate() {
                    let mask = out.mask_row(i);
                    chosen.clear();
                    let logp = sampling::sample(
                        &logits[j * m..(j + 1) * m],
                        mask,
                        &p.net.nvec,
                        &mut rng,
                        &mut chosen,
                    );
                    actions[i * n_heads..(i + 1) * n_heads].copy_from_slice(&chosen);
                    if p.frozen {
                        agent_steps += 1;
                        continue;
                    }
                    let r = &mut rollouts[k];
                    let idx = r.len();
                    r.obs.extend_from_slice(&raw[j * l..(j + 1) * l]);
                    r.masks.extend_from_slice(mask);
                    r.actions.extend(chosen.iter().map(|&a| a as i64));
                    r.logp.push(logp);
                    r.values.push(values[j]);
                    r.rewards.push(0.0);
                    r.next.push(Next::Bootstrap(0.0));
                    let key = (
                        venv.row_env()[i],
                        venv.row_episode()[i],
                        out.rows[i].agent.0,
                    );
                    if let Some((pk, pi)) = pending.insert(key, (k, idx)) {
                        // The agent's previous transition continues with this one.
                        rollouts[pk].next[pi] = Next::Continue(idx);
                    }
                    agent_steps += 1;
                }
            }
            venv.step(&actions)?;
            let out = venv.output();
            global_step += t.num_envs as u64;
            // ---- results of the actions ----
            let mut truncated_rows: Vec<(usize, usize, usize)> = Vec::new();
            for (i, row) in out.rows.iter().enumerate() {
                let key = (venv.row_env()[i], venv.row_episode()[i], row.agent.0);
                if row.is_new {
                    // An agent that joins on the last day never acts: nothing to track.
                    if row.live() {
                        returns_acc.insert(key, 0.0);
                    }
                    continue;
                }
                *returns_acc.entry(key).or_insert(0.0) += row.reward;
                if let Some(&(k, idx)) = pending.get(&key) {
                    rollouts[k].rewards[idx] = row.reward;
                    if row.terminated {
                        rollouts[k].next[idx] = Next::Terminated;
                        pending.remove(&key);
                    } else if row.truncated {
                        truncated_rows.push((k, idx, i));
                        pending.remove(&key);
                    }
                }
                if row.terminated || row.truncated {
                    if let Some(ret) = returns_acc.remove(&key) {
                        finished[row.policy as usize].push(ret);
                        let acc = episode_acc
                            .entry((key.0, key.1))
                            .or_insert_with(|| vec![(0.0, 0); policies.len()]);
                        acc[row.policy as usize].0 += ret as f64;
                        acc[row.policy as usize].1 += 1;
                    }
                }
            }
            // Environment episodes that are over: one mean per policy.
            let current = venv.episodes();
            episode_acc.retain(|&(env, episode), acc| {
                if episode >= current[env] {
                    return true;
                }
                for (k, &(sum, n)) in acc.iter().enumerate() {
                    if n > 0 {
                        episode_means[k].push(sum / n as f64);
                    }
                }
                false
            });
            bootstrap(&mut policies, &mut rollouts, &truncated_rows, out, s.device)?;
        }
        // Agents still running at the end of the rollout: bootstrap with the value of their observation.
        {
            let out = venv.output();
            let mut open: Vec<(usize, usize, usize)> = Vec::new();
            for (i, row) in out.rows.iter().enumerate() {
                if !row.live() {
                    continue;
                }
                let key = (venv.row_env()[i], venv.row_episode()[i], row.agent.0);
                if let Some(&(k, idx)) = pending.get(&key) {
                    open.push((k, idx, i));
                }
            }
            bootstrap(&mut policies, &mut rollouts, &open, out, s.device)?;
        }
        // ---- GAE and update ----
        let sps = (global_step - start_step) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        for (k, p) in policies.iter_mut().enumerate() {
            for &ret in &finished[k] {
                if p.returns.len() == 100 {
                    p.returns.pop_front();
                }
                p.returns.push_back(ret);
                p.episodes += 1;
            }
            for &m in &episode_means[k] {
                if p.episode_means.len() == 10 {
                    p.episode_means.pop_front();
                }
                p.episode_means.push_back(m);
                p.env_episodes += 1;
            }
            let r = &rollouts[k];
            if r.len() == 0 {
                continue;
            }
            let (adv, ret) = gae(
                &r.rewards,
                &r.values,
                &r.next,
                p.cfg.gamma as f32,
                p.cfg.gae_lambda as f32,
            );
            let st = ppo_update(p, r, &adv, &ret, &mut rng, s.device);
            let name = &p.name;
            let step = global_step as usize;
            if !episode_means[k].is_empty() {
                let m = episode_means[k].iter().sum::<f64>() / episode_means[k].len() as f64;
                latest_episode_mean[k] = Some(m);
                writer.add_scalar(
                    &format!("charts/episode_mean_return/{name}"),
                    m as f32,
                    step,
                );
            }
            if !finished[k].is_empty() {
                let m = finished[k].iter().sum::<f32>() / finished[k].len() as f32;
                writer.add_scalar(&format!("charts/episodic_return/{name}"), m, step);
            }
            writer.add_scalar(
                &format!("charts/learning_rate/{name}"),
                p.opt_lr(lr_fraction) as f32,
                step,
            );
            for (tag, v) in [
                ("policy_loss", st.policy_loss),
                ("value_loss", st.value_loss),
                ("entropy", st.entropy),
                ("approx_kl", st.approx_kl),
                ("clipfrac", st.clipfrac),
                ("explained_variance", st.explained_variance),
            ] {
                writer.add_scalar(&format!("losses/{name}/{tag}"), v as f32, step);
            }
            if p.net.nvec.len() == 4 {
                let mut counts = [0usize; 5];
                for a in r.actions.chunks(4) {
                    let a = [a[0] as u32, a[1] as u32, a[2] as u32, a[3] as u32];
                    for (c, shown) in counts.iter_mut().zip(crate::env::actions::behaviours(&a)) {
                        *c += shown as usize;
                    }
                }
                for (tag, c) in crate::env::actions::BEHAVIOURS.iter().zip(counts) {
                    let v = c as f32 / r.len() as f32;
                    writer.add_scalar(&format!("behaviour/{name}/{tag}_rate"), v, step);
                }
            }
        }
        let step = global_step as usize;
        writer.add_scalar("charts/SPS", sps as f32, step);
        writer.add_scalar("charts/agent_steps", agent_steps as f32, step);
        let mut metrics: HashMap<&'static str, (f64, usize)> = HashMap::new();
        for e in venv.envs() {
            for &(name, v) in &e.output().info.metrics {
                let m = metrics.entry(name).or_insert((0.0, 0));
                m.0 += v;
                m.1 += 1;
            }
        }
        let mut keys: Vec<_> = metrics.keys().copied().collect();
        keys.sort();
        for name in keys {
            let (sum, n) = metrics[name];
            writer.add_scalar(&format!("commons/{name}"), (sum / n as f64) as f32, step);
        }
        writer.flush();
        bar.set_position(global_step.min(t.total_steps));
        // Per policy: its agents' mean return in the latest finished environment episode (in the
        // Commons, arrivals who leave early would drown a per-agent mean), else the last 100 agents'.
        let msg: Vec<String> = policies
            .iter()
            .zip(&latest_episode_mean)
            .map(|(p, latest)| {
                let r = latest.unwrap_or_else(|| mean_std(&p.returns).0);
                format!("{} {}", p.name, crate::compare::short(r))
            })
            .collect();
        bar.set_message(format!("SPS {:.0} | return {}", sps, msg.join(", ")));
        let stopping = s.stop.load(Ordering::SeqCst);
        if stopping || (update + 1 - last_checkpoint_update) >= t.checkpoint_every {
            save_checkpoint(
                &s.run_dir,
                &policies,
                &state_of(
                    &policies,
                    global_step,
                    agent_steps,
                    update + 1,
                    (schedule, lr_fraction),
                ),
            )?;
            last_checkpoint_update = update + 1;
        }
        update += 1;
        if stopping {
            interrupted = true;
            break;
        }
    }
    bar.finish_and_clear();
    let final_update = update;
    if last_checkpoint_update != final_update
        || !s.run_dir.join("checkpoints").join("latest").exists()
    {
        save_checkpoint(
            &s.run_dir,
            &policies,
            &state_of(
                &policies,
                global_step,
                agent_steps,
                final_update,
                (schedule, lr_fraction),
            ),
        )?;
    }
    writer.flush();
    let wall = started.elapsed().as_secs_f64();
    let summary = TrainSummary {
        global_step,
        wall_seconds: wall,
        sps: (global_step - start_step) as f64 / wall.max(1e-9),
        episodic_return: policies
            .iter()
            .map(|p| {
                let (m, sd) = mean_std(&p.returns);
                (
                    p.name.clone(),
                    ReturnStats {
                        last_100_mean: m,
                        last_100_std: sd,
                        episodes: p.episodes,
                    },
                )
            })
            .collect(),
        episode_mean_return: policies
            .iter()
            .map(|p| {
                let n = p.episode_means.len() as f64;
                let m = p.episode_means.iter().sum::<f64>() / n;
                let sd = (p.episode_means.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
                (
                    p.name.clone(),
                    EpisodeMeanStats {
                        last_10_mean: m,
                        last_10_std: sd,
                        episodes: p.env_episodes,
                    },
                )
            })
            .collect(),
        agent_steps,
        interrupted,
    };
    let path = s.run_dir.join("summary.json");
    let mut json = serde_json::to_string_pretty(&summary).map_err(|e| TrainError::File {
        path: path.clone(),
        message: e.to_string(),
    })?;
    json.push('\n');
    write_atomic(&path, json.as_bytes())?;
    Ok(summary)
}

/// Sets `Bootstrap(V(obs))` on the transitions `(policy, transition, row of out)`.
fn bootstrap(
    policies: &mut [Policy],
    rollouts: &mut [Rollout],
    items: &[(usize, usize, usize)],
    out: &crate::env::StepOutput,
    device: Device,
) -> Result<(), TrainError> {
    for (k, p) in policies.iter().enumerate() {
        let mine: Vec<&(usize, usize, usize)> = items.iter().filter(|x| x.0 == k).collect();
        if mine.is_empty() {
            continue;
        }
        let rows: Vec<usize> = mine.iter().map(|x| x.2).collect();
        let mut norm = p.norm.clone();
        let (_, obs) = observation_batch(out, &rows, &mut norm, false, device);
        let v = to_vec(tch::no_grad(|| p.net.value(&obs)))?;
        for (j, &&(_, idx, _)) in mine.iter().enumerate() {
            rollouts[k].next[idx] = Next::Bootstrap(v[j]);
        }
    }
    Ok(())
}

fn state_of(
    policies: &[Policy],
    global_step: u64,
    agent_steps: u64,
    update: usize,
    (schedule, last_fraction): (LrSchedule, f64),
) -> TrainerState {
    TrainerState {
        lr_schedule: Some(schedule),
        last_lr_fraction: Some(last_fraction),
        global_step,
        agent_steps,
        update,
        normalizers: policies.iter().map(|p| p.norm.clone()).collect(),
        returns: policies
            .iter()
            .map(|p| p.returns.iter().copied().collect())
            .collect(),
        episodes: policies.iter().map(|p| p.episodes).collect(),
        policies: policies.iter().map(|p| p.name.clone()).collect(),
        episode_means: policies
            .iter()
            .map(|p| p.episode_means.iter().copied().collect())
            .collect(),
        env_episodes: policies.iter().map(|p| p.env_episodes).collect(),
    }
}

impl Policy {
    /// The learning rate at `fraction` of the schedule (the base rate without annealing).
    fn opt_lr(&self, fraction: f64) -> f64 {
        if self.cfg.anneal_lr {
            fraction * self.cfg.learning_rate
        } else {
            self.cfg.learning_rate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn a_new_schedule_anneals_like_cleanrl_and_a_longer_one_continues_without_a_jump() {
        let s = LrSchedule::new(4096);
        // Update u of n starts at u · batch steps: fraction 1 − u/n, bit for bit.
        for u in 0..8u64 {
            assert_eq!(s.fraction(u * 512), 1.0 - u as f64 / 8.0);
        }
        assert_eq!(s.fraction(4096), 0.0);
        assert_eq!(s.continued(2048, 4096, None), s);
        // Interrupted at 2048 (fraction 0.5), resumed towards 8192: 0.5 there, linearly to 0 at 8192.
        let longer = s.continued(2048, 8192, Some(0.625));
        assert_eq!(longer.fraction(2048), 0.5);
        assert!((longer.fraction(5120) - 0.25).abs() < 1e-12);
        assert_eq!(longer.fraction(8192), 0.0);
        // Shorter: from the current rate down to the new end.
        let shorter = s.continued(2048, 3072, Some(0.625));
        assert_eq!(shorter.fraction(2048), 0.5);
        assert!((shorter.fraction(2560) - 0.25).abs() < 1e-12);
        // A finished run (fraction 0 at its end) extended: from its last update's rate, not from 0.
        let extended = s.continued(4096, 8192, Some(0.125));
        assert_eq!(extended.fraction(4096), 0.125);
        assert!((extended.fraction(6144) - 0.0625).abs() < 1e-12);
    }
}
