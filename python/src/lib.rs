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
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod dicts;
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

/// One environment of a [`VectorEnv`] and its slot table.
struct Slots {
    env: CommonsEnv,
    /// Slot of each agent of the last output.
    slot_of: std::collections::HashMap<u64, usize>,
    /// Slots written by the last output.
    written: Vec<usize>,
    /// Episode number (for seeds).
    episode: u64,
    /// The episode ended in the last output: the next `step` resets it.
    ended: bool,
}

/// Per-environment views of the output arrays.
struct Views<'a> {
    obs: &'a mut [f32],
    masks: &'a mut [bool],
    reward: &'a mut [f32],
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
    live: &'a mut [bool],
    is_new: &'a mut [bool],
    agent: &'a mut [i64],
    policy: &'a mut [i64],
    invalid: &'a mut [bool],
}

impl Slots {
    /// Writes the environment's last output into its slots (`cap` of them).
    fn write(&mut self, v: &mut Views, cap: usize, l: usize, m: usize) -> Result<(), String> {
        // Only the slots written last time hold anything: clear those (not the whole capacity).
        for s in self.written.drain(..) {
            v.obs[s * l..(s + 1) * l].fill(0.0);
            v.masks[s * m..(s + 1) * m].fill(false);
            v.live[s] = false;
            v.terminated[s] = false;
            v.truncated[s] = false;
            v.is_new[s] = false;
            v.reward[s] = 0.0;
            v.agent[s] = -1;
            v.policy[s] = -1;
        }
        let out = self.env.output();
        let mut used = vec![false; cap];
        for &s in self.slot_of.values() {
            used[s] = true;
        }
        let mut next_free = 0;
        let mut done_agents = Vec::new();
        for (i, row) in out.rows.iter().enumerate() {
            let id = row.agent.0;
            if row.is_new && !row.live() {
                continue; // joined on the last day: never acts (as in the PettingZoo env)
            }
            let s = match self.slot_of.get(&id) {
                Some(&s) => s,
                None => {
                    while next_free < cap && used[next_free] {
                        next_free += 1;
                    }
                    if next_free == cap {
                        return Err(format!(
                            "more than capacity={cap} agents at once in one environment: construct the VectorEnv with a larger capacity"
                        ));
                    }
                    used[next_free] = true;
                    self.slot_of.insert(id, next_free);
                    next_free
                }
            };
            v.obs[s * l..(s + 1) * l].copy_from_slice(out.obs_row(i));
            v.masks[s * m..(s + 1) * m].copy_from_slice(out.mask_row(i));
            v.reward[s] = row.reward;
            v.terminated[s] = row.terminated;
            v.truncated[s] = row.truncated;
            v.live[s] = row.live();
            v.is_new[s] = row.is_new;
            v.agent[s] = id as i64;
            v.policy[s] = row.policy as i64;
            self.written.push(s);
            if !row.live() {
                done_agents.push(id);
            }
        }
        // Agents that finished keep their slot for this output only.
        for id in done_agents {
            self.slot_of.remove(&id);
        }
        self.ended = out.info.done;
        Ok(())
    }
}

/// `N` Commons environments stepped in Rust (rayon), written into preallocated numpy arrays of
/// `capacity` agent slots per environment: the same arrays every step (PufferLib / EnvPool style).
#[pyclass(module = "commons_rl._native")]
struct VectorEnv {
    envs: Vec<Slots>,
    cap: usize,
    l: usize,
    m: usize,
    heads: Vec<usize>,
    base_seed: u64,
    obs: Py<numpy::PyArray3<f32>>,
    masks: Py<numpy::PyArray3<bool>>,
    reward: Py<PyArray2<f32>>,
    terminated: Py<PyArray2<bool>>,
    truncated: Py<PyArray2<bool>>,
    live: Py<PyArray2<bool>>,
    is_new: Py<PyArray2<bool>>,
    agent: Py<PyArray2<i64>>,
    policy: Py<PyArray2<i64>>,
    invalid: Py<PyArray2<bool>>,
    started: bool,
    /// Each array's data pointer and length when it was allocated: checked before every write.
    layout: Vec<(usize, usize)>,
}

/// The memory of a C-contiguous numpy array, for writing while the GIL is released.
fn raw<T: numpy::Element, D: numpy::ndarray::Dimension>(
    a: &Bound<'_, numpy::PyArray<T, D>>,
) -> PyResult<(usize, usize)> {
    use numpy::{PyArrayMethods, PyUntypedArrayMethods};
    if !PyUntypedArrayMethods::is_c_contiguous(a) {
        return Err(PyRuntimeError::new_err(
            "an output array is no longer contiguous",
        ));
    }
    Ok((a.data() as usize, PyUntypedArrayMethods::len(a)))
}

impl VectorEnv {
    /// The output arrays' data pointers and lengths, in field order.
    fn pointers(&self, py: Python<'_>) -> PyResult<[(usize, usize); 10]> {
        Ok([
            raw(self.obs.bind(py))?,
            raw(self.masks.bind(py))?,
            raw(self.reward.bind(py))?,
            raw(self.terminated.bind(py))?,
            raw(self.truncated.bind(py))?,
            raw(self.live.bind(py))?,
            raw(self.is_new.bind(py))?,
            raw(self.agent.bind(py))?,
            raw(self.policy.bind(py))?,
            raw(self.invalid.bind(py))?,
        ])
    }

    fn run(&mut self, py: Python<'_>, actions: Option<&[i64]>) -> PyResult<()> {
        let ptrs = self.pointers(py)?;
        if !self.layout.is_empty() && ptrs[..] != self.layout[..] {
            return Err(PyRuntimeError::new_err(
                "an output array of this VectorEnv was resized or re-typed: its arrays may be read and their values changed, not reshaped",
            ));
        }
        let (cap, l, m) = (self.cap, self.l, self.m);
        let heads = self.heads.clone();
        let base = self.base_seed;
        let starting = !self.started;
        let envs = &mut self.envs;
        let result: Result<(), String> = py.detach(move || {
            // SAFETY: the arrays are owned by this VectorEnv (kept alive by `self`), C-contiguous, with
            // the pointers and lengths they were allocated with (checked above), and written here by
            // one thread per environment's chunk. Python code must not touch them from another thread
            // during `step`/`reset` (documented on `arrays`).
            let (obs, masks, reward, term, trunc, live, is_new, agent, policy, invalid) = unsafe {
                (
                    std::slice::from_raw_parts_mut(ptrs[0].0 as *mut f32, ptrs[0].1),
                    std::slice::from_raw_parts_mut(ptrs[1].0 as *mut bool, ptrs[1].1),
                    std::slice::from_raw_parts_mut(ptrs[2].0 as *mut f32, ptrs[2].1),
                    std::slice::from_raw_parts_mut(ptrs[3].0 as *mut bool, ptrs[3].1),
                    std::slice::from_raw_parts_mut(ptrs[4].0 as *mut bool, ptrs[4].1),
                    std::slice::from_raw_parts_mut(ptrs[5].0 as *mut bool, ptrs[5].1),
                    std::slice::from_raw_parts_mut(ptrs[6].0 as *mut bool, ptrs[6].1),
                    std::slice::from_raw_parts_mut(ptrs[7].0 as *mut i64, ptrs[7].1),
                    std::slice::from_raw_parts_mut(ptrs[8].0 as *mut i64, ptrs[8].1),
                    std::slice::from_raw_parts_mut(ptrs[9].0 as *mut bool, ptrs[9].1),
                )
            };
            let h = heads.len();
            envs.par_iter_mut()
                .zip(obs.par_chunks_mut(cap * l))
                .zip(masks.par_chunks_mut(cap * m))
                .zip(reward.par_chunks_mut(cap))
                .zip(term.par_chunks_mut(cap))
                .zip(trunc.par_chunks_mut(cap))
                .zip(live.par_chunks_mut(cap))
                .zip(is_new.par_chunks_mut(cap))
                .zip(agent.par_chunks_mut(cap))
                .zip(policy.par_chunks_mut(cap))
                .zip(invalid.par_chunks_mut(cap))
                .enumerate()
                .try_for_each(
                    |(
                        e,
                        (
                            (
                                (
                                    (
                                        (
                                            (
                                                ((((slots, obs), masks), reward), terminated),
                                                truncated,
                                            ),
                                            live,
                                        ),
                                        is_new,
                                    ),
                                    agent,
                                ),
                                policy,
                            ),
                            invalid,
                        ),
                    )| {
                        let mut v = Views {
                            obs,
                            masks,
                            reward,
                            terminated,
                            truncated,
                            live,
                            is_new,
                            agent,
                            policy,
                            invalid,
                        };
                        v.invalid.fill(false);
                        if starting || slots.ended {
                            if !starting {
                                slots.episode += 1;
                            }
                            slots.slot_of.clear();
                            slots
                                .env
                                .reset(commons_rl::env::vec_env::episode_seed(
                                    base,
                                    e,
                                    slots.episode,
                                ))
                                .map_err(|err| err.to_string())?;
                        } else if let Some(all) = actions {
                            let a = &all[e * cap * h..(e + 1) * cap * h];
                            let out = slots.env.output();
                            let mut flat = Vec::with_capacity(out.rows.len() * h);
                            for (i, row) in out.rows.iter().enumerate() {
                                let slot = slots.slot_of.get(&row.agent.0).copied();
                                let mask = out.mask_row(i);
                                let mut offset = 0;
                                for (hd, &bins) in heads.iter().enumerate() {
                                    let mut b = match (slot, row.live()) {
                                        (Some(s), true) => a[s * h + hd],
                                        _ => 0,
                                    };
                                    // `step` checked every live slot's bins before any environment moved.
                                    debug_assert!(b >= 0 && (b as usize) < bins);
                                    if row.live() && !mask[offset + b as usize] {
                                        if let Some(s) = slot {
                                            v.invalid[s] = true;
                                        }
                                        b = 0;
                                    }
                                    flat.push(b as u32);
                                    offset += bins;
                                }
                            }
                            slots.env.step(&flat).map_err(|err| err.to_string())?;
                        }
                        slots.write(&mut v, cap, l, m)?;
                        Ok(())
                    },
                )
        });
        result.map_err(PyValueError::new_err)?;
        self.started = true;
        Ok(())
    }
}

#[pymethods]
impl VectorEnv {
    /// `num_envs` environments of the scenario `env` (population of `agents`, `set` overrides), each
    /// with `capacity` agent slots.
    #[new]
    #[pyo3(signature = (env, agents=None, set=Vec::new(), num_envs=8, capacity=256))]
    fn new(
        py: Python<'_>,
        env: PathBuf,
        agents: Option<PathBuf>,
        set: Vec<String>,
        num_envs: usize,
        capacity: usize,
    ) -> PyResult<Self> {
        if num_envs == 0 || num_envs > 4096 {
            return Err(PyValueError::new_err(format!(
                "num_envs={num_envs} is out of range (allowed: 1 to 4096)"
            )));
        }
        if capacity == 0 || capacity > 1 << 20 {
            return Err(PyValueError::new_err(format!(
                "capacity={capacity} is out of range (allowed: 1 to 1048576)"
            )));
        }
        let (sc, source) = load_scenario(&env, agents.as_deref(), &set)?;
        if sc.kind != EnvKind::Commons {
            return Err(config_error(format!(
                "{}: the vector env runs Commons scenarios",
                env.display()
            )));
        }
        let cfg = scenario::env_config_named(&sc, &env, &source).map_err(config_error)?;
        let probe = CommonsEnv::new(cfg.clone());
        let l = probe.observation_spec(0).len;
        let nvec = probe.action_spec(0).nvec;
        let m: usize = nvec.iter().sum();
        let (n, c) = (num_envs, capacity);
        let envs = (0..n)
            .map(|_| Slots {
                env: CommonsEnv::new(cfg.clone()),
                slot_of: Default::default(),
                written: Vec::new(),
                episode: 0,
                ended: false,
            })
            .collect();
        use numpy::PyArray3;
        let mut v = VectorEnv {
            envs,
            cap: c,
            l,
            m,
            heads: nvec,
            base_seed: 0,
            obs: PyArray3::<f32>::zeros(py, [n, c, l], false).unbind(),
            masks: PyArray3::<bool>::zeros(py, [n, c, m], false).unbind(),
            reward: PyArray2::<f32>::zeros(py, [n, c], false).unbind(),
            terminated: PyArray2::<bool>::zeros(py, [n, c], false).unbind(),
            truncated: PyArray2::<bool>::zeros(py, [n, c], false).unbind(),
            live: PyArray2::<bool>::zeros(py, [n, c], false).unbind(),
            is_new: PyArray2::<bool>::zeros(py, [n, c], false).unbind(),
            agent: Array2::from_elem((n, c), -1i64).into_pyarray(py).unbind(),
            policy: Array2::from_elem((n, c), -1i64).into_pyarray(py).unbind(),
            invalid: PyArray2::<bool>::zeros(py, [n, c], false).unbind(),
            started: false,
            layout: Vec::new(),
        };
        v.layout = v.pointers(py)?.to_vec();
        Ok(v)
    }

    /// Starts episode 0 of every environment; environment `i`'s episode `k` has seed
    /// `episode_seed(seed, i, k)` (as `commons train`'s vector of environments).
    fn reset(&mut self, py: Python<'_>, seed: u64) -> PyResult<()> {
        self.base_seed = seed;
        self.started = false;
        for e in &mut self.envs {
            e.episode = 0;
            e.ended = false;
        }
        self.run(py, None)
    }

    /// Steps every environment with `actions` (`[num_envs, capacity, heads]` int64; slots that are not
    /// live are ignored; a masked bin becomes the head's no-op and is flagged in `invalid`). An
    /// environment whose episode ended in the last step is reset instead (its actions are ignored).
    fn step(&mut self, py: Python<'_>, actions: numpy::PyReadonlyArray3<'_, i64>) -> PyResult<()> {
        if !self.started {
            return Err(PyRuntimeError::new_err("step() before reset()"));
        }
        let a = actions.as_array();
        let want = [self.envs.len(), self.cap, self.heads.len()];
        if a.shape() != want {
            return Err(PyValueError::new_err(format!(
                "actions have shape {:?}, expected {:?}",
                a.shape(),
                want
            )));
        }
        let flat = actions
            .as_slice()
            .map_err(|_| PyValueError::new_err("actions must be a C-contiguous int64 array"))?;
        // Every action is checked before any environment steps, so an error leaves them all as they
        // were (a corrected retry steps each once).
        let (cap, h) = (self.cap, self.heads.len());
        for (e, slots) in self.envs.iter().enumerate() {
            if slots.ended {
                continue;
            }
            let out = slots.env.output();
            for row in out.rows.iter().filter(|r| r.live()) {
                let Some(&s) = slots.slot_of.get(&row.agent.0) else {
                    continue;
                };
                for (hd, &bins) in self.heads.iter().enumerate() {
                    let b = flat[(e * cap + s) * h + hd];
                    if b < 0 || b as usize >= bins {
                        return Err(PyValueError::new_err(format!(
                            "actions[{e}, {s}, {hd}] = {b} is out of range (allowed: 0 to {})",
                            bins - 1
                        )));
                    }
                }
            }
        }
        self.run(py, Some(flat))
    }

    /// The output arrays (the same objects every call, written in place by `reset` and `step`): a dict
    /// of `obs` `[N, C, obs_len]` float32, `masks` `[N, C, Σ nvec]` bool, `reward` float32, `terminated`,
    /// `truncated`, `live`, `is_new`, `invalid` bool and `agent`, `policy` int64 (−1 in an empty slot),
    /// all `[N, C]`. Read them and change their values freely between calls; do not reshape or re-type
    /// them, and do not touch them from another thread while `step` or `reset` runs.
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("obs", self.obs.bind(py))?;
        d.set_item("masks", self.masks.bind(py))?;
        d.set_item("reward", self.reward.bind(py))?;
        d.set_item("terminated", self.terminated.bind(py))?;
        d.set_item("truncated", self.truncated.bind(py))?;
        d.set_item("live", self.live.bind(py))?;
        d.set_item("is_new", self.is_new.bind(py))?;
        d.set_item("agent", self.agent.bind(py))?;
        d.set_item("policy", self.policy.bind(py))?;
        d.set_item("invalid", self.invalid.bind(py))?;
        Ok(d)
    }

    /// Bins per action head.
    #[getter]
    fn nvec(&self) -> Vec<usize> {
        self.heads.clone()
    }

    /// Per environment: the episode it is in.
    fn episodes(&self) -> Vec<u64> {
        self.envs.iter().map(|e| e.episode).collect()
    }

    /// Per environment: whether its episode ended in the last output (it resets at the next step).
    fn ended(&self) -> Vec<bool> {
        self.envs.iter().map(|e| e.ended).collect()
    }

    /// The policy (personality) names, in id order.
    fn policies(&self) -> Vec<String> {
        self.envs[0].env.policies().to_vec()
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(episode_seed, m)?)?;
    m.add_function(wrap_pyfunction!(source_root, m)?)?;
    m.add_class::<Env>()?;
    m.add_class::<VectorEnv>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
