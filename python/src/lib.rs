//! `commons_rl._native`: the Rust side of the Python package. Scenario loading and validation, the
//! environments (Commons and CartPole) and the Monte-Carlo simulator are the crate's own; this module
//! only moves data across (numpy arrays built with `ndarray`) and releases the GIL while Rust works.
//! The Python API (`commons_rl.parallel_env`, `commons_rl.simulate`, …) is in `python/commons_rl/`.

use std::path::{Path, PathBuf};

use commons_rl::env::cartpole::CartPole;
use commons_rl::env::personality::{Component, PopulationEntry};
use commons_rl::env::{CommonsEnv, EnvError, MultiAgentEnv, StepOutput};
use commons_rl::model::metrics::{Metrics, METRIC_NAMES};
use commons_rl::scenario::{self, EnvKind, Override, Scenario};
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

pyo3::create_exception!(
    commons_rl._native,
    ConfigError,
    PyValueError,
    "A scenario, agents file or override is invalid (the message names the file and the field)."
);

fn config_error(e: impl std::fmt::Display) -> PyErr {
    ConfigError::new_err(e.to_string())
}

fn env_error(e: EnvError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The `[[population]]` of an agents file (its other tables are the trainer's).
#[derive(serde::Deserialize)]
struct AgentsPopulation {
    population: Option<Vec<PopulationEntry>>,
}

/// A scenario file with an agents file's population (if it has one) and `overrides` applied, validated
/// as `commons train` does; returns the scenario and the file its population came from.
fn load_scenario(
    env: &Path,
    agents: Option<&Path>,
    overrides: &[String],
) -> PyResult<(Scenario, PathBuf)> {
    let mut sc = scenario::load(env).map_err(config_error)?;
    let sets: Vec<Override> = overrides
        .iter()
        .map(|s| {
            s.parse::<Override>()
                .map_err(|e| config_error(format!("--set {e}")))
        })
        .collect::<PyResult<_>>()?;
    sc = scenario::with_overrides(&sc, &sets).map_err(config_error)?;
    let mut source = env.to_path_buf();
    if let Some(a) = agents {
        let text = std::fs::read_to_string(a)
            .map_err(|e| config_error(format!("{}: cannot read agents file: {e}", a.display())))?;
        let file: AgentsPopulation = toml::from_str::<toml::Table>(&text)
            .and_then(|t| toml::Value::Table(t).try_into())
            .map_err(|e| {
                config_error(format!(
                    "{}: {}",
                    a.display(),
                    e.message().replace('\n', " ")
                ))
            })?;
        if let Some(pop) = file.population {
            sc.population = pop;
            sc.validate()
                .map_err(|e| config_error(format!("{}: {e}", a.display())))?;
            source = a.to_path_buf();
        }
    }
    Ok((sc, source))
}

/// One environment of either kind.
enum World {
    Commons(Box<CommonsEnv>),
    CartPole(CartPole),
}

macro_rules! with_env {
    ($w:expr, $e:ident => $body:expr) => {
        match $w {
            World::Commons($e) => $body,
            World::CartPole($e) => $body,
        }
    };
}

impl World {
    fn output(&self) -> &StepOutput {
        with_env!(self, e => e.output())
    }
}

/// One environment, driven from Python (`commons_rl.parallel_env` wraps it).
#[pyclass(module = "commons_rl._native")]
struct Env {
    world: World,
    kind: &'static str,
    /// Whether `reset` has been called.
    started: bool,
}

fn rows_dict<'py>(py: Python<'py>, out: &StepOutput) -> PyResult<Bound<'py, PyDict>> {
    let n = out.rows.len();
    let d = PyDict::new(py);
    let col = |f: &dyn Fn(usize) -> i64| Array1::from_iter((0..n).map(f)).into_pyarray(py);
    d.set_item("agent", col(&|i| out.rows[i].agent.0 as i64))?;
    d.set_item("policy", col(&|i| out.rows[i].policy as i64))?;
    let flag = |f: &dyn Fn(usize) -> bool| Array1::from_iter((0..n).map(f)).into_pyarray(py);
    d.set_item("terminated", flag(&|i| out.rows[i].terminated))?;
    d.set_item("truncated", flag(&|i| out.rows[i].truncated))?;
    d.set_item("is_new", flag(&|i| out.rows[i].is_new))?;
    d.set_item(
        "reward",
        Array1::from_iter(out.rows.iter().map(|r| r.reward)).into_pyarray(py),
    )?;
    let obs = Array2::from_shape_vec((n, out.obs_len), out.obs.clone())
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    d.set_item("obs", obs.into_pyarray(py))?;
    let masks = Array2::from_shape_vec((n, out.mask_len), out.masks.clone())
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    d.set_item("masks", masks.into_pyarray(py))?;
    d.set_item("day", out.info.step)?;
    d.set_item("done", out.info.done)?;
    Ok(d)
}

#[pymethods]
impl Env {
    /// Loads `env` (a scenario file) with the population of `agents` (an agents file) if given and
    /// `set` overrides (`section.key=value`), exactly as `commons train` reads them.
    #[new]
    #[pyo3(signature = (env, agents=None, set=Vec::new()))]
    fn new(env: PathBuf, agents: Option<PathBuf>, set: Vec<String>) -> PyResult<Self> {
        let (sc, source) = load_scenario(&env, agents.as_deref(), &set)?;
        let (world, kind) = match sc.kind {
            EnvKind::Cartpole => (World::CartPole(CartPole::new()), "cartpole"),
            EnvKind::Commons => {
                let cfg = scenario::env_config_named(&sc, &env, &source).map_err(config_error)?;
                (World::Commons(Box::new(CommonsEnv::new(cfg))), "commons")
            }
        };
        Ok(Env {
            world,
            kind,
            started: false,
        })
    }

    /// CartPole-v1 (the trainer's validation environment), without a scenario file.
    #[staticmethod]
    fn cartpole() -> Self {
        Env {
            world: World::CartPole(CartPole::new()),
            kind: "cartpole",
            started: false,
        }
    }

    /// `"commons"` or `"cartpole"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The policy (personality) names, in id order.
    fn policies(&self) -> Vec<String> {
        with_env!(&self.world, e => e.policies().to_vec())
    }

    /// `(names, low, high)` of policy `k`'s observation.
    fn observation_spec(&self, k: u16) -> PyResult<(Vec<String>, Vec<f32>, Vec<f32>)> {
        self.check_policy(k)?;
        let s = with_env!(&self.world, e => e.observation_spec(k));
        Ok((s.names, s.low, s.high))
    }

    /// `(nvec, head names)` of policy `k`'s actions.
    fn action_spec(&self, k: u16) -> PyResult<(Vec<usize>, Vec<String>)> {
        self.check_policy(k)?;
        let s = with_env!(&self.world, e => e.action_spec(k));
        Ok((s.nvec, s.heads))
    }

    /// Names of the reward components (the columns of `reward_parts`); empty for CartPole.
    fn reward_components(&self) -> Vec<&'static str> {
        match self.world {
            World::Commons(_) => Component::ALL.iter().map(|c| c.name()).collect(),
            World::CartPole(_) => Vec::new(),
        }
    }

    /// Names of the world's metrics (the entries of `metrics` and `state`); empty for CartPole.
    fn metric_names(&self) -> Vec<&'static str> {
        match self.world {
            World::Commons(_) => METRIC_NAMES.to_vec(),
            World::CartPole(_) => Vec::new(),
        }
    }

    /// Starts an episode from `seed`.
    fn reset(&mut self, py: Python<'_>, seed: u64) -> PyResult<()> {
        let world = &mut self.world;
        py.detach(move || with_env!(world, e => e.reset(seed).map(|_| ())))
            .map_err(env_error)?;
        self.started = true;
        Ok(())
    }

    /// Steps with `actions` (`[rows, heads]` int64, one row per row of the last output, in order;
    /// rows that are not live are ignored). With `replace_masked`, a masked bin is replaced by the
    /// head's no-op (bin 0) instead of being an error; returns, per row, whether that happened.
    #[pyo3(signature = (actions, replace_masked=true))]
    fn step(
        &mut self,
        py: Python<'_>,
        actions: PyReadonlyArray2<'_, i64>,
        replace_masked: bool,
    ) -> PyResult<Vec<bool>> {
        if !self.started {
            return Err(PyRuntimeError::new_err("step() before reset()"));
        }
        if self.world.output().info.done {
            return Err(PyRuntimeError::new_err(
                "the episode is over: call reset() before step()",
            ));
        }
        let out = self.world.output();
        let heads = with_env!(&self.world, e => e.action_spec(0).nvec);
        let a = actions.as_array();
        if a.nrows() != out.rows.len() || a.ncols() != heads.len() {
            return Err(PyValueError::new_err(format!(
                "actions have shape {:?}, expected ({}, {}) (one row per agent of the last output, one column per head)",
                a.shape(),
                out.rows.len(),
                heads.len()
            )));
        }
        let mut flat = Vec::with_capacity(out.rows.len() * heads.len());
        let mut replaced = vec![false; out.rows.len()];
        for (i, row) in a.rows().into_iter().enumerate() {
            let live = out.rows[i].live();
            let mask = out.mask_row(i);
            let mut offset = 0;
            for (h, (&v, &bins)) in row.iter().zip(&heads).enumerate() {
                if v < 0 || v as usize >= bins {
                    return Err(PyValueError::new_err(format!(
                        "action {v} of head {h} for row {i} is out of range (allowed: 0 to {})",
                        bins - 1
                    )));
                }
                let mut b = v as usize;
                if live && !mask[offset + b] {
                    if !replace_masked {
                        return Err(PyValueError::new_err(format!(
                            "action {v} of head {h} for row {i} is masked (not allowed now)"
                        )));
                    }
                    replaced[i] = true;
                    b = 0;
                }
                flat.push(b as u32);
                offset += bins;
            }
        }
        let world = &mut self.world;
        py.detach(move || with_env!(world, e => e.step(&flat).map(|_| ())))
            .map_err(env_error)?;
        Ok(replaced)
    }

    /// The last output's rows as numpy arrays: `agent`, `policy` (int64), `reward` (float32),
    /// `terminated`, `truncated`, `is_new` (bool), `obs` (`[rows, obs_len]` float32), `masks`
    /// (`[rows, Σ nvec]` bool), and `day`, `done`.
    fn rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        rows_dict(py, self.world.output())
    }

    /// The reward components behind each row's reward, `[rows, components]` float64 (Commons only).
    fn reward_parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let parts: Vec<f64> = match &self.world {
            World::Commons(e) => e
                .reward_parts()
                .iter()
                .flat_map(|p| Component::ALL.map(|c| p.get(c)))
                .collect(),
            World::CartPole(_) => Vec::new(),
        };
        let k = match self.world {
            World::Commons(_) => Component::ALL.len(),
            World::CartPole(_) => 0,
        };
        let n = parts.len().checked_div(k).unwrap_or(0);
        Ok(Array2::from_shape_vec((n, k), parts)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?
            .into_pyarray(py))
    }

    /// The world's outcome metrics now, in `metric_names` order (Commons; empty before `reset`).
    fn state<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let v: Vec<f64> = match &self.world {
            World::Commons(e) => e
                .commons()
                .map(|c| Metrics::of(c).values().to_vec())
                .unwrap_or_default(),
            World::CartPole(e) => e.state().to_vec(),
        };
        v.into_pyarray(py)
    }

    /// A text summary of the day (for `render_mode="ansi"`).
    fn render(&self) -> String {
        let out = self.world.output();
        let live = out.live_rows();
        match &self.world {
            World::Commons(e) => match e.commons() {
                Some(c) => {
                    let m = Metrics::of(c);
                    let mut s = format!("day {} — {live} agents acting\n", out.info.step);
                    for (name, v) in m.fields() {
                        s.push_str(&format!("  {name:<22} {v}\n"));
                    }
                    s
                }
                None => "not started: call reset()\n".to_string(),
            },
            World::CartPole(e) => {
                let [x, v, th, om] = e.state();
                format!(
                    "step {} — cart {x:+.3} m ({v:+.3} m/s), pole {th:+.3} rad ({om:+.3} rad/s)\n",
                    out.info.step
                )
            }
        }
    }
}

impl Env {
    fn check_policy(&self, k: u16) -> PyResult<()> {
        let n = with_env!(&self.world, e => e.policies().len());
        if (k as usize) < n {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "policy {k} does not exist (allowed: 0 to {})",
                n.saturating_sub(1)
            )))
        }
    }
}

/// The Monte Carlo of `commons simulate`: `episodes` scripted episodes from `seed` (episode `k` uses
/// `seed + k`), in parallel, the GIL released. Returns `(finals, days)`: column dicts of the
/// per-episode final metrics (with `episode`, `seed`, `days`, `speculation_days`, `multiplier`,
/// `score`, `error`) and of the per-day metrics (`episode`, `seed`, `day`, then every metric, the
/// columns of `trajectories.csv`).
#[pyfunction]
#[pyo3(signature = (env, episodes=16, seed=0, days=None, rng=None, set=Vec::new(), trajectories=true))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    env: PathBuf,
    episodes: u32,
    seed: u64,
    days: Option<u32>,
    rng: Option<String>,
    set: Vec<String>,
    trajectories: bool,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let mut set = set;
    if let Some(d) = days {
        set.push(format!("simulation.days={d}"));
    }
    if let Some(r) = rng {
        set.push(format!("simulation.rng=\"{r}\""));
    }
    let (sc, _) = load_scenario(&env, None, &set)?;
    if sc.kind != EnvKind::Commons {
        return Err(config_error(format!(
            "{}: simulate runs Commons scenarios; this one is `kind = \"cartpole\"`",
            env.display()
        )));
    }
    if episodes == 0 {
        return Err(PyValueError::new_err(
            "episodes: 0 is out of range (allowed: 1 or more)",
        ));
    }
    let model = sc.model.clone();
    type Day = (u32, [f64; commons_rl::model::metrics::METRIC_COUNT]);
    let results: Vec<Result<(commons_rl::simulate::EpisodeSummary, Vec<Day>), String>> =
        py.detach(|| {
            (0..episodes)
                .into_par_iter()
                .map(|k| {
                    let mut rows: Vec<Day> = Vec::new();
                    let s = seed.wrapping_add(k as u64);
                    let summary = commons_rl::simulate::run_episode(&model, s, |c| {
                        if trajectories {
                            rows.push((c.day(), Metrics::of(c).values()));
                        }
                    })
                    .map_err(|e| format!("episode {k} (seed {s}): {e}"))?;
                    Ok((summary, rows))
                })
                .collect()
        });
    let finals = PyDict::new(py);
    let per_day = PyDict::new(py);
    let mut ep = Vec::new();
    let mut ep_seed = Vec::new();
    let mut ep_days = Vec::new();
    let mut spec = Vec::new();
    let mut mult = Vec::new();
    let mut score: Vec<Option<i64>> = Vec::new();
    let mut error: Vec<Option<String>> = Vec::new();
    let mut fin: Vec<Vec<f64>> = vec![Vec::new(); METRIC_NAMES.len()];
    let (mut d_ep, mut d_seed, mut d_day) = (Vec::new(), Vec::new(), Vec::new());
    let mut d_m: Vec<Vec<f64>> = vec![Vec::new(); METRIC_NAMES.len()];
    for (k, r) in results.into_iter().enumerate() {
        let (s, rows) = r.map_err(PyRuntimeError::new_err)?;
        ep.push(k as i64);
        ep_seed.push(s.seed);
        ep_days.push(s.days);
        spec.push(s.speculation_days);
        mult.push(s.multiplier);
        score.push(s.score);
        error.push(s.error.clone());
        for (col, v) in fin.iter_mut().zip(s.final_.values()) {
            col.push(v);
        }
        for (day, values) in rows {
            d_ep.push(k as i64);
            d_seed.push(s.seed);
            d_day.push(day);
            for (col, v) in d_m.iter_mut().zip(values) {
                col.push(v);
            }
        }
    }
    finals.set_item("episode", ep.into_pyarray(py))?;
    finals.set_item("seed", ep_seed.into_pyarray(py))?;
    finals.set_item("days", ep_days.into_pyarray(py))?;
    finals.set_item("speculation_days", spec.into_pyarray(py))?;
    finals.set_item("multiplier", mult.into_pyarray(py))?;
    for (name, col) in METRIC_NAMES.iter().zip(fin) {
        finals.set_item(*name, col.into_pyarray(py))?;
    }
    finals.set_item("score", score)?;
    finals.set_item("error", error)?;
    per_day.set_item("episode", d_ep.into_pyarray(py))?;
    per_day.set_item("seed", d_seed.into_pyarray(py))?;
    per_day.set_item("day", d_day.into_pyarray(py))?;
    for (name, col) in METRIC_NAMES.iter().zip(d_m) {
        per_day.set_item(*name, col.into_pyarray(py))?;
    }
    Ok((finals, per_day))
}

/// The checkout this module was built from (for default scenario paths).
#[pyfunction]
fn source_root() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .display()
        .to_string()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(source_root, m)?)?;
    m.add_class::<Env>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
