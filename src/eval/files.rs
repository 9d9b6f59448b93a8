//! Reading an evaluation's files (eval.json, eval_days.csv, best_response.json): "could not read"
//! and "not what it should be", with the file named, as every input file's [`FileError`].

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::file_error::FileError;

/// An evaluation file could not be read, or is not what it should be (these files have no range
/// checks of their own).
pub type ReadError = FileError<std::convert::Infallible>;

/// The bytes of `path`.
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    ReadError::read_bytes(path)
}

/// `path` parsed as JSON into `T` (see [`read_json`]), or None when there is no such file.
pub fn read_json_if_present<T: DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<Option<T>, ReadError> {
    if !path.is_file() {
        return Ok(None);
    }
    read_json(path, what).map(Some)
}

/// `path` parsed as JSON into `T`; `what` names the file for the error ("not {what}: …").
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, ReadError> {
    serde_json::from_slice(&read(path)?)
        .map_err(|e| ReadError::invalid(path, format!("not {what}: {e}")))
}
