//! `VectorEnv`: `N` Commons environments stepped in Rust (rayon, the GIL released), written into
//! preallocated numpy arrays of `capacity` agent slots per environment, the same arrays every step
//! (PufferLib / EnvPool style). The arrays are declared once, in [`buffers!`]: each one's name, element
//! type, shape and empty value; the struct that owns them, the raw views written while the GIL is
//! released, the per-environment views and the dict Python reads all derive from that list.

use std::collections::HashMap;
use std::path::PathBuf;

use commons_rl::env::vec_env::episode_seed;
use commons_rl::env::{CommonsEnv, MultiAgentEnv};
use commons_rl::scenario::{self, EnvKind};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{
    Element, IntoPyArray, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::{config_error, load_scenario};

/// The sizes the output arrays are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dims {
    /// Environments.
    envs: usize,
    /// Agent slots per environment.
    cap: usize,
    /// Observation length.
    obs_len: usize,
    /// Mask length (Σ nvec).
    mask_len: usize,
}

/// What one slot of an output array holds.
#[derive(Clone, Copy, Debug)]
enum Width {
    /// An observation row: `[N, C, obs_len]`.
    Obs,
    /// A mask row: `[N, C, Σ nvec]`.
    Mask,
    /// One value: `[N, C]`.
    One,
}

impl Dims {
    /// The shape of an array whose slots hold `w`.
    fn shape(&self, w: Width) -> Vec<usize> {
        match w {
            Width::Obs => vec![self.envs, self.cap, self.obs_len],
            Width::Mask => vec![self.envs, self.cap, self.mask_len],
            Width::One => vec![self.envs, self.cap],
        }
    }
}

/// One output array's memory (typed pointer and element count), read with the GIL held after
/// [`Raw::of`] checked its dtype, shape and contiguity.
#[derive(Debug, PartialEq)]
struct Raw<T> {
    ptr: *mut T,
    len: usize,
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Raw<T> {}

// SAFETY: a `Raw` is only a pointer and a length, sent or shared as values; the memory is reached
// only through `Raws::split`, whose contract makes it valid and unaliased for the views' lifetime.
unsafe impl<T: Send> Send for Raw<T> {}
// SAFETY: as for `Send`: a shared `&Raw` only copies the pointer.
unsafe impl<T: Sync> Sync for Raw<T> {}

/// "`name` was …: …", the error of an output array Python changed.
fn changed(name: &str, what: String) -> PyErr {
    PyRuntimeError::new_err(format!(
        "VectorEnv output array `{name}` {what}: its values may be read and changed, but it must not be reshaped, re-typed or replaced"
    ))
}

impl<T: Element> Raw<T> {
    /// Array `name`'s memory, if it still has element type `T`, shape `shape` and C order.
    fn of(a: &Bound<'_, PyArrayDyn<T>>, name: &str, shape: &[usize]) -> PyResult<Self> {
        let want = numpy::dtype::<T>(a.py());
        let got = PyUntypedArrayMethods::dtype(a);
        if !got.is_equiv_to(&want) {
            return Err(changed(
                name,
                format!("was re-typed to {got} (it is {want})"),
            ));
        }
        if PyUntypedArrayMethods::shape(a) != shape {
            return Err(changed(
                name,
                format!(
                    "was reshaped to {:?} (it is {shape:?})",
                    PyUntypedArrayMethods::shape(a)
                ),
            ));
        }
        if !PyUntypedArrayMethods::is_c_contiguous(a) {
            return Err(changed(name, "is no longer C-contiguous".into()));
        }
        Ok(Raw {
            ptr: a.data(),
            len: PyUntypedArrayMethods::len(a),
        })
    }
}

/// A new array of shape `shape`, every element `fill`.
fn filled<T: Element + Clone>(py: Python<'_>, shape: Vec<usize>, fill: T) -> Py<PyArrayDyn<T>> {
    ArrayD::from_elem(IxDyn(&shape), fill)
        .into_pyarray(py)
        .unbind()
}

/// Declares the output arrays (name: element type, slot width, empty value) and derives from that
/// one list: [`Buffers`] (the numpy arrays), [`Raws`] (their checked memory), [`Views`] (one
/// environment's part of each) and the dict of [`Buffers::dict`].
macro_rules! buffers {
    ($($(#[doc = $doc:literal])* $name:ident: $t:ty, $w:ident, $empty:expr;)*) => {
        /// The output arrays, owned by the [`VectorEnv`] (Python holds references to the same objects).
        struct Buffers {
            $($(#[doc = $doc])* $name: Py<PyArrayDyn<$t>>,)*
        }

        /// The memory of every output array, checked by [`Buffers::raws`].
        #[derive(Clone, Copy, Debug, PartialEq)]
        struct Raws {
            $($name: Raw<$t>,)*
        }

        /// One environment's slots of every output array.
        struct Views<'a> {
            $($(#[doc = $doc])* $name: &'a mut [$t],)*
        }

        impl Buffers {
            /// New arrays of `dims`, every slot empty.
            fn new(py: Python<'_>, dims: Dims) -> Self {
                Buffers { $($name: filled(py, dims.shape(Width::$w), $empty),)* }
            }

            /// Every array's memory, after checking that Python left its dtype, shape and layout as
            /// they were made (a Python exception naming the array otherwise).
            fn raws(&self, py: Python<'_>, dims: Dims) -> PyResult<Raws> {
                Ok(Raws {
                    $($name: Raw::of(self.$name.bind(py), stringify!($name), &dims.shape(Width::$w))?,)*
                })
            }

            /// The arrays by name (the dict `VectorEnv.arrays()` returns).
            fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let d = PyDict::new(py);
                $(d.set_item(stringify!($name), self.$name.bind(py))?;)*
                Ok(d)
            }
        }

        impl Raws {
            /// The name of the first array whose memory differs from `other`'s.
            fn moved(&self, other: &Raws) -> Option<&'static str> {
                $(if self.$name != other.$name {
                    return Some(stringify!($name));
                })*
                None
            }

            /// Every array cut into `envs` equal parts, one [`Views`] per environment.
            ///
            /// # Safety
            /// Each `Raw` must point to `len` initialised elements of its type that stay allocated,
            /// and that nothing else reads or writes, for `'a`.
            unsafe fn split<'a>(self, envs: usize) -> Vec<Views<'a>> {
                $(
                    // SAFETY: the caller's contract.
                    let whole: &'a mut [$t] = unsafe { std::slice::from_raw_parts_mut(self.$name.ptr, self.$name.len) };
                    let mut $name = whole.chunks_exact_mut((whole.len() / envs.max(1)).max(1));
                )*
                (0..envs)
                    .map_while(|_| Some(Views { $($name: $name.next()?,)* }))
                    .collect()
            }
        }
    };
}

buffers! {
    /// Observations.
    obs: f32, Obs, 0.0;
    /// Action masks, heads concatenated.
    masks: bool, Mask, false;
    /// Reward of the last step.
    reward: f32, One, 0.0;
    /// The agent's episode ended (it left).
    terminated: bool, One, false;
    /// The episode was cut at its horizon.
    truncated: bool, One, false;
    /// The agent acts at the next step.
    live: bool, One, false;
    /// The agent arrived in the last step.
    is_new: bool, One, false;
    /// The agent's id (−1: empty slot).
    agent: i64, One, -1;
    /// The agent's policy id (−1: empty slot).
    policy: i64, One, -1;
    /// The slot's last action had a masked bin (played as the head's no-op).
    invalid: bool, One, false;
}

/// One environment of a [`VectorEnv`] and its slot table.
struct Slots {
    env: CommonsEnv,
    /// Slot of each agent of the last output.
    slot_of: HashMap<u64, usize>,
    /// Slots written by the last output.
    written: Vec<usize>,
    /// Episode number (for seeds).
    episode: u64,
    /// The episode ended in the last output: the next `step` resets it.
    ended: bool,
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

    /// Steps the environment with its slots' actions `a` (`[cap, heads]`, checked in range by
    /// `VectorEnv::step`); a masked bin becomes the head's no-op and sets the slot's `invalid`.
    fn step(&mut self, a: &[i64], heads: &[usize], invalid: &mut [bool]) -> Result<(), String> {
        let h = heads.len();
        let out = self.env.output();
        let mut flat = Vec::with_capacity(out.rows.len() * h);
        for (i, row) in out.rows.iter().enumerate() {
            let slot = self.slot_of.get(&row.agent.0).copied();
            let mask = out.mask_row(i);
            let mut offset = 0;
            for (hd, &bins) in heads.iter().enumerate() {
                let mut b = match (slot, row.live()) {
                    (Some(s), true) => a[s * h + hd],
                    _ => 0,
                };
                // `VectorEnv::step` checked every live slot's bins before any environment moved.
                debug_assert!(b >= 0 && (b as usize) < bins);
                if row.live() && !mask[offset + b as usize] {
                    if let Some(s) = slot {
                        invalid[s] = true;
                    }
                    b = 0;
                }
                flat.push(b as u32);
                offset += bins;
            }
        }
        self.env.step(&flat).map_err(|err| err.to_string())?;
        Ok(())
    }
}

/// `N` Commons environments stepped in Rust (rayon), written into preallocated numpy arrays of
/// `capacity` agent slots per environment: the same arrays every step (PufferLib / EnvPool style).
#[pyclass(module = "commons_rl._native")]
pub(crate) struct VectorEnv {
    envs: Vec<Slots>,
    dims: Dims,
    heads: Vec<usize>,
    base_seed: u64,
    buffers: Buffers,
    /// The arrays' memory when they were made: checked before every write.
    layout: Raws,
    started: bool,
}

impl VectorEnv {
    /// Resets (`actions` = `None`) or steps every environment, writing the output arrays.
    fn run(&mut self, py: Python<'_>, actions: Option<&[i64]>) -> PyResult<()> {
        let raws = self.buffers.raws(py, self.dims)?;
        if let Some(name) = raws.moved(&self.layout) {
            return Err(changed(name, "was reallocated (its memory moved)".into()));
        }
        let Dims {
            envs: n,
            cap,
            obs_len: l,
            mask_len: m,
        } = self.dims;
        let heads = &self.heads[..];
        let base = self.base_seed;
        let starting = !self.started;
        let envs = &mut self.envs;
        let result: Result<(), String> = py.detach(move || {
            // SAFETY: `raws` are the arrays this VectorEnv owns (kept alive by `self`, which this call
            // borrows), with the dtype, shape, C order and memory they were made with (checked above
            // with the GIL held). Rust writes them only here, one environment's part per thread, and
            // Python code must not touch them from another thread during `step`/`reset` (documented
            // on `arrays`).
            let views = unsafe { raws.split(n) };
            envs.par_iter_mut()
                .zip(views)
                .enumerate()
                .try_for_each(|(e, (slots, mut v))| {
                    v.invalid.fill(false);
                    if starting || slots.ended {
                        if !starting {
                            slots.episode += 1;
                        }
                        slots.slot_of.clear();
                        slots
                            .env
                            .reset(episode_seed(base, e, slots.episode))
                            .map_err(|err| err.to_string())?;
                    } else if let Some(all) = actions {
                        let h = heads.len();
                        slots.step(&all[e * cap * h..(e + 1) * cap * h], heads, v.invalid)?;
                    }
                    slots.write(&mut v, cap, l, m)
                })
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
        let nvec = probe.action_spec(0).nvec;
        let dims = Dims {
            envs: num_envs,
            cap: capacity,
            obs_len: probe.observation_spec(0).len,
            mask_len: nvec.iter().sum(),
        };
        // The arrays, and a world per environment, must fit: refuse before allocating.
        // Per slot: the observation (f32), the mask and five flags (bool), the reward (f32), two ids (i64).
        let slot_bytes = (dims.obs_len * 4 + dims.mask_len + 5 + 4 + 2 * 8) as u64;
        commons_rl::run::memory::check(
            ((num_envs * capacity) as u64)
                .saturating_mul(slot_bytes)
                .saturating_add(
                    commons_rl::run::memory::world_bytes(&cfg.model)
                        .saturating_mul(num_envs as u64),
                ),
            &format!("a VectorEnv of {num_envs} environments x {capacity} slots"),
            "num_envs or capacity",
            false,
        )
        .map_err(|e| {
            PyValueError::new_err(
                e.to_string()
                    .replace(", or pass --ignore-memory-limit to try anyway", ""),
            )
        })?;
        let envs = (0..num_envs)
            .map(|_| Slots {
                env: CommonsEnv::new(cfg.clone()),
                slot_of: HashMap::new(),
                written: Vec::new(),
                episode: 0,
                ended: false,
            })
            .collect();
        let buffers = Buffers::new(py, dims);
        let layout = buffers.raws(py, dims)?;
        Ok(VectorEnv {
            envs,
            dims,
            heads: nvec,
            base_seed: 0,
            buffers,
            layout,
            started: false,
        })
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
        let want = [self.envs.len(), self.dims.cap, self.heads.len()];
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
        let (cap, h) = (self.dims.cap, self.heads.len());
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
        self.buffers.dict(py)
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
