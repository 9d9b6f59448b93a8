//! The actor-critic: two tanh MLPs (CleanRL's `Agent`), orthogonal initialisation (gain √2 for hidden
//! layers, 0.01 for the policy head, 1 for the value head, zero biases), masked multi-discrete heads.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// Actor and critic of one policy, with their variables.
pub struct ActorCritic {
    /// The variables (saved in checkpoints).
    pub vs: nn::VarStore,
    actor: nn::Sequential,
    critic: nn::Sequential,
    /// Observation length.
    pub obs_len: usize,
    /// Bins per action head.
    pub nvec: Vec<usize>,
}

fn layer(p: nn::Path, i: i64, o: i64, gain: f64) -> nn::Linear {
    nn::linear(
        p,
        i,
        o,
        nn::LinearConfig {
            ws_init: nn::Init::Orthogonal { gain },
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

impl ActorCritic {
    /// A fresh network on `device`.
    pub fn new(device: Device, obs_len: usize, nvec: &[usize], hidden: usize) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let (i, h) = (obs_len as i64, hidden as i64);
        let out: i64 = nvec.iter().sum::<usize>() as i64;
        let s2 = 2f64.sqrt();
        let actor = nn::seq()
            .add(layer(&root / "actor0", i, h, s2))
            .add_fn(|x| x.tanh())
            .add(layer(&root / "actor1", h, h, s2))
            .add_fn(|x| x.tanh())
            .add(layer(&root / "actor2", h, out, 0.01));
        let critic = nn::seq()
            .add(layer(&root / "critic0", i, h, s2))
            .add_fn(|x| x.tanh())
            .add(layer(&root / "critic1", h, h, s2))
            .add_fn(|x| x.tanh())
            .add(layer(&root / "critic2", h, 1, 1.0));
        ActorCritic {
            vs,
            actor,
            critic,
            obs_len,
            nvec: nvec.to_vec(),
        }
    }

    /// Policy logits, `[n, Σ nvec]`.
    pub fn logits(&self, obs: &Tensor) -> Tensor {
        self.actor.forward(obs)
    }

    /// State values, `[n]`.
    pub fn value(&self, obs: &Tensor) -> Tensor {
        self.critic.forward(obs).squeeze_dim(-1)
    }

    /// Log-probability of `actions` (`[n, heads]`, i64) and entropy, both `[n]` and summed over heads,
    /// under `masks` (`[n, Σ nvec]`, bool: masked bins get probability 0).
    pub fn evaluate(&self, obs: &Tensor, masks: &Tensor, actions: &Tensor) -> (Tensor, Tensor) {
        let logits = self.logits(obs);
        let n = obs.size()[0];
        let mut logp = Tensor::zeros([n], (Kind::Float, obs.device()));
        let mut entropy = Tensor::zeros([n], (Kind::Float, obs.device()));
        let mut offset = 0i64;
        for (h, &bins) in self.nvec.iter().enumerate() {
            let bins = bins as i64;
            let m = masks.narrow(1, offset, bins);
            let l = logits
                .narrow(1, offset, bins)
                .masked_fill(&m.logical_not(), -1e8);
            let lp = l.log_softmax(-1, Kind::Float);
            let a = actions.narrow(1, h as i64, 1);
            logp += lp.gather(1, &a, false).squeeze_dim(1);
            let p = lp.exp();
            let plogp = (p * lp.masked_fill(&m.logical_not(), 0.0)).sum_dim_intlist(
                [-1i64].as_slice(),
                false,
                Kind::Float,
            );
            entropy -= plogp;
            offset += bins;
        }
        (logp, entropy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved and reloaded network gives identical outputs; a masked bin has log-probability −∞ (≈ −1e8)
    /// and the entropy ignores it.
    #[test]
    fn checkpoint_round_trip_and_masked_heads() {
        tch::manual_seed(3);
        let a = ActorCritic::new(Device::Cpu, 5, &[3, 2], 16);
        tch::manual_seed(4);
        let mut b = ActorCritic::new(Device::Cpu, 5, &[3, 2], 16);
        let obs = Tensor::from_slice(&[0.1f32, -0.2, 0.3, 0.4, -0.5, 1.0, 0.0, -1.0, 0.5, 0.25])
            .reshape([2, 5]);
        assert!(!a.logits(&obs).allclose(&b.logits(&obs), 1e-6, 1e-6, false));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ot");
        a.vs.save(&path).unwrap();
        b.vs.load(&path).unwrap();
        assert!(a.logits(&obs).equal(&b.logits(&obs)));
        assert!(a.value(&obs).equal(&b.value(&obs)));

        let masks =
            Tensor::from_slice(&[true, false, true, true, true, true, true, true, false, true])
                .reshape([2, 5]);
        let actions = Tensor::from_slice(&[1i64, 0, 2, 0]).reshape([2, 2]);
        let (logp, ent) = a.evaluate(&obs, &masks, &actions);
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
}
