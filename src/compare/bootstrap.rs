//! Percentile bootstrap intervals for a mean and for a difference of means.
//!
//! For a sample `x₁…xₙ`, draw `B` resamples of size `n` with replacement, take each resample's mean,
//! and report the 2.5th and 97.5th percentiles of those means. A difference of two runs evaluated on
//! the same seeds is *paired*: resample the per-episode differences `bᵢ − aᵢ`. Otherwise resample each
//! run on its own and take the difference of the two means. Draws come from a fixed-seed PCG, so the
//! same inputs always give the same interval.

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Resamples per interval.
pub const RESAMPLES: usize = 2000;

/// A point estimate with its bootstrap 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean of the sample (or difference of means).
    pub mean: f64,
    /// 2.5th percentile of the resampled means.
    pub lo: f64,
    /// 97.5th percentile of the resampled means.
    pub hi: f64,
    /// Number of values (pairs, for a paired difference; the smaller sample otherwise).
    pub n: usize,
}

/// Fewest values for which a difference is called significant: below this a percentile bootstrap's
/// interval is too narrow to trust (with one value it has zero width).
pub const MIN_N: usize = 5;

impl Estimate {
    /// Whether the interval excludes zero.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }

    /// Whether a difference is called real: its interval excludes zero and it rests on at least
    /// [`MIN_N`] values.
    pub fn significant(&self) -> bool {
        self.n >= MIN_N && self.excludes_zero()
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn resampled_mean(v: &[f64], rng: &mut rand_pcg::Pcg64) -> f64 {
    let n = v.len();
    (0..n).map(|_| v[rng.random_range(0..n)]).sum::<f64>() / n as f64
}

fn percentiles(mut means: Vec<f64>) -> (f64, f64) {
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    (at(0.025), at(0.975))
}

/// The mean of `v` with its bootstrap 95 % interval (None for an empty sample).
pub fn mean_ci(v: &[f64], seed: u64) -> Option<Estimate> {
    if v.is_empty() {
        return None;
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let means = (0..RESAMPLES)
        .map(|_| resampled_mean(v, &mut rng))
        .collect();
    let (lo, hi) = percentiles(means);
    Some(Estimate {
        mean: mean(v),
        lo,
        hi,
        n: v.len(),
    })
}

/// `mean(b) − mean(a)` with its bootstrap 95 % interval, resampling pairs `(aᵢ, bᵢ)` when `paired`
/// (same seeds, same order; episodes where either is missing are dropped), else each sample on its own.
pub fn difference_ci(
    a: &[Option<f64>],
    b: &[Option<f64>],
    paired: bool,
    seed: u64,
) -> Option<Estimate> {
    if paired && a.len() == b.len() {
        let d: Vec<f64> = a
            .iter()
            .zip(b)
            .filter_map(|(x, y)| Some((*y)? - (*x)?))
            .collect();
        return mean_ci(&d, seed);
    }
    let a: Vec<f64> = a.iter().flatten().copied().collect();
    let b: Vec<f64> = b.iter().flatten().copied().collect();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let diffs = (0..RESAMPLES)
        .map(|_| resampled_mean(&b, &mut rng) - resampled_mean(&a, &mut rng))
        .collect();
    let (lo, hi) = percentiles(diffs);
    Some(Estimate {
        mean: mean(&b) - mean(&a),
        lo,
        hi,
        n: a.len().min(b.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_brackets_the_mean_and_shrinks_with_more_data() {
        let small: Vec<f64> = (0..10).map(|i| (i % 5) as f64).collect();
        let large: Vec<f64> = (0..1000).map(|i| (i % 5) as f64).collect();
        let s = mean_ci(&small, 1).unwrap();
        let l = mean_ci(&large, 1).unwrap();
        assert!(s.lo <= s.mean && s.mean <= s.hi);
        assert!((l.mean - 2.0).abs() < 1e-12);
        assert!(l.hi - l.lo < (s.hi - s.lo) / 3.0);
        // A constant sample has a zero-width interval.
        let c = mean_ci(&[3.5; 7], 1).unwrap();
        assert_eq!((c.lo, c.mean, c.hi), (3.5, 3.5, 3.5));
        assert!(mean_ci(&[], 1).is_none());
    }

    #[test]
    fn pairing_removes_the_shared_episode_noise() {
        // Episode effects vary a lot; b is a + 1 in every episode.
        let a: Vec<Option<f64>> = (0..30).map(|i| Some((i * 37 % 100) as f64)).collect();
        let b: Vec<Option<f64>> = a.iter().map(|x| x.map(|v| v + 1.0)).collect();
        let paired = difference_ci(&a, &b, true, 7).unwrap();
        assert_eq!((paired.lo, paired.mean, paired.hi), (1.0, 1.0, 1.0));
        assert!(paired.excludes_zero());
        let unpaired = difference_ci(&a, &b, false, 7).unwrap();
        assert!((unpaired.mean - 1.0).abs() < 1e-9);
        assert!(!unpaired.excludes_zero(), "{unpaired:?}");
    }

    #[test]
    fn missing_episodes_are_dropped_pairwise() {
        let a = [Some(1.0), None, Some(3.0)];
        let b = [Some(2.0), Some(100.0), None];
        let d = difference_ci(&a, &b, true, 3).unwrap();
        assert_eq!((d.mean, d.n), (1.0, 1));
        let u = difference_ci(&a, &b, false, 3).unwrap();
        assert_eq!(u.mean, 51.0 - 2.0);
        assert!(difference_ci(&[None], &[Some(1.0)], false, 3).is_none());
    }

    #[test]
    fn the_same_inputs_give_the_same_interval() {
        let v: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
        assert_eq!(mean_ci(&v, 9), mean_ci(&v, 9));
    }
}
