//! The Commons economy: pure Rust, no tensors, no I/O.
//!
//! One file per mechanism, each a set of small functions whose doc comments quote the reference's
//! formula (the reference specification, `docs/reference-model.md` §4):
//!
//! | mechanism | file |
//! |---|---|
//! | bonding curve (mint, burn, spot price) | [`bonding_curve`] |
//! | pools: hatch split, deposit, burn with exit tribute, spending, speculators' tribute | [`pools`] |
//! | arrivals: daily chances and rates | [`arrivals`] |
//! | token batches and vesting | [`vesting`] |
//! | conviction and trigger threshold | [`conviction`] |
//! | participants and support edges (affinity) | [`participant`] |
//! | proposals: creation and resolution rates | [`proposal`] |
//! | stake split over candidates | [`voting`] |
//! | sentiment updates | [`sentiment`] |
//! | the reference's random decisions | [`scripted`] |
//! | world state and the 19 daily blocks | [`commons`] |
//! | outcome metrics (named once) | [`metrics`] |
//! | CommonsScore | [`score`] |
//! | numpy-exact sums, std and median | [`numeric`] |
//! | every parameter and its range | [`config`] |

pub mod arrivals;
pub mod bonding_curve;
pub mod commons;
pub mod config;
pub mod conviction;
pub mod metrics;
pub mod numeric;
pub mod params;
pub mod participant;
pub mod pools;
pub mod proposal;
pub mod score;
pub mod scripted;
pub mod sentiment;
pub mod vesting;
pub mod voting;

pub use commons::{Commons, ModelError};
pub use config::ModelConfig;
pub use metrics::Metrics;
pub use scripted::{Controller, Scripted};
