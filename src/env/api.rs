//! The multi-agent environment interface, in the spirit of PettingZoo's Parallel API.
//!
//! One [`MultiAgentEnv::step`] advances every live agent at once. Results come back as flat, reused
//! buffers (PufferLib style) in a [`StepOutput`]: one *row* per agent, with its observation, action mask,
//! reward and end flags. Actions for the next step are given row by row, in the order of the last output;
//! rows that are terminated or truncated take no action (their entries are ignored).
//!
//! * Agents have stable [`AgentId`]s, never reused within an episode.
//! * An agent that arrives mid-episode appears (with `is_new`) in the output of the step it arrived in,
//!   and acts from the next step on.
//! * An agent that leaves is `terminated` in the step it left; the horizon makes every live agent
//!   `truncated` (bootstrap its value).

use serde::Serialize;

/// Identity of an agent within an episode (never reused in that episode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AgentId(pub u64);

/// Index of a policy (personality) in the environment's policy table.
pub type PolicyId = u16;

/// A fixed-length observation vector of `f32`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservationSpec {
    /// Length of the vector.
    pub len: usize,
    /// Name of every entry, in order.
    pub names: Vec<String>,
    /// Lower bound of every entry (observations are scaled to about [-1, 1]).
    pub low: Vec<f32>,
    /// Upper bound of every entry.
    pub high: Vec<f32>,
}

/// A multi-discrete action: one choice per head, head `i` taking values `0..nvec[i]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionSpec {
    /// Number of choices per head.
    pub nvec: Vec<usize>,
    /// Name of every head.
    pub heads: Vec<String>,
}

impl ActionSpec {
    /// Total number of choices over all heads (the length of an action mask).
    pub fn mask_len(&self) -> usize {
        self.nvec.iter().sum()
    }
}

/// One agent's entry in a [`StepOutput`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AgentRow {
    /// Who.
    pub agent: AgentId,
    /// Which policy serves it.
    pub policy: PolicyId,
    /// Reward for the last step (0 for a new agent).
    pub reward: f32,
    /// The agent left: no further actions.
    pub terminated: bool,
    /// The episode hit its horizon: no further actions, bootstrap the value.
    pub truncated: bool,
    /// The agent appeared in this step (its first observation).
    pub is_new: bool,
}

impl AgentRow {
    /// Whether the agent acts in the next step.
    pub fn live(&self) -> bool {
        !self.terminated && !self.truncated
    }
}

/// Episode-level information after a step.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepInfo {
    /// Steps taken in this episode.
    pub step: u32,
    /// The episode is over; the next call must be `reset`. `CommonsEnv`: the horizon was reached (an
    /// episode whose agents have all left runs on to the horizon, with no rows); `CartPole`: the pole fell,
    /// the cart left the track, or 500 steps passed.
    pub done: bool,
    /// Named scalar metrics of the world (for logs): `CommonsEnv` gives every outcome metric of
    /// [`crate::model::metrics`] in its order; CartPole none.
    pub metrics: Vec<(&'static str, f64)>,
}

/// The result of `reset` or `step`: rows of agents and their flat buffers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutput {
    /// One row per agent.
    pub rows: Vec<AgentRow>,
    /// Observations, `rows.len() × obs_len`, row-major.
    pub obs: Vec<f32>,
    /// Action masks, `rows.len() × mask_len` (`true` = allowed), row-major, heads concatenated.
    pub masks: Vec<bool>,
    /// Observation length.
    pub obs_len: usize,
    /// Mask length.
    pub mask_len: usize,
    /// Episode information.
    pub info: StepInfo,
}

impl StepOutput {
    /// Empties the buffers, keeping their capacity.
    pub fn clear(&mut self, obs_len: usize, mask_len: usize) {
        self.rows.clear();
        self.obs.clear();
        self.masks.clear();
        self.obs_len = obs_len;
        self.mask_len = mask_len;
        self.info.metrics.clear();
    }

    /// The observation of row `i`.
    pub fn obs_row(&self, i: usize) -> &[f32] {
        &self.obs[i * self.obs_len..(i + 1) * self.obs_len]
    }

    /// The action mask of row `i`.
    pub fn mask_row(&self, i: usize) -> &[bool] {
        &self.masks[i * self.mask_len..(i + 1) * self.mask_len]
    }

    /// Number of rows that act in the next step.
    pub fn live_rows(&self) -> usize {
        self.rows.iter().filter(|r| r.live()).count()
    }
}

/// Errors of an environment step.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    /// The action buffer does not have one action per row of the last output.
    #[error("expected {expected} action values ({rows} rows x {heads} heads), got {got}")]
    ActionCount {
        /// Expected number of values.
        expected: usize,
        /// Rows of the last output.
        rows: usize,
        /// Heads per action.
        heads: usize,
        /// Values given.
        got: usize,
    },
    /// An action outside its head's range or forbidden by the mask.
    #[error("agent {agent:?}: action {value} on head `{head}` is not allowed (mask)")]
    MaskedAction {
        /// Who.
        agent: AgentId,
        /// Head name.
        head: &'static str,
        /// The value given.
        value: u32,
    },
    /// `step` after the episode ended, or before `reset`.
    #[error("step called on a finished or unreset episode; call reset first")]
    NeedsReset,
    /// The world itself failed (e.g. the reference's errors in legacy mode).
    #[error("model: {0}")]
    Model(crate::model::ModelError),
}

// Without `source`, so that `{:#}` at the CLI prints the model's message once.
impl From<crate::model::ModelError> for EnvError {
    fn from(e: crate::model::ModelError) -> Self {
        EnvError::Model(e)
    }
}

/// A multi-agent environment with per-agent observations, rewards and masks.
pub trait MultiAgentEnv {
    /// Starts a new episode from `seed`; the same seed gives the same episode.
    fn reset(&mut self, seed: u64) -> Result<&StepOutput, EnvError>;

    /// Advances one step with one action per row of the last output (`heads` values per row, rows that
    /// are not live are ignored).
    fn step(&mut self, actions: &[u32]) -> Result<&StepOutput, EnvError>;

    /// The last output.
    fn output(&self) -> &StepOutput;

    /// Agents that act in the next step.
    fn agents(&self) -> Vec<AgentId> {
        let out = self.output();
        out.rows
            .iter()
            .filter(|r| r.live())
            .map(|r| r.agent)
            .collect()
    }

    /// Names of the policies (personalities) whose agents this environment may produce.
    fn policies(&self) -> &[String];

    /// Observation layout of a policy's agents.
    fn observation_spec(&self, policy: PolicyId) -> ObservationSpec;

    /// Action heads of a policy's agents.
    fn action_spec(&self, policy: PolicyId) -> ActionSpec;

    /// Whether a step is so cheap (microseconds) that stepping several environments on worker threads
    /// costs more in hand-offs than it saves: `VecEnv` then steps them one after another on the
    /// calling thread (same results either way).
    const CHEAP_STEP: bool = false;

    /// Names of the behaviours an action can show, for logs and evaluation (e.g. `buy`, `sell`); none by
    /// default.
    fn behaviours(&self) -> &'static [&'static str] {
        &[]
    }

    /// Which of [`Self::behaviours`] `action` (one bin per head) shows, written into `shown` (one entry
    /// per behaviour).
    fn shows(&self, action: &[u32], shown: &mut [bool]) {
        let _ = action;
        shown.fill(false);
    }
}
