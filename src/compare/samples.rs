//! Per-episode samples of a run folder: what `commons compare` reads.
//!
//! A folder is read, in this order of preference, as
//! * an evaluated training run: `eval.json` (written by `commons eval`) with its `samples` section;
//! * a `commons simulate` output: `summary.json` with an `episodes` array (final Commons metrics only).
//!
//! Series are named `<personality>/<measure>` (e.g. `profit-seeker/net_worth_gain`,
//! `altruist/sell`) and `commons/<metric>` (the keys of `commons simulate`'s summary).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::metrics::METRIC_NAMES;

/// Names of the behaviour rates in [`SideSamples`], in display order.
pub use crate::env::actions::BEHAVIOURS;
pub use crate::env::episodes::{AGENT_MEASURES, AGENT_MEASURE_UNITS};
use crate::eval::files::ReadError;
use crate::eval::report::EvalHead;
pub use crate::eval::samples::{EvalSamples, SideSamples, BEHAVIOUR_UNIT};

/// Measures `<personality>/share:<head>:<bin>` are the behaviour fingerprint (the share of days a bin
/// was chosen on a head); `commons compare` leaves them out of its table.
pub const SHARE_PREFIX: &str = "share:";

/// Which side of an evaluation to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The trained policies.
    Trained,
    /// The scripted participants in the same roles.
    Scripted,
}

/// One run's per-episode series.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSamples {
    /// Name shown in tables and plots.
    pub label: String,
    /// Seed of each episode, in order (runs with equal seed lists are compared pairwise).
    pub seeds: Vec<u64>,
    /// Series by name, one value per episode.
    pub series: BTreeMap<String, Vec<Option<f64>>>,
}

/// A run folder could not be read for comparison.
#[derive(Debug, thiserror::Error)]
pub enum SamplesError {
    /// Neither an evaluated run nor a simulate output.
    #[error("{0}: not a run folder to compare (no eval.json from `commons eval`, no summary.json from `commons simulate`)")]
    NotARun(PathBuf),
    /// A training run without `eval.json` (and, if it has no checkpoint, nothing to evaluate).
    #[error("{0}: a `commons train` run without eval.json: run `commons eval` on it (it needs a checkpoint)")]
    NotEvaluated(PathBuf),
    /// `--scripted` asked of a folder that has no scripted baseline.
    #[error("{0}: a `commons simulate` output has no scripted baseline to put first; --scripted needs an evaluated training run")]
    NoBaseline(PathBuf),
    /// A file could not be read, or is not what it should be.
    #[error(transparent)]
    File(#[from] ReadError),
}

#[derive(Deserialize)]
struct SimulateEpisode {
    seed: u64,
    #[serde(rename = "final")]
    last: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
struct SimulateFile {
    episodes: Vec<SimulateEpisode>,
}

fn read(path: &Path) -> Result<Vec<u8>, SamplesError> {
    Ok(crate::eval::files::read(path)?)
}

/// A `summary.json` as JSON (of `commons simulate` or `commons train`).
fn summary_json(path: &Path) -> Result<serde_json::Value, SamplesError> {
    serde_json::from_slice(&read(path)?).map_err(|e| {
        invalid(
            path,
            format!("not a summary.json of `commons simulate`: {e}"),
        )
    })
}

fn invalid(path: &Path, message: impl Into<String>) -> SamplesError {
    SamplesError::File(ReadError::invalid(path, message))
}

impl RunSamples {
    /// Reads `dir/eval.json` (the given side), or else `dir/summary.json` of `commons simulate`.
    pub fn load(dir: &Path, side: Side) -> Result<RunSamples, SamplesError> {
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let eval = dir.join("eval.json");
        if eval.is_file() {
            let mut run = Self::from_eval(&eval, side)?;
            run.label = match side {
                Side::Trained => label,
                Side::Scripted => format!("{label} (scripted)"),
            };
            return Ok(run);
        }
        if dir.join("checkpoints").is_dir() {
            return Err(SamplesError::NotEvaluated(dir.to_path_buf()));
        }
        let summary = dir.join("summary.json");
        if !summary.is_file() {
            return Err(SamplesError::NotARun(dir.to_path_buf()));
        }
        let value = summary_json(&summary)?;
        // A training run's summary.json has `global_step`; a simulate summary has `episodes`.
        if value.get("global_step").is_some() {
            return Err(SamplesError::NotEvaluated(dir.to_path_buf()));
        }
        if side == Side::Scripted {
            return Err(SamplesError::NoBaseline(dir.to_path_buf()));
        }
        let mut run = Self::simulate_from_json(&summary, value)?;
        run.label = label;
        Ok(run)
    }

    /// Reads one side of an `eval.json`.
    pub fn from_eval(path: &Path, side: Side) -> Result<RunSamples, SamplesError> {
        let file = EvalHead::read(path)?;
        let samples = file.samples.ok_or_else(|| {
            invalid(
                path,
                "field `samples` is missing (written by an older version): run `commons eval` on this run again",
            )
        })?;
        let (side, side_name) = match side {
            Side::Trained => (samples.trained, "trained"),
            Side::Scripted => (samples.scripted, "scripted"),
        };
        let n = file.episodes as usize;
        let check = |field: String, len: usize| {
            if len == n {
                Ok(())
            } else {
                Err(invalid(
                    path,
                    format!(
                        "field `samples.{side_name}.{field}` has {len} values (expected one per episode: {n})"
                    ),
                ))
            }
        };
        let mut series = BTreeMap::new();
        for (personality, measures) in side.personalities {
            for (measure, values) in measures {
                check(
                    format!("personalities.{personality}.{measure}"),
                    values.len(),
                )?;
                series.insert(format!("{personality}/{measure}"), values);
            }
        }
        for (personality, heads) in side.shares {
            for (head, bins) in heads {
                for (bin, values) in bins.into_iter().enumerate() {
                    check(format!("shares.{personality}.{head}[{bin}]"), values.len())?;
                    series.insert(format!("{personality}/{SHARE_PREFIX}{head}:{bin}"), values);
                }
            }
        }
        for (metric, values) in side.outcomes {
            check(format!("outcomes.{metric}"), values.len())?;
            series.insert(
                format!("commons/{metric}"),
                values.into_iter().map(Some).collect(),
            );
        }
        // Every series has one value per episode (checked above); without any, `episodes` is unfounded.
        if series.is_empty() {
            return Err(invalid(
                path,
                format!("field `samples.{side_name}` holds no series: run `commons eval` on this run again"),
            ));
        }
        Ok(RunSamples {
            label: String::new(),
            seeds: (0..file.episodes as u64)
                .map(|k| file.seed.wrapping_add(k))
                .collect(),
            series,
        })
    }

    fn simulate_from_json(
        path: &Path,
        value: serde_json::Value,
    ) -> Result<RunSamples, SamplesError> {
        let file: SimulateFile = serde_json::from_value(value).map_err(|e| {
            invalid(
                path,
                format!("not a summary.json of `commons simulate`: {e}"),
            )
        })?;
        let mut series = BTreeMap::new();
        for name in METRIC_NAMES {
            let values = file
                .episodes
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    e.last.get(name).copied().map(Some).ok_or_else(|| {
                        invalid(
                            path,
                            format!("field `episodes[{k}].final.{name}` is missing"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            series.insert(format!("commons/{name}"), values);
        }
        Ok(RunSamples {
            label: String::new(),
            seeds: file.episodes.iter().map(|e| e.seed).collect(),
            series,
        })
    }
}
