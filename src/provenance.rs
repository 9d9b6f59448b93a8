//! Where a result came from: the code (commit and dirty flag, or the crate version), the versions of
//! the environment's interface and of the model, and the population resolved for it. Run files
//! (summary.json, eval.json, best_response.json, learned_response.json) and study files (study.json,
//! the report) record it; `commons compare` and `commons study` warn when they put side by side results
//! of different code ([`Provenance::same_code`]).

use serde::{Deserialize, Serialize};

use crate::env::personality::{ControllerKind, ResolvedEntry};

/// Version of the environment's interface to agents: the observation layout, the action mask and the
/// reward components ([`crate::env::observation`], [`crate::env::personality`]). Bump it whenever one
/// of them changes meaning, so that results from before and after are told apart. 1: the first
/// recorded version (with `own.asked`, the `backing` reward and the world's creation gate).
pub const OBSERVATION_VERSION: u32 = 1;

/// Version of the model's mechanics ([`crate::model`]): bump it whenever a mechanism changes what the
/// world does. 1: the first recorded version.
pub const MODEL_VERSION: u32 = 1;

/// One entry of the resolved population, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationRecord {
    /// The personality's name.
    pub personality: String,
    /// Who decides for it.
    pub controller: ControllerKind,
    /// Share of the hatchers.
    pub hatchers: f64,
    /// Share of the arrivals.
    pub arrivals: f64,
    /// The strategy of a `fixed` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The checkpoint of a `frozen` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// The provenance of a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The crate's version.
    pub crate_version: String,
    /// The git commit it was built from (None outside a checkout).
    pub commit: Option<String>,
    /// Whether tracked files differed from that commit when it was built (None outside a checkout).
    pub dirty: Option<bool>,
    /// [`OBSERVATION_VERSION`].
    pub observation_version: u32,
    /// [`MODEL_VERSION`].
    pub model_version: u32,
    /// The resolved population (empty where there is none, e.g. CartPole).
    #[serde(default)]
    pub population: Vec<PopulationRecord>,
}

impl Provenance {
    /// This build's provenance, with no population.
    pub fn current() -> Self {
        let commit = env!("COMMONS_GIT_COMMIT");
        let dirty = env!("COMMONS_GIT_DIRTY");
        Provenance {
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            commit: (!commit.is_empty()).then(|| commit.to_string()),
            dirty: match dirty {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            observation_version: OBSERVATION_VERSION,
            model_version: MODEL_VERSION,
            population: Vec::new(),
        }
    }

    /// This build's provenance with the resolved population `population`.
    pub fn of(population: &[ResolvedEntry]) -> Self {
        Provenance {
            population: population
                .iter()
                .map(|e| PopulationRecord {
                    personality: e.personality.name.clone(),
                    controller: e.controller.clone(),
                    hatchers: e.hatchers,
                    arrivals: e.arrivals,
                    strategy: e.strategy.as_ref().map(|s| s.name.clone()),
                    checkpoint: e.checkpoint.as_ref().map(|p| p.display().to_string()),
                })
                .collect(),
            ..Self::current()
        }
    }

    /// Whether two results come from the same code: commit (or, without one, crate version), dirty
    /// flag, and both versions. The population is not compared: runs of different populations are
    /// compared on purpose.
    pub fn same_code(&self, other: &Provenance) -> bool {
        self.code() == other.code()
    }

    /// The code's identity in one line: `commit 1a2b3c4d (dirty), observation v1, model v1`.
    pub fn code(&self) -> String {
        let code = match (&self.commit, self.dirty) {
            (Some(c), Some(true)) => format!("commit {} (dirty)", &c[..c.len().min(12)]),
            (Some(c), _) => format!("commit {}", &c[..c.len().min(12)]),
            (None, _) => format!("version {}", self.crate_version),
        };
        format!(
            "{code}, observation v{}, model v{}",
            self.observation_version, self.model_version
        )
    }
}

/// The distinct codes of `items` (a label and its provenance, None where a file predates provenance)
/// in first-seen order, each with the labels that carry it; files without a record are grouped
/// as "no provenance (older files)".
pub fn code_groups<'a>(
    items: impl IntoIterator<Item = (&'a str, Option<&'a Provenance>)>,
) -> Vec<(String, Vec<&'a str>)> {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for (label, p) in items {
        let code = p.map_or_else(
            || "no provenance (older files)".to_string(),
            Provenance::code,
        );
        match groups.iter_mut().find(|(c, _)| *c == code) {
            Some((_, labels)) => labels.push(label),
            None => groups.push((code, vec![label])),
        }
    }
    groups
}

/// A warning when `items` (a label and its provenance, None where a file predates provenance) do not
/// all come from the same code; None when they do.
pub fn mixed<'a>(
    what: &str,
    items: impl IntoIterator<Item = (&'a str, Option<&'a Provenance>)>,
) -> Option<String> {
    mixed_groups(what, &code_groups(items))
}

/// [`mixed`] for groups already built by [`code_groups`]: a warning when there is more than one.
pub fn mixed_groups(what: &str, groups: &[(String, Vec<&str>)]) -> Option<String> {
    (groups.len() > 1).then(|| {
        let parts: Vec<String> = groups
            .iter()
            .map(|(code, labels)| format!("{} from {code}", labels.join(", ")))
            .collect();
        format!(
            "warning: {what} mix results of different code: {}; differences may come from the code, not the parameters",
            parts.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_code_is_named_and_same_code_is_quiet() {
        let a = Provenance::current();
        let mut b = a.clone();
        assert!(a.same_code(&b));
        assert!(mixed("runs", [("r1", Some(&a)), ("r2", Some(&b))]).is_none());
        b.model_version += 1;
        let w = mixed("runs", [("r1", Some(&a)), ("r2", Some(&b)), ("r3", None)]).unwrap();
        assert!(
            w.contains("r1 from") && w.contains("r3 from no provenance"),
            "{w}"
        );
        assert!(!w.contains('\n'));
        // The population is recorded but is not the code.
        b.model_version -= 1;
        b.population.push(PopulationRecord {
            personality: "altruist".into(),
            controller: ControllerKind::Learned,
            hatchers: 0.5,
            arrivals: 0.5,
            strategy: None,
            checkpoint: None,
        });
        assert!(a.same_code(&b));
    }
}
