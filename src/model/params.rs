//! The parameter reference: every scenario parameter's key, meaning, unit, allowed values and the
//! name a designer knows it by, declared once beside its field (the [`parameters!`] sections of
//! [`super::config`]). The range checks of [`ModelConfig::validate`], docs/parameters.md and
//! `commons params` all derive from these declarations; defaults come from the sections' `Default`.

use super::config::{ArrivalTokens, ModelConfig, RangeError, WalletMode};
use crate::rng::{RngMode, StreamSeeding};

/// What values a parameter allows: the words shown to users, and the test the validation applies
/// (`None` where the type itself allows only valid values: a choice, a flag, a count without bound).
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    /// The allowed values in words (`0 to 1`, `> 0`, `` `default` or `numpy-legacy` ``).
    pub text: &'static str,
    /// Whether a (finite) value is allowed, given the whole configuration.
    test: Option<fn(f64, &ModelConfig) -> bool>,
}

impl Allowed {
    /// A rule checked on the value (and, for rules that involve another parameter, the configuration).
    pub const fn rule(text: &'static str, test: fn(f64, &ModelConfig) -> bool) -> Allowed {
        Allowed {
            text,
            test: Some(test),
        }
    }

    /// Values the type already restricts (named choices, `true`/`false`, any count).
    pub const fn by_type(text: &'static str) -> Allowed {
        Allowed { text, test: None }
    }

    /// `0 ≤ v ≤ 1`.
    pub const UNIT: Allowed = Allowed::rule("0 to 1", |v, _| (0.0..=1.0).contains(&v));
    /// `−1 ≤ v ≤ 1`.
    pub const SIGNED_UNIT: Allowed = Allowed::rule("-1 to 1", |v, _| (-1.0..=1.0).contains(&v));
    /// `v > 0`.
    pub const POSITIVE: Allowed = Allowed::rule("> 0", |v, _| v > 0.0);
    /// `v ≥ 0`.
    pub const NON_NEGATIVE: Allowed = Allowed::rule(">= 0", |v, _| v >= 0.0);
    /// `v ≥ 1`.
    pub const AT_LEAST_ONE: Allowed = Allowed::rule(">= 1", |v, _| v >= 1.0);
}

/// One scenario parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its dotted key, as in a scenario file's table and in `--set` (`curve.exit_tribute`).
    pub key: &'static str,
    /// Its meaning: the field's doc comment, line by line.
    pub doc: &'static [&'static str],
    /// Its unit (`days`, `DAI`, `share of …`; `—` for a pure number).
    pub unit: &'static str,
    /// Its allowed values.
    pub allowed: Allowed,
    /// The name a mechanism designer knows it by, where it differs from the key ("" if none).
    pub designer: &'static str,
}

impl Param {
    /// The meaning on one line.
    pub fn meaning(&self) -> String {
        self.doc
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Checks `value` (the parameter's value as a number; `None` for choices and flags).
    pub fn check(&self, value: Option<f64>, model: &ModelConfig) -> Result<(), RangeError> {
        match (value, self.allowed.test) {
            (Some(v), Some(test)) if !(v.is_finite() && test(v, model)) => Err(RangeError {
                field: self.key.to_string(),
                value: v.to_string(),
                allowed: self.allowed.text,
            }),
            _ => Ok(()),
        }
    }
}

/// A parameter's value as a number, for its range check (`None`: choices and flags).
pub trait Numeric {
    /// The value as `f64`, if it is a number.
    fn number(&self) -> Option<f64>;
}

impl Numeric for f64 {
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl Numeric for u32 {
    fn number(&self) -> Option<f64> {
        Some(f64::from(*self))
    }
}

/// Types whose every value is valid.
macro_rules! not_numeric {
    ($($t:ty),*) => {
        $(impl Numeric for $t {
            fn number(&self) -> Option<f64> {
                None
            }
        })*
    };
}

not_numeric!(bool, RngMode, StreamSeeding, WalletMode, ArrivalTokens);

/// Declares one section of the scenario: the struct (serde: unknown fields refused, every field
/// optional), its `Default`, its [`Param`] list and its range check, from one line per field:
/// `doc comment; pub name: type = default, "unit", allowed, "designer's name";`.
macro_rules! parameters {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident in $section:literal {
            $(
                $(#[doc = $doc:literal])*
                pub $field:ident: $ty:ty = $default:expr, $unit:literal, $allowed:expr, $designer:literal;
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            /// The section's parameters, in declaration order.
            pub const PARAMS: &'static [$crate::model::params::Param] = &[$(
                $crate::model::params::Param {
                    key: concat!($section, ".", stringify!($field)),
                    doc: &[$($doc),*],
                    unit: $unit,
                    allowed: $allowed,
                    designer: $designer,
                },
            )*];

            /// Checks every parameter of the section (the first violation is returned); `model`
            /// is the whole configuration, for rules that involve another parameter.
            fn check(&self, model: &ModelConfig) -> Result<(), RangeError> {
                use $crate::model::params::Numeric;
                let values = [$(self.$field.number()),*];
                for (p, v) in Self::PARAMS.iter().zip(values) {
                    p.check(v, model)?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use parameters;

/// Every scenario parameter, section by section, in file order.
pub fn all() -> impl Iterator<Item = &'static Param> {
    ModelConfig::SECTIONS.iter().flat_map(|s| s.iter())
}

/// The default value of `key` as TOML (`0.35`, `"default"`, `true`).
fn defaults() -> Vec<String> {
    let table = toml::Value::try_from(ModelConfig::default()).ok();
    all()
        .map(|p| {
            let (section, field) = p.key.split_once('.').unwrap_or(("", p.key));
            table
                .as_ref()
                .and_then(|t| t.get(section))
                .and_then(|s| s.get(field))
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// A row of the reference: the parameter and its default as TOML.
pub fn rows() -> Vec<(&'static Param, String)> {
    all().zip(defaults()).collect()
}

/// The rows whose key, designer's name, unit or meaning contains `word` (case-insensitive).
pub fn matching(word: &str) -> Vec<(&'static Param, String)> {
    let w = word.to_lowercase();
    rows()
        .into_iter()
        .filter(|(p, _)| {
            [p.key, p.designer, p.unit]
                .iter()
                .any(|s| s.to_lowercase().contains(&w))
                || p.meaning().to_lowercase().contains(&w)
        })
        .collect()
}

/// The table of docs/parameters.md: every parameter.
pub fn markdown() -> String {
    markdown_rows(&rows())
}

/// A Markdown table of `rows`.
pub fn markdown_rows(rows: &[(&'static Param, String)]) -> String {
    let mut s = String::from(
        "| key | default | unit | allowed | meaning | designer's name | `--set` |\n|---|---|---|---|---|---|---|\n",
    );
    let cell = |t: &str| t.replace('|', "\\|");
    for (p, default) in rows {
        s.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} | {} | yes |\n",
            p.key,
            default,
            cell(p.unit),
            cell(p.allowed.text),
            cell(&p.meaning()),
            cell(p.designer),
        ));
    }
    s
}

/// The rows as `commons params` prints them: per parameter `key = default  (unit; allowed: …)` and
/// the meaning indented below, with the designer's name first where there is one.
pub fn text(rows: &[(&'static Param, String)]) -> String {
    let mut s = String::new();
    for (p, default) in rows {
        s.push_str(&format!(
            "{} = {}   ({}; allowed: {})\n    {}{}\n",
            p.key,
            default,
            p.unit,
            p.allowed.text,
            if p.designer.is_empty() {
                String::new()
            } else {
                format!("[{}] ", p.designer)
            },
            p.meaning()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference names every field of every section, in file order, each with a default, a unit
    /// and a meaning.
    #[test]
    fn every_field_is_in_the_reference() {
        let v = toml::Value::try_from(ModelConfig::default()).unwrap();
        let mut want = Vec::new();
        for (section, t) in v.as_table().unwrap() {
            for key in t.as_table().unwrap().keys() {
                want.push(format!("{section}.{key}"));
            }
        }
        let mut have: Vec<String> = all().map(|p| p.key.to_string()).collect();
        have.sort();
        want.sort();
        assert_eq!(have, want);
        for (p, default) in rows() {
            assert!(!default.is_empty(), "{}", p.key);
            assert!(!p.unit.is_empty() && !p.meaning().is_empty(), "{}", p.key);
        }
    }

    /// Every default is allowed, and every numeric rule refuses a value (NaN at least).
    #[test]
    fn rules_accept_defaults_and_refuse_nan() {
        let m = ModelConfig::default();
        for p in all() {
            if p.allowed.test.is_some() {
                let e = p.check(Some(f64::NAN), &m).unwrap_err();
                assert_eq!(e.field, p.key);
                assert_eq!(e.allowed, p.allowed.text);
            }
        }
        m.validate().unwrap();
    }

    /// The named choices in the words are the names the scenario files take (and no others).
    #[test]
    fn named_choices_are_the_ones_the_files_take() {
        let choices = all().filter(|p| p.allowed.test.is_none() && p.allowed.text.contains('`'));
        let mut n = 0;
        for p in choices {
            let (section, field) = p.key.split_once('.').unwrap();
            let names: Vec<&str> = p.allowed.text.split('`').skip(1).step_by(2).collect();
            assert!(names.len() >= 2, "{}", p.key);
            for name in names.iter().chain(&["no-such-choice"]) {
                let value = match *name {
                    "true" | "false" => name.to_string(),
                    _ => format!("\"{name}\""),
                };
                let text = format!("[{section}]\n{field} = {value}\n");
                let ok = toml::from_str::<ModelConfig>(&text).is_ok();
                assert_eq!(ok, *name != "no-such-choice", "{} = {value}", p.key);
            }
            n += 1;
        }
        assert_eq!(n, 5, "rng, streams, wallets, author_payout, arrival_tokens");
    }

    #[test]
    fn grep_finds_designers_names_and_meanings() {
        let keys = |w: &str| -> Vec<&str> { matching(w).iter().map(|(p, _)| p.key).collect() };
        assert_eq!(
            keys("conviction half-life"),
            ["conviction.days_to_80p_of_max_voting_weight"]
        );
        assert!(keys("EXIT TRIBUTE").contains(&"curve.exit_tribute"));
        assert!(keys("zzz-nothing").is_empty());
        assert!(text(&matching("kappa")).starts_with("curve.kappa = 2.0   (—; allowed: > 0)\n"));
    }
}
