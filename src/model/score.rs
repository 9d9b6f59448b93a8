//! The reference's CommonsScore (docs/reference-model.md §7.2), computed over the rows its runner reports.

use super::commons::NetworkSnapshot;
use super::numeric::{pairwise_sum, sample_std};

/// How divisions by zero and NaNs are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreMode {
    /// As the reference: a division by zero or a NaN makes the score undefined (an error).
    Legacy,
    /// Guarded (Q17): `0/0 → 0`, `x/0 → 1`, a NaN component counts 0.
    Guarded,
}

/// The score could not be computed (legacy mode only).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("score undefined: {0}")]
pub struct ScoreError(pub &'static str);

/// Inputs of the score: the reported series (one value per day, lagged by a day, Q16) and the network of
/// the last reported row.
#[derive(Clone, Copy, Debug)]
pub struct ScoreInputs<'a> {
    /// Token price per reported row.
    pub token_price: &'a [f64],
    /// Funding pool per reported row.
    pub funding_pool: &'a [f64],
    /// Average sentiment per reported row.
    pub sentiment: &'a [f64],
    /// The network of the last reported row.
    pub network: &'a NetworkSnapshot,
    /// Number of hatchers `H`.
    pub hatchers: u32,
    /// Number of initial proposals `P0`.
    pub initial_proposals: u32,
}

/// The score and its ten components, in the order they are summed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Score {
    /// `min(1000, round_half_even(130 · Σ components))`.
    pub score: i64,
    /// Components: avg funds to initial, avg price to initial, avg sentiment, final price, final sentiment,
    /// funded proposals, funds spent, participants to hatchers, min-sentiment penalty, success to failed.
    pub components: [f64; 10],
}

/// Python's `min(x, 1)`: `1` only if `1 < x` (so a NaN stays NaN).
fn cap(x: f64) -> f64 {
    if 1.0 < x {
        1.0
    } else {
        x
    }
}

fn divide(num: f64, den: f64, mode: ScoreMode, what: &'static str) -> Result<f64, ScoreError> {
    if den == 0.0 {
        return match mode {
            ScoreMode::Legacy => Err(ScoreError(what)),
            ScoreMode::Guarded if num == 0.0 => Ok(0.0),
            ScoreMode::Guarded => Ok(1.0),
        };
    }
    Ok(num / den)
}

/// CommonsScore with `σ = 130`, `σ_price = 2`, `σ_funded = 5`, penalty −0.2, final-sentiment threshold 0.75,
/// minimum-sentiment threshold 0.5 (§7.2). Means are `pairwise Σ / n`, the standard deviation is pandas'
/// sample std.
pub fn commons_score(inp: &ScoreInputs<'_>, mode: ScoreMode) -> Result<Score, ScoreError> {
    const SIGMA: f64 = 130.0;
    const SIGMA_PRICE: f64 = 2.0;
    const SIGMA_FUNDED: f64 = 5.0;
    const PENALTY: f64 = -0.2;
    let n = inp.token_price.len();
    if n == 0 {
        return Err(ScoreError("no reported rows"));
    }
    let mean = |x: &[f64]| pairwise_sum(x) / x.len() as f64;
    let p0 = inp.token_price[0];
    let f0 = inp.funding_pool[0];
    let p_t = inp.token_price[n - 1];
    let s_t = inp.sentiment[n - 1];
    let net = inp.network;

    let avg_funds = cap(divide(
        mean(inp.funding_pool),
        f0,
        mode,
        "initial funding pool is 0",
    )?);

    let avg_price = mean(inp.token_price);
    let std_price = sample_std(inp.token_price, &mut Vec::new());
    let mut avg_price_ratio = (avg_price - p0) / (SIGMA_PRICE * std_price);
    if !avg_price_ratio.is_finite() {
        match mode {
            ScoreMode::Legacy if avg_price_ratio.is_nan() => {
                return Err(ScoreError(
                    "price series is constant or has one row (std 0 or NaN)",
                ))
            }
            ScoreMode::Legacy => {}
            ScoreMode::Guarded => avg_price_ratio = 0.0,
        }
    }
    if avg_price < p0 {
        avg_price_ratio += PENALTY;
    }
    let avg_price_ratio = cap(avg_price_ratio);

    let avg_sentiment = cap(mean(inp.sentiment));

    let mut final_price = divide(p_t, SIGMA_PRICE * p0, mode, "initial price is 0")?;
    if p_t < 0.8 * p0 {
        final_price += PENALTY;
    }
    let final_price = cap(final_price);

    let mut final_sentiment = s_t;
    if s_t < 0.75 {
        final_sentiment += PENALTY;
    }
    let final_sentiment = cap(final_sentiment);

    let c = net.counts;
    let funded = c.active + c.completed + c.failed;
    let funded_ratio = cap(divide(
        funded as f64 - inp.initial_proposals as f64,
        SIGMA_FUNDED * funded as f64,
        mode,
        "no proposal was funded",
    )?);

    let spent = net.funds_active + net.funds_completed + net.funds_failed;
    let spent_ratio = cap(divide(spent - f0, spent, mode, "no funds were spent")?);

    let participants_ratio = cap(divide(
        net.participants as f64,
        inp.hatchers as f64,
        mode,
        "no hatchers",
    )?);

    let min_sentiment = inp.sentiment.iter().copied().fold(f64::INFINITY, f64::min);
    let min_penalty = if min_sentiment < 0.5 { PENALTY } else { 0.0 };

    let success_ratio = cap(divide(
        c.completed as f64,
        c.failed as f64,
        mode,
        "no proposal failed",
    )?);

    let components = [
        avg_funds,
        avg_price_ratio,
        avg_sentiment,
        final_price,
        final_sentiment,
        funded_ratio,
        spent_ratio,
        participants_ratio,
        min_penalty,
        success_ratio,
    ];
    let total = components.iter().fold(0.0, |acc, &x| acc + x) * SIGMA;
    if total.is_nan() {
        return match mode {
            ScoreMode::Legacy => Err(ScoreError("a component is NaN")),
            ScoreMode::Guarded => Ok(Score {
                score: 0,
                components,
            }),
        };
    }
    let rounded = total.round_ties_even();
    let score = if rounded > 1000.0 {
        1000
    } else {
        rounded as i64
    };
    Ok(Score { score, components })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::commons::StatusCounts;

    /// docs/reference-model.md §9, "Score (synthetic)": 557.
    #[test]
    fn synthetic_example_scores_557() {
        let net = NetworkSnapshot {
            participants: 12,
            counts: StatusCounts {
                candidate: 1,
                active: 1,
                completed: 3,
                failed: 2,
            },
            funds_candidate: 5000.0,
            funds_active: 10_000.0,
            funds_completed: 20_000.0 + 25_000.0 + 15_000.0,
            funds_failed: 30_000.0 + 10_000.0,
        };
        let inp = ScoreInputs {
            token_price: &[0.16, 0.18, 0.20, 0.17],
            funding_pool: &[200_000.0, 150_000.0, 180_000.0, 120_000.0],
            sentiment: &[0.75, 0.70, 0.80, 0.60],
            network: &net,
            hatchers: 5,
            initial_proposals: 2,
        };
        let s = commons_score(&inp, ScoreMode::Legacy).unwrap();
        let expect = [
            0.8125,
            0.5123475382979803,
            0.7125,
            0.53125,
            0.39999999999999997,
            0.13333333333333333,
            -0.8181818181818182,
            1.0,
            0.0,
            1.0,
        ];
        for (got, want) in s.components.iter().zip(expect) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
        let sum: f64 = s.components.iter().sum();
        assert!((sum - 4.283749053449496).abs() < 1e-14);
        assert_eq!(s.score, 557);
        assert_eq!(commons_score(&inp, ScoreMode::Guarded).unwrap().score, 557);
    }

    #[test]
    fn legacy_fails_where_the_reference_divides_by_zero_and_guarded_does_not() {
        let net = NetworkSnapshot {
            participants: 5,
            counts: StatusCounts {
                candidate: 2,
                ..StatusCounts::default()
            },
            ..NetworkSnapshot::default()
        };
        let inp = ScoreInputs {
            token_price: &[0.16, 0.17],
            funding_pool: &[100.0, 100.0],
            sentiment: &[0.75, 0.7],
            network: &net,
            hatchers: 5,
            initial_proposals: 2,
        };
        assert!(commons_score(&inp, ScoreMode::Legacy).is_err());
        let g = commons_score(&inp, ScoreMode::Guarded).unwrap();
        assert!(g.components.iter().all(|c| c.is_finite()));
        let flat = ScoreInputs {
            token_price: &[0.16],
            funding_pool: &[100.0],
            sentiment: &[0.75],
            ..inp
        };
        assert!(commons_score(&flat, ScoreMode::Legacy).is_err());
        assert!(commons_score(&flat, ScoreMode::Guarded).is_ok());
    }

    #[test]
    fn rounding_is_half_even_and_capped() {
        assert_eq!(2.5f64.round_ties_even(), 2.0);
        assert!(cap(f64::NAN).is_nan());
        assert_eq!(cap(3.0), 1.0);
    }
}
