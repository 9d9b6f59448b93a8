//! CartPole: the classic control task with Gymnasium's `CartPole-v1` dynamics, as a one-agent
//! [`MultiAgentEnv`], to validate trainers on a known problem (documented on [`CartPole`]).

use rand::{Rng, SeedableRng};

use super::api::{
    ActionSpec, AgentId, AgentRow, EnvError, MultiAgentEnv, ObservationSpec, PolicyId, StepOutput,
};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_CART + MASS_POLE;
const LENGTH: f64 = 0.5;
const POLE_MASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_THRESHOLD: f64 = 2.4;
/// Steps after which an episode is truncated.
pub const MAX_STEPS: u32 = 500;

/// One entry of CartPole's observation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateVariable {
    /// Name in the observation spec.
    pub name: &'static str,
    /// Meaning.
    pub doc: &'static str,
    /// Lower bound.
    pub low: f32,
    /// Upper bound.
    pub high: f32,
    /// Unit.
    pub unit: &'static str,
}

/// CartPole's observation `[x, ẋ, θ, θ̇]`, in order: names, bounds and units of the spec and the docs.
pub const OBSERVATION: [StateVariable; 4] = [
    StateVariable {
        name: "cart_position",
        doc: "cart position",
        low: -4.8,
        high: 4.8,
        unit: "m",
    },
    StateVariable {
        name: "cart_velocity",
        doc: "cart velocity",
        low: f32::NEG_INFINITY,
        high: f32::INFINITY,
        unit: "m/s",
    },
    StateVariable {
        name: "pole_angle",
        doc: "pole angle",
        low: -0.418_879,
        high: 0.418_879,
        unit: "rad",
    },
    StateVariable {
        name: "pole_angular_velocity",
        doc: "pole angular velocity",
        low: f32::NEG_INFINITY,
        high: f32::INFINITY,
        unit: "rad/s",
    },
];

/// The observation table in Markdown (CartPole's documentation and docs/environment.md hold this text).
pub fn markdown() -> String {
    let num = |x: f32| match x {
        f32::INFINITY => "∞".to_string(),
        f32::NEG_INFINITY => "−∞".to_string(),
        x if x < 0.0 => format!("−{}", -x),
        x => x.to_string(),
    };
    let mut out =
        String::from("| index | name | meaning | min | max | unit |\n|---|---|---|---|---|---|\n");
    for (i, v) in OBSERVATION.iter().enumerate() {
        out.push_str(&format!(
            "| {i} | `{}` | {} | {} | {} | {} |\n",
            v.name,
            v.doc,
            num(v.low),
            num(v.high),
            v.unit
        ));
    }
    out
}

/// Gymnasium's CartPole-v1.
///
/// ## Description
/// A pole is attached by an un-actuated joint to a cart moving along a frictionless track; the agent
/// pushes the cart left or right to keep the pole upright (Barto, Sutton & Anderson 1983).
///
/// ## Action Space
/// One head with 2 bins: 0 push left, 1 push right (force 10 N). Never masked.
///
/// ## Observation Space
/// `f32[4]`, unscaled ([`OBSERVATION`]):
///
#[doc = include_str!("tables/cartpole.md")]
///
/// ## Rewards
/// +1 for every step, including the terminating one.
///
/// ## Starting State
/// Every state variable uniform in [−0.05, 0.05], from the reset seed.
///
/// ## Episode End
/// Terminated when |angle| > 12° or |position| > 2.4; truncated after [`MAX_STEPS`] = 500 steps.
///
/// ## Arguments
/// None. Dynamics (explicit Euler, τ = 0.02 s):
/// `temp = (F + m_p·l·θ̇²·sinθ)/M`, `θ̈ = (g·sinθ − cosθ·temp) / (l·(4/3 − m_p·cos²θ/M))`,
/// `ẍ = temp − m_p·l·θ̈·cosθ/M`, then `x += τ·ẋ, ẋ += τ·ẍ, θ += τ·θ̇, θ̇ += τ·θ̈`.
#[derive(Clone, Debug)]
pub struct CartPole {
    state: [f64; 4],
    steps: u32,
    done: bool,
    out: StepOutput,
    policies: Vec<String>,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl CartPole {
    /// A new environment; call `reset` first.
    pub fn new() -> Self {
        CartPole {
            state: [0.0; 4],
            steps: 0,
            done: true,
            out: StepOutput::default(),
            policies: vec!["cartpole".to_string()],
        }
    }

    /// The physical state `[x, ẋ, θ, θ̇]` in double precision.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Sets the state (for tests against published trajectories).
    pub fn set_state(&mut self, state: [f64; 4]) {
        self.state = state;
        self.write(0.0, false, false, false);
    }

    /// One Euler step of the dynamics under `action` (0 left, 1 right).
    pub fn dynamics(state: [f64; 4], action: u32) -> [f64; 4] {
        let [x, x_dot, theta, theta_dot] = state;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let (sintheta, costheta) = theta.sin_cos();
        let temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASS_POLE * costheta * costheta / TOTAL_MASS));
        let xacc = temp - POLE_MASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        [
            x + TAU * x_dot,
            x_dot + TAU * xacc,
            theta + TAU * theta_dot,
            theta_dot + TAU * thetaacc,
        ]
    }

    /// Whether a state is outside the allowed range.
    pub fn fallen(state: [f64; 4]) -> bool {
        let [x, _, theta, _] = state;
        !(-X_THRESHOLD..=X_THRESHOLD).contains(&x)
            || !(-THETA_THRESHOLD..=THETA_THRESHOLD).contains(&theta)
    }

    fn write(&mut self, reward: f32, terminated: bool, truncated: bool, is_new: bool) {
        self.out.clear(OBSERVATION.len(), 2);
        self.out.rows.push(AgentRow {
            agent: AgentId(0),
            policy: 0,
            reward,
            terminated,
            truncated,
            is_new,
        });
        self.out.obs.extend(self.state.iter().map(|&v| v as f32));
        self.out.masks.extend([true, true]);
        self.out.info.step = self.steps;
        self.out.info.done = terminated || truncated;
    }
}

impl MultiAgentEnv for CartPole {
    const CHEAP_STEP: bool = true;

    fn reset(&mut self, seed: u64) -> Result<&StepOutput, EnvError> {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
        for v in &mut self.state {
            *v = rng.random_range(-0.05..0.05);
        }
        self.steps = 0;
        self.done = false;
        self.write(0.0, false, false, true);
        Ok(&self.out)
    }

    fn step(&mut self, actions: &[u32]) -> Result<&StepOutput, EnvError> {
        if self.done {
            return Err(EnvError::NeedsReset);
        }
        if actions.len() != 1 {
            return Err(EnvError::ActionCount {
                expected: 1,
                rows: 1,
                heads: 1,
                got: actions.len(),
            });
        }
        if actions[0] > 1 {
            return Err(EnvError::MaskedAction {
                agent: AgentId(0),
                head: "push",
                value: actions[0],
            });
        }
        self.state = Self::dynamics(self.state, actions[0]);
        self.steps += 1;
        let terminated = Self::fallen(self.state);
        let truncated = !terminated && self.steps >= MAX_STEPS;
        self.done = terminated || truncated;
        self.write(1.0, terminated, truncated, false);
        Ok(&self.out)
    }

    fn output(&self) -> &StepOutput {
        &self.out
    }

    fn policies(&self) -> &[String] {
        &self.policies
    }

    fn observation_spec(&self, _: PolicyId) -> ObservationSpec {
        ObservationSpec {
            len: OBSERVATION.len(),
            names: OBSERVATION.iter().map(|v| v.name.to_string()).collect(),
            low: OBSERVATION.iter().map(|v| v.low).collect(),
            high: OBSERVATION.iter().map(|v| v.high).collect(),
        }
    }

    fn action_spec(&self, _: PolicyId) -> ActionSpec {
        ActionSpec {
            nvec: vec![2],
            heads: vec!["push".to_string()],
        }
    }
}
