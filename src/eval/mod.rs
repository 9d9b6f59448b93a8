//! Evaluation: trained policies on held-out seeds against scripted participants in the same roles
//! (`commons eval`), and the best-response check against fixed strategies. Free of libtorch: the
//! policies come in as [`Actor`]s, which [`policies`] makes from a run's checkpoint when the crate is
//! built with the `torch` feature.
//!
//! * [`actor`] — the [`Actor`] trait: something that picks a policy's actions;
//! * [`play`] — episodes of each side, and their aggregation into typed counts and the report;
//! * [`report`] — `eval.json` ([`EvalReport`], written and read here);
//! * [`days`] — `eval_days.csv` (written and read here);
//! * [`samples`] — the per-episode samples behind the intervals;
//! * [`best_response`] — `best_response.json`: the check against fixed strategies;
//! * [`learned`] — `learned_response.json`: the check against learned deviations (a policy retrained
//!   in a personality's place, by the [`crate::run::job::Trainer`] the caller gives);
//! * [`text`] — the printed tables of `commons eval`;
//! * [`files`] — the error of reading any of them;
//! * [`policies`] — a run's checkpoint as actors (libtorch; without it, a clear error);
//! * [`run`] — the whole of `commons eval`: validate, play, write the files.
//!
//! Intervals, the bootstrap and t-quantiles are in [`crate::stats`].

pub mod actor;
pub mod best_response;
pub mod days;
pub mod files;
pub mod learned;
pub mod play;
pub mod policies;
pub mod report;
pub mod samples;
pub mod text;

use std::path::{Path, PathBuf};

pub use actor::{ActError, Actor, Actors};
pub use best_response::BestResponse;
pub use days::EvalDays;
pub use files::ReadError;
pub use learned::{LearnedRequest, LearnedResponse};
pub use report::EvalReport;

use crate::env::strategy::{Strategy, StrategyError};
use crate::env::CommonsEnvConfig;
use crate::run::training::TrainingFile;
use crate::run::{self as run_folder, Access};
use crate::scenario::{self, EnvKind, Override};

/// Default number of evaluation episodes per side (trained and scripted): two sides are cheap, and a
/// personality with few agents per episode needs this many to separate a small difference.
pub const DEFAULT_EPISODES: u32 = 128;
/// Default number of episodes of the best-response check (the first of the evaluation's seeds): it plays
/// every episode once per learned personality and strategy.
pub const DEFAULT_CHECK_EPISODES: u32 = 32;
/// Default seed of the first evaluation episode: far from anything training uses.
pub const DEFAULT_SEED: u64 = 1_000_000;

/// Why an evaluation could not run (each a one-line message naming the flag, file or field).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The run folder could not be opened (or another process writes into it).
    #[error(transparent)]
    Folder(#[from] crate::run::FolderError),
    /// The run's `config.toml` or a scenario (personality, strategy) file cannot be used.
    #[error(transparent)]
    File(#[from] crate::scenario::ScenarioError),
    /// An override could not be applied.
    #[error(transparent)]
    Override(#[from] crate::scenario::OverrideError),
    /// Not a Commons run.
    #[error("{}: eval compares Commons policies with scripted participants; this run is not a Commons run", .0.display())]
    NotCommons(PathBuf),
    /// `--set` of a training key.
    #[error("--set {0}: eval changes only the scenario (the policies are the run's); allowed: scenario keys such as curve.exit_tribute")]
    TrainingKey(String),
    /// Too few episodes for the check's intervals.
    #[error("--episodes {0}: the best-response check (--against-fixed) needs at least 2 episodes for its intervals")]
    TooFewEpisodes(u32),
    /// `--check-episodes` out of range.
    #[error("--check-episodes {check}: out of range (allowed: 2 to --episodes, {episodes}); the check plays the first of the evaluation's seeds")]
    CheckEpisodes {
        /// Asked for.
        check: u32,
        /// Episodes of the evaluation.
        episodes: u32,
    },
    /// A strategy cannot play a personality (it reads what that personality does not observe).
    #[error("--against-fixed: {error} (personality {personality})")]
    Strategy {
        /// Why.
        error: StrategyError,
        /// The personality.
        personality: String,
    },
    /// The environment refused something.
    #[error("environment: {0}")]
    Env(crate::env::EnvError),
    /// A policy failed to load or to act.
    #[error(transparent)]
    Act(ActError),
    /// Policies need libtorch, and this build has none.
    #[error("{}: evaluating trained policies needs libtorch; this build has none (build with the default `torch` feature)", .0.display())]
    NoTorch(PathBuf),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] crate::run::files::WriteError),
    /// A file could not be removed.
    #[error("{}: {cause}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The evaluation would not fit in memory.
    #[error(transparent)]
    Memory(#[from] crate::run::memory::MemoryError),
    /// The evaluation would take longer than the command's limit.
    #[error(transparent)]
    Work(#[from] crate::run::work::WorkError),
    /// The learned deviation (`--against-learned`, `--personality`, `--steps`) cannot run: the message
    /// names the flag and what is allowed.
    #[error("{0}")]
    Learned(String),
    /// `--against-learned` without a trainer (a build without libtorch).
    #[error("--against-learned: training deviators needs libtorch; this build has none (build with the default `torch` feature)")]
    NoTrainer,
    /// An evaluation series that should exist does not (a bug).
    #[error("internal: evaluation series `{0}` is missing")]
    MissingSeries(String),
}

/// What `commons eval` is asked to do.
#[derive(Clone, Debug)]
pub struct EvalRequest {
    /// Run folder of `commons train`.
    pub run_dir: PathBuf,
    /// Episodes per side.
    pub episodes: u32,
    /// Episodes of the best-response check (the first of the seeds; 2 to `episodes`).
    pub check_episodes: u32,
    /// Seed of the first episode (episode k has seed + k).
    pub seed: u64,
    /// Scenario overrides on top of the run's scenario (recorded in eval.json).
    pub sets: Vec<Override>,
    /// Fixed strategies of the best-response check (empty: no check).
    pub strategies: Vec<Strategy>,
    /// Say what is done on stderr and show a progress bar.
    pub announce: bool,
    /// Go ahead even when the memory estimate exceeds what the machine has available.
    pub ignore_memory_limit: bool,
    /// Go ahead even when the time estimate exceeds [`crate::run::work::INTERACTIVE_LIMIT`] (and the
    /// deviators' training estimate [`crate::run::work::TRAIN_LIMIT`]).
    pub ignore_time_limit: bool,
    /// The learned deviation check (`--against-learned`); None: no check.
    pub learned: Option<LearnedRequest>,
}

/// What an evaluation produced (each already written into the run folder).
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// `eval.json`.
    pub report: EvalReport,
    /// `best_response.json`, with `--against-fixed`.
    pub best: Option<BestResponse>,
    /// `learned_response.json`, with `--against-learned`.
    pub learned: Option<LearnedResponse>,
}

impl EvalRequest {
    /// `commons eval RUN` with its defaults: no overrides, no check, quiet.
    pub fn defaults(run_dir: &Path) -> Self {
        EvalRequest {
            run_dir: run_dir.to_path_buf(),
            episodes: DEFAULT_EPISODES,
            check_episodes: DEFAULT_CHECK_EPISODES,
            seed: DEFAULT_SEED,
            sets: Vec::new(),
            strategies: Vec::new(),
            announce: false,
            ignore_memory_limit: false,
            ignore_time_limit: false,
            learned: None,
        }
    }
}

/// The strategies of `--against-fixed[=DIR]`: the folder's files, or the built-in library.
pub fn strategies(dir: Option<&Path>) -> Result<Vec<Strategy>, StrategyError> {
    match dir {
        None => crate::env::strategy::library(),
        Some(dir) => crate::env::strategy::load_folder(dir),
    }
}

/// Refuses an evaluation that cannot fit in memory or would outrun the command's time limit: the
/// worlds played at once and the per-day series kept of every episode; every episode of both sides,
/// and of the check one per learned personality and strategy.
fn guard(
    req: &EvalRequest,
    env_cfg: &CommonsEnvConfig,
    strategies: usize,
) -> Result<(), EvalError> {
    use crate::run::{memory, work};
    let model = &env_cfg.model;
    let threads = rayon::current_num_threads();
    let horizon = u64::from(model.simulation.days);
    let sides = 2 * u64::from(req.episodes);
    let series = sides
        .saturating_mul(horizon)
        .saturating_mul((days::DAY_METRICS.len() * 8 + 16) as u64);
    memory::check(
        memory::world_bytes(model)
            .saturating_mul(threads as u64)
            .saturating_add(series),
        &format!("evaluating {} episodes per side", req.episodes),
        "--episodes or the scenario's simulation.days or hatch.hatchers",
        req.ignore_memory_limit,
    )?;
    let learned = env_cfg
        .population
        .iter()
        .filter(|e| e.controller.is_policy())
        .count();
    let checked = if strategies == 0 {
        0.0
    } else {
        f64::from(req.check_episodes) * (learned * strategies) as f64
    };
    work::Work {
        what: format!("evaluating {} episodes per side", req.episodes),
        knobs: "--episodes, --check-episodes or the scenario's hatch.hatchers",
        agent_days: (sides as f64 + checked) * work::agent_days_per_episode(model),
        seconds_per_agent_day: work::POLICY_SECONDS,
        // Episodes run in parallel, one per thread at most.
        threads: threads.min(req.episodes as usize),
    }
    .check(work::INTERACTIVE_LIMIT, req.ignore_time_limit)?;
    Ok(())
}

/// Evaluates the run of `req` on `req.episodes` seeds from `req.seed` (under the run's scenario with
/// `req.sets` applied) and writes `eval.json` and `eval_days.csv` into the run folder (each
/// atomically), and with strategies the best-response check on the first `check_episodes` of those
/// seeds, `best_response.json` (an earlier one is removed when there are no strategies: it would
/// describe another evaluation). Nobody else may write into the folder meanwhile (a run still
/// training holds its lock).
pub fn run(req: &EvalRequest) -> Result<Evaluation, EvalError> {
    run_with(req, None)
}

/// [`run`], with `trainer` to train the deviators of `req.learned` (`--against-learned`): they are
/// trained and played after the evaluation, and `learned_response.json` is written (an earlier one is
/// removed when no learned check is asked for).
pub fn run_with(
    req: &EvalRequest,
    trainer: Option<&dyn crate::run::job::Trainer>,
) -> Result<Evaluation, EvalError> {
    let run_dir = req.run_dir.as_path();
    let _folder = run_folder::open(run_dir, Access::ExistingRun)?;
    let cfg = crate::run::config::RunConfig::load(run_dir)?;
    if cfg.scenario.kind != EnvKind::Commons {
        return Err(EvalError::NotCommons(run_dir.to_path_buf()));
    }
    if let Some(o) = req.sets.iter().find(|o| TrainingFile::owns(o)) {
        return Err(EvalError::TrainingKey(o.key.clone()));
    }
    // The run's resolved scenario (its population included), changed by `sets`.
    let scenario = scenario::with_overrides(&cfg.scenario, &req.sets)?;
    let env_cfg =
        scenario::env_config_named(&scenario, &cfg.run.env, &run_dir.join("config.toml"))?;
    let (episodes, check_episodes) = (req.episodes, req.check_episodes);
    let strategies = &req.strategies;
    if !strategies.is_empty() && episodes < 2 {
        return Err(EvalError::TooFewEpisodes(episodes));
    }
    if !strategies.is_empty() && !(2..=episodes).contains(&check_episodes) {
        return Err(EvalError::CheckEpisodes {
            check: check_episodes,
            episodes,
        });
    }
    let targets = match &req.learned {
        Some(_) if episodes < 2 => {
            return Err(EvalError::Learned(format!(
                "--episodes {episodes}: the learned deviation (--against-learned) needs at least 2 episodes for its intervals"
            )))
        }
        Some(l) => {
            let t = learned::targets(&env_cfg, l, &run_dir.join("config.toml"))?;
            if trainer.is_none() {
                return Err(EvalError::NoTrainer);
            }
            t
        }
        None => Vec::new(),
    };
    guard(req, &env_cfg, strategies.len())?;
    // Only the personalities played by policies are replaced by the strategies.
    for e in env_cfg
        .population
        .iter()
        .filter(|e| e.controller.is_policy())
    {
        for s in strategies {
            s.check_observation(e.personality.observation)
                .map_err(|error| EvalError::Strategy {
                    error,
                    personality: e.personality.name.clone(),
                })?;
        }
    }
    let loader = policies::Loader::new(run_dir, cfg.run.device)?;
    if req.announce {
        eprintln!(
            "evaluating {} on {episodes} held-out seeds from {} (and the scripted baseline{})...",
            run_dir.display(),
            req.seed,
            if strategies.is_empty() {
                String::new()
            } else {
                format!(
                    ", and on the first {check_episodes} of them {} fixed strategies in each learned personality's place",
                    strategies.len()
                )
            }
        );
    }
    let bar = episode_bar(req.announce, "eval");
    let loaded = loader.load(&env_cfg, &cfg.training)?;
    let plan = play::Plan {
        cfg: &env_cfg,
        episodes,
        check_episodes,
        seed: req.seed,
        overrides: req
            .sets
            .iter()
            .map(|o| format!("{}={}", o.key, o.text))
            .collect(),
        strategies,
    };
    let (report, days, fixed) =
        play::evaluate(&plan, &loaded.actors, &loaded.names, loaded.step, &bar)?;
    bar.finish_and_clear();
    days.write(run_dir, req.seed)?;
    report.write(run_dir)?;
    let best = fixed.map(|samples| {
        let descriptions = strategies
            .iter()
            .map(|s| (s.name.clone(), s.description.clone()))
            .collect();
        BestResponse::of(
            samples,
            descriptions,
            report.checkpoint_step,
            check_episodes,
            req.seed,
        )
    });
    write_or_remove(run_dir, best_response::FILE, best.as_ref())?;
    let learned = match (&req.learned, trainer) {
        (Some(l), Some(trainer)) => {
            let ctx = learned::Context {
                run_dir,
                cfg: &cfg,
                scenario: &scenario,
                env_cfg: &env_cfg,
                trained: &loaded,
                report: &report,
                episodes,
                seed: req.seed,
                overrides: plan.overrides.clone(),
                announce: req.announce,
                ignore_time_limit: req.ignore_time_limit,
            };
            Some(learned::check(&ctx, l, &targets, trainer)?)
        }
        _ => None,
    };
    write_or_remove(run_dir, learned::FILE, learned.as_ref())?;
    Ok(Evaluation {
        report,
        best,
        learned,
    })
}

/// A bar over episodes labelled `what` (hidden unless `announce`).
fn episode_bar(announce: bool, what: &str) -> indicatif::ProgressBar {
    if !announce {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} episodes, {{elapsed}} (ETA {{eta}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Writes `value` as `dir/name`, or removes an earlier file of that name when there is none (it would
/// describe another evaluation).
fn write_or_remove<T: serde::Serialize>(
    dir: &Path,
    name: &str,
    value: Option<&T>,
) -> Result<(), EvalError> {
    match value {
        Some(v) => {
            crate::run::files::write_json(dir, name, v)?;
        }
        None => {
            let old = dir.join(name);
            if old.is_file() {
                std::fs::remove_file(&old).map_err(|cause| EvalError::Remove {
                    path: old.clone(),
                    cause,
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::job::{TrainJob, TrainRequest};

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    #[test]
    fn bad_requests_get_one_line_naming_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = run(&EvalRequest::defaults(&missing))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && !e.contains('\n'), "{e}");
        // A claimed run folder without a checkpoint yet.
        let run_dir = dir.path().join("r");
        let job = TrainJob::new(&TrainRequest::new_cell(
            format!("{ROOT}/envs/commons.toml").into(),
            format!("{ROOT}/agents/mixed.toml").into(),
            Vec::new(),
            1,
            1000,
            run_dir.clone(),
        ))
        .unwrap();
        drop(job.claim().unwrap());
        let key = |k: &str, v: &str| Override {
            key: k.into(),
            text: v.into(),
            value: toml::Value::String(v.into()),
        };
        let mut req = EvalRequest::defaults(&run_dir);
        req.sets = vec![key("train.seed", "3")];
        assert!(matches!(run(&req), Err(EvalError::TrainingKey(k)) if k == "train.seed"));
        let mut req = EvalRequest::defaults(&run_dir);
        req.strategies = strategies(None).unwrap();
        req.episodes = 1;
        assert!(matches!(run(&req), Err(EvalError::TooFewEpisodes(1))));
        req.episodes = 4;
        req.check_episodes = 5;
        let e = run(&req).unwrap_err().to_string();
        assert!(
            e.starts_with("--check-episodes 5: out of range (allowed: 2 to --episodes, 4)"),
            "{e}"
        );
        // Policies: without libtorch a clear error, with it the missing checkpoint.
        let e = run(&EvalRequest::defaults(&run_dir)).unwrap_err();
        if cfg!(feature = "torch") {
            assert!(matches!(e, EvalError::Act(_)), "{e}");
        } else {
            assert!(matches!(e, EvalError::NoTorch(_)), "{e}");
        }
        assert!(!run_dir.join(report::FILE).exists(), "nothing written");
    }
}
