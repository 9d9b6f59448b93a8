//! The trainer side. The parts that use tch (libtorch) build with the default `torch` feature; the
//! arithmetic around them (GAE, sampling, the normaliser, the schedule) builds without it, so that
//! evaluation and tests can use it on a machine without libtorch.
//!
//! Always built:
//! * [`gae`] — advantages for agents that arrive and leave;
//! * [`sampling`] — masked action sampling with the run's seeded RNG;
//! * [`normalizer`] — running observation normalisation;
//! * [`schedule`] — the learning-rate schedule in environment steps.
//!
//! With the `torch` feature:
//! * [`trainer`] — the loop (CleanRL's shape): anneal → [`rollout`] → [`update`] per policy (GAE, the
//!   epochs of [`loss`] with [`adam`]) → [`log`] → [`checkpoint`];
//! * [`policy`] — one policy's network, optimiser, normaliser and statistics, and how it acts;
//! * [`net`] — actor-critic MLPs (one flat parameter tensor, one fused pass) with masked multi-discrete
//!   heads;
//! * [`cpu`] — the CPU path: forward pass, loss gradient and Adam in Rust over the flat parameters;
//! * [`error`] — errors of training and checkpoints;
//! * [`checkpoint`] also loads policies to play (evaluation, frozen controllers) and to resume;
//! * [`device`] — `--device auto|cpu|cuda`;
//! * [`native`] — a resolved [`crate::run::job::TrainJob`] run from claim to summary ([`native::Native`]
//!   is the [`crate::run::job::Trainer`] studies are given).
//!
//! Training files (`agents/*.toml`) and a run's `config.toml` live in [`crate::run`].

pub mod gae;
pub mod normalizer;
pub mod sampling;
pub mod schedule;

#[cfg(feature = "torch")]
pub mod adam;
#[cfg(feature = "torch")]
pub mod checkpoint;
#[cfg(feature = "torch")]
pub mod cpu;
#[cfg(feature = "torch")]
pub mod device;
#[cfg(feature = "torch")]
pub mod error;
#[cfg(feature = "torch")]
pub mod log;
#[cfg(feature = "torch")]
pub mod loss;
#[cfg(feature = "torch")]
pub mod native;
#[cfg(feature = "torch")]
pub mod net;
#[cfg(feature = "torch")]
pub mod policy;
#[cfg(feature = "torch")]
pub mod rollout;
#[cfg(feature = "torch")]
pub mod trainer;
#[cfg(feature = "torch")]
pub mod update;

#[cfg(feature = "torch")]
pub use native::{train, Native};
