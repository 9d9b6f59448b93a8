//! The learning-rate schedule of a run, in environment steps (saved in checkpoints).

use serde::{Deserialize, Serialize};

/// The learning-rate annealing, in environment steps: the fraction of the base rate falls linearly from
/// `from_fraction` at `from_step` to 0 at `to_step`. A new run goes from (0, 1) to its total steps. A
/// run resumed with another `--total-steps` continues from where it was to the new total: an
/// interrupted run from the rate its next update would have had, a finished run (whose rate reached 0)
/// from the rate of its last update. The rate never jumps back up.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Where the current line starts.
    pub from_step: u64,
    /// The fraction there.
    pub from_fraction: f64,
    /// Where it reaches 0.
    pub to_step: u64,
}

impl LrSchedule {
    /// From the start of a run to `to_step`.
    pub fn new(to_step: u64) -> Self {
        LrSchedule {
            from_step: 0,
            from_fraction: 1.0,
            to_step,
        }
    }

    /// The fraction of the base rate at `step`: `1 − step/to` for a new run, else
    /// `from_fraction · (1 − (step − from)/(to − from))`; 0 from `to_step` on.
    pub fn fraction(&self, step: u64) -> f64 {
        if step >= self.to_step {
            return 0.0;
        }
        if self.from_step == 0 && self.from_fraction == 1.0 {
            return 1.0 - step as f64 / self.to_step as f64;
        }
        let done = step.saturating_sub(self.from_step) as f64;
        self.from_fraction * (1.0 - done / (self.to_step - self.from_step) as f64)
    }

    /// The schedule for a run that continues at `step` towards `to_step`, whose last update used
    /// `last`: unchanged if the target is the same, else re-anchored at the current rate (see the type).
    pub fn continued(self, step: u64, to_step: u64, last: Option<f64>) -> Self {
        if to_step == self.to_step {
            return self;
        }
        let from_fraction = if step < self.to_step {
            self.fraction(step)
        } else {
            last.unwrap_or(0.0)
        };
        LrSchedule {
            from_step: step,
            from_fraction,
            to_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn a_new_schedule_anneals_like_cleanrl_and_a_longer_one_continues_without_a_jump() {
        let s = LrSchedule::new(4096);
        // Update u of n starts at u · batch steps: fraction 1 − u/n, bit for bit.
        for u in 0..8u64 {
            assert_eq!(s.fraction(u * 512), 1.0 - u as f64 / 8.0);
        }
        assert_eq!(s.fraction(4096), 0.0);
        assert_eq!(s.continued(2048, 4096, None), s);
        // Interrupted at 2048 (fraction 0.5), resumed towards 8192: 0.5 there, linearly to 0 at 8192.
        let longer = s.continued(2048, 8192, Some(0.625));
        assert_eq!(longer.fraction(2048), 0.5);
        assert!((longer.fraction(5120) - 0.25).abs() < 1e-12);
        assert_eq!(longer.fraction(8192), 0.0);
        // Shorter: from the current rate down to the new end.
        let shorter = s.continued(2048, 3072, Some(0.625));
        assert_eq!(shorter.fraction(2048), 0.5);
        assert!((shorter.fraction(2560) - 0.25).abs() < 1e-12);
        // A finished run (fraction 0 at its end) extended: from its last update's rate, not from 0.
        let extended = s.continued(4096, 8192, Some(0.125));
        assert_eq!(extended.fraction(4096), 0.125);
        assert!((extended.fraction(6144) - 0.0625).abs() < 1e-12);
    }
}
