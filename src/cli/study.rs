//! `commons study`: every (variant, training seed) cell of a study file trained and evaluated, then the
//! report. Resumable (finished cells are skipped, a half-trained one resumes from its checkpoint) and
//! splittable (`--cell K` runs one cell, for schedulers).

use std::path::PathBuf;

use clap::Args;
use commons_rl::study;

/// Arguments of `commons study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Study file (TOML), e.g. studies/exit-tribute.toml (see docs/studies.md).
    file: PathBuf,
    /// Study folder (default: `runs/studies/<file stem>`): the cells' run folders, study.json and the
    /// report. A folder of another study is refused.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run only cell K (0-based, variant-major: K = variant × seeds + seed; `--list` shows them), so a
    /// scheduler can run the cells in parallel; the report is written once every cell is done.
    #[arg(long, value_name = "K")]
    cell: Option<usize>,
    /// Show the cells and what is done, then exit.
    #[arg(long)]
    list: bool,
    /// With --list: skip the cost estimate (and its timed probe); for scripts that only want the cells.
    #[arg(long, requires = "list")]
    no_estimate: bool,
}

pub fn run(args: StudyArgs) -> anyhow::Result<()> {
    let (study, text) = study::run::load(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| study::run::default_out(&args.file));
    if args.list {
        if let Some(k) = args.cell {
            let n = study.cells().len();
            if k >= n {
                return Err(study::run::RunError::CellRange {
                    cell: k,
                    last: n.saturating_sub(1),
                    variants: study.variants.len(),
                    seeds: study.seeds.len(),
                }
                .into());
            }
        }
        let lines = study::run::list(&study, &out)?;
        for line in &lines {
            let busy = if line.busy {
                ", in use by another process"
            } else {
                ""
            };
            println!(
                "{:>4}  {:<40} {}{busy}",
                line.cell.index,
                line.cell.name,
                line.state.describe(study.total_steps)
            );
        }
        println!(
            "{} cells: {} variants x {} training seeds ({} steps each{}{})",
            lines.len(),
            study.variants.len(),
            study.seeds.len(),
            study.total_steps,
            if study.against_fixed.is_some() {
                ", the fixed check"
            } else {
                ""
            },
            if study.against_learned {
                ", the learned check"
            } else {
                ""
            },
        );
        #[cfg(feature = "torch")]
        if !args.no_estimate {
            eprintln!(
                "timing a short probe (two training updates, two evaluation episodes per side)..."
            );
            let e = study::run::estimate(&study, &lines, &out, &commons_rl::ppo::Native)?;
            let source = if e.from_cells > 0 {
                format!(
                    "{:.2} ms per training step from {} trained cells, {:.2} s per evaluation episode from a probe",
                    1e3 * e.seconds_per_step,
                    e.from_cells,
                    e.seconds_per_episode
                )
            } else {
                format!(
                    "from a probe of {} steps at {:.2} ms per step and {:.2} s per evaluation episode: rough, the probe's policies are untrained and trained ones usually step slower",
                    e.probe_steps,
                    1e3 * e.seconds_per_step,
                    e.seconds_per_episode
                )
            };
            println!(
                "estimated cost: {:.2} core-hours in all, {:.2} for the {} cells still to do ({:.0} s per cell on {} cores; {source})",
                e.core_hours,
                e.core_hours_to_do,
                e.to_do,
                e.cell_seconds,
                e.threads,
            );
        }
        return Ok(());
    }
    #[cfg(feature = "torch")]
    let trainer: Option<&dyn commons_rl::run::job::Trainer> = Some(&commons_rl::ppo::Native);
    #[cfg(not(feature = "torch"))]
    let trainer: Option<&dyn commons_rl::run::job::Trainer> = None;
    let outcome = study::run::run(&study, &text, &out, args.cell, trainer, super::stop_flag())?;
    match outcome {
        study::run::Outcome::Partial {
            done,
            cells,
            skipped,
        } => println!(
            "{done} of {cells} cells done{}; the report is written when all are (`commons study {} --list` shows them)",
            if skipped > 0 { format!(", {skipped} in use by other processes") } else { String::new() },
            args.file.display()
        ),
        study::run::Outcome::Report { report, written } => {
            println!("{}", study::render::summary_text(&report));
            for path in written {
                println!("written: {}", path.display());
            }
        }
    }
    Ok(())
}
