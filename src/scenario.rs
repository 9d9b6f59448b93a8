//! Scenario files: TOML documents with the model's parameters ([`ModelConfig`]) and a population table.
//!
//! Every section and field is optional (defaults are the reference's values), unknown fields are refused,
//! and every range is checked. Errors are one line naming the file, the field and what is allowed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env::personality::{self, PopulationEntry, ResolvedEntry};
use crate::env::CommonsEnvConfig;
use crate::model::config::{
    ArrivalConfig, ConvictionConfig, CurveConfig, ExtensionsConfig, HatchConfig, ParticipantConfig,
    ProposalConfig, RangeError, SimulationConfig, SpeculatorConfig,
};
use crate::model::ModelConfig;

/// Which environment a scenario describes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvKind {
    /// The Commons (every other section applies).
    #[default]
    Commons,
    /// Gymnasium's CartPole-v1 (other sections are ignored).
    Cartpole,
}

/// A scenario file: the model's sections plus the population table (`[[population]]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Which environment (`commons` unless `kind = "cartpole"`).
    pub kind: EnvKind,
    /// Horizon and random-number source.
    pub simulation: SimulationConfig,
    /// The hatch.
    pub hatch: HatchConfig,
    /// The bonding curve.
    pub curve: CurveConfig,
    /// Conviction voting.
    pub conviction: ConvictionConfig,
    /// Proposals.
    pub proposals: ProposalConfig,
    /// Participant behaviour and sentiment.
    pub participants: ParticipantConfig,
    /// Arrivals.
    pub arrivals: ArrivalConfig,
    /// Speculator funding.
    pub speculators: SpeculatorConfig,
    /// Extensions for learning agents.
    pub extensions: ExtensionsConfig,
    /// Shares of hatchers and arrivals per personality and their controllers; the rest follow the
    /// reference's rules.
    pub population: Vec<PopulationEntry>,
}

impl Scenario {
    /// The model part.
    pub fn model(&self) -> ModelConfig {
        ModelConfig {
            simulation: self.simulation.clone(),
            hatch: self.hatch.clone(),
            curve: self.curve.clone(),
            conviction: self.conviction.clone(),
            proposals: self.proposals.clone(),
            participants: self.participants.clone(),
            arrivals: self.arrivals.clone(),
            speculators: self.speculators.clone(),
            extensions: self.extensions.clone(),
        }
    }

    /// Replaces the model part.
    pub fn set_model(&mut self, m: ModelConfig) {
        self.simulation = m.simulation;
        self.hatch = m.hatch;
        self.curve = m.curve;
        self.conviction = m.conviction;
        self.proposals = m.proposals;
        self.participants = m.participants;
        self.arrivals = m.arrivals;
        self.speculators = m.speculators;
        self.extensions = m.extensions;
    }

    /// Checks the population table: shares in [0, 1] summing to at most 1, unique personalities, a
    /// checkpoint for every frozen controller.
    fn validate_population(&self) -> Result<(), RangeError> {
        let err = |field: String, value: String, allowed: &'static str| RangeError {
            field,
            value,
            allowed,
        };
        let mut names = std::collections::HashSet::new();
        for (i, e) in self.population.iter().enumerate() {
            for (what, v) in [("hatchers", e.hatchers), ("arrivals", e.arrivals)] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(err(
                        format!("population[{i}].{what}"),
                        v.to_string(),
                        "0 to 1",
                    ));
                }
            }
            if !names.insert(e.personality.clone()) {
                return Err(err(
                    format!("population[{i}].personality"),
                    e.personality.clone(),
                    "each personality once",
                ));
            }
            if e.controller == personality::ControllerKind::Frozen && e.checkpoint.is_none() {
                return Err(err(
                    format!("population[{i}].checkpoint"),
                    "missing".into(),
                    "a checkpoint path for controller = \"frozen\"",
                ));
            }
        }
        for (what, total) in [
            (
                "hatchers",
                self.population.iter().map(|e| e.hatchers).sum::<f64>(),
            ),
            (
                "arrivals",
                self.population.iter().map(|e| e.arrivals).sum::<f64>(),
            ),
        ] {
            if total > 1.0 + 1e-9 {
                return Err(err(
                    format!("population[*].{what}"),
                    format!("sums to {total}"),
                    "shares summing to at most 1",
                ));
            }
        }
        Ok(())
    }
}

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read scenario file: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown field or a value of the wrong type.
    #[error("{path}: {location}{message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `line N, field `x.y`: ` when known.
        location: String,
        /// What is wrong, on one line.
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: {cause}")]
    Range {
        /// The file.
        path: PathBuf,
        /// The field, its value and the allowed range.
        cause: RangeError,
    },
}

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ScenarioError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    parse(&text, path)
}

/// Reads a scenario file and resolves its population into an environment configuration (personality
/// files are looked up relative to the scenario file).
pub fn load_env(path: &Path) -> Result<CommonsEnvConfig, ScenarioError> {
    let scenario = load(path)?;
    env_config(&scenario, path)
}

/// Resolves a parsed scenario's population; `path` locates relative personality files.
pub fn env_config(scenario: &Scenario, path: &Path) -> Result<CommonsEnvConfig, ScenarioError> {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut population = Vec::new();
    for e in &scenario.population {
        let p = personality::resolve(&e.personality, base).map_err(|e| ScenarioError::Parse {
            path: path.to_path_buf(),
            location: String::new(),
            message: e.to_string(),
        })?;
        population.push(ResolvedEntry {
            personality: p,
            controller: e.controller.clone(),
            checkpoint: e.checkpoint.clone(),
            hatchers: e.hatchers,
            arrivals: e.arrivals,
        });
    }
    Ok(CommonsEnvConfig {
        model: scenario.model(),
        population,
    })
}

/// Parses and validates scenario text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let cfg: Scenario = toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| describe_location(text, span.start))
            .unwrap_or_default();
        ScenarioError::Parse {
            path: path.to_path_buf(),
            location,
            message: e.message().replace('\n', " ").trim().to_string(),
        }
    })?;
    cfg.model()
        .validate()
        .and_then(|()| cfg.validate_population())
        .map_err(|cause| ScenarioError::Range {
            path: path.to_path_buf(),
            cause,
        })?;
    Ok(cfg)
}

/// `line N, field `section.key`: ` for the byte offset of an error.
fn describe_location(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_no = text[..offset].matches('\n').count() + 1;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    match (section, key) {
        (Some(s), Some(k)) => format!("line {line_no}, field `{s}.{k}`: "),
        (None, Some(k)) => format!("line {line_no}, field `{k}`: "),
        _ => format!("line {line_no}: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("s.toml")).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_is_the_reference() {
        assert_eq!(
            parse("", Path::new("x")).unwrap().model(),
            ModelConfig::default()
        );
    }

    #[test]
    fn errors_name_file_and_field_on_one_line() {
        let e = err("[curve]\nkappa = \"two\"\n");
        assert!(
            e.starts_with("s.toml: line 2, field `curve.kappa`: invalid type"),
            "{e}"
        );
        let e = err("[curve]\nkapa = 2\n");
        assert!(e.contains("unknown field `kapa`"), "{e}");
        let e = err("[curve]\nkappa = -1\n");
        assert_eq!(
            e,
            "s.toml: field `curve.kappa` = -1 is out of range (allowed: > 0)"
        );
        let e = err("this is not toml");
        assert!(e.starts_with("s.toml: line 1"), "{e}");
        let e = err("[simulation]\ndays = -3\n");
        assert!(e.contains("simulation.days"), "{e}");
        for e in [err("[curve]\nkappa = \"two\"\n"), err("[nope]\n")] {
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
