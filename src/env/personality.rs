//! Personalities: what an agent observes and what it is rewarded for.
//!
//! A personality is an observation function plus a reward function. The reward is a weighted sum of four
//! per-day components. The three money components share one unit per episode, U = 10 % of the funding
//! pool at day 0, so a personality's weights trade DAI against DAI:
//!
//! | component | definition |
//! |---|---|
//! | `wealth` | Δ net worth / U; net worth = wallet + what selling all tokens would return now (after the exit tribute) |
//! | `impact` | Σ over proposals that became active or completed today of (own affinity × funds requested) / U |
//! | `authorship` | funds granted today to proposals the agent authored / U |
//! | `sentiment` | Δ own sentiment |
//!
//! Built-ins: `profit-seeker` (wealth), `altruist` (impact), `balanced` (½ wealth + ½ impact + 0.1 sentiment),
//! `builder` (authorship + 0.2 wealth). Custom personalities are TOML files (see `agents/`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Weights of the reward components.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardWeights {
    /// Weight of Δ net worth (relative to the net worth at joining).
    pub wealth: f64,
    /// Weight of affinity-weighted funds of proposals funded or completed today.
    pub impact: f64,
    /// Weight of funds granted to own proposals today.
    pub authorship: f64,
    /// Weight of Δ own sentiment.
    pub sentiment: f64,
}

/// Which observation function a personality uses. All produce the same layout (docs/environment.md),
/// so policies batch; `market-only` zeroes the proposal slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObservationKind {
    /// Own state, the Commons' state and the K best candidate slots.
    #[default]
    Full,
    /// Own state and the Commons' state; proposal slots are zero.
    MarketOnly,
}

/// A personality: observation function + reward function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personality {
    /// Name (also the policy's name in logs).
    pub name: String,
    /// Observation function.
    #[serde(default)]
    pub observation: ObservationKind,
    /// Reward weights.
    pub reward: RewardWeights,
}

impl Personality {
    /// The built-in personality of that name.
    pub fn builtin(name: &str) -> Option<Personality> {
        let w = |wealth, impact, authorship, sentiment| RewardWeights {
            wealth,
            impact,
            authorship,
            sentiment,
        };
        let reward = match name {
            "profit-seeker" => w(1.0, 0.0, 0.0, 0.0),
            "altruist" => w(0.0, 1.0, 0.0, 0.0),
            "balanced" => w(0.5, 0.5, 0.0, 0.1),
            "builder" => w(0.2, 0.0, 1.0, 0.0),
            _ => return None,
        };
        Some(Personality {
            name: name.to_string(),
            observation: ObservationKind::Full,
            reward,
        })
    }

    /// Names of the built-ins.
    pub const BUILTINS: [&'static str; 4] = ["profit-seeker", "altruist", "balanced", "builder"];
}

/// Who decides for the participants of a personality.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControllerKind {
    /// A policy being trained: actions come from outside the environment.
    #[default]
    Learned,
    /// The reference's random rules, inside the environment.
    Scripted,
    /// A saved policy from another run: actions come from outside (the trainer runs the checkpoint).
    Frozen,
}

/// One line of a scenario's population table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationEntry {
    /// A built-in personality name, or a path to a personality file (relative to the scenario file).
    pub personality: String,
    /// Who decides for these participants.
    #[serde(default)]
    pub controller: ControllerKind,
    /// For `frozen`: the checkpoint to play.
    #[serde(default)]
    pub checkpoint: Option<PathBuf>,
    /// Share of the hatchers with this personality.
    #[serde(default)]
    pub hatchers: f64,
    /// Share of the arrivals with this personality.
    #[serde(default)]
    pub arrivals: f64,
}

/// A population entry with its personality resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResolvedEntry {
    /// The personality.
    pub personality: Personality,
    /// Its controller.
    pub controller: ControllerKind,
    /// Checkpoint for `frozen`.
    pub checkpoint: Option<PathBuf>,
    /// Share of hatchers.
    pub hatchers: f64,
    /// Share of arrivals.
    pub arrivals: f64,
}

/// A personality file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PersonalityError {
    /// Neither a built-in nor a readable file.
    #[error("{path}: unknown personality (built-ins: profit-seeker, altruist, balanced, builder; or a .toml file): {cause}")]
    NotFound {
        /// What was asked for.
        path: PathBuf,
        /// Why the file could not be read.
        cause: std::io::Error,
    },
    /// The file is not a valid personality.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A personality file: `[personality]` with `name`, `observation`, `[personality.reward]`; other sections
/// (trainer settings) are ignored here.
#[derive(Deserialize)]
struct PersonalityFile {
    personality: Personality,
}

/// Resolves a built-in name or loads a personality file (relative paths are taken from `base`).
pub fn resolve(name_or_path: &str, base: &Path) -> Result<Personality, PersonalityError> {
    if let Some(p) = Personality::builtin(name_or_path) {
        return Ok(p);
    }
    let path = base.join(name_or_path);
    let text = std::fs::read_to_string(&path).map_err(|cause| PersonalityError::NotFound {
        path: path.clone(),
        cause,
    })?;
    let file: PersonalityFile = toml::from_str(&text).map_err(|e| PersonalityError::Invalid {
        path: path.clone(),
        message: e.message().replace('\n', " "),
    })?;
    let p = file.personality;
    for (field, v) in [
        ("wealth", p.reward.wealth),
        ("impact", p.reward.impact),
        ("authorship", p.reward.authorship),
        ("sentiment", p.reward.sentiment),
    ] {
        if !v.is_finite() || v.abs() > 100.0 {
            return Err(PersonalityError::Invalid {
                path,
                message: format!("field `personality.reward.{field}` = {v} is out of range (allowed: -100 to 100)"),
            });
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_resolve() {
        for name in Personality::BUILTINS {
            let p = resolve(name, Path::new(".")).unwrap();
            assert_eq!(p.name, name);
        }
        assert!(resolve("nobody", Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn custom_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("whale.toml"),
            "[personality]\nname = \"whale\"\nobservation = \"market-only\"\n[personality.reward]\nwealth = 2.0\n",
        )
        .unwrap();
        let p = resolve("whale.toml", dir.path()).unwrap();
        assert_eq!(p.observation, ObservationKind::MarketOnly);
        assert_eq!(p.reward.wealth, 2.0);
        std::fs::write(
            dir.path().join("bad.toml"),
            "[personality]\nname = \"x\"\n[personality.reward]\nwealth = 1e9\n",
        )
        .unwrap();
        let e = resolve("bad.toml", dir.path()).unwrap_err().to_string();
        assert!(e.contains("personality.reward.wealth"), "{e}");
    }
}
