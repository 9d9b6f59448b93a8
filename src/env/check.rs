//! A generic checker every environment must pass (in the spirit of PettingZoo's `parallel_api_test`):
//! shapes, bounds, masks, determinism, and refusal of masked actions.

use rand::{Rng, SeedableRng};

use super::api::{EnvError, MultiAgentEnv, StepOutput};

/// Draws a random legal action for every row of `out` (rows that are not live get zeros).
pub fn random_legal_actions(
    out: &StepOutput,
    nvec: &[usize],
    rng: &mut impl Rng,
    actions: &mut Vec<u32>,
) {
    actions.clear();
    for (i, row) in out.rows.iter().enumerate() {
        let mask = out.mask_row(i);
        let mut offset = 0;
        for &n in nvec {
            let v = if row.live() {
                let allowed = (0..n).filter(|&b| mask[offset + b]).count();
                let pick = rng.random_range(0..allowed.max(1));
                (0..n).filter(|&b| mask[offset + b]).nth(pick).unwrap_or(0)
            } else {
                0
            };
            actions.push(v as u32);
            offset += n;
        }
    }
}

/// What the checker found wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// The flat buffers do not hold one observation and one mask per row.
    #[error("buffer sizes: {obs} obs / {masks} masks for {rows} rows")]
    Buffers {
        /// Observation values.
        obs: usize,
        /// Mask values.
        masks: usize,
        /// Rows.
        rows: usize,
    },
    /// A row's policy has specs whose lengths differ from the output's.
    #[error("row {row}: spec lengths differ from the output's")]
    SpecLength {
        /// The row.
        row: usize,
    },
    /// A reward is NaN or infinite.
    #[error("row {row}: reward {reward}")]
    Reward {
        /// The row.
        row: usize,
        /// The reward.
        reward: f32,
    },
    /// An observation entry is not finite where its bounds are.
    #[error("row {row}: observation {name} = {value}")]
    NonFinite {
        /// The row.
        row: usize,
        /// The entry's name.
        name: String,
        /// Its value.
        value: f32,
    },
    /// An observation entry lies outside its bounds.
    #[error("row {row}: observation {name} = {value} outside [{low}, {high}]")]
    Observation {
        /// The row.
        row: usize,
        /// The entry's name.
        name: String,
        /// Its value.
        value: f32,
        /// Its lower bound.
        low: f32,
        /// Its upper bound.
        high: f32,
    },
    /// A live row's mask allows nothing on one head.
    #[error("row {row}: head {head} has no allowed action")]
    NoAllowedAction {
        /// The row.
        row: usize,
        /// The head.
        head: String,
    },
    /// The environment refused a reset or a legal step.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Replaying a seed gave a different episode.
    #[error("the same seed gave a different episode")]
    NotDeterministic,
    /// A masked action was not refused with [`EnvError::MaskedAction`].
    #[error("row {row}: masked action {value} on head {head} was not refused ({outcome})")]
    MaskedActionAccepted {
        /// The row.
        row: usize,
        /// The head.
        head: usize,
        /// The masked bin.
        value: u32,
        /// What the environment did instead.
        outcome: String,
    },
}

fn check_output<E: MultiAgentEnv>(env: &E, out: &StepOutput) -> Result<(), CheckError> {
    let rows = out.rows.len();
    if out.obs.len() != rows * out.obs_len || out.masks.len() != rows * out.mask_len {
        return Err(CheckError::Buffers {
            obs: out.obs.len(),
            masks: out.masks.len(),
            rows,
        });
    }
    for (i, row) in out.rows.iter().enumerate() {
        let spec = env.observation_spec(row.policy);
        let act = env.action_spec(row.policy);
        if spec.len != out.obs_len || act.mask_len() != out.mask_len {
            return Err(CheckError::SpecLength { row: i });
        }
        if !row.reward.is_finite() {
            return Err(CheckError::Reward {
                row: i,
                reward: row.reward,
            });
        }
        for (j, &v) in out.obs_row(i).iter().enumerate() {
            if !v.is_finite() && spec.high[j].is_finite() {
                return Err(CheckError::NonFinite {
                    row: i,
                    name: spec.names[j].clone(),
                    value: v,
                });
            }
            if v < spec.low[j] - 1e-4 || v > spec.high[j] + 1e-4 {
                return Err(CheckError::Observation {
                    row: i,
                    name: spec.names[j].clone(),
                    value: v,
                    low: spec.low[j],
                    high: spec.high[j],
                });
            }
        }
        if row.live() {
            let mask = out.mask_row(i);
            let mut offset = 0;
            for (h, &n) in act.nvec.iter().enumerate() {
                if !mask[offset..offset + n].iter().any(|&m| m) {
                    return Err(CheckError::NoAllowedAction {
                        row: i,
                        head: act.heads[h].clone(),
                    });
                }
                offset += n;
            }
        }
    }
    Ok(())
}

/// Runs `episodes` episodes of random legal actions from `seed` and checks every output, that the same
/// seed replays the same episode, and that a masked action is refused. Returns the number of steps.
pub fn check_env<E: MultiAgentEnv>(
    env: &mut E,
    seed: u64,
    max_steps: usize,
) -> Result<usize, CheckError> {
    let nvec = env.action_spec(0).nvec.clone();
    let mut trace = Vec::new();
    let mut steps = 0;
    for pass in 0..2 {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
        let mut actions = Vec::new();
        let out = env.reset(seed)?.clone();
        check_output(env, &out)?;
        let mut record = vec![out];
        for _ in 0..max_steps {
            let out = env.output();
            if out.info.done {
                break;
            }
            random_legal_actions(out, &nvec, &mut rng, &mut actions);
            let out = env.step(&actions)?.clone();
            check_output(env, &out)?;
            record.push(out);
        }
        if pass == 0 {
            steps = record.len() - 1;
            trace = record;
        } else if trace != record {
            return Err(CheckError::NotDeterministic);
        }
    }
    // A masked (or out-of-range) action must be refused before it reaches the world.
    let out = env.reset(seed)?.clone();
    if let Some(i) = out.rows.iter().position(|r| r.live()) {
        let mut actions = vec![0u32; out.rows.len() * nvec.len()];
        let mask = out.mask_row(i);
        let mut offset = 0;
        let mut bad = None;
        for (h, &n) in nvec.iter().enumerate() {
            if let Some(b) = (0..n).find(|&b| !mask[offset + b]) {
                bad = Some((h, b as u32));
                break;
            }
            offset += n;
        }
        let (h, b) = bad.unwrap_or((0, nvec[0] as u32));
        actions[i * nvec.len() + h] = b;
        match env.step(&actions) {
            Err(EnvError::MaskedAction { .. }) => {}
            Ok(_) => {
                return Err(CheckError::MaskedActionAccepted {
                    row: i,
                    head: h,
                    value: b,
                    outcome: "it stepped".into(),
                })
            }
            Err(e) => {
                return Err(CheckError::MaskedActionAccepted {
                    row: i,
                    head: h,
                    value: b,
                    outcome: format!("refused with another error: {e}"),
                })
            }
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::api::{ActionSpec, ObservationSpec, PolicyId};
    use crate::env::cartpole::CartPole;

    /// CartPole with a spec that claims the cart never moves right of the centre.
    struct Narrow(CartPole);

    impl MultiAgentEnv for Narrow {
        fn reset(&mut self, seed: u64) -> Result<&StepOutput, EnvError> {
            self.0.reset(seed)
        }
        fn step(&mut self, actions: &[u32]) -> Result<&StepOutput, EnvError> {
            self.0.step(actions)
        }
        fn output(&self) -> &StepOutput {
            self.0.output()
        }
        fn policies(&self) -> &[String] {
            self.0.policies()
        }
        fn observation_spec(&self, p: PolicyId) -> ObservationSpec {
            let mut s = self.0.observation_spec(p);
            s.high[0] = -1.0;
            s
        }
        fn action_spec(&self, p: PolicyId) -> ActionSpec {
            self.0.action_spec(p)
        }
    }

    #[test]
    fn a_value_outside_its_bounds_is_a_typed_error() {
        assert!(check_env(&mut CartPole::new(), 3, 50).is_ok());
        let err = check_env(&mut Narrow(CartPole::new()), 3, 50).unwrap_err();
        match &err {
            CheckError::Observation {
                row, name, high, ..
            } => {
                assert_eq!((*row, name.as_str(), *high), (0, "cart_position", -1.0));
            }
            other => panic!("{other:?}"),
        }
        assert!(err
            .to_string()
            .starts_with("row 0: observation cart_position = "));
    }
}
