//! # commons-rl
//!
//! Stress-testing token economies with learning agents. A *Commons* is an organisation run by an
//! augmented bonding curve (buy and sell a token against a reserve; part of the money flows to a funding
//! pool), conviction voting (holders stake on proposals; conviction grows until a proposal is funded),
//! vesting token batches, and participants whose sentiment makes them join, trade, propose and leave.
//!
//! The crate is layered (each layer only uses the ones below it):
//!
//! * [`atomic`] and [`mod@format`] — leaf utilities: atomic file writes, number formatting;
//! * [`model`] — the Commons economy, a faithful re-implementation of the reference cadCAD simulation
//!   (pure Rust, no I/O), with the reference's random behaviour in [`model::scripted`];
//! * [`rng`] — the model's five random streams, with our default engine or numpy's legacy MT19937 for
//!   bit-exact reproduction of the original;
//! * [`env`](mod@env) — the multi-agent environment: personalities, observations, masks, `VecEnv`, CartPole;
//! * [`scenario`] — scenario files (`envs/*.toml`) with validation and one-line errors;
//! * [`simulate`] — the Monte-Carlo runner behind `commons simulate` (episodes in parallel, streamed
//!   outputs);
//! * `ppo` (feature `torch`, on by default) — the only module that uses libtorch;
//! * [`provenance`] — where a result came from (commit, versions, population), recorded in run and
//!   study files;
//! * [`run`] — run folders: which command owns which output folder (manifest, lock, safe names);
//! * [`compare`] — `commons compare`: per-episode samples of runs, bootstrap intervals, table and SVG;
//! * `study` (feature `torch`) — `commons study`: study files, cells, the report (hierarchical
//!   bootstrap, findings, charts).
//!
//! ```
//! use commons_rl::model::{Commons, ModelConfig, Scripted};
//!
//! let mut cfg = ModelConfig::default();
//! cfg.simulation.days = 30;
//! let mut commons = Commons::new(&cfg, 42).unwrap();
//! for _ in 0..cfg.simulation.days {
//!     commons.step(&mut Scripted).unwrap();
//! }
//! assert!(commons.pools().funding_pool >= 0.0);
//! ```

pub mod atomic;
pub mod compare;
pub mod env;
pub mod eval;
pub mod file_error;
pub mod format;
pub mod model;
pub mod ppo;
pub mod provenance;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod simulate;
pub mod stats;
pub mod study;
