//! A training run's `config.toml`: the resolved scenario and training file, and where they came from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::training::TrainingFile;
use crate::file_error::FileError;
use crate::scenario::{Scenario, ValidationError};

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

/// A device request as users write it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceRequest {
    /// CUDA if libtorch sees a GPU, else CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// The first CUDA GPU; an error if there is none.
    Cuda,
}

/// A run folder's `config.toml` could not be used: unreadable, not a run configuration, or a value
/// out of range (the same checks as the scenario and agents files it came from; the field is
/// `scenario.…` or `training.…`).
pub type RunConfigError = FileError<ValidationError>;

impl RunConfig {
    /// Reads `DIR/config.toml`; errors name the file.
    pub fn load(run_dir: &Path) -> Result<Self, RunConfigError> {
        let path = run_dir.join("config.toml");
        let text = RunConfigError::read_text(&path, "cannot read the run's configuration")?;
        let cfg: RunConfig = RunConfigError::toml(&path, &text)?;
        let range = |cause: ValidationError| RunConfigError::range(&path, cause);
        cfg.scenario
            .validate()
            .map_err(|e| range(e.within("scenario")))?;
        cfg.training
            .validate()
            .map_err(|e| range(ValidationError::from(e).within("training")))?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_invalid_configs_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = RunConfig::load(dir.path()).unwrap_err();
        assert!(matches!(e, RunConfigError::Unreadable { .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("cannot read the run's configuration"));
        std::fs::write(dir.path().join("config.toml"), "[scenario]\n").unwrap();
        let e = RunConfig::load(dir.path()).unwrap_err();
        assert!(matches!(e, RunConfigError::Invalid { .. }), "{e:?}");
        assert!(e.to_string().contains("missing field `run`"), "{e}");
        // A hand-edited value goes through the scenario's own checks.
        let good = "[run]\nenv = \"e.toml\"\nagents = \"a.toml\"\ndevice = \"cpu\"\n[scenario.curve]\nkappa = nan\n[training]\n";
        std::fs::write(dir.path().join("config.toml"), good).unwrap();
        let e = RunConfig::load(dir.path()).unwrap_err();
        assert!(matches!(e, RunConfigError::Range { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("field `scenario.curve.kappa` = NaN is out of range"),
            "{e}"
        );
    }
}
