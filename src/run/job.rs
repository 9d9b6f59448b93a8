//! A training job, resolved before anything is written: new run or resume, the overrides split
//! between the agents file and the scenario, the flags checked as flags, the population resolved and
//! checked, the frozen checkpoints listed and the memory guard passed. The trainer
//! (`crate::ppo::train`) then claims the folder and runs it; `commons train` and `commons study` both
//! build their jobs here.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::config::{DeviceRequest, RunConfig, RunInfo};
use super::training::{TrainingFile, TrainingFileError, MAX_NUM_ENVS, MAX_TOTAL_STEPS};
use super::{folder, memory, work, Access, FolderError};
use crate::env::personality::ControllerKind;
use crate::env::CommonsEnvConfig;
use crate::scenario::{self, EnvKind, Override, OverrideError, ScenarioError};

/// Where a run shows its progress.
#[derive(Clone, Debug, Default)]
pub enum ProgressView {
    /// Nowhere.
    #[default]
    Hidden,
    /// Its own bar over the run's steps.
    Bar,
    /// A bar shared with a larger job (`commons study`): the run's step `s` is position `offset + s`
    /// of that bar, and the run leaves the bar's style and message to its owner.
    Shared {
        /// The job's bar.
        bar: indicatif::ProgressBar,
        /// Where this run's step 0 is on it.
        offset: u64,
    },
}

/// How a job starts.
#[derive(Clone, Debug)]
pub enum Start {
    /// A new run.
    New {
        /// Scenario file.
        env: PathBuf,
        /// Agents file.
        agents: PathBuf,
        /// Name under `runs/` (default: `<env>__<agents>__<seed>__<unix-time>`).
        run_name: Option<String>,
        /// The run folder itself, instead of `runs/<run name>` (a study's cell).
        run_dir: Option<PathBuf>,
        /// Move an existing run of that name aside instead of refusing.
        overwrite: bool,
    },
    /// Continue the run in this folder from its latest checkpoint.
    Resume(PathBuf),
}

/// What `commons train` is asked to do (its flags, parsed).
#[derive(Clone, Debug)]
pub struct TrainRequest {
    /// New run or resume.
    pub start: Start,
    /// `--total-steps`.
    pub total_steps: Option<u64>,
    /// `--num-envs`.
    pub num_envs: Option<u32>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--device` (a resumed run keeps its own unless given).
    pub device: Option<DeviceRequest>,
    /// `--set`: agents-file keys (`train.*`, `ppo.*`, `policies.*`) and scenario keys.
    pub sets: Vec<Override>,
    /// `--stop-after`.
    pub stop_after: Option<u64>,
    /// `--ignore-memory-limit`.
    pub ignore_memory_limit: bool,
    /// `--ignore-time-limit`.
    pub ignore_time_limit: bool,
}

impl TrainRequest {
    /// A new run into `run_dir` (a study's cell), as `commons train --env ENV --agents AGENTS --seed
    /// SEED --total-steps N --set ...` would start it.
    pub fn new_cell(
        env: PathBuf,
        agents: PathBuf,
        sets: Vec<Override>,
        seed: u64,
        total_steps: u64,
        run_dir: PathBuf,
    ) -> Self {
        TrainRequest {
            start: Start::New {
                env,
                agents,
                run_name: None,
                run_dir: Some(run_dir),
                overwrite: false,
            },
            total_steps: Some(total_steps),
            num_envs: None,
            seed: Some(seed),
            device: None,
            sets,
            stop_after: None,
            ignore_memory_limit: false,
            ignore_time_limit: false,
        }
    }

    /// Continues the run in `run_dir` with its own settings.
    pub fn resume(run_dir: PathBuf) -> Self {
        TrainRequest {
            start: Start::Resume(run_dir),
            total_steps: None,
            num_envs: None,
            seed: None,
            device: None,
            sets: Vec::new(),
            stop_after: None,
            ignore_memory_limit: false,
            ignore_time_limit: false,
        }
    }
}

/// Why a training job cannot start (each a one-line message naming the flag, file or field).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The run folder cannot be used.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The run's `config.toml` or the scenario file (or a personality or strategy it names) cannot
    /// be used.
    #[error(transparent)]
    File(#[from] ScenarioError),
    /// The agents file is not valid.
    #[error(transparent)]
    Training(#[from] TrainingFileError),
    /// An override could not be applied.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// The job would not fit in memory.
    #[error(transparent)]
    Memory(#[from] memory::MemoryError),
    /// The job would take longer than `commons train`'s limit.
    #[error(transparent)]
    Work(#[from] work::WorkError),
    /// A bad flag or setting: the message names it and its allowed range.
    #[error("{0}")]
    Invalid(String),
}

/// A training job ready to run.
#[derive(Clone, Debug)]
pub struct TrainJob {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The run's resolved settings (what `config.toml` will hold).
    pub cfg: RunConfig,
    /// Whether it continues from the folder's latest checkpoint.
    pub resume: bool,
    /// The resolved Commons environment (None for CartPole).
    pub env: Option<CommonsEnvConfig>,
    /// Policies played from another run's checkpoint: (personality, run or checkpoint folder).
    pub frozen: Vec<(String, PathBuf)>,
    /// Policies that learn starting from another run's weights: (policy, personality in that run,
    /// run or checkpoint folder). Empty for `commons train`; a warm-started learned deviation
    /// (`commons eval --against-learned --warm-start`) sets it.
    pub warm_start: Vec<(String, String, PathBuf)>,
    /// Move an existing run folder aside before claiming it.
    pub overwrite: bool,
    /// Stop once this invocation has taken this many steps (checkpoint saved).
    pub stop_after: Option<u64>,
}

/// A file's stem with every character a run name may not hold replaced by `_`.
pub fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .chars()
        .map(|c| if folder::is_name_char(c) { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// The `--set` overrides of the agents file's settings (`train.*`, `ppo.*`, `policies.*`).
fn training_sets(all: &[Override]) -> Vec<Override> {
    all.iter()
        .filter(|o| TrainingFile::owns(o))
        .cloned()
        .collect()
}

fn invalid(message: String) -> JobError {
    JobError::Invalid(message)
}

impl TrainJob {
    /// Resolves `req`: reads the files (or the run's `config.toml` on resume), applies the flags and
    /// overrides, checks them, resolves the population and runs the memory guard. Nothing is written.
    pub fn new(req: &TrainRequest) -> Result<TrainJob, JobError> {
        let (run_dir, mut cfg, resume, overwrite) = match &req.start {
            Start::Resume(dir) => {
                // Refuse anything that is not a training run before reading it as one.
                folder::check_access(dir, Access::ExistingRun)?;
                (dir.clone(), RunConfig::load(dir)?, true, false)
            }
            Start::New {
                env,
                agents,
                run_name,
                run_dir,
                overwrite,
            } => {
                if let Some(name) = run_name {
                    folder::check_run_name(name).map_err(invalid)?;
                }
                let scenario = scenario::load(env)?;
                // Training overrides first, so that the run is named with the seed it will use.
                let training =
                    TrainingFile::load(agents)?.with_overrides(&training_sets(&req.sets))?;
                let cfg = RunConfig {
                    run: RunInfo {
                        env: env.clone(),
                        agents: agents.clone(),
                        device: req.device.unwrap_or(DeviceRequest::Auto),
                    },
                    scenario,
                    training,
                };
                let seed = req.seed.unwrap_or(cfg.training.train.seed);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let name = run_name
                    .clone()
                    .unwrap_or_else(|| format!("{}__{}__{seed}__{now}", stem(env), stem(agents)));
                let dir = run_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("runs").join(name));
                (dir, cfg, false, *overwrite)
            }
        };
        // Flags are checked as flags, so that a bad one is not blamed on the agents file.
        if let Some(n) = req.total_steps {
            if n > MAX_TOTAL_STEPS {
                return Err(invalid(format!(
                    "--total-steps: {n} is out of range (allowed: 1 to {MAX_TOTAL_STEPS})"
                )));
            }
            cfg.training.train.total_steps = n;
        }
        if let Some(n) = req.num_envs {
            if n as usize > MAX_NUM_ENVS {
                return Err(invalid(format!(
                    "--num-envs: {n} is out of range (allowed: 1 to {MAX_NUM_ENVS})"
                )));
            }
            cfg.training.train.num_envs = n as usize;
        }
        if let Some(s) = req.seed {
            if resume && s != cfg.training.train.seed {
                return Err(invalid(format!(
                    "--seed: a resumed run keeps its seed ({})",
                    cfg.training.train.seed
                )));
            }
            cfg.training.train.seed = s;
        }
        let scenario_sets: Vec<Override> = req
            .sets
            .iter()
            .filter(|o| !TrainingFile::owns(o))
            .cloned()
            .collect();
        if let (true, Some(first)) = (resume, scenario_sets.first()) {
            return Err(invalid(format!(
                "--set {}: a resumed run keeps its scenario (only train.*, ppo.* and policies.* can change)",
                first.key
            )));
        }
        cfg.scenario = scenario::with_overrides(&cfg.scenario, &scenario_sets)?;
        if resume {
            let seed = cfg.training.train.seed;
            cfg.training = cfg.training.with_overrides(&training_sets(&req.sets))?;
            if cfg.training.train.seed != seed {
                return Err(invalid(format!(
                    "--set train.seed: a resumed run keeps its seed ({seed})"
                )));
            }
        }
        if let Some(pop) = cfg.training.population.clone() {
            cfg.scenario.population = pop;
        }
        // What is validated here came from the agents file, or from the run's config.toml on resume.
        let source = if resume {
            run_dir.join("config.toml")
        } else {
            cfg.run.agents.clone()
        };
        cfg.training
            .validate()
            .map_err(|m| invalid(format!("{}: {m}", source.display())))?;
        let env = Self::population(&cfg, &run_dir, resume)?;
        if let Some(d) = req.device {
            cfg.run.device = d;
        }
        // The worlds, and a rollout of every participant's observations per environment.
        let t = &cfg.training.train;
        let model = &cfg.scenario.model;
        memory::check(
            (memory::world_bytes(model).saturating_add(memory::rollout_bytes(model, t.num_steps)))
                .saturating_mul(t.num_envs as u64),
            &format!("training {} environments of this scenario", t.num_envs),
            "train.num_envs, train.num_steps or the scenario's hatch.hatchers",
            req.ignore_memory_limit,
        )?;
        // This invocation's steps: what is left after the checkpoint a resume starts from, or fewer
        // with `--stop-after`.
        let done = if resume {
            folder::checkpoint_step(&run_dir).unwrap_or(0)
        } else {
            0
        };
        let steps = steps_this_invocation(t.total_steps, done, req.stop_after);
        work::Work {
            what: format!("training {steps} steps of this scenario"),
            knobs: "train.total_steps (or split the run with --stop-after and --resume) or the scenario's hatch.hatchers",
            agent_days: work::agent_days_of_steps(model, steps as f64),
            seconds_per_agent_day: work::TRAIN_SECONDS,
            threads: rayon::current_num_threads(),
        }
        .check(work::TRAIN_LIMIT, req.ignore_time_limit)?;
        let frozen = env
            .as_ref()
            .map(|c| {
                let base = cfg.run.env.parent().unwrap_or(Path::new("."));
                c.population
                    .iter()
                    .filter(|e| e.controller == ControllerKind::Frozen)
                    .filter_map(|e| {
                        e.checkpoint
                            .as_ref()
                            .map(|p| (e.personality.name.clone(), base.join(p)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(TrainJob {
            run_dir,
            cfg,
            resume,
            env,
            frozen,
            warm_start: Vec::new(),
            overwrite,
            stop_after: req.stop_after,
        })
    }

    /// The Commons population resolved and checked before anything is written (None for CartPole):
    /// it must have a learned personality.
    fn population(
        cfg: &RunConfig,
        run_dir: &Path,
        resume: bool,
    ) -> Result<Option<CommonsEnvConfig>, JobError> {
        if cfg.scenario.kind != EnvKind::Commons {
            return Ok(None);
        }
        // Name the file the population came from: the run's config.toml on resume, else the agents
        // file if it has a population, else the scenario file.
        let source = if resume {
            run_dir.join("config.toml")
        } else if cfg.training.population.is_some() {
            cfg.run.agents.clone()
        } else {
            cfg.run.env.clone()
        };
        let env = scenario::env_config_named(&cfg.scenario, &cfg.run.env, &source)?;
        if env
            .population
            .iter()
            .all(|e| e.controller != ControllerKind::Learned)
        {
            return Err(invalid(format!(
                "{}: the population has no learned personality: nothing to train",
                source.display()
            )));
        }
        Ok(Some(env))
    }

    /// With `--overwrite`, moves an earlier run in the folder aside; returns where it went (None when
    /// nothing was moved). The first step of claiming the folder.
    pub fn move_aside(&self) -> Result<Option<PathBuf>, ClaimError> {
        if !self.overwrite {
            return Ok(None);
        }
        let to = folder::move_aside(&self.run_dir)?;
        Ok((to != self.run_dir).then_some(to))
    }

    /// Claims the run folder before anything is written into it: opens it for this job (refusing one
    /// that is not ours or is in use) and writes the resolved settings (`config.toml`, including what
    /// this invocation changed on resume). The returned folder holds the lock while it lives.
    pub fn claim(&self) -> Result<folder::OpenFolder, ClaimError> {
        let access = if self.resume {
            Access::ExistingRun
        } else {
            Access::NewRun
        };
        let open = super::open(&self.run_dir, access)?;
        super::files::write_toml(&self.run_dir, super::files::CONFIG, &self.cfg)?;
        Ok(open)
    }
}

/// The run folder could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Not ours, or in use.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// `config.toml` could not be written.
    #[error(transparent)]
    Write(#[from] super::files::WriteError),
}

/// Something that runs training jobs (the native PPO trainer, `crate::ppo::Native`, with the `torch`
/// feature): what `commons study` is given, so that studies build and run their other steps without
/// libtorch.
pub trait Trainer {
    /// Runs `job` (claiming its folder first), showing progress as `progress` says, stopping after the
    /// current update (checkpoint saved) once `stop` is set; writes and returns the summary.
    fn train(
        &self,
        job: &TrainJob,
        progress: ProgressView,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<super::summary::TrainSummary, Box<dyn std::error::Error + Send + Sync>>;
}

/// Training steps one invocation takes: `total − done` (the schedule's end minus the checkpoint it starts
/// from), at most `stop_after`.
fn steps_this_invocation(total: u64, done: u64, stop_after: Option<u64>) -> u64 {
    let left = total.saturating_sub(done);
    stop_after.map_or(left, |n| n.min(left))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_invocation_takes_what_is_left_at_most_stop_after() {
        assert_eq!(super::steps_this_invocation(1000, 0, None), 1000);
        assert_eq!(super::steps_this_invocation(1000, 600, None), 400);
        assert_eq!(super::steps_this_invocation(1000, 600, Some(100)), 100);
        assert_eq!(super::steps_this_invocation(1000, 600, Some(900)), 400);
        assert_eq!(super::steps_this_invocation(1000, 1200, None), 0);
    }
}
