//! `eval_days.csv`: the world's metrics on every day of every evaluation episode, both sides, written
//! by [`EvalDays::write`] and read by [`EvalDays::read`] (a study report's trajectory bands).

use std::path::{Path, PathBuf};

use super::files::ReadError;
use crate::model::metrics::{Metrics, METRIC_NAMES};

/// The world's metrics kept for every day of every evaluation episode, in [`METRIC_NAMES`] terms.
pub const DAY_METRICS: [&str; 6] = [
    "token_price",
    "collateral_pool",
    "funding_pool",
    "token_supply",
    "participants",
    "avg_sentiment",
];

/// File name of the per-day trajectories beside `eval.json`.
pub const FILE: &str = "eval_days.csv";

/// One day's [`DAY_METRICS`], in their order.
pub type DayRow = [f64; DAY_METRICS.len()];

/// Per-day [`DAY_METRICS`] of each episode of both sides: what `eval_days.csv` holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalDays {
    /// Trained policies: per episode, per day (day 0 = after reset), the metrics.
    pub trained: Vec<Vec<DayRow>>,
    /// Scripted participants in the same roles, the same seeds.
    pub scripted: Vec<Vec<DayRow>>,
}

/// Where [`DAY_METRICS`] sit in [`Metrics::values`] (each is a metric name: checked by a test).
fn day_metric_indices() -> [usize; DAY_METRICS.len()] {
    DAY_METRICS.map(|name| {
        METRIC_NAMES
            .iter()
            .position(|m| *m == name)
            .unwrap_or(usize::MAX)
    })
}

/// Today's [`DAY_METRICS`] of a world.
pub fn day_row(commons: &crate::model::Commons) -> DayRow {
    let v = Metrics::of(commons).values();
    day_metric_indices().map(|j| v.get(j).copied().unwrap_or(f64::NAN))
}

impl EvalDays {
    /// The CSV text: `side,episode,seed,day,<DAY_METRICS...>` (episode `k` has seed `seed + k`; floats in
    /// the shortest form that reads back exactly).
    pub fn to_csv(&self, seed: u64) -> String {
        let mut out = format!("side,episode,seed,day,{}\n", DAY_METRICS.join(","));
        for (side, episodes) in [("trained", &self.trained), ("scripted", &self.scripted)] {
            for (k, days) in episodes.iter().enumerate() {
                for (day, m) in days.iter().enumerate() {
                    out.push_str(&format!("{side},{k},{},{day}", seed.wrapping_add(k as u64)));
                    for v in m {
                        out.push_str(&format!(",{v}"));
                    }
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Writes `run_dir/eval_days.csv` atomically (episode `k` has seed `seed + k`); returns its path.
    pub fn write(
        &self,
        run_dir: &Path,
        seed: u64,
    ) -> Result<PathBuf, crate::run::files::WriteError> {
        crate::run::files::write_text(run_dir, FILE, &self.to_csv(seed))
    }

    /// Reads an `eval_days.csv` (columns found by name; each side's rows in day order per episode).
    pub fn read(path: &Path) -> Result<EvalDays, ReadError> {
        let invalid = |message: String| ReadError::invalid(path, message);
        let bytes = std::fs::read(path)
            .map_err(|cause| ReadError::unreadable(path, "cannot read", cause))?;
        let text = String::from_utf8(bytes).map_err(|e| invalid(format!("cannot read: {e}")))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| invalid("empty".into()))?
            .split(',')
            .collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| invalid(format!("no column `{name}`")))
        };
        let (side_c, episode_c) = (col("side")?, col("episode")?);
        let mut metric_c = [0usize; DAY_METRICS.len()];
        for (c, m) in metric_c.iter_mut().zip(DAY_METRICS) {
            *c = col(m)?;
        }
        let mut out = EvalDays::default();
        for (n, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || invalid(format!("line {}: not `{}`", n + 2, header.join(",")));
            let episodes = match f.get(side_c) {
                Some(&"trained") => &mut out.trained,
                Some(&"scripted") => &mut out.scripted,
                _ => return Err(bad()),
            };
            let episode: usize = f
                .get(episode_c)
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?;
            let mut row = [0.0; DAY_METRICS.len()];
            for (v, &c) in row.iter_mut().zip(&metric_c) {
                *v = f.get(c).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            }
            if episodes.len() <= episode {
                episodes.resize(episode + 1, Vec::new());
            }
            episodes[episode].push(row);
        }
        Ok(out)
    }

    /// One metric's trajectories of one side: per episode, per day.
    pub fn metric(side: &[Vec<DayRow>], metric: usize) -> Vec<Vec<f64>> {
        side.iter()
            .map(|days| days.iter().map(|d| d[metric]).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_metrics_are_metric_names() {
        for m in DAY_METRICS {
            assert!(METRIC_NAMES.contains(&m), "{m}");
        }
    }

    #[test]
    fn the_csv_reads_back() {
        let days = EvalDays {
            trained: vec![vec![[1.0, 2.0, 3.0, 4.0, 5.0, 0.1]; 3], vec![[0.5; 6]; 2]],
            scripted: vec![vec![[1.0 / 3.0; 6]; 2]],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = days.write(dir.path(), 7).unwrap();
        assert_eq!(EvalDays::read(&path).unwrap(), days);
        std::fs::write(&path, "side,episode\ntrained,0\n").unwrap();
        let e = EvalDays::read(&path).unwrap_err().to_string();
        assert!(e.contains("no column `token_price`"), "{e}");
    }
}
