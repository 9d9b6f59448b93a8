//! The learned best response of `commons eval --against-learned`: for a learned personality P, a new
//! policy trained in P's place against the frozen trained policies of everyone else, and how much more
//! it earns than the trained policy on the evaluation's held-out seeds (an approximate
//! exploitability, as in PSRO/OpenSpiel-style work). The fixed check ([`super::best_response`]) is a
//! lower bound over 15 hand-written rules; this one searches the whole policy space with PPO.
//!
//! Two deviations per personality ([`Deviation`]):
//! * **whole** — every agent of P plays the deviator: P's policy retrained from scratch, all other
//!   policies frozen;
//! * **unilateral** — in each episode one agent of P (its first hatcher, or its first arrival) plays
//!   the deviator while its peers keep P's trained policy: would one participant gain by playing
//!   differently? (the Nash question; [`crate::env::CommonsEnvConfig::deviant`]).
//!
//! The deviator has P's observation, reward, mask and PPO settings and learns for `steps` environment
//! steps under the evaluated scenario, from fresh weights (or, with a warm start, from P's), with its
//! own training seed. Its training episodes' seeds (SplitMix64 of that seed, [`training_base_seed`])
//! are checked to avoid every evaluation seed before it trains.
//!
//! It is then played on the evaluation's seeds, paired by seed with the trained policy in the same
//! role: episode k gives the trained return `t_k` and the deviator's `d_k` (whole: the mean over P's
//! agents; unilateral: the one deviating agent's return, and the same agent's under the trained
//! policy). The **gain** is the mean of `g_k = d_k − t_k` with the interval
//! `mean(g) ± t(1 − α/2m, n − 1) · sd(g) / √n`, Bonferroni over the m deviations of the
//! personality, as in the fixed check. P is **exploitable** when a gain's interval lies above zero;
//! by how much is stated per agent and relative to the trained return.
//!
//! Each deviation is an ordinary run folder, `RUN/deviations/<P>__<deviation>__seed<S>[__warm]`, with
//! `deviation.json` ([`DeviationSpec`]): a later call with the same spec reuses it instead of
//! retraining; one with another spec moves the old folder aside.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::files::{self, ReadError};
use super::play;
use super::policies::{Loaded, Loader};
use super::report::{BehaviourRates, EvalReport};
use super::EvalError;
use crate::env::commons_env::deviator_name;
use crate::env::episodes::AgentMeasure;
use crate::env::personality::ControllerKind;
use crate::env::vec_env::{episode_seed, training_base_seed};
use crate::env::CommonsEnvConfig;
use crate::format::short;
use crate::run::config::RunConfig;
use crate::run::folder::DEVIATIONS;
use crate::run::job::{ProgressView, TrainJob, Trainer};
use crate::run::training::MAX_TOTAL_STEPS;
use crate::scenario::Scenario;
pub use crate::stats::Estimate;

/// File of the check, beside eval.json and best_response.json.
pub const FILE: &str = "learned_response.json";
/// A deviation folder's record of what it trained.
pub const SPEC: &str = "deviation.json";
/// Family-wise error rate of one personality's intervals.
pub const ALPHA: f64 = 0.05;
/// Training steps of each deviator by default: enough for a whole-personality deviator to find what
/// an untrained population leaves on the table, and fewer than any preset's run, so that the two
/// deviations of each learned personality stay cheaper than the run they check (BENCHMARKS.md,
/// "The learned deviation").
pub const DEFAULT_STEPS: u64 = 100_000;
/// Offset of the deviators' default training seed from the run's own.
pub const SEED_OFFSET: u64 = 10_007;

/// Who plays the deviator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deviation {
    /// Every agent of the personality.
    Whole,
    /// One agent per episode; its peers keep the trained policy.
    Unilateral,
}

impl Deviation {
    /// Both, in the order they are trained and reported.
    pub const ALL: [Deviation; 2] = [Deviation::Whole, Deviation::Unilateral];

    /// Its name in files and folder names.
    pub fn name(self) -> &'static str {
        match self {
            Deviation::Whole => "whole",
            Deviation::Unilateral => "unilateral",
        }
    }

    /// What it asks, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Deviation::Whole => "every agent of the personality plays the deviator",
            Deviation::Unilateral => {
                "one agent per episode plays the deviator, its peers keep the trained policy"
            }
        }
    }
}

/// Everything that decides a deviator's weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviationSpec {
    /// The personality it replaces.
    pub personality: String,
    /// Who plays it.
    pub deviation: Deviation,
    /// Its training steps (environment steps, all environments together).
    pub steps: u64,
    /// Its training seed.
    pub seed: u64,
    /// Whether it started from the trained personality's weights.
    pub warm_start: bool,
    /// The run's checkpoint (global step) whose policies it played against.
    pub against_step: u64,
    /// The evaluation's scenario overrides it trained under.
    pub overrides: Vec<String>,
}

impl DeviationSpec {
    /// Its folder's name under `RUN/deviations/`.
    pub fn folder_name(&self) -> String {
        format!(
            "{}__{}__seed{}{}",
            self.personality,
            self.deviation.name(),
            self.seed,
            if self.warm_start { "__warm" } else { "" }
        )
    }
}

/// The per-episode returns behind a deviation's intervals (None: no agent in that role that
/// episode); episode k has seed `seed + k`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairedSamples {
    /// The trained policy in the role.
    pub trained: Vec<Option<f64>>,
    /// The deviator in the role.
    pub deviator: Vec<Option<f64>>,
}

/// One deviation's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviationResult {
    /// What was trained.
    #[serde(flatten)]
    pub spec: DeviationSpec,
    /// Its run folder, relative to the evaluated run's.
    pub folder: PathBuf,
    /// The trained policy's mean return per agent in the role, on the paired episodes.
    pub trained: Estimate,
    /// The deviator's.
    pub deviator: Estimate,
    /// Deviator − trained, paired by episode: what deviating earns.
    pub gain: Estimate,
    /// `gain.mean / |trained.mean|` (None when the trained return is 0).
    pub relative_gain: Option<f64>,
    /// Whether the gain's interval lies above zero.
    pub exploitable: bool,
    /// What the trained policy does in the role (shares of days).
    pub trained_behaviour: BehaviourRates,
    /// What the deviator does instead.
    pub deviator_behaviour: BehaviourRates,
    /// Seconds its training took (when it was trained, not reused: the same as then).
    pub train_seconds: f64,
    /// The per-episode returns.
    pub samples: PairedSamples,
}

/// `learned_response.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnedResponse {
    /// Checkpoint evaluated (its global step).
    pub checkpoint_step: u64,
    /// Paired episodes per deviation: the evaluation's (episode k has seed `seed + k`).
    pub episodes: u32,
    /// Seed of the first episode.
    pub seed: u64,
    /// Per personality, the intervals hold together with this probability (1 − [`ALPHA`]).
    pub level: f64,
    /// The evaluated run's own training time (its summary.json's wall_seconds), for the cost.
    pub run_train_seconds: Option<f64>,
    /// Every deviation, personality by personality.
    pub deviations: Vec<DeviationResult>,
    /// Where it came from: the code, the versions and the evaluated population.
    #[serde(default)]
    pub provenance: Option<crate::provenance::Provenance>,
}

impl LearnedResponse {
    /// One line per deviation that earns significantly more than the trained policy.
    pub fn warnings(&self) -> Vec<String> {
        self.deviations
            .iter()
            .filter(|d| d.exploitable)
            .map(warning)
            .collect()
    }

    /// Whether it checked the evaluation `eval` describes (as [`super::BestResponse::matches`]).
    pub fn matches(&self, checkpoint_step: u64, episodes: u32, seed: u64) -> bool {
        (self.checkpoint_step, self.seed) == (checkpoint_step, seed) && self.episodes <= episodes
    }

    /// Seconds of training all its deviators took.
    pub fn train_seconds(&self) -> f64 {
        self.deviations.iter().map(|d| d.train_seconds).sum()
    }

    /// Reads `dir/learned_response.json`, or None when the run has none.
    pub fn read(dir: &Path) -> Result<Option<Self>, ReadError> {
        files::read_json_if_present(
            &dir.join(FILE),
            "a learned_response.json of `commons eval --against-learned`",
        )
    }
}

/// The warning for an exploitable deviation (the one text eval and study reports print).
pub fn warning(d: &DeviationResult) -> String {
    let rel = d
        .relative_gain
        .map(|r| format!(", {:.0} % of its return", 100.0 * r))
        .unwrap_or_default();
    format!(
        "warning: trained {} agents are exploitable: a {} deviator ({} steps) earns {} more return per agent{rel} (deviator − trained {}, 95 % simultaneous): train longer or change the reward",
        d.spec.personality,
        d.spec.deviation.name(),
        d.spec.steps,
        short(d.gain.mean),
        d.gain.text()
    )
}

/// The trained and deviator returns and the gain (deviator − trained) of paired episodes at error
/// rate `a`; episodes missing on either side are left out. None below two pairs.
pub fn gain(
    trained: &[Option<f64>],
    deviator: &[Option<f64>],
    a: f64,
) -> Option<(Estimate, Estimate, Estimate)> {
    let pairs: Vec<(f64, f64)> = trained
        .iter()
        .zip(deviator)
        .filter_map(|(t, d)| Some(((*t)?, (*d)?)))
        .collect();
    let t: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let d: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let g: Vec<f64> = pairs.iter().map(|p| p.1 - p.0).collect();
    Some((
        Estimate::t_interval(&t, a)?,
        Estimate::t_interval(&d, a)?,
        Estimate::t_interval(&g, a)?,
    ))
}

/// What `--against-learned` is asked to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnedRequest {
    /// Only this learned personality (`--personality`); None: every learned one.
    pub personality: Option<String>,
    /// Training steps per deviator (`--steps`); None: [`DEFAULT_STEPS`].
    pub steps: Option<u64>,
    /// The deviators' training seed (`--deviation-seed`); None: the run's seed + [`SEED_OFFSET`].
    pub seed: Option<u64>,
    /// Start from the trained personality's weights (`--warm-start`) instead of from scratch.
    pub warm_start: bool,
}

/// The learned personalities `req` deviates, checked before anything is played: one line naming the
/// flag when there are none, when `--personality` names another, or when `--steps` is out of range.
pub fn targets(
    env_cfg: &CommonsEnvConfig,
    req: &LearnedRequest,
    config: &Path,
) -> Result<Vec<String>, EvalError> {
    if let Some(n) = req.steps {
        if !(1..=MAX_TOTAL_STEPS).contains(&n) {
            return Err(EvalError::Learned(format!(
                "--steps {n}: out of range (allowed: 1 to {MAX_TOTAL_STEPS} training steps per deviator)"
            )));
        }
    }
    let learned: Vec<String> = env_cfg
        .population
        .iter()
        .filter(|e| e.controller == ControllerKind::Learned)
        .map(|e| e.personality.name.clone())
        .collect();
    if learned.is_empty() {
        return Err(EvalError::Learned(format!(
            "--against-learned: {}: the population has no learned personality (its policies are frozen or fixed), so there is no trained policy to deviate from",
            config.display()
        )));
    }
    match &req.personality {
        None => Ok(learned),
        Some(p) if learned.contains(p) => Ok(vec![p.clone()]),
        Some(p) => Err(EvalError::Learned(format!(
            "--personality {p}: not a learned personality of this run (allowed: {})",
            learned.join(", ")
        ))),
    }
}

/// Everything a learned check needs from the evaluation around it.
pub struct Context<'a> {
    /// The run folder.
    pub run_dir: &'a Path,
    /// Its settings.
    pub cfg: &'a RunConfig,
    /// The evaluated scenario (the run's, with the evaluation's overrides).
    pub scenario: &'a Scenario,
    /// Its environment.
    pub env_cfg: &'a CommonsEnvConfig,
    /// The run's trained policies.
    pub trained: &'a Loaded,
    /// The evaluation they just played (its trained side is the whole deviation's trained side).
    pub report: &'a EvalReport,
    /// The evaluation's episodes and first seed.
    pub episodes: u32,
    /// Seed of the first episode.
    pub seed: u64,
    /// The evaluation's `--set` texts.
    pub overrides: Vec<String>,
    /// Say what is done on stderr, with progress bars.
    pub announce: bool,
    /// Go ahead even when the training time estimate exceeds a day.
    pub ignore_time_limit: bool,
}

/// The deviation's training job: the run's settings under the evaluated scenario, every policy but the
/// deviator frozen from the run's latest checkpoint.
fn job(ctx: &Context, spec: &DeviationSpec, dir: PathBuf) -> Result<TrainJob, EvalError> {
    let run = std::path::absolute(ctx.run_dir).map_err(|cause| EvalError::Remove {
        path: ctx.run_dir.to_path_buf(),
        cause,
    })?;
    let p = &spec.personality;
    let unilateral = spec.deviation == Deviation::Unilateral;
    let learner = if unilateral {
        deviator_name(p)
    } else {
        p.clone()
    };
    let mut cfg = ctx.cfg.clone();
    cfg.scenario = ctx.scenario.clone();
    cfg.training.population = None;
    cfg.training.train.seed = spec.seed;
    cfg.training.train.total_steps = spec.steps;
    if unilateral {
        let ppo = cfg.training.ppo_for(p).clone();
        cfg.training.policies.insert(learner.clone(), ppo);
    }
    let mut env = ctx.env_cfg.clone();
    env.deviant = unilateral.then(|| p.clone());
    let mut frozen = Vec::new();
    for (i, e) in env.population.iter_mut().enumerate() {
        if !e.controller.is_policy() || (e.personality.name == *p && !unilateral) {
            continue;
        }
        e.controller = ControllerKind::Frozen;
        e.checkpoint = Some(run.clone());
        if let Some(raw) = cfg.scenario.population.get_mut(i) {
            raw.controller = ControllerKind::Frozen;
            raw.checkpoint = Some(run.clone());
        }
        frozen.push((e.personality.name.clone(), run.clone()));
    }
    let warm_start = if spec.warm_start {
        vec![(learner, p.clone(), run.clone())]
    } else {
        Vec::new()
    };
    Ok(TrainJob {
        overwrite: dir.exists(),
        run_dir: dir,
        cfg,
        resume: false,
        env: Some(env),
        frozen,
        warm_start,
        stop_after: None,
    })
}

/// Refuses a training seed one of whose training episodes would play an evaluation seed.
fn check_seeds(job: &TrainJob, ctx: &Context) -> Result<(), EvalError> {
    let t = &job.cfg.training.train;
    let days = u64::from(job.cfg.scenario.model.simulation.days.max(1));
    let per_update = (t.num_envs * t.num_steps) as u64;
    let steps_per_env = t.total_steps.div_ceil(per_update) * t.num_steps as u64;
    let episodes_per_env = steps_per_env / days + 1;
    let base = training_base_seed(t.seed);
    let eval = ctx.seed..ctx.seed.saturating_add(u64::from(ctx.episodes));
    for i in 0..t.num_envs {
        for e in 0..=episodes_per_env {
            if eval.contains(&episode_seed(base, i, e)) {
                return Err(EvalError::Learned(format!(
                    "--deviation-seed {}: a training episode of the deviator would play evaluation seed {} (allowed: a seed whose training episodes avoid seeds {}..{}); choose another",
                    t.seed,
                    episode_seed(base, i, e),
                    eval.start,
                    eval.end
                )));
            }
        }
    }
    Ok(())
}

/// What a learned check reads of a run's summary.json (whose other fields may hold nulls).
#[derive(Deserialize)]
struct SummaryHead {
    wall_seconds: f64,
    #[serde(default)]
    interrupted: bool,
}

fn summary_head(dir: &Path) -> Option<SummaryHead> {
    files::read_json(&dir.join(crate::run::files::SUMMARY), "a summary.json").ok()
}

/// The training seconds of the deviation in `dir` when it was trained to the end with `spec`.
fn reusable(dir: &Path, spec: &DeviationSpec) -> Option<f64> {
    let old: DeviationSpec = files::read_json(&dir.join(SPEC), "a deviation.json").ok()?;
    let summary = summary_head(dir)?;
    (old == *spec && !summary.interrupted).then_some(summary.wall_seconds)
}

/// Trains (or reuses) and plays every deviation of `targets`, and returns the check (not yet
/// written). `trainer` trains the deviators.
pub fn check(
    ctx: &Context,
    req: &LearnedRequest,
    targets: &[String],
    trainer: &dyn Trainer,
) -> Result<LearnedResponse, EvalError> {
    use crate::run::work;
    let steps = req.steps.unwrap_or(DEFAULT_STEPS);
    let seed = req
        .seed
        .unwrap_or(ctx.cfg.training.train.seed.wrapping_add(SEED_OFFSET));
    let specs: Vec<DeviationSpec> = targets
        .iter()
        .flat_map(|p| {
            Deviation::ALL.map(|deviation| DeviationSpec {
                personality: p.clone(),
                deviation,
                steps,
                seed,
                warm_start: req.warm_start,
                against_step: ctx.trained.step,
                overrides: ctx.overrides.clone(),
            })
        })
        .collect();
    let deviations = ctx.run_dir.join(DEVIATIONS);
    let mut jobs = Vec::with_capacity(specs.len());
    for spec in &specs {
        let j = job(ctx, spec, deviations.join(spec.folder_name()))?;
        check_seeds(&j, ctx)?;
        let reuse = reusable(&j.run_dir, spec);
        jobs.push((j, reuse));
    }
    let to_train = jobs.iter().filter(|(_, r)| r.is_none()).count() as u64;
    let model = &ctx.scenario.model;
    work::Work {
        what: format!("training {to_train} learned deviators of {steps} steps"),
        knobs: "--steps or --personality",
        agent_days: work::agent_days_of_steps(model, (to_train * steps) as f64),
        seconds_per_agent_day: work::TRAIN_SECONDS,
        threads: rayon::current_num_threads(),
    }
    .check(work::TRAIN_LIMIT, ctx.ignore_time_limit)?;
    let mut raw = Vec::with_capacity(jobs.len());
    for (k, ((j, reuse), spec)) in jobs.into_iter().zip(&specs).enumerate() {
        let seconds = match reuse {
            Some(s) => {
                if ctx.announce {
                    eprintln!(
                        "deviation {}/{}: {} {} — reusing {} (trained with the same settings)",
                        k + 1,
                        specs.len(),
                        spec.personality,
                        spec.deviation.name(),
                        j.run_dir.display()
                    );
                }
                s
            }
            None => {
                if ctx.announce {
                    eprintln!(
                        "deviation {}/{}: {} {} ({}): training {steps} steps into {}...",
                        k + 1,
                        specs.len(),
                        spec.personality,
                        spec.deviation.name(),
                        spec.deviation.describe(),
                        j.run_dir.display()
                    );
                }
                let view = if ctx.announce {
                    ProgressView::Bar
                } else {
                    ProgressView::Hidden
                };
                let s = trainer
                    .train(&j, view, Arc::new(AtomicBool::new(false)))
                    .map_err(|e| {
                        EvalError::Learned(format!(
                            "{}: training the deviator failed: {e}",
                            j.run_dir.display()
                        ))
                    })?;
                crate::run::files::write_json(&j.run_dir, SPEC, spec)?;
                s.wall_seconds
            }
        };
        let env = j.env.as_ref().ok_or_else(|| {
            EvalError::MissingSeries(format!("environment of {}", j.run_dir.display()))
        })?;
        let dev = Loader::new(&j.run_dir, ctx.cfg.run.device)?.load(env, &j.cfg.training)?;
        let p = ctx
            .trained
            .names
            .iter()
            .position(|n| *n == spec.personality)
            .ok_or_else(|| EvalError::MissingSeries(spec.personality.clone()))?;
        let n = ctx.trained.names.len();
        let b = super::episode_bar(ctx.announce, "deviation");
        let (trained, deviator) = match spec.deviation {
            Deviation::Whole => {
                b.set_length(u64::from(ctx.episodes));
                let all: Vec<usize> = (0..n).collect();
                let d = play::returns(env, &dev.actors, &all, ctx.episodes, ctx.seed, &b)?;
                (evaluated(ctx.report, &spec.personality)?, pick(&d, p)?)
            }
            Deviation::Unilateral => {
                b.set_length(2 * u64::from(ctx.episodes));
                // The trained side: the deviant's slot played by the trained policy of its personality.
                let mut slots: Vec<usize> = (0..n).collect();
                slots.push(p);
                let t =
                    play::returns(env, &ctx.trained.actors, &slots, ctx.episodes, ctx.seed, &b)?;
                let all: Vec<usize> = (0..=n).collect();
                let d = play::returns(env, &dev.actors, &all, ctx.episodes, ctx.seed, &b)?;
                (pick(&t, n)?, pick(&d, n)?)
            }
        };
        b.finish_and_clear();
        raw.push((spec.clone(), j.run_dir, seconds, trained, deviator));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (spec, dir, seconds, (t_samples, t_beh), (d_samples, d_beh)) in raw {
        let m = specs
            .iter()
            .filter(|s| s.personality == spec.personality)
            .count()
            .max(1);
        let Some((trained, deviator, gain)) = gain(&t_samples, &d_samples, ALPHA / m as f64) else {
            return Err(EvalError::Learned(format!(
                "--against-learned: fewer than 2 of the {} episodes had a {} agent in the {} deviation's role (allowed: --episodes large enough for 2)",
                ctx.episodes,
                spec.personality,
                spec.deviation.name()
            )));
        };
        out.push(DeviationResult {
            folder: dir
                .strip_prefix(ctx.run_dir)
                .map(Path::to_path_buf)
                .unwrap_or(dir.clone()),
            relative_gain: (trained.mean != 0.0).then(|| gain.mean / trained.mean.abs()),
            exploitable: gain.lo > 0.0,
            trained,
            deviator,
            gain,
            trained_behaviour: t_beh,
            deviator_behaviour: d_beh,
            train_seconds: seconds,
            samples: PairedSamples {
                trained: t_samples,
                deviator: d_samples,
            },
            spec,
        });
    }
    let run_train_seconds = summary_head(ctx.run_dir).map(|s| s.wall_seconds);
    Ok(LearnedResponse {
        checkpoint_step: ctx.trained.step,
        episodes: ctx.episodes,
        seed: ctx.seed,
        level: 1.0 - ALPHA,
        run_train_seconds,
        deviations: out,
        provenance: Some(crate::provenance::Provenance::of(&ctx.env_cfg.population)),
    })
}

/// The evaluation's own trained side for `personality` (the same actors on the same seeds, so not
/// played again): its per-episode returns and behaviour.
fn evaluated(
    report: &EvalReport,
    personality: &str,
) -> Result<(Vec<Option<f64>>, BehaviourRates), EvalError> {
    let missing = || EvalError::MissingSeries(format!("{personality}/return"));
    let returns = report
        .samples
        .trained
        .personalities
        .get(personality)
        .and_then(|m| m.get(AgentMeasure::Return.name()))
        .ok_or_else(missing)?;
    let behaviour = report.personalities.get(personality).ok_or_else(missing)?;
    Ok((returns.clone(), behaviour.behaviour))
}

/// Policy `k`'s per-episode returns and behaviour.
fn pick(r: &play::Returns, k: usize) -> Result<(Vec<Option<f64>>, BehaviourRates), EvalError> {
    match (r.returns.get(k), r.behaviour.get(k)) {
        (Some(v), Some(b)) => Ok((v.clone(), *b)),
        _ => Err(EvalError::MissingSeries(format!("policy {k}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gain_is_deviator_minus_trained_paired_by_episode() {
        let t: Vec<Option<f64>> = (0..10).map(|k| Some((k * k) as f64)).collect();
        let d: Vec<Option<f64>> = t.iter().map(|x| x.map(|x| x + 2.0)).collect();
        let (tr, de, g) = gain(&t, &d, 0.05).unwrap();
        assert_eq!((g.mean, g.lo, g.hi), (2.0, 2.0, 2.0));
        assert!(de.lo < tr.hi, "the unpaired intervals overlap");
        // A missing episode on either side leaves the pair out.
        let mut d2 = d.clone();
        d2[3] = None;
        assert_eq!(gain(&t, &d2, 0.05).unwrap().2.n, 9);
        assert!(
            gain(&t[..1], &d[..1], 0.05).is_none(),
            "one pair is no interval"
        );
    }

    #[test]
    fn a_run_without_a_learned_personality_is_refused_naming_the_flag() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("envs/commons.toml");
        let mut cfg = crate::scenario::load_env(&path).unwrap();
        let learned =
            targets(&cfg, &LearnedRequest::default(), Path::new("r/config.toml")).unwrap();
        assert!(!learned.is_empty());
        for e in &mut cfg.population {
            if e.controller == ControllerKind::Learned {
                e.controller = ControllerKind::Frozen;
            }
        }
        let e = targets(&cfg, &LearnedRequest::default(), Path::new("r/config.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--against-learned: r/config.toml")
                && e.contains("no learned personality"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn folder_names_say_what_was_trained() {
        let mut s = DeviationSpec {
            personality: "profit-seeker".into(),
            deviation: Deviation::Unilateral,
            steps: 10,
            seed: 3,
            warm_start: false,
            against_step: 0,
            overrides: vec![],
        };
        assert_eq!(s.folder_name(), "profit-seeker__unilateral__seed3");
        s.warm_start = true;
        s.deviation = Deviation::Whole;
        assert_eq!(s.folder_name(), "profit-seeker__whole__seed3__warm");
    }
}
