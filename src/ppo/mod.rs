//! The trainer side: the only module that uses tch (libtorch). Built with the default `torch` feature.
//!
//! * [`trainer`] — the loop (CleanRL's shape): anneal → [`rollout`] → [`update`] per policy (GAE, the
//!   epochs of [`loss`] with [`adam`]) → [`log`] → [`checkpoint`];
//! * [`policy`] — one policy's network, optimiser, normaliser and statistics, and how it acts;
//! * [`net`] — actor-critic MLPs (one flat parameter tensor, one fused pass) with masked multi-discrete
//!   heads;
//! * [`cpu`] — the CPU path: forward pass, loss gradient and Adam in Rust over the flat parameters;
//! * [`schedule`] — the learning-rate schedule in environment steps;
//! * [`error`] — errors of training, evaluation and checkpoints;
//! * [`gae`] — advantages for agents that arrive and leave;
//! * [`sampling`] — masked action sampling with the run's seeded RNG;
//! * [`normalizer`] — running observation normalisation;
//! * [`config`] — training files (`agents/*.toml`);
//! * [`evaluate`] — trained policies against scripted participants in the same roles;
//! * [`device`] — `--device auto|cpu|cuda`.

pub mod adam;
pub mod checkpoint;
pub mod config;
pub mod cpu;
pub mod device;
pub mod error;
pub mod evaluate;
pub mod gae;
pub mod log;
pub mod loss;
pub mod net;
pub mod normalizer;
pub mod policy;
pub mod rollout;
pub mod run_config;
pub mod sampling;
pub mod schedule;
pub mod trainer;
pub mod update;
