//! `commons tune`: the design search. Optuna proposes mechanism parameters and Ray (or plain processes)
//! runs the trials' cells; both live in the Python package (`commons_rl.tune`), so this command hands
//! over to it, with this binary as the trainer its cells call (`COMMONS_RL_BIN`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use clap::Args;

/// Arguments of `commons tune` (passed on to `python -m commons_rl.tune`).
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Tune file (TOML), e.g. tunes/tribute-and-vesting.toml (see docs/tune.md).
    file: PathBuf,
    /// Tune folder (default: `runs/tunes/<file stem>`): Optuna's journal, the trials' study folders,
    /// tune.json and the report. Running the same command again resumes it.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A Ray cluster's head (`HOST:PORT`, or `auto`): every cell runs as a Ray task on its nodes.
    #[arg(long, value_name = "HOST:PORT")]
    address: Option<String>,
    /// Run the cells on a local Ray of --jobs × --threads CPUs (without --address).
    #[arg(long, conflicts_with = "address")]
    ray: bool,
    /// Cells at once on this machine (plain processes or the local Ray's slots).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = super::positive_u32)]
    jobs: u32,
    /// Threads per cell (default: the cores shared out between the jobs; 1 on Ray).
    #[arg(long, value_name = "N", value_parser = super::positive_u32)]
    threads: Option<u32>,
    /// Completed trials to reach (default: the file's `tune.trials`).
    #[arg(long, value_name = "N", value_parser = super::positive_u32)]
    trials: Option<u32>,
}

/// The Python that has the package: `COMMONS_RL_PY`, else `python3`.
fn python() -> String {
    std::env::var("COMMONS_RL_PY").unwrap_or_else(|_| "python3".to_string())
}

pub fn run(args: TuneArgs) -> anyhow::Result<()> {
    let py = python();
    let probe = Command::new(&py)
        .args(["-c", "import commons_rl.tune, optuna"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(_) | Err(_) => bail!(
            "commons tune needs the Python package with Optuna in `{py}` (COMMONS_RL_PY): `eval \"$(scripts/setup-python-pkg.sh)\"`, or `pip install commons-rl optuna`"
        ),
    }
    let exe = std::env::current_exe().context("cannot find this binary's path")?;
    let mut cmd = Command::new(&py);
    cmd.args(["-m", "commons_rl.tune"])
        .arg(&args.file)
        .env("COMMONS_RL_BIN", exe);
    if let Some(out) = &args.out {
        cmd.arg("--out").arg(out);
    }
    if let Some(a) = &args.address {
        cmd.args(["--address", a]);
    }
    if args.ray {
        cmd.arg("--ray");
    }
    cmd.args(["--jobs", &args.jobs.to_string()]);
    if let Some(t) = args.threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    if let Some(t) = args.trials {
        cmd.args(["--trials", &t.to_string()]);
    }
    // On Unix the search replaces this process (same pid), so a signal or a kill aimed at `commons
    // tune` reaches the search itself, and through it the cells it started (they end with it).
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        bail!("cannot start `{py}`: {e}");
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .with_context(|| format!("cannot start `{py}`"))?;
        if !status.success() {
            // The Python side printed its one-line error already.
            std::process::exit(status.code().unwrap_or(1));
        }
        Ok(())
    }
}
