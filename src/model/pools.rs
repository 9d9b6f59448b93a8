//! The Commons' pools on top of the bonding curve: hatch split, deposit (mint), burn with exit tribute,
//! and spending from the funding pool (docs/reference-model.md §4.3–§4.4).

use super::bonding_curve::BondingCurve;

/// Spending more than the funding pool holds (the reference raises; Q14).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{requested} DAI requested but the funding pool only has {available}")]
pub struct Overdraft {
    /// DAI asked for.
    pub requested: f64,
    /// DAI in the funding pool.
    pub available: f64,
}

/// The Commons' money: funding pool, collateral pool and token supply, bound by a [`BondingCurve`].
#[derive(Clone, Debug, PartialEq)]
pub struct Pools {
    /// DAI spendable on proposals.
    pub funding_pool: f64,
    /// DAI reserve `R` of the bonding curve.
    pub collateral_pool: f64,
    /// Token supply `S`.
    pub token_supply: f64,
    /// Share `τ` of every burn's DAI sent to the funding pool.
    pub exit_tribute: f64,
    /// The curve, fixed at the hatch.
    pub curve: BondingCurve,
}

impl Pools {
    /// What selling `tokens` would return now, after the exit tribute: `(1 − τ)·ΔR(n)` with
    /// `n = min(tokens, S)` (0 for no tokens). Net worth = wallet + the sale value of all tokens.
    pub fn sale_value(&self, tokens: f64) -> f64 {
        let n = tokens.min(self.token_supply).max(0.0);
        if n <= 0.0 {
            return 0.0;
        }
        let (dai, _) = self
            .curve
            .withdraw(n, self.collateral_pool, self.token_supply);
        (1.0 - self.exit_tribute) * dai.max(0.0)
    }

    /// The hatch: a raise of `raise` DAI minted at `hatch_price` into `S0 = raise / hatch_price` tokens;
    /// `funding = θ·raise`, `collateral = raise·(1−θ)`, `V0 = S0^κ / collateral`.
    pub fn hatch(
        raise: f64,
        supply: f64,
        hatch_tribute: f64,
        exit_tribute: f64,
        kappa: f64,
    ) -> Self {
        let collateral_pool = (1.0 - hatch_tribute) * raise;
        let funding_pool = hatch_tribute * raise;
        Pools {
            funding_pool,
            collateral_pool,
            token_supply: supply,
            exit_tribute,
            curve: BondingCurve::new(collateral_pool, supply, kappa),
        }
    }

    /// Spot price at the current collateral, `P(R)`.
    pub fn token_price(&self) -> f64 {
        self.curve.spot_price(self.collateral_pool)
    }

    /// Spot conversion without slippage: `x / P(R)` (what the reference credits arrivals; Q3).
    pub fn dai_to_tokens(&self, dai: f64) -> f64 {
        dai / self.token_price()
    }

    /// Deposits `dai` into the collateral pool and mints `ΔS = S(R+dai) − S`. Returns `(ΔS, dai/ΔS)`.
    pub fn deposit(&mut self, dai: f64) -> (f64, f64) {
        let (tokens, price) = self
            .curve
            .mint(dai, self.collateral_pool, self.token_supply);
        self.token_supply += tokens;
        self.collateral_pool += dai;
        (tokens, price)
    }

    /// Burns `tokens`: `ΔR = R − (S−n)^κ/V0` leaves the collateral pool; `τ·ΔR` goes to the funding pool
    /// and the seller receives `(1−τ)·ΔR` (all of `ΔR` when τ = 0). Returns `(received, ΔR/n)`.
    pub fn burn(&mut self, tokens: f64) -> (f64, f64) {
        let (dai, price) = self
            .curve
            .withdraw(tokens, self.collateral_pool, self.token_supply);
        self.token_supply -= tokens;
        self.collateral_pool -= dai;
        let mut received = dai;
        if self.exit_tribute != 0.0 {
            self.funding_pool += self.exit_tribute * dai;
            received = (1.0 - self.exit_tribute) * dai;
        }
        (received, price)
    }

    /// Pays `amount` from the funding pool; an error if `pool − amount < 0`.
    pub fn spend(&mut self, amount: f64) -> Result<(), Overdraft> {
        if self.funding_pool - amount < 0.0 {
            return Err(Overdraft {
                requested: amount,
                available: self.funding_pool,
            });
        }
        self.funding_pool -= amount;
        Ok(())
    }
}

/// What speculators pay into the funding pool in a day (§4.12): each round trip pays the exit tribute on
/// its position, `funding = τ · Σ positions` (the positions summed in order).
pub fn speculator_tribute(positions: impl IntoIterator<Item = f64>, exit_tribute: f64) -> f64 {
    let mut total = 0.0;
    for p in positions {
        total += p;
    }
    total * exit_tribute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speculators_pay_the_tribute_on_their_positions() {
        assert_eq!(speculator_tribute([100.0, 300.0], 0.35), 140.0);
        assert_eq!(speculator_tribute([], 0.35), 0.0);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs()
    }

    /// docs/reference-model.md §9, "Commons".
    #[test]
    fn hatch_and_burn_vectors() {
        let p = Pools::hatch(100_000.0, 1_000_000.0, 0.3, 0.0, 2.0);
        assert!(close(p.collateral_pool, 70_000.0) && close(p.funding_pool, 30_000.0));
        assert!(close(p.token_price(), 0.14));
        assert!(close(p.curve.invariant, 14285714.285714285));
        assert!(close(p.dai_to_tokens(5000.0), 35714.28571428571));
        let mut a = p.clone();
        let (got, price) = a.burn(50_000.0);
        assert!(close(got, 6825.0) && close(price, 0.1365));
        let mut b = Pools {
            exit_tribute: 0.02,
            ..p
        };
        let (got, _) = b.burn(50_000.0);
        assert!(close(got, 6688.5) && close(b.funding_pool, 30136.5));
        assert!(close(b.collateral_pool, 63175.0) && close(b.token_supply, 950_000.0));
    }

    #[test]
    fn deposit_vectors() {
        let fresh = Pools::hatch(1000.0, 1000.0, 0.2, 0.0, 2.0);
        assert!(close(fresh.collateral_pool, 800.0) && close(fresh.funding_pool, 200.0));
        assert!(close(fresh.curve.invariant, 1250.0) && close(fresh.token_price(), 1.6));
        let mut p = fresh.clone();
        let (t, price) = p.deposit(4000.0);
        assert!(close(t, 1449.489742783178) && close(price, 2.7595917942265427));
        assert!(close(p.token_supply, 2449.489742783178));
        let mut q = fresh.clone();
        let (got, price) = q.burn(80.0);
        assert!(close(got, 122.88) && close(price, 1.536) && close(q.collateral_pool, 677.12));
        // Four buyers of 1000 DAI each in one deposit get a quarter each.
        let mut r = fresh.clone();
        let (t, _) = r.deposit(4000.0);
        assert!(close(1000.0 / 4000.0 * t, 362.3724356957945));
    }

    #[test]
    fn arrival_at_spot_vs_minted() {
        let mut p = Pools::hatch(10_000.0, 1000.0, 0.2, 0.0, 2.0);
        assert!(close(p.token_price(), 16.0));
        assert!(close(
            p.dai_to_tokens(16.872149388283283),
            1.0545093367677052
        ));
        let (t, price) = p.deposit(16.872149388283283);
        assert!(close(t, 1.0539539273272567) && close(price, 16.00843163141838));
        assert!(close(p.token_supply, 1001.0539539273273));
        assert!(close(p.collateral_pool, 8016.872149388283));
    }

    #[test]
    fn deposit_then_burn_with_tribute() {
        let mut p = Pools::hatch(1e6, 1e7, 0.2, 0.35, 2.0);
        assert!(close(p.token_price(), 0.16));
        let (t, _) = p.deposit(10_000.0);
        assert!(close(t, 62305.89874905348) && close(p.token_price(), 0.16099689437998485));
        let (got, price) = p.burn(100_000.0);
        assert!(close(got, 10412.798134698998) && close(price, 0.16019689437998458));
        assert!(close(p.funding_pool, 205606.89130329946));
        assert!(close(p.collateral_pool, 793980.3105620015));
        assert!(close(p.token_supply, 9962305.898749053));
        assert!(close(p.token_price(), 0.15939689437998486));
    }

    #[test]
    fn spend_refuses_overdraft() {
        let mut p = Pools::hatch(100_000.0, 1_000_000.0, 0.3, 0.0, 2.0);
        assert!(p.spend(30_001.0).is_err());
        assert_eq!(p.funding_pool, 30_000.0);
        p.spend(5000.0).unwrap();
        assert_eq!(p.funding_pool, 25_000.0);
    }
}
