//! The PPO loss of one minibatch (CleanRL's `ppo.py`), a pure function of tensors:
//!
//! ```text
//! r = exp(logπ_new − logπ_old)                 Â = (A − mean A) / (std A + 1e-8)   (if norm_adv)
//! L_pg = mean max(−Â·r, −Â·clip(r, 1 − c, 1 + c))
//! L_v  = ½ · mean max((V − R)², (V_old + clip(V − V_old, −c, c) − R)²)   (if clip_vloss, else ½·mean (V − R)²)
//! L    = L_pg − ent_coef · mean H + vf_coef · L_v
//! approx_kl = mean((r − 1) − log r)            clipfrac = mean(|r − 1| > c)
//! ```

use tch::{Kind, Tensor};

use crate::run::training::PpoConfig;

/// What the loss needs of the rollout for one minibatch (all `[n]`).
pub struct Minibatch {
    /// Log-probabilities of the actions when they were taken.
    pub old_logp: Tensor,
    /// Values when the actions were taken.
    pub old_values: Tensor,
    /// GAE advantages.
    pub advantages: Tensor,
    /// Returns (advantages + old values).
    pub returns: Tensor,
}

/// The coefficients of the loss (from [`PpoConfig`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossCoefs {
    /// `c`, the clipping range of the ratio and of the value change.
    pub clip_coef: f64,
    /// Clip the value loss.
    pub clip_vloss: bool,
    /// Normalise advantages per minibatch.
    pub norm_adv: bool,
    /// Weight of the entropy bonus.
    pub ent_coef: f64,
    /// Weight of the value loss.
    pub vf_coef: f64,
}

impl From<&PpoConfig> for LossCoefs {
    fn from(c: &PpoConfig) -> Self {
        LossCoefs {
            clip_coef: c.clip_coef,
            clip_vloss: c.clip_vloss,
            norm_adv: c.norm_adv,
            ent_coef: c.ent_coef,
            vf_coef: c.vf_coef,
        }
    }
}

/// The loss (to differentiate) and its parts, the parts detached (0-dim tensors: read them once per
/// update, not per minibatch, so that a GPU is not synchronised at every step).
pub struct Loss {
    /// `L`.
    pub total: Tensor,
    /// `L_pg`.
    pub policy: Tensor,
    /// `L_v`.
    pub value: Tensor,
    /// `mean H`.
    pub entropy: Tensor,
    /// `approx_kl`.
    pub approx_kl: Tensor,
    /// `clipfrac`.
    pub clipfrac: Tensor,
}

/// The loss of a minibatch given the network's new log-probabilities, entropies and values (see the
/// module doc). Advantages of a one-sample minibatch are not normalised (their std is undefined).
pub fn ppo_loss(
    mb: &Minibatch,
    new_logp: &Tensor,
    entropy: &Tensor,
    new_value: &Tensor,
    c: LossCoefs,
) -> Loss {
    let logratio = new_logp - &mb.old_logp;
    let ratio = logratio.exp();
    let (approx_kl, clipfrac) = tch::no_grad(|| {
        (
            ((&ratio - 1.0) - &logratio).mean(Kind::Float),
            (&ratio - 1.0)
                .abs()
                .gt(c.clip_coef)
                .to_kind(Kind::Float)
                .mean(Kind::Float),
        )
    });
    let a = if c.norm_adv && mb.advantages.size()[0] > 1 {
        (&mb.advantages - mb.advantages.mean(Kind::Float)) / (mb.advantages.std(true) + 1e-8)
    } else {
        mb.advantages.shallow_clone()
    };
    let pg1 = -&a * &ratio;
    let pg2 = -&a * ratio.clamp(1.0 - c.clip_coef, 1.0 + c.clip_coef);
    let policy = pg1.maximum(&pg2).mean(Kind::Float);
    let value = if c.clip_vloss {
        let unclipped = (new_value - &mb.returns).square();
        let clipped =
            &mb.old_values + (new_value - &mb.old_values).clamp(-c.clip_coef, c.clip_coef);
        unclipped
            .maximum(&(clipped - &mb.returns).square())
            .mean(Kind::Float)
            * 0.5
    } else {
        (new_value - &mb.returns).square().mean(Kind::Float) * 0.5
    };
    let entropy = entropy.mean(Kind::Float);
    let total = &policy - &entropy * c.ent_coef + &value * c.vf_coef;
    Loss {
        total,
        policy: policy.detach(),
        value: value.detach(),
        entropy: entropy.detach(),
        approx_kl,
        clipfrac,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<_>>())
    }

    fn f(x: &Tensor) -> f64 {
        x.double_value(&[])
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    const COEFS: LossCoefs = LossCoefs {
        clip_coef: 0.2,
        clip_vloss: true,
        norm_adv: false,
        ent_coef: 0.01,
        vf_coef: 0.5,
    };

    /// Four samples, one in each case of the clipped objective: ratio 1.5 or 0.5 against a positive or a
    /// negative advantage.
    fn batch(advantages: &[f64]) -> (Minibatch, Tensor) {
        let (up, down) = (1.5f64.ln(), 0.5f64.ln());
        let mb = Minibatch {
            old_logp: t(&[-1.0, -1.0, -1.0, -1.0]),
            old_values: t(&[1.0, 1.0, 0.0, 0.0]),
            advantages: t(advantages),
            returns: t(&[2.0, 0.0, -1.0, 0.5]),
        };
        let new_logp = t(&[-1.0 + up, -1.0 + down, -1.0 + down, -1.0 + up]);
        (mb, new_logp)
    }

    #[test]
    fn clipping_on_both_sides_value_clipping_and_the_total_by_hand() {
        let (mb, new_logp) = batch(&[2.0, -1.0, 1.0, -1.0]);
        let entropy = t(&[1.0, 0.5, 0.3, 0.2]);
        let new_value = t(&[1.5, 1.1, -1.0, 0.5]);
        let l = ppo_loss(&mb, &new_logp, &entropy, &new_value, COEFS);
        // r = 1.5, A = 2: min(1.5·2, 1.2·2) = 2.4 → −2.4 (clipped above)
        // r = 0.5, A = −1: min(−0.5, −0.8) = −0.8 → 0.8 (clipped below)
        // r = 0.5, A = 1: min(0.5, 0.8) = 0.5 → −0.5 (unclipped: the pessimistic side)
        // r = 1.5, A = −1: min(−1.5, −1.2) = −1.5 → 1.5
        close(f(&l.policy), (-2.4 + 0.8 - 0.5 + 1.5) / 4.0);
        // Values: max((V − R)², (V_old + clip(V − V_old) − R)²) = 0.64, 1.21, 0.64, 0.09.
        close(f(&l.value), 0.5 * (0.64 + 1.21 + 0.64 + 0.09) / 4.0);
        close(f(&l.entropy), 0.5);
        close(f(&l.total), -0.15 - 0.01 * 0.5 + 0.5 * 0.3225);
        close(f(&l.clipfrac), 1.0);
        let kl_up = 0.5 - 1.5f64.ln();
        let kl_down = -0.5 - 0.5f64.ln();
        close(f(&l.approx_kl), (2.0 * kl_up + 2.0 * kl_down) / 4.0);
        // Without value clipping: ½·mean (V − R)² = ½·(0.25 + 1.21 + 0 + 0)/4.
        let l = ppo_loss(
            &mb,
            &new_logp,
            &entropy,
            &new_value,
            LossCoefs {
                clip_vloss: false,
                ..COEFS
            },
        );
        close(f(&l.value), 0.5 * 1.46 / 4.0);
    }

    #[test]
    fn advantages_are_normalised_per_minibatch() {
        let (mb, new_logp) = batch(&[2.0, -1.0, 1.0, -1.0]);
        let zeros = t(&[0.0; 4]);
        let l = ppo_loss(
            &mb,
            &new_logp,
            &zeros,
            &mb.old_values,
            LossCoefs {
                norm_adv: true,
                ..COEFS
            },
        );
        // mean 0.25, sample std 1.5: Â = 7/6, −5/6, 1/2, −5/6.
        let a = [7.0 / 6.0, -5.0 / 6.0, 0.5, -5.0 / 6.0];
        let r = [1.5, 0.5, 0.5, 1.5];
        let want: f64 = a
            .iter()
            .zip(r)
            .map(|(&a, r): (&f64, f64)| (-a * r).max(-a * r.clamp(0.8, 1.2)))
            .sum::<f64>()
            / 4.0;
        close(want, (-1.4 + 2.0 / 3.0 - 0.25 + 1.25) / 4.0);
        close(f(&l.policy), want);
    }

    /// More entropy lowers the loss (it is a bonus), more value error raises it, and gradients flow to
    /// the new log-probabilities only where the ratio is not clipped.
    #[test]
    fn gradients_have_the_right_signs() {
        let (mb, new_logp) = batch(&[2.0, -1.0, 1.0, -1.0]);
        let new_logp = new_logp.set_requires_grad(true);
        let entropy = t(&[1.0, 0.5, 0.3, 0.2]).set_requires_grad(true);
        let new_value = t(&[1.5, 1.1, -1.0, 0.5]).set_requires_grad(true);
        ppo_loss(&mb, &new_logp, &entropy, &new_value, COEFS)
            .total
            .backward();
        let g = |x: &Tensor| Vec::<f32>::try_from(x.grad()).unwrap();
        assert!(g(&entropy)
            .iter()
            .all(|&d| (d as f64 + 0.01 / 4.0).abs() < 1e-7));
        let lp = g(&new_logp);
        assert_eq!(lp[0], 0.0, "clipped above: no gradient");
        assert_eq!(lp[1], 0.0, "clipped below: no gradient");
        // d/dlogp of −A·r/4 = −A·r/4.
        assert!((lp[2] as f64 + 0.5 / 4.0).abs() < 1e-6, "{lp:?}");
        assert!((lp[3] as f64 - 1.5 / 4.0).abs() < 1e-6, "{lp:?}");
        let v = g(&new_value);
        // Sample 0: the clipped term (1.2 − 2)² is the larger and constant in V: no gradient.
        assert_eq!(v[0], 0.0);
        // Sample 1: unclipped, d/dV ½·(V − R)²·(0.5 vf)/4 = 0.5·(1.1 − 0)/4.
        assert!((v[1] as f64 - 0.5 * 1.1 / 4.0).abs() < 1e-6, "{v:?}");
    }
}
