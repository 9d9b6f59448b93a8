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

impl RunConfig {
    /// Reads `DIR/config.toml`; errors name the file.
    pub fn load(run_dir: &Path) -> Result<Self, String> {
        let path = run_dir.join("config.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: cannot read the run's configuration: {e}",
                path.display()
            )
        })?;
        toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.message().replace('\n', " ")))
    }
}
