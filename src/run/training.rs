//! Training files (`agents/*.toml`): run settings, PPO hyper-parameters, and optionally the population.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::env::personality::PopulationEntry;
use crate::file_error::FileError;
use crate::model::config::RangeError;

/// PPO hyper-parameters of one policy (CleanRL's `ppo.py` defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// Adam learning rate (annealed linearly to 0 when `anneal_lr`).
    pub learning_rate: f64,
    /// Anneal the learning rate linearly over the run.
    pub anneal_lr: bool,
    /// Discount γ.
    pub gamma: f64,
    /// GAE λ.
    pub gae_lambda: f64,
    /// Minibatches per epoch.
    pub num_minibatches: usize,
    /// Epochs over each rollout.
    pub update_epochs: usize,
    /// Normalise advantages per minibatch.
    pub norm_adv: bool,
    /// Surrogate clipping coefficient ε.
    pub clip_coef: f64,
    /// Clip the value loss too.
    pub clip_vloss: bool,
    /// Entropy bonus coefficient.
    pub ent_coef: f64,
    /// Value loss coefficient.
    pub vf_coef: f64,
    /// Global gradient-norm clip.
    pub max_grad_norm: f64,
    /// Stop the epochs early when the approximate KL exceeds this (0 = never).
    pub target_kl: f64,
    /// Width of the two hidden layers.
    pub hidden: usize,
    /// Running observation normalisation.
    pub normalize_observations: bool,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            learning_rate: 2.5e-4,
            anneal_lr: true,
            gamma: 0.99,
            gae_lambda: 0.95,
            num_minibatches: 4,
            update_epochs: 4,
            norm_adv: true,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: 0.0,
            hidden: 64,
            normalize_observations: false,
        }
    }
}

/// Run-level settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Environment steps to train for (one day of one environment = 1).
    pub total_steps: u64,
    /// Environments stepped in parallel.
    pub num_envs: usize,
    /// Steps per environment per rollout.
    pub num_steps: usize,
    /// Seed of the whole run.
    pub seed: u64,
    /// Save a checkpoint every this many updates (and at the end).
    pub checkpoint_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            total_steps: 500_000,
            num_envs: 4,
            num_steps: 128,
            seed: 1,
            checkpoint_every: 50,
        }
    }
}

/// Every setting of an agents file's `[train]` and `[ppo]` tables with its meaning: the one list the
/// docs table, `commons train --help` (for `--set`) and the TensorBoard `hparams/` tags derive from (a
/// test checks that it names every field of [`TrainConfig`] and [`PpoConfig`], in order).
pub const SETTINGS: &[(&str, &str)] = &[
    (
        "train.total_steps",
        "environment steps to train for (one day of one environment = 1)",
    ),
    ("train.num_envs", "environments stepped in parallel"),
    ("train.num_steps", "steps per environment per rollout"),
    (
        "train.seed",
        "fixes the whole run (network initialisation, actions, environments)",
    ),
    (
        "train.checkpoint_every",
        "updates between checkpoints (and one at the end)",
    ),
    ("ppo.learning_rate", "Adam step size"),
    (
        "ppo.anneal_lr",
        "anneal the learning rate linearly to 0 over the run",
    ),
    ("ppo.gamma", "discount γ per step (per day in the Commons)"),
    ("ppo.gae_lambda", "GAE λ"),
    ("ppo.num_minibatches", "minibatches per epoch"),
    ("ppo.update_epochs", "epochs over each rollout"),
    ("ppo.norm_adv", "normalise advantages per minibatch"),
    (
        "ppo.clip_coef",
        "clipping range of the probability ratio (and of the value change)",
    ),
    ("ppo.clip_vloss", "clip the value loss too"),
    ("ppo.ent_coef", "weight of the entropy bonus"),
    ("ppo.vf_coef", "weight of the value loss"),
    ("ppo.max_grad_norm", "global gradient-norm clip"),
    (
        "ppo.target_kl",
        "stop the epochs early above this approximate KL (0 = never)",
    ),
    ("ppo.hidden", "width of the two hidden layers"),
    (
        "ppo.normalize_observations",
        "running mean/variance normalisation of observations, clipped to ±10",
    ),
];

/// The defaults of [`SETTINGS`] as TOML values, in order.
pub fn setting_defaults() -> Vec<(&'static str, String)> {
    let train = toml::Value::try_from(TrainConfig::default()).ok();
    let ppo = toml::Value::try_from(PpoConfig::default()).ok();
    SETTINGS
        .iter()
        .map(|(key, _)| {
            let (section, field) = key.split_once('.').unwrap_or(("", key));
            let table = if section == "train" { &train } else { &ppo };
            let v = table
                .as_ref()
                .and_then(|t| t.get(field))
                .map(|v| v.to_string())
                .unwrap_or_default();
            (*key, v)
        })
        .collect()
}

/// The settings table of docs/training.md.
pub fn settings_markdown() -> String {
    let mut s = String::from("| key | default | meaning |\n|---|---|---|\n");
    for ((key, doc), (_, default)) in SETTINGS.iter().zip(setting_defaults()) {
        s.push_str(&format!("| `{key}` | {default} | {doc} |\n"));
    }
    s.push_str("| `[policies.<name>]` | | a full `ppo` table for one personality (`--set policies.<name>.<key>=…` starts one as a copy of `[ppo]`) |\n");
    s
}

/// The long help of `commons train --set`: the override syntax and every training setting.
pub fn set_help() -> String {
    let mut s = String::from(
        "Override one parameter without editing a file (repeatable). `train.*`, `ppo.*` and `policies.<name>.*` change the agents file (e.g. --set ppo.learning_rate=1e-4, --set policies.altruist.gamma=0.999; a new policies.<name> starts as a copy of [ppo]); any other section changes the scenario (e.g. --set curve.exit_tribute=0.3; every scenario key: `commons params` or docs/parameters.md). Values are TOML. Validated like the files; recorded in the run's config.toml. A resumed run takes training overrides only.\n\nTraining settings (default):\n",
    );
    for ((key, doc), (_, default)) in SETTINGS.iter().zip(setting_defaults()) {
        s.push_str(&format!("  {key} ({default}): {doc}\n"));
    }
    s
}

/// A training file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingFile {
    /// Run settings.
    pub train: TrainConfig,
    /// Hyper-parameters of every policy.
    pub ppo: PpoConfig,
    /// Per-policy replacements of `ppo`, by personality name.
    pub policies: BTreeMap<String, PpoConfig>,
    /// Replaces the scenario's population when present.
    pub population: Option<Vec<PopulationEntry>>,
}

/// Largest `train.total_steps` (ten billion environment steps).
pub const MAX_TOTAL_STEPS: u64 = 10_000_000_000;
/// Largest `train.num_envs`.
pub const MAX_NUM_ENVS: usize = 4096;
/// Largest `train.num_steps` (days per environment per rollout).
pub const MAX_NUM_STEPS: usize = 100_000;
/// Largest rollout, `num_envs × num_steps` environment steps per update.
pub const MAX_BATCH: usize = 1_000_000;
/// Largest `num_minibatches`.
pub const MAX_MINIBATCHES: usize = 4096;
/// Largest `update_epochs`.
pub const MAX_EPOCHS: usize = 1000;
/// Largest `hidden` (width of the two hidden layers).
pub const MAX_HIDDEN: usize = 4096;

/// A training file could not be used: unreadable, not a valid training file (TOML syntax, an unknown
/// field, a wrong type), or a value out of range.
pub type TrainingFileError = FileError<RangeError>;

impl TrainingFile {
    /// Reads and validates a training file.
    pub fn load(path: &Path) -> Result<Self, TrainingFileError> {
        let text = TrainingFileError::read_text(path, "cannot read agents file")?;
        let f: TrainingFile = TrainingFileError::toml(path, &text)?;
        f.validate()
            .map_err(|cause| TrainingFileError::range(path, cause))?;
        Ok(f)
    }

    /// Whether `--set` override `o` is for a training file (`train.*`, `ppo.*`, `policies.*`) rather
    /// than for the scenario.
    pub fn owns(o: &crate::scenario::Override) -> bool {
        matches!(o.section(), "train" | "ppo" | "policies")
    }

    /// This file with `overrides` applied, read and validated exactly like the file (unknown key, wrong
    /// type, out of range: the file's messages, naming the override). A new `policies.<name>` table
    /// starts as a copy of `[ppo]`, so `--set policies.altruist.gamma=0.999` changes one value.
    pub fn with_overrides(
        &self,
        overrides: &[crate::scenario::Override],
    ) -> Result<TrainingFile, crate::scenario::OverrideError> {
        let mut current = self.clone();
        for o in overrides {
            let mut table = toml::Table::try_from(&current).map_err(|e| o.error(e))?;
            let parts: Vec<&str> = o.key.split('.').collect();
            if let ["policies", name, _, ..] = parts.as_slice() {
                if !current.policies.contains_key(*name) {
                    let ppo = toml::Value::try_from(&current.ppo).map_err(|e| o.error(e))?;
                    if let Some(t) = table
                        .entry("policies")
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                        .as_table_mut()
                    {
                        t.insert(name.to_string(), ppo);
                    }
                }
            }
            o.apply(&mut table)?;
            let next: TrainingFile = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| o.error(e.message()))?;
            next.validate().map_err(|e| o.error(e))?;
            current = next;
        }
        Ok(current)
    }

    /// Hyper-parameters of a policy.
    pub fn ppo_for(&self, policy: &str) -> &PpoConfig {
        self.policies.get(policy).unwrap_or(&self.ppo)
    }

    /// Checks every range; the message names the field and the allowed range.
    pub fn validate(&self) -> Result<(), RangeError> {
        let t = &self.train;
        let bad = |f: &str, v: String, allowed: &'static str| {
            Err(RangeError {
                field: f.to_string(),
                value: v,
                allowed,
            })
        };
        if t.total_steps == 0 || t.total_steps > MAX_TOTAL_STEPS {
            return bad(
                "train.total_steps",
                t.total_steps.to_string(),
                "1 to 10000000000",
            );
        }
        if t.num_envs == 0 || t.num_envs > MAX_NUM_ENVS {
            return bad("train.num_envs", t.num_envs.to_string(), "1 to 4096");
        }
        if t.num_steps == 0 || t.num_steps > MAX_NUM_STEPS {
            return bad("train.num_steps", t.num_steps.to_string(), "1 to 100000");
        }
        if t.num_envs * t.num_steps > MAX_BATCH {
            return bad(
                "train.num_envs x train.num_steps",
                (t.num_envs * t.num_steps).to_string(),
                "at most 1000000 environment steps per update",
            );
        }
        if t.checkpoint_every == 0 {
            return bad("train.checkpoint_every", "0".into(), ">= 1");
        }
        for (name, p) in std::iter::once(("ppo".to_string(), &self.ppo)).chain(
            self.policies
                .iter()
                .map(|(k, v)| (format!("policies.{k}"), v)),
        ) {
            let unit = |v: f64| (0.0..=1.0).contains(&v);
            if !(p.learning_rate > 0.0 && p.learning_rate < 1.0) {
                return bad(
                    &format!("{name}.learning_rate"),
                    p.learning_rate.to_string(),
                    "above 0, below 1",
                );
            }
            for (f, v) in [("gamma", p.gamma), ("gae_lambda", p.gae_lambda)] {
                if !unit(v) {
                    return bad(&format!("{name}.{f}"), v.to_string(), "0 to 1");
                }
            }
            for (f, v) in [
                ("clip_coef", p.clip_coef),
                ("ent_coef", p.ent_coef),
                ("vf_coef", p.vf_coef),
                ("max_grad_norm", p.max_grad_norm),
                ("target_kl", p.target_kl),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return bad(&format!("{name}.{f}"), v.to_string(), ">= 0");
                }
            }
            for (f, v, max, allowed) in [
                (
                    "num_minibatches",
                    p.num_minibatches,
                    MAX_MINIBATCHES,
                    "1 to 4096",
                ),
                ("update_epochs", p.update_epochs, MAX_EPOCHS, "1 to 1000"),
                ("hidden", p.hidden, MAX_HIDDEN, "1 to 4096"),
            ] {
                if v == 0 || v > max {
                    return bad(&format!("{name}.{f}"), v.to_string(), allowed);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_of_range_value_is_a_range_error_naming_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "[ppo]\ngamma = 1.5\n").unwrap();
        match TrainingFile::load(&path) {
            Err(TrainingFileError::Range { cause, .. }) => {
                assert_eq!(
                    (cause.field.as_str(), cause.allowed),
                    ("ppo.gamma", "0 to 1")
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, "[policies.altruist]\nhidden = 0\n").unwrap();
        let e = TrainingFile::load(&path).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "field `policies.altruist.hidden` = 0 is out of range (allowed: 1 to 4096)"
            ),
            "{e}"
        );
        for (text, field) in [
            ("[ppo]\nhidden = 1000000000\n", "ppo.hidden"),
            ("[ppo]\nupdate_epochs = 1000000000\n", "ppo.update_epochs"),
            (
                "[ppo]\nnum_minibatches = 1000000000\n",
                "ppo.num_minibatches",
            ),
            ("[train]\nnum_steps = 1000000000\n", "train.num_steps"),
            (
                "[train]\nnum_envs = 4096\nnum_steps = 1000\n",
                "train.num_envs x train.num_steps",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = TrainingFile::load(&path).unwrap_err().to_string();
            assert!(e.contains(&format!("field `{field}`")), "{text}: {e}");
        }
        std::fs::write(&path, "[ppo]\ngama = 1\n").unwrap();
        assert!(matches!(
            TrainingFile::load(&path),
            Err(TrainingFileError::Invalid { .. })
        ));
    }
}

#[cfg(test)]
mod override_tests {
    use super::*;
    use crate::scenario::Override;

    /// `SETTINGS` names every field of `[train]` and `[ppo]`, in declaration order.
    #[test]
    fn the_settings_list_names_every_field() {
        let fields = |v: toml::Value, section: &str| -> Vec<String> {
            v.as_table()
                .unwrap()
                .keys()
                .map(|k| format!("{section}.{k}"))
                .collect()
        };
        let mut want = fields(
            toml::Value::try_from(TrainConfig::default()).unwrap(),
            "train",
        );
        want.extend(fields(
            toml::Value::try_from(PpoConfig::default()).unwrap(),
            "ppo",
        ));
        let mut have: Vec<String> = SETTINGS.iter().map(|(k, _)| k.to_string()).collect();
        have.sort();
        want.sort();
        assert_eq!(have, want);
        assert!(setting_defaults().iter().all(|(_, d)| !d.is_empty()));
        assert!(
            set_help().contains("ppo.learning_rate (0.00025)"),
            "{}",
            set_help()
        );
    }

    #[test]
    fn training_overrides_change_one_value_and_are_validated() {
        let f = TrainingFile::default();
        let set = |s: &str| -> Override { s.parse().unwrap() };
        let g = f
            .with_overrides(&[
                set("ppo.learning_rate=1e-4"),
                set("policies.altruist.gamma=0.999"),
            ])
            .unwrap();
        assert_eq!(g.ppo.learning_rate, 1e-4);
        let a = g.ppo_for("altruist");
        assert_eq!(
            (a.gamma, a.learning_rate),
            (0.999, 1e-4),
            "copied from [ppo], then set"
        );
        let e = f
            .with_overrides(&[set("ppo.learning_rat=1")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--set ppo.learning_rat=1: ") && e.contains("unknown field"),
            "{e}"
        );
        let e = f
            .with_overrides(&[set("train.num_envs=0")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train.num_envs") && e.contains("1 to 4096"),
            "{e}"
        );
        let e = f
            .with_overrides(&[set("ppo.anneal_lr=3")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
        assert!(TrainingFile::owns(&set("ppo.gamma=1")) && !TrainingFile::owns(&set("abc.x=1")));
    }
}
