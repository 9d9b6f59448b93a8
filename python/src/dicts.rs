//! The dict API of one environment (PettingZoo's, and RLlib's through `commons_rl.rllib`): agent
//! names, actions read from a dict of agent id → action, and the five per-agent dicts of an output,
//! all built here rather than in Python, so a step costs a few Python objects per agent.
//!
//! Masks are interned: agents whose mask is the same share one read-only numpy array per head (and
//! one flat mask), built the first time that mask is seen.

use std::collections::HashMap;

use commons_rl::env::episodes::COMPONENTS;
use commons_rl::env::personality::Component;
use commons_rl::env::StepOutput;
use numpy::{IntoPyArray, PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// How the observation dicts look.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// PettingZoo: `{"observation": f32[obs_len], "action_mask": (i8[n_h] per head)}`.
    PettingZoo,
    /// RLlib's `ActionMaskingTorchRLModule`: `{"observations": f32[obs_len], "action_mask": f32[Σ n_h]}`.
    Flat,
}

/// The interned Python objects of one mask pattern.
struct MaskObjects {
    /// The observation's `action_mask` (a tuple of per-head arrays, or the flat f32 array).
    observed: Py<PyAny>,
    /// The info's `action_mask`: the flat int8 array.
    flat: Py<PyAny>,
}

/// Interned keys of the dicts.
struct Keys {
    observation: Py<PyString>,
    action_mask: Py<PyString>,
    metrics: Py<PyString>,
    reward_components: Py<PyString>,
    invalid_action: Py<PyString>,
    components: Vec<Py<PyString>>,
}

/// The dict API's state for one environment.
pub struct DictApi {
    style: Style,
    /// Id pool per personality.
    cap: usize,
    /// Per policy: the personality name and the bins of each head.
    policies: Vec<String>,
    nvec: Vec<Vec<usize>>,
    keys: Keys,
    /// Live agents' names by world agent id.
    name_of: HashMap<u64, Py<PyString>>,
    /// Agents of each personality named so far this episode.
    counts: Vec<usize>,
    /// Per row of the last output: the agent's name if it is live (acts next).
    live: Vec<Option<Py<PyString>>>,
    /// Whether each agent's last action had a masked bin replaced (by world agent id).
    replaced: HashMap<u64, bool>,
    /// Interned masks by (policy, mask): a policy's heads decide how the mask splits.
    masks: HashMap<(usize, Box<[bool]>), MaskObjects>,
}

/// A Python-style shape, `(3,)` or `(2, 4)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A list as Python prints it, `[1, 0, 3]`.
fn list_text<T: std::fmt::Display>(v: &[T]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl DictApi {
    /// The dict API for an environment with these policies (personality names) and their heads' bins.
    pub fn new(
        py: Python<'_>,
        style: Style,
        cap: usize,
        policies: Vec<String>,
        nvec: Vec<Vec<usize>>,
    ) -> Self {
        let s = |t: &str| PyString::new(py, t).unbind();
        let keys = Keys {
            observation: s(match style {
                Style::PettingZoo => "observation",
                Style::Flat => "observations",
            }),
            action_mask: s("action_mask"),
            metrics: s("metrics"),
            reward_components: s("reward_components"),
            invalid_action: s("invalid_action"),
            components: Component::ALL.iter().map(|c| s(c.name())).collect(),
        };
        let counts = vec![0; policies.len()];
        DictApi {
            style,
            cap,
            policies,
            nvec,
            keys,
            name_of: HashMap::new(),
            counts,
            live: Vec::new(),
            replaced: HashMap::new(),
            masks: HashMap::new(),
        }
    }

    /// Forgets the episode's names (a new episode starts again from `_0`).
    pub fn reset(&mut self) {
        self.name_of.clear();
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.live.clear();
        self.replaced.clear();
    }

    /// The live agents' names, in row order.
    pub fn live_names<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyString>> {
        self.live
            .iter()
            .flatten()
            .map(|n| n.bind(py).clone())
            .collect()
    }

    /// Live agents of the last output.
    pub fn live_count(&self) -> usize {
        self.live.iter().filter(|n| n.is_some()).count()
    }

    /// The interned objects of `mask` (a row of policy `p`).
    fn mask_objects(&mut self, py: Python<'_>, p: usize, mask: &[bool]) -> PyResult<&MaskObjects> {
        let key = (p, Box::<[bool]>::from(mask));
        if !self.masks.contains_key(&key) {
            if self.masks.len() >= 1 << 14 {
                self.masks.clear(); // patterns are few; never let a pathological run grow without bound
            }
            let read_only = |a: Bound<'_, PyAny>| -> PyResult<Py<PyAny>> {
                a.call_method1("setflags", (false,))?;
                Ok(a.unbind())
            };
            let flat: Vec<i8> = mask.iter().map(|&b| b as i8).collect();
            let observed = match self.style {
                Style::PettingZoo => {
                    let mut heads = Vec::with_capacity(self.nvec[p].len());
                    let mut o = 0;
                    for &n in &self.nvec[p] {
                        heads.push(read_only(
                            PyArray1::from_slice(py, &flat[o..o + n]).into_any(),
                        )?);
                        o += n;
                    }
                    PyTuple::new(py, heads)?.into_any().unbind()
                }
                Style::Flat => {
                    let f: Vec<f32> = mask.iter().map(|&b| b as u8 as f32).collect();
                    read_only(f.into_pyarray(py).into_any())?
                }
            };
            let flat = read_only(flat.into_pyarray(py).into_any())?;
            self.masks
                .insert(key.clone(), MaskObjects { observed, flat });
        }
        Ok(&self.masks[&key])
    }

    /// The flat action vector (one bin per head for every row of `out`) from `actions`, a dict of
    /// agent id → action, checked against the live agents of `out` (the output these names were
    /// built from). A masked bin is the head's no-op (bin 0) and recorded, unless `strict`.
    pub fn actions(
        &mut self,
        py: Python<'_>,
        out: &StepOutput,
        policies: &[u16],
        actions: &Bound<'_, PyAny>,
        strict: bool,
    ) -> PyResult<Vec<u32>> {
        let actions = actions.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "actions must be a dict of agent id -> action, not {}",
                actions
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let live = self.live_count();
        let heads = self.nvec.first().map_or(1, |n| n.len());
        let mut missing = None;
        let mut flat = vec![0u32; out.rows.len() * heads];
        let mut replaced = Vec::new();
        let numpy = py.import("numpy")?;
        for (i, name) in self.live.iter().enumerate() {
            let Some(name) = name else { continue };
            let Some(a) = actions.get_item(name)? else {
                missing.get_or_insert_with(|| name.clone_ref(py));
                continue;
            };
            let name = name.bind(py);
            let p = policies[i] as usize;
            let bins = read_action(&numpy, &a, name, heads)?;
            let nvec = &self.nvec[p];
            if bins
                .iter()
                .zip(nvec)
                .any(|(&b, &n)| b < 0 || b as usize >= n)
            {
                return Err(PyValueError::new_err(format!(
                    "action {} for '{}' is outside MultiDiscrete({})",
                    list_text(&bins),
                    name,
                    list_text(nvec)
                )));
            }
            let mask = out.mask_row(i);
            let mut offset = 0;
            let mut was_replaced = false;
            let mut masked_heads = Vec::new();
            for (h, (&b, &n)) in bins.iter().zip(nvec).enumerate() {
                let mut b = b as usize;
                if !mask[offset + b] {
                    masked_heads.push(h);
                    was_replaced = true;
                    b = 0;
                }
                flat[i * heads + h] = b as u32;
                offset += n;
            }
            if strict && was_replaced {
                return Err(PyValueError::new_err(format!(
                    "action {} for '{}' is masked on head(s) {} (see its action_mask)",
                    list_text(&bins),
                    name,
                    list_text(&masked_heads)
                )));
            }
            replaced.push((out.rows[i].agent.0, was_replaced));
        }
        if actions.len() != live || missing.is_some() {
            for key in actions.keys() {
                let known = key.cast::<PyString>().ok().is_some_and(|k| {
                    self.live
                        .iter()
                        .flatten()
                        .any(|n| n.bind(py).as_any().eq(k).unwrap_or(false))
                });
                if !known {
                    return Err(PyKeyError::new_err(format!(
                        "unknown agent {}: not acting now ({live} live agents; see env.agents)",
                        key.repr()?
                    )));
                }
            }
            let n_missing = self
                .live
                .iter()
                .flatten()
                .filter(|n| !actions.contains(n.bind(py)).unwrap_or(false))
                .count();
            let example = missing.map(|m| m.bind(py).to_string()).unwrap_or_default();
            return Err(PyValueError::new_err(format!(
                "no action for {n_missing} live agent(s), e.g. '{example}'"
            )));
        }
        self.replaced = replaced.into_iter().collect();
        Ok(flat)
    }

    /// The five dicts of `out` (`observations, rewards, terminations, truncations, infos`), added to
    /// `dicts`; names arrivals, forgets agents that finished; `metrics` is the dict every info shares
    /// and `parts` each row's reward components (Commons).
    pub fn collect<'py>(
        &mut self,
        py: Python<'py>,
        out: &StepOutput,
        parts: Option<&[[f64; COMPONENTS]]>,
        metrics: &Bound<'py, PyDict>,
        dicts: &[Bound<'py, PyDict>; 5],
    ) -> PyResult<()> {
        let [obs, rewards, terms, truncs, infos] = dicts;
        self.live.clear();
        for (i, row) in out.rows.iter().enumerate() {
            let id = row.agent.0;
            let p = row.policy as usize;
            let done = !row.live();
            if row.is_new {
                if done {
                    self.live.push(None);
                    continue; // joined on the last day: never acts, so never an agent
                }
                if self.counts[p] >= self.cap {
                    return Err(PyRuntimeError::new_err(format!(
                        "more than max_agents_per_personality={} agents of '{}' in this episode: construct the env with a larger max_agents_per_personality",
                        self.cap, self.policies[p]
                    )));
                }
                let name = PyString::new(py, &format!("{}_{}", self.policies[p], self.counts[p]));
                self.counts[p] += 1;
                self.name_of.insert(id, name.unbind());
            }
            let Some(name) = self.name_of.get(&id).map(|n| n.clone_ref(py)) else {
                self.live.push(None);
                continue;
            };
            let name = name.into_bound(py);
            let keys = &self.keys;
            let ob = PyDict::new(py);
            ob.set_item(&keys.observation, PyArray1::from_slice(py, out.obs_row(i)))?;
            let info = PyDict::new(py);
            info.set_item(&keys.metrics, metrics)?;
            if let Some(parts) = parts {
                let rc = PyDict::new(py);
                for (k, v) in keys.components.iter().zip(parts[i]) {
                    rc.set_item(k, v)?;
                }
                info.set_item(&keys.reward_components, rc)?;
            }
            if let Some(&r) = self.replaced.get(&id) {
                info.set_item(&keys.invalid_action, r)?;
            }
            let (mask_key, info_key) = (
                keys.action_mask.clone_ref(py),
                keys.action_mask.clone_ref(py),
            );
            let m = self.mask_objects(py, p, out.mask_row(i))?;
            ob.set_item(&mask_key, &m.observed)?;
            info.set_item(&info_key, &m.flat)?;
            obs.set_item(&name, ob)?;
            rewards.set_item(&name, row.reward as f64)?;
            terms.set_item(&name, row.terminated)?;
            truncs.set_item(&name, row.truncated)?;
            infos.set_item(&name, info)?;
            if done {
                self.name_of.remove(&id);
                self.live.push(None);
            } else {
                self.live.push(Some(name.unbind()));
            }
        }
        Ok(())
    }
}

/// One agent's action as `heads` bins: an int64 array fast, else anything numpy reads as a 1-d
/// integer array; a wrong shape is a `ValueError`, a non-integer dtype a `TypeError`.
fn read_action(
    numpy: &Bound<'_, PyModule>,
    a: &Bound<'_, PyAny>,
    name: &Bound<'_, PyString>,
    heads: usize,
) -> PyResult<Vec<i64>> {
    if let Ok(arr) = a.cast::<PyArray1<i64>>() {
        if arr.len() == heads {
            if let Ok(ro) = arr.try_readonly() {
                if let Ok(s) = ro.as_slice() {
                    return Ok(s.to_vec());
                }
            }
        }
    }
    let arr = numpy.call_method1("asarray", (a,))?;
    let arr = arr.cast::<numpy::PyUntypedArray>()?;
    if arr.shape() != [heads] {
        return Err(PyValueError::new_err(format!(
            "action for '{name}' has shape {}, expected ({heads},) (one bin per head)",
            shape_text(arr.shape())
        )));
    }
    let kind = arr.dtype().kind();
    if kind != b'i' && kind != b'u' {
        return Err(PyTypeError::new_err(format!(
            "action for '{name}' has dtype {}, expected integers",
            arr.dtype()
        )));
    }
    arr.call_method1("astype", ("int64",))?
        .extract::<Vec<i64>>()
}
