//! Run folders: which command owns which output folder ([`folder`]: manifest, lock, safe names), the
//! files a run writes besides checkpoints and events ([`files`]: config snapshot, summary, eval), and
//! memory guards before a command allocates ([`memory`]).
//!
//! Dependency direction: the CLI opens a folder here before anything below writes into it.

pub mod files;
pub mod folder;
pub mod memory;

pub use folder::{
    check_access, check_run_name, open, open_study, Access, FolderError, FolderKind, OpenFolder,
};
