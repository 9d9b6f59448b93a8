//! The trainer side: the only module that uses tch (libtorch). Built with the default `torch` feature.
//!
//! * [`net`] — actor-critic MLPs with masked multi-discrete heads;
//! * [`gae`] — advantages for agents that arrive and leave;
//! * [`sampling`] — masked action sampling with the run's seeded RNG;
//! * [`normalizer`] — running observation normalisation;
//! * [`config`] — training files (`agents/*.toml`);
//! * [`trainer`] — the PPO loop, TensorBoard logging, checkpoints and resume;
//! * [`evaluate`] — trained policies against scripted participants in the same roles;
//! * [`device`] — `--device auto|cpu|cuda`.

pub mod config;
pub mod device;
pub mod evaluate;
pub mod gae;
pub mod net;
pub mod normalizer;
pub mod run_config;
pub mod sampling;
pub mod trainer;
