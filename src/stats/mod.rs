//! Statistics, in one place: means with their spread, confidence intervals, the bootstrap, Student's t
//! and the false-discovery-rate adjustment. Used by evaluation, comparison, studies, the Monte-Carlo
//! runner and training's summaries; a leaf module (of the crate it uses only [`crate::format`], for [`Estimate::text`]).
//!
//! * [`MeanSd`] — a mean with its standard deviation, with the two meanings named: [`MeanSd::sample`]
//!   (`n − 1`, an estimate of the spread of what the values were drawn from) and
//!   [`MeanSd::population`] (`n`, the spread of exactly these values);
//! * [`Interval`] — `mean ± 1.96 · sd / √n`, the normal-approximation 95 % interval of `commons eval`;
//! * [`Estimate`] — a mean with an interval `[lo, hi]`: Student's t ([`Estimate::t_interval`]) or a
//!   percentile bootstrap ([`bootstrap::mean_ci`]);
//! * [`bootstrap`] — percentile and two-level (hierarchical) bootstrap intervals;
//! * [`student_t`] — Student's t cdf and quantiles;
//! * [`fdr`] — Benjamini–Hochberg q-values.

pub mod bootstrap;
pub mod fdr;
pub mod student_t;

use serde::{Deserialize, Serialize};

pub use bootstrap::TwoLevel;
pub use fdr::benjamini_hochberg;
pub use student_t::{student_t_cdf, student_t_quantile};

/// A mean and the variance around it, over `n` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanSd {
    /// `Σ x / n` (NaN without values).
    pub mean: f64,
    /// `Σ (x − mean)² / (n − 1)` for [`MeanSd::sample`], `/ n` for [`MeanSd::population`]; 0 for a
    /// single sample value, NaN without values.
    pub variance: f64,
    /// Number of values.
    pub n: usize,
}

impl MeanSd {
    /// The **sample** mean and variance (`n − 1`): what the values say about the distribution they were
    /// drawn from (episodes of a Monte Carlo, evaluation episodes). One value has variance 0.
    pub fn sample(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return MeanSd {
                mean: f64::NAN,
                variance: f64::NAN,
                n,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let variance = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        MeanSd { mean, variance, n }
    }

    /// The **population** mean and variance (`n`): the spread of exactly these values (numpy's
    /// `np.std` default, what CleanRL logs; training's "last 100 returns").
    pub fn population(values: impl Iterator<Item = f64> + Clone) -> Self {
        let n = values.clone().count();
        if n == 0 {
            return MeanSd {
                mean: f64::NAN,
                variance: f64::NAN,
                n,
            };
        }
        let mean = values.clone().sum::<f64>() / n as f64;
        let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        MeanSd { mean, variance, n }
    }

    /// The standard deviation, `√variance`.
    pub fn sd(&self) -> f64 {
        self.variance.sqrt()
    }
}

/// A mean with its 95 % confidence half-width, `1.96 · sd / √n` (sample standard deviation over the
/// values: episodes), as `eval.json` reports it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Interval {
    /// Mean.
    pub mean: f64,
    /// Half-width of the 95 % interval.
    pub ci95: f64,
    /// Number of values.
    pub n: usize,
}

impl Interval {
    /// The interval of `values` (NaN mean and width without values; zero width for one).
    pub fn of(values: &[f64]) -> Self {
        let m = MeanSd::sample(values);
        Interval {
            mean: m.mean,
            ci95: 1.96 * m.sd() / (m.n as f64).sqrt(),
            n: m.n,
        }
    }

    /// Whether two intervals do not overlap.
    pub fn separated_from(&self, other: &Interval) -> bool {
        self.mean - self.ci95 > other.mean + other.ci95
            || other.mean - other.ci95 > self.mean + self.ci95
    }
}

/// A point estimate with an interval `[lo, hi]` (a 95 % one unless its maker says otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Mean of the sample (or difference of means).
    pub mean: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
    /// Number of values (pairs, for a paired difference; the smaller sample otherwise).
    pub n: usize,
}

impl Estimate {
    /// `mean ± t(1 − a/2, n − 1) · sd / √n` of `values` (sample sd; None for fewer than two): a
    /// two-sided `1 − a` interval for the mean.
    pub fn t_interval(values: &[f64], a: f64) -> Option<Self> {
        let m = MeanSd::sample(values);
        if m.n < 2 {
            return None;
        }
        let half =
            student_t_quantile(1.0 - a / 2.0, (m.n - 1) as f64) * (m.variance / m.n as f64).sqrt();
        Some(Estimate {
            mean: m.mean,
            lo: m.mean - half,
            hi: m.mean + half,
            n: m.n,
        })
    }

    /// Whether the interval excludes zero.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }

    /// Whether a difference is called real: its interval excludes zero and it rests on at least
    /// [`bootstrap::MIN_N`] values.
    pub fn significant(&self) -> bool {
        self.n >= bootstrap::MIN_N && self.excludes_zero()
    }

    /// `mean [lo, hi]`, short numbers.
    pub fn text(&self) -> String {
        use crate::format::short;
        format!(
            "{} [{}, {}]",
            short(self.mean),
            short(self.lo),
            short(self.hi)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two meanings of a standard deviation, on a sample whose answers are known.
    #[test]
    fn sample_and_population_spreads_differ_by_their_divisor() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let s = MeanSd::sample(&v);
        let p = MeanSd::population(v.iter().copied());
        assert_eq!((s.mean, p.mean, s.n, p.n), (2.5, 2.5, 4, 4));
        assert!((s.variance - 5.0 / 3.0).abs() < 1e-15);
        assert!((p.variance - 1.25).abs() < 1e-15);
        assert_eq!(MeanSd::sample(&[7.0]).variance, 0.0);
        assert_eq!(MeanSd::population([7.0].into_iter()).variance, 0.0);
        assert!(
            MeanSd::sample(&[]).mean.is_nan()
                && MeanSd::population(std::iter::empty()).sd().is_nan()
        );
    }

    #[test]
    fn intervals_shrink_with_more_values_and_t_is_wider_than_normal_on_few() {
        let few = [1.0, 2.0, 3.0];
        let i = Interval::of(&few);
        assert_eq!(i.mean, 2.0);
        assert!((i.ci95 - 1.96 / 3f64.sqrt()).abs() < 1e-12);
        let t = Estimate::t_interval(&few, 0.05).unwrap();
        assert!(t.hi - t.mean > i.ci95, "t(2) is wider than the normal");
        assert!(Estimate::t_interval(&[1.0], 0.05).is_none());
        assert!(Interval::of(&[]).mean.is_nan());
        let a = Interval {
            mean: 0.0,
            ci95: 1.0,
            n: 3,
        };
        let b = Interval {
            mean: 2.5,
            ci95: 1.0,
            n: 3,
        };
        assert!(a.separated_from(&b) && b.separated_from(&a));
        assert!(!a.separated_from(&Interval { mean: 1.5, ..b }));
    }
}
