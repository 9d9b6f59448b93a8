//! Reading an evaluation's files: one error type for "could not read" and "not what it should be",
//! with the file named.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// An evaluation file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not what it should be.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ReadError {
    /// `path` is not what it should be.
    pub fn invalid(path: &Path, message: impl Into<String>) -> Self {
        ReadError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The bytes of `path`.
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    std::fs::read(path).map_err(|cause| ReadError::Io {
        path: path.to_path_buf(),
        cause,
    })
}

/// `path` parsed as JSON into `T`; `what` names the file for the error ("not {what}: …").
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, ReadError> {
    serde_json::from_slice(&read(path)?)
        .map_err(|e| ReadError::invalid(path, format!("not {what}: {e}")))
}
