//! Atomic file writes: nothing a command already wrote is ever lost or half-written. A file is written to
//! a temporary sibling, flushed to disk, then renamed over the target (a rename within one folder is
//! atomic on POSIX file systems), so a reader sees the old file or the new one, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary sibling `path` is written to before the rename: `name.ext.<pid>-<n>.tmp`, unique per
/// process and call, so that processes writing the same file at once (parallel `commons study --cell`
/// jobs) never write into each other's temporary file; the last rename wins, whole.
pub fn temporary_for(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!(
        "{}.{}-{n}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ))
}

/// Whether a file name is one of [`temporary_for`]'s, `….<pid>-<n>.tmp` (a write in progress, or
/// one left by a killed process).
pub fn is_temporary(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".tmp") else {
        return false;
    };
    let tag = stem.rsplit('.').next().unwrap_or("");
    tag.split_once('-').is_some_and(|(pid, n)| {
        !pid.is_empty()
            && !n.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && n.bytes().all(|b| b.is_ascii_digit())
    })
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
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary left");
        let (a, b) = (super::temporary_for(&path), super::temporary_for(&path));
        assert_ne!(a, b, "unique names");
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(super::is_temporary(name), "{name}");
        assert!(!super::is_temporary("notes.tmp") && !super::is_temporary("summary.json"));
    }
}
