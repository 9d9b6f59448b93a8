//! Run folders and the files of a run, below the trainer: which command owns which output folder
//! ([`folder`]: manifest, lock, safe names), the files a run writes besides checkpoints and events
//! ([`files`]: config snapshot, summary, eval), training files ([`training`]: `agents/*.toml`), the
//! run's own settings ([`config`]: `config.toml`, `--device`), its training summary ([`summary`]:
//! `summary.json`), a training job resolved before anything is written ([`job`]) and memory guards
//! before a command allocates ([`memory`]).
//!
//! Nothing here uses libtorch: the folder, its configuration and its summary are read by evaluation,
//! comparison and studies with or without the `torch` feature.

pub mod config;
pub mod files;
pub mod folder;
pub mod job;
pub mod memory;
pub mod summary;
pub mod training;
pub mod work;

pub use folder::{
    check_access, check_run_name, open, open_study, Access, FolderError, FolderKind, OpenFolder,
};
