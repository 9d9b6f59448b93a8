//! The per-episode samples behind an evaluation's intervals, as `eval.json` (section `samples`) and
//! `best_response.json` hold them and `commons compare` and study reports read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Unit of the behaviour rates.
pub const BEHAVIOUR_UNIT: &str = "share of days";
/// The staking measure of an evaluation (both sides): per episode, the mean over the personality's
/// agent-days with a stake of the share of its staked tokens on its favourite candidate (the one it
/// has the highest affinity to, observation slot 0). 1: everything on the favourite; the reference's
/// "by affinity" rule splits by affinity above a cutoff.
pub const STAKE_MEASURE: &str = "stake_on_favourite";
/// Unit of [`STAKE_MEASURE`].
pub const STAKE_MEASURE_UNIT: &str = "share of own stake";

/// Per action head, per bin: one value per episode (`None` where the episode had no choice).
pub type HeadShares = BTreeMap<String, Vec<Vec<Option<f64>>>>;

/// Per-episode values of one side of an evaluation (trained or scripted).
/// `None` where an episode had no agent of that personality (or, for behaviour, no action).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SideSamples {
    /// Per personality, per measure (`return`, `net_worth_gain`, `impact`, and for trained policies the
    /// behaviour rates `buy`, `sell`, `stake`, `propose`, `exit`): one value per episode.
    pub personalities: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>>,
    /// Final Commons metrics (keys as in `commons simulate`), one value per episode.
    pub outcomes: BTreeMap<String, Vec<f64>>,
    /// Trained policies only: per personality, per action head, per bin, one value per episode: the
    /// share of the personality's daily choices on that head that picked the bin (its behaviour
    /// fingerprint; `None` where an episode had no choice). Empty in files from before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shares: BTreeMap<String, HeadShares>,
}

/// The per-episode samples behind `eval.json`'s intervals.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EvalSamples {
    /// Trained policies.
    pub trained: SideSamples,
    /// Scripted participants in the same roles.
    pub scripted: SideSamples,
}

/// The per-episode returns behind a best-response check (`commons eval --against-fixed`): every learned
/// personality replaced in turn by every fixed strategy, on the evaluation's seeds, the rest of the
/// population as trained. `None` where an episode had no agent of the personality.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FixedSamples {
    /// Per personality: the trained policy's per-episode mean return (the trained side's `return`).
    pub trained: BTreeMap<String, Vec<Option<f64>>>,
    /// Per personality, per strategy: the per-episode mean return of the personality's agents when
    /// the strategy plays them.
    pub fixed: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>>,
    /// Per personality, per strategy: `[decisions, masked trade, support, propose, exit]`, the choices
    /// that the mask forbade and that fell back to the head's no-op.
    pub fallbacks: BTreeMap<String, BTreeMap<String, FallbackCounts>>,
}

/// A fixed strategy's choices that the mask forbade and that fell back to the head's no-op; in files
/// the array `[decisions, masked trade, support, propose, exit]`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "[u64; 5]", into = "[u64; 5]")]
pub struct FallbackCounts {
    /// Decisions taken (agent-days).
    pub decisions: u64,
    /// Per head ([`crate::env::actions::HEADS`] order): the masked choices.
    pub masked: [u64; 4],
}

impl FallbackCounts {
    /// Per head: the share of the decisions that were masked (0 without decisions).
    pub fn shares(&self) -> [f64; 4] {
        let decisions = self.decisions.max(1) as f64;
        self.masked.map(|m| m as f64 / decisions)
    }
}

impl From<[u64; 5]> for FallbackCounts {
    fn from(a: [u64; 5]) -> Self {
        FallbackCounts {
            decisions: a[0],
            masked: [a[1], a[2], a[3], a[4]],
        }
    }
}

impl From<FallbackCounts> for [u64; 5] {
    fn from(f: FallbackCounts) -> Self {
        [
            f.decisions,
            f.masked[0],
            f.masked[1],
            f.masked[2],
            f.masked[3],
        ]
    }
}

impl From<crate::env::strategy::Fallbacks> for FallbackCounts {
    fn from(f: crate::env::strategy::Fallbacks) -> Self {
        FallbackCounts {
            decisions: f.decisions,
            masked: f.masked,
        }
    }
}

impl std::ops::AddAssign for FallbackCounts {
    fn add_assign(&mut self, other: Self) {
        self.decisions += other.decisions;
        for (total, m) in self.masked.iter_mut().zip(other.masked) {
            *total += m;
        }
    }
}
