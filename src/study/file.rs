//! Study files (`studies/*.toml`): a base scenario and agents file, parameter variants (the first is
//! the baseline), training seeds, training steps and evaluation episodes.
//!
//! ```toml
//! [study]
//! env = "envs/commons.toml"          # paths relative to the working directory, as on the CLI
//! agents = "agents/mixed.toml"
//! seeds = [1, 2, 3]                  # training seeds: every variant is trained once per seed
//! total_steps = 200000               # training steps (days, all environments) per cell
//! eval_episodes = 32                 # held-out episodes per side (the same seeds for every cell)
//! eval_seed = 1000000                # optional: seed of the first eval episode
//! against_fixed = true               # optional: also the best-response check of every cell (true: the
//!                                    # built-in strategies; or a folder of strategy files)
//! set = { "simulation.days" = 365 }  # optional: overrides for every variant
//!
//! [[variant]]                        # the first variant is the baseline
//! name = "tribute-0.05"
//! set = { "curve.exit_tribute" = 0.05 }
//!
//! [[variant]]
//! name = "tribute-0.3"
//! set = { "curve.exit_tribute" = 0.3 }
//! ```
//!
//! `set` tables take dotted keys, quoted (`"curve.exit_tribute" = 0.3`) or as TOML sub-tables
//! (`[variant.set] curve.exit_tribute = 0.3`), for scenario parameters and training settings alike
//! (`ppo.learning_rate`), validated exactly like `--set`. A variant's own `set` wins over the study's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::env::observation::ObservationKind;
use crate::env::strategy::Strategy;
use crate::file_error::{FieldError, FileError};
use crate::run::folder::is_name_char;
use crate::run::training::{TrainingFile, MAX_TOTAL_STEPS};
use crate::scenario::{self, Override};

/// Most evaluation episodes per side a study may ask for.
pub const MAX_EVAL_EPISODES: u32 = 100_000;
/// Most variants × seeds (cells) in one study.
pub const MAX_CELLS: usize = 10_000;
/// Seed of the first evaluation episode when the file gives none (as `commons eval`'s default).
pub const DEFAULT_EVAL_SEED: u64 = 1_000_000;
/// Evaluation episodes per side when the file gives none.
pub const DEFAULT_EVAL_EPISODES: u32 = 32;

/// Why a study file cannot be used: unreadable, not valid TOML (an unknown field, a value of the wrong
/// type; with its line), or a field whose value is not allowed.
pub type StudyError = FileError<FieldError>;

/// One variant: a name and its overrides of the base files.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Name (a folder-name-safe word; unique in the study).
    pub name: String,
    /// The study's overrides, then the variant's own (a key in both: the variant's value).
    pub set: Vec<Override>,
    /// The variant's own overrides only (what the report shows).
    pub own: Vec<Override>,
    /// Its episodes' length in days (the base scenario with its overrides), set by validation.
    pub days: u32,
    /// The personalities its policies play (learned or frozen), in population order, set by validation.
    pub played: Vec<Played>,
}

/// A personality played by a policy in a variant: what the best-response check replaces.
#[derive(Clone, Debug, PartialEq)]
pub struct Played {
    /// The personality's name.
    pub name: String,
    /// What it observes (a fixed strategy in its place must be able to act on it).
    pub observation: ObservationKind,
}

/// One (variant, training seed) cell: a training run and its evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Position in the study (`--cell K`): variant-major.
    pub index: usize,
    /// Index of its variant.
    pub variant: usize,
    /// Training seed.
    pub seed: u64,
    /// Folder name under the study's `cells/`: `<variant>__seed<seed>`.
    pub name: String,
}

/// A validated study file.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Base scenario file.
    pub env: PathBuf,
    /// Base agents file.
    pub agents: PathBuf,
    /// Training seeds (each variant is trained once per seed).
    pub seeds: Vec<u64>,
    /// Training steps per cell.
    pub total_steps: u64,
    /// Evaluation episodes per side.
    pub eval_episodes: u32,
    /// Seed of the first evaluation episode (episode k: `eval_seed + k`, in every cell).
    pub eval_seed: u64,
    /// The best-response check of every cell (`commons eval --against-fixed`): None: no check; Some(None):
    /// the built-in strategies; Some(Some(dir)): the strategy files of a folder.
    pub against_fixed: Option<Option<PathBuf>>,
    /// Variants; the first is the baseline.
    pub variants: Vec<Variant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    study: RawStudy,
    variant: Vec<RawVariant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    env: PathBuf,
    agents: PathBuf,
    seeds: Vec<i64>,
    total_steps: i64,
    eval_episodes: Option<i64>,
    eval_seed: Option<i64>,
    against_fixed: Option<toml::Value>,
    #[serde(default)]
    set: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    name: String,
    #[serde(default)]
    set: toml::Table,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// `table`'s entries as dotted keys (`{curve = {exit_tribute = 0.3}}` and `{"curve.exit_tribute" =
/// 0.3}` both give `curve.exit_tribute`); a key that appears twice is an error naming it.
fn flatten(table: &toml::Table) -> Result<Vec<(String, toml::Value)>, String> {
    fn walk(
        prefix: &str,
        t: &toml::Table,
        out: &mut Vec<(String, toml::Value)>,
    ) -> Result<(), String> {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(sub) => walk(&key, sub, out)?,
                _ => {
                    if out.iter().any(|(seen, _)| *seen == key) {
                        return Err(format!("`{key}` is set twice"));
                    }
                    out.push((key, v.clone()));
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk("", table, &mut out)?;
    Ok(out)
}

/// The overrides of a `set` table, checked as `--set KEY=VALUE` would be.
fn overrides(table: &toml::Table) -> Result<Vec<Override>, String> {
    flatten(table)?
        .into_iter()
        .map(|(key, value)| {
            let text = value.to_string();
            let parsed: Override = format!("{key}={text}").parse()?;
            Ok(Override { value, ..parsed })
        })
        .collect()
}

impl StudyFile {
    /// Reads and validates a study file: its fields, and each variant's overrides applied to the base
    /// scenario and agents files exactly as `commons train --set` applies them.
    pub fn load(path: &Path) -> Result<Self, StudyError> {
        let text = StudyError::read_text(path, "cannot read study file")?;
        Self::parse(&text, path)
    }

    /// Parses and validates the text of a study file read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, StudyError> {
        let invalid = |e: toml::de::Error| {
            let at = e
                .span()
                .map(|s| format!("line {}: ", line_of(text, s.start)))
                .unwrap_or_default();
            StudyError::invalid(
                path,
                format!("{at}{}", e.message().replace('\n', " ").trim()),
            )
        };
        let raw: RawFile = toml::from_str(text).map_err(invalid)?;
        let field = |field: &str, message: String| {
            StudyError::range(
                path,
                FieldError {
                    field: field.to_string(),
                    message,
                },
            )
        };
        let s = &raw.study;
        if s.seeds.is_empty() {
            return Err(field(
                "study.seeds",
                "empty (allowed: at least one training seed)".into(),
            ));
        }
        let mut seeds = Vec::with_capacity(s.seeds.len());
        for (i, &seed) in s.seeds.iter().enumerate() {
            if seed < 0 {
                return Err(field(
                    &format!("study.seeds[{i}]"),
                    format!("{seed} is out of range (allowed: 0 to {})", i64::MAX),
                ));
            }
            if seeds.contains(&(seed as u64)) {
                return Err(field(
                    &format!("study.seeds[{i}]"),
                    format!("{seed} appears twice (allowed: distinct seeds)"),
                ));
            }
            seeds.push(seed as u64);
        }
        if !(1..=MAX_TOTAL_STEPS as i64).contains(&s.total_steps) {
            return Err(field(
                "study.total_steps",
                format!(
                    "{} is out of range (allowed: 1 to {MAX_TOTAL_STEPS})",
                    s.total_steps
                ),
            ));
        }
        let eval_episodes = s.eval_episodes.unwrap_or(DEFAULT_EVAL_EPISODES as i64);
        if !(2..=MAX_EVAL_EPISODES as i64).contains(&eval_episodes) {
            return Err(field(
                "study.eval_episodes",
                format!("{eval_episodes} is out of range (allowed: 2 to {MAX_EVAL_EPISODES})"),
            ));
        }
        let eval_seed = s.eval_seed.unwrap_or(DEFAULT_EVAL_SEED as i64);
        if eval_seed < 0 {
            return Err(field(
                "study.eval_seed",
                format!("{eval_seed} is out of range (allowed: 0 to {})", i64::MAX),
            ));
        }
        let against_fixed = match &s.against_fixed {
            None | Some(toml::Value::Boolean(false)) => None,
            Some(toml::Value::Boolean(true)) => Some(None),
            Some(toml::Value::String(dir)) if !dir.is_empty() => Some(Some(PathBuf::from(dir))),
            Some(other) => {
                return Err(field(
                    "study.against_fixed",
                    format!(
                    "{other} is not allowed (allowed: true, false, or a folder of strategy files)"
                ),
                ))
            }
        };
        if raw.variant.is_empty() {
            return Err(field(
                "variant",
                "no [[variant]] (allowed: at least one; the first is the baseline)".into(),
            ));
        }
        if raw.variant.len() * seeds.len() > MAX_CELLS {
            return Err(field(
                "variant",
                format!(
                    "{} variants x {} seeds = {} cells (allowed: at most {MAX_CELLS})",
                    raw.variant.len(),
                    seeds.len(),
                    raw.variant.len() * seeds.len()
                ),
            ));
        }
        let common = overrides(&s.set).map_err(|m| field("study.set", m))?;
        let mut variants: Vec<Variant> = Vec::with_capacity(raw.variant.len());
        for (i, v) in raw.variant.iter().enumerate() {
            let name = &v.name;
            if name.is_empty()
                || name.len() > 100
                || name.starts_with('.')
                || !name.chars().all(is_name_char)
                || name.contains("__")
            {
                return Err(field(
                    &format!("variant[{i}].name"),
                    format!("`{name}` is not allowed (allowed: 1 to 100 letters, digits, `-`, `_`, `.`, `+`; not starting with `.`; no `__`)"),
                ));
            }
            if let Some(j) = variants.iter().position(|w| w.name == *name) {
                return Err(field(
                    &format!("variant[{i}].name"),
                    format!("`{name}` is also the name of variant[{j}] (allowed: distinct names)"),
                ));
            }
            let own = overrides(&v.set).map_err(|m| field(&format!("variant[{i}].set"), m))?;
            let mut set: Vec<Override> = common
                .iter()
                .filter(|c| own.iter().all(|o| o.key != c.key))
                .cloned()
                .collect();
            set.extend(own.iter().cloned());
            variants.push(Variant {
                name: name.clone(),
                set,
                own,
                days: 0,
                played: Vec::new(),
            });
        }
        if let Some(j) = variants
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, v)| v.set == variants[0].set)
            .map(|(j, _)| j)
        {
            return Err(field(
                &format!("variant[{j}].set"),
                format!(
                    "the same overrides as the baseline `{}` (allowed: each variant changes something)",
                    variants[0].name
                ),
            ));
        }
        let mut study = StudyFile {
            path: path.to_path_buf(),
            env: s.env.clone(),
            agents: s.agents.clone(),
            seeds,
            total_steps: s.total_steps as u64,
            eval_episodes: eval_episodes as u32,
            eval_seed: eval_seed as u64,
            against_fixed,
            variants,
        };
        study.check_against_base_files()?;
        Ok(study)
    }

    /// Loads the base files and applies every variant's overrides as `commons train` does, so that a
    /// bad key or value is reported now, naming the study file and the variant; records each
    /// variant's episode length.
    fn check_against_base_files(&mut self) -> Result<(), StudyError> {
        let field = |field: &str, message: String| {
            StudyError::range(
                &self.path,
                FieldError {
                    field: field.to_string(),
                    message,
                },
            )
        };
        let scenario = scenario::load(&self.env).map_err(|e| field("study.env", e.to_string()))?;
        let training =
            TrainingFile::load(&self.agents).map_err(|e| field("study.agents", e.to_string()))?;
        let mut days = Vec::with_capacity(self.variants.len());
        let mut played_all = Vec::with_capacity(self.variants.len());
        for (i, v) in self.variants.iter().enumerate() {
            let at = format!("variant[{i}].set");
            let (train_sets, scenario_sets): (Vec<Override>, Vec<Override>) =
                v.set.iter().cloned().partition(TrainingFile::owns);
            if let Some(o) = train_sets.iter().find(|o| o.key == "train.seed") {
                return Err(field(
                    &at,
                    format!(
                        "{}: the training seeds are the study's `seeds` (not allowed in a variant)",
                        o.key
                    ),
                ));
            }
            if let Some(o) = train_sets.iter().find(|o| o.key == "train.total_steps") {
                return Err(field(
                    &at,
                    format!(
                        "{}: the training length is the study's `total_steps` (not allowed in a variant)",
                        o.key
                    ),
                ));
            }
            let sc = scenario::with_overrides(&scenario, &scenario_sets)
                .map_err(|e| field(&at, format!("{}={}: {}", e.key, e.text, e.message)))?;
            let t = training
                .with_overrides(&train_sets)
                .map_err(|e| field(&at, format!("{}={}: {}", e.key, e.text, e.message)))?;
            t.validate().map_err(|m| field(&at, m.to_string()))?;
            if sc.kind != scenario::EnvKind::Commons {
                return Err(field(
                    "study.env",
                    "not a Commons scenario (studies compare Commons policies)".into(),
                ));
            }
            days.push(sc.model.simulation.days);
            // The population as training resolves it (the agents file's, if it has one), so that a
            // bad personality or strategy is reported before any cell is trained.
            let source = if t.population.is_some() {
                &self.agents
            } else {
                &self.env
            };
            let mut sc = sc;
            if let Some(pop) = &t.population {
                sc.population = pop.clone();
            }
            let env_cfg = scenario::env_config_named(&sc, &self.env, source)
                .map_err(|e| field(&at, e.to_string()))?;
            let played: Vec<Played> = env_cfg
                .population
                .iter()
                .filter(|e| e.controller.is_policy())
                .map(|e| Played {
                    name: e.personality.name.clone(),
                    observation: e.personality.observation,
                })
                .collect();
            played_all.push(played);
        }
        for ((v, d), p) in self.variants.iter_mut().zip(days).zip(played_all) {
            v.days = d;
            v.played = p;
        }
        Ok(())
    }

    /// Checks, before any cell is trained, that every strategy of the best-response check can act in the
    /// place of every personality a variant's policies play (see [`Strategy::check_observation`]).
    pub fn check_strategies(&self, strategies: &[Strategy]) -> Result<(), StudyError> {
        for v in &self.variants {
            for p in &v.played {
                for s in strategies {
                    s.check_observation(p.observation).map_err(|e| {
                        StudyError::range(
                            &self.path,
                            FieldError {
                                field: "study.against_fixed".into(),
                                message: format!(
                                    "{e} (personality {} in variant {})",
                                    p.name, v.name
                                ),
                            },
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    /// The most personalities played by policies in any variant.
    pub fn policies(&self) -> usize {
        self.variants
            .iter()
            .map(|v| v.played.len())
            .max()
            .unwrap_or(0)
    }

    /// The longest episode of any variant (days).
    pub fn max_days(&self) -> u64 {
        self.variants
            .iter()
            .map(|v| v.days as u64)
            .max()
            .unwrap_or(0)
    }

    /// Every cell, variant-major: cell `k` is variant `k / seeds`, seed `k % seeds`.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::with_capacity(self.variants.len() * self.seeds.len());
        for (v, variant) in self.variants.iter().enumerate() {
            for &seed in &self.seeds {
                out.push(Cell {
                    index: out.len(),
                    variant: v,
                    seed,
                    name: format!("{}__seed{seed}", variant.name),
                });
            }
        }
        out
    }

    /// What identifies the study (everything but where the file was read from): a study folder
    /// belongs to the study whose identity its `study.toml` has.
    pub fn same_study(&self, other: &StudyFile) -> bool {
        StudyFile {
            path: PathBuf::new(),
            ..self.clone()
        } == StudyFile {
            path: PathBuf::new(),
            ..other.clone()
        }
    }

    /// Each variant's own overrides as `key=value` texts, by variant name (for reports).
    pub fn describe(&self) -> BTreeMap<String, Vec<String>> {
        self.variants
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    v.own
                        .iter()
                        .map(|o| format!("{}={}", o.key, o.text))
                        .collect(),
                )
            })
            .collect()
    }
}
