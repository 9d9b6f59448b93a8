//! Mechanism studies (`commons study`): populations trained across parameter variants and training
//! seeds, evaluated on the same held-out seeds, and reported with intervals that include the
//! variation between training runs.
//!
//! * [`file`](mod@file) — study files (`studies/*.toml`): base files, variants, seeds, steps, validation;
//! * [`report`] — `study.json`: per variant and side, each series' two-level estimate, differences
//!   from the baseline (hierarchical bootstrap, [`crate::compare::bootstrap`]), the per-day
//!   trajectories' bands, and the findings in plain words;
//! * [`render`] — `report.md` and `report.html` (self-contained, charts inline), with
//!   [`charts`] drawn by plotters.

pub mod charts;
pub mod file;
pub mod render;
pub mod report;

pub use file::{Cell, StudyError, StudyFile, Variant};

/// The longest episode (days) of any variant: what one evaluation episode costs on the progress bar.
pub fn days_of(study: &StudyFile) -> Result<u64, StudyError> {
    let base = crate::scenario::load(&study.env).map_err(|e| StudyError::Field {
        path: study.path.clone(),
        field: "study.env".into(),
        message: e.to_string(),
    })?;
    let mut days = 0;
    for (i, v) in study.variants.iter().enumerate() {
        let sets: Vec<_> = v
            .set
            .iter()
            .filter(|o| !crate::ppo::config::TrainingFile::owns(o))
            .cloned()
            .collect();
        let sc = crate::scenario::with_overrides(&base, &sets).map_err(|e| StudyError::Field {
            path: study.path.clone(),
            field: format!("variant[{i}].set"),
            message: e.to_string(),
        })?;
        days = days.max(sc.model.simulation.days as u64);
    }
    Ok(days)
}
