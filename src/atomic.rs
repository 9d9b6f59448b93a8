//! Atomic file writes: nothing a command already wrote is ever lost or half-written. A file is written to
//! a temporary sibling, flushed to disk, then renamed over the target (a rename within one folder is
//! atomic on POSIX file systems), so a reader sees the old file or the new one, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary sibling `path` is written to before the rename (`name.ext.tmp`).
pub fn temporary_for(path: &Path) -> PathBuf {
    path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_for(path);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(&path, "old").unwrap();
        super::write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(!super::temporary_for(&path).exists());
    }
}
