//! A run's latest checkpoint as [`Actor`]s: with the `torch` feature, the trained policies loaded by
//! [`crate::ppo::checkpoint`] (on the CPU path as plain numbers that threads share, else one thread);
//! without it, a clear error.

use std::path::Path;

use super::actor::Actors;
#[cfg(feature = "torch")]
use super::actor::{ActError, Actor};
use super::EvalError;
use crate::env::CommonsEnvConfig;
use crate::run::config::DeviceRequest;
use crate::run::training::TrainingFile;

/// A checkpoint's policies, ready to play.
pub struct Loaded {
    /// Their actors, in policy order.
    pub actors: Actors,
    /// Their personalities, in policy order.
    pub names: Vec<String>,
    /// The checkpoint's global step.
    pub step: u64,
}

/// Loads a run's policies on the device it asks for.
pub struct Loader {
    run_dir: std::path::PathBuf,
    #[cfg(feature = "torch")]
    device: crate::ppo::device::Device,
}

/// The ppo types that act for a policy: both sample with their own `act` (the one actor path of
/// `crate::ppo::policy`), and their training errors pass through unchanged.
#[cfg(feature = "torch")]
macro_rules! ppo_actor {
    ($t:ty) => {
        impl Actor for $t {
            fn act(
                &self,
                k: usize,
                out: &crate::env::StepOutput,
                rng: &mut rand_pcg::Pcg32,
                actions: &mut [u32],
            ) -> Result<usize, ActError> {
                <$t>::act(self, k, out, rng, actions).map_err(|e| Box::new(e) as ActError)
            }
        }
    };
}

#[cfg(feature = "torch")]
ppo_actor!(crate::ppo::checkpoint::LoadedPolicy);
#[cfg(feature = "torch")]
ppo_actor!(crate::ppo::policy::CpuActor);

impl Loader {
    /// The loader of `run_dir`'s policies on `device` (an error when it is not available, or
    /// without libtorch).
    pub fn new(run_dir: &Path, device: DeviceRequest) -> Result<Self, EvalError> {
        #[cfg(feature = "torch")]
        {
            let device =
                crate::ppo::device::resolve(device).map_err(|e| EvalError::Act(Box::new(e)))?;
            Ok(Loader {
                run_dir: run_dir.to_path_buf(),
                device,
            })
        }
        #[cfg(not(feature = "torch"))]
        {
            let _ = device;
            Err(EvalError::NoTorch(run_dir.to_path_buf()))
        }
    }

    /// The latest checkpoint's policies for the personalities `cfg`'s policies play, with the
    /// networks of `file`.
    pub fn load(&self, cfg: &CommonsEnvConfig, file: &TrainingFile) -> Result<Loaded, EvalError> {
        #[cfg(feature = "torch")]
        {
            use crate::ppo::checkpoint;
            // One intra-op libtorch thread on every thread that plays: see the function.
            crate::ppo::device::one_intra_op_thread_everywhere();
            let probe = crate::env::CommonsEnv::new(cfg.clone());
            let (policies, step) =
                checkpoint::load_policies(&self.run_dir, &probe, file, self.device)
                    .map_err(|e| EvalError::Act(Box::new(e)))?;
            let names = policies.iter().map(|p| p.name.clone()).collect();
            let cpu: Option<Vec<crate::ppo::policy::CpuActor>> = policies
                .iter()
                .map(|p| crate::ppo::policy::CpuActor::of(&p.net, &p.norm))
                .collect();
            let actors = match cpu {
                Some(actors) => Actors::Parallel(
                    actors
                        .into_iter()
                        .map(|a| Box::new(a) as Box<dyn Actor + Send + Sync>)
                        .collect(),
                ),
                None => Actors::Serial(
                    policies
                        .into_iter()
                        .map(|p| Box::new(p) as Box<dyn Actor>)
                        .collect(),
                ),
            };
            Ok(Loaded {
                actors,
                names,
                step,
            })
        }
        #[cfg(not(feature = "torch"))]
        {
            let _ = (cfg, file);
            Err(EvalError::NoTorch(self.run_dir.clone()))
        }
    }
}
