//! The built-in library of fixed strategies: every `agents/strategies/*.toml`, embedded at build time
//! in file-name order (build.rs writes the table; a new file there is a new built-in strategy, with no
//! other edit), and reading strategy folders.

use std::path::Path;

use std::path::PathBuf;

use super::{parse, Strategy, StrategyError};
use crate::env::actions::BIN_LABELS;
use crate::env::observation;

include!(concat!(env!("OUT_DIR"), "/strategy_library.rs"));

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
