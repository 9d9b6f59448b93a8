//! Command-line definitions (clap derive) and dispatch.

mod bench;
mod compare;
#[cfg(feature = "torch")]
mod eval;
mod simulate;
#[cfg(feature = "torch")]
mod study;
#[cfg(feature = "torch")]
mod train;

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
    #[cfg(feature = "torch")]
    Eval(eval::EvalArgs),
    /// Compare behaviour and outcomes of runs side by side, with bootstrap 95 % intervals.
    Compare(compare::CompareArgs),
    /// Train and evaluate every (variant, seed) cell of a study file, then write its report.
    #[cfg(feature = "torch")]
    Study(study::StudyArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Bench(args) => bench::run(args),
        #[cfg(feature = "torch")]
        Command::Train(args) => train::run(args),
        #[cfg(feature = "torch")]
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        #[cfg(feature = "torch")]
        Command::Study(args) => study::run(args),
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
