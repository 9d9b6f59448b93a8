//! Ownership of output folders: a manifest that says what wrote a folder, a lock held while a command
//! writes into it, and the rules for which command may write where.
//!
//! * Every folder `commons train` or `commons simulate` writes carries `commons-run.json`
//!   ([`MANIFEST`]): the tool, the folder's [`FolderKind`] and the version that created it. Folders
//!   written before manifests existed are recognised by their files ([`inspect`]).
//! * A command that writes into a folder holds the OS lock on `DIR/.lock` ([`LOCK`]) for as long as it
//!   runs; the file holds its process id. A second writer refuses at once, naming that pid. The kernel
//!   releases the lock when the process ends, however it ends, so a killed run never blocks the next.
//! * [`open`] applies the rules: a new training run needs a missing or empty folder, a resumed or
//!   evaluated one needs a training run, a simulate output needs a missing or empty folder or an earlier
//!   simulate output.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "commons-run.json";
/// The lock's file name.
pub const LOCK: &str = ".lock";
/// The folder of a training run that holds its learned deviations, each a training run of its own
/// (`commons eval --against-learned`).
pub const DEVIATIONS: &str = "deviations";

/// What kind of output a folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FolderKind {
    /// A training run of `commons train` (config, checkpoints, events, summary, eval files).
    Train,
    /// An output of `commons simulate` (config, summary, trajectories).
    Simulate,
    /// A study of `commons study` (its study file, the report, and its cells: training runs).
    Study,
}

impl FolderKind {
    /// The command that writes such folders.
    pub fn command(self) -> &'static str {
        match self {
            FolderKind::Train => "commons train",
            FolderKind::Simulate => "commons simulate",
            FolderKind::Study => "commons study",
        }
    }
}

/// `commons-run.json`: what wrote a folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `commons-rl`.
    pub tool: String,
    /// What the folder holds.
    pub kind: FolderKind,
    /// Version of commons-rl that created the folder.
    pub version: String,
}

impl Manifest {
    /// The manifest this build writes for `kind`.
    pub fn new(kind: FolderKind) -> Self {
        Manifest {
            tool: "commons-rl".into(),
            kind,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What a folder is, as far as ownership goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing there.
    Missing,
    /// An empty folder.
    Empty,
    /// A folder of ours (from its manifest, or from its files if it predates manifests).
    Ours(FolderKind),
    /// Something else: a file, or a folder we did not write.
    Foreign,
}

/// Why a folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder (or what is there) could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The folder holds another kind of output, or something we did not write.
    #[error("{dir}: {what}; {advice}")]
    NotOurs {
        /// The folder.
        dir: PathBuf,
        /// What it holds.
        what: String,
        /// What to do instead.
        advice: String,
    },
    /// Another process writes into the folder.
    #[error("{dir}: in use by process {pid} ({lock} was created by it); wait for it to finish, or delete {lock} if that process is not a commons command")]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// Its holder.
        pid: u32,
    },
    /// The manifest is not one we wrote.
    #[error(
        "{path}: not a commons-rl manifest ({message}); the folder was not written by commons-rl"
    )]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
    move |e| FolderError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads a folder's manifest (None if it has none).
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, FolderError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| FolderError::BadManifest {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if m.tool != "commons-rl" {
        return Err(FolderError::BadManifest {
            path,
            message: format!("tool `{}`", m.tool),
        });
    }
    Ok(Some(m))
}

/// What `dir` is: missing, empty, one of ours (and which kind), or foreign.
///
/// Folders from before manifests: a training run has a `config.toml` with a `[run]` table; a simulate
/// output has `summary.json` and `trajectories.csv` and no `checkpoints/`.
pub fn inspect(dir: &Path) -> Result<Found, FolderError> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(io(dir)(e)),
    };
    if !meta.is_dir() {
        return Ok(Found::Foreign);
    }
    if let Some(m) = read_manifest(dir)? {
        return Ok(Found::Ours(m.kind));
    }
    // A lock left behind counts as empty: the lock itself decides whether the folder is in use.
    let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
    if entries.all(|e| e.is_ok_and(|e| e.file_name() == LOCK)) {
        return Ok(Found::Empty);
    }
    // Only the files we write: a folder with anything else in it is someone else's. (Our own
    // temporary files count as ours: another process may be creating the folder right now.)
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| !crate::atomic::is_temporary(n))
        .collect();
    if names.iter().all(|n| n == LOCK) {
        return Ok(Found::Empty);
    }
    let only = |allowed: &dyn Fn(&str) -> bool| names.iter().all(|n| allowed(n));
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
    let has_run_table = config
        .parse::<toml::Table>()
        .is_ok_and(|t| t.get("run").is_some_and(toml::Value::is_table));
    let train_file = |n: &str| {
        matches!(
            n,
            "config.toml"
                | "summary.json"
                | "eval.json"
                | "eval_days.csv"
                | "checkpoints"
                | "compare.svg"
                | LOCK
        ) || n.starts_with("events.out.tfevents.")
    };
    if has_run_table && only(&train_file) {
        return Ok(Found::Ours(FolderKind::Train));
    }
    let simulate_file = |n: &str| {
        matches!(
            n,
            "config.toml" | "summary.json" | "trajectories.csv" | LOCK
        )
    };
    if dir.join("summary.json").is_file()
        && dir.join("trajectories.csv").is_file()
        && only(&simulate_file)
    {
        return Ok(Found::Ours(FolderKind::Simulate));
    }
    Ok(Found::Foreign)
}

/// The nearest folder above `path` that holds one of our outputs (a manifest), if any.
pub fn enclosing_output(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    abs.ancestors()
        .skip(1)
        .find(|a| a.join(MANIFEST).is_file())
        .map(Path::to_path_buf)
}

/// Checks that a file the user named as an output (`compare --plot/--json`) may be written: not a
/// folder, not a file of a run or simulate folder, and, if it exists, a file of that kind (`looks_ok`).
pub fn check_output_file(path: &Path, looks_ok: impl Fn(&[u8]) -> bool) -> Result<(), FolderError> {
    let refuse = |what: &str| {
        Err(FolderError::NotOurs {
            dir: path.to_path_buf(),
            what: what.into(),
            advice: "choose another file name".into(),
        })
    };
    if path.is_dir() {
        return refuse("is a folder");
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let owned = [
        MANIFEST,
        LOCK,
        "config.toml",
        "summary.json",
        "eval.json",
        "trajectories.csv",
        "state.json",
        "latest",
    ];
    if enclosing_output(path).is_some() && (owned.contains(&name) || name.ends_with(".ot")) {
        return refuse("belongs to the run folder it lies in");
    }
    match std::fs::read(path) {
        Ok(bytes) if !looks_ok(&bytes) => refuse("exists and was not written by commons compare"),
        _ => Ok(()),
    }
}

/// How a command means to use a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Start a new training run: the folder must be missing or empty.
    NewRun,
    /// Continue (resume) or evaluate an existing training run.
    ExistingRun,
    /// Write a simulate output: missing, empty, or an earlier simulate output (replaced).
    SimulateOutput,
    /// Start or continue a study: missing, empty, or a study folder (which study it is, is checked
    /// by `commons study` from its `study.toml`).
    Study,
}

/// A folder opened for writing: the lock is held until this is dropped.
#[derive(Debug)]
pub struct OpenFolder {
    dir: PathBuf,
    /// The locked `.lock` file (the OS lock goes with it).
    _lock: std::fs::File,
}

impl OpenFolder {
    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Checks that `dir` may be used for `access` (see [`Access`]) without touching it; returns the kind of
/// folder it will be.
pub fn check_access(dir: &Path, access: Access) -> Result<FolderKind, FolderError> {
    // Training runs may lie inside a study folder (its cells) and in a training run's `deviations/`
    // (the learned deviations of `commons eval --against-learned`); nothing else inside an output.
    let in_study = |owner: &Path| {
        let kind = read_manifest(owner).ok().flatten().map(|m| m.kind);
        let under_deviations = std::path::absolute(dir)
            .ok()
            .and_then(|d| {
                d.strip_prefix(owner)
                    .ok()
                    .map(|r| r.starts_with(DEVIATIONS))
            })
            .unwrap_or(false);
        matches!(access, Access::NewRun | Access::ExistingRun)
            && (kind == Some(FolderKind::Study)
                || (kind == Some(FolderKind::Train) && under_deviations))
    };
    if let Some(owner) = enclosing_output(dir).filter(|o| !in_study(o)) {
        return Err(FolderError::NotOurs {
            dir: dir.to_path_buf(),
            what: format!(
                "lies inside {}, the output of another command",
                owner.display()
            ),
            advice: "choose a folder outside run and simulate folders".into(),
        });
    }
    let found = inspect(dir)?;
    let refuse = |what: String, advice: String| {
        Err(FolderError::NotOurs {
            dir: dir.to_path_buf(),
            what,
            advice,
        })
    };
    let kind = match access {
        Access::NewRun | Access::ExistingRun => FolderKind::Train,
        Access::SimulateOutput => FolderKind::Simulate,
        Access::Study => FolderKind::Study,
    };
    match (access, &found) {
        (Access::NewRun, Found::Missing | Found::Empty) => {}
        (Access::NewRun, Found::Ours(FolderKind::Train)) => {
            return refuse(
                "a training run of that name exists".into(),
                format!(
                    "continue it with `--resume {}`, move it aside with `--overwrite`, or choose another --run-name",
                    dir.display()
                ),
            )
        }
        (Access::ExistingRun, Found::Ours(FolderKind::Train)) => {}
        (Access::ExistingRun, Found::Missing) => {
            return Err(FolderError::Io {
                path: dir.to_path_buf(),
                message: "no such run folder".into(),
            })
        }
        (Access::ExistingRun, Found::Empty) => {
            return refuse(
                "an empty folder, not a training run".into(),
                "give the folder of a `commons train` run".into(),
            )
        }
        (Access::SimulateOutput, Found::Missing | Found::Empty) => {}
        (Access::SimulateOutput, Found::Ours(FolderKind::Simulate)) => {}
        (Access::Study, Found::Missing | Found::Empty | Found::Ours(FolderKind::Study)) => {}
        (_, Found::Ours(other)) => {
            return refuse(
                format!("holds the output of `{}`", other.command()),
                format!("`{}` writes only into its own folders; choose another folder", kind.command()),
            )
        }
        (_, Found::Foreign) => {
            return refuse(
                "exists and was not written by commons-rl".into(),
                format!(
                    "`{}` writes only into a new or empty folder or one of its own; choose another folder",
                    kind.command()
                ),
            )
        }
    }
    Ok(kind)
}

/// Opens `dir` for `access`: checks that it may be written ([`check_access`]), creates it if needed,
/// takes its lock and writes its manifest if it has none. Nothing in the folder is touched when this
/// fails.
pub fn open(dir: &Path, access: Access) -> Result<OpenFolder, FolderError> {
    let kind = check_access(dir, access)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let lock = acquire_lock(dir)?;
    let open = OpenFolder {
        dir: dir.to_path_buf(),
        _lock: lock,
    };
    // Another command may have filled the folder between the check and the lock: check again, now
    // that nobody else can write (dropping `open` releases the lock).
    check_access(dir, access)?;
    if read_manifest(dir)?.is_none() {
        write_manifest(dir, kind)?;
    }
    Ok(open)
}

/// Creates (or accepts) the study folder `dir` ([`Access::Study`]) and writes its manifest if it has
/// none. No lock is held: several `commons study --cell K` may work in one study at once, each cell
/// being a training run with its own lock.
pub fn open_study(dir: &Path) -> Result<(), FolderError> {
    check_access(dir, Access::Study)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if read_manifest(dir)?.is_none() {
        write_manifest(dir, FolderKind::Study)?;
    }
    Ok(())
}

fn write_manifest(dir: &Path, kind: FolderKind) -> Result<(), FolderError> {
    let path = dir.join(MANIFEST);
    let mut json =
        serde_json::to_string_pretty(&Manifest::new(kind)).map_err(|e| FolderError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
    json.push('\n');
    crate::atomic::write_atomic(&path, json.as_bytes()).map_err(io(&path))
}

/// The latest checkpoint's step of a run folder (None without a checkpoint).
pub fn checkpoint_step(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join("checkpoints").join("latest"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether a command holds `dir`'s lock now (it is writing into the folder). Takes nothing: the lock
/// is tried and released at once.
pub fn in_use(dir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().read(true).open(dir.join(LOCK)) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

/// Takes the OS lock on `dir/.lock` (created if missing) and writes our pid into it. The lock belongs to
/// the open file: the kernel releases it when the process ends, however it ends (SIGKILL, a crash), so a
/// lock is never stale; the file stays, holding the last holder's pid for messages.
fn acquire_lock(dir: &Path) -> Result<std::fs::File, FolderError> {
    use std::io::{Seek, SeekFrom};
    let path = dir.join(LOCK);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(FolderError::Locked {
                dir: dir.to_path_buf(),
                lock: path,
                pid: text.trim().parse().unwrap_or(0),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
    }
    file.set_len(0).map_err(io(&path))?;
    file.seek(SeekFrom::Start(0)).map_err(io(&path))?;
    writeln!(file, "{}", std::process::id()).map_err(io(&path))?;
    Ok(file)
}

/// Moves an existing training run aside to `DIR.replaced-<unix time>` (never deleting it) and returns
/// where it went. Refuses a folder that is in use or is not a training run.
pub fn move_aside(dir: &Path) -> Result<PathBuf, FolderError> {
    match inspect(dir)? {
        Found::Ours(FolderKind::Train) => {}
        Found::Missing | Found::Empty => return Ok(dir.to_path_buf()),
        _ => {
            return Err(FolderError::NotOurs {
                dir: dir.to_path_buf(),
                what: "is not a training run".into(),
                advice: "--overwrite only moves aside training runs; choose another --run-name"
                    .into(),
            })
        }
    }
    // Refuse if a process is writing into it (taking the lock proves nobody is); it stays held while
    // the folder moves.
    let _lock = acquire_lock(dir)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut target = PathBuf::from(format!("{}.replaced-{now}", dir.display()));
    let mut k = 1;
    while target.exists() {
        target = PathBuf::from(format!("{}.replaced-{now}-{k}", dir.display()));
        k += 1;
    }
    std::fs::rename(dir, &target).map_err(io(dir))?;
    Ok(target)
}

/// Whether a run name may hold `c`: ASCII letters, digits, `-`, `_`, `.` and `+`.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.+".contains(c)
}

/// Checks a run name: one path component of letters, digits, `-`, `_`, `.` and `+` (not starting with
/// `.`), at most 200 characters.
pub fn check_run_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("--run-name: empty (allowed: letters, digits, `-`, `_`, `.`, `+`; not starting with `.`)".into());
    }
    if name.len() > 200 {
        return Err(format!(
            "--run-name: {} characters (allowed: at most 200)",
            name.len()
        ));
    }
    if name.starts_with('.') || !name.chars().all(is_name_char) {
        return Err(format!(
            "--run-name: `{name}` is not a plain folder name (allowed: letters, digits, `-`, `_`, `.`, `+`; not starting with `.`; no `/`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_plain_folder_names() {
        for ok in ["a", "mixed__1", "ps-600k-s1", "v1.2+x"] {
            assert!(check_run_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "/abs", ".hidden", "a b", "x\0", "é",
        ] {
            let e = check_run_name(bad).unwrap_err();
            assert!(
                e.starts_with("--run-name") && !e.contains('\n'),
                "{bad:?}: {e}"
            );
        }
        assert!(check_run_name(&"x".repeat(201)).is_err());
    }

    #[test]
    fn folders_are_told_apart_and_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("r");
        assert_eq!(inspect(&d).unwrap(), Found::Missing);
        let f = open(&d, Access::NewRun).unwrap();
        assert_eq!(inspect(&d).unwrap(), Found::Ours(FolderKind::Train));
        // A second writer is refused while the first holds the lock, naming our pid.
        let e = open(&d, Access::ExistingRun).unwrap_err();
        assert!(
            matches!(e, FolderError::Locked { pid, .. } if pid == std::process::id()),
            "{e:?}"
        );
        drop(f);
        // A new run refuses the existing one; a simulate output refuses a training run.
        assert!(matches!(
            open(&d, Access::NewRun),
            Err(FolderError::NotOurs { .. })
        ));
        assert!(matches!(
            open(&d, Access::SimulateOutput),
            Err(FolderError::NotOurs { .. })
        ));
        let again = open(&d, Access::ExistingRun).unwrap();
        drop(again);
        // Foreign folders are refused by every command.
        let foreign = tmp.path().join("f");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
        for a in [Access::NewRun, Access::ExistingRun, Access::SimulateOutput] {
            assert!(
                matches!(open(&foreign, a), Err(FolderError::NotOurs { .. })),
                "{a:?}"
            );
        }
        assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    }

    #[test]
    fn a_lock_left_by_a_dead_process_does_not_block() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("s");
        std::fs::create_dir(&d).unwrap();
        // A lock file nobody holds (its writer is gone), even with our own pid in it.
        std::fs::write(d.join(LOCK), format!("{}\n", std::process::id())).unwrap();
        let f = open(&d, Access::SimulateOutput).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join(LOCK)).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(f);
        assert!(open(&d, Access::SimulateOutput).is_ok());
    }

    #[test]
    fn nothing_is_written_inside_another_output_nor_over_a_users_files() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("r");
        drop(open(&run, Access::NewRun).unwrap());
        let inner = run.join("checkpoints").join("50000");
        assert!(matches!(
            open(&inner, Access::SimulateOutput),
            Err(FolderError::NotOurs { .. })
        ));
        assert!(!inner.exists());
        // A folder of the user's with our file names and more is not ours.
        let mine = tmp.path().join("analysis");
        std::fs::create_dir(&mine).unwrap();
        for f in ["summary.json", "trajectories.csv", "notebook.ipynb"] {
            std::fs::write(mine.join(f), "x").unwrap();
        }
        assert_eq!(inspect(&mine).unwrap(), Found::Foreign);
        // compare's outputs: not over a run's own files, not over a file of another kind.
        let svg = |b: &[u8]| b.starts_with(b"<svg");
        assert!(check_output_file(&run.join("config.toml"), svg).is_err());
        assert!(check_output_file(&run, svg).is_err());
        assert!(check_output_file(&run.join("compare.svg"), svg).is_ok());
        assert!(check_output_file(&mine.join("notebook.ipynb"), svg).is_err());
        std::fs::write(mine.join("old.svg"), "<svg/>").unwrap();
        assert!(check_output_file(&mine.join("old.svg"), svg).is_ok());
    }

    #[test]
    fn overwrite_moves_a_run_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("r");
        drop(open(&d, Access::NewRun).unwrap());
        std::fs::write(d.join("summary.json"), "{}").unwrap();
        let moved = move_aside(&d).unwrap();
        assert!(!d.exists());
        assert!(moved.join("summary.json").exists());
        assert!(moved
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("r.replaced-"));
    }
}
