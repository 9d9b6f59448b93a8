//! Scenario files: TOML documents with the model's parameters ([`ModelConfig`]) and a population table.
//!
//! Every section and field is optional (defaults are the reference's values), unknown fields are refused,
//! and every range is checked. Errors are one line naming the file, the field and what is allowed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::env::personality::{self, PopulationEntry, ResolvedEntry};
use crate::env::strategy;
use crate::env::CommonsEnvConfig;
use crate::file_error::FileError;
use crate::model::config::RangeError;
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

/// A scenario file: the model's sections ([`ModelConfig`], parsed straight from the file's tables with
/// unknown fields refused), plus `kind` and the population table (`[[population]]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    /// Which environment (`commons` unless `kind = "cartpole"`).
    pub kind: EnvKind,
    /// Every parameter of the Commons.
    pub model: ModelConfig,
    /// Shares of hatchers and arrivals per personality and their controllers; the rest follow the
    /// reference's rules.
    pub population: Vec<PopulationEntry>,
}

/// How a scenario is written: `kind`, the model's sections, then the population table.
#[derive(Serialize)]
struct ScenarioOut<'a> {
    kind: EnvKind,
    #[serde(flatten)]
    model: &'a ModelConfig,
    population: &'a [PopulationEntry],
}

impl Serialize for Scenario {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ScenarioOut {
            kind: self.kind,
            model: &self.model,
            population: &self.population,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Scenario {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(split::ScenarioVisitor)
    }
}

/// Parsing a scenario table: `kind` and `population` are taken out as the keys stream past, and every
/// other key goes straight to [`ModelConfig`]'s own deserializer (which refuses unknown fields). The
/// values are read from the file's own deserializer, so errors keep their line and field.
mod split {
    use std::sync::OnceLock;

    use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    use super::{EnvKind, PopulationEntry, Scenario};
    use crate::model::ModelConfig;

    /// The keys of a scenario table, in order: `kind`, the model's sections, `population`.
    pub(super) fn keys() -> &'static [&'static str] {
        static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut sections: &'static [&'static str] = &[];
            // The probe always "fails" once it has seen the field list.
            let _ = ModelConfig::deserialize(FieldProbe(&mut sections));
            std::iter::once("kind")
                .chain(sections.iter().copied())
                .chain(std::iter::once("population"))
                .collect()
        })
    }

    /// A deserializer that only records the field list a derived `Deserialize` asks for.
    struct FieldProbe<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for FieldProbe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    pub(super) struct ScenarioVisitor;

    impl<'de> Visitor<'de> for ScenarioVisitor {
        type Value = Scenario;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a scenario table")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scenario, A::Error> {
            let mut kind = None;
            let mut population = None;
            let model = ModelConfig::deserialize(Sections {
                map,
                kind: &mut kind,
                population: &mut population,
            })?;
            Ok(Scenario {
                kind: kind.unwrap_or_default(),
                model,
                population: population.unwrap_or_default(),
            })
        }
    }

    /// The scenario's map without `kind` and `population`, as a deserializer for [`ModelConfig`].
    struct Sections<'a, A> {
        map: A,
        kind: &'a mut Option<EnvKind>,
        population: &'a mut Option<Vec<PopulationEntry>>,
    }

    impl<'de, A: MapAccess<'de>> Deserializer<'de> for Sections<'_, A> {
        type Error = A::Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
            visitor.visit_map(self)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
            ignored_any
        }
    }

    /// A key of the scenario table: one of the two taken out, or a key for [`ModelConfig`].
    enum Key<K> {
        Kind,
        Population,
        Section(K),
    }

    /// Reads a key with the file's deserializer (so a refused key keeps its location) and hands the
    /// model's keys to the model's key seed.
    struct KeySeed<'s, K>(&'s mut Option<K>);

    impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, K> {
        type Value = Key<K::Value>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            let key = String::deserialize(d)?;
            let keys = keys();
            match key.as_str() {
                "kind" => Ok(Key::Kind),
                "population" => Ok(Key::Population),
                k if !keys.contains(&k) => Err(de::Error::unknown_field(k, keys)),
                _ => match self.0.take() {
                    Some(seed) => seed.deserialize(key.into_deserializer()).map(Key::Section),
                    None => Err(de::Error::custom("scenario key read twice")),
                },
            }
        }
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for Sections<'_, A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            let mut seed = Some(seed);
            loop {
                match self.map.next_key_seed(KeySeed(&mut seed))? {
                    None => return Ok(None),
                    Some(Key::Section(k)) => return Ok(Some(k)),
                    Some(Key::Kind) => *self.kind = Some(self.map.next_value()?),
                    Some(Key::Population) => *self.population = Some(self.map.next_value()?),
                }
            }
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, A::Error> {
            self.map.next_value_seed(seed)
        }
    }
}

impl Scenario {
    /// Checks every range: the model's parameters and the population table (what loading a file does).
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.model.validate()?;
        self.validate_population()
    }

    /// Checks the population table: shares in [0, 1] summing to at most 1, unique personalities, a
    /// checkpoint for every frozen controller.
    fn validate_population(&self) -> Result<(), ValidationError> {
        let mut names = std::collections::HashSet::new();
        for (i, e) in self.population.iter().enumerate() {
            for (what, v) in [("hatchers", e.hatchers), ("arrivals", e.arrivals)] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(RangeError {
                        field: format!("population[{i}].{what}"),
                        value: v.to_string(),
                        allowed: "0 to 1",
                    }
                    .into());
                }
            }
            if !names.insert(e.personality.clone()) {
                return Err(ValidationError::Repeated {
                    field: format!("population[{i}].personality"),
                    value: e.personality.clone(),
                });
            }
            if e.controller == personality::ControllerKind::Frozen && e.checkpoint.is_none() {
                return Err(ValidationError::MissingCheckpoint {
                    field: format!("population[{i}].checkpoint"),
                });
            }
            let fixed = e.controller == personality::ControllerKind::Fixed;
            if fixed != e.strategy.is_some() {
                return Err(ValidationError::Strategy {
                    field: format!("population[{i}].strategy"),
                    fixed,
                });
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
                return Err(ValidationError::SharesAboveOne {
                    field: format!("population[*].{what}"),
                    total,
                });
            }
        }
        Ok(())
    }
}

/// A scenario whose values break a rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// A value is out of its range.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// A personality appears twice in the population table.
    #[error("field `{field}` = {value} appears twice (allowed: each personality once)")]
    Repeated {
        /// Dotted path of the field.
        field: String,
        /// The repeated personality.
        value: String,
    },
    /// A frozen controller without a checkpoint.
    #[error("field `{field}` is missing (controller = \"frozen\" plays a saved policy: give its run or checkpoint folder)")]
    MissingCheckpoint {
        /// Dotted path of the field.
        field: String,
    },
    /// A fixed controller without a strategy, or a strategy for another controller.
    #[error("field `{field}` {} (controller = \"fixed\" plays a strategy: a built-in name, a file or an inline table; other controllers take none)", if *fixed { "is missing" } else { "is only for controller = \"fixed\"" })]
    Strategy {
        /// Dotted path of the field.
        field: String,
        /// Whether the controller is `fixed`.
        fixed: bool,
    },
    /// The shares of a column add up to more than everybody.
    #[error("fields `{field}` sum to {total} (allowed: at most 1; the rest follow the reference's rules)")]
    SharesAboveOne {
        /// Dotted path of the fields.
        field: String,
        /// Their sum.
        total: f64,
    },
}

impl ValidationError {
    /// The same error with its field inside `section` (e.g. `scenario.curve.kappa`).
    pub fn within(self, section: &str) -> Self {
        let prefix = |f: String| format!("{section}.{f}");
        match self {
            ValidationError::Range(mut r) => {
                r.field = prefix(r.field);
                ValidationError::Range(r)
            }
            ValidationError::Repeated { field, value } => ValidationError::Repeated {
                field: prefix(field),
                value,
            },
            ValidationError::MissingCheckpoint { field } => ValidationError::MissingCheckpoint {
                field: prefix(field),
            },
            ValidationError::SharesAboveOne { field, total } => ValidationError::SharesAboveOne {
                field: prefix(field),
                total,
            },
            ValidationError::Strategy { field, fixed } => ValidationError::Strategy {
                field: prefix(field),
                fixed,
            },
        }
    }
}

/// Why a scenario file could not be used: unreadable, not a scenario (TOML, an unknown field, a wrong
/// type; with its line and field), or a value out of range or against the population table's rules.
pub type ScenarioError = FileError<ValidationError>;

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = ScenarioError::read_text(path, "cannot read scenario file")?;
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
    env_config_named(scenario, path, path)
}

/// Like [`env_config`], for a scenario that was read from `source` (e.g. a run's `config.toml`, or an
/// agents file with a population) while its personality files are relative to the scenario file `path`;
/// errors name `source` and the population field.
pub fn env_config_named(
    scenario: &Scenario,
    path: &Path,
    source: &Path,
) -> Result<CommonsEnvConfig, ScenarioError> {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut population = Vec::new();
    for (i, e) in scenario.population.iter().enumerate() {
        let p = personality::resolve(&e.personality, base).map_err(|e| {
            let location = if source == path {
                String::new()
            } else {
                format!("field `population[{i}].personality`: ")
            };
            ScenarioError::invalid(source, format!("{location}{e}"))
        })?;
        let strategy = match &e.strategy {
            None => None,
            Some(spec) => {
                let located = |message: String| {
                    ScenarioError::invalid(
                        source,
                        format!("field `population[{i}].strategy`: {message}"),
                    )
                };
                let s = match spec {
                    toml::Value::String(name) => strategy::resolve(name, base),
                    table => strategy::from_value(
                        table,
                        &format!("{} population[{i}].strategy", source.display()),
                        &p.name,
                    ),
                }
                .map_err(|e| located(e.to_string()))?;
                s.check_observation(p.observation)
                    .map_err(|e| located(e.to_string()))?;
                Some(s)
            }
        };
        population.push(ResolvedEntry {
            personality: p,
            controller: e.controller.clone(),
            checkpoint: e.checkpoint.clone(),
            strategy,
            hatchers: e.hatchers,
            arrivals: e.arrivals,
        });
    }
    Ok(CommonsEnvConfig {
        model: scenario.model.clone(),
        population,
        deviant: None,
    })
}

/// Parses and validates scenario text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let cfg = from_toml(text).map_err(|(location, message)| {
        ScenarioError::invalid(path, format!("{location}{message}"))
    })?;
    cfg.validate()
        .map_err(|cause| ScenarioError::range(path, cause))?;
    Ok(cfg)
}

/// Scenario text parsed, not validated; the error is its location (`line N, field `x.y`: ` when
/// known) and the parser's message on one line.
fn from_toml(text: &str) -> Result<Scenario, (String, String)> {
    toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| describe_location(text, span.start))
            .unwrap_or_default();
        (location, e.message().replace('\n', " ").trim().to_string())
    })
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
            parse("", Path::new("x")).unwrap().model,
            ModelConfig::default()
        );
    }

    #[test]
    fn scenario_keys_are_kind_the_model_sections_and_population() {
        let keys = split::keys();
        assert_eq!(keys.first(), Some(&"kind"));
        assert_eq!(keys.last(), Some(&"population"));
        let model = toml::to_string(&ModelConfig::default()).unwrap();
        for k in &keys[1..keys.len() - 1] {
            assert!(model.contains(&format!("[{k}]")), "{k}");
        }
        let e = err("[market]\n");
        assert!(
            e.ends_with("expected one of `kind`, `simulation`, `hatch`, `curve`, `conviction`, `proposals`, `participants`, `arrivals`, `speculators`, `extensions`, `population`"),
            "{e}"
        );
        // Round trip: what a run folder's config.toml holds parses back to the same scenario.
        let s = parse(
            "kind = \"commons\"\n[curve]\nkappa = 3\n[[population]]\npersonality = \"altruist\"\nhatchers = 0.5\n",
            Path::new("s.toml"),
        )
        .unwrap();
        assert_eq!(s.model.curve.kappa, 3.0);
        assert_eq!(s.population.len(), 1);
        let text = toml::to_string_pretty(&s).unwrap();
        assert!(text.starts_with("kind = \"commons\"\n"), "{text}");
        assert_eq!(parse(&text, Path::new("t.toml")).unwrap(), s);
    }

    #[test]
    fn population_rules_say_what_is_wrong() {
        let pop = |rows: &str| err(&format!("[extensions]\nwallets = \"budget\"\n{rows}"));
        let e = pop("[[population]]\npersonality = \"altruist\"\ncontroller = \"frozen\"\n");
        assert_eq!(e, "s.toml: field `population[0].checkpoint` is missing (controller = \"frozen\" plays a saved policy: give its run or checkpoint folder)");
        let e = pop("[[population]]\npersonality = \"altruist\"\nhatchers = 0.7\n[[population]]\npersonality = \"builder\"\nhatchers = 0.7\n");
        assert_eq!(e, "s.toml: fields `population[*].hatchers` sum to 1.4 (allowed: at most 1; the rest follow the reference's rules)");
        let e = pop("[[population]]\npersonality = \"altruist\"\n[[population]]\npersonality = \"altruist\"\n");
        assert_eq!(e, "s.toml: field `population[1].personality` = altruist appears twice (allowed: each personality once)");
        let e = pop("[[population]]\npersonality = \"altruist\"\narrivals = 2\n");
        assert_eq!(
            e,
            "s.toml: field `population[0].arrivals` = 2 is out of range (allowed: 0 to 1)"
        );
        let e = pop("[[population]]\npersonality = \"altruist\"\ncontroller = \"fixed\"\n");
        assert!(e.starts_with("s.toml: field `population[0].strategy` is missing (controller = \"fixed\" plays a strategy"), "{e}");
        let e = pop("[[population]]\npersonality = \"altruist\"\nstrategy = \"hold\"\n");
        assert!(
            e.contains("`population[0].strategy` is only for controller = \"fixed\""),
            "{e}"
        );
    }

    #[test]
    fn fixed_strategies_resolve_by_name_file_or_inline_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            dir.path().join("mine.toml"),
            "[strategy]\ntrade = \"sell 5 %\"\n",
        )
        .unwrap();
        let resolve = |rows: &str| {
            let text = format!("[extensions]\nwallets = \"budget\"\n{rows}");
            let sc = parse(&text, &path).unwrap();
            env_config(&sc, &path).map_err(|e| e.to_string())
        };
        let entry = |strategy: &str| {
            format!("[[population]]\npersonality = \"profit-seeker\"\ncontroller = \"fixed\"\nhatchers = 0.5\n{strategy}")
        };
        let cfg = resolve(&entry("strategy = \"sell-slices\"\n")).unwrap();
        assert_eq!(
            cfg.population[0].strategy.as_ref().unwrap().name,
            "sell-slices"
        );
        let cfg = resolve(&entry("strategy = \"mine.toml\"\n")).unwrap();
        assert_eq!(
            cfg.population[0].strategy.as_ref().unwrap().heads[0].default,
            4
        );
        let cfg = resolve(&entry(
            "[population.strategy]\nname = \"inline\"\nexit = \"leave\"\n",
        ))
        .unwrap();
        let s = cfg.population[0].strategy.as_ref().unwrap();
        assert_eq!((s.name.as_str(), s.heads[3].default), ("inline", 1));
        let e = resolve(&entry(
            "[population.strategy]\nname = \"bad\"\nexit = \"run\"\n",
        ))
        .unwrap_err();
        assert!(
            e.contains("field `population[0].strategy`: ")
                && e.contains("strategy `bad`, field `exit`: unknown bin"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let e = resolve(&entry("strategy = \"nope\"\n")).unwrap_err();
        assert!(
            e.contains("unknown strategy (built-ins: always-propose-large"),
            "{e}"
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

/// One `--set KEY=VALUE` override of a scenario or training parameter: a dotted key
/// (`section.key`, e.g. `curve.exit_tribute`, `ppo.learning_rate`, `policies.altruist.gamma`) and a value
/// read as TOML (`0.3`, `true`, `"text"`; anything that is not TOML is taken as a string).
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The dotted key.
    pub key: String,
    /// The value.
    pub value: toml::Value,
    /// The value as given.
    pub text: String,
}

/// An override that cannot be applied: which one, and why (as the file's own error would say).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--set {key}={text}: {message}")]
pub struct OverrideError {
    /// The dotted key.
    pub key: String,
    /// The value as given.
    pub text: String,
    /// What is wrong, on one line.
    pub message: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (key, text) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected KEY=VALUE, e.g. curve.exit_tribute=0.3"))?;
        let key = key.trim();
        let ok = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !key.contains('.') || !key.split('.').all(ok) {
            return Err(format!(
                "`{key}`: expected a dotted key section.key of letters, digits, `_` and `-`, e.g. curve.exit_tribute"
            ));
        }
        let text = text.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {text}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(text.to_string()));
        Ok(Override {
            key: key.to_string(),
            value,
            text: text.to_string(),
        })
    }
}

impl Override {
    /// The first part of the key (`abc`, `ppo`, …).
    pub fn section(&self) -> &str {
        self.key.split('.').next().unwrap_or("")
    }

    /// An error about this override.
    pub fn error(&self, message: impl std::fmt::Display) -> OverrideError {
        OverrideError {
            key: self.key.clone(),
            text: self.text.clone(),
            message: message.to_string().replace('\n', " ").trim().to_string(),
        }
    }

    /// Sets the key in `table`, creating missing tables on the way.
    pub fn apply(&self, table: &mut toml::Table) -> Result<(), OverrideError> {
        let parts: Vec<&str> = self.key.split('.').collect();
        let (last, path) = parts.split_last().expect("a dotted key has parts");
        let mut t = table;
        for (i, part) in path.iter().enumerate() {
            let entry = t
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            t = entry
                .as_table_mut()
                .ok_or_else(|| self.error(format!("`{}` is not a table", parts[..=i].join("."))))?;
        }
        t.insert(last.to_string(), self.value.clone());
        Ok(())
    }
}

/// `scenario` with `overrides` applied, parsed and validated exactly like a scenario file (unknown
/// key, wrong type, out of range: the file's messages, naming the override).
pub fn with_overrides(
    scenario: &Scenario,
    overrides: &[Override],
) -> Result<Scenario, OverrideError> {
    let mut current = scenario.clone();
    for o in overrides {
        let mut table = toml::Table::try_from(&current).map_err(|e| o.error(e))?;
        o.apply(&mut table)?;
        let text = toml::to_string(&table).map_err(|e| o.error(e))?;
        current = from_toml(&text).map_err(|(_, message)| o.error(message))?;
        current.validate().map_err(|cause| o.error(cause))?;
    }
    Ok(current)
}

#[cfg(test)]
mod override_tests {
    use super::*;

    fn set(s: &str) -> Override {
        s.parse().unwrap()
    }

    #[test]
    fn overrides_are_validated_like_the_file_and_name_the_key() {
        let base = load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/envs/commons.toml"
        )))
        .unwrap();
        let s = with_overrides(&base, &[set("simulation.days=100")]).unwrap();
        assert_eq!(s.model.simulation.days, 100);
        assert_eq!(s.population, base.population, "only the key changes");
        let e = with_overrides(&base, &[set("simulation.dayz=100")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--set simulation.dayz=100: ") && e.contains("dayz"),
            "{e}"
        );
        let e = with_overrides(&base, &[set("simulation.days=\"many\"")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--set simulation.days") && e.contains("invalid type"),
            "{e}"
        );
        let e = with_overrides(&base, &[set("simulation.days=0")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("simulation.days") && e.contains("allowed"),
            "{e}"
        );
        assert!("days=3"
            .parse::<Override>()
            .unwrap_err()
            .contains("dotted key"));
        assert!("simulation.days"
            .parse::<Override>()
            .unwrap_err()
            .contains("KEY=VALUE"));
        assert_eq!(set("a.b=word").value, toml::Value::String("word".into()));
    }
}
