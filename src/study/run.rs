//! Running a study: every (variant, training seed) cell trained and evaluated, then the report.
//! Resumable (finished cells are skipped, a half-trained one resumes from its checkpoint) and
//! splittable (one cell at a time, for schedulers). Training goes through a [`Trainer`] handed in by
//! the caller, so a study builds, lists, evaluates and reports without libtorch.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Cell, StudyFile};
use crate::eval::{self, BestResponse, EvalRequest};
use crate::run::folder::{self, FolderError, FolderKind};
use crate::run::job::{JobError, ProgressView, TrainJob, TrainRequest, Trainer};

/// The file that identifies a study folder's study.
const STUDY_FILE: &str = "study.toml";
/// Copies of the base scenario and agents files as they were when the study started.
const BASE_DIR: &str = "base";
const BASE_ENV: &str = "env.toml";
const BASE_AGENTS: &str = "agents.toml";

/// `e` and its sources, joined by ": " (as the CLI prints an error).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Why a study could not run (each a one-line message naming the file, folder, cell or flag).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The study file could not be read.
    #[error("{}: cannot read study file", path.display())]
    ReadStudy {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        cause: std::io::Error,
    },
    /// A file could not be read, written or created.
    #[error("{}: cannot {what}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// `read`, `write` or `create`.
        what: &'static str,
        /// Why.
        #[source]
        cause: std::io::Error,
    },
    /// The study file is not valid.
    #[error(transparent)]
    File(#[from] super::StudyError),
    /// A folder cannot be used.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The strategies of `against_fixed` could not be read.
    #[error(transparent)]
    Strategies(#[from] crate::env::strategy::StrategyError),
    /// The study's folder holds something else; the message says what to do.
    #[error("{0}")]
    Refused(String),
    /// `--cell` out of range.
    #[error("--cell: {cell} is out of range (allowed: 0 to {last}; {variants} variants x {seeds} seeds)")]
    CellRange {
        /// Asked for.
        cell: usize,
        /// The last cell.
        last: usize,
        /// Variants.
        variants: usize,
        /// Seeds.
        seeds: usize,
    },
    /// A cell must be trained and this build has no trainer (no libtorch).
    #[error("{label}: training needs libtorch; this build has none (build with the default `torch` feature)")]
    NoTrainer {
        /// The cell.
        label: String,
    },
    /// Stopped by a signal; checkpoints are saved.
    #[error(
        "{label}: interrupted (checkpoints are saved); run the same command again to continue"
    )]
    Interrupted {
        /// The cell.
        label: String,
    },
    /// A cell's step failed.
    #[error("{label}: {step}")]
    Cell {
        /// The cell.
        label: String,
        /// `training`, `resuming` or `evaluating`.
        step: &'static str,
        /// Why.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The report could not be computed.
    #[error(transparent)]
    Report(#[from] super::report::ReportError),
    /// The report could not be written.
    #[error(transparent)]
    Render(#[from] super::render::RenderError),
}

/// What a cell's run folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellState {
    /// No folder yet.
    New,
    /// A training run with no checkpoint (killed before its first): it is moved aside and restarted.
    NoCheckpoint,
    /// Trained up to this step, short of the study's total.
    Partial(u64),
    /// Trained; no (matching) evaluation yet.
    Trained,
    /// Trained and evaluated as the study asks.
    Done,
}

impl CellState {
    /// In words, for `--list` (`total`: the study's training steps).
    pub fn describe(self, total: u64) -> String {
        match self {
            CellState::New => "to do".into(),
            CellState::NoCheckpoint => "started, no checkpoint (will restart)".into(),
            CellState::Partial(s) => format!("trained {s} of {total} steps (will resume)"),
            CellState::Trained => "trained, not evaluated".into(),
            CellState::Done => "done".into(),
        }
    }
}

/// The state of the cell in `dir`.
pub fn cell_state(dir: &Path, study: &StudyFile) -> Result<CellState, RunError> {
    match folder::inspect(dir)? {
        folder::Found::Missing | folder::Found::Empty => return Ok(CellState::New),
        folder::Found::Ours(FolderKind::Train) => {}
        _ => {
            return Err(RunError::Refused(format!(
                "{}: not a training run of this study (written by someone else); move it away and run the study again",
                dir.display()
            )))
        }
    }
    let Some(step) = folder::checkpoint_step(dir) else {
        return Ok(CellState::NoCheckpoint);
    };
    if step < study.total_steps {
        return Ok(CellState::Partial(step));
    }
    let Some(head) = eval::report::EvalHead::of_run(dir) else {
        return Ok(CellState::Trained);
    };
    let matches = head.episodes == study.eval_episodes
        && head.seed == study.eval_seed
        && head.checkpoint_step == Some(step)
        && head.overrides.is_empty()
        && dir.join(eval::days::FILE).is_file()
        && (study.against_fixed.is_none() || checked(dir, study, step))
        && (!study.against_learned || learned_checked(dir, study, step));
    Ok(if matches {
        CellState::Done
    } else {
        CellState::Trained
    })
}

/// Whether the cell's best-response check is of its evaluation (same checkpoint, episodes and seeds: a
/// study checks on all its evaluation episodes) with the study's strategies.
fn checked(dir: &Path, study: &StudyFile, step: u64) -> bool {
    let Ok(Some(b)) = BestResponse::read(dir) else {
        return false;
    };
    let names: Option<BTreeSet<String>> = study.against_fixed.as_ref().and_then(|dir| {
        eval::strategies(dir.as_deref())
            .ok()
            .map(|s| s.into_iter().map(|s| s.name).collect())
    });
    let have: BTreeSet<String> = b.strategies.keys().cloned().collect();
    b.matches(step, study.eval_episodes, study.eval_seed)
        && b.episodes == study.check_episodes
        && names.is_some_and(|n| n == have)
}

/// Whether the cell's learned deviation check is of its evaluation, with eval's default settings.
fn learned_checked(dir: &Path, study: &StudyFile, step: u64) -> bool {
    let Ok(Some(l)) = eval::LearnedResponse::read(dir) else {
        return false;
    };
    l.matches(step, study.eval_episodes, study.eval_seed)
        && l.episodes == study.eval_episodes
        && l.deviations
            .iter()
            .all(|d| d.spec.steps == eval::learned::DEFAULT_STEPS && !d.spec.warm_start)
}

fn read(path: &Path) -> Result<String, RunError> {
    std::fs::read_to_string(path).map_err(|cause| RunError::Io {
        path: path.to_path_buf(),
        what: "read",
        cause,
    })
}

fn write(path: &Path, text: &str) -> Result<(), RunError> {
    crate::atomic::write_atomic(path, text.as_bytes()).map_err(|cause| RunError::Io {
        path: path.to_path_buf(),
        what: "write",
        cause,
    })
}

fn create_dir(path: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(path).map_err(|cause| RunError::Io {
        path: path.to_path_buf(),
        what: "create",
        cause,
    })
}

/// A study file, read and parsed.
pub fn load(file: &Path) -> Result<(StudyFile, String), RunError> {
    let text = std::fs::read_to_string(file).map_err(|cause| RunError::ReadStudy {
        path: file.to_path_buf(),
        cause,
    })?;
    let study = StudyFile::parse(&text, file)?;
    Ok((study, text))
}

/// The default study folder of a study file: `runs/studies/<file stem>`.
pub fn default_out(file: &Path) -> PathBuf {
    PathBuf::from("runs")
        .join("studies")
        .join(crate::run::job::stem(file))
}

fn check_same_study(out: &Path, study: &StudyFile) -> Result<(), RunError> {
    let own = out.join(STUDY_FILE);
    if own.is_file() {
        let theirs = StudyFile::parse(&read(&own)?, &own)?;
        if !theirs.same_study(study) {
            return Err(RunError::Refused(format!(
                "{}: belongs to another study ({} differs from {})",
                out.display(),
                own.display(),
                study.path.display()
            )));
        }
    }
    Ok(())
}

fn check_is_study(out: &Path) -> Result<(), RunError> {
    match folder::read_manifest(out)? {
        Some(m) if m.kind == FolderKind::Study => Ok(()),
        _ => Err(RunError::Refused(format!(
            "{}: not a study folder (no commons study manifest)",
            out.display()
        ))),
    }
}

/// Checks that `out` holds this study, or makes it hold it: a new or empty folder becomes one (with a
/// copy of the study file and of the base files); an existing study folder must hold the same study,
/// with base files that have not changed since it started (else cells trained before and after the
/// change would be mixed in one report).
fn claim(out: &Path, study: &StudyFile, text: &str) -> Result<(), RunError> {
    folder::open_study(out)?;
    let own = out.join(STUDY_FILE);
    let base = out.join(BASE_DIR);
    let (env_now, agents_now) = (read(&study.env)?, read(&study.agents)?);
    if own.is_file() {
        check_same_study(out, study).map_err(|e| {
            RunError::Refused(format!(
                "{}; choose another --out, or remove the folder to start this study there",
                chain(&e)
            ))
        })?;
        for (file, copy, now) in [
            (&study.env, BASE_ENV, &env_now),
            (&study.agents, BASE_AGENTS, &agents_now),
        ] {
            let path = base.join(copy);
            if !path.exists() {
                // A folder from before base copies were kept: keep them from now on.
                create_dir(&base)?;
                write(&path, now)?;
                continue;
            }
            let then = read(&path)?;
            if &then != now {
                return Err(RunError::Refused(format!(
                    "{}: changed since this study started (its copy is {}); restore it, or start the changed study in another --out",
                    file.display(),
                    base.join(copy).display()
                )));
            }
        }
        return Ok(());
    }
    // A study folder without its study file: only if nothing was trained in it yet.
    if out.join("cells").is_dir()
        && std::fs::read_dir(out.join("cells")).is_ok_and(|mut d| d.next().is_some())
    {
        return Err(RunError::Refused(format!(
            "{}: a study folder with cells but without its {STUDY_FILE}: which study it holds is unknown; choose another --out",
            out.display()
        )));
    }
    create_dir(&base)?;
    for (copy, now) in [(BASE_ENV, &env_now), (BASE_AGENTS, &agents_now)] {
        write(&base.join(copy), now)?;
    }
    write(&own, text)?;
    Ok(())
}

/// Work units of a cell on the study's bar: its training steps, and its evaluation's days (both sides,
/// and each strategy in each personality's place for the best-response check).
fn weights(study: &StudyFile, days: u64, strategies: usize) -> (u64, u64) {
    let sides = 2 * study.eval_episodes as u64
        + (strategies * study.policies()) as u64 * study.check_episodes as u64;
    // A learned deviation trains about as many days as its steps, then plays three sides.
    let learned = if study.against_learned {
        2 * study.policies() as u64
            * (eval::learned::DEFAULT_STEPS + 3 * study.eval_episodes as u64 * days)
    } else {
        0
    };
    (study.total_steps, sides * days + learned)
}

/// One cell as `--list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct CellLine {
    /// The cell.
    pub cell: Cell,
    /// What its folder holds.
    pub state: CellState,
    /// Whether another process works on it now.
    pub busy: bool,
}

/// The cells of `study` in `out` and what is done, without changing anything.
pub fn list(study: &StudyFile, out: &Path) -> Result<Vec<CellLine>, RunError> {
    let found = folder::inspect(out)?;
    if !matches!(found, folder::Found::Missing | folder::Found::Empty) {
        check_is_study(out)?;
        check_same_study(out, study)?;
    }
    let cells_dir = out.join("cells");
    study
        .cells()
        .into_iter()
        .map(|cell| {
            let dir = cells_dir.join(&cell.name);
            Ok(CellLine {
                state: cell_state(&dir, study)?,
                busy: folder::in_use(&dir),
                cell,
            })
        })
        .collect()
}

/// A study's cost, estimated from a short timed probe (`commons study --list`).
#[derive(Clone, Debug, PartialEq)]
pub struct CostEstimate {
    /// Cells in all.
    pub cells: usize,
    /// Cells not done yet.
    pub to_do: usize,
    /// Training steps the probe took.
    pub probe_steps: u64,
    /// Wall seconds per training step in the probe (its start included).
    pub seconds_per_step: f64,
    /// Wall seconds per evaluation episode in the probe.
    pub seconds_per_episode: f64,
    /// Cores the probe used (and a cell uses).
    pub threads: usize,
    /// Estimated wall seconds of one cell: training, evaluation, and the checks the study asks for.
    pub cell_seconds: f64,
    /// Core-hours of every cell.
    pub core_hours: f64,
    /// Core-hours of the cells not done yet.
    pub core_hours_to_do: f64,
    /// Trained cells whose summary.json gave `seconds_per_step` instead of the probe (0: the probe's).
    pub from_cells: usize,
}

/// Seconds per training step of the study's cells that trained to the end in one go (their
/// summary.json), if any: a better measure than the probe's untrained policies.
fn trained_seconds_per_step(
    study: &StudyFile,
    lines: &[CellLine],
    out: &Path,
) -> Option<(f64, usize)> {
    #[derive(serde::Deserialize)]
    struct Head {
        global_step: u64,
        wall_seconds: f64,
        #[serde(default)]
        interrupted: bool,
    }
    let rates: Vec<f64> = lines
        .iter()
        .filter_map(|l| {
            let path = out
                .join("cells")
                .join(&l.cell.name)
                .join(crate::run::files::SUMMARY);
            let h: Head = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
            // A resumed cell's summary covers its last invocation only: skip it.
            (!h.interrupted && h.global_step >= study.total_steps && h.wall_seconds > 0.0)
                .then(|| h.wall_seconds / h.global_step as f64)
        })
        .collect();
    (!rates.is_empty()).then(|| (rates.iter().sum::<f64>() / rates.len() as f64, rates.len()))
}

/// Training steps of the cost probe: two updates of the base agents file.
const PROBE_UPDATES: u64 = 2;
/// Evaluation episodes per side of the cost probe.
const PROBE_EPISODES: u32 = 2;

/// Estimates the cost of `study` (whose cells are in `lines`) from a probe: the baseline's first cell
/// trained for two updates and evaluated on two episodes per side in a temporary folder (removed
/// afterwards), scaled to the study's steps, episodes and checks; once cells of the study have trained
/// (`out`), their own seconds per step replace the probe's. Rough: the probe's policies are untrained,
/// and trained populations usually step slower; a learned deviation's steps are counted at a training
/// step's cost, an upper bound.
pub fn estimate(
    study: &StudyFile,
    lines: &[CellLine],
    out: &Path,
    trainer: &dyn Trainer,
) -> Result<CostEstimate, RunError> {
    let probe = std::env::temp_dir().join(format!(
        "commons-study-probe-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let label = "cost probe".to_string();
    let cell_err = |step: &'static str| {
        let label = label.clone();
        move |cause: Box<dyn std::error::Error + Send + Sync>| RunError::Cell {
            label: label.clone(),
            step,
            cause,
        }
    };
    let result = (|| {
        let request = TrainRequest::new_cell(
            study.env.clone(),
            study.agents.clone(),
            study.variants[0].set.clone(),
            study.seeds[0],
            1,
            probe.clone(),
        );
        let mut job = TrainJob::new(&request)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            .map_err(cell_err("training"))?;
        let t = &job.cfg.training.train;
        let steps = PROBE_UPDATES * (t.num_envs * t.num_steps) as u64;
        job.cfg.training.train.total_steps = steps;
        let started = std::time::Instant::now();
        trainer
            .train(&job, ProgressView::Hidden, Arc::new(AtomicBool::new(false)))
            .map_err(cell_err("training"))?;
        let train = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        eval::run(&EvalRequest {
            episodes: PROBE_EPISODES,
            ..EvalRequest::defaults(&probe)
        })
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        .map_err(cell_err("evaluating"))?;
        let episodes = 2.0 * f64::from(PROBE_EPISODES);
        Ok::<_, RunError>((
            steps,
            train / steps as f64,
            started.elapsed().as_secs_f64() / episodes,
        ))
    })();
    let _ = std::fs::remove_dir_all(&probe);
    let (probe_steps, probe_per_step, per_episode) = result?;
    let (per_step, from_cells) =
        trained_seconds_per_step(study, lines, out).unwrap_or((probe_per_step, 0));
    let strategies = match &study.against_fixed {
        Some(dir) => eval::strategies(dir.as_deref())?.len(),
        None => 0,
    };
    let policies = study.policies() as f64;
    let e = f64::from(study.eval_episodes);
    let episodes = 2.0 * e + strategies as f64 * policies * f64::from(study.check_episodes);
    let learned = if study.against_learned {
        2.0 * policies * (eval::learned::DEFAULT_STEPS as f64 * per_step + 3.0 * e * per_episode)
    } else {
        0.0
    };
    let cell_seconds = study.total_steps as f64 * per_step + episodes * per_episode + learned;
    let threads = rayon::current_num_threads();
    let core_hours = |cells: usize| cells as f64 * cell_seconds * threads as f64 / 3600.0;
    let to_do = lines.iter().filter(|l| l.state != CellState::Done).count();
    Ok(CostEstimate {
        cells: lines.len(),
        to_do,
        probe_steps,
        seconds_per_step: per_step,
        seconds_per_episode: per_episode,
        threads,
        cell_seconds,
        core_hours: core_hours(lines.len()),
        core_hours_to_do: core_hours(to_do),
        from_cells,
    })
}

/// How a study run ended.
#[derive(Debug)]
pub enum Outcome {
    /// Not every cell is done yet (others run elsewhere, or only one cell was asked for).
    Partial {
        /// Cells done.
        done: usize,
        /// Cells in all.
        cells: usize,
        /// Cells skipped because another process works on them.
        skipped: usize,
    },
    /// Every cell is done: the report, and the files written.
    Report {
        /// The report.
        report: Box<super::report::StudyReport>,
        /// Files written (study.json, report.md, report.html, ...).
        written: Vec<PathBuf>,
    },
}

/// Runs the study of `file` (`text`: the file as read) into `out`: every cell, or only cell `cell`;
/// then, when every cell is done, computes and writes the report. Cells are trained by `trainer`
/// (None: a cell that needs training is an error) and evaluated as the study says; progress shows on
/// a bar (or a line per step without a terminal); `stop` (set by Ctrl-C) ends the study after the
/// current cell's checkpoint.
pub fn run(
    study: &StudyFile,
    text: &str,
    out: &Path,
    cell: Option<usize>,
    trainer: Option<&dyn Trainer>,
    stop: Arc<AtomicBool>,
) -> Result<Outcome, RunError> {
    let cells = study.cells();
    if let Some(k) = cell {
        if k >= cells.len() {
            return Err(RunError::CellRange {
                cell: k,
                last: cells.len().saturating_sub(1),
                variants: study.variants.len(),
                seeds: study.seeds.len(),
            });
        }
    }
    let cells_dir = out.join("cells");
    let dir_of = |c: &Cell| cells_dir.join(&c.name);
    // The strategies of the best-response check, read before any work is done.
    let strategies = match &study.against_fixed {
        Some(dir) => eval::strategies(dir.as_deref())?,
        None => Vec::new(),
    };
    study.check_strategies(&strategies)?;
    claim(out, study, text)?;
    let days = study.max_days();
    let todo: Vec<&Cell> = match cell {
        Some(k) => vec![&cells[k]],
        None => cells.iter().collect(),
    };
    let (train_w, eval_w) = weights(study, days, strategies.len());
    let bar = indicatif::ProgressBar::new(todo.len() as u64 * (train_w + eval_w));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} study [{elapsed_precise}] {wide_bar} {percent:>3}% (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let work_done = |state: CellState| match state {
        CellState::New | CellState::NoCheckpoint => 0,
        CellState::Partial(step) => step,
        CellState::Trained => train_w,
        CellState::Done => train_w + eval_w,
    };
    let mut done_before = 0;
    for c in &todo {
        done_before += work_done(cell_state(&dir_of(c), study)?);
    }
    bar.set_position(done_before);
    bar.reset_eta();
    // Without a terminal (a scheduler's log) the bar is hidden: say what happens, a line per step.
    let say = |message: String| {
        if bar.is_hidden() {
            eprintln!("{message}");
        } else {
            bar.set_message(message);
        }
    };
    let interrupted = |label: &str| {
        bar.abandon();
        RunError::Interrupted {
            label: label.to_string(),
        }
    };
    let cell_err = |label: &str, step: &'static str| {
        let label = label.to_string();
        move |cause: Box<dyn std::error::Error + Send + Sync>| RunError::Cell { label, step, cause }
    };
    let job_err = |e: JobError| Box::new(e) as Box<dyn std::error::Error + Send + Sync>;
    let mut skipped = 0;
    for (i, cell) in todo.iter().enumerate() {
        let base = i as u64 * (train_w + eval_w);
        let dir = dir_of(cell);
        let label = format!("cell {} {}", cell.index, cell.name);
        if stop.load(Ordering::SeqCst) {
            return Err(interrupted(&label));
        }
        // Another process (a parallel `--cell` job) works on it: leave it to that one.
        if folder::in_use(&dir) {
            say(format!("{label}: in use by another process, skipped"));
            skipped += 1;
            continue;
        }
        // The state now, not at the start: a parallel job may have advanced it meanwhile.
        let state = cell_state(&dir, study)?;
        bar.set_position(base + work_done(state));
        if matches!(state, CellState::NoCheckpoint) {
            let moved = folder::move_aside(&dir)?;
            say(format!(
                "{label}: started before without a checkpoint; moved to {} and starting again",
                moved.display()
            ));
        }
        let progress = ProgressView::Shared {
            bar: bar.clone(),
            offset: base,
        };
        let request = match state {
            CellState::New | CellState::NoCheckpoint => {
                say(format!("{label}: training"));
                create_dir(&cells_dir)?;
                let variant = &study.variants[cell.variant];
                Some((
                    TrainRequest::new_cell(
                        study.env.clone(),
                        study.agents.clone(),
                        variant.set.clone(),
                        cell.seed,
                        study.total_steps,
                        dir.clone(),
                    ),
                    "training",
                ))
            }
            CellState::Partial(step) => {
                say(format!("{label}: resuming from step {step}"));
                Some((TrainRequest::resume(dir.clone()), "resuming"))
            }
            CellState::Done => {
                say(format!("{label}: done before, skipped"));
                None
            }
            CellState::Trained => None,
        };
        if let Some((request, step)) = request {
            let trainer = trainer.ok_or_else(|| RunError::NoTrainer {
                label: label.clone(),
            })?;
            let job = TrainJob::new(&request)
                .map_err(job_err)
                .map_err(cell_err(&label, step))?;
            trainer
                .train(&job, progress, stop.clone())
                .map_err(cell_err(&label, step))?;
        }
        if stop.load(Ordering::SeqCst) {
            return Err(interrupted(&label));
        }
        if state != CellState::Done {
            bar.set_position(base + train_w);
            say(format!("{label}: evaluating"));
            eval::run_with(
                &EvalRequest {
                    check_episodes: study.check_episodes,
                    episodes: study.eval_episodes,
                    seed: study.eval_seed,
                    strategies: strategies.clone(),
                    learned: study.against_learned.then(eval::LearnedRequest::default),
                    ..EvalRequest::defaults(&dir)
                },
                trainer,
            )
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            .map_err(cell_err(&label, "evaluating"))?;
        }
        bar.set_position(base + train_w + eval_w);
    }
    bar.finish_and_clear();
    let states: Vec<CellState> = cells
        .iter()
        .map(|c| cell_state(&dir_of(c), study))
        .collect::<Result<_, _>>()?;
    let done = states.iter().filter(|s| **s == CellState::Done).count();
    if done < cells.len() {
        return Ok(Outcome::Partial {
            done,
            cells: cells.len(),
            skipped,
        });
    }
    let report = super::report::build(study, out)?;
    let written = super::render::write_all(&report, out)?;
    Ok(Outcome::Report {
        report: Box::new(report),
        written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::summary::TrainSummary;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    fn study(dir: &Path) -> (StudyFile, String) {
        let text = format!(
            "[study]\nenv = \"{ROOT}/envs/commons.toml\"\nagents = \"{ROOT}/agents/mixed.toml\"\nseeds = [1, 2]\ntotal_steps = 1024\neval_episodes = 2\n\n[[variant]]\nname = \"base\"\n\n[[variant]]\nname = \"high\"\nset = {{ \"curve.exit_tribute\" = 0.6 }}\n"
        );
        let path = dir.join("s.toml");
        std::fs::write(&path, &text).unwrap();
        load(&path).unwrap()
    }

    /// A trainer that refuses every job, counting them.
    struct Refuses(std::sync::Mutex<Vec<PathBuf>>);

    impl Trainer for Refuses {
        fn train(
            &self,
            job: &TrainJob,
            _progress: ProgressView,
            _stop: Arc<AtomicBool>,
        ) -> Result<TrainSummary, Box<dyn std::error::Error + Send + Sync>> {
            self.0.lock().unwrap().push(job.run_dir.clone());
            Err("no thanks".into())
        }
    }

    #[test]
    fn cells_are_listed_and_trained_through_the_given_trainer() {
        let dir = tempfile::tempdir().unwrap();
        let (s, text) = study(dir.path());
        let out = dir.path().join("out");
        let lines = list(&s, &out).unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.state == CellState::New && !l.busy));
        let stop = Arc::new(AtomicBool::new(false));
        // Without a trainer, the first cell that needs training is an error naming it.
        let e = run(&s, &text, &out, None, None, stop.clone()).unwrap_err();
        assert!(
            matches!(&e, RunError::NoTrainer { label } if label == "cell 0 base__seed1"),
            "{e}"
        );
        assert!(
            out.join(STUDY_FILE).is_file(),
            "the folder is claimed first"
        );
        // The trainer gets the cell's job, and its error is the cell's.
        let trainer = Refuses(Default::default());
        let e = run(&s, &text, &out, Some(3), Some(&trainer), stop.clone()).unwrap_err();
        assert_eq!(chain(&e), "cell 3 high__seed2: training: no thanks");
        assert_eq!(
            *trainer.0.lock().unwrap(),
            [out.join("cells").join("high__seed2")]
        );
        let e = run(&s, &text, &out, Some(4), Some(&trainer), stop.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--cell: 4 is out of range (allowed: 0 to 3; 2 variants x 2 seeds)"
        );
        stop.store(true, Ordering::SeqCst);
        let e = run(&s, &text, &out, None, Some(&trainer), stop).unwrap_err();
        assert!(matches!(e, RunError::Interrupted { .. }), "{e}");
    }

    #[test]
    fn a_folder_of_another_study_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (s, text) = study(dir.path());
        let out = dir.path().join("out");
        let stop = Arc::new(AtomicBool::new(false));
        let _ = run(&s, &text, &out, None, None, stop.clone());
        let other = text.replace("seeds = [1, 2]", "seeds = [5]");
        let path = dir.path().join("other.toml");
        std::fs::write(&path, &other).unwrap();
        let (o, other) = load(&path).unwrap();
        let e = chain(&run(&o, &other, &out, None, None, stop).unwrap_err());
        assert!(
            e.contains("belongs to another study") && e.contains("choose another --out"),
            "{e}"
        );
        assert!(chain(&list(&o, &out).unwrap_err()).contains("belongs to another study"));
    }
}
