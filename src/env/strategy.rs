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

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::actions::{BIN_LABELS, HEADS, NVEC};
use super::observation::{self, ObservationKind, SLOTS_START};

/// The built-in library (`agents/strategies/*.toml`), by name.
pub const LIBRARY: [(&str, &str); 15] = [
    ("hold", include_str!("../../agents/strategies/hold.toml")),
    (
        "sell-slices",
        include_str!("../../agents/strategies/sell-slices.toml"),
    ),
    (
        "sell-half-daily",
        include_str!("../../agents/strategies/sell-half-daily.toml"),
    ),
    (
        "sell-above-1.5x",
        include_str!("../../agents/strategies/sell-above-1.5x.toml"),
    ),
    (
        "trade-on-sentiment",
        include_str!("../../agents/strategies/trade-on-sentiment.toml"),
    ),
    (
        "buy-and-hold",
        include_str!("../../agents/strategies/buy-and-hold.toml"),
    ),
    (
        "dump-and-propose-small",
        include_str!("../../agents/strategies/dump-and-propose-small.toml"),
    ),
    (
        "stake-by-affinity",
        include_str!("../../agents/strategies/stake-by-affinity.toml"),
    ),
    (
        "stake-on-favourite",
        include_str!("../../agents/strategies/stake-on-favourite.toml"),
    ),
    (
        "buy-and-stake",
        include_str!("../../agents/strategies/buy-and-stake.toml"),
    ),
    (
        "always-propose-small",
        include_str!("../../agents/strategies/always-propose-small.toml"),
    ),
    (
        "always-propose-large",
        include_str!("../../agents/strategies/always-propose-large.toml"),
    ),
    (
        "propose-small-and-back-own",
        include_str!("../../agents/strategies/propose-small-and-back-own.toml"),
    ),
    (
        "propose-large-and-back-own",
        include_str!("../../agents/strategies/propose-large-and-back-own.toml"),
    ),
    (
        "leave-at-the-cliff",
        include_str!("../../agents/strategies/leave-at-the-cliff.toml"),
    ),
];

/// The library as a Markdown table (docs/strategies.md holds exactly this text): name, what it does,
/// and each head's rule in short.
pub fn markdown() -> Result<String, StrategyError> {
    let names = observation::names();
    let mut out = String::from("| strategy | what it does | trade | support | propose | exit |\n|---|---|---|---|---|---|\n");
    for s in library()? {
        out.push_str(&format!("| `{}` | {} |", s.name, s.description));
        for (h, head) in s.heads.iter().enumerate() {
            let mut parts: Vec<String> = head
                .rules
                .iter()
                .map(|r| {
                    let when: Vec<String> = r
                        .when
                        .iter()
                        .map(|c| format!("{} {} {}", names[c.feature], c.op.symbol(), c.value))
                        .collect();
                    format!(
                        "{} if {}",
                        BIN_LABELS[h][r.then as usize],
                        when.join(" and ")
                    )
                })
                .collect();
            let default = BIN_LABELS[h][head.default as usize];
            parts.push(if head.rules.is_empty() {
                default.to_string()
            } else {
                format!("else {default}")
            });
            out.push_str(&format!(" {} |", parts.join("; ")));
        }
        out.push('\n');
    }
    Ok(out)
}

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

/// Names of the built-in strategies.
pub fn library_names() -> Vec<&'static str> {
    LIBRARY.iter().map(|(n, _)| *n).collect()
}

/// The built-in library, parsed.
pub fn library() -> Result<Vec<Strategy>, StrategyError> {
    LIBRARY
        .iter()
        .map(|(name, text)| parse(text, &format!("agents/strategies/{name}.toml"), name))
        .collect()
}

/// A strategy by built-in name or file path (relative paths from `base`).
pub fn resolve(name_or_path: &str, base: &Path) -> Result<Strategy, StrategyError> {
    if let Some((name, text)) = LIBRARY.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("agents/strategies/{name}.toml"), name);
    }
    let path = base.join(name_or_path);
    let text = std::fs::read_to_string(&path).map_err(|cause| StrategyError::NotFound {
        path: path.clone(),
        cause,
    })?;
    parse(&text, &path.display().to_string(), &file_stem(&path))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every `*.toml` strategy file of a folder, by file name order; names must be unique.
pub fn load_folder(dir: &Path) -> Result<Vec<Strategy>, StrategyError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| StrategyError::Folder {
        path: dir.to_path_buf(),
        cause,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(StrategyError::EmptyFolder {
            path: dir.to_path_buf(),
        });
    }
    let mut out: Vec<Strategy> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|cause| StrategyError::NotFound {
            path: f.clone(),
            cause,
        })?;
        let s = parse(&text, &f.display().to_string(), &file_stem(&f))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(StrategyError::Repeated {
                origin: dir.display().to_string(),
                name: s.name,
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// Parses a strategy file (`[strategy]` table); `origin` names it in messages, `default_name` is used
/// when the file gives no `name`.
pub fn parse(text: &str, origin: &str, default_name: &str) -> Result<Strategy, StrategyError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| StrategyError::Syntax {
        origin: origin.to_string(),
        message: e.message().replace('\n', " "),
    })?;
    let Some(section) = table.get("strategy") else {
        return Err(StrategyError::Syntax {
            origin: origin.to_string(),
            message: "no [strategy] table".to_string(),
        });
    };
    if let Some(k) = table.keys().find(|k| *k != "strategy") {
        return Err(StrategyError::Syntax {
            origin: origin.to_string(),
            message: format!("unknown section `{k}` (a strategy file has one [strategy] table)"),
        });
    }
    from_value(section, origin, default_name)
}

/// A strategy from its table (a file's `[strategy]`, or an inline `strategy = { … }` of a population
/// entry).
pub fn from_value(
    value: &toml::Value,
    origin: &str,
    default_name: &str,
) -> Result<Strategy, StrategyError> {
    let name = value
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or(default_name)
        .to_string();
    let err = |field: &str, message: String| StrategyError::Invalid {
        origin: origin.to_string(),
        strategy: name.clone(),
        field: field.to_string(),
        message,
    };
    let Some(t) = value.as_table() else {
        return Err(err("strategy", "expected a table".to_string()));
    };
    let mut heads: [HeadRules; 4] = Default::default();
    let mut description = String::new();
    for (key, v) in t {
        match key.as_str() {
            "name" => {
                if !v.is_str() {
                    return Err(err("name", "expected a string".to_string()));
                }
            }
            "description" => {
                description = v
                    .as_str()
                    .ok_or_else(|| err("description", "expected a string".to_string()))?
                    .to_string();
            }
            head => {
                let Some(h) = HEADS.iter().position(|x| *x == head) else {
                    return Err(err(
                        head,
                        format!(
                            "unknown field (allowed: name, description, {})",
                            HEADS.join(", ")
                        ),
                    ));
                };
                heads[h] = head_rules(h, v).map_err(|(field, m)| err(&field, m))?;
            }
        }
    }
    if name.is_empty() {
        return Err(err("name", "must not be empty".to_string()));
    }
    Ok(Strategy {
        name,
        description,
        origin: origin.to_string(),
        heads,
    })
}

type FieldError = (String, String);

/// One head: a constant bin, or `{ default, rules }`.
fn head_rules(h: usize, v: &toml::Value) -> Result<HeadRules, FieldError> {
    let head = HEADS[h];
    let Some(t) = v.as_table() else {
        return Ok(HeadRules {
            rules: Vec::new(),
            default: bin(h, v).map_err(|m| (head.to_string(), m))?,
        });
    };
    let mut out = HeadRules::default();
    for (key, v) in t {
        match key.as_str() {
            "default" => {
                out.default = bin(h, v).map_err(|m| (format!("{head}.default"), m))?;
            }
            "rules" => {
                let Some(list) = v.as_array() else {
                    return Err((
                        format!("{head}.rules"),
                        "expected a list of { when, then }".into(),
                    ));
                };
                for (i, r) in list.iter().enumerate() {
                    let field = format!("{head}.rules[{i}]");
                    out.rules
                        .push(rule(h, r).map_err(|(f, m)| (format!("{field}{f}"), m))?);
                }
            }
            other => {
                return Err((
                    format!("{head}.{other}"),
                    "unknown field (allowed: default, rules)".to_string(),
                ))
            }
        }
    }
    Ok(out)
}

fn rule(h: usize, v: &toml::Value) -> Result<Rule, FieldError> {
    let Some(t) = v.as_table() else {
        return Err((String::new(), "expected { when = …, then = … }".to_string()));
    };
    if let Some(k) = t.keys().find(|k| *k != "when" && *k != "then") {
        return Err((
            format!(".{k}"),
            "unknown field (allowed: when, then)".to_string(),
        ));
    }
    let then = t
        .get("then")
        .ok_or((".then".to_string(), "missing".to_string()))
        .and_then(|v| bin(h, v).map_err(|m| (".then".to_string(), m)))?;
    let when = match t.get("when") {
        None => return Err((".when".to_string(), "missing".to_string())),
        Some(toml::Value::String(s)) => vec![condition(s).map_err(|m| (".when".to_string(), m))?],
        Some(toml::Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(j, c)| {
                c.as_str()
                    .ok_or_else(|| "expected a condition string".to_string())
                    .and_then(condition)
                    .map_err(|m| (format!(".when[{j}]"), m))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err((
                ".when".to_string(),
                "expected a condition \"<feature> <op> <number>\" or a list of them".to_string(),
            ))
        }
    };
    let r = Rule { when, then };
    if let Some(m) = masked_whenever(h, &r) {
        return Err((".then".to_string(), m));
    }
    Ok(r)
}

/// A bin: a label of [`BIN_LABELS`] (spaces and case ignored) or its number.
fn bin(h: usize, v: &toml::Value) -> Result<u32, String> {
    let labels = &BIN_LABELS[h];
    let allowed = || {
        format!(
            "allowed: 0 to {} or {}",
            labels.len() - 1,
            labels
                .iter()
                .map(|l| format!("\"{l}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match v {
        toml::Value::Integer(i) if (0..labels.len() as i64).contains(i) => Ok(*i as u32),
        toml::Value::Integer(i) => Err(format!("bin {i} is out of range ({})", allowed())),
        toml::Value::String(s) => {
            let norm = |x: &str| x.replace(' ', "").to_lowercase();
            labels
                .iter()
                .position(|l| norm(l) == norm(s))
                .map(|b| b as u32)
                .ok_or_else(|| format!("unknown bin \"{s}\" ({})", allowed()))
        }
        _ => Err(format!("expected a bin ({})", allowed())),
    }
}

/// `"<feature> <op> <number>"`.
fn condition(text: &str) -> Result<Condition, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [feature, op, value] = parts[..] else {
        return Err(format!(
            "\"{text}\": expected \"<feature> <op> <number>\" (e.g. \"commons.price > 1.5\")"
        ));
    };
    let names = observation::names();
    let Some(index) = names.iter().position(|n| n == feature) else {
        return Err(format!(
            "unknown feature `{feature}` (features: the observation's names in docs/environment.md, e.g. own.asked, commons.price, slot0.affinity)"
        ));
    };
    let Some(&(_, op)) = Op::ALL.iter().find(|(s, _)| *s == op) else {
        return Err(format!(
            "\"{text}\": unknown operator `{op}` (allowed: <, <=, >, >=, ==, !=)"
        ));
    };
    let value: f32 = value
        .parse()
        .ok()
        .filter(|v: &f32| v.is_finite())
        .ok_or_else(|| format!("\"{text}\": `{value}` is not a finite number"))?;
    Ok(Condition {
        feature: index,
        op,
        value,
    })
}

/// Whether the rule's bin is masked whenever its conditions hold (a rule that can never act): the
/// message, or None.
fn masked_whenever(h: usize, r: &Rule) -> Option<String> {
    // What the bin's mask rule needs of the observation (from the action table).
    let b = super::actions::table().get(h)?.bins.get(r.then as usize)?;
    let need = b.mask.observed(&b.label)?;
    let f = observation::names()
        .iter()
        .position(|n| *n == need.feature)?;
    let conds: Vec<&Condition> = r.when.iter().filter(|c| c.feature == f).collect();
    if conds.is_empty() {
        return None;
    }
    // Probe the feature's range at its bounds and around every number the conditions name.
    let spec = observation::observation_spec();
    let (lo, hi) = (spec.low[f], spec.high[f]);
    let mut probes = vec![lo, hi];
    probes.extend(conds.iter().map(|c| c.value.clamp(lo, hi)));
    probes.sort_by(f32::total_cmp);
    let mids: Vec<f32> = probes
        .windows(2)
        .map(|w| w[0] + (w[1] - w[0]) / 2.0)
        .collect();
    probes.extend(mids);
    let feasible = probes
        .iter()
        .any(|&x| conds.iter().all(|c| c.op.holds(x, c.value)) && (need.allowed)(x));
    (!feasible).then(|| {
        format!(
            "`{}` is masked whenever this rule's conditions hold: {}",
            b.label, need.why
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::actions::MASK_LEN;
    use crate::env::observation::OBS_LEN;

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
            ("[strategy]\nname = \"x\"\ntrade = 7\n", "field `trade`: bin 7 is out of range (allowed: 0 to 6"),
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
        assert!(e.contains("unknown strategy (built-ins: hold, "), "{e}");
    }
}
