//! One policy's PPO update: GAE over its transitions, then `update_epochs` passes over shuffled
//! minibatches, each a [`ppo_loss`] step of Adam with gradient clipping (CleanRL's inner loop).

use rand::seq::SliceRandom;
use tch::{Device, Tensor};

use super::adam::{clip_grad_norm, zero_grad};
use super::cpu;
use super::gae::gae;
use super::loss::{ppo_loss, LossCoefs, Minibatch};
use super::policy::Policy;
use super::rollout::Transitions;

/// Losses and diagnostics of one update (the last minibatch's losses, CleanRL's convention).
#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct UpdateStats {
    /// `L_pg`.
    pub policy_loss: f64,
    /// `L_v`.
    pub value_loss: f64,
    /// Mean entropy.
    pub entropy: f64,
    /// Approximate KL divergence of the last minibatch.
    pub approx_kl: f64,
    /// Share of samples whose ratio was clipped, over every minibatch.
    pub clipfrac: f64,
    /// `1 − Var(R − V)/Var(R)` of the rollout's values.
    pub explained_variance: f64,
}

impl UpdateStats {
    /// `(tag, value)` pairs for the logs, in a fixed order.
    pub fn tagged(&self) -> [(&'static str, f64); 6] {
        [
            ("policy_loss", self.policy_loss),
            ("value_loss", self.value_loss),
            ("entropy", self.entropy),
            ("approx_kl", self.approx_kl),
            ("clipfrac", self.clipfrac),
            ("explained_variance", self.explained_variance),
        ]
    }
}

/// GAE, then the PPO epochs on `p` (`rng` shuffles the minibatches). `None` for an empty rollout.
pub fn update(
    p: &mut Policy,
    r: &Transitions,
    rng: &mut rand_pcg::Pcg32,
    device: Device,
) -> Option<UpdateStats> {
    if r.is_empty() {
        return None;
    }
    let cfg = p.cfg.clone();
    let (adv, ret) = gae(
        &r.rewards,
        &r.values,
        &r.next,
        cfg.gamma as f32,
        cfg.gae_lambda as f32,
    );
    if let Some(lay) = p.net.cpu_layout() {
        return update_cpu(p, r, &adv, &ret, rng, &lay);
    }
    let n = r.len();
    let (l, m, h) = (
        p.net.obs_len as i64,
        p.net.nvec.iter().sum::<usize>() as i64,
        p.net.nvec.len() as i64,
    );
    let on = |t: Tensor| t.to_device(device);
    let obs = on(Tensor::from_slice(&r.obs).reshape([n as i64, l]));
    let masks = on(Tensor::from_slice(&r.masks).reshape([n as i64, m]));
    let actions = on(Tensor::from_slice(&r.actions).reshape([n as i64, h]));
    let old_logp = on(Tensor::from_slice(&r.logp));
    let old_values = on(Tensor::from_slice(&r.values));
    let advantages = on(Tensor::from_slice(&adv));
    let returns = on(Tensor::from_slice(&ret));
    let coefs = LossCoefs::from(&cfg);
    let mb = (n / cfg.num_minibatches).max(1);
    let mut idx: Vec<i64> = (0..n as i64).collect();
    let mut clipfracs = Vec::new();
    let mut last = None;
    'epochs: for _ in 0..cfg.update_epochs {
        idx.shuffle(rng);
        for chunk in idx.chunks(mb) {
            let i = on(Tensor::from_slice(chunk));
            let batch = Minibatch {
                old_logp: old_logp.index_select(0, &i),
                old_values: old_values.index_select(0, &i),
                advantages: advantages.index_select(0, &i),
                returns: returns.index_select(0, &i),
            };
            let (new_logp, entropy, new_value) = p.net.evaluate(
                &obs.index_select(0, &i),
                &masks.index_select(0, &i),
                &actions.index_select(0, &i),
            );
            let loss = ppo_loss(&batch, &new_logp, &entropy, &new_value, coefs);
            zero_grad(p.net.params());
            loss.total.backward();
            clip_grad_norm(p.net.params(), cfg.max_grad_norm);
            p.adam.step(p.net.params());
            clipfracs.push(loss.clipfrac.shallow_clone());
            let stop = cfg.target_kl > 0.0 && loss.approx_kl.double_value(&[]) > cfg.target_kl;
            last = Some(loss);
            if stop {
                break 'epochs;
            }
        }
    }
    let last = last?;
    let stats = UpdateStats {
        policy_loss: last.policy.double_value(&[]),
        value_loss: last.value.double_value(&[]),
        entropy: last.entropy.double_value(&[]),
        approx_kl: last.approx_kl.double_value(&[]),
        clipfrac: Tensor::stack(&clipfracs, 0)
            .mean(tch::Kind::Float)
            .double_value(&[]),
        explained_variance: explained_variance(&ret, &r.values),
    };
    Some(stats)
}

/// [`update`] on the CPU path ([`super::cpu`]): the same epochs, minibatches and loss, without
/// libtorch's dispatch and autograd.
fn update_cpu(
    p: &mut Policy,
    r: &Transitions,
    adv: &[f32],
    ret: &[f32],
    rng: &mut rand_pcg::Pcg32,
    lay: &cpu::Layout,
) -> Option<UpdateStats> {
    let cfg = p.cfg.clone();
    let coefs = LossCoefs::from(&cfg);
    let n = r.len();
    let (l, m, heads) = (p.net.obs_len, lay.m, p.net.nvec.len());
    let mb = (n / cfg.num_minibatches).max(1);
    let mut idx: Vec<i64> = (0..n as i64).collect();
    let mut batch = cpu::Batch::default();
    let mut scratch = cpu::Scratch::default();
    let mut grad = vec![0.0f32; lay.len];
    let mut clipfracs = Vec::new();
    let mut last = None;
    let nvec = p.net.nvec.clone();
    'epochs: for _ in 0..cfg.update_epochs {
        idx.shuffle(rng);
        for chunk in idx.chunks(mb) {
            batch.n = chunk.len();
            batch.obs.clear();
            batch.masks.clear();
            batch.actions.clear();
            batch.old_logp.clear();
            batch.old_values.clear();
            batch.advantages.clear();
            batch.returns.clear();
            for &k in chunk {
                let k = k as usize;
                batch.obs.extend_from_slice(&r.obs[k * l..(k + 1) * l]);
                batch.masks.extend_from_slice(&r.masks[k * m..(k + 1) * m]);
                batch
                    .actions
                    .extend_from_slice(&r.actions[k * heads..(k + 1) * heads]);
                batch.old_logp.push(r.logp[k]);
                batch.old_values.push(r.values[k]);
                batch.advantages.push(adv[k]);
                batch.returns.push(ret[k]);
            }
            let params = p.net.cpu_params()?;
            let loss =
                cpu::loss_and_grad(params, lay, &nvec, &batch, coefs, &mut scratch, &mut grad);
            cpu::clip_grad_norm(&mut grad, cfg.max_grad_norm);
            p.adam.steps += 1;
            let (steps, lr, betas, eps) = (p.adam.steps, p.adam.lr, p.adam.betas, p.adam.eps);
            let params = p.net.cpu_params_mut()?;
            let (m1, m2) = p.adam.cpu_moments_mut()?;
            cpu::adam_step(params, &grad, m1, m2, steps, lr, betas, eps);
            clipfracs.push(loss.clipfrac);
            last = Some(loss);
            if cfg.target_kl > 0.0 && loss.approx_kl > cfg.target_kl {
                break 'epochs;
            }
        }
    }
    let last = last?;
    Some(UpdateStats {
        policy_loss: last.policy,
        value_loss: last.value,
        entropy: last.entropy,
        approx_kl: last.approx_kl,
        clipfrac: clipfracs.iter().sum::<f64>() / clipfracs.len().max(1) as f64,
        explained_variance: explained_variance(ret, &r.values),
    })
}

/// `1 − Var(R − V)/Var(R)` (NaN when the returns do not vary).
fn explained_variance(ret: &[f32], values: &[f32]) -> f64 {
    let var_y = variance(ret);
    let resid: Vec<f32> = ret.iter().zip(values).map(|(y, v)| y - v).collect();
    if var_y == 0.0 {
        f64::NAN
    } else {
        1.0 - variance(&resid) / var_y
    }
}

/// The population variance of `x` (0 for no values).
pub fn variance(x: &[f32]) -> f64 {
    let n = x.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n
}
