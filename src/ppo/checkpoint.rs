//! Checkpoints: `checkpoints/<step>/` holds, per policy, its network (`<name>.ot`) and, for a policy
//! being trained, its optimiser moments (`<name>.adam.ot`), plus `state.json` ([`TrainerState`]): the
//! counters, the learning-rate schedule, the environments' episode numbers and one [`PolicyState`] per
//! policy. `checkpoints/latest` names the newest. A checkpoint is written into a temporary folder and
//! renamed into place, so a checkpoint folder is complete or absent.
//!
//! `state.json` files of version 1 (parallel lists per policy, no optimiser state) still load.
//!
//! Also loading: a run's policies to play ([`load_policies`], [`LoadedPolicy`]), one personality's
//! network for a frozen controller ([`load_frozen`]), and a run's state to resume ([`restore`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::error::{bad_file, file_err, TrainError};
use super::net::ActorCritic;
use super::normalizer::RunningNorm;
use super::policy::{act, rows_of, Policy};
use super::schedule::LrSchedule;
use crate::env::MultiAgentEnv;
use crate::run::training::TrainingFile;
use tch::Device;

/// The version of `state.json` this code writes.
pub const STATE_VERSION: u32 = 2;

/// What a checkpoint restores of one policy besides its network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// Personality name.
    pub name: String,
    /// The observation normaliser.
    pub normalizer: RunningNorm,
    /// The last (up to 100) agents' lifetime returns.
    pub returns: Vec<f32>,
    /// Agents finished so far.
    pub episodes: u64,
    /// The last (up to 10) per-environment-episode mean returns.
    pub episode_means: Vec<f64>,
    /// Environment episodes finished with agents of this policy.
    pub env_episodes: u64,
    /// Adam's step count, when its moments are saved beside the network (`None`: a frozen policy, or a
    /// version-1 checkpoint; the optimiser then starts afresh).
    pub adam_steps: Option<u64>,
}

/// `state.json` of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Environment steps taken.
    pub global_step: u64,
    /// Agent steps taken.
    pub agent_steps: u64,
    /// Updates done.
    pub update: usize,
    /// The learning-rate schedule.
    pub lr_schedule: LrSchedule,
    /// The schedule's fraction used by the last update.
    pub last_lr_fraction: f64,
    /// The base seed of the environments' episodes.
    pub env_seed: u64,
    /// Per environment: the episode it was in (a resumed run restarts that episode with its own seed;
    /// `None` in version-1 checkpoints, whose resumed runs start new episodes).
    pub env_episode_numbers: Option<Vec<u64>>,
    /// One per policy, in the environment's policy order.
    pub policies: Vec<PolicyState>,
}

/// Version 1 of `state.json` (parallel lists).
#[derive(Deserialize)]
struct StateV1 {
    global_step: u64,
    agent_steps: u64,
    update: usize,
    normalizers: Vec<RunningNorm>,
    returns: Vec<Vec<f32>>,
    episodes: Vec<u64>,
    policies: Vec<String>,
    #[serde(default)]
    episode_means: Vec<Vec<f64>>,
    #[serde(default)]
    env_episodes: Vec<u64>,
    #[serde(default)]
    lr_schedule: Option<LrSchedule>,
    #[serde(default)]
    last_lr_fraction: Option<f64>,
}

impl StateV1 {
    fn upgrade(self, path: &Path, total_steps: u64) -> Result<TrainerState, TrainError> {
        let n = self.policies.len();
        for (field, len, optional) in [
            ("normalizers", self.normalizers.len(), false),
            ("returns", self.returns.len(), false),
            ("episodes", self.episodes.len(), false),
            ("episode_means", self.episode_means.len(), true),
            ("env_episodes", self.env_episodes.len(), true),
        ] {
            if len != n && !(optional && len == 0) {
                return Err(bad_file(
                    path,
                    format!("field `{field}` has {len} entries for {n} policies (corrupt checkpoint state)"),
                ));
            }
        }
        let mut normalizers = self.normalizers.into_iter();
        let mut returns = self.returns.into_iter();
        let policies = self
            .policies
            .into_iter()
            .enumerate()
            .map(|(k, name)| PolicyState {
                name,
                normalizer: normalizers.next().expect("length checked"),
                returns: returns.next().expect("length checked"),
                episodes: self.episodes[k],
                episode_means: self.episode_means.get(k).cloned().unwrap_or_default(),
                env_episodes: self.env_episodes.get(k).copied().unwrap_or(0),
                adam_steps: None,
            })
            .collect();
        Ok(TrainerState {
            version: 1,
            global_step: self.global_step,
            agent_steps: self.agent_steps,
            update: self.update,
            lr_schedule: self
                .lr_schedule
                .unwrap_or_else(|| LrSchedule::new(total_steps.max(1))),
            last_lr_fraction: self.last_lr_fraction.unwrap_or(0.0),
            env_seed: 0,
            env_episode_numbers: None,
            policies,
        })
    }
}

impl TrainerState {
    /// The policy names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name.as_str()).collect()
    }

    /// Checks the lengths and ranges of everything a checkpoint restores against the policies that will
    /// use it (`(name, observation length)` in policy order; `None`: check the state on its own) and
    /// the number of environments (`None`: any). A bad field is an error naming the file and the field,
    /// never an index panic later.
    pub fn validate(
        &self,
        path: &Path,
        policies: Option<&[(&str, usize)]>,
    ) -> Result<(), TrainError> {
        let bad = |message: String| bad_file(path, message);
        if let Some(expected) = policies {
            let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
            if self.names() != names {
                return Err(bad(format!(
                    "this checkpoint is for policies [{}], this run has [{}]",
                    self.names().join(", "),
                    names.join(", ")
                )));
            }
        }
        let lr = &self.lr_schedule;
        if lr.from_step >= lr.to_step || !(0.0..=1.0).contains(&lr.from_fraction) {
            return Err(bad(format!(
                "field `lr_schedule` = {{from_step {}, from_fraction {}, to_step {}}} is out of range (allowed: from_step < to_step, from_fraction 0 to 1)",
                lr.from_step, lr.from_fraction, lr.to_step
            )));
        }
        if !(0.0..=1.0).contains(&self.last_lr_fraction) {
            return Err(bad(format!(
                "field `last_lr_fraction` = {} is out of range (allowed: 0 to 1)",
                self.last_lr_fraction
            )));
        }
        if self.update as u64 > self.global_step || self.agent_steps > u64::MAX / 2 {
            return Err(bad(format!(
                "fields `update` = {} / `agent_steps` = {} are out of range (allowed: update <= global_step = {})",
                self.update, self.agent_steps, self.global_step
            )));
        }
        for (k, p) in self.policies.iter().enumerate() {
            let norm = &p.normalizer;
            let want = policies.map(|e| e[k].1).unwrap_or(norm.mean.len());
            for (what, v) in [("mean", &norm.mean), ("var", &norm.var)] {
                if v.len() != want {
                    return Err(bad(format!(
                        "field `policies[{k}].normalizer.{what}` has {} entries, the observation has {want} (corrupt checkpoint state, another scenario, or a run trained before `own.asked` joined the observation: retrain it)",
                        v.len()
                    )));
                }
                if let Some(j) = v
                    .iter()
                    .position(|x| !x.is_finite() || (what == "var" && *x < 0.0))
                {
                    return Err(bad(format!(
                        "field `policies[{k}].normalizer.{what}[{j}]` = {} is out of range (allowed: finite{})",
                        v[j],
                        if what == "var" { ", >= 0" } else { "" }
                    )));
                }
            }
            if !(norm.count.is_finite() && norm.count > 0.0) {
                return Err(bad(format!(
                    "field `policies[{k}].normalizer.count` = {} is out of range (allowed: > 0)",
                    norm.count
                )));
            }
        }
        Ok(())
    }
}

/// Reads a checkpoint's `state.json` (either version; `total_steps` anchors a version-1 file's
/// schedule when it has none).
pub fn read_state(path: &Path, total_steps: u64) -> Result<TrainerState, TrainError> {
    let text = std::fs::read_to_string(path).map_err(file_err(path))?;
    let corrupt = |e: serde_json::Error| bad_file(path, format!("corrupt checkpoint state: {e}"));
    let value: serde_json::Value = serde_json::from_str(&text).map_err(corrupt)?;
    // Errors name the field (`policies[0].adam_steps`), not only the position.
    let field = |e: serde_path_to_error::Error<serde_json::Error>| {
        bad_file(
            path,
            format!(
                "corrupt checkpoint state: field `{}`: {}",
                e.path(),
                e.inner()
            ),
        )
    };
    match value.get("version").and_then(|v| v.as_u64()) {
        None => serde_path_to_error::deserialize::<_, StateV1>(value)
            .map_err(field)?
            .upgrade(path, total_steps),
        Some(v) if v == STATE_VERSION as u64 => {
            serde_path_to_error::deserialize(value).map_err(field)
        }
        Some(v) => Err(bad_file(
            path,
            format!("field `version` = {v} is not supported (allowed: 1 or {STATE_VERSION}; written by a newer commons-rl?)"),
        )),
    }
}

/// The latest checkpoint folder of a run.
pub fn latest(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let pointer = run_dir.join("checkpoints").join("latest");
    let text = std::fs::read_to_string(&pointer)
        .map_err(|e| bad_file(&pointer, format!("no checkpoint to resume from ({e})")))?;
    let step: u64 = text.trim().parse().map_err(|_| {
        bad_file(
            &pointer,
            format!(
                "corrupt checkpoint pointer `{}` (expected a step number)",
                text.trim()
            ),
        )
    })?;
    Ok(run_dir.join("checkpoints").join(step.to_string()))
}

/// One policy's part of a checkpoint to write.
pub struct PolicyFiles<'a> {
    /// Personality name.
    pub name: &'a str,
    /// Network.
    pub net: &'a ActorCritic,
    /// Optimiser (`None`: a frozen policy).
    pub adam: Option<&'a Adam>,
}

/// Writes `checkpoints/<global_step>/` and points `latest` at it.
pub fn save(
    run_dir: &Path,
    state: &TrainerState,
    policies: &[PolicyFiles],
) -> Result<PathBuf, TrainError> {
    let root = run_dir.join("checkpoints");
    std::fs::create_dir_all(&root).map_err(file_err(&root))?;
    let final_dir = root.join(state.global_step.to_string());
    let tmp = root.join(format!(".tmp-{}", state.global_step));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(file_err(&tmp))?;
    for p in policies {
        let path = tmp.join(format!("{}.ot", p.name));
        p.net
            .save(&path)
            .map_err(|e| bad_file(&path, e.to_string()))?;
        if let Some(adam) = p.adam {
            let path = tmp.join(format!("{}.adam.ot", p.name));
            adam.save(&path)
                .map_err(|e| bad_file(&path, e.to_string()))?;
        }
    }
    let state_path = tmp.join("state.json");
    let mut json =
        serde_json::to_string_pretty(state).map_err(|e| bad_file(&state_path, e.to_string()))?;
    json.push('\n');
    std::fs::write(&state_path, json).map_err(file_err(&state_path))?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(file_err(&final_dir))?;
    let pointer = root.join("latest");
    crate::atomic::write_atomic(&pointer, state.global_step.to_string().as_bytes())
        .map_err(file_err(&pointer))?;
    Ok(final_dir)
}

/// Loads policy `name`'s network from checkpoint folder `dir` into `net`.
pub fn load_net(dir: &Path, name: &str, net: &mut ActorCritic) -> Result<(), TrainError> {
    let path = dir.join(format!("{name}.ot"));
    net.load(&path).map_err(|e| {
        bad_file(
            &path,
            format!(
                "cannot load the network (corrupt or missing, or saved with another `hidden` width or scenario than the run's config.toml gives): {}",
                e.to_string().lines().next().unwrap_or("unreadable")
            ),
        )
    })
}

/// Loads policy `name`'s optimiser moments from checkpoint folder `dir` into `adam` (`steps` from its
/// [`PolicyState`]).
pub fn load_adam(dir: &Path, name: &str, adam: &mut Adam, steps: u64) -> Result<(), TrainError> {
    let path = dir.join(format!("{name}.adam.ot"));
    adam.load(&path, steps)
        .map_err(|e| bad_file(&path, format!("cannot load the optimiser state: {e}")))
}

// ---- Loading policies to play (evaluation, frozen controllers) and to resume.

/// Restores the policies and counters of `run_dir`'s latest checkpoint; returns the state read.
pub(crate) fn restore(
    run_dir: &Path,
    policies: &mut [Policy],
    total_steps: u64,
) -> Result<TrainerState, TrainError> {
    let dir = latest(run_dir)?;
    let state_path = dir.join("state.json");
    let state = read_state(&state_path, total_steps)?;
    let expected: Vec<(&str, usize)> = policies
        .iter()
        .map(|p| (p.name.as_str(), p.net.obs_len))
        .collect();
    state.validate(&state_path, Some(&expected))?;
    for (p, st) in policies.iter_mut().zip(&state.policies) {
        load_net(&dir, &p.name, &mut p.net)?;
        p.restore(st);
        if let (false, Some(steps)) = (p.frozen, st.adam_steps) {
            load_adam(&dir, &p.name, &mut p.adam, steps)?;
        }
    }
    Ok(state)
}

/// A trained policy loaded for playing: network and observation normaliser.
pub struct LoadedPolicy {
    /// Personality name.
    pub name: String,
    /// Network.
    pub net: ActorCritic,
    /// Observation normaliser as at the checkpoint.
    pub norm: RunningNorm,
    /// Where its tensors live.
    pub device: Device,
}

impl LoadedPolicy {
    /// Samples actions for every live row of `out` served by policy `k` (writing them into `actions`,
    /// `heads` values per row) and returns how many rows it acted for.
    pub fn act(
        &self,
        k: usize,
        out: &crate::env::StepOutput,
        rng: &mut rand_pcg::Pcg32,
        actions: &mut [u32],
    ) -> Result<usize, TrainError> {
        let mut norm = self.norm.clone();
        let a = act(
            &self.net,
            &mut norm,
            false,
            out,
            rows_of(out, k),
            rng,
            self.device,
            false,
        )?;
        Ok(a.scatter(self.net.nvec.len(), actions))
    }
}

/// Loads one personality's network and normaliser from a run folder (its latest checkpoint) or from a
/// checkpoint folder, for a frozen controller. The hidden width comes from that run's `config.toml`.
pub fn load_frozen(
    path: &Path,
    name: &str,
    obs_len: usize,
    nvec: &[usize],
    device: Device,
) -> Result<(ActorCritic, RunningNorm), TrainError> {
    let (run_dir, dir) = if path.join("checkpoints").join("latest").exists() {
        (path.to_path_buf(), latest(path)?)
    } else {
        let run = path
            .parent()
            .and_then(Path::parent)
            .unwrap_or(path)
            .to_path_buf();
        (run, path.to_path_buf())
    };
    let state_path = dir.join("state.json");
    let state = read_state(&state_path, 1)?;
    state.validate(&state_path, None)?;
    // The network's width is the one that run trained with.
    let hidden = crate::run::config::RunConfig::load(&run_dir)?
        .training
        .ppo_for(name)
        .hidden;
    let st: &PolicyState = state
        .policies
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            bad_file(
                &state_path,
                format!(
                    "no policy `{name}` in this checkpoint (it has {:?})",
                    state.names()
                ),
            )
        })?;
    let mut net = ActorCritic::new(device, obs_len, nvec, hidden);
    load_net(&dir, name, &mut net)?;
    if st.normalizer.mean.len() != obs_len {
        return Err(bad_file(
            &state_path,
            format!(
                "field `normalizer.mean` of policy `{name}` has {} entries, this scenario's observation has {obs_len}",
                st.normalizer.mean.len()
            ),
        ));
    }
    Ok((net, st.normalizer.clone()))
}

/// Loads the policies of a run's latest checkpoint for the policies `env` serves.
pub fn load_policies<E: MultiAgentEnv>(
    run_dir: &Path,
    env: &E,
    file: &TrainingFile,
    device: Device,
) -> Result<(Vec<LoadedPolicy>, u64), TrainError> {
    let mut policies = Vec::new();
    for (k, name) in env.policies().iter().enumerate() {
        let cfg = file.ppo_for(name);
        let obs_len = env.observation_spec(k as u16).len;
        let nvec = env.action_spec(k as u16).nvec;
        let net = ActorCritic::new(device, obs_len, &nvec, cfg.hidden);
        let norm = RunningNorm::new(obs_len, cfg.normalize_observations);
        policies.push(Policy::new(name, net, norm, cfg.clone(), true));
    }
    let state = restore(run_dir, &mut policies, file.train.total_steps)?;
    Ok((
        policies
            .into_iter()
            .map(|p| LoadedPolicy {
                name: p.name,
                net: p.net,
                norm: p.norm,
                device,
            })
            .collect(),
        state.global_step,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(len: usize) -> RunningNorm {
        RunningNorm::new(len, true)
    }

    #[test]
    fn a_version_1_state_upgrades_and_a_short_list_is_an_error_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let v1 = serde_json::json!({
            "global_step": 1024, "agent_steps": 5000, "update": 2,
            "normalizers": [norm(3), norm(3)], "returns": [[1.0], [2.0, 3.0]], "episodes": [1, 2],
            "policies": ["a", "b"],
        });
        std::fs::write(&path, v1.to_string()).unwrap();
        let s = read_state(&path, 4096).unwrap();
        assert_eq!(s.names(), ["a", "b"]);
        assert_eq!(s.policies[1].returns, vec![2.0, 3.0]);
        assert_eq!(s.lr_schedule, LrSchedule::new(4096));
        assert_eq!(s.policies[0].adam_steps, None);
        s.validate(&path, Some(&[("a", 3), ("b", 3)])).unwrap();
        let e = s
            .validate(&path, Some(&[("a", 4), ("b", 4)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("policies[0].normalizer.mean") && e.contains("state.json"),
            "{e}"
        );

        let mut short = v1.clone();
        short["episodes"] = serde_json::json!([1]);
        std::fs::write(&path, short.to_string()).unwrap();
        let e = read_state(&path, 4096).unwrap_err().to_string();
        assert!(e.contains("`episodes` has 1 entries for 2 policies"), "{e}");
    }

    #[test]
    fn the_current_version_round_trips_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let s = TrainerState {
            version: STATE_VERSION,
            global_step: 2048,
            agent_steps: 9000,
            update: 4,
            lr_schedule: LrSchedule::new(8192),
            last_lr_fraction: 0.75,
            env_seed: 77,
            env_episode_numbers: Some(vec![3, 4]),
            policies: vec![PolicyState {
                name: "a".into(),
                normalizer: norm(2),
                returns: vec![0.5],
                episodes: 1,
                episode_means: vec![0.25],
                env_episodes: 1,
                adam_steps: Some(16),
            }],
        };
        std::fs::write(&path, serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(read_state(&path, 1).unwrap(), s);
        let mut v = serde_json::to_value(&s).unwrap();
        v["version"] = serde_json::json!(9);
        std::fs::write(&path, v.to_string()).unwrap();
        let e = read_state(&path, 1).unwrap_err().to_string();
        assert!(e.contains("field `version` = 9"), "{e}");
    }
}
