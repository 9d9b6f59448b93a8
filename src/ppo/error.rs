//! Errors of training, evaluation and checkpoints.

use std::path::{Path, PathBuf};

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The environment refused something.
    #[error("environment: {0}")]
    Env(crate::env::EnvError),
    /// libtorch failed.
    #[error("libtorch: {0}")]
    Torch(tch::TchError),
    /// A run folder's configuration could not be read.
    #[error(transparent)]
    RunConfig(#[from] crate::run::config::RunConfigError),
    /// An evaluation series that should exist does not (a bug).
    #[error("internal: evaluation series `{0}` is missing")]
    MissingSeries(String),
    /// `train` was given no environment to step.
    #[error("no environments to train on (train.num_envs must be at least 1)")]
    NoEnvironments,
    /// A file could not be written or read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

// Without `source`, so that `{:#}` at the CLI prints the inner message once.
impl From<crate::env::EnvError> for TrainError {
    fn from(e: crate::env::EnvError) -> Self {
        TrainError::Env(e)
    }
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(e)
    }
}

/// A [`TrainError::File`] for `path` from an I/O error.
pub fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A [`TrainError::File`] for `path`.
pub fn bad_file(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}
