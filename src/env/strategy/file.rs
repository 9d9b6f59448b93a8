//! Strategy files: the `[strategy]` table (or an inline one in a population) read into a
//! [`Strategy`], with one-line errors naming the origin, the strategy and the field.

use super::mask::masked_whenever;
use super::{Condition, HeadRules, Op, Rule, Strategy, StrategyError};
use crate::env::actions::{BIN_LABELS, HEADS};
use crate::env::observation;

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
