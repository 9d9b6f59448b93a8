//! `commons_rl._native`: the Rust side of the Python package. Scenario loading and validation, the
//! environments (Commons and CartPole) and the Monte-Carlo simulator are the crate's own; this module
//! only moves data across (numpy arrays built with `ndarray`) and releases the GIL while Rust works.
//! The Python API (`commons_rl.parallel_env`, `commons_rl.simulate`, …) is in `python/commons_rl/`.

use std::path::{Path, PathBuf};

use commons_rl::env::cartpole::CartPole;
use commons_rl::env::episodes::COMPONENTS;
use commons_rl::env::personality::{Component, PopulationEntry};
use commons_rl::env::{CommonsEnv, EnvError, MultiAgentEnv, StepOutput};
use commons_rl::model::metrics::{Metrics, METRIC_NAMES};
use commons_rl::scenario::{self, EnvKind, Override, Scenario};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod dicts;
mod vector;
use dicts::{DictApi, Style};
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
    /// The dict API (`dict_api` sets it up).
    dicts: Option<DictApi>,
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
            dicts: None,
        })
    }

    /// CartPole-v1 (the trainer's validation environment), without a scenario file.
    #[staticmethod]
    fn cartpole() -> Self {
        Env {
            world: World::CartPole(CartPole::new()),
            kind: "cartpole",
            started: false,
            dicts: None,
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

    /// Sets up the dict API (`parallel_env`, RLlib): `cap` ids per personality; `flat` for RLlib's
    /// observations (`observations` and a flat float32 `action_mask`) instead of PettingZoo's.
    fn dict_api(&mut self, py: Python<'_>, cap: usize, flat: bool) {
        let policies = with_env!(&self.world, e => e.policies().to_vec());
        let nvec = (0..policies.len())
            .map(|k| with_env!(&self.world, e => e.action_spec(k as u16).nvec))
            .collect();
        let style = if flat { Style::Flat } else { Style::PettingZoo };
        self.dicts = Some(DictApi::new(py, style, cap, policies, nvec));
    }

    /// Starts an episode from `seed` and returns `(observations, infos, agents)` of the dict API.
    fn reset_dicts<'py>(
        &mut self,
        py: Python<'py>,
        seed: u64,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>, Bound<'py, PyList>)> {
        self.reset(py, seed)?;
        self.dicts_mut()?.reset();
        let [obs, _, _, _, infos] = self.collect_dicts(py)?;
        let agents = self.agents_list(py)?;
        Ok((obs, infos, agents))
    }

    /// Steps with `actions` (a dict of agent id -> action for exactly the live agents) and returns
    /// `(observations, rewards, terminations, truncations, infos, agents)`. A masked bin is the
    /// head's no-op and reported as the info's `invalid_action`, or, with `strict`, an error; nothing
    /// is stepped on an error. Days on which no agent acts (everyone left, no arrival yet) are stepped
    /// through: the dicts then hold the departures and the next arrivals.
    #[allow(clippy::type_complexity)]
    fn step_dicts<'py>(
        &mut self,
        py: Python<'py>,
        actions: &Bound<'py, PyAny>,
        strict: bool,
    ) -> PyResult<(
        Bound<'py, PyDict>,
        Bound<'py, PyDict>,
        Bound<'py, PyDict>,
        Bound<'py, PyDict>,
        Bound<'py, PyDict>,
        Bound<'py, PyList>,
    )> {
        self.check_steppable()?;
        let out = self.world.output();
        let policies: Vec<u16> = out.rows.iter().map(|r| r.policy).collect();
        let dicts = self.dicts.as_mut().ok_or_else(no_dict_api)?;
        let flat = dicts.actions(py, out, &policies, actions, strict)?;
        let world = &mut self.world;
        py.detach(move || with_env!(world, e => e.step(&flat).map(|_| ())))
            .map_err(env_error)?;
        let [obs, rew, term, trunc, infos] = self.collect_dicts(py)?;
        Ok((obs, rew, term, trunc, infos, self.agents_list(py)?))
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

fn no_dict_api() -> PyErr {
    PyRuntimeError::new_err("dict_api() was not called")
}

impl Env {
    fn dicts_mut(&mut self) -> PyResult<&mut DictApi> {
        self.dicts.as_mut().ok_or_else(no_dict_api)
    }

    fn check_steppable(&self) -> PyResult<()> {
        if !self.started {
            return Err(PyRuntimeError::new_err("step() before reset()"));
        }
        if self.world.output().info.done {
            return Err(PyRuntimeError::new_err(
                "the episode is over: call reset() before step()",
            ));
        }
        Ok(())
    }

    /// The world's metrics now as a dict (empty for CartPole).
    fn metrics_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let World::Commons(e) = &self.world {
            if let Some(c) = e.commons() {
                for (name, v) in METRIC_NAMES.iter().zip(Metrics::of(c).values()) {
                    d.set_item(*name, v)?;
                }
            }
        }
        Ok(d)
    }

    /// The dicts of the last output; while no agent acts and the episode goes on, steps on (with
    /// no actions to take) and adds the next outputs' agents.
    fn collect_dicts<'py>(&mut self, py: Python<'py>) -> PyResult<[Bound<'py, PyDict>; 5]> {
        let dicts: [Bound<'py, PyDict>; 5] = std::array::from_fn(|_| PyDict::new(py));
        loop {
            let metrics = self.metrics_dict(py)?;
            let parts: Option<Vec<[f64; COMPONENTS]>> = match &self.world {
                World::Commons(e) => Some(
                    e.reward_parts()
                        .iter()
                        .map(|p| Component::ALL.map(|c| p.get(c)))
                        .collect(),
                ),
                World::CartPole(_) => None,
            };
            let out = self.world.output();
            let api = self.dicts.as_mut().ok_or_else(no_dict_api)?;
            api.collect(py, out, parts.as_deref(), &metrics, &dicts)?;
            if api.live_count() > 0 || out.info.done {
                return Ok(dicts);
            }
            let heads = with_env!(&self.world, e => e.action_spec(0).nvec.len());
            let none = vec![0u32; self.world.output().rows.len() * heads];
            let world = &mut self.world;
            py.detach(move || with_env!(world, e => e.step(&none).map(|_| ())))
                .map_err(env_error)?;
        }
    }

    /// The live agents' names, in row order.
    fn agents_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let api = self.dicts.as_ref().ok_or_else(no_dict_api)?;
        PyList::new(py, api.live_names(py))
    }

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
#[pyo3(signature = (env, episodes, seed=0, days=None, rng=None, set=Vec::new(), trajectories=true, ignore_memory_limit=false, ignore_time_limit=false))]
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
    ignore_memory_limit: bool,
    ignore_time_limit: bool,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let mut set = set;
    if let Some(d) = days {
        set.push(format!("simulation.days={d}"));
    }
    if let Some(r) = rng {
        set.push(format!("simulation.rng={}", toml::Value::String(r)));
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
    commons_rl::simulate::check_size(
        &model,
        episodes,
        rayon::current_num_threads(),
        trajectories,
        ignore_memory_limit,
        ignore_time_limit,
    )
    .map_err(|e| {
        // The CLI's flags, as this function's arguments.
        let m = e
            .to_string()
            .replace("--ignore-memory-limit", "ignore_memory_limit=True")
            .replace("--ignore-time-limit", "ignore_time_limit=True")
            .replace("--episodes", "episodes")
            .replace("--days", "days");
        PyValueError::new_err(m)
    })?;
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

/// The seed of episode `episode` of environment `env` for base seed `base` (what `VectorEnv` and
/// `commons train` use).
#[pyfunction]
fn episode_seed(base: u64, env: usize, episode: u64) -> u64 {
    commons_rl::env::vec_env::episode_seed(base, env, episode)
}

/// Names of the Commons' outcome metrics (the `metrics!` table: `token_price`, `funding_pool`, ...),
/// the keys of eval.json's `outcomes` and of a tune file's world measures.
#[pyfunction]
fn outcome_metrics() -> Vec<&'static str> {
    METRIC_NAMES.to_vec()
}

/// Names of the per-personality measures of eval.json (`return`, `net_worth_gain`, `impact`, then the
/// behaviour rates `buy`, `sell`, `stake`, `propose`, `exit`), as a tune file names them after
/// `<personality>.`.
#[pyfunction]
fn personality_measures() -> Vec<&'static str> {
    commons_rl::env::episodes::AGENT_MEASURES
        .iter()
        .chain(commons_rl::env::actions::BEHAVIOURS.iter())
        .copied()
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(episode_seed, m)?)?;
    m.add_function(wrap_pyfunction!(source_root, m)?)?;
    m.add_function(wrap_pyfunction!(outcome_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(personality_measures, m)?)?;
    m.add_class::<Env>()?;
    m.add_class::<vector::VectorEnv>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_EPISODES", commons_rl::simulate::DEFAULT_EPISODES)?;
    Ok(())
}
