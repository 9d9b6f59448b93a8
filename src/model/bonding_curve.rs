//! The augmented bonding curve: a stateless invariant `S^κ / R = V0` between reserve `R` (DAI) and
//! supply `S` (tokens) (docs/reference-model.md §4.2).

/// A bonding curve with exponent `κ` and invariant `V0 = S0^κ / R0`, fixed at construction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BondingCurve {
    /// Curve exponent κ.
    pub kappa: f64,
    /// Invariant `V0 = S0^κ / R0` (tokens^κ / DAI).
    pub invariant: f64,
}

impl BondingCurve {
    /// The curve through `(reserve, supply)`: `V0 = supply^κ / reserve`.
    pub fn new(reserve: f64, supply: f64, kappa: f64) -> Self {
        BondingCurve {
            kappa,
            invariant: supply.powf(kappa) / reserve,
        }
    }

    /// Supply on the curve at reserve `R`: `S(R) = (V0·R)^(1/κ)`.
    pub fn supply(&self, reserve: f64) -> f64 {
        (self.invariant * reserve).powf(1.0 / self.kappa)
    }

    /// Spot price at reserve `R`: `P(R) = κ·R^((κ−1)/κ) / V0^(1/κ)` (DAI per token; `κ·R/S` on the curve).
    pub fn spot_price(&self, reserve: f64) -> f64 {
        self.kappa * reserve.powf((self.kappa - 1.0) / self.kappa)
            / self.invariant.powf(1.0 / self.kappa)
    }

    /// Mint for a deposit of `ΔR` DAI at `(R, S)`: `ΔS = (V0·(R+ΔR))^(1/κ) − S`.
    /// Returns `(ΔS, realized price ΔR/ΔS)`; the price of a zero deposit is the spot price (Q21 guard).
    pub fn mint(&self, d_reserve: f64, reserve: f64, supply: f64) -> (f64, f64) {
        let d_supply = (self.invariant * (reserve + d_reserve)).powf(1.0 / self.kappa) - supply;
        let price = if d_supply == 0.0 {
            self.spot_price(reserve)
        } else {
            d_reserve / d_supply
        };
        (d_supply, price)
    }

    /// Withdraw for burning `ΔS` tokens at `(R, S)`: `ΔR = R − (S−ΔS)^κ / V0`.
    /// Returns `(ΔR, realized price ΔR/ΔS)`; the price of a zero burn is the spot price (Q21 guard).
    pub fn withdraw(&self, d_supply: f64, reserve: f64, supply: f64) -> (f64, f64) {
        let d_reserve = reserve - (supply - d_supply).powf(self.kappa) / self.invariant;
        let price = if d_supply == 0.0 {
            self.spot_price(reserve)
        } else {
            d_reserve / d_supply
        };
        (d_reserve, price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    /// docs/reference-model.md §9, "Bonding curve".
    #[test]
    fn kappa_two_vectors() {
        let c = BondingCurve::new(1.0, 1.0, 2.0);
        assert_eq!(c.invariant, 1.0);
        assert!(close(c.supply(2.0), std::f64::consts::SQRT_2));
        assert!(close(c.spot_price(1.0), 2.0));
        assert!(close(c.spot_price(2.0), 2.8284271247461903));
        let (ds, p) = c.mint(4.0, 1.0, 1.0);
        assert!(close(ds, 1.2360679774997898) && close(p, 3.2360679774997894));
        let (dr, p) = c.withdraw(0.5, 1.0, 1.0);
        assert!(close(dr, 0.75) && close(p, 1.5));
    }

    #[test]
    fn kappa_three_vectors() {
        let c = BondingCurve::new(1000.0, 1000.0, 3.0);
        assert_eq!(c.invariant, 1e6);
        assert!(close(c.spot_price(1000.0), 2.9999999999999996));
        let (ds, p) = c.mint(100.0, 1000.0, 1000.0);
        assert!(close(ds, 32.28011545636673) && close(p, 3.097882352223019));
        let (dr, p) = c.withdraw(100.0, 1000.0, 1000.0);
        assert!(close(dr, 271.0) && close(p, 2.71));
    }

    #[test]
    fn zero_amounts_price_at_spot() {
        let c = BondingCurve::new(1.0, 1.0, 2.0);
        assert_eq!(c.mint(0.0, 1.0, 1.0), (0.0, 2.0));
        assert_eq!(c.withdraw(0.0, 1.0, 1.0), (0.0, 2.0));
    }
}
