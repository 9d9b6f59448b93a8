//! A training run's `config.toml`: the resolved scenario and training file, and where they came from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::TrainingFile;
use super::device::DeviceRequest;
use crate::scenario::Scenario;

/// `config.toml` of a run: enough to repeat, resume or evaluate it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunConfig {
    /// Where the settings came from.
    pub run: RunInfo,
    /// The resolved scenario (population included).
    pub scenario: Scenario,
    /// The resolved training file (CLI overrides applied).
    pub training: TrainingFile,
}

/// Paths and device of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    /// Scenario file (personality files are resolved relative to it).
    pub env: PathBuf,
    /// Agents file.
    pub agents: PathBuf,
    /// Requested device.
    pub device: DeviceRequest,
}

/// A run folder's `config.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the run's configuration: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not a run configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, on one line.
        message: String,
    },
}

impl RunConfig {
    /// Reads `DIR/config.toml`; errors name the file.
    pub fn load(run_dir: &Path) -> Result<Self, RunConfigError> {
        let path = run_dir.join("config.toml");
        let text = std::fs::read_to_string(&path).map_err(|cause| RunConfigError::Io {
            path: path.clone(),
            cause,
        })?;
        toml::from_str(&text).map_err(|e| RunConfigError::Parse {
            path,
            message: e.message().replace('\n', " "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_invalid_configs_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = RunConfig::load(dir.path()).unwrap_err();
        assert!(matches!(e, RunConfigError::Io { .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("cannot read the run's configuration"));
        std::fs::write(dir.path().join("config.toml"), "[scenario]\n").unwrap();
        let e = RunConfig::load(dir.path()).unwrap_err();
        assert!(matches!(e, RunConfigError::Parse { .. }), "{e:?}");
        assert!(e.to_string().contains("missing field `run`"), "{e}");
    }
}
