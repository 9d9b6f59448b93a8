//! Command-line definitions (clap derive) and dispatch.

mod bench;
mod compare;
mod eval;
mod params;
mod simulate;
mod study;
#[cfg(feature = "torch")]
mod train;
mod tune;

use clap::{Parser, Subcommand};

/// Stress-test token economies (Commons: augmented bonding curve + conviction voting) with learning agents.
#[derive(Debug, Parser)]
#[command(name = "commons", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Monte-Carlo simulation of a scenario with the reference's scripted participants.
    Simulate(simulate::SimulateArgs),
    /// Step environments with random legal actions and print their speed as one JSON line.
    Bench(bench::BenchArgs),
    /// Train the scenario's learned personalities with PPO (TensorBoard curves, checkpoints).
    #[cfg(feature = "torch")]
    Train(train::TrainArgs),
    /// Play a trained run's policies on held-out seeds against scripted participants in the same roles.
    Eval(eval::EvalArgs),
    /// Compare behaviour and outcomes of runs side by side, with bootstrap 95 % intervals.
    Compare(compare::CompareArgs),
    /// Train and evaluate every (variant, seed) cell of a study file, then write its report.
    Study(study::StudyArgs),
    /// Search mechanism parameters against agents retrained under each setting (Optuna; cells on Ray or
    /// local processes; needs the Python package, docs/tune.md).
    Tune(tune::TuneArgs),
    /// Every scenario parameter: default, unit, allowed values, meaning (docs/parameters.md).
    Params(params::ParamsArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Bench(args) => bench::run(args),
        #[cfg(feature = "torch")]
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Study(args) => study::run(args),
        Command::Tune(args) => tune::run(args),
        Command::Params(args) => params::run(args),
    }
}

/// Parses a positive integer flag, with a one-line message naming the flag's allowed range.
pub fn positive_u32(s: &str) -> Result<u32, String> {
    let v: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not an integer (allowed: 1 to 4294967295)"))?;
    if v < 1 || v > u32::MAX as i64 {
        return Err(format!("{v} is out of range (allowed: 1 to 4294967295)"));
    }
    Ok(v as u32)
}

/// Parses a `--set KEY=VALUE` flag.
pub fn parse_override(s: &str) -> Result<commons_rl::scenario::Override, String> {
    s.parse()
}

/// Parses a non-negative seed (at most `i64::MAX`).
pub fn seed_u64(s: &str) -> Result<u64, String> {
    // TOML integers are signed 64-bit: a larger seed could not be recorded in config.toml.
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|&v| v <= i64::MAX as u64)
        .ok_or_else(|| format!("`{s}` is not a seed (allowed: 0 to {})", i64::MAX))
}

/// The process's stop flag, set by SIGINT and SIGTERM (the handler is installed on first use): the
/// first signal asks the trainer to save a checkpoint after the current update and stop (and a study
/// to stop after it); the second says so again; the third leaves at once without saving (the last
/// complete checkpoint stays: checkpoints are written to a temporary folder and renamed).
pub(crate) fn stop_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    static FLAG: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
        std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        stop_on_signals(stop.clone());
        stop
    })
    .clone()
}

fn stop_on_signals(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let signals = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _ = ctrlc::set_handler(move || {
        match signals.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => {
                eprintln!("\ninterrupted: saving a checkpoint after this update, then stopping (press Ctrl-C again to abort without saving)");
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            1 => eprintln!("\nalready stopping: a checkpoint is being saved; press Ctrl-C once more to abort without saving"),
            _ => {
                eprintln!("\naborted without saving; the last complete checkpoint is kept");
                // Leave at once, without running exit handlers while the main thread uses libtorch.
                // SAFETY: _exit only ends the process; it touches no Rust state.
                unsafe { libc::_exit(130) }
            }
        }
    });
}
