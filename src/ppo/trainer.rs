//! The PPO training loop, shaped like CleanRL's `ppo.py`: for each update, anneal the learning rate →
//! collect a rollout ([`super::rollout`]) → per policy, GAE and the PPO epochs ([`super::update`], the
//! policies in parallel) → log ([`super::log`]) → checkpoint ([`super::checkpoint`]), for every policy of
//! a multi-agent environment with agents that arrive and leave.
//!
//! Determinism: one seed fixes the run. The networks are initialised from libtorch's generator seeded
//! with it; every sample and minibatch shuffle uses a per-update, per-policy PCG stream derived from it;
//! environments step identically for any thread count, and each policy's work runs on one thread with
//! one libtorch intra-op thread, so the weights are the same for any `--threads` as well.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rayon::prelude::*;
use tch::Device;

use super::checkpoint::{self, load_frozen, restore, PolicyFiles, TrainerState, STATE_VERSION};
pub use super::error::TrainError;
use super::error::{bad_file, file_err};
use super::log::Logger;
use super::net::ActorCritic;
use super::normalizer::RunningNorm;
use super::policy::Policy;
use super::rollout::{Collector, Rollout};
use super::schedule::LrSchedule;
use super::update::{update, UpdateStats};
use crate::env::vec_env::{episode_seed, VecEnv};
use crate::env::MultiAgentEnv;
pub use crate::run::summary::{EpisodeMeanStats, ReturnStats, TrainSummary};
use crate::run::training::TrainingFile;
use crate::stats::MeanSd;

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
    /// Where progress shows (its own bar, a study's, or nowhere).
    pub progress: super::log::ProgressView,
    /// Set to stop after the current step (Ctrl-C): a checkpoint is saved.
    pub stop: Arc<AtomicBool>,
    /// Continue from the run folder's latest checkpoint.
    pub resume: bool,
    /// Stop (as on Ctrl-C: checkpoint saved) once this invocation has taken this many environment
    /// steps; the schedule still runs to the total.
    pub stop_after: Option<u64>,
    /// Policies played from another run's checkpoint and never updated: (personality, run folder or
    /// checkpoint folder).
    pub frozen: Vec<(String, PathBuf)>,
    /// Policies that learn from another run's weights instead of from scratch: (policy, the
    /// personality whose weights and normaliser they start from, its run or checkpoint folder).
    pub warm_start: Vec<(String, String, PathBuf)>,
}

/// The per-update, per-policy random stream `purpose` (0: rollout sampling, 1: minibatch shuffles).
fn stream(seed: u64, update: usize, policy: usize, purpose: u64) -> rand_pcg::Pcg32 {
    let salt = [0x5a3d_1e0f_u64, 0x9c4b_7a21][purpose as usize % 2];
    rand_pcg::Pcg32::seed_from_u64(episode_seed(seed ^ salt, policy + 1, update as u64))
}

/// Counters of a run (what a checkpoint restores besides the policies).
struct Progress {
    global_step: u64,
    agent_steps: u64,
    update: usize,
    schedule: LrSchedule,
    lr_fraction: f64,
}

/// Builds one policy per personality of `env`: fresh, frozen from another run's checkpoint, or
/// learning from another run's weights (a warm start).
fn build_policies<E: MultiAgentEnv>(env: &E, s: &TrainSettings) -> Result<Vec<Policy>, TrainError> {
    let mut policies = Vec::new();
    for (k, name) in env.policies().iter().enumerate() {
        let obs_len = env.observation_spec(k as u16).len;
        let nvec = env.action_spec(k as u16).nvec;
        let cfg = s.file.ppo_for(name).clone();
        let frozen = s.frozen.iter().find(|(n, _)| n == name);
        let warm = s.warm_start.iter().find(|(n, _, _)| n == name);
        let (net, norm) = match (frozen, warm) {
            (Some((_, path)), _) => load_frozen(path, name, obs_len, &nvec, s.device)?,
            (None, Some((_, from, path))) => load_frozen(path, from, obs_len, &nvec, s.device)?,
            (None, None) => (
                ActorCritic::new(s.device, obs_len, &nvec, cfg.hidden),
                RunningNorm::new(obs_len, cfg.normalize_observations),
            ),
        };
        policies.push(Policy::new(name, net, norm, cfg, frozen.is_some()));
    }
    Ok(policies)
}

/// Writes a checkpoint of the policies, the counters and the environments' episode numbers.
fn save<E: MultiAgentEnv + Send>(
    run_dir: &Path,
    policies: &[Policy],
    progress: &Progress,
    venv: &VecEnv<E>,
) -> Result<PathBuf, TrainError> {
    let (venv_seed, episodes) = (venv.base_seed(), venv.episodes());
    let state = TrainerState {
        version: STATE_VERSION,
        global_step: progress.global_step,
        agent_steps: progress.agent_steps,
        update: progress.update,
        lr_schedule: progress.schedule,
        last_lr_fraction: progress.lr_fraction,
        env_seed: venv_seed,
        env_episode_numbers: Some(episodes.to_vec()),
        policies: policies.iter().map(Policy::state).collect(),
    };
    let files: Vec<PolicyFiles> = policies
        .iter()
        .map(|p| PolicyFiles {
            name: &p.name,
            net: &p.net,
            adam: (!p.frozen).then_some(&p.adam),
        })
        .collect();
    checkpoint::save(run_dir, &state, &files)
}

/// Sets every policy's learning rate for the update at `step`; returns the schedule's fraction.
fn anneal(policies: &mut [Policy], schedule: &LrSchedule, step: u64) -> f64 {
    let fraction = schedule.fraction(step);
    for p in policies {
        p.adam.lr = p.lr(fraction);
    }
    fraction
}

/// Folds a rollout's finished agents and environment episodes into the policies' statistics.
fn record_returns(policies: &mut [Policy], rollout: &Rollout) {
    for (k, p) in policies.iter_mut().enumerate() {
        for &r in &rollout.finished[k] {
            p.stats.push_return(r as f32);
        }
        for &m in &rollout.episode_means[k] {
            p.stats.push_episode_mean(m);
        }
    }
}

/// GAE and the PPO epochs of every learning policy, the policies in parallel on `venv`'s threads.
fn update_policies<E: MultiAgentEnv + Send>(
    venv: &VecEnv<E>,
    policies: &mut [Policy],
    rollout: &Rollout,
    seed: u64,
    update_no: usize,
    device: Device,
) -> Vec<Option<UpdateStats>> {
    let one = |k: usize, p: &mut Policy, tr| {
        if p.frozen {
            return None;
        }
        let mut rng = stream(seed, update_no, k, 1);
        update(p, tr, &mut rng, device)
    };
    // One policy: no hand-off to a worker thread.
    if policies.len() == 1 {
        // In the pool too: a large minibatch's two halves run on its threads.
        return venv.install(|| vec![one(0, &mut policies[0], &rollout.transitions[0])]);
    }
    venv.install(|| {
        policies
            .par_iter_mut()
            .zip(rollout.transitions.par_iter())
            .enumerate()
            .map(|(k, (p, tr))| one(k, p, tr))
            .collect()
    })
}

/// Trains every policy of `envs` (one per personality) with PPO; writes TensorBoard events and
/// checkpoints into the run folder and returns the summary (which [`crate::run::files`] writes).
pub fn train<E: MultiAgentEnv + Send>(
    envs: Vec<E>,
    s: &TrainSettings,
) -> Result<TrainSummary, TrainError> {
    let t = &s.file.train;
    std::fs::create_dir_all(&s.run_dir).map_err(file_err(&s.run_dir))?;
    tch::manual_seed(t.seed as i64);
    tch::set_num_threads(1);
    let mut policies = build_policies(envs.first().ok_or(TrainError::NoEnvironments)?, s)?;
    let mut venv = VecEnv::new(envs, s.threads)
        .map_err(|e| bad_file(&s.run_dir, format!("cannot start worker threads: {e}")))?;
    // One intra-op thread on every worker too: libtorch's BLAS (MKL, OpenMP) would otherwise start its
    // own threads inside each worker's matrix products, oversubscribing the cores.
    venv.install(|| rayon::broadcast(|_| tch::set_num_threads(1)));
    // The schedule counts environment steps: whole updates up to at least `total_steps`.
    let per_update = (t.num_envs * t.num_steps) as u64;
    let end_step = t.total_steps.div_ceil(per_update) * per_update;
    let mut run = Progress {
        global_step: 0,
        agent_steps: 0,
        update: 0,
        schedule: LrSchedule::new(end_step),
        lr_fraction: 1.0,
    };
    let fresh_seed = crate::env::vec_env::training_base_seed(t.seed);
    if s.resume {
        let state = restore(&s.run_dir, &mut policies, end_step)?;
        run.global_step = state.global_step;
        run.agent_steps = state.agent_steps;
        run.update = state.update;
        run.lr_fraction = state.last_lr_fraction;
        run.schedule =
            state
                .lr_schedule
                .continued(state.global_step, end_step, Some(state.last_lr_fraction));
        match state.env_episode_numbers {
            // The episodes in flight restart from their first day, with their own seeds.
            Some(numbers) => venv.resume(state.env_seed, &numbers)?,
            // A version-1 checkpoint: new episodes, seeded from the update.
            None => venv.reset(episode_seed(t.seed, usize::MAX, state.update as u64))?,
        };
    } else {
        venv.reset(fresh_seed)?;
    }
    let mut log = Logger::new(
        &s.run_dir,
        &s.progress,
        t.total_steps,
        run.global_step,
        policies.len(),
    );
    log.hyper_parameters(&policies, run.global_step);
    let started = Instant::now();
    let start_step = run.global_step;
    let mut collector = Collector::new(policies.len());
    collector.begin(&venv);
    let mut interrupted = false;
    let mut last_checkpoint = run.update;
    while run.global_step < end_step {
        if s.stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        run.lr_fraction = anneal(&mut policies, &run.schedule, run.global_step);
        let mut rngs: Vec<_> = (0..policies.len())
            .map(|k| stream(t.seed, run.update, k, 0))
            .collect();
        let rollout =
            collector.collect(&mut venv, &mut policies, &mut rngs, t.num_steps, s.device)?;
        run.global_step += rollout.env_steps;
        run.agent_steps += rollout.agent_steps;
        record_returns(&mut policies, &rollout);
        let stats = update_policies(&venv, &mut policies, &rollout, t.seed, run.update, s.device);
        run.update += 1;
        let sps = (run.global_step - start_step) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        log.update(
            run.global_step,
            &policies,
            &rollout,
            &stats,
            run.lr_fraction,
            venv.envs(),
            sps,
            run.agent_steps,
        );
        log.position(run.global_step.min(t.total_steps));
        let stopping = s.stop.load(Ordering::SeqCst)
            || s.stop_after
                .is_some_and(|n| run.global_step - start_step >= n && run.global_step < end_step);
        if stopping || run.update - last_checkpoint >= t.checkpoint_every {
            save(&s.run_dir, &policies, &run, &venv)?;
            last_checkpoint = run.update;
        }
        if stopping {
            interrupted = true;
            break;
        }
    }
    log.finish();
    if last_checkpoint != run.update || !s.run_dir.join("checkpoints").join("latest").exists() {
        save(&s.run_dir, &policies, &run, &venv)?;
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(summary(&policies, &run, start_step, wall, interrupted))
}

fn summary(
    policies: &[Policy],
    run: &Progress,
    start_step: u64,
    wall: f64,
    interrupted: bool,
) -> TrainSummary {
    TrainSummary {
        global_step: run.global_step,
        wall_seconds: wall,
        sps: (run.global_step - start_step) as f64 / wall.max(1e-9),
        episodic_return: policies
            .iter()
            .map(|p| {
                let s = MeanSd::population(p.stats.returns.iter().map(|&r| r as f64));
                let (m, sd) = (s.mean, s.sd());
                (
                    p.name.clone(),
                    ReturnStats {
                        last_100_mean: m,
                        last_100_std: sd,
                        episodes: p.stats.episodes,
                    },
                )
            })
            .collect(),
        episode_mean_return: policies
            .iter()
            .map(|p| {
                let s = MeanSd::population(p.stats.episode_means.iter().copied());
                let (m, sd) = (s.mean, s.sd());
                (
                    p.name.clone(),
                    EpisodeMeanStats {
                        last_10_mean: m,
                        last_10_std: sd,
                        episodes: p.stats.env_episodes,
                    },
                )
            })
            .collect(),
        agent_steps: run.agent_steps,
        interrupted,
        provenance: None,
    }
}
