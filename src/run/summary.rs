//! `summary.json` of a training run: what `commons train` reports when it stops.

use serde::{Deserialize, Serialize};

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
    /// Where it came from: the code, the versions and the trained population (None in files from
    /// before it was recorded).
    #[serde(default)]
    pub provenance: Option<crate::provenance::Provenance>,
}
