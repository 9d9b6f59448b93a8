//! Fixed strategies: the rule language of `controller = "fixed"` and of `commons eval --against-fixed`.
//!
//! A strategy gives each action head (`trade`, `support`, `propose`, `exit`) either a constant bin or an
//! ordered list of rules on named observation features with a default; on every day the first rule whose
//! conditions all hold picks the head's bin, else the default does. Strategies are data (TOML), not code:
//!
//! ```toml
//! [strategy]
//! name = "sell-above-1.5x"
//! description = "Sell 20 % of the spendable tokens on days the price is above 1.5 × the hatch price."
//! support = "by affinity"                 # a constant: a bin label or number
//! propose = "small"                       # masked on days the world does not ask: then "no"
//!
//! [strategy.trade]                        # rules, first match wins
//! default = "hold"
//! rules = [
//!   { when = "commons.price > 1.5", then = "sell 20 %" },
//!   { when = ["own.sentiment < 0.2", "own.spendable_share > 0"], then = "sell 5 %" },
//! ]
//! ```
//!
//! * **Features** are the observation's names (`own.asked`, `commons.price`, `slot0.affinity`, …; the
//!   table of docs/environment.md), compared as the agent sees them (scaled: `commons.price` is the
//!   price over the price after the hatch). Slots count from 0 (`slot0` is the favourite candidate); the
//!   `support` bins `slot 1` … `slot 4` from 1.
//! * **Conditions**: `"<feature> <op> <number>"` with `op` one of `<`, `<=`, `>`, `>=`, `==`, `!=`;
//!   `when` is one condition or a list that must all hold.
//! * **Bins**: the labels of [`super::actions::BIN_LABELS`] (spaces and case ignored: `"sell 20%"`) or
//!   the bin's number. An omitted head does nothing (bin 0: hold, keep, no, stay).
//! * **Masks**: a bin that today's mask forbids falls back to the head's no-op (bin 0, always allowed)
//!   and is counted ([`Fallbacks`]); a fixed strategy never takes a masked action. A rule whose bin is
//!   masked whenever its conditions hold (e.g. `propose = "small"` when `own.asked == 0`) is an error,
//!   as is a rule on a feature, or a slot bin, that the personality's observation zeroes
//!   (`market-only`).
//!
//! The library of `agents/strategies/` is built in ([`library`]): each file is one strategy, named by
//! its file name.

//!
//! The module is split by what it does: the rule language here ([`Strategy`], its rules and how they
//! pick a bin), its TOML in [`file`](mod@file), the built-in library ([`library`]: generated at build
//! time from `agents/strategies/*.toml`) and the static mask analysis in [`mask`].

pub mod file;
pub mod library;
pub mod mask;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::actions::{BIN_LABELS, HEADS, NVEC};
use super::observation::{self, ObservationKind, SLOTS_START};
pub use file::{from_value, parse};
pub use library::{library, library_names, load_folder, markdown, resolve, LIBRARY};

/// A comparison operator of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    /// How it is written.
    pub fn symbol(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(s, _)| *s)
            .unwrap_or("?")
    }

    /// `x op v`.
    pub fn holds(self, x: f32, v: f32) -> bool {
        match self {
            Op::Lt => x < v,
            Op::Le => x <= v,
            Op::Gt => x > v,
            Op::Ge => x >= v,
            Op::Eq => x == v,
            Op::Ne => x != v,
        }
    }
}

/// `feature op value`, on the observation as the agent sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Index into the observation vector.
    pub feature: usize,
    /// The comparison.
    pub op: Op,
    /// The number compared with.
    pub value: f32,
}

impl Condition {
    /// Whether it holds on `obs`.
    pub fn holds(&self, obs: &[f32]) -> bool {
        self.op.holds(obs[self.feature], self.value)
    }
}

/// `when` (all conditions) → `then` (a bin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Conditions that must all hold.
    pub when: Vec<Condition>,
    /// The bin chosen when they do.
    pub then: u32,
}

/// One head's rules: the first rule that holds picks the bin, else `default`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadRules {
    /// Rules, in order.
    pub rules: Vec<Rule>,
    /// The bin when no rule holds.
    pub default: u32,
}

impl HeadRules {
    /// The bin on `obs`.
    pub fn choose(&self, obs: &[f32]) -> u32 {
        self.rules
            .iter()
            .find(|r| r.when.iter().all(|c| c.holds(obs)))
            .map(|r| r.then)
            .unwrap_or(self.default)
    }
}

/// A fixed strategy: rules for each head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// Its name (the library's file name, or `[strategy] name`).
    pub name: String,
    /// What it does, in words.
    pub description: String,
    /// Where it was read from (a file, or a population entry), for messages.
    pub origin: String,
    /// Rules per head, in [`HEADS`] order.
    pub heads: [HeadRules; 4],
}

/// How often a fixed strategy's choice was masked and fell back to the head's no-op.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Fallbacks {
    /// Decisions taken (agent-days).
    pub decisions: u64,
    /// Per head ([`HEADS`] order): choices that were masked.
    pub masked: [u64; 4],
}

impl Strategy {
    /// A strategy that does nothing (every head's bin 0).
    pub fn passive(name: &str) -> Self {
        Strategy {
            name: name.to_string(),
            description: "does nothing".to_string(),
            origin: String::new(),
            heads: Default::default(),
        }
    }

    /// The action on one observation and mask: each head's rules, with a masked choice replaced by the
    /// head's no-op (bin 0) and counted in `fallbacks`.
    pub fn decide(&self, obs: &[f32], mask: &[bool], fallbacks: &mut Fallbacks) -> [u32; 4] {
        let mut out = [0; 4];
        let mut offset = 0;
        fallbacks.decisions += 1;
        for (h, rules) in self.heads.iter().enumerate() {
            let bin = rules.choose(obs);
            if mask[offset + bin as usize] {
                out[h] = bin;
            } else {
                fallbacks.masked[h] += 1;
            }
            offset += NVEC[h];
        }
        out
    }

    /// Checks that the strategy can act for a personality observing with `kind`: no rule on a feature,
    /// and no `support` slot bin, that `market-only` zeroes.
    pub fn check_observation(&self, kind: ObservationKind) -> Result<(), StrategyError> {
        let origin = self.origin.as_str();
        if kind != ObservationKind::MarketOnly {
            return Ok(());
        }
        let names = observation::names();
        for (h, head) in self.heads.iter().enumerate() {
            let bins = head
                .rules
                .iter()
                .map(|r| r.then)
                .chain(std::iter::once(head.default));
            for (i, r) in head.rules.iter().enumerate() {
                if let Some(c) = r.when.iter().find(|c| c.feature >= SLOTS_START) {
                    return Err(self.error(
                        origin,
                        format!("{}.rules[{i}].when", HEADS[h]),
                        format!(
                            "`{}` is zeroed for a personality with observation = \"market-only\"",
                            names[c.feature]
                        ),
                    ));
                }
            }
            if HEADS[h] == "support" {
                if let Some(b) = bins.clone().find(|&b| b >= 3) {
                    return Err(self.error(
                        origin,
                        HEADS[h].to_string(),
                        format!(
                            "`{}` stakes on a slot that a personality with observation = \"market-only\" cannot see",
                            BIN_LABELS[h][b as usize]
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn error(&self, origin: &str, field: String, message: String) -> StrategyError {
        StrategyError::Invalid {
            origin: origin.to_string(),
            strategy: self.name.clone(),
            field,
            message,
        }
    }
}

/// A strategy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// A name that is neither built in nor a readable file.
    #[error("{path}: unknown strategy (built-ins: {}; or a .toml file): {cause}", library_names().join(", "))]
    NotFound {
        /// What was asked for.
        path: PathBuf,
        /// Why it could not be read.
        cause: std::io::Error,
    },
    /// A folder of strategies could not be listed.
    #[error("{path}: cannot list strategies: {cause}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// A folder without strategy files.
    #[error("{path}: no strategy files (*.toml) in the folder")]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },
    /// Not valid TOML.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A field of a strategy is wrong.
    #[error("{origin}: strategy `{strategy}`, field `{field}`: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// The strategy's name.
        strategy: String,
        /// The field, dotted (`trade.rules[0].when`).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Two strategies of a set share a name.
    #[error("{origin}: strategy `{name}` appears twice (each name once)")]
    Repeated {
        /// The folder or file.
        origin: String,
        /// The name.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::actions::{MASK_LEN, TRADE_BINS};
    use crate::env::observation::OBS_LEN;
    use std::path::Path;

    fn feature(name: &str) -> usize {
        observation::names().iter().position(|n| n == name).unwrap()
    }

    fn one(text: &str) -> Result<Strategy, StrategyError> {
        parse(text, "s.toml", "s")
    }

    fn err(text: &str) -> String {
        one(text).unwrap_err().to_string()
    }

    #[test]
    fn the_library_parses_and_every_file_is_in_it() {
        let lib = library().unwrap();
        assert_eq!(lib.len(), LIBRARY.len());
        for s in &lib {
            assert!(!s.description.is_empty(), "{}", s.name);
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/agents/strategies");
        let files = load_folder(Path::new(dir)).unwrap();
        let mut a: Vec<_> = files.iter().map(|s| s.name.clone()).collect();
        let mut b: Vec<_> = library_names().iter().map(|s| s.to_string()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "agents/strategies and LIBRARY disagree");
        assert_eq!(files.len(), lib.len());
    }

    #[test]
    fn every_rule_kind_acts_as_documented() {
        let s = one(r#"[strategy]
name = "t"
description = "test"
support = "by affinity"
exit = 1
[strategy.trade]
default = "hold"
rules = [
  { when = "commons.price > 1.5", then = "sell 20 %" },
  { when = ["own.sentiment < 0.2", "own.spendable_share >= 0.5"], then = "sell5%" },
  { when = "own.sentiment != 0.5", then = 2 },
]
[strategy.propose]
rules = [{ when = "own.asked == 1", then = "small" }]
"#)
        .unwrap();
        let mut obs = vec![0.0f32; OBS_LEN];
        let mask = vec![true; MASK_LEN];
        let mut fb = Fallbacks::default();
        obs[feature("own.sentiment")] = 0.5;
        // No trade rule holds (sentiment == 0.5): the default; constants on the other heads.
        assert_eq!(s.decide(&obs, &mask, &mut fb), [0, 1, 0, 1]);
        obs[feature("commons.price")] = 2.0;
        obs[feature("own.asked")] = 1.0;
        assert_eq!(s.decide(&obs, &mask, &mut fb), [5, 1, 1, 1]);
        // The first rule that holds wins; all conditions of a list must hold.
        obs[feature("commons.price")] = 1.0;
        obs[feature("own.sentiment")] = 0.1;
        obs[feature("own.spendable_share")] = 0.4;
        assert_eq!(s.decide(&obs, &mask, &mut fb)[0], 2);
        obs[feature("own.spendable_share")] = 0.5;
        assert_eq!(s.decide(&obs, &mask, &mut fb)[0], 4);
        assert_eq!(
            fb,
            Fallbacks {
                decisions: 4,
                masked: [0; 4]
            }
        );
    }

    #[test]
    fn a_masked_choice_falls_back_to_the_no_op_and_is_counted() {
        let s = one("[strategy]\ntrade = \"sell 50 %\"\npropose = \"large\"\nsupport = \"slot 2\"\nexit = \"leave\"\n").unwrap();
        let obs = vec![0.0f32; OBS_LEN];
        let mut fb = Fallbacks::default();
        let mut mask = vec![true; MASK_LEN];
        assert_eq!(s.decide(&obs, &mask, &mut fb), [6, 4, 2, 1]);
        // Everything but each head's bin 0 masked.
        mask.fill(false);
        let mut off = 0;
        for n in NVEC {
            mask[off] = true;
            off += n;
        }
        assert_eq!(s.decide(&obs, &mask, &mut fb), [0, 0, 0, 0]);
        assert_eq!(
            fb,
            Fallbacks {
                decisions: 2,
                masked: [1, 1, 1, 1]
            }
        );
    }

    /// The mask analysis follows the action table for every slot bin, whatever `SLOTS` is: staking on
    /// slot k + 1 while `slotk.present < 1` is refused, with its present flag allowed it is not.
    #[test]
    fn the_mask_analysis_covers_every_slot_bin() {
        use crate::env::actions::{table, BinKind, Support, SLOTS};
        let slots: Vec<(usize, &str)> = table()[1]
            .bins
            .iter()
            .filter_map(|b| match b.kind {
                BinKind::Support(Support::Slot(k)) => Some((k, b.label.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(slots.len(), SLOTS);
        for (k, label) in slots {
            let rule = |when: &str| {
                format!("[strategy]\nname = \"x\"\n[strategy.support]\nrules = [{{ when = \"{when}\", then = \"{label}\" }}]\n")
            };
            let e = err(&rule(&format!("slot{k}.present < 1")));
            assert!(
                e.contains(&format!("`{label}` is masked whenever"))
                    && e.contains(&format!("slot{k}.present = 0")),
                "{e}"
            );
            assert!(
                one(&rule(&format!("slot{k}.present > 0.5"))).is_ok(),
                "slot {k}"
            );
        }
    }

    #[test]
    fn bad_rules_give_one_line_naming_the_file_the_strategy_and_the_field() {
        let cases = [
            ("[strategy]\nname = \"x\"\nwave = 1\n", "field `wave`: unknown field"),
            (
                "[strategy]\nname = \"x\"\n[strategy.trade]\nrules = [{ when = \"comons.price > 1\", then = 1 }]\n",
                "field `trade.rules[0].when`: unknown feature `comons.price`",
            ),
            ("[strategy]\nname = \"x\"\nexit = \"run\"\n", "field `exit`: unknown bin \"run\""),
            (
                "[strategy]\nname = \"x\"\n[strategy.propose]\nrules = [{ when = \"own.asked == 0\", then = \"small\" }]\n",
                "field `propose.rules[0].then`: `small` is masked whenever this rule's conditions hold",
            ),
            (
                "[strategy]\nname = \"x\"\n[strategy.trade]\nrules = [{ when = \"own.spendable_share <= 0\", then = \"sell 5 %\" }]\n",
                "field `trade.rules[0].then`: `sell 5 %` is masked whenever",
            ),
            (
                "[strategy]\nname = \"x\"\n[strategy.support]\nrules = [{ when = \"slot1.present < 1\", then = \"slot 2\" }]\n",
                "field `support.rules[0].then`: `slot 2` is masked whenever",
            ),
            (
                "[strategy]\nname = \"x\"\n[strategy.trade]\nrules = [{ when = \"commons.price >> 1\", then = 1 }]\n",
                "field `trade.rules[0].when`: \"commons.price >> 1\": unknown operator",
            ),
            (
                "[strategy]\nname = \"x\"\n[strategy.trade]\nrules = [{ when = \"commons.price > 1\" }]\n",
                "field `trade.rules[0].then`: missing",
            ),
        ];
        for (text, want) in cases {
            let e = err(text);
            assert!(e.starts_with("s.toml: strategy `x`, "), "{e}");
            assert!(e.contains(want), "{e}\nwanted: {want}");
            assert!(!e.contains('\n'), "{e}");
        }
        // One bin past the head is out of range, whatever the head's size.
        let e = err(&format!("[strategy]\nname = \"x\"\ntrade = {TRADE_BINS}\n"));
        let want = format!(
            "field `trade`: bin {TRADE_BINS} is out of range (allowed: 0 to {}",
            TRADE_BINS - 1
        );
        assert!(e.contains(&want), "{e}");
        // A narrow but possible range is not an error.
        assert!(one("[strategy]\n[strategy.trade]\nrules = [{ when = \"own.spendable_share < 0.0005\", then = \"sell 5 %\" }]\n").is_ok());
        let e = err("[strategy\n");
        assert!(e.starts_with("s.toml: ") && !e.contains('\n'), "{e}");
        // A slot feature or a slot bin for a market-only personality.
        let s = one("[strategy]\nname = \"x\"\nsupport = \"slot 1\"\n").unwrap();
        let e = s
            .check_observation(ObservationKind::MarketOnly)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.toml: strategy `x`, field `support`: `slot 1` stakes on a slot"),
            "{e}"
        );
        assert!(s.check_observation(ObservationKind::Full).is_ok());
        let s = one("[strategy]\nname = \"x\"\n[strategy.trade]\nrules = [{ when = \"slot0.affinity > 0.5\", then = 1 }]\n").unwrap();
        let e = s
            .check_observation(ObservationKind::MarketOnly)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field `trade.rules[0].when`: `slot0.affinity` is zeroed"),
            "{e}"
        );
    }

    #[test]
    fn strategies_resolve_by_name_or_path() {
        assert_eq!(resolve("hold", Path::new("/nowhere")).unwrap().name, "hold");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "[strategy]\ntrade = \"buy 1 %\"\n",
        )
        .unwrap();
        let s = resolve("mine.toml", dir.path()).unwrap();
        assert_eq!((s.name.as_str(), s.heads[0].default), ("mine", 1));
        let e = resolve("nope", dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "unknown strategy (built-ins: {}",
                library_names().join(", ")
            )),
            "{e}"
        );
    }
}
