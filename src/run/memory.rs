//! Memory guards: before a command allocates its worlds, buffers and results, it estimates how much memory
//! they take and refuses, with the estimate and the limit, when that exceeds what the machine has free
//! (each command has a flag to go ahead anyway).

use crate::env::actions::MASK_LEN;
use crate::env::observation::OBS_LEN;
use crate::model::participant::{Participant, Support};
use crate::model::ModelConfig;

/// The estimate exceeds what the machine has.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: about {} of memory needed, more than the {} this machine has available; lower {knobs}, or pass --ignore-memory-limit to try anyway", gib(*.needed), gib(*.available))]
pub struct MemoryError {
    /// What was estimated.
    pub what: String,
    /// Which settings drive the estimate.
    pub knobs: String,
    /// Estimated bytes.
    pub needed: u64,
    /// Available bytes.
    pub available: u64,
}

fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 0.1 {
        format!("{g:.1} GiB")
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// Bytes of memory available to new allocations (Linux: `MemAvailable` of /proc/meminfo); None where
/// that cannot be read (then nothing is refused).
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `needed` bytes when more than the machine has available (unless `ignore`).
pub fn check(needed: u64, what: &str, knobs: &str, ignore: bool) -> Result<(), MemoryError> {
    match available() {
        Some(available) if !ignore && needed > available => Err(MemoryError {
            what: what.into(),
            knobs: knobs.into(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// An estimate of one Commons world of `cfg` in bytes, with every participant an agent row: the
/// hatchers with their support edges (to the initial proposals, and to every proposal made while they
/// stay: about one per six days), the most arrivals the horizon allows (without edges), and one
/// observation and mask per participant. Calibrated on `commons bench` (20 000 hatchers, 2
/// environments: about 1.2 KB per hatcher after 20 days, 3.1 KB after 200, 4.7 KB after 730; each
/// agent's output row, controller and bookkeeping come to about 2.5 times its participant record and
/// row), it errs low: it exists to catch sizes that cannot fit (10⁶ hatchers in 8 environments, 10⁹
/// arrival slots), not to predict usage.
pub fn world_bytes(cfg: &ModelConfig) -> u64 {
    let a = &cfg.arrivals;
    let days = cfg.simulation.days as u64;
    let multiplier = 1 + a.multiplier_range.clamp(0.0, 1e6) as u64;
    let arrivals = days
        .saturating_mul(a.max_new_participants as u64)
        .saturating_mul(multiplier);
    let participant = std::mem::size_of::<Participant>() as u64;
    // An edge with its share of the edge table's overhead.
    let edge = std::mem::size_of::<Support>() as u64 * 3 / 2;
    let row = (OBS_LEN * 4 + MASK_LEN + 32) as u64;
    let hatchers = cfg.hatch.hatchers as u64;
    let edges = (cfg.proposals.initial as u64).saturating_add(days.min(365) / 6);
    let hatcher = (participant + row) * 5 / 2 + edges.saturating_mul(edge);
    hatchers
        .saturating_mul(hatcher)
        .saturating_add(arrivals.saturating_mul(participant / 2 + row))
}

/// A lower-bound estimate of one environment's rollout of `num_steps` days in bytes: an observation,
/// mask and transition per day for the hatchers and one arrival per day.
pub fn rollout_bytes(cfg: &ModelConfig, num_steps: usize) -> u64 {
    let rows = (cfg.hatch.hatchers as u64).saturating_add(
        (cfg.simulation.days as u64).saturating_mul(cfg.arrivals.max_new_participants as u64),
    );
    let row = (OBS_LEN * 4 + MASK_LEN + 64) as u64;
    rows.saturating_mul(row).saturating_mul(num_steps as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_worlds_are_refused_and_ordinary_ones_are_not() {
        let ordinary = world_bytes(&ModelConfig::default());
        assert!(ordinary < 64 << 20, "{ordinary}");
        let mut huge = ModelConfig::default();
        huge.hatch.hatchers = 100_000_000;
        assert!(world_bytes(&huge) > 10 << 30);
        if let Some(avail) = available() {
            let e = check(avail + 1, "x", "y", false).unwrap_err().to_string();
            assert!(
                e.contains("--ignore-memory-limit") && e.contains("GiB"),
                "{e}"
            );
            assert!(check(avail + 1, "x", "y", true).is_ok());
            assert!(check(1, "x", "y", false).is_ok());
        }
    }
}
