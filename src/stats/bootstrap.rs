//! Percentile bootstrap intervals for a mean and for a difference of means.
//!
//! For a sample `x₁…xₙ`, draw `B` resamples of size `n` with replacement, take each resample's mean,
//! and report the 2.5th and 97.5th percentiles of those means. A difference of two runs evaluated on
//! the same seeds is *paired*: resample the per-episode differences `bᵢ − aᵢ`. Otherwise resample each
//! run on its own and take the difference of the two means. Draws come from a fixed-seed PCG, so the
//! same inputs always give the same interval.
//!
//! **Two levels** (a study: several training seeds, each evaluated on the same episodes): the estimate
//! is the mean over training seeds of each seed's mean over episodes, and a resample draws training
//! seeds with replacement, then episodes with replacement ([`hierarchical_mean_ci`]), so the interval
//! includes the variation between training runs, not only between episodes. For a difference between
//! two variants ([`hierarchical_difference_ci`]) each resample draws one set of episodes for both
//! (they were played on the same seeds: paired) and each variant's training seeds on their own.

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::student_t::{student_t_cdf, student_t_quantile};
use super::{Estimate, MeanSd};

/// Resamples per interval.
pub const RESAMPLES: usize = 2000;

/// Fewest values for which a difference is called significant: below this a percentile bootstrap's
/// interval is too narrow to trust (with one value it has zero width).
pub const MIN_N: usize = 5;

fn mean(v: &[f64]) -> f64 {
    MeanSd::sample(v).mean
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

/// A two-level estimate: the mean over training seeds of the per-seed means over episodes, with a 95 %
/// interval `mean ± t · se` whose standard error comes from the hierarchical bootstrap.
///
/// A percentile bootstrap over few training seeds is too narrow (with 2 or 3 seeds it calls a third
/// of null differences real), so the bootstrap only measures the spread: its standard deviation,
/// scaled by `√(S/(S−1))` (a bootstrap over `S` values underestimates the variance by `(S−1)/S`), is
/// the standard error, and the interval uses Student's `t` with `df` degrees of freedom (`S − 1` for a
/// mean, `S_a + S_b − 2` for a difference). Values that do not depend on the training seed (scripted
/// participants: identical rows for every seed) are one level: episodes, with `E − 1` degrees of
/// freedom.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TwoLevel {
    /// The estimate (or difference of estimates).
    pub mean: f64,
    /// Lower end of the 95 % interval.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Standard error (from the bootstrap, small-sample corrected).
    pub se: f64,
    /// Degrees of freedom of the interval's `t`.
    pub df: f64,
    /// Two-sided p-value of "no difference" (`t = mean / se`); for a single estimate, of "zero".
    pub p: f64,
    /// The Benjamini–Hochberg adjusted p-value among all differences of a report (None: not adjusted).
    pub q: Option<f64>,
    /// Training seeds with at least one value (the fewer of the two sides, for a difference).
    pub seeds: usize,
    /// Episodes with a value, summed over those seeds (the fewer of the two sides).
    pub values: usize,
    /// The values did not depend on the training seed (every seed's row identical): the interval is
    /// over episodes only.
    pub seed_free: bool,
}

/// Significance level of intervals and findings.
pub const ALPHA: f64 = 0.05;

impl TwoLevel {
    /// Whether the interval excludes zero.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }

    /// Whether a difference is called real: its interval excludes zero (and, after a report's
    /// Benjamini–Hochberg adjustment, its q-value is at most [`ALPHA`]), it rests on at least
    /// [`MIN_N`] values and, unless the values do not depend on the training seed, on at least two
    /// training seeds per side (else the variation between training runs is unknown).
    pub fn significant(&self) -> bool {
        (self.seed_free || self.seeds >= 2)
            && self.values >= MIN_N
            && self.excludes_zero()
            && self.q.is_none_or(|q| q <= ALPHA)
    }
}

/// Mean over the chosen `seeds` (rows of `groups`) of each one's mean over the chosen `episodes`
/// (columns; a missing value is skipped, a seed without any value is left out); None if no value.
fn two_level_mean(groups: &[Vec<Option<f64>>], seeds: &[usize], episodes: &[usize]) -> Option<f64> {
    let (mut total, mut n) = (0.0, 0usize);
    for &s in seeds {
        let row = &groups[s];
        let (mut sum, mut k) = (0.0, 0usize);
        for &e in episodes {
            if let Some(Some(v)) = row.get(e) {
                sum += v;
                k += 1;
            }
        }
        if k > 0 {
            total += sum / k as f64;
            n += 1;
        }
    }
    (n > 0).then(|| total / n as f64)
}

/// (seeds with a value, values) of `groups`.
fn counts(groups: &[Vec<Option<f64>>]) -> (usize, usize) {
    let per: Vec<usize> = groups.iter().map(|r| r.iter().flatten().count()).collect();
    (per.iter().filter(|&&k| k > 0).count(), per.iter().sum())
}

/// Whether every row of `groups` is the same (values that do not depend on the training seed).
fn seed_free(groups: &[Vec<Option<f64>>]) -> bool {
    groups.len() >= 2 && groups.iter().all(|r| r == &groups[0])
}

fn draw(n: usize, rng: &mut rand_pcg::Pcg64, out: &mut Vec<usize>) {
    out.clear();
    out.extend((0..n).map(|_| rng.random_range(0..n)));
}

/// The estimate with interval `mean ± t(df) · se`, `se` the bootstrap spread scaled by `√(k/(k−1))`.
#[allow(clippy::too_many_arguments)]
fn t_interval(
    mean: f64,
    resampled: &[f64],
    k: usize,
    df: f64,
    seeds: usize,
    values: usize,
    seed_free: bool,
) -> TwoLevel {
    let scale = if k >= 2 {
        (k as f64 / (k as f64 - 1.0)).sqrt()
    } else {
        1.0
    };
    // Fewer than two resampled means: no spread measured.
    let spread = if resampled.len() < 2 {
        0.0
    } else {
        MeanSd::sample(resampled).sd()
    };
    let se = spread * scale;
    let df = df.max(1.0);
    let half = student_t_quantile(0.975, df) * se;
    let p = if se > 0.0 {
        2.0 * (1.0 - student_t_cdf((mean / se).abs(), df))
    } else if mean == 0.0 {
        1.0
    } else {
        0.0
    };
    TwoLevel {
        mean,
        lo: mean - half,
        hi: mean + half,
        se,
        df,
        p,
        q: None,
        seeds,
        values,
        seed_free,
    }
}

/// The two-level mean of `groups` (`groups[s][e]`: training seed `s`, evaluation episode `e`) with its
/// interval (see [`TwoLevel`]); None without any value.
pub fn hierarchical_mean_ci(groups: &[Vec<Option<f64>>], seed: u64) -> Option<TwoLevel> {
    let free = seed_free(groups);
    let groups = if free { &groups[..1] } else { groups };
    let all_seeds: Vec<usize> = (0..groups.len()).collect();
    let width = groups.iter().map(Vec::len).max().unwrap_or(0);
    let all_eps: Vec<usize> = (0..width).collect();
    let mean = two_level_mean(groups, &all_seeds, &all_eps)?;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let (mut s, mut e) = (Vec::new(), Vec::new());
    let means: Vec<f64> = (0..RESAMPLES)
        .filter_map(|_| {
            draw(groups.len(), &mut rng, &mut s);
            draw(width, &mut rng, &mut e);
            two_level_mean(groups, &s, &e)
        })
        .collect();
    let (seeds, values) = counts(groups);
    // Two levels: the seeds' spread dominates and sets the degrees of freedom; one: the episodes'.
    let (k, df) = if seeds >= 2 {
        (seeds, seeds as f64 - 1.0)
    } else {
        (values, values as f64 - 1.0)
    };
    Some(t_interval(mean, &means, k, df, seeds, values, free))
}

/// `mean(b) − mean(a)` of two two-level samples played on the same evaluation episodes (column `e`
/// is the same seed in both), with its interval (see [`TwoLevel`]): per resample, one draw of episodes
/// shared by both sides (paired) and an independent draw of each side's training seeds. None when a
/// side has no value.
pub fn hierarchical_difference_ci(
    a: &[Vec<Option<f64>>],
    b: &[Vec<Option<f64>>],
    seed: u64,
) -> Option<TwoLevel> {
    let free = seed_free(a) && seed_free(b);
    let (a, b) = if free { (&a[..1], &b[..1]) } else { (a, b) };
    let width = a.iter().chain(b).map(Vec::len).max().unwrap_or(0);
    let all_eps: Vec<usize> = (0..width).collect();
    let all = |g: &[Vec<Option<f64>>]| (0..g.len()).collect::<Vec<usize>>();
    let mean = two_level_mean(b, &all(b), &all_eps)? - two_level_mean(a, &all(a), &all_eps)?;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let (mut sa, mut sb, mut e) = (Vec::new(), Vec::new(), Vec::new());
    let diffs: Vec<f64> = (0..RESAMPLES)
        .filter_map(|_| {
            draw(width, &mut rng, &mut e);
            draw(a.len(), &mut rng, &mut sa);
            draw(b.len(), &mut rng, &mut sb);
            Some(two_level_mean(b, &sb, &e)? - two_level_mean(a, &sa, &e)?)
        })
        .collect();
    if diffs.is_empty() {
        return None;
    }
    let ((na, va), (nb, vb)) = (counts(a), counts(b));
    let (seeds, values) = (na.min(nb), va.min(vb));
    let (k, df) = if !free && seeds >= 2 {
        (seeds, (na + nb) as f64 - 2.0)
    } else {
        (values, values as f64 - 1.0)
    };
    Some(t_interval(mean, &diffs, k, df, seeds, values, free))
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

    /// Synthetic two-level data with known parts: value = mu + tau·(seed effect) + sigma·(episode
    /// effect, shared by both variants) + noise.
    fn synthetic(
        rng: &mut rand_pcg::Pcg64,
        mu: f64,
        tau: f64,
        episode: &[f64],
        seeds: usize,
    ) -> Vec<Vec<Option<f64>>> {
        use rand_distr::{Distribution, StandardNormal};
        (0..seeds)
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                episode
                    .iter()
                    .map(|w| {
                        let u: f64 = StandardNormal.sample(rng);
                        Some(mu + tau * z + w + 0.3 * u)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_hierarchical_interval_covers_a_known_difference_and_a_flat_one_does_not() {
        use rand_distr::{Distribution, StandardNormal};
        // True difference 0.5; training seeds vary a lot (tau = 1), episodes too (sigma = 2, shared).
        let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
        let (reps, mut covered, mut flat_covered, mut width) = (200, 0, 0, 0.0);
        for r in 0..reps {
            let episode: Vec<f64> = (0..32)
                .map(|_| 2.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng))
                .collect::<Vec<f64>>();
            let a = synthetic(&mut rng, 1.0, 1.0, &episode, 4);
            let b = synthetic(&mut rng, 1.5, 1.0, &episode, 4);
            let d = hierarchical_difference_ci(&a, &b, r).unwrap();
            covered += (d.lo <= 0.5 && 0.5 <= d.hi) as usize;
            width += d.hi - d.lo;
            // Ignoring the training seeds: all values of a side as one sample, paired by episode.
            let flat = |g: &[Vec<Option<f64>>]| -> Vec<Option<f64>> {
                (0..32)
                    .map(|e| Some(g.iter().map(|row| row[e].unwrap()).sum::<f64>() / 4.0))
                    .collect()
            };
            let f = difference_ci(&flat(&a), &flat(&b), true, r).unwrap();
            flat_covered += (f.lo <= 0.5 && 0.5 <= f.hi) as usize;
        }
        let coverage = covered as f64 / reps as f64;
        let flat_coverage = flat_covered as f64 / reps as f64;
        eprintln!("coverage: hierarchical {coverage}, ignoring training seeds {flat_coverage}");
        // Nominal 95 %: the t interval on the bootstrap's standard error covers about that often, far
        // more often than intervals that leave training-seed variation out.
        assert!(coverage >= 0.90, "coverage {coverage}");
        assert!(flat_coverage < 0.5, "flat coverage {flat_coverage}");
        // The interval's width reflects the seed spread: sd of a 4-seed mean difference ≈ 1·√(2/4).
        let mean_width = width / reps as f64;
        assert!((1.5..6.0).contains(&mean_width), "width {mean_width}");
    }

    #[test]
    fn hierarchical_estimates_are_means_of_seed_means_and_skip_missing_values() {
        let g = vec![
            vec![Some(1.0), Some(3.0)],
            vec![Some(10.0), None],
            vec![None, None],
        ];
        let m = hierarchical_mean_ci(&g, 1).unwrap();
        assert_eq!((m.mean, m.seeds, m.values), ((2.0 + 10.0) / 2.0, 2, 3));
        assert!(m.lo <= m.mean && m.mean <= m.hi);
        assert!(hierarchical_mean_ci(&[vec![None]], 1).is_none());
        // A constant shift in every value: the difference is exact and significant with 2+ seeds.
        let b: Vec<Vec<Option<f64>>> = g
            .iter()
            .map(|r| r.iter().map(|v| v.map(|x| x + 2.0)).collect())
            .collect();
        let d = hierarchical_difference_ci(&g, &b, 3).unwrap();
        assert!((d.mean - 2.0).abs() < 1e-12);
        assert!(d.significant() || d.values < MIN_N);
        let one_seed = hierarchical_difference_ci(&g[..1], &b[..1], 3).unwrap();
        assert!(
            !one_seed.significant(),
            "one training seed: never called real"
        );
        // Rows identical for every seed (scripted participants): one level, episodes.
        let same = vec![vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]; 3];
        let shifted: Vec<Vec<Option<f64>>> = same
            .iter()
            .map(|r| r.iter().map(|v| v.map(|x| x + 0.5)).collect())
            .collect();
        let d = hierarchical_difference_ci(&same, &shifted, 1).unwrap();
        assert!(d.seed_free && d.significant() && (d.mean - 0.5).abs() < 1e-12);
        assert_eq!((d.seeds, d.values), (1, 5));
    }
}
