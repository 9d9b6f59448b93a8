//! The model's random-number source: five named streams behind one small interface.
//!
//! The reference draws from five generator objects — `P` (Bernoulli checks), `R` (plain uniforms),
//! `E` (exponentials), `G` (gammas) and `C` (choices) — and the order of draws within each stream is
//! part of the model (docs/reference-model.md §4.1). [`ModelRng`] keeps that structure. Two engines sit behind it:
//!
//! * [`RngMode::Default`]: PCG32 engines (fast, seedable, our own);
//! * [`RngMode::NumpyLegacy`]: MT19937 engines seeded like numpy's `RandomState(seed)`, which with the
//!   reference's draw order reproduces the original Python simulation bit for bit.
//!
//! Both modes use numpy's legacy sampling algorithms ([`primitives`]), so the two differ only in the
//! uniform bits they start from. [`StreamSeeding`] says whether the five streams share one seed (the
//! reference's quirk Q1, which correlates them) or get independent seeds derived from it.

pub mod mt19937;
pub mod primitives;

use primitives::Stream;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Which engine generates the uniform bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RngMode {
    /// PCG32 engines: our default, fast generator.
    #[default]
    Default,
    /// MT19937 engines seeded like numpy's legacy `RandomState`: reproduces the original simulation
    /// run for run (seeds must fit in 32 bits).
    NumpyLegacy,
}

impl RngMode {
    /// The name used in scenario files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RngMode::Default => "default",
            RngMode::NumpyLegacy => "numpy-legacy",
        }
    }
}

/// How the five streams are seeded from the episode seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamSeeding {
    /// All five streams get the same seed, as in the reference (Q1): their k-th uniforms coincide.
    #[default]
    SharedSeed,
    /// Each stream gets its own seed derived from the episode seed: independent streams.
    Independent,
}

/// The five streams of one engine kind.
#[derive(Clone, Debug)]
struct Streams<E> {
    p: Stream<E>,
    r: Stream<E>,
    e: Stream<E>,
    g: Stream<E>,
    c: Stream<E>,
}

impl<E: primitives::Engine> Streams<E> {
    fn build(mut make: impl FnMut(u64) -> E) -> Self {
        Streams {
            p: Stream::new(make(0)),
            r: Stream::new(make(1)),
            e: Stream::new(make(2)),
            g: Stream::new(make(3)),
            c: Stream::new(make(4)),
        }
    }
}

#[derive(Clone, Debug)]
enum Engines {
    Pcg(Box<Streams<rand_pcg::Pcg32>>),
    Mt(Box<Streams<mt19937::Mt19937>>),
}

/// Error raised by a draw that the reference itself would refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RngError {
    /// A Bernoulli rate above 1 (the reference raises "Rate has a maximum value of 1.0"; Q4).
    #[error("probability rate {0} is above 1")]
    RateAboveOne(f64),
    /// The seed does not fit numpy's 32-bit legacy seeding.
    #[error("seed {0} is out of range for numpy-legacy mode (allowed: 0..=4294967295)")]
    SeedOutOfRange(u64),
}

/// The random source of one simulation: five streams, one engine kind, and the rule for rates above 1.
#[derive(Clone, Debug)]
pub struct ModelRng {
    engines: Engines,
    /// Legacy mode refuses rates above 1 like the reference; the default mode clamps them into [0, 1].
    strict_rates: bool,
}

macro_rules! with_stream {
    ($self:ident, $s:ident, |$st:ident| $body:expr) => {
        match &mut $self.engines {
            Engines::Pcg(streams) => {
                let $st = &mut streams.$s;
                $body
            }
            Engines::Mt(streams) => {
                let $st = &mut streams.$s;
                $body
            }
        }
    };
}

/// Salt mixed into the seed of stream `k` in [`StreamSeeding::Independent`] mode (SplitMix64 constants).
fn independent_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl ModelRng {
    /// Creates the five streams for `seed`.
    ///
    /// In [`RngMode::NumpyLegacy`] the seed must fit in 32 bits (numpy's rule) and the streams are always
    /// seeded alike, as the reference does; `seeding` applies to the default engine only.
    pub fn new(mode: RngMode, seeding: StreamSeeding, seed: u64) -> Result<Self, RngError> {
        let engines = match mode {
            RngMode::Default => Engines::Pcg(Box::new(Streams::build(|k| match seeding {
                StreamSeeding::SharedSeed => rand_pcg::Pcg32::seed_from_u64(seed),
                StreamSeeding::Independent => {
                    rand_pcg::Pcg32::seed_from_u64(independent_seed(seed, k))
                }
            }))),
            RngMode::NumpyLegacy => {
                let seed32 = u32::try_from(seed).map_err(|_| RngError::SeedOutOfRange(seed))?;
                Engines::Mt(Box::new(Streams::build(|_| mt19937::Mt19937::new(seed32))))
            }
        };
        Ok(ModelRng {
            engines,
            strict_rates: mode == RngMode::NumpyLegacy,
        })
    }

    /// `P` stream: `Bern(rate)`, i.e. draw `U` and succeed iff `U < rate`.
    ///
    /// A negative or NaN rate never succeeds (the draw is still made). A rate above 1 is an error in
    /// legacy mode (before any draw, as in the reference) and is clamped to 1 otherwise.
    #[inline]
    pub fn probability(&mut self, rate: f64) -> Result<bool, RngError> {
        if rate > 1.0 && self.strict_rates {
            return Err(RngError::RateAboveOne(rate));
        }
        let u = with_stream!(self, p, |s| s.uniform());
        // `u < NaN` is false, as in the reference (f64::min would turn NaN into 1).
        Ok(u < if rate > 1.0 { 1.0 } else { rate })
    }

    /// `R` stream: `U` on [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        with_stream!(self, r, |s| s.uniform())
    }

    /// `E` stream: `Exp(loc, scale) = scale·E + loc` with `E ~ Exp(1)` (scipy's `expon.rvs`).
    #[inline]
    pub fn exponential(&mut self, loc: f64, scale: f64) -> f64 {
        with_stream!(self, e, |s| s.standard_exponential()) * scale + loc
    }

    /// `G` stream: `Gamma(shape, loc, scale) = scale·G + loc` with `G ~ Gamma(shape, 1)` (scipy's `gamma.rvs`).
    #[inline]
    pub fn gamma(&mut self, shape: f64, loc: f64, scale: f64) -> f64 {
        with_stream!(self, g, |s| s.standard_gamma(shape)) * scale + loc
    }

    /// `C` stream: a uniform index into a list of `n` elements (numpy `choice`); no draw when `n ≤ 1`.
    #[inline]
    pub fn choice(&mut self, n: usize) -> usize {
        with_stream!(self, c, |s| s.index(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(seed: u64) -> ModelRng {
        ModelRng::new(RngMode::NumpyLegacy, StreamSeeding::SharedSeed, seed).unwrap()
    }

    /// docs/reference-model.md §9, "Fresh seed-1 stream".
    #[test]
    fn seed_one_stream_matches_reference_vectors() {
        let mut rng = legacy(1);
        let u: Vec<f64> = (0..5).map(|_| rng.uniform()).collect();
        assert_eq!(
            u,
            [
                0.417022004702574,
                0.7203244934421581,
                0.00011437481734488664,
                0.30233257263183977,
                0.14675589081711304
            ]
        );
        let e: Vec<f64> = (0..3).map(|_| rng.exponential(0.0, 100.0)).collect();
        assert_eq!(
            e,
            [53.96058372591854, 127.41252530133042, 0.011438135864308592]
        );
        let g: Vec<f64> = (0..2).map(|_| rng.gamma(3.0, 0.001, 10_000.0)).collect();
        assert_eq!(g, [62959.1556328046, 17872.287319840732]);
        let c: Vec<usize> = (0..5).map(|_| rng.choice(5)).collect();
        assert_eq!(c, [3, 4, 0, 1, 3]);
    }

    #[test]
    fn legacy_rates_above_one_are_errors_and_default_clamps() {
        let mut rng = legacy(1);
        assert_eq!(rng.probability(1.5), Err(RngError::RateAboveOne(1.5)));
        let mut rng = ModelRng::new(RngMode::Default, StreamSeeding::SharedSeed, 1).unwrap();
        assert_eq!(rng.probability(1.5), Ok(true));
        assert_eq!(rng.probability(-0.5), Ok(false));
        assert_eq!(rng.probability(f64::NAN), Ok(false));
    }

    #[test]
    fn legacy_seed_must_fit_32_bits() {
        assert!(ModelRng::new(RngMode::NumpyLegacy, StreamSeeding::SharedSeed, 1 << 32).is_err());
        assert!(ModelRng::new(
            RngMode::NumpyLegacy,
            StreamSeeding::SharedSeed,
            u32::MAX as u64
        )
        .is_ok());
    }

    #[test]
    fn shared_seed_streams_coincide_and_independent_ones_do_not() {
        // E's first draw is −ln(1 − U₁): with a shared seed, U₁ is R's first uniform too.
        for (seeding, coincide) in [
            (StreamSeeding::SharedSeed, true),
            (StreamSeeding::Independent, false),
        ] {
            let mut rng = ModelRng::new(RngMode::Default, seeding, 7).unwrap();
            let u = rng.uniform();
            let from_e = 1.0 - (-rng.exponential(0.0, 1.0)).exp();
            assert_eq!((u - from_e).abs() < 1e-12, coincide, "{seeding:?}");
        }
    }
}
