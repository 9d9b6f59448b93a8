//! The error of every input file the tool reads (scenario, agents, personality, a run's
//! `config.toml`, evaluation and study files): which file, and whether it could not be read, is not
//! what it should be, or holds a value out of range. One type, generic over the range check's own
//! error, so every file's message has the same shape: `PATH: what is wrong`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A file could not be used. `R` is the error of the file's own value checks (a field, its value and
/// what is allowed); files without such checks use [`std::convert::Infallible`].
#[derive(Debug, thiserror::Error)]
pub enum FileError<R: std::error::Error + 'static> {
    /// The file could not be read: `PATH: {reading}: {cause}` (`PATH: {cause}` when `reading` is empty).
    #[error("{path}: {}{cause}", if reading.is_empty() { String::new() } else { format!("{reading}: ") })]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What was being read, e.g. "cannot read scenario file"; may be empty.
        reading: Cow<'static, str>,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not what it should be (syntax, an unknown field, a value of the wrong type).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, on one line (with its location when known).
        message: String,
    },
    /// A value breaks the file's rules.
    #[error("{path}: {cause}")]
    Range {
        /// The file.
        path: PathBuf,
        /// The field, its value and what is allowed.
        cause: R,
    },
}

/// A field's value is not allowed (for files whose checks say more than a range).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct FieldError {
    /// The field, dotted, e.g. `variant[1].set`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl<R: std::error::Error + 'static> FileError<R> {
    /// `path` could not be read while doing `reading` ("" for none).
    pub fn unreadable(
        path: &Path,
        reading: impl Into<Cow<'static, str>>,
        cause: std::io::Error,
    ) -> Self {
        FileError::Unreadable {
            path: path.to_path_buf(),
            reading: reading.into(),
            cause,
        }
    }

    /// `path` is not what it should be.
    pub fn invalid(path: &Path, message: impl Into<String>) -> Self {
        FileError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// A value of `path` breaks its rules.
    pub fn range(path: &Path, cause: R) -> Self {
        FileError::Range {
            path: path.to_path_buf(),
            cause,
        }
    }

    /// The file's text (`reading` says what it is, for the error).
    pub fn read_text(path: &Path, reading: impl Into<Cow<'static, str>>) -> Result<String, Self> {
        std::fs::read_to_string(path).map_err(|cause| Self::unreadable(path, reading, cause))
    }

    /// The file's bytes (an error reads `PATH: cause`).
    pub fn read_bytes(path: &Path) -> Result<Vec<u8>, Self> {
        std::fs::read(path).map_err(|cause| Self::unreadable(path, "", cause))
    }

    /// `text` (the contents of `path`) parsed as TOML into `T`; the error is the parser's message on
    /// one line.
    pub fn toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Self> {
        toml::from_str(text).map_err(|e| Self::invalid(path, e.message().replace('\n', " ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::RangeError;

    #[test]
    fn messages_name_the_file_first() {
        let p = Path::new("dir/f.toml");
        let gone = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = FileError::<RangeError>::unreadable(p, "cannot read agents file", gone());
        assert_eq!(
            e.to_string(),
            format!("dir/f.toml: cannot read agents file: {}", gone())
        );
        let e = FileError::<RangeError>::unreadable(p, "", gone());
        assert_eq!(e.to_string(), format!("dir/f.toml: {}", gone()));
        let e = FileError::<RangeError>::invalid(p, "line 2: expected `=`");
        assert_eq!(e.to_string(), "dir/f.toml: line 2: expected `=`");
        let e = FileError::range(
            p,
            RangeError {
                field: "a.b".into(),
                value: "7".into(),
                allowed: "0 to 1",
            },
        );
        assert_eq!(
            e.to_string(),
            "dir/f.toml: field `a.b` = 7 is out of range (allowed: 0 to 1)"
        );
    }

    #[test]
    fn reading_helpers_report_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        let e = FileError::<RangeError>::read_text(&missing, "cannot read x").unwrap_err();
        assert!(matches!(e, FileError::Unreadable { .. }), "{e:?}");
        assert!(e
            .to_string()
            .starts_with(&format!("{}: cannot read x: ", missing.display())));
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let e = FileError::<RangeError>::toml::<T>(&missing, "a = \"x\"").unwrap_err();
        assert!(matches!(e, FileError::Invalid { .. }), "{e:?}");
        assert!(!e.to_string().contains('\n'));
    }
}
