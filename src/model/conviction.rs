//! Conviction voting: decay factor, conviction accumulation and the trigger threshold
//! (docs/reference-model.md §3.2, §4.7).

/// Decay factor that makes a constant stake reach 80 % of its maximum conviction after `days`:
/// `alpha = 0.2^(1/days)`.
pub fn alpha_from_days(days: f64) -> f64 {
    0.2f64.powf(1.0 / days)
}

/// One day of conviction on a support edge: `conviction ← tokens + alpha·conviction`.
#[inline]
pub fn accumulate(conviction: f64, tokens: f64, alpha: f64) -> f64 {
    tokens + alpha * conviction
}

/// `rho = rho_multiplier · β^2` (0.5·β² in the reference).
pub fn rho(rho_multiplier: f64, max_proposal_request: f64) -> f64 {
    rho_multiplier * max_proposal_request.powf(2.0)
}

/// Trigger threshold of a proposal requesting `f` DAI from a funding pool `F` with supply `S`:
/// `share = f/F`; `rho·S/(β − share)²` if `share < β`, else `+∞` (also when `F = 0`).
pub fn trigger_threshold(
    funds_requested: f64,
    funding_pool: f64,
    token_supply: f64,
    max_proposal_request: f64,
    rho: f64,
) -> f64 {
    let share = funds_requested / funding_pool;
    if share < max_proposal_request {
        rho * token_supply / (max_proposal_request - share).powf(2.0)
    } else {
        f64::INFINITY
    }
}

/// A candidate passes iff `conviction ≥ threshold` (equality passes; `+∞` never does).
#[inline]
pub fn passes(conviction: f64, threshold: f64) -> bool {
    conviction >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs()
    }

    /// docs/reference-model.md §9, "Conviction".
    #[test]
    fn alpha_vectors() {
        for (d, a) in [
            (1.0, 0.2),
            (5.0, 0.7247796636776955),
            (10.0, 0.8513399225207846),
            (30.0, 0.9477657272562665),
            (60.0, 0.9735326020510389),
        ] {
            assert!(close(alpha_from_days(d), a), "{d}");
        }
    }

    #[test]
    fn constant_stake_reaches_80_percent() {
        let alpha = alpha_from_days(10.0);
        let mut c = 0.0;
        let mut seen = Vec::new();
        for _ in 0..10 {
            c = accumulate(c, 100.0, alpha);
            seen.push(c);
        }
        assert_eq!(seen[0], 100.0);
        assert!(close(seen[1], 185.13399225207846));
        assert!(close(seen[2], 257.611958619848));
        assert!(close(seen[9], 538.1404433290776));
        assert!(close(seen[9], 0.8 * 672.675554161347));
        let c2 = accumulate(accumulate(0.0, 1000.0, alpha), 1000.0, alpha);
        assert!(close(c2, 1851.3399225207845));
    }

    #[test]
    fn threshold_vectors() {
        let t = |f: f64, pool: f64, s: f64, b: f64| trigger_threshold(f, pool, s, b, rho(0.5, b));
        assert!(close(t(10.0, 1000.0, 1e7, 0.2), 5540166.20498615));
        assert!(close(
            t(500.0, 500_000.0, 3000.0, 10_000.0),
            1500.000300000045
        ));
        assert!(close(t(100.0, 1000.0, 1000.0, 0.2), 2000.0));
        assert_eq!(t(200.0, 1000.0, 1000.0, 0.2), f64::INFINITY);
        let x = t(500.0, 10_000.0, 3e6, 0.2);
        assert!(close(x, 2666666.6666666665));
        assert!(passes(2666666.7, x) && !passes(0.0, x));
        assert!(close(t(0.0, 1000.0, 1000.0, 0.2), 500.0));
        assert!(close(t(30_000.0, 200_000.0, 1e7, 0.2), 79999999.99999996));
        assert_eq!(rho(0.5, 0.2), 0.020000000000000004);
        // An empty pool: share = +∞, never passes.
        assert_eq!(t(10.0, 0.0, 1000.0, 0.2), f64::INFINITY);
        assert!(!passes(1e300, f64::INFINITY));
    }
}
