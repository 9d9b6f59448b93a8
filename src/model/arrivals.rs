//! Participant arrivals (docs/reference-model.md §4.10, block 1): how many chances a day offers newcomers, and
//! how likely each one is taken.

use super::config::ArrivalConfig;

/// Today's arrival chances: `slots` Bernoulli draws of probability `rate` each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArrivalChances {
    /// Probability of an arrival per slot (may exceed 1 in legacy mode, where that raises).
    pub rate: f64,
    /// Number of slots.
    pub slots: u32,
}

/// The arrival chances of day `d` with mirrored average sentiment `s̄` (end of the previous day):
///
/// * during speculation (`d − 1 < speculation_days`): `rate = base + (1 − base)·s̄` (the reference's
///   `0.5 + 0.5·s̄`), `slots = max_new_participants · multiplier`;
/// * after it: `rate = (1 + s̄) / arrival_rate_denominator` (the reference's `(1 + s̄)/10`),
///   `slots = max_new_participants`.
pub fn arrival_chances(
    a: &ArrivalConfig,
    day: u32,
    speculation_days: i64,
    multiplier: u32,
    sentiment: f64,
) -> ArrivalChances {
    if i64::from(day) - 1 < speculation_days {
        ArrivalChances {
            rate: a.speculation_rate_base + (1.0 - a.speculation_rate_base) * sentiment,
            slots: a.max_new_participants * multiplier,
        }
    } else {
        ArrivalChances {
            rate: (1.0 + sentiment) / a.arrival_rate_denominator,
            slots: a.max_new_participants,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speculation_then_the_daily_trickle() {
        let a = ArrivalConfig::default();
        // Day 1 with 10 speculation days, multiplier 4: 0.5 + 0.5 · 0.75, four slots.
        assert_eq!(
            arrival_chances(&a, 1, 10, 4, 0.75),
            ArrivalChances {
                rate: 0.875,
                slots: 4
            }
        );
        // Day 10 is the last speculation day (10 − 1 < 10); day 11 is not.
        assert_eq!(arrival_chances(&a, 10, 10, 4, 0.5).slots, 4);
        assert_eq!(
            arrival_chances(&a, 11, 10, 4, 0.5),
            ArrivalChances {
                rate: 0.15,
                slots: 1
            }
        );
    }
}
