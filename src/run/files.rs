//! The files of a run folder besides checkpoints and events: the configuration snapshot
//! (`config.toml`), the training summary (`summary.json`) and the evaluation (`eval.json`), each
//! written atomically (see [`crate::atomic`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// A run-folder file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {message}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

fn write(path: &Path, text: &str) -> Result<(), WriteError> {
    crate::atomic::write_atomic(path, text.as_bytes()).map_err(|e| WriteError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes `value` as pretty JSON (with a final newline) to `dir/name`.
pub fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<PathBuf, WriteError> {
    let path = dir.join(name);
    let mut json = serde_json::to_string_pretty(value).map_err(|e| WriteError {
        path: path.clone(),
        message: e.to_string(),
    })?;
    json.push('\n');
    write(&path, &json)?;
    Ok(path)
}

/// Writes `text` to `dir/name` as it is.
pub fn write_text(dir: &Path, name: &str, text: &str) -> Result<PathBuf, WriteError> {
    let path = dir.join(name);
    write(&path, text)?;
    Ok(path)
}

/// Writes `value` as TOML to `dir/name` (the configuration snapshot).
pub fn write_toml<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<PathBuf, WriteError> {
    let path = dir.join(name);
    let text = toml::to_string_pretty(value).map_err(|e| WriteError {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write(&path, &text)?;
    Ok(path)
}

/// `summary.json` of a training run.
pub const SUMMARY: &str = "summary.json";
/// `eval.json` of an evaluated run.
pub const EVAL: &str = "eval.json";
/// `config.toml`: everything a run was started with.
pub const CONFIG: &str = "config.toml";

#[cfg(test)]
mod tests {
    #[test]
    fn json_and_toml_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = super::write_json(dir.path(), "a.json", &serde_json::json!({"x": 1})).unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "{\n  \"x\": 1\n}\n");
        let mut t = std::collections::BTreeMap::new();
        t.insert("seed", 3);
        let p = super::write_toml(dir.path(), "c.toml", &t).unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "seed = 3\n");
        let e = super::write_json(&dir.path().join("missing"), "a.json", &1).unwrap_err();
        assert!(
            e.to_string().contains("missing/a.json: cannot write"),
            "{e}"
        );
    }
}
