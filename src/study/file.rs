//! Study files (`studies/*.toml`): a base scenario and agents file, parameter variants (the first is
//! the baseline), training seeds, training steps and evaluation episodes.
//!
//! ```toml
//! [study]
//! env = "envs/commons.toml"          # paths relative to the working directory, as on the CLI
//! agents = "agents/mixed.toml"
//! seeds = [1, 2, 3]                  # training seeds: every variant is trained once per seed
//! total_steps = 200000               # training steps (days, all environments) per cell
//! eval_episodes = 128                # optional: held-out episodes per side (the same seeds for every
//!                                    # cell; default: commons eval's, 128)
//! eval_seed = 1000000                # optional: seed of the first eval episode
//! against_fixed = true               # optional: also the best-response check of every cell (true: the
//!                                    # built-in strategies; or a folder of strategy files)
//! check_episodes = 32                # optional: the check's episodes, the first of the evaluation's
//! against_learned = true             # optional: also the learned deviation check of every cell
//! set = { "simulation.days" = 365 }  # optional: overrides for every variant
//!
//! [[variant]]                        # the first variant is the baseline
//! name = "tribute-0.05"
//! set = { "curve.exit_tribute" = 0.05 }
//!
//! [[variant]]
//! name = "tribute-0.3"
//! set = { "curve.exit_tribute" = 0.3 }
//!
//! [[grid]]                           # optional: the product of lists, one variant per point
//! name = "g"                         # optional prefix of the generated names
//! "curve.exit_tribute" = [0.2, 0.6]
//! "hatch.vesting_80p_unlocked" = [120.0, 365.0]
//! ```
//!
//! A grid's keys are taken in sorted order (the last varies fastest); its variants follow the
//! `[[variant]]`s (the first variant of the file, from either, is the baseline) and are named
//! `[<name>-]<key>-<value>+<key>-<value>` from each key's last dotted part (e.g.
//! `g-exit_tribute-0.2+vesting_80p_unlocked-120.0`).
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
/// Evaluation episodes per side when the file gives none: `commons eval`'s default.
pub const DEFAULT_EVAL_EPISODES: u32 = crate::eval::DEFAULT_EPISODES;
/// Episodes of the best-response check when the file gives none: `commons eval`'s default (the first
/// of the evaluation's seeds), or every evaluation episode when there are fewer.
pub const DEFAULT_CHECK_EPISODES: u32 = crate::eval::DEFAULT_CHECK_EPISODES;

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
    /// Where a `[[grid]]` put it: the grid's index and the point's values (one per grid key).
    pub grid: Option<GridPoint>,
    /// Where the file defines it: `variant[i]` or `grid[g]`.
    pub origin: String,
}

impl Variant {
    /// The field that errors about its overrides name: `variant[i].set`, or `grid[g]` for a grid's point.
    pub fn at(&self) -> String {
        if self.grid.is_some() {
            self.origin.clone()
        } else {
            format!("{}.set", self.origin)
        }
    }
}

/// A variant's place in a `[[grid]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct GridPoint {
    /// Index of the grid in the file.
    pub grid: usize,
    /// The point: one override per grid key, in the grid's key order.
    pub values: Vec<Override>,
}

/// The variants a `[[grid]]` table expands to: the product of its lists, in the table's key order (the
/// last key varies fastest), named `<name>-` (with `name = "..."`) then `<key>-<value>` per key, joined
/// by `+` (a key is its last dotted part unless two keys of the grid share it), or `grid<G>-<K>` when
/// that name is not allowed.
fn expand_grid(g: usize, table: &toml::Table) -> Result<Vec<(String, Vec<Override>)>, String> {
    let mut table = table.clone();
    let prefix = match table.remove("name") {
        None => None,
        Some(toml::Value::String(n)) => Some(n),
        Some(other) => {
            return Err(format!(
            "name: {other} is not allowed (allowed: a string, the prefix of the generated names)"
        ))
        }
    };
    let keys = flatten(&table)?;
    if keys.is_empty() {
        return Err("no parameter lists (allowed: at least one key = [values], e.g. \"curve.exit_tribute\" = [0.2, 0.6])".into());
    }
    let mut lists: Vec<(String, Vec<toml::Value>)> = Vec::with_capacity(keys.len());
    for (key, value) in keys {
        match value {
            toml::Value::Array(values) if values.is_empty() => {
                return Err(format!(
                    "{key}: an empty list (allowed: at least one value)"
                ))
            }
            toml::Value::Array(values) => {
                for (i, v) in values.iter().enumerate() {
                    if values[..i].contains(v) {
                        return Err(format!(
                            "{key}: {v} appears twice (allowed: distinct values)"
                        ));
                    }
                }
                lists.push((key, values));
            }
            other => {
                return Err(format!(
                    "{key}: {other} is not a list (allowed: a list of values, e.g. [0.2, 0.6])"
                ))
            }
        }
    }
    let short: Vec<String> = lists
        .iter()
        .map(|(k, _)| {
            let last = k.rsplit('.').next().unwrap_or(k);
            let shared = lists
                .iter()
                .filter(|(o, _)| o.rsplit('.').next() == Some(last))
                .count();
            if shared > 1 {
                k.clone()
            } else {
                last.to_string()
            }
        })
        .collect();
    let points: usize = lists.iter().map(|(_, v)| v.len()).product();
    if points > MAX_CELLS {
        return Err(format!(
            "{points} points (allowed: at most {MAX_CELLS} variants)"
        ));
    }
    let mut out = Vec::with_capacity(points);
    for k in 0..points {
        let mut rest = k;
        let mut chosen = vec![0; lists.len()];
        for (i, (_, values)) in lists.iter().enumerate().rev() {
            chosen[i] = rest % values.len();
            rest /= values.len();
        }
        let mut set = Vec::with_capacity(lists.len());
        let mut parts = Vec::with_capacity(lists.len());
        for (i, (key, values)) in lists.iter().enumerate() {
            let value = values[chosen[i]].clone();
            let text = value.to_string();
            let parsed: Override = format!("{key}={text}").parse()?;
            let shown: String = text
                .trim_matches('"')
                .chars()
                .map(|c| if is_name_char(c) { c } else { '_' })
                .collect();
            parts.push(format!("{}-{shown}", short[i]));
            set.push(Override { value, ..parsed });
        }
        let mut name = parts.join("+");
        if let Some(p) = &prefix {
            name = format!("{p}-{name}");
        }
        if !name_allowed(&name) {
            name = format!(
                "{}grid{g}-{k}",
                prefix.as_ref().map(|p| format!("{p}-")).unwrap_or_default()
            );
        }
        out.push((name, set));
    }
    Ok(out)
}

/// Whether `name` may name a variant (a folder-name-safe word).
fn name_allowed(name: &str) -> bool {
    !(name.is_empty()
        || name.len() > 100
        || name.starts_with('.')
        || !name.chars().all(is_name_char)
        || name.contains("__"))
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
    /// Episodes of the best-response check: the first of the evaluation's (2 to `eval_episodes`).
    pub check_episodes: u32,
    /// The learned deviation check of every cell (`commons eval --against-learned`, its defaults).
    pub against_learned: bool,
    /// Variants; the first is the baseline.
    pub variants: Vec<Variant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    study: RawStudy,
    #[serde(default)]
    variant: Vec<RawVariant>,
    #[serde(default)]
    grid: Vec<toml::Table>,
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
    check_episodes: Option<i64>,
    #[serde(default)]
    against_learned: bool,
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
        let check_episodes = s
            .check_episodes
            .unwrap_or(DEFAULT_CHECK_EPISODES.min(eval_episodes as u32) as i64);
        if !(2..=eval_episodes).contains(&check_episodes) {
            return Err(field(
                "study.check_episodes",
                format!("{check_episodes} is out of range (allowed: 2 to study.eval_episodes, {eval_episodes})"),
            ));
        }
        // The variants: the [[variant]] tables, then every [[grid]]'s points.
        let mut listed: Vec<(String, String, Vec<Override>, Option<GridPoint>)> = Vec::new();
        for (i, v) in raw.variant.iter().enumerate() {
            let own = overrides(&v.set).map_err(|m| field(&format!("variant[{i}].set"), m))?;
            listed.push((format!("variant[{i}]"), v.name.clone(), own, None));
        }
        for (g, table) in raw.grid.iter().enumerate() {
            let points = expand_grid(g, table).map_err(|m| field(&format!("grid[{g}]"), m))?;
            for (name, set) in points {
                let point = GridPoint {
                    grid: g,
                    values: set.clone(),
                };
                listed.push((format!("grid[{g}]"), name, set, Some(point)));
            }
        }
        if listed.is_empty() {
            return Err(field(
                "variant",
                "no [[variant]] or [[grid]] (allowed: at least one; the first variant is the baseline)".into(),
            ));
        }
        if listed.len() * seeds.len() > MAX_CELLS {
            return Err(field(
                "variant",
                format!(
                    "{} variants x {} seeds = {} cells (allowed: at most {MAX_CELLS})",
                    listed.len(),
                    seeds.len(),
                    listed.len() * seeds.len()
                ),
            ));
        }
        let common = overrides(&s.set).map_err(|m| field("study.set", m))?;
        let mut variants: Vec<Variant> = Vec::with_capacity(listed.len());
        let mut origins: Vec<String> = Vec::with_capacity(listed.len());
        for (origin, name, own, grid) in listed {
            let name = &name;
            if !name_allowed(name) {
                return Err(field(
                    &format!("{origin}.name"),
                    format!("`{name}` is not allowed (allowed: 1 to 100 letters, digits, `-`, `_`, `.`, `+`; not starting with `.`; no `__`)"),
                ));
            }
            if let Some(j) = variants.iter().position(|w| w.name == *name) {
                let other = &origins[j];
                return Err(match (grid.is_some(), other.starts_with("grid")) {
                    (false, _) => field(
                        &format!("{origin}.name"),
                        format!("`{name}` is also the name of {other} (allowed: distinct names)"),
                    ),
                    (true, false) => field(
                        &origin,
                        format!("generates the variant `{name}`, also the name of {other} (allowed: distinct names; give the grid a `name = \"...\"` prefix or rename the variant)"),
                    ),
                    (true, true) => field(
                        &origin,
                        format!("generates the variant `{name}` twice (also from {other}; allowed: distinct names; give each grid a `name = \"...\"` prefix)"),
                    ),
                });
            }
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
                grid,
                origin: origin.clone(),
            });
            origins.push(origin);
        }
        if let Some(j) = variants
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, v)| v.set == variants[0].set)
            .map(|(j, _)| j)
        {
            return Err(field(
                &variants[j].at(),
                format!(
                    "`{}` has the same overrides as the baseline `{}` (allowed: each variant changes something)",
                    variants[j].name, variants[0].name
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
            check_episodes: check_episodes as u32,
            against_learned: s.against_learned,
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
        for v in &self.variants {
            let at = match &v.grid {
                Some(_) => format!("{} (variant `{}`)", v.origin, v.name),
                None => v.at(),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    fn file(body: &str) -> String {
        format!(
            "[study]\nenv = \"{ROOT}/envs/commons.toml\"\nagents = \"{ROOT}/agents/profit-and-altruist.toml\"\nseeds = [1]\ntotal_steps = 100\n{body}"
        )
    }

    fn parse(body: &str) -> Result<StudyFile, String> {
        StudyFile::parse(&file(body), Path::new("s.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_grid_expands_to_the_product_of_its_lists_with_generated_names() {
        let s = parse(
            "[[grid]]\n\"hatch.vesting_80p_unlocked\" = [120.0, 365.0]\n\"curve.exit_tribute\" = [0.2, 0.6]\n",
        )
        .unwrap();
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "exit_tribute-0.2+vesting_80p_unlocked-120.0",
                "exit_tribute-0.2+vesting_80p_unlocked-365.0",
                "exit_tribute-0.6+vesting_80p_unlocked-120.0",
                "exit_tribute-0.6+vesting_80p_unlocked-365.0",
            ]
        );
        let v = &s.variants[1];
        let point = v.grid.as_ref().unwrap();
        assert_eq!(point.grid, 0);
        let texts: Vec<String> = v
            .set
            .iter()
            .map(|o| format!("{}={}", o.key, o.text))
            .collect();
        assert_eq!(
            texts,
            ["curve.exit_tribute=0.2", "hatch.vesting_80p_unlocked=365.0"]
        );
        assert_eq!(s.cells().len(), 4);
        // Defaults: eval's 128 episodes, the check on the first 32.
        assert_eq!((s.eval_episodes, s.check_episodes), (128, 32));
        // After explicit variants, with a prefix; the first variant stays the baseline.
        let s = parse(
            "[[variant]]\nname = \"base\"\n\n[[grid]]\nname = \"t\"\n\"curve.exit_tribute\" = [0.2, 0.6]\n",
        )
        .unwrap();
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["base", "t-exit_tribute-0.2", "t-exit_tribute-0.6"]);
        assert!(s.variants[0].grid.is_none());
    }

    #[test]
    fn bad_grids_get_one_line_naming_the_field() {
        let cases = [
            // A key twice (two spellings of one key).
            (
                "[[grid]]\n\"curve.exit_tribute\" = [0.2]\ncurve = { exit_tribute = [0.6] }\n",
                vec!["s.toml", "grid[0]", "curve.exit_tribute", "set twice"],
            ),
            (
                "[[grid]]\n\"curve.exit_tribute\" = []\n",
                vec!["grid[0]", "curve.exit_tribute", "empty list"],
            ),
            (
                "[[grid]]\n\"curve.exit_tribute\" = 0.2\n",
                vec!["grid[0]", "curve.exit_tribute", "not a list"],
            ),
            (
                "[[grid]]\n\"curve.exit_tribute\" = [0.2, 0.2]\n",
                vec!["grid[0]", "appears twice"],
            ),
            (
                "[[grid]]\n\"curve.exit_tribute\" = [0.2, 2.0]\n",
                vec!["grid[0]", "curve.exit_tribute", "2.0"],
            ),
            (
                "[[grid]]\n\"curve.exit_tribut\" = [0.2, 0.6]\n",
                vec!["grid[0]", "curve.exit_tribut"],
            ),
            // A grid and a variant with the same name.
            (
                "[[variant]]\nname = \"exit_tribute-0.2\"\nset = { \"curve.exit_tribute\" = 0.3 }\n\n[[grid]]\n\"curve.exit_tribute\" = [0.2, 0.6]\n",
                vec!["grid[0]", "exit_tribute-0.2", "variant[0]", "distinct names"],
            ),
            (
                "[[grid]]\n\"curve.exit_tribute\" = [0.2]\n\n[[grid]]\n\"curve.exit_tribute\" = [0.2, 0.6]\n",
                vec!["grid[1]", "twice"],
            ),
            ("[[grid]]\nname = \"x\"\n", vec!["grid[0]", "no parameter lists"]),
            (
                "check_episodes = 200\n[[variant]]\nname = \"a\"\n",
                vec!["study.check_episodes", "2 to study.eval_episodes"],
            ),
            ("", vec!["variant", "no [[variant]] or [[grid]]"]),
        ];
        for (body, needles) in cases {
            // The body follows [study]'s keys, so `check_episodes` lands in [study].
            let e = parse(body).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
            for n in needles {
                assert!(e.contains(n), "`{n}` not in: {e}");
            }
        }
    }
}
