//! The gym-like layer: a multi-agent environment API ([`api`]), the Commons environment
//! ([`commons_env`]) with personalities ([`personality`]), observations and masks ([`observation`]),
//! actions ([`actions`]), fixed strategies ([`strategy`]), CartPole for validating trainers ([`cartpole`]), parallel vectorised
//! environments ([`vec_env`]) and a generic checker ([`check`]).

pub mod actions;
pub mod api;
pub mod cartpole;
pub mod check;
pub mod commons_env;
pub mod controller;
pub mod episodes;
pub mod observation;
pub mod personality;
pub mod strategy;
pub mod vec_env;

pub use api::{
    ActionSpec, AgentId, AgentRow, EnvError, MultiAgentEnv, ObservationSpec, StepOutput,
};
pub use commons_env::{CommonsEnv, CommonsEnvConfig};
