//! Scenario files: TOML documents that deserialize into a [`ModelConfig`].
//!
//! Every section and field is optional (defaults are the reference's values), unknown fields are refused,
//! and every range is checked. Errors are one line naming the file, the field and what is allowed.

use std::path::{Path, PathBuf};

use crate::model::config::RangeError;
use crate::model::ModelConfig;

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read scenario file: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown field or a value of the wrong type.
    #[error("{path}: {location}{message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `line N, field `x.y`: ` when known.
        location: String,
        /// What is wrong, on one line.
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: {cause}")]
    Range {
        /// The file.
        path: PathBuf,
        /// The field, its value and the allowed range.
        cause: RangeError,
    },
}

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<ModelConfig, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ScenarioError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    parse(&text, path)
}

/// Parses and validates scenario text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<ModelConfig, ScenarioError> {
    let cfg: ModelConfig = toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| describe_location(text, span.start))
            .unwrap_or_default();
        ScenarioError::Parse {
            path: path.to_path_buf(),
            location,
            message: e.message().replace('\n', " ").trim().to_string(),
        }
    })?;
    cfg.validate().map_err(|cause| ScenarioError::Range {
        path: path.to_path_buf(),
        cause,
    })?;
    Ok(cfg)
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
        assert_eq!(parse("", Path::new("x")).unwrap(), ModelConfig::default());
    }

    #[test]
    fn errors_name_file_and_field_on_one_line() {
        let e = err("[curve]\nkappa = \"two\"\n");
        assert!(e.starts_with("s.toml: line 2, field `curve.kappa`: invalid type"), "{e}");
        let e = err("[curve]\nkapa = 2\n");
        assert!(e.contains("unknown field `kapa`"), "{e}");
        let e = err("[curve]\nkappa = -1\n");
        assert_eq!(e, "s.toml: field `curve.kappa` = -1 is out of range (allowed: > 0)");
        let e = err("this is not toml");
        assert!(e.starts_with("s.toml: line 1"), "{e}");
        let e = err("[simulation]\ndays = -3\n");
        assert!(e.contains("simulation.days"), "{e}");
        for e in [err("[curve]\nkappa = \"two\"\n"), err("[nope]\n")] {
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
