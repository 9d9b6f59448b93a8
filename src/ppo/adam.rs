//! Adam over one flat parameter tensor, with its state in our hands (tch's optimiser cannot save its
//! moments, so a resumed run would restart them), and gradient-norm clipping.
//!
//! The update is libtorch's `torch::optim::Adam` (no weight decay, no AMSGrad), step `t` from 1:
//!
//! ```text
//! m ← β₁·m + (1 − β₁)·g          v ← β₂·v + (1 − β₂)·g²
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```

use std::path::Path;

use tch::{Kind, Tensor};

/// Adam's state for one flat parameter tensor.
pub struct Adam {
    /// First moment `m` (private: see [`Adam::cpu_moments_mut`]).
    exp_avg: Tensor,
    /// Second moment `v`.
    exp_avg_sq: Tensor,
    /// Steps taken (`t`).
    pub steps: u64,
    /// Learning rate of the next step.
    pub lr: f64,
    /// β₁, β₂.
    pub betas: (f64, f64),
    /// ε.
    pub eps: f64,
}

impl Adam {
    /// Zero moments for `params`, CleanRL's ε = 1e-5 and PyTorch's default betas (0.9, 0.999).
    pub fn new(params: &Tensor, lr: f64) -> Self {
        Adam {
            exp_avg: params.zeros_like(),
            exp_avg_sq: params.zeros_like(),
            steps: 0,
            lr,
            betas: (0.9, 0.999),
            eps: 1e-5,
        }
    }

    /// One step of `params` along its gradient (see the module doc).
    pub fn step(&mut self, params: &Tensor) {
        tch::no_grad(|| {
            let g = params.grad();
            if !g.defined() {
                return;
            }
            self.steps += 1;
            let (b1, b2) = self.betas;
            let t = self.steps as f64;
            let bias1 = 1.0 - b1.powf(t);
            let bias2 = 1.0 - b2.powf(t);
            let _ = self.exp_avg.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
            let _ = self
                .exp_avg_sq
                .g_mul_scalar_(b2)
                .addcmul_(&(&g * (1.0 - b2)), &g);
            let denom = (self.exp_avg_sq.sqrt() / bias2.sqrt()) + self.eps;
            let mut p = params.shallow_clone();
            let _ = p.addcdiv_(&(&self.exp_avg * (-self.lr / bias1)), &denom);
        })
    }

    /// Both moments as plain mutable numbers (the CPU path's step), when they are contiguous `f32`
    /// tensors on the CPU. The moments are made here (`zeros_like`) and never handed out as tensors,
    /// so no other tensor shares their storage: the `&mut self` borrow makes the slices exclusive.
    pub fn cpu_moments_mut(&mut self) -> Option<(&mut [f32], &mut [f32])> {
        // SAFETY: the moments are two distinct tensors owned by `self`, never shared (see above), so
        // nothing else reads or writes their storage while the slices live.
        unsafe {
            Some((
                super::cpu::slice_mut(&mut self.exp_avg)?,
                super::cpu::slice_mut(&mut self.exp_avg_sq)?,
            ))
        }
    }

    /// Whether both moments equal `other`'s.
    pub fn moments_equal(&self, other: &Adam) -> bool {
        self.exp_avg.equal(&other.exp_avg) && self.exp_avg_sq.equal(&other.exp_avg_sq)
    }

    /// Writes the moments to `path` (`exp_avg`, `exp_avg_sq`); the step count goes into `state.json`.
    pub fn save(&self, path: &Path) -> Result<(), tch::TchError> {
        Tensor::save_multi(
            &[("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)],
            path,
        )
    }

    /// Reads the moments written by [`Self::save`]; each must have `numel` entries.
    pub fn load(&mut self, path: &Path, steps: u64) -> Result<(), String> {
        let file = Tensor::load_multi_with_device(path, self.exp_avg.device()).map_err(|e| {
            e.to_string()
                .lines()
                .next()
                .unwrap_or("unreadable")
                .to_string()
        })?;
        for (name, dst) in [
            ("exp_avg", &mut self.exp_avg),
            ("exp_avg_sq", &mut self.exp_avg_sq),
        ] {
            let t = file
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| format!("tensor `{name}` is missing"))?;
            if t.size() != dst.size() || t.kind() != Kind::Float {
                return Err(format!(
                    "tensor `{name}` has shape {:?}, the network has {:?} parameters",
                    t.size(),
                    dst.size()
                ));
            }
            tch::no_grad(|| dst.copy_(t));
        }
        self.steps = steps;
        Ok(())
    }
}

/// Scales the gradient of `params` so that its norm is at most `max` (PyTorch's `clip_grad_norm_`:
/// factor `min(1, max / (‖g‖ + 1e-6))`, computed on the device without a round trip to the host).
pub fn clip_grad_norm(params: &Tensor, max: f64) {
    tch::no_grad(|| {
        let mut g = params.grad();
        if !g.defined() {
            return;
        }
        let coef = (max / (g.norm() + 1e-6)).clamp_max(1.0);
        let _ = g.g_mul_(&coef);
    })
}

/// Zeroes the gradient of `params` in place.
pub fn zero_grad(params: &Tensor) {
    let mut g = params.grad();
    if g.defined() {
        let _ = g.zero_();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::OptimizerConfig;
    use tch::Device;

    /// Ten steps on a quadratic give libtorch's own Adam's parameters (same ε, betas, learning rate).
    #[test]
    fn matches_libtorchs_adam() {
        let start = Tensor::from_slice(&[0.5f32, -1.5, 2.0, 0.25, -0.75]);
        let target = Tensor::from_slice(&[1.0f32, 0.0, -1.0, 0.5, 3.0]);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let theirs = vs.root().var_copy("p", &start);
        let mut opt = tch::nn::Adam::default().eps(1e-5).build(&vs, 0.1).unwrap();
        let ours = start.copy().set_requires_grad(true);
        let mut adam = Adam::new(&ours, 0.1);
        for _ in 0..10 {
            opt.zero_grad();
            ((&theirs - &target).square() * (&theirs + 2.0))
                .sum(Kind::Float)
                .backward();
            opt.step();
            zero_grad(&ours);
            ((&ours - &target).square() * (&ours + 2.0))
                .sum(Kind::Float)
                .backward();
            adam.step(&ours);
        }
        assert_eq!(adam.steps, 10);
        assert!(
            ours.allclose(&theirs, 1e-6, 1e-7, false),
            "{ours:?} vs {theirs:?}"
        );
        assert!(!ours.allclose(&start, 1e-3, 1e-3, false));
    }

    /// The norm is capped at `max` and left alone below it.
    #[test]
    fn clipping_caps_the_norm_only_above_the_limit() {
        let p = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        (&p * Tensor::from_slice(&[3.0f32, 4.0]))
            .sum(Kind::Float)
            .backward();
        clip_grad_norm(&p, 10.0);
        assert_eq!(Vec::<f32>::try_from(p.grad()).unwrap(), vec![3.0, 4.0]);
        clip_grad_norm(&p, 0.5);
        let g = Vec::<f32>::try_from(p.grad()).unwrap();
        assert!(
            (g[0] - 0.3).abs() < 1e-6 && (g[1] - 0.4).abs() < 1e-6,
            "{g:?}"
        );
    }

    /// Saved moments load back; a file for another network size is refused with the tensor's name.
    #[test]
    fn state_round_trip() {
        let p = Tensor::from_slice(&[1.0f32, 2.0, 3.0]).set_requires_grad(true);
        let mut a = Adam::new(&p, 0.01);
        (&p * &p).sum(Kind::Float).backward();
        a.step(&p);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adam.ot");
        a.save(&path).unwrap();
        let mut b = Adam::new(&p, 0.01);
        b.load(&path, a.steps).unwrap();
        assert!(b.moments_equal(&a));
        assert_eq!(b.steps, 1);
        let q = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        let e = Adam::new(&q, 0.01).load(&path, 1).unwrap_err();
        assert!(e.contains("exp_avg"), "{e}");
    }
}
