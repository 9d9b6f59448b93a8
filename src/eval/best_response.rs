//! The best-response check of `commons eval --against-fixed`: how far each trained personality is from
//! the best fixed strategy of a library, with paired intervals.
//!
//! For personality P and strategy S, episode k (one held-out seed) gives P's mean return with the
//! trained policy, `t_k`, and with S playing every agent of P while the rest of the population plays
//! as trained, `f_k`. The **gap** of S is the mean of `d_k = t_k − f_k` (paired by seed) with the
//! interval `mean(d) ± t(1 − α/2m, n − 1) · sd(d) / √n`: Bonferroni over the m strategies, so the m
//! intervals hold together with probability ≥ 1 − α (95 %) and picking the best strategy afterwards does
//! not make warnings more likely. The **best fixed** strategy is the one with the smallest gap (the
//! highest return on the paired episodes); the trained policy is **beaten** when some strategy's gap
//! interval lies below zero. At least two paired episodes are needed for an interval.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files::{self, ReadError};
use super::samples::FixedSamples;
use crate::format::short;

/// File of the check, beside eval.json.
pub const FILE: &str = "best_response.json";

/// Family-wise error rate of the intervals of one personality.
pub const ALPHA: f64 = 0.05;

pub use crate::stats::Estimate;

/// One strategy against the trained policy of one personality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// The strategy.
    pub strategy: String,
    /// Its mean return per episode (at the simultaneous level).
    pub fixed: Estimate,
    /// The trained policy on the same (paired) episodes.
    pub trained: Estimate,
    /// Trained − fixed, paired by episode.
    pub gap: Estimate,
    /// Per head (trade, support, propose, exit): the share of its choices that the mask forbade and
    /// that fell back to the no-op.
    pub fallback_shares: [f64; 4],
}

/// One personality's check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalityCheck {
    /// The trained policy's mean return per episode, on the best strategy's paired episodes.
    pub trained: Estimate,
    /// The strategy with the smallest gap.
    pub best: String,
    /// Its result.
    pub best_fixed: Estimate,
    /// Trained − best fixed.
    pub gap: Estimate,
    /// Whether some strategy's gap interval lies below zero: it does better than the policy.
    pub beaten: bool,
    /// The strategies whose gap interval lies below zero, best first.
    pub beaten_by: Vec<String>,
    /// Every strategy, best (smallest gap) first.
    pub strategies: Vec<StrategyResult>,
}

/// `best_response.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestResponse {
    /// Checkpoint evaluated (its global step).
    pub checkpoint_step: u64,
    /// Episodes per strategy (episode k has seed `seed + k`, as in eval.json): the first of the
    /// evaluation's episodes (`commons eval --check-episodes`).
    pub episodes: u32,
    /// Seed of the first episode.
    pub seed: u64,
    /// Per personality, the intervals hold together with this probability (1 − [`ALPHA`]).
    pub level: f64,
    /// The strategies, with their descriptions.
    pub strategies: BTreeMap<String, String>,
    /// Per personality.
    pub personalities: BTreeMap<String, PersonalityCheck>,
    /// The per-episode returns behind it.
    pub samples: FixedSamples,
    /// The code it came from (None in files from before it was recorded).
    #[serde(default)]
    pub provenance: Option<crate::provenance::Provenance>,
}

impl BestResponse {
    /// The check of `samples` (strategies: name → description).
    pub fn of(
        samples: FixedSamples,
        strategies: BTreeMap<String, String>,
        checkpoint_step: u64,
        episodes: u32,
        seed: u64,
    ) -> Self {
        let mut personalities = BTreeMap::new();
        for (name, trained) in &samples.trained {
            let Some(fixed) = samples.fixed.get(name) else {
                continue;
            };
            let a = ALPHA / fixed.len().max(1) as f64;
            let mut rows = Vec::new();
            for (strategy, values) in fixed {
                let paired: Vec<(f64, f64)> = trained
                    .iter()
                    .zip(values)
                    .filter_map(|(t, f)| Some(((*t)?, (*f)?)))
                    .collect();
                let t: Vec<f64> = paired.iter().map(|p| p.0).collect();
                let f: Vec<f64> = paired.iter().map(|p| p.1).collect();
                let d: Vec<f64> = paired.iter().map(|p| p.0 - p.1).collect();
                let (Some(trained), Some(fixed), Some(gap)) = (
                    Estimate::t_interval(&t, a),
                    Estimate::t_interval(&f, a),
                    Estimate::t_interval(&d, a),
                ) else {
                    continue;
                };
                let fb = samples
                    .fallbacks
                    .get(name)
                    .and_then(|m| m.get(strategy))
                    .copied()
                    .unwrap_or_default();
                rows.push(StrategyResult {
                    strategy: strategy.clone(),
                    fixed,
                    trained,
                    gap,
                    fallback_shares: fb.shares(),
                });
            }
            rows.sort_by(|x, y| x.gap.mean.total_cmp(&y.gap.mean));
            let Some(best) = rows.first() else {
                continue;
            };
            let beaten_by: Vec<String> = rows
                .iter()
                .filter(|r| r.gap.hi < 0.0)
                .map(|r| r.strategy.clone())
                .collect();
            personalities.insert(
                name.clone(),
                PersonalityCheck {
                    trained: best.trained,
                    best: best.strategy.clone(),
                    best_fixed: best.fixed,
                    gap: best.gap,
                    beaten: !beaten_by.is_empty(),
                    beaten_by,
                    strategies: rows,
                },
            );
        }
        BestResponse {
            checkpoint_step,
            episodes,
            seed,
            level: 1.0 - ALPHA,
            strategies,
            personalities,
            samples,
            provenance: Some(crate::provenance::Provenance::current()),
        }
    }

    /// One line per personality that a fixed strategy beats.
    pub fn warnings(&self) -> Vec<String> {
        self.personalities
            .iter()
            .filter(|(_, c)| c.beaten)
            .map(|(name, c)| warning(name, c))
            .collect()
    }

    /// Whether it checked the evaluation `eval` describes (`checkpoint_step`, `episodes`, `seed` of an
    /// eval.json): the same checkpoint, on the first of its seeds — else it is left over from another one.
    pub fn matches(&self, checkpoint_step: u64, episodes: u32, seed: u64) -> bool {
        (self.checkpoint_step, self.seed) == (checkpoint_step, seed) && self.episodes <= episodes
    }

    /// Reads `dir/best_response.json`, or None when the run has none.
    pub fn read(dir: &Path) -> Result<Option<Self>, ReadError> {
        files::read_json_if_present(
            &dir.join(FILE),
            "a best_response.json of `commons eval --against-fixed`",
        )
    }
}

/// The warning for a beaten personality (the one text eval, compare and study reports print): the
/// strategy that beats it by most, and how many others do.
pub fn warning(personality: &str, c: &PersonalityCheck) -> String {
    let by = c
        .strategies
        .iter()
        .find(|r| r.gap.hi < 0.0)
        .unwrap_or(&c.strategies[0]);
    let others = match c.beaten_by.len() {
        0 | 1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    format!(
        "warning: trained {personality} agents are beaten by the fixed strategy `{}`{others} by {} return per agent (trained − fixed {}, 95 % simultaneous over {} strategies): train longer or change the reward",
        by.strategy,
        short(-by.gap.mean),
        by.gap.text(),
        c.strategies.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn samples(trained: Vec<f64>, fixed: Vec<(&str, Vec<f64>)>) -> FixedSamples {
        let mut s = FixedSamples::default();
        s.trained
            .insert("p".into(), trained.into_iter().map(Some).collect());
        for (name, v) in fixed {
            s.fixed
                .entry("p".into())
                .or_default()
                .insert(name.into(), v.into_iter().map(Some).collect());
        }
        s
    }

    #[test]
    fn a_check_matches_an_evaluation_whose_first_seeds_it_played() {
        let b = BestResponse::of(samples(vec![1.0, 2.0], vec![]), BTreeMap::new(), 512, 32, 7);
        assert!(b.matches(512, 32, 7) && b.matches(512, 128, 7));
        assert!(
            !b.matches(512, 16, 7),
            "the check played seeds the evaluation did not"
        );
        assert!(!b.matches(1024, 128, 7) && !b.matches(512, 128, 8));
    }

    #[test]
    fn the_gap_is_paired_by_episode() {
        // Episodes differ a lot, the difference is exactly 1 every time: a zero-width interval at 1,
        // although the two sides' own intervals overlap widely.
        let t: Vec<f64> = (0..10).map(|k| (k * k) as f64).collect();
        let f: Vec<f64> = t.iter().map(|x| x - 1.0).collect();
        let b = BestResponse::of(samples(t, vec![("s", f)]), BTreeMap::new(), 0, 10, 0);
        let c = &b.personalities["p"];
        assert_eq!((c.gap.mean, c.gap.lo, c.gap.hi), (1.0, 1.0, 1.0));
        assert!(
            c.best_fixed.hi > c.trained.lo,
            "the unpaired intervals overlap"
        );
        assert!(!c.beaten && b.warnings().is_empty());
        // Missing episodes on either side are left out of the pairs, the trained side's too.
        let mut s = samples(vec![1.0, 2.0, 3.0], vec![("s", vec![0.0, 0.0, 0.0])]);
        s.fixed.get_mut("p").unwrap().get_mut("s").unwrap()[1] = None;
        let c = BestResponse::of(s, BTreeMap::new(), 0, 3, 0).personalities["p"].clone();
        assert_eq!((c.gap.n, c.gap.mean, c.trained.mean), (2, 2.0, 2.0));
        assert_eq!(c.gap.mean, c.trained.mean - c.best_fixed.mean);
        // One paired episode is no interval: no check, rather than a false warning.
        let mut s = samples(vec![1.0, 2.0], vec![("s", vec![5.0, 5.0])]);
        s.fixed.get_mut("p").unwrap().get_mut("s").unwrap()[1] = None;
        let b = BestResponse::of(s, BTreeMap::new(), 0, 2, 0);
        assert!(b.personalities.is_empty() && b.warnings().is_empty());
    }

    #[test]
    fn the_best_strategy_and_the_warning_on_a_known_answer() {
        // Trained ~ N(0, 1) per episode; strategy "good" = trained + 0.5 + small noise (it beats the
        // policy by 0.5), "bad" = trained − 2.
        let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
        let noise = Normal::new(0.0, 0.1).unwrap();
        let t: Vec<f64> = (0..32).map(|_| noise.sample(&mut rng) * 10.0).collect();
        let good: Vec<f64> = t.iter().map(|x| x + 0.5 + noise.sample(&mut rng)).collect();
        let bad: Vec<f64> = t.iter().map(|x| x - 2.0).collect();
        let b = BestResponse::of(
            samples(t, vec![("bad", bad), ("good", good)]),
            BTreeMap::new(),
            0,
            32,
            0,
        );
        let c = &b.personalities["p"];
        assert_eq!(c.best, "good");
        assert!((c.gap.mean + 0.5).abs() < 0.06, "{:?}", c.gap);
        assert!(c.gap.hi < 0.0 && c.beaten);
        assert_eq!(c.strategies[1].strategy, "bad");
        assert!((c.strategies[1].gap.mean - 2.0).abs() < 1e-9);
        let w = b.warnings();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("beaten by the fixed strategy `good` by 0.5"),
            "{}",
            w[0]
        );
        assert!(w[0].contains("over 2 strategies"), "{}", w[0]);
    }

    #[test]
    fn simultaneous_intervals_keep_false_warnings_rare() {
        // Ten strategies exactly as good as the policy (no gap): with per-strategy 95 % intervals the
        // best of ten would often look significant; Bonferroni keeps the family-wise rate near 5 %.
        let mut rng = rand_pcg::Pcg32::seed_from_u64(11);
        let n = Normal::new(0.0, 1.0).unwrap();
        let mut warned = 0;
        let trials = 300;
        for _ in 0..trials {
            let t: Vec<f64> = (0..16).map(|_| n.sample(&mut rng)).collect();
            let fixed: Vec<(String, Vec<f64>)> = (0..10)
                .map(|j| {
                    (
                        format!("s{j}"),
                        t.iter().map(|x| x + n.sample(&mut rng)).collect(),
                    )
                })
                .collect();
            let fixed = fixed.iter().map(|(a, v)| (a.as_str(), v.clone())).collect();
            let b = BestResponse::of(samples(t, fixed), BTreeMap::new(), 0, 16, 0);
            warned += b.personalities["p"].beaten as usize;
        }
        let rate = warned as f64 / trials as f64;
        assert!(rate <= 0.06, "{rate}");
    }
}
