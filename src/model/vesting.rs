//! Token batches and the vesting curve (docs/reference-model.md §2.3, §3.2, §4.5–§4.6).

/// `log_{0.5}(0.2)`, the constant that converts "days to 80 % unlocked" into a half-life.
pub const LOG_BASE05_OF_02: f64 = 2.321928094887362;

/// Cliff and half-life of the hatch vesting: `halflife = v80 / (log_{0.5}(0.2) + ratio)` and
/// `cliff = ratio · halflife`, so that 80 % is unlocked after `v80` days (cliff included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VestingSchedule {
    /// Days before anything unlocks.
    pub cliff_days: f64,
    /// Half-life of the still-locked part after the cliff, in days.
    pub halflife_days: f64,
}

impl VestingSchedule {
    /// The schedule that unlocks 80 % after `days_to_80p` days with `cliff/halflife = cliff_ratio`.
    pub fn from_80p_days(days_to_80p: f64, cliff_ratio: f64) -> Self {
        let halflife_days = days_to_80p / (LOG_BASE05_OF_02 + cliff_ratio);
        VestingSchedule {
            cliff_days: cliff_ratio * halflife_days,
            halflife_days,
        }
    }

    /// No vesting: everything is unlocked from day 0.
    pub const NONE: VestingSchedule = VestingSchedule {
        cliff_days: 0.0,
        halflife_days: 0.0,
    };
}

/// `vesting_curve(age) = 1 − 0.5^((age − cliff)/halflife)`; negative before the cliff.
pub fn vesting_curve(age_days: f64, cliff_days: f64, halflife_days: f64) -> f64 {
    1.0 - 0.5f64.powf((age_days - cliff_days) / halflife_days)
}

/// Spending more than is spendable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{requested} tokens requested but only {spendable} are spendable")]
pub struct NotSpendable {
    /// Tokens asked for.
    pub requested: f64,
    /// Tokens spendable now.
    pub spendable: f64,
}

/// A participant's holdings: vesting (hatch) tokens that unlock along the curve, and free tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBatch {
    /// Tokens granted under vesting. Never decreases (spending goes to `vesting_spent`).
    pub vesting: f64,
    /// Part of `vesting` already spent.
    pub vesting_spent: f64,
    /// Freely spendable tokens (bought after the hatch).
    pub nonvesting: f64,
    /// Days since creation (incremented once per day).
    pub age_days: u32,
    /// Vesting schedule; [`VestingSchedule::NONE`] for non-hatch batches.
    pub schedule: VestingSchedule,
}

impl TokenBatch {
    /// A batch of `vesting` locked and `nonvesting` free tokens, age 0.
    pub fn new(vesting: f64, nonvesting: f64, schedule: VestingSchedule) -> Self {
        TokenBatch {
            vesting,
            vesting_spent: 0.0,
            nonvesting,
            age_days: 0,
            schedule,
        }
    }

    /// `total = (vesting − vesting_spent) + nonvesting`, locked tokens included.
    #[inline]
    pub fn total(&self) -> f64 {
        (self.vesting - self.vesting_spent) + self.nonvesting
    }

    /// `max(0, vesting_curve(age))` when both cliff and half-life are non-zero, else 1.
    pub fn unlocked_fraction(&self) -> f64 {
        let s = self.schedule;
        if s.cliff_days != 0.0 && s.halflife_days != 0.0 {
            let u = vesting_curve(self.age_days as f64, s.cliff_days, s.halflife_days);
            if u > 0.0 {
                u
            } else {
                0.0
            }
        } else {
            1.0
        }
    }

    /// `spendable = (unlocked_fraction·vesting − vesting_spent) + nonvesting`.
    #[inline]
    pub fn spendable(&self) -> f64 {
        if self.vesting == 0.0 && self.vesting_spent == 0.0 {
            // Same value as the formula (0·x − 0 + n), without the power function.
            return 0.0 + self.nonvesting;
        }
        ((self.unlocked_fraction() * self.vesting) - self.vesting_spent) + self.nonvesting
    }

    /// Tokens still locked: `total − spendable`.
    pub fn locked(&self) -> f64 {
        self.total() - self.spendable()
    }

    /// Spends `x` tokens, non-vesting first: with `y = x − nonvesting`, if `y > 0` then
    /// `vesting_spent += y, nonvesting = 0`, else `nonvesting = |y|`. An error if `x > spendable`.
    pub fn spend(&mut self, x: f64) -> Result<(), NotSpendable> {
        let spendable = self.spendable();
        if x > spendable {
            return Err(NotSpendable {
                requested: x,
                spendable,
            });
        }
        let y = x - self.nonvesting;
        if y > 0.0 {
            self.vesting_spent += y;
            self.nonvesting = 0.0;
        } else {
            self.nonvesting = y.abs();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    /// docs/reference-model.md §9, "Vesting and TokenBatch".
    #[test]
    fn cliff_and_halflife_from_80p_days() {
        for (v80, cliff, half) in [
            (60.0, 27.765385579171106, 13.882692789585553),
            (90.0, 41.64807836875666, 20.82403918437833),
            (120.0, 55.53077115834221, 27.765385579171106),
        ] {
            let s = VestingSchedule::from_80p_days(v80, 2.0);
            assert!(close(s.cliff_days, cliff) && close(s.halflife_days, half));
        }
    }

    #[test]
    fn curve_values() {
        assert_eq!(vesting_curve(90.0, 90.0, 90.0), 0.0);
        assert!(close(vesting_curve(180.0, 90.0, 90.0), 0.5));
        assert!(close(vesting_curve(270.0, 90.0, 90.0), 0.75));
        assert!(close(
            vesting_curve(89.0, 90.0, 90.0),
            -0.007731369217151451
        ));
        let mut b = TokenBatch::new(1.0, 0.0, VestingSchedule::from_80p_days(120.0, 2.0));
        for (age, f) in [
            (55, 0.0),
            (56, 0.011645691032788119),
            (60, 0.10557280900008392),
            (90, 0.5770514946237741),
            (120, 0.7999999999999998),
            (180, 0.9552786404500041),
        ] {
            b.age_days = age;
            assert!(close(b.unlocked_fraction(), f), "age {age}");
        }
    }

    #[test]
    fn spending_vesting_tokens() {
        let sched = VestingSchedule {
            cliff_days: 3.0,
            halflife_days: 3.0,
        };
        let mut b = TokenBatch::new(10_000.0, 0.0, sched);
        assert_eq!(b.unlocked_fraction(), 0.0);
        assert!(b.spend(100.0).is_err());
        b.age_days = 6;
        assert_eq!(b.unlocked_fraction(), 0.5);
        b.spend(5000.0).unwrap();
        assert_eq!(
            (b.vesting, b.vesting_spent, b.nonvesting),
            (10_000.0, 5000.0, 0.0)
        );
        b.age_days = 9;
        assert!(b.spend(6000.0).is_err());
        assert_eq!(b.spendable(), 2500.0);
    }

    #[test]
    fn spending_mixed_and_free_batches() {
        let sched = VestingSchedule {
            cliff_days: 1.0,
            halflife_days: 1.0,
        };
        let mut b = TokenBatch::new(500.0, 500.0, sched);
        b.age_days = 3;
        assert_eq!(b.spendable(), 875.0);
        b.spend(750.0).unwrap();
        assert_eq!(
            (b.vesting, b.vesting_spent, b.nonvesting),
            (500.0, 250.0, 0.0)
        );
        assert_eq!(b.spendable(), 125.0);
        b.age_days = 103;
        assert!(b.spend(300.0).is_err());
        b.spend(250.0).unwrap();
        assert_eq!(
            (b.vesting, b.vesting_spent, b.nonvesting),
            (500.0, 500.0, 0.0)
        );

        let mut f = TokenBatch::new(0.0, 10_000.0, VestingSchedule::NONE);
        f.spend(100.0).unwrap();
        assert_eq!(f.total(), 9900.0);
        f.spend(2000.0).unwrap();
        assert_eq!(f.total(), 7900.0);
        assert!(f.spend(8000.0).is_err());
    }
}
