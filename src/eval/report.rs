//! `eval.json`: what `commons eval` found, written by [`EvalReport::write`] and read back (by
//! `commons compare`, a study's cell state and its report) with [`EvalHead::read`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{self, ReadError};
use super::samples::EvalSamples;
use crate::env::episodes::COMPONENTS;
pub use crate::stats::Interval;

/// File name of the report in a run folder.
pub const FILE: &str = crate::run::files::EVAL;

/// Share of a personality's actions of each kind.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BehaviourRates {
    /// Buys.
    pub buy: f64,
    /// Sells.
    pub sell: f64,
    /// Stakes by affinity or on a slot.
    pub stake: f64,
    /// Proposes (when asked).
    pub propose: f64,
    /// Leaves.
    pub exit: f64,
}

/// A measure of trained agents against scripted agents in the same roles.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// Trained policy: mean over episodes of the per-agent mean.
    pub trained: Interval,
    /// Scripted participants in the same roles, same seeds.
    pub scripted: Interval,
    /// `trained.mean − scripted.mean`.
    pub difference: f64,
    /// Whether the two 95 % intervals do not overlap.
    pub separated: bool,
}

impl Comparison {
    /// Compares per-episode values.
    pub fn of(trained: &[f64], scripted: &[f64]) -> Self {
        let (t, s) = (Interval::of(trained), Interval::of(scripted));
        Comparison {
            trained: t,
            scripted: s,
            difference: t.mean - s.mean,
            separated: t.separated_from(&s),
        }
    }
}

/// One personality's evaluation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PersonalityEval {
    /// Mean over episodes of the mean return of its agents (trained policy).
    pub mean_return: f64,
    /// 95 % half-width of `mean_return`.
    pub ci95: f64,
    /// The same for scripted participants in the same roles.
    pub baseline_mean_return: f64,
    /// 95 % half-width of `baseline_mean_return`.
    pub baseline_ci95: f64,
    /// Whether the two 95 % intervals do not overlap.
    pub separated: bool,
    /// Net worth in DAI when the agent left (or at the horizon) minus its net worth when it joined.
    pub net_worth_gain: Comparison,
    /// The agent's `impact` reward component summed over its life: affinity-weighted funds of the
    /// proposals that became active or completed while it was there, / 10 % of the initial funding pool.
    pub impact: Comparison,
    /// Mean per-agent reward components summed over each agent's life (trained), in
    /// [`crate::env::personality::Component::ALL`] order: wealth, impact, authorship, sentiment, backing.
    pub components: [f64; COMPONENTS],
    /// The same for the baseline.
    pub baseline_components: [f64; COMPONENTS],
    /// Share of own staked tokens on the favourite candidate
    /// ([`super::samples::STAKE_MEASURE`]), trained against the reference's rule in the same roles.
    pub stake_on_favourite: Comparison,
    /// What the trained agents did.
    pub behaviour: BehaviourRates,
    /// Share of the trained agents' daily choices per bin of each action head (`trade`, `support`,
    /// `propose`, `exit`; bins as in docs/environment.md). `propose` can only be "no" on days the world
    /// does not ask the agent.
    pub action_shares: BTreeMap<String, Vec<f64>>,
}

/// `eval.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvalReport {
    /// Checkpoint evaluated (its global step).
    pub checkpoint_step: u64,
    /// Episodes per side.
    pub episodes: u32,
    /// Seed of the first episode (episode k uses seed + k).
    pub seed: u64,
    /// Scenario overrides of this evaluation (`commons eval --set`), on top of the run's scenario.
    pub overrides: Vec<String>,
    /// Per personality.
    pub personalities: BTreeMap<String, PersonalityEval>,
    /// Final Commons metrics with trained policies.
    pub outcomes: BTreeMap<String, Interval>,
    /// Final Commons metrics with scripted participants in the same roles.
    pub baseline_outcomes: BTreeMap<String, Interval>,
    /// Per-episode values behind the intervals (read by `commons compare`).
    pub samples: EvalSamples,
    /// Where it came from: the code, the versions and the evaluated population (None in files from
    /// before it was recorded).
    #[serde(default)]
    pub provenance: Option<crate::provenance::Provenance>,
}

impl EvalReport {
    /// Writes `run_dir/eval.json` atomically; returns its path.
    pub fn write(&self, run_dir: &Path) -> Result<PathBuf, crate::run::files::WriteError> {
        crate::run::files::write_json(run_dir, FILE, self)
    }
}

/// What every reader needs of an `eval.json`, read tolerantly: files of older versions may lack the
/// per-episode samples (then `samples` is None) or fields added since.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct EvalHead {
    /// Checkpoint evaluated (None in files that lack it).
    #[serde(default)]
    pub checkpoint_step: Option<u64>,
    /// Episodes per side.
    pub episodes: u32,
    /// Seed of the first episode.
    pub seed: u64,
    /// Scenario overrides of the evaluation.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Per-episode samples (None in files of older versions).
    #[serde(default)]
    pub samples: Option<EvalSamples>,
    /// Where it came from (None in files of older versions).
    #[serde(default)]
    pub provenance: Option<crate::provenance::Provenance>,
}

impl EvalHead {
    /// Reads `path` (an `eval.json`).
    pub fn read(path: &Path) -> Result<Self, ReadError> {
        files::read_json(path, "an eval.json of `commons eval`")
    }

    /// Reads `run_dir/eval.json`, or None when the run has none (or it cannot be read).
    pub fn of_run(run_dir: &Path) -> Option<Self> {
        Self::read(&run_dir.join(FILE)).ok()
    }
}
