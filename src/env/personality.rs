//! Personalities: what an agent observes and what it is rewarded for, in one place.
//!
//! A personality is an observation function ([`ObservationKind`]) plus a reward function: weights
//! ([`RewardWeights`]) over the per-day reward components ([`Component`]), which [`RewardParts::measure`]
//! computes and [`RewardParts::total`] weighs. The three money components share one unit per episode,
//! U = 10 % of the funding pool at day 0 ([`reward_unit`]), so a personality's weights trade DAI against
//! DAI. The built-ins are [`BUILTINS`]; custom personalities are TOML files (see `agents/`). The tables
//! of docs/environment.md are generated from here ([`markdown`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::observation::net_worth;
pub use super::observation::ObservationKind;
use crate::file_error::FileError;
use crate::model::config::RangeError;
use crate::model::participant::Participant;
use crate::model::Commons;

/// A per-day reward component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// Δ net worth / U; net worth = wallet + what selling all tokens would return now.
    Wealth,
    /// Affinity-weighted funds of the proposals that became active or completed today / U.
    Impact,
    /// Funds granted today to proposals the agent authored / U.
    Authorship,
    /// Δ own sentiment.
    Sentiment,
    /// The agent's own part in funding what it values: affinity × funds × its share of the conviction,
    /// over proposals that became active today / U.
    Backing,
}

impl Component {
    /// Every component, in the order of weights files, eval files and sums.
    pub const ALL: [Component; 5] = [
        Component::Wealth,
        Component::Impact,
        Component::Authorship,
        Component::Sentiment,
        Component::Backing,
    ];

    /// Its position in [`Component::ALL`] (and in eval files' component arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in personality files, eval files and docs.
    pub fn name(self) -> &'static str {
        match self {
            Component::Wealth => "wealth",
            Component::Impact => "impact",
            Component::Authorship => "authorship",
            Component::Sentiment => "sentiment",
            Component::Backing => "backing",
        }
    }

    /// Its formula, as docs/environment.md gives it.
    pub fn formula(self) -> &'static str {
        match self {
            Component::Wealth => {
                "`(net worth now − net worth yesterday) / U`; net worth = wallet + `(1 − τ)·ΔR(all tokens)` \
                 (what selling everything would return now). For a leaver: wallet after the exit (budget \
                 wallets). An episode's summed `wealth` is the agent's DAI gain / U"
            }
            Component::Impact => {
                "`Σ affinity · funds requested` over proposals that became active or completed today, / U"
            }
            Component::Authorship => "funds granted today to the agent's own proposals, / U",
            Component::Sentiment => "`sentiment now − sentiment yesterday`",
            Component::Backing => {
                "`Σ affinity · funds requested · own share of the conviction that passed it` over proposals \
                 that became active today, / U: the agent's own part in funding what it values (its \
                 stakes' doing; summed over all agents it is at most the impact)"
            }
        }
    }
}

/// One number per reward component: a personality's weights ([`RewardWeights`]), or one agent's
/// components for one day (in [`RewardParts`]). Field names are the components' names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Components {
    /// [`Component::Wealth`].
    pub wealth: f64,
    /// [`Component::Impact`].
    pub impact: f64,
    /// [`Component::Authorship`].
    pub authorship: f64,
    /// [`Component::Sentiment`].
    pub sentiment: f64,
    /// [`Component::Backing`].
    pub backing: f64,
}

impl Components {
    /// The number of a component.
    pub fn get(&self, c: Component) -> f64 {
        match c {
            Component::Wealth => self.wealth,
            Component::Impact => self.impact,
            Component::Authorship => self.authorship,
            Component::Sentiment => self.sentiment,
            Component::Backing => self.backing,
        }
    }
}

/// Weights of the reward components (a personality file's `[personality.reward]`).
pub type RewardWeights = Components;

/// The reward components of one agent for one day (read them as fields: `parts.wealth`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RewardParts {
    /// The components.
    pub components: Components,
    /// Net worth in DAI after the step (at joining, for a new agent); not a reward, a measurement.
    pub net_worth: f64,
}

impl std::ops::Deref for RewardParts {
    type Target = Components;

    fn deref(&self) -> &Components {
        &self.components
    }
}

/// What an agent's daily components are differences of: its state when it last observed.
#[derive(Clone, Copy, Debug)]
pub struct LastSeen {
    /// Net worth, DAI.
    pub net_worth: f64,
    /// Sentiment.
    pub sentiment: f64,
}

/// The unit U of the money components for an episode: 10 % of the funding pool at day 0, at least 1 DAI.
/// An agent's summed `wealth` rewards × U = its net-worth gain in DAI.
pub fn reward_unit(c: &Commons) -> f64 {
    (0.1 * c.pools().funding_pool).max(1.0)
}

impl RewardParts {
    /// The components of participant `p` for the day `c` just simulated, in unit `unit` (see
    /// [`reward_unit`]). `present`: `p` is still in the Commons; a participant who left today is worth
    /// its wallet after the exit with budget wallets, and unchanged otherwise.
    pub fn measure(
        c: &Commons,
        p: &Participant,
        last: &LastSeen,
        present: bool,
        unit: f64,
    ) -> Self {
        let wealth = if present {
            net_worth(c, p)
        } else if c.budget_wallets() {
            p.wallet
        } else {
            last.net_worth
        };
        let ev = c.events();
        let mut impact = 0.0;
        let mut authorship = 0.0;
        let mut backing = 0.0;
        for id in ev.activated.iter().chain(ev.completed.iter()) {
            let q = &c.proposals()[id.0 as usize];
            if let Some(a) = p.past_affinity(*id) {
                impact += a * q.funds_requested;
            }
        }
        for id in &ev.activated {
            let q = &c.proposals()[id.0 as usize];
            if q.author == Some(p.id) {
                authorship += q.funds_requested;
            }
            if let Some(e) = p.past_edge(*id) {
                backing += e.affinity * e.share * q.funds_requested;
            }
        }
        RewardParts {
            components: Components {
                wealth: (wealth - last.net_worth) / unit,
                impact: impact / unit,
                authorship: authorship / unit,
                sentiment: p.sentiment - last.sentiment,
                backing: backing / unit,
            },
            net_worth: wealth,
        }
    }

    /// The reward: `Σ_c w_c · component_c`, summed in [`Component::ALL`] order.
    pub fn total(&self, w: &RewardWeights) -> f64 {
        Component::ALL
            .iter()
            .map(|&c| w.get(c) * self.get(c))
            .reduce(|a, b| a + b)
            .unwrap_or(0.0)
    }
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

/// A built-in personality.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Builtin {
    /// Its name in scenario and agents files.
    pub name: &'static str,
    /// Its observation function.
    pub observation: ObservationKind,
    /// Its reward weights.
    pub reward: RewardWeights,
}

impl Builtin {
    /// The personality it defines: its name, its own observation function and its reward weights.
    pub fn personality(&self) -> Personality {
        Personality {
            name: self.name.to_string(),
            observation: self.observation,
            reward: self.reward,
        }
    }
}

const fn weights(
    wealth: f64,
    impact: f64,
    authorship: f64,
    sentiment: f64,
    backing: f64,
) -> RewardWeights {
    RewardWeights {
        wealth,
        impact,
        authorship,
        sentiment,
        backing,
    }
}

/// The built-in personalities, named once here.
pub const BUILTINS: [Builtin; 4] = [
    Builtin {
        name: "profit-seeker",
        observation: ObservationKind::Full,
        reward: weights(1.0, 0.0, 0.0, 0.0, 0.0),
    },
    Builtin {
        name: "altruist",
        observation: ObservationKind::Full,
        // `backing` credits the agent's own stakes: with `impact` alone its stake choice stayed at random
        // (BENCHMARKS.md, issue #13); 10 × makes its own part count next to the shared outcome.
        reward: weights(0.0, 1.0, 0.0, 0.0, 10.0),
    },
    Builtin {
        name: "balanced",
        observation: ObservationKind::Full,
        reward: weights(0.5, 0.5, 0.0, 0.1, 5.0),
    },
    Builtin {
        name: "builder",
        observation: ObservationKind::Full,
        reward: weights(0.2, 0.0, 1.0, 0.0, 0.0),
    },
];

/// Names of the built-ins, comma-separated (for messages).
pub fn builtin_names() -> String {
    BUILTINS.map(|b| b.name).join(", ")
}

impl Personality {
    /// The built-in personality of that name.
    pub fn builtin(name: &str) -> Option<Personality> {
        BUILTINS
            .iter()
            .find(|b| b.name == name)
            .map(Builtin::personality)
    }

    /// Its reward for one day's components.
    pub fn reward(&self, parts: &RewardParts) -> f64 {
        parts.total(&self.reward)
    }
}

/// The reward tables in Markdown (components and built-in weights), as docs/environment.md holds them.
pub fn markdown() -> String {
    let mut out = String::from("| component | formula |\n|---|---|\n");
    for c in Component::ALL {
        out.push_str(&format!("| {} | {} |\n", c.name(), c.formula()));
    }
    out.push_str("\n| personality |");
    for c in Component::ALL {
        out.push_str(&format!(" {} |", c.name()));
    }
    out.push_str(&format!("\n|---|{}\n", "---|".repeat(Component::ALL.len())));
    for b in BUILTINS {
        out.push_str(&format!("| `{}` |", b.name));
        for c in Component::ALL {
            let w = b.reward.get(c);
            if w == 0.0 {
                out.push_str(" |");
            } else {
                out.push_str(&format!(" {w} |"));
            }
        }
        out.push('\n');
    }
    out
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
    /// A fixed strategy (`strategy`: rules on observation features, [`super::strategy`]), played inside
    /// the environment from each participant's own observation.
    Fixed,
}

impl ControllerKind {
    /// Whether a policy decides (`learned` or `frozen`): these participants are the environment's
    /// agents (rows), and what the scripted baseline and the best-response check replace.
    pub fn is_policy(&self) -> bool {
        matches!(self, ControllerKind::Learned | ControllerKind::Frozen)
    }
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
    /// For `fixed`: a built-in strategy name, a strategy file (relative to the scenario file, like
    /// personality files) or an inline strategy table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<toml::Value>,
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
    /// The strategy for `fixed`.
    pub strategy: Option<super::strategy::Strategy>,
    /// Share of hatchers.
    pub hatchers: f64,
    /// Share of arrivals.
    pub arrivals: f64,
}

/// A personality could not be used: neither a built-in nor a readable file, not a valid personality
/// (TOML syntax, an unknown field, a wrong type), or a weight out of range.
pub type PersonalityError = FileError<RangeError>;

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
    let text = PersonalityError::read_text(
        &path,
        format!(
            "unknown personality (built-ins: {}; or a .toml file)",
            builtin_names()
        ),
    )?;
    let file: PersonalityFile = PersonalityError::toml(&path, &text)?;
    let p = file.personality;
    for c in Component::ALL {
        let (field, v) = (c.name(), p.reward.get(c));
        if !v.is_finite() || v.abs() > 100.0 {
            return Err(PersonalityError::range(
                &path,
                RangeError {
                    field: format!("personality.reward.{field}"),
                    value: v.to_string(),
                    allowed: "-100 to 100",
                },
            ));
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_named_and_weighed_in_one_order() {
        let w = weights(1.0, 2.0, 3.0, 4.0, 5.0);
        let parts = RewardParts {
            components: weights(10.0, 100.0, 1000.0, 10000.0, 100000.0),
            net_worth: 5.0,
        };
        assert_eq!(parts.total(&w), 10.0 + 200.0 + 3000.0 + 40000.0 + 500000.0);
        let names: Vec<_> = Component::ALL.map(|c| c.name()).to_vec();
        for (i, c) in Component::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        assert_eq!(
            names,
            ["wealth", "impact", "authorship", "sentiment", "backing"]
        );
        // Serialised weights use the same names.
        let toml = toml::to_string(&w).unwrap();
        for (c, v) in Component::ALL.iter().zip([1.0, 2.0, 3.0, 4.0, 5.0]) {
            assert!(toml.contains(&format!("{} = {v:?}", c.name())), "{toml}");
            assert_eq!(w.get(*c), v);
        }
        // A zero weight times a negative component still adds up like the written-out sum.
        let p = Personality::builtin("altruist").unwrap();
        let loss = RewardParts {
            components: weights(-3.0, 0.0, 0.0, 0.0, 0.0),
            net_worth: 0.0,
        };
        let w = p.reward;
        assert_eq!(
            p.reward(&loss).to_bits(),
            (w.wealth * -3.0 + w.impact * 0.0 + 0.0 * 0.0 + 0.0 * 0.0 + w.backing * 0.0).to_bits()
        );
    }

    #[test]
    fn a_builtin_keeps_its_own_observation_function() {
        // `Personality::builtin` once set `ObservationKind::Full` whatever the table said.
        let market = Builtin {
            name: "market-watcher",
            observation: ObservationKind::MarketOnly,
            reward: weights(1.0, 0.0, 0.0, 0.0, 0.0),
        };
        assert_eq!(
            market.personality().observation,
            ObservationKind::MarketOnly
        );
        for b in BUILTINS {
            let p = Personality::builtin(b.name).unwrap();
            assert_eq!(
                (p.observation, p.reward),
                (b.observation, b.reward),
                "{}",
                b.name
            );
        }
    }

    #[test]
    fn builtins_resolve() {
        for b in BUILTINS {
            let p = resolve(b.name, Path::new(".")).unwrap();
            assert_eq!((p.name.as_str(), p.reward), (b.name, b.reward));
        }
        let e = resolve("nobody", Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        let want = format!("built-ins: {}; or a .toml file", builtin_names());
        assert!(e.contains(&want), "{e}");
        assert!(want.contains("profit-seeker, altruist, balanced, builder"));
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
