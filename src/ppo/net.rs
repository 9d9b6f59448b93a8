//! The actor-critic: two tanh MLPs (CleanRL's `Agent`), orthogonal initialisation (gain √2 for hidden
//! layers, 0.01 for the policy head, 1 for the value head, zero biases), masked multi-discrete heads.
//!
//! All parameters live in **one flat tensor** ([`ActorCritic::params`]), laid out so that the two
//! networks run as one: the first layers of actor and critic are one `[2h, obs]` matrix (one matmul, one
//! tanh), the second layers one `[2, h, h]` batch (one batched matmul, one tanh), then the two output
//! layers. The optimiser ([`super::adam`]) and gradient clipping then work on one tensor, not twelve.
//! Checkpoints keep the per-layer names (`actor0.weight`, …, `critic2.bias`), so folders written before
//! this layout load unchanged.

use tch::{Device, Kind, Tensor};

/// One named parameter of the flat layout.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Slot {
    /// Name in checkpoints (`actor0.weight`, …).
    name: String,
    /// Shape.
    shape: Vec<i64>,
    /// Offset in the flat tensor.
    offset: i64,
    /// Initialisation gain of a weight; `None` for a bias (zeros).
    gain: Option<f64>,
}

impl Slot {
    fn numel(&self) -> i64 {
        self.shape.iter().product()
    }
}

/// The flat layout of a network with observation length `i`, hidden width `h` and `m` logits: every
/// named parameter with its shape and offset, in layout order (what the fused forward needs: actor and
/// critic blocks of each of the first two layers side by side). The one description of the layout:
/// [`ActorCritic::new`] allocates from it and [`super::cpu::Layout::new`] reads its offsets.
pub(crate) fn slots(i: usize, h: usize, m: usize) -> Vec<Slot> {
    let (i, h, m) = (i as i64, h as i64, m as i64);
    let s2 = 2f64.sqrt();
    let spec: [(&str, Vec<i64>, Option<f64>); 12] = [
        ("actor0.weight", vec![h, i], Some(s2)),
        ("critic0.weight", vec![h, i], Some(s2)),
        ("actor0.bias", vec![h], None),
        ("critic0.bias", vec![h], None),
        ("actor1.weight", vec![h, h], Some(s2)),
        ("critic1.weight", vec![h, h], Some(s2)),
        ("actor1.bias", vec![h], None),
        ("critic1.bias", vec![h], None),
        ("actor2.weight", vec![m, h], Some(0.01)),
        ("actor2.bias", vec![m], None),
        ("critic2.weight", vec![1, h], Some(1.0)),
        ("critic2.bias", vec![1], None),
    ];
    let mut offset = 0;
    spec.into_iter()
        .map(|(name, shape, gain)| {
            let s = Slot {
                name: name.to_string(),
                shape,
                offset,
                gain,
            };
            offset += s.numel();
            s
        })
        .collect()
}

/// The offset of slot `name` in [`slots`] (None when there is none).
pub(crate) fn offset_of(slots: &[Slot], name: &str) -> Option<usize> {
    slots
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.offset as usize)
}

/// The number of parameters of [`slots`].
pub(crate) fn total_len(slots: &[Slot]) -> usize {
    slots.iter().map(Slot::numel).sum::<i64>() as usize
}

/// Errors of loading a network.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The file could not be read by libtorch.
    #[error("{0}")]
    Torch(#[from] tch::TchError),
    /// A tensor the network needs is not in the file.
    #[error("tensor `{0}` is missing")]
    Missing(String),
    /// A tensor has another shape than the network's.
    #[error("tensor `{name}` has shape {found:?}, the network needs {expected:?}")]
    Shape {
        /// Name.
        name: String,
        /// In the file.
        found: Vec<i64>,
        /// Of this network.
        expected: Vec<i64>,
    },
}

/// The parameters of one layer, as views of the flat tensor.
struct Layer {
    w: Tensor,
    b: Tensor,
}

/// Actor and critic of one policy.
///
/// **Aliasing rule.** Every alias of the flat parameter tensor is made here: the per-layer views
/// ([`Self::named`], the layers of [`Self::forward`]) are created by `&self` methods from
/// [`Self::params`]. The CPU path writes the parameters through a plain `&mut [f32]`
/// ([`Self::cpu_params_mut`]), which borrows the network mutably, so no `&self` method can make or use
/// a view while that slice lives. What the borrow checker cannot see is a tensor computed earlier
/// from the parameters that still holds them in its autograd graph (the outputs of `forward`): such
/// a tensor must not be used by libtorch (e.g. `backward`) while the slice lives. The CPU training
/// path keeps no such tensor (it computes its gradient in Rust), and the libtorch path never takes
/// the slice.
pub struct ActorCritic {
    /// Every parameter, flat (a leaf that requires gradients; see the module doc for the layout).
    params: Tensor,
    slots: Vec<Slot>,
    hidden: i64,
    /// Observation length.
    pub obs_len: usize,
    /// Bins per action head.
    pub nvec: Vec<usize>,
    /// For [`Self::evaluate`]: the columns of `[logits | pad]` that make the `[heads, max_bins]` layout.
    pad_index: Tensor,
}

impl ActorCritic {
    /// A fresh network on `device`, initialised from libtorch's seeded generator in the order
    /// `actor0.weight`, `actor1.weight`, `actor2.weight`, `critic0.weight`, … (biases are zeros).
    pub fn new(device: Device, obs_len: usize, nvec: &[usize], hidden: usize) -> Self {
        let slots = slots(obs_len, hidden, nvec.iter().sum());
        let offset: i64 = slots.iter().map(Slot::numel).sum();
        let h = hidden as i64;
        let params = Tensor::zeros([offset], (Kind::Float, device));
        tch::no_grad(|| {
            // The draw order of the per-layer networks this replaces: actor layers, then critic layers.
            for name in [
                "actor0.weight",
                "actor1.weight",
                "actor2.weight",
                "critic0.weight",
                "critic1.weight",
                "critic2.weight",
            ] {
                let s = slots.iter().find(|s| s.name == name).expect("in the spec");
                let gain = s.gain.unwrap_or(1.0);
                let w = tch::nn::init(tch::nn::Init::Orthogonal { gain }, &s.shape, device);
                view(&params, s).copy_(&w);
            }
        });
        let params = params.set_requires_grad(true);
        ActorCritic {
            pad_index: pad_index(nvec, device),
            params,
            slots,
            hidden: h,
            obs_len,
            nvec: nvec.to_vec(),
        }
    }

    /// The flat parameter tensor (a leaf that requires gradients).
    pub fn params(&self) -> &Tensor {
        &self.params
    }

    /// The parameters as plain numbers, when they are a contiguous `f32` tensor on the CPU.
    pub fn cpu_params(&self) -> Option<&[f32]> {
        super::cpu::slice(&self.params)
    }

    /// The parameters as plain mutable numbers (the CPU path's optimiser step), when they are a
    /// contiguous `f32` tensor on the CPU. See the aliasing rule on [`ActorCritic`].
    pub fn cpu_params_mut(&mut self) -> Option<&mut [f32]> {
        // SAFETY: `&mut self` excludes every method that makes or uses a view of `params` while the
        // slice lives; the views are never stored in `self`, and by the rule on [`ActorCritic`] no
        // earlier output holding them is used by libtorch meanwhile.
        unsafe { super::cpu::slice_mut(&mut self.params) }
    }

    fn slot(&self, k: usize) -> Tensor {
        view(&self.params, &self.slots[k])
    }

    /// The fused layers: `[2h, obs]` + `[2h]`, `[2, h, h]` + `[2, 1, h]`, then actor and critic heads.
    fn layers(&self) -> [Layer; 4] {
        let h = self.hidden;
        let i = self.obs_len as i64;
        let first = &self.slots[0];
        let w0 = self
            .params
            .narrow(0, first.offset, 2 * h * i)
            .view([2 * h, i]);
        let b0 = self.params.narrow(0, self.slots[2].offset, 2 * h);
        let w1 = self
            .params
            .narrow(0, self.slots[4].offset, 2 * h * h)
            .view([2, h, h]);
        let b1 = self
            .params
            .narrow(0, self.slots[6].offset, 2 * h)
            .view([2, 1, h]);
        [
            Layer { w: w0, b: b0 },
            Layer { w: w1, b: b1 },
            Layer {
                w: self.slot(8),
                b: self.slot(9),
            },
            Layer {
                w: self.slot(10),
                b: self.slot(11),
            },
        ]
    }

    /// Policy logits `[n, Σ nvec]` and state values `[n]` in one pass.
    pub fn forward(&self, obs: &Tensor) -> (Tensor, Tensor) {
        let [l0, l1, actor, critic] = self.layers();
        let n = obs.size()[0];
        let h = self.hidden;
        let x = obs.linear(&l0.w, Some(&l0.b)).tanh();
        // [n, 2h] → [2, n, h]: actor's and critic's hidden units side by side.
        let x = x.view([n, 2, h]).transpose(0, 1);
        let x = l1.b.baddbmm(&x, &l1.w.transpose(1, 2), 1.0, 1.0).tanh();
        let logits = x.get(0).linear(&actor.w, Some(&actor.b));
        let value = x.get(1).linear(&critic.w, Some(&critic.b)).squeeze_dim(-1);
        (logits, value)
    }

    /// Log-probability of `actions` (`[n, heads]`, i64) and entropy, both `[n]` and summed over heads,
    /// under `masks` (`[n, Σ nvec]`, bool: masked bins get logit −1e8, probability 0), from `logits`.
    /// All heads at once: the logits are laid out as `[n, heads, max bins]`, the missing bins of short
    /// heads padded like masked ones.
    pub fn log_prob_entropy(
        &self,
        logits: &Tensor,
        masks: &Tensor,
        actions: &Tensor,
    ) -> (Tensor, Tensor) {
        let n = logits.size()[0];
        let heads = self.nvec.len() as i64;
        let bins = self.nvec.iter().copied().max().unwrap_or(1) as i64;
        let device = logits.device();
        let pad_logit = Tensor::full([n, 1], -1e8, (Kind::Float, device));
        let pad_mask = Tensor::zeros([n, 1], (Kind::Bool, device));
        let allowed = Tensor::cat(&[masks, &pad_mask], 1)
            .index_select(1, &self.pad_index)
            .view([n, heads, bins]);
        let l = Tensor::cat(&[logits, &pad_logit], 1)
            .index_select(1, &self.pad_index)
            .view([n, heads, bins])
            .masked_fill(&allowed.logical_not(), -1e8);
        let lp = l.log_softmax(-1, Kind::Float);
        let logp = lp
            .gather(2, &actions.unsqueeze(-1), false)
            .squeeze_dim(-1)
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        let plogp = lp.exp() * lp.masked_fill(&allowed.logical_not(), 0.0);
        let entropy = -plogp.sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float);
        (logp, entropy)
    }

    /// Log-probability and entropy of `actions` (see [`Self::log_prob_entropy`]) and the values, `[n]`.
    pub fn evaluate(
        &self,
        obs: &Tensor,
        masks: &Tensor,
        actions: &Tensor,
    ) -> (Tensor, Tensor, Tensor) {
        let (logits, value) = self.forward(obs);
        let (logp, entropy) = self.log_prob_entropy(&logits, masks, actions);
        (logp, entropy, value)
    }

    /// Named per-layer tensors (checkpoint names), as views of the flat parameters.
    pub fn named(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .map(|s| (s.name.clone(), view(&self.params, s)))
            .collect()
    }

    /// Writes the parameters to `path` (libtorch's format, per-layer names).
    pub fn save(&self, path: &std::path::Path) -> Result<(), tch::TchError> {
        let named = tch::no_grad(|| {
            self.named()
                .into_iter()
                .map(|(n, t)| (n, t.detach().contiguous()))
                .collect::<Vec<_>>()
        });
        Tensor::save_multi(&named, path)
    }

    /// Reads the parameters from `path`: every name must be there with this network's shape.
    pub fn load(&mut self, path: &std::path::Path) -> Result<(), NetError> {
        let file = Tensor::load_multi_with_device(path, self.params.device())?;
        tch::no_grad(|| {
            for s in &self.slots {
                let t = file
                    .iter()
                    .find(|(n, _)| *n == s.name)
                    .map(|(_, t)| t)
                    .ok_or_else(|| NetError::Missing(s.name.clone()))?;
                if t.size() != s.shape {
                    return Err(NetError::Shape {
                        name: s.name.clone(),
                        found: t.size(),
                        expected: s.shape.clone(),
                    });
                }
                view(&self.params, s).copy_(t);
            }
            Ok(())
        })
    }

    /// The layout of [`Self::params`] for the CPU path ([`super::cpu`]), when they live on the CPU.
    pub fn cpu_layout(&self) -> Option<super::cpu::Layout> {
        let lay =
            super::cpu::Layout::new(self.obs_len, self.hidden as usize, self.nvec.iter().sum())?;
        (self.params.device() == Device::Cpu && lay.len == self.params.numel()).then_some(lay)
    }
}

fn view(params: &Tensor, s: &Slot) -> Tensor {
    params
        .narrow(0, s.offset, s.numel())
        .view(s.shape.as_slice())
}

/// For heads `nvec`, the column of `[logits (Σ nvec) | pad (1)]` at each position of `[heads, max bins]`.
fn pad_index(nvec: &[usize], device: Device) -> Tensor {
    let bins = nvec.iter().copied().max().unwrap_or(1);
    let pad = nvec.iter().sum::<usize>() as i64;
    let mut idx = Vec::with_capacity(nvec.len() * bins);
    let mut offset = 0i64;
    for &n in nvec {
        for b in 0..bins {
            idx.push(if b < n { offset + b as i64 } else { pad });
        }
        offset += n as i64;
    }
    Tensor::from_slice(&idx).to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> Tensor {
        Tensor::from_slice(&[0.1f32, -0.2, 0.3, 0.4, -0.5, 1.0, 0.0, -1.0, 0.5, 0.25])
            .reshape([2, 5])
    }

    /// The CPU path's layout is the network's: every named per-layer tensor (a view of the flat
    /// parameters) equals the block of the CPU parameters at the offset and size the layout gives it,
    /// for several sizes; and the CPU forward agrees with libtorch's.
    #[test]
    fn the_cpu_layout_is_the_networks_slot_by_slot() {
        for (i, nvec, h) in [
            (5, vec![3, 2], 16),
            (51, vec![7, 7, 3, 2], 64),
            (1, vec![2], 3),
        ] {
            tch::manual_seed(11);
            let net = ActorCritic::new(Device::Cpu, i, &nvec, h);
            // Every parameter distinct (biases start at zero), so a misplaced block shows.
            let n = net.params.numel() as i64;
            tch::no_grad(|| {
                net.params
                    .shallow_clone()
                    .copy_(&Tensor::arange(n, (Kind::Float, Device::Cpu)));
            });
            let lay = net.cpu_layout().expect("a CPU network has a CPU layout");
            let m: usize = nvec.iter().sum();
            let cpu = net.cpu_params().unwrap();
            let block = |at: usize, len: usize| cpu[at..at + len].to_vec();
            let want: [(&str, usize, usize); 12] = [
                ("actor0.weight", lay.w0, h * i),
                ("critic0.weight", lay.w0 + h * i, h * i),
                ("actor0.bias", lay.b0, h),
                ("critic0.bias", lay.b0 + h, h),
                ("actor1.weight", lay.w1, h * h),
                ("critic1.weight", lay.w1 + h * h, h * h),
                ("actor1.bias", lay.b1, h),
                ("critic1.bias", lay.b1 + h, h),
                ("actor2.weight", lay.w2a, m * h),
                ("actor2.bias", lay.b2a, m),
                ("critic2.weight", lay.w2c, h),
                ("critic2.bias", lay.b2c, 1),
            ];
            let named = net.named();
            assert_eq!(named.len(), want.len());
            for (name, at, len) in want {
                let t = &named.iter().find(|(n, _)| n == name).unwrap().1;
                let v: Vec<f32> = Vec::try_from(t.reshape([-1])).unwrap();
                assert_eq!(v.len(), len, "{name}");
                assert_eq!(v, block(at, len), "{name}");
            }
            assert_eq!(lay.len as i64, net.params().numel() as i64);
        }
    }

    /// A saved and reloaded network gives identical outputs; a masked bin has log-probability −∞ (≈ −1e8)
    /// and the entropy ignores it.
    #[test]
    fn checkpoint_round_trip_and_masked_heads() {
        tch::manual_seed(3);
        let a = ActorCritic::new(Device::Cpu, 5, &[3, 2], 16);
        tch::manual_seed(4);
        let mut b = ActorCritic::new(Device::Cpu, 5, &[3, 2], 16);
        let obs = obs();
        assert!(!a
            .forward(&obs)
            .0
            .allclose(&b.forward(&obs).0, 1e-6, 1e-6, false));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ot");
        a.save(&path).unwrap();
        b.load(&path).unwrap();
        assert!(a.forward(&obs).0.equal(&b.forward(&obs).0));
        assert!(a.forward(&obs).1.equal(&b.forward(&obs).1));

        let masks =
            Tensor::from_slice(&[true, false, true, true, true, true, true, true, false, true])
                .reshape([2, 5]);
        let actions = Tensor::from_slice(&[1i64, 0, 2, 0]).reshape([2, 2]);
        let (logp, ent, _) = a.evaluate(&obs, &masks, &actions);
        let logp: Vec<f32> = Vec::<f32>::try_from(logp).unwrap();
        assert!(
            logp[0] < -1e6,
            "masked action must be (nearly) impossible: {}",
            logp[0]
        );
        assert!(logp[1].is_finite() && logp[1] < 0.0);
        // Row 1, head 1 has one allowed bin: no entropy from it; head 0 has three bins: at most ln 3.
        let ent: Vec<f32> = Vec::<f32>::try_from(ent).unwrap();
        assert!(ent[1] > 0.0 && ent[1] <= 3f32.ln() + 1e-5, "{}", ent[1]);
    }

    /// The fused pass computes exactly the two MLPs of the per-layer definition, and the all-heads-at-once
    /// log-probabilities and entropies equal the head-by-head ones.
    #[test]
    fn fused_forward_and_padded_heads_match_the_per_layer_definition() {
        tch::manual_seed(7);
        let net = ActorCritic::new(Device::Cpu, 5, &[3, 2, 4], 8);
        let obs = obs();
        let p: std::collections::HashMap<String, Tensor> = net.named().into_iter().collect();
        let mlp = |prefix: &str| {
            let l = |k: usize, x: &Tensor| {
                x.linear(
                    &p[&format!("{prefix}{k}.weight")],
                    Some(&p[&format!("{prefix}{k}.bias")]),
                )
            };
            l(2, &l(1, &l(0, &obs).tanh()).tanh())
        };
        let (logits, value) = net.forward(&obs);
        assert!(logits.allclose(&mlp("actor"), 1e-6, 1e-6, false));
        assert!(value.allclose(&mlp("critic").squeeze_dim(-1), 1e-6, 1e-6, false));

        let masks = Tensor::from_slice(&[
            true, true, false, true, true, true, false, true, true, //
            false, true, true, false, true, true, true, true, true,
        ])
        .reshape([2, 9]);
        let actions = Tensor::from_slice(&[1i64, 0, 3, 2, 1, 0]).reshape([2, 3]);
        let (logp, ent) = net.log_prob_entropy(&logits, &masks, &actions);
        let (mut want_lp, mut want_ent) = (
            Tensor::zeros([2], (Kind::Float, Device::Cpu)),
            Tensor::zeros([2], (Kind::Float, Device::Cpu)),
        );
        let mut offset = 0;
        for (h, &bins) in [3i64, 2, 4].iter().enumerate() {
            let m = masks.narrow(1, offset, bins);
            let lp = logits
                .narrow(1, offset, bins)
                .masked_fill(&m.logical_not(), -1e8)
                .log_softmax(-1, Kind::Float);
            want_lp += lp
                .gather(1, &actions.narrow(1, h as i64, 1), false)
                .squeeze_dim(1);
            want_ent -= (lp.exp() * lp.masked_fill(&m.logical_not(), 0.0)).sum_dim_intlist(
                [-1i64].as_slice(),
                false,
                Kind::Float,
            );
            offset += bins;
        }
        assert!(
            logp.allclose(&want_lp, 1e-5, 1e-5, false),
            "{logp:?} {want_lp:?}"
        );
        assert!(
            ent.allclose(&want_ent, 1e-5, 1e-5, false),
            "{ent:?} {want_ent:?}"
        );
    }

    /// A file without a tensor, or with another shape, is an error naming the tensor.
    #[test]
    fn loading_a_mismatched_file_names_the_tensor() {
        let a = ActorCritic::new(Device::Cpu, 5, &[3, 2], 16);
        let mut wider = ActorCritic::new(Device::Cpu, 5, &[3, 2], 32);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ot");
        a.save(&path).unwrap();
        let e = wider.load(&path).unwrap_err().to_string();
        assert!(e.contains("actor0.weight") && e.contains("[16, 5]"), "{e}");
        Tensor::save_multi(
            &[(
                "actor0.weight",
                &Tensor::zeros([16, 5], (Kind::Float, Device::Cpu)),
            )],
            &path,
        )
        .unwrap();
        let mut b = ActorCritic::new(Device::Cpu, 5, &[3, 2], 16);
        let e = b.load(&path).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
