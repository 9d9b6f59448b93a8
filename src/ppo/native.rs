//! The native trainer as a [`Trainer`]: a resolved [`TrainJob`] run with PPO, from claiming its folder
//! to writing `summary.json`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::device::{self, NoCuda};
use super::trainer::{self, TrainError, TrainSettings};
use crate::env::cartpole::CartPole;
use crate::env::CommonsEnv;
use crate::run::job::{ClaimError, ProgressView, TrainJob, Trainer};
use crate::run::summary::TrainSummary;
use crate::scenario::EnvKind;

/// Why a job stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum JobRunError {
    /// `--device cuda` without a GPU.
    #[error(transparent)]
    Device(#[from] NoCuda),
    /// The run folder could not be claimed.
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// `summary.json` could not be written.
    #[error(transparent)]
    Write(#[from] crate::run::files::WriteError),
    /// A Commons job without its environment (a bug in the job's resolution).
    #[error("internal: a Commons job without its resolved environment")]
    NoEnvironment,
}

/// Runs `job`: resolves its device, claims its folder (saying on stderr where an earlier run was moved
/// with `--overwrite`), trains, and writes `summary.json`.
pub fn train(
    job: &TrainJob,
    progress: ProgressView,
    stop: Arc<AtomicBool>,
) -> Result<TrainSummary, JobRunError> {
    let device = device::resolve(job.cfg.run.device)?;
    if let Some(to) = job.move_aside()? {
        eprintln!(
            "moved the earlier run {} to {}",
            job.run_dir.display(),
            to.display()
        );
    }
    let _folder = job.claim()?;
    let settings = TrainSettings {
        run_dir: job.run_dir.clone(),
        device,
        file: job.cfg.training.clone(),
        threads: 0,
        progress,
        stop,
        resume: job.resume,
        stop_after: job.stop_after,
        frozen: job.frozen.clone(),
        warm_start: job.warm_start.clone(),
    };
    let n = job.cfg.training.train.num_envs;
    let mut summary = match job.cfg.scenario.kind {
        EnvKind::Cartpole => trainer::train((0..n).map(|_| CartPole::new()).collect(), &settings)?,
        EnvKind::Commons => {
            let env = job.env.as_ref().ok_or(JobRunError::NoEnvironment)?;
            trainer::train(
                (0..n).map(|_| CommonsEnv::new(env.clone())).collect(),
                &settings,
            )?
        }
    };
    summary.provenance = Some(crate::provenance::Provenance::of(
        job.env.as_ref().map_or(&[][..], |e| &e.population[..]),
    ));
    crate::run::files::write_json(&job.run_dir, crate::run::files::SUMMARY, &summary)?;
    Ok(summary)
}

/// The native PPO trainer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Native;

impl Trainer for Native {
    fn train(
        &self,
        job: &TrainJob,
        progress: ProgressView,
        stop: Arc<AtomicBool>,
    ) -> Result<TrainSummary, Box<dyn std::error::Error + Send + Sync>> {
        Ok(train(job, progress, stop)?)
    }
}
