//! Generalized advantage estimation over the transitions of agents that come and go.
//!
//! Each transition knows its successor in the same agent's trajectory (if the trajectory continues within
//! the rollout) or how it ends: `terminated` (no bootstrap) or cut (truncated at the horizon, or still
//! running when the rollout ends: bootstrap with the value of the next observation).

/// What follows a transition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    /// The same agent's next transition (an index greater than this one's).
    Continue(usize),
    /// The agent left: the return ends here.
    Terminated,
    /// The trajectory is cut (horizon or end of the rollout): bootstrap with this value of the next
    /// observation.
    Bootstrap(f32),
}

/// GAE(γ, λ) for transitions stored in time order (a successor always comes later).
///
/// `δ_t = r_t + γ·V(next) − V(s_t)` (no `V(next)` if terminated) and
/// `A_t = δ_t + γλ·A_{t+1}` along a continuing trajectory. Returns `(advantages, returns = A + V)`.
pub fn gae(
    rewards: &[f32],
    values: &[f32],
    next: &[Next],
    gamma: f32,
    lambda: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = rewards.len();
    let mut adv = vec![0.0f32; n];
    for i in (0..n).rev() {
        let (next_value, carry) = match next[i] {
            Next::Continue(j) => (values[j], adv[j]),
            Next::Terminated => (0.0, 0.0),
            Next::Bootstrap(v) => (v, 0.0),
        };
        let delta = rewards[i] + gamma * next_value - values[i];
        adv[i] = delta + gamma * lambda * carry;
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    /// Two agents interleaved: agent A (0, 2, 4) is truncated after its third step and bootstrapped with
    /// 1.0; agent B (1, 3) leaves after its second step.
    #[test]
    fn hand_computed_interleaved_trajectories() {
        let rewards = [1.0, 0.5, 1.0, 2.0, 1.0];
        let values = [0.5, 0.2, 0.4, 0.1, 0.3];
        let next = [
            Next::Continue(2),
            Next::Continue(3),
            Next::Continue(4),
            Next::Terminated,
            Next::Bootstrap(1.0),
        ];
        let (g, l) = (0.9f32, 0.8f32);
        // Agent B: δ3 = 2 − 0.1 = 1.9; A3 = 1.9. δ1 = 0.5 + 0.9·0.1 − 0.2 = 0.39; A1 = 0.39 + 0.72·1.9 = 1.758
        // Agent A: δ4 = 1 + 0.9·1 − 0.3 = 1.6; A4 = 1.6. δ2 = 1 + 0.9·0.3 − 0.4 = 0.87; A2 = 0.87 + 0.72·1.6 = 2.022
        //          δ0 = 1 + 0.9·0.4 − 0.5 = 0.86; A0 = 0.86 + 0.72·2.022 = 2.31584
        let (adv, ret) = gae(&rewards, &values, &next, g, l);
        close(&adv, &[2.31584, 1.758, 2.022, 1.9, 1.6]);
        close(&ret, &[2.81584, 1.958, 2.422, 2.0, 1.9]);
    }

    #[test]
    fn lambda_one_gives_discounted_returns() {
        let (adv, ret) = gae(
            &[1.0, 1.0, 1.0],
            &[0.0, 0.0, 0.0],
            &[Next::Continue(1), Next::Continue(2), Next::Terminated],
            0.5,
            1.0,
        );
        close(&ret, &[1.75, 1.5, 1.0]);
        close(&adv, &[1.75, 1.5, 1.0]);
    }
}
