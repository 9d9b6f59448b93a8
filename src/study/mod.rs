//! Mechanism studies (`commons study`): populations trained across parameter variants and training
//! seeds, evaluated on the same held-out seeds, and reported with intervals that include the
//! variation between training runs.
//!
//! * [`file`](mod@file) — study files (`studies/*.toml`): base files, variants, seeds, steps, validation;
//! * [`report`] — `study.json`: per variant and side, each series' two-level estimate, differences
//!   from the baseline (hierarchical bootstrap, [`crate::stats::bootstrap`]), the per-day
//!   trajectories' bands, and the findings in plain words;
//! * [`run`](mod@run) — running a study: cell states, the folder's claim, training through a
//!   [`crate::run::job::Trainer`], evaluation, the report;
//! * [`render`] — `report.md` and `report.html` (self-contained, charts inline), with
//!   [`charts`] drawn by plotters.

pub mod charts;
pub mod file;
pub mod render;
pub mod report;
pub mod run;

pub use file::{Cell, Played, StudyError, StudyFile, Variant};
